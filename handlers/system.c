/*
 * system.c — /healthz and /metrics (/openapi.json is handlers/openapi.c).
 *
 * These routes answer even while PostgreSQL is down (ROUTE_NO_DB): health
 * says what is wrong instead of failing opaquely, and metrics still show
 * the pool's request counters.
 */
#include "handlers/handlers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/stats.h"
#include "common/util.h"
#include "db/counters.h"
#include "handlers/app.h"
#include "handlers/support.h"

/* The database and trainer check behind /healthz: a healthy result is
 * reused for up to a second per worker (a health probe may see a check up
 * to 1 s old), an unhealthy one is checked again every time. */
static const app_health_t *system_health(app_t *app, arena_t *arena)
{
    app_health_t *h = &app->health;
    double now = util_now_monotonic();
    /* Only a healthy answer is reused: once PostgreSQL or a trainer is
     * back, every worker says so at once instead of up to a second late. */
    if (h->checked_at > 0 && now - h->checked_at < 1.0 && h->db_ok && h->trainer_age >= 0 &&
        h->trainer_age + (now - h->checked_at) <= app->config->trainer_stale_seconds)
        return h;
    err_t e;
    err_clear(&e);
    double age = -1;
    h->db_ok = db_ensure(app->db, &e) == 0 &&
               db_trainer_last_seen_age(app->db, arena, &age, &e) == 0;
    h->trainer_age = h->db_ok ? age : -1;
    snprintf(h->error, sizeof(h->error), "%s", h->db_ok ? "" : err_message(&e));
    h->checked_at = now;
    return h;
}

int system_healthz(request_t *r)
{
    app_t *app = app_of(r);
    const app_health_t *h = system_health(app, r->arena);
    double age = h->trainer_age;
    if (age >= 0)
        age += util_now_monotonic() - h->checked_at;
    int db_ok = h->db_ok;
    int trainers_ok = db_ok && age >= 0 && age <= app->config->trainer_stale_seconds;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "status",
                           json_object_new_string(db_ok && trainers_ok ? "ok" : "unhealthy"));
    json_object *db = json_object_new_object();
    json_object_object_add(db, "ok", json_object_new_boolean(db_ok));
    if (!db_ok)
        json_object_object_add(db, "error", json_object_new_string(h->error));
    json_object_object_add(doc, "database", db);
    json_object *tr = json_object_new_object();
    json_object_object_add(tr, "ok", json_object_new_boolean(trainers_ok));
    support_json_double(tr, "last_seen_seconds", age >= 0 ? age : (double)NAN);
    json_object_object_add(doc, "trainers", tr);
    if (!db_ok)
        req_header_add(r, "Retry-After", "1");
    return req_reply_json(r, db_ok && trainers_ok ? 200 : 503, doc);
}

/* A loopback client: nginx passes the client's address as REMOTE_ADDR. */
static int system_addr_is_local(const char *addr)
{
    return addr != NULL && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
                            strcmp(addr, "::ffff:127.0.0.1") == 0);
}

/* The route table's labels for the pool's request histograms. */
static void system_route_name(size_t i, const char **method, const char **pattern)
{
    *method = routes[i].method;
    *pattern = routes[i].pattern;
}

/* Prometheus label values: workspace names are the users' own text. */
static const char *system_label(arena_t *arena, const char *s)
{
    size_t n = strlen(s);
    char *out = arena_alloc(arena, 2 * n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' || s[i] == '"') {
            *o++ = '\\';
            *o++ = s[i];
        } else if (s[i] == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* What only the database knows: jobs by state, queue depth and the oldest
 * queued job per workspace, job durations by outcome, trainer slots.
 * Appended to text; a database that is down leaves them out (the pool's
 * own counters still answer). */
static char *system_metrics_db(request_t *r, char *text, long long only_ws)
{
    app_t *app = app_of(r);
    arena_t *a = r->arena;
    err_t e;
    err_clear(&e);
    long long counts[7];
    if (db_ensure(app->db, &e) != 0 || db_job_counts_compact(app->db, NULL, &e) != 0 ||
        db_job_counts_cached(app->db, a, only_ws, counts, &e) != 0)
        return text;
    text = arena_sprintf(a,
                         "%s# HELP trainyard_jobs Jobs by state, %s.\n"
                         "# TYPE trainyard_jobs gauge\n",
                         text, only_ws ? "this key's workspace" : "all workspaces");
    for (int s = JOB_QUEUED; s <= JOB_TIMED_OUT; s++)
        text = arena_sprintf(a, "%strainyard_jobs{state=\"%s\"} %lld\n", text,
                             job_state_name((job_state_t)s), counts[s]);
    db_queue_depth_t *q = NULL;
    int nq = 0;
    if (db_queue_depths(app->db, a, only_ws, &q, &nq, &e) == 0) {
        text = arena_sprintf(a, "%s# HELP trainyard_queue_depth Queued jobs per workspace.\n"
                                "# TYPE trainyard_queue_depth gauge\n", text);
        for (int i = 0; i < nq; i++)
            text = arena_sprintf(a, "%strainyard_queue_depth{workspace=\"%s\"} %lld\n", text,
                                 system_label(a, q[i].workspace), q[i].queued);
        text = arena_sprintf(a, "%s# HELP trainyard_queue_oldest_seconds Age of the oldest "
                                "queued job per workspace.\n"
                                "# TYPE trainyard_queue_oldest_seconds gauge\n", text);
        for (int i = 0; i < nq; i++)
            text = arena_sprintf(a, "%strainyard_queue_oldest_seconds{workspace=\"%s\"} %.3f\n",
                                 text, system_label(a, q[i].workspace), q[i].oldest_seconds);
    }
    if (only_ws != 0)
        return text; /* durations and slots are the whole installation's */
    db_job_duration_t d[4];
    if (db_job_durations(app->db, a, d, &e) == 0) {
        text = arena_sprintf(a, "%s# HELP trainyard_job_duration_seconds Time from a job's "
                                "first claim to its end, by outcome.\n"
                                "# TYPE trainyard_job_duration_seconds histogram\n", text);
        for (int k = 0; k < 4; k++) {
            long long cum = 0;
            for (int b = 0; b <= DB_JOB_DURATION_BUCKETS; b++) {
                cum += d[k].n[b];
                if (b < DB_JOB_DURATION_BUCKETS)
                    text = arena_sprintf(a, "%strainyard_job_duration_seconds_bucket{outcome="
                                            "\"%s\",le=\"%g\"} %lld\n",
                                         text, d[k].outcome, db_job_duration_bounds[b], cum);
                else
                    text = arena_sprintf(a, "%strainyard_job_duration_seconds_bucket{outcome="
                                            "\"%s\",le=\"+Inf\"} %lld\n",
                                         text, d[k].outcome, cum);
            }
            text = arena_sprintf(a,
                                 "%strainyard_job_duration_seconds_sum{outcome=\"%s\"} %.3f\n"
                                 "trainyard_job_duration_seconds_count{outcome=\"%s\"} %lld\n",
                                 text, d[k].outcome, d[k].seconds, d[k].outcome, cum);
        }
    }
    long long total = 0, busy = 0;
    if (db_trainer_slots(app->db, a, app->config->trainer_stale_seconds, &total, &busy, &e) ==
        0)
        text = arena_sprintf(a,
                             "%s# HELP trainyard_trainer_slots Job slots of live trainers, by "
                             "use.\n"
                             "# TYPE trainyard_trainer_slots gauge\n"
                             "trainyard_trainer_slots{state=\"busy\"} %lld\n"
                             "trainyard_trainer_slots{state=\"free\"} %lld\n",
                             text, busy, total > busy ? total - busy : 0);
    double age = -1;
    if (db_trainer_last_seen_age(app->db, a, &age, &e) == 0 && age >= 0)
        text = arena_sprintf(a,
                             "%s# HELP trainyard_trainer_last_seen_seconds Age of the "
                             "freshest trainer heartbeat.\n"
                             "# TYPE trainyard_trainer_last_seen_seconds gauge\n"
                             "trainyard_trainer_last_seen_seconds %.3f\n",
                             text, age);
    return text;
}

/* Who may read /metrics is TRAINYARD_METRICS: "local" (loopback clients,
 * the default), "key" (any API key, which then sees its own workspace's
 * jobs only) or "public". Request counters are the whole pool's, kept in
 * shared memory (common/stats.h), so whichever worker answers, the series
 * are the same and only grow; job counts come from sql/0011's counters,
 * never from counting the jobs table. */
int system_metrics(request_t *r)
{
    app_t *app = app_of(r);
    const char *access = app->config->metrics_access ? app->config->metrics_access : "local";
    long long only_ws = 0;
    if (strcmp(access, "key") == 0) {
        if (app_authenticate(r, &r->err) != 0)
            return -1;
        only_ws = r->auth.workspace_id;
    } else if (strcmp(access, "public") != 0 && !system_addr_is_local(r->remote_addr)) {
        return err_set(&r->err, 403, "forbidden",
                       "/metrics answers local clients only (TRAINYARD_METRICS=local)");
    }
    /* This worker's own gauges first, so the scrape counts them fresh. */
    stats_worker_gauge(STATS_GAUGE_MODEL_CACHE_MODELS, (long long)model_cache_count(app->models));
    stats_worker_gauge(STATS_GAUGE_MODEL_CACHE_BYTES, (long long)model_cache_bytes(app->models));
    char *text = stats_render(r->arena, NULL, system_route_name);
    text = system_metrics_db(r, text, only_ws);
    return req_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                           strlen(text));
}
