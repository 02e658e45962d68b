/*
 * stats.c — the pool's shared counters (see stats.h).
 *
 * One anonymous MAP_SHARED region, mapped by the master before fork and so
 * the same physical pages in every worker. Every cell is a 64-bit counter
 * changed only with __atomic_fetch_add (relaxed: counters need no ordering
 * between each other, only no lost update); a scrape reads them with
 * relaxed loads. Nothing is ever reset or decremented, so every series is
 * monotonic however workers come and go. Latency is kept per route and
 * status class as per-bucket counts (made cumulative when rendered) plus
 * the sum in nanoseconds: integers, so that adding stays one atomic
 * instruction. A histogram's _count is the sum of its buckets as read, so
 * it always equals its +Inf bucket even while requests land mid-scrape.
 */
#include "common/stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

static const double stats_bounds[STATS_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,  0.1,    0.25,  0.5,  1,
                                                   2.5,   5,      10,    30};

#define STATS_CLASSES 5       /* 1xx .. 5xx */
#define STATS_STATUS_MIN 100
#define STATS_STATUS_MAX 599

typedef struct stats_hist {
    uint64_t bucket[STATS_BUCKETS + 1]; /* per bucket, not cumulative; last = +Inf */
    uint64_t sum_ns;
} stats_hist_t;

/* One worker's own counts, so that operators (and the tests) can see how
 * the pool shares the load. A worker takes a slot on its first request; a
 * slot of a dead worker is taken over when none is free. */
#define STATS_WORKER_SLOTS 128

typedef struct stats_worker {
    int pid;                             /* 0 = free */
    uint64_t by_class[STATS_CLASSES];
    int64_t gauge[STATS_GAUGE_COUNT];    /* set by the worker itself */
} stats_worker_t;

static const char *const stats_gauge_names[STATS_GAUGE_COUNT][2] = {
    {"trainyard_model_cache_models", "Models loaded in the API workers' caches."},
    {"trainyard_model_cache_bytes", "Approximate bytes of the models in the workers' caches."},
};

typedef struct stats_shared {
    size_t size;                         /* bytes mapped */
    size_t n_routes;                     /* routes named by the table; one more unmatched */
    stats_worker_t workers[STATS_WORKER_SLOTS];
    uint64_t counters[STATS_COUNTER_COUNT];
    uint64_t status[STATS_STATUS_MAX - STATS_STATUS_MIN + 1];
    stats_hist_t hist[];                 /* (n_routes + 1) * STATS_CLASSES */
} stats_shared_t;

static stats_shared_t *stats_region; /* NULL until stats_create */
static int stats_slot = -1;          /* this process's worker slot, once taken */
static int stats_slot_pid;           /* ... by this pid (a fork takes its own) */

static const char *const stats_counter_names[STATS_COUNTER_COUNT][2] = {
    {"trainyard_upload_bytes_total", "Bytes of uploaded bodies (datasets, bundles) read."},
    {"trainyard_http_request_body_bytes_total", "Bytes of request bodies read."},
    {"trainyard_predictions_total", "Prediction rows answered."},
    {"trainyard_model_cache_hits_total", "Model lookups answered from a worker's cache."},
    {"trainyard_model_cache_misses_total", "Model lookups that loaded the model."},
    {"trainyard_db_unavailable_total", "Requests refused because PostgreSQL was down."},
};

int stats_create(size_t n_routes, err_t *e)
{
    size_t size = sizeof(stats_shared_t) + (n_routes + 1) * STATS_CLASSES * sizeof(stats_hist_t);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return err_set(e, 500, "internal_error", "stats: mmap %zu bytes: %s", size,
                       strerror(errno));
    if (stats_region != NULL) /* a second call (tests) starts afresh */
        munmap(stats_region, stats_region->size);
    stats_region = p; /* zero-filled by the kernel */
    stats_region->size = size;
    stats_region->n_routes = n_routes;
    stats_slot = -1;
    return 0;
}

static void stats_inc(uint64_t *cell, uint64_t n)
{
    __atomic_fetch_add(cell, n, __ATOMIC_RELAXED);
}

static uint64_t stats_load(const uint64_t *cell)
{
    return __atomic_load_n(cell, __ATOMIC_RELAXED);
}

static int stats_pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

/* This worker's slot: a free one, else one whose worker is gone (its
 * counts go with it). -1 when all are held by live processes. */
static stats_worker_t *stats_worker_slot(stats_shared_t *s)
{
    int me = (int)getpid();
    if (stats_slot >= 0 && stats_slot_pid == me)
        return &s->workers[stats_slot];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < STATS_WORKER_SLOTS; i++) {
            stats_worker_t *w = &s->workers[i];
            int seen = __atomic_load_n(&w->pid, __ATOMIC_RELAXED);
            if (pass == 0 ? seen != 0 : (seen == me || stats_pid_alive(seen)))
                continue;
            if (!__atomic_compare_exchange_n(&w->pid, &seen, me, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_RELAXED))
                continue;
            for (int c = 0; c < STATS_CLASSES; c++)
                __atomic_store_n(&w->by_class[c], 0, __ATOMIC_RELAXED);
            for (int g = 0; g < STATS_GAUGE_COUNT; g++)
                __atomic_store_n(&w->gauge[g], 0, __ATOMIC_RELAXED);
            stats_slot = i;
            stats_slot_pid = me;
            return w;
        }
    }
    return NULL;
}

void stats_request(size_t route, int status, double seconds)
{
    stats_shared_t *s = stats_region;
    if (s == NULL)
        return;
    /* Nothing sent (0): a request parked for later (counted when it is
     * answered, by the worker that answers it) or a client gone before the
     * answer; neither is an answer. */
    if (status < STATS_STATUS_MIN || status > STATS_STATUS_MAX)
        return;
    if (route > s->n_routes)
        route = s->n_routes;
    stats_inc(&s->status[status - STATS_STATUS_MIN], 1);
    int cls = status / 100;
    stats_hist_t *h = &s->hist[route * STATS_CLASSES + (size_t)(cls - 1)];
    size_t b = 0;
    while (b < STATS_BUCKETS && seconds > stats_bounds[b])
        b++;
    stats_inc(&h->bucket[b], 1);
    stats_worker_t *w = stats_worker_slot(s);
    if (w != NULL)
        stats_inc(&w->by_class[cls - 1], 1);
    if (seconds > 0)
        stats_inc(&h->sum_ns, (uint64_t)(seconds * 1e9));
}

void stats_add(stats_counter_t c, unsigned long long n)
{
    if (stats_region != NULL && c >= 0 && c < STATS_COUNTER_COUNT)
        stats_inc(&stats_region->counters[c], n);
}

void stats_worker_gauge(stats_gauge_t g, long long value)
{
    if (stats_region == NULL || g < 0 || g >= STATS_GAUGE_COUNT)
        return;
    stats_worker_t *w = stats_worker_slot(stats_region);
    if (w != NULL)
        __atomic_store_n(&w->gauge[g], (int64_t)value, __ATOMIC_RELAXED);
}

/* A growing text in the arena: appending stays linear. */
typedef struct stats_text {
    arena_t *arena;
    char *buf;
    size_t len, cap;
} stats_text_t;

__attribute__((format(printf, 2, 3))) static void stats_printf(stats_text_t *t,
                                                               const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = (t->cap + (size_t)n + 1) * 2;
        char *nbuf = arena_alloc(t->arena, ncap);
        memcpy(nbuf, t->buf, t->len + 1);
        t->buf = nbuf;
        t->cap = ncap;
    }
}

/* Label values are route patterns and methods from our own table: no
 * quote, backslash or newline to escape. */
static void stats_render_hist(stats_text_t *t, const stats_shared_t *s, stats_route_name_fn name)
{
    stats_printf(t, "# HELP trainyard_http_request_duration_seconds Time to answer a request, "
                    "by route and status class, across the API pool.\n"
                    "# TYPE trainyard_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= s->n_routes; r++) {
        const char *method = "", *pattern = "unmatched";
        if (r < s->n_routes && name != NULL)
            name(r, &method, &pattern);
        for (int c = 0; c < STATS_CLASSES; c++) {
            const stats_hist_t *h = &s->hist[r * STATS_CLASSES + (size_t)c];
            uint64_t counts[STATS_BUCKETS + 1], total = 0;
            for (size_t b = 0; b <= STATS_BUCKETS; b++) {
                counts[b] = stats_load(&h->bucket[b]);
                total += counts[b];
            }
            if (total == 0)
                continue;
            char labels[256];
            snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\",class=\"%dxx\"", method,
                     pattern, c + 1);
            uint64_t cum = 0;
            for (size_t b = 0; b <= STATS_BUCKETS; b++) {
                cum += counts[b];
                if (b < STATS_BUCKETS)
                    stats_printf(t,
                                 "trainyard_http_request_duration_seconds_bucket{%s,le=\"%g\"} "
                                 "%llu\n",
                                 labels, stats_bounds[b], (unsigned long long)cum);
                else
                    stats_printf(t,
                                 "trainyard_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} "
                                 "%llu\n",
                                 labels, (unsigned long long)cum);
            }
            stats_printf(t, "trainyard_http_request_duration_seconds_sum{%s} %.9f\n", labels,
                         (double)stats_load(&h->sum_ns) / 1e9);
            stats_printf(t, "trainyard_http_request_duration_seconds_count{%s} %llu\n", labels,
                         (unsigned long long)total);
        }
    }
}

char *stats_render(arena_t *arena, char *text, stats_route_name_fn name)
{
    stats_text_t t = {.arena = arena, .cap = 8192};
    size_t have = text != NULL ? strlen(text) : 0;
    t.cap += have;
    t.buf = arena_alloc(arena, t.cap);
    memcpy(t.buf, text != NULL ? text : "", have + 1);
    t.len = have;
    const stats_shared_t *s = stats_region;
    if (s == NULL)
        return t.buf;
    stats_printf(&t, "# HELP trainyard_http_requests_total Requests answered by the API pool, "
                     "by status.\n"
                     "# TYPE trainyard_http_requests_total counter\n");
    for (int st = STATS_STATUS_MIN; st <= STATS_STATUS_MAX; st++) {
        uint64_t n = stats_load(&s->status[st - STATS_STATUS_MIN]);
        if (n > 0)
            stats_printf(&t, "trainyard_http_requests_total{status=\"%d\",class=\"%dxx\"} %llu\n",
                         st, st / 100, (unsigned long long)n);
    }
    stats_render_hist(&t, s, name);
    stats_printf(&t, "# HELP trainyard_api_worker_requests_total Requests answered by each "
                     "live API worker, by status class (how the pool shares the load).\n"
                     "# TYPE trainyard_api_worker_requests_total counter\n");
    for (int i = 0; i < STATS_WORKER_SLOTS; i++) {
        const stats_worker_t *w = &s->workers[i];
        int pid = __atomic_load_n(&w->pid, __ATOMIC_RELAXED);
        if (pid == 0 || !stats_pid_alive(pid))
            continue;
        for (int c = 0; c < STATS_CLASSES; c++)
            stats_printf(&t,
                         "trainyard_api_worker_requests_total{worker=\"%d\",class=\"%dxx\"} "
                         "%llu\n",
                         pid, c + 1, (unsigned long long)stats_load(&w->by_class[c]));
    }
    /* Each worker's own cache, as it last published it (model_cache.c does
     * on every load and eviction): one scrape shows the whole pool. */
    stats_printf(&t, "# HELP trainyard_api_worker_cache_models Models in each live API "
                     "worker's cache.\n"
                     "# TYPE trainyard_api_worker_cache_models gauge\n");
    for (int i = 0; i < STATS_WORKER_SLOTS; i++) {
        const stats_worker_t *w = &s->workers[i];
        int pid = __atomic_load_n(&w->pid, __ATOMIC_RELAXED);
        if (pid == 0 || !stats_pid_alive(pid))
            continue;
        stats_printf(&t, "trainyard_api_worker_cache_models{worker=\"%d\"} %lld\n", pid,
                     (long long)__atomic_load_n(&w->gauge[STATS_GAUGE_MODEL_CACHE_MODELS],
                                                __ATOMIC_RELAXED));
    }
    for (int g = 0; g < STATS_GAUGE_COUNT; g++) {
        long long sum = 0;
        for (int i = 0; i < STATS_WORKER_SLOTS; i++) {
            const stats_worker_t *w = &s->workers[i];
            int pid = __atomic_load_n(&w->pid, __ATOMIC_RELAXED);
            if (pid != 0 && stats_pid_alive(pid))
                sum += __atomic_load_n(&w->gauge[g], __ATOMIC_RELAXED);
        }
        stats_printf(&t, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", stats_gauge_names[g][0],
                     stats_gauge_names[g][1], stats_gauge_names[g][0], stats_gauge_names[g][0],
                     sum);
    }
    for (int c = 0; c < STATS_COUNTER_COUNT; c++)
        stats_printf(&t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", stats_counter_names[c][0],
                     stats_counter_names[c][1], stats_counter_names[c][0],
                     stats_counter_names[c][0], (unsigned long long)stats_load(&s->counters[c]));
    return t.buf;
}
