/*
 * events.c — live job updates as server-sent events (GET /api/v1/events),
 * and the tickets a browser's EventSource authenticates with.
 *
 * One stream shows one workspace's jobs, whichever dialect queued them
 * (the console's Jobs page), or one job with its new log lines
 * (?job_id=, the job page): `event: job` carries the job's state,
 * progress, the trainer's estimate of the time left and its error;
 * `event: log` one log line; `event: end` says a watched job is over and
 * nothing more will come. Every event has an `id:` (a cursor: the last
 * change seen, in microseconds, and the last log line sent), so an
 * EventSource that reconnects with Last-Event-ID carries on where it was;
 * changes near the cursor may come again (a snapshot twice is harmless,
 * one missed is not). `retry:` tells it to reconnect after 2 s, and a
 * comment line every 10 s keeps proxies from closing an idle stream and
 * tells us when the client has gone.
 *
 * Runtime: a stream holds an API worker (the prefork pool serves one
 * request per worker), so a stream ends after TRAINYARD_EVENT_STREAM_SECONDS
 * (25 s by default; the EventSource reconnects by itself), and at most
 * TRAINYARD_EVENT_STREAMS streams are open across the pool (common/gate.h,
 * shared memory mapped before fork): past that, 503 with Retry-After, and
 * the console polls instead. Ordinary requests always keep the other
 * workers. Each event is flushed through FastCGI at once, and nginx's
 * location for the route does not buffer (X-Accel-Buffering: no here too).
 *
 * Change detection: one indexed query a second per stream (jobs by
 * (workspace_id, updated_at), sql/0152) rather than LISTEN/NOTIFY. Progress
 * is written by the trainers every few seconds for every running job; a
 * NOTIFY trigger would add work to each of those writes even when nobody
 * watches, and the worker's connection already LISTENs for key revocations
 * and deleted models, whose reader would have to learn to skip job traffic
 * in every worker. With streams capped, polling costs at most the cap in
 * queries a second (four for a job's own stream), only while someone
 * watches, and a second of latency (a quarter on a job's page).
 * What each stream already sent is kept per job (state, progress,
 * estimate), so a heartbeat that only renews a lease sends nothing.
 *
 * Authentication: like every route (X-API-Key, Bearer, X-Token, with
 * X-Trainyard-Workspace choosing the workspace), or `?ticket=` because an
 * EventSource cannot send headers. A ticket comes from
 * POST /api/v1/events/ticket: "<key prefix>.<workspace>.<expiry>.<mac>",
 * the MAC an HMAC-SHA256 keyed with the key's stored hash, so that it is
 * checked without state, dies with its key (revoked: refused), names the
 * one workspace it was made for (checked again against the key's rights
 * on use), and grants nothing but this stream (the route is the only one
 * flagged ROUTE_TICKET). The access log redacts it like an api_key.
 */
#include "handlers/events.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/gate.h"
#include "common/sse.h"
#include "common/util.h"
#include "db/auth.h"
#include "db/events.h"
#include "db/jobs.h"
#include "handlers/app.h"
#include "handlers/handlers.h"
#include "handlers/support.h"

#define EVENTS_POLL_SECONDS 1.0
/* One job's stream (its page) looks four times as often: a small job ends
 * within a second, and a page polled once a second showed it at 0% and
 * then done, never under way. */
#define EVENTS_JOB_POLL_SECONDS 0.25
#define EVENTS_HEARTBEAT_SECONDS 10.0
/* A change is read again this long after the watermark passed it: a row
 * whose transaction took its updated_at before a later one but committed
 * after our look would otherwise be missed. */
#define EVENTS_OVERLAP_SECONDS 10.0
#define EVENTS_RETRY_MS 2000
#define EVENTS_BATCH 500
#define EVENTS_LOG_BATCH 1000
#define EVENTS_TICKET_SECONDS 3600

/* What a stream has sent of one job. */
typedef struct events_sent {
    char id[UUID_STR_LEN + 1];
    char state[16];
    double progress;
    double estimate;
    int has_error;
} events_sent_t;

typedef struct events_stream {
    request_t *r;
    const char *job_id;       /* one job's stream, or NULL for the workspace's */
    double watermark;         /* epoch seconds of the last change seen; < 0 before the first look */
    long long log_after;      /* last log line sent (job streams) */
    events_sent_t *sent;
    size_t n_sent, cap_sent;
    double last_write;        /* monotonic */
    int job_final;            /* the watched job is over */
} events_stream_t;

/* --- tickets -------------------------------------------------------------- */

static void events_mac(const unsigned char key[32], const char *payload, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char msg[SSE_TICKET_MAX + 32];
    int n = snprintf(msg, sizeof(msg), "trainyard-events:%s", payload);
    HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, (size_t)n, md, &len);
    util_hex(md, 32, out);
}

int events_ticket(request_t *r)
{
    unsigned char hash[32];
    auth_t key;
    memset(&key, 0, sizeof(key));
    if (db_key_by_prefix(app_of(r)->db, r->arena, r->auth.key_prefix, hash, &key, &r->err) != 0)
        return -1;
    long long expires = (long long)util_now_wall() + EVENTS_TICKET_SECONDS;
    char *payload = arena_sprintf(r->arena, "%s.%s.%lld", r->auth.key_prefix,
                                  r->auth.workspace_name, expires);
    char mac[65];
    events_mac(hash, payload, mac);
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "ticket",
                           json_object_new_string(arena_sprintf(r->arena, "%s.%s", payload, mac)));
    json_object_object_add(doc, "workspace", json_object_new_string(r->auth.workspace_name));
    json_object_object_add(doc, "expires_in", json_object_new_int(EVENTS_TICKET_SECONDS));
    return req_reply_json(r, 201, doc);
}

int events_ticket_check(request_t *r, const char *ticket, err_t *e)
{
    sse_ticket_t t;
    if (sse_ticket_split(ticket, &t) != 0)
        return err_add(e, 401, "unauthorized", "ticket",
                       "malformed ticket: get one from POST /api/v1/events/ticket");
    if ((double)t.expires < util_now_wall())
        return err_add(e, 401, "unauthorized", "ticket",
                       "the ticket has expired: get a new one from POST /api/v1/events/ticket");
    unsigned char hash[32];
    if (db_key_by_prefix(app_of(r)->db, r->arena, t.prefix, hash, &r->auth, e) != 0) {
        if (e->status >= 500)
            return -1;
        err_clear(e);
        return err_add(e, 401, "unauthorized", "ticket",
                       "the ticket's key is unknown or revoked");
    }
    char payload[SSE_TICKET_MAX + 1], mac[65];
    snprintf(payload, sizeof(payload), "%.*s", (int)t.payload_len, ticket);
    events_mac(hash, payload, mac);
    if (util_ct_memcmp(mac, t.mac, SSE_TICKET_MAC_HEX) != 0) {
        memset(&r->auth, 0, sizeof(r->auth));
        return err_add(e, 401, "unauthorized", "ticket", "the ticket does not verify");
    }
    /* The workspace it names, with the key's rights of now. */
    if (app_workspace_enter(r, t.workspace, e) != 0) {
        if (e->status >= 500)
            return -1;
        err_clear(e);
        return err_add(e, 403, "forbidden", "ticket",
                       "the ticket's key may no longer act in workspace \"%s\"", t.workspace);
    }
    return 0;
}

/* --- the stream ------------------------------------------------------------ */

/* "<watermark in µs>-<log line>", the id: of every event (common/sse.h). */
static const char *events_cursor(const events_stream_t *s)
{
    char id[48];
    sse_cursor_format(s->watermark > 0 ? (long long)llround(s->watermark * 1e6) : 0,
                      s->log_after, id, sizeof(id));
    return arena_strdup(s->r->arena, id);
}

/* Parses a Last-Event-ID this route gave. 0, or -1 with e (400). */
static int events_cursor_parse(const char *text, double *watermark, long long *log_after,
                               err_t *e)
{
    long long us;
    if (sse_cursor_parse(text, &us, log_after) != 0)
        return err_add(e, 400, "value_error", "Last-Event-ID",
                       "\"%.40s\" is not an event id of this stream (<microseconds>-<log line>)",
                       text);
    *watermark = (double)us / 1e6;
    return 0;
}

static int events_write(events_stream_t *s, const char *text)
{
    if (req_reply_write(s->r, text, strlen(text)) != 0)
        return -1;
    s->last_write = util_now_monotonic();
    return 0;
}

static int events_send(events_stream_t *s, const char *event, json_object *data)
{
    /* Plain JSON never holds a raw newline, so it is one data: line. */
    const char *json = json_object_to_json_string_ext(
        data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    return events_write(s, arena_sprintf(s->r->arena, "id: %s\nevent: %s\ndata: %s\n\n",
                                         events_cursor(s), event, json));
}

static events_sent_t *events_sent_find(events_stream_t *s, const char *id)
{
    for (size_t i = 0; i < s->n_sent; i++)
        if (strcmp(s->sent[i].id, id) == 0)
            return &s->sent[i];
    if (s->n_sent == s->cap_sent) {
        size_t cap = s->cap_sent ? 2 * s->cap_sent : 64;
        events_sent_t *grown = arena_calloc(s->r->arena, cap, sizeof(*grown));
        if (s->n_sent > 0)
            memcpy(grown, s->sent, s->n_sent * sizeof(*grown));
        s->sent = grown;
        s->cap_sent = cap;
    }
    events_sent_t *n = &s->sent[s->n_sent++];
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->progress = -1;
    return n;
}

static json_object *events_job_doc(const job_event_t *j, double now)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "job_id", json_object_new_string(j->id));
    support_json_str(o, "dialect", j->dialect);
    support_json_str(o, "state", j->state);
    json_object_object_add(o, "progress", json_object_new_double(j->progress));
    support_json_double(o, "eta_seconds", j->estimate_seconds >= 0 ? j->estimate_seconds : NAN);
    json_object_object_add(o, "predict_fields", json_object_get(j->predict_fields));
    support_json_str(o, "dataset_id", j->dataset_id);
    support_json_str(o, "error", j->error);
    support_json_time(o, "created_at", j->created_at);
    support_json_time(o, "started_at", j->started_at);
    support_json_time(o, "finished_at", j->finished_at);
    double end = j->finished_at > 0 ? j->finished_at : now;
    support_json_double(o, "duration_seconds",
                        j->started_at > 0 ? end - j->started_at : (double)NAN);
    support_json_time(o, "updated_at", j->updated_at);
    return o;
}

static int events_is_final(const char *state)
{
    job_state_t st;
    return job_state_parse(state, &st) == 0 && job_state_is_final(st);
}

/* Reads the jobs changed since the last look and sends what differs from
 * what was sent. Returns 0, or -1 with r->err (before the answer began)
 * or when the client has gone. */
static int events_poll_jobs(events_stream_t *s)
{
    request_t *r = s->r;
    double since = s->watermark < 0 ? -1 : s->watermark - EVENTS_OVERLAP_SECONDS;
    for (;;) {
        job_event_t *ev;
        size_t n;
        double now;
        if (db_job_events(app_of(r)->db, r->arena, r->auth.workspace_id, s->job_id, since,
                          EVENTS_BATCH, &ev, &n, &now, &r->err) != 0)
            return -1;
        if (s->watermark < 0 && s->job_id != NULL && n == 0)
            return err_set(&r->err, 404, "not_found", "no job %s in workspace %s", s->job_id,
                           r->auth.workspace_name);
        if (!req_replied(r))
            return 0; /* the first look only checks, before the answer begins */
        double before = s->watermark;
        for (size_t i = 0; i < n; i++) {
            const job_event_t *j = &ev[i];
            if (j->updated_at > s->watermark)
                s->watermark = j->updated_at;
            events_sent_t *was = events_sent_find(s, j->id);
            double est = j->estimate_seconds >= 0 ? round(j->estimate_seconds) : -1;
            if (strcmp(was->state, j->state) == 0 && was->progress == j->progress &&
                was->estimate == est && was->has_error == (j->error != NULL))
                continue;
            snprintf(was->state, sizeof(was->state), "%s", j->state);
            was->progress = j->progress;
            was->estimate = est;
            was->has_error = j->error != NULL;
            json_object *doc = events_job_doc(j, now);
            int rc = events_send(s, "job", doc);
            json_object_put(doc);
            if (rc != 0)
                return -1;
            if (s->job_id != NULL && events_is_final(j->state))
                s->job_final = 1;
        }
        if (n == 0 && s->watermark < 0)
            s->watermark = now; /* nothing yet: changes from now on */
        /* A full batch: read on from its last change at once (no overlap,
         * or a burst larger than a batch would be read again forever). */
        if (n < EVENTS_BATCH || s->watermark <= before)
            return 0;
        since = s->watermark;
    }
}

/* The watched job's new log lines. 1 when more are waiting. */
static int events_poll_logs(events_stream_t *s)
{
    request_t *r = s->r;
    json_object *lines = NULL;
    if (db_job_logs(app_of(r)->db, r->arena, r->auth.workspace_id, s->job_id, s->log_after,
                    EVENTS_LOG_BATCH, &lines, &r->err) != 0)
        return -1;
    size_t n = json_object_array_length(lines);
    for (size_t i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(lines, i), *v;
        if (json_object_object_get_ex(l, "seq", &v))
            s->log_after = json_object_get_int64(v);
        json_object_object_add(l, "job_id", json_object_new_string(s->job_id));
        if (events_send(s, "log", l) != 0)
            return -1;
    }
    return n == EVENTS_LOG_BATCH ? 1 : 0;
}

static void events_gate_leave(void *p)
{
    gate_leave((int)(intptr_t)p - 1);
}

/* SIGTERM is blocked while a worker serves (fcgi/server.c): a stream
 * looks for it between polls, so a draining pool does not wait for it. */
static int events_term_pending(void)
{
    sigset_t pending;
    return sigpending(&pending) == 0 && sigismember(&pending, SIGTERM);
}

int events_stream(request_t *r)
{
    events_stream_t s;
    memset(&s, 0, sizeof(s));
    s.r = r;
    s.watermark = -1;
    const char *job = req_query(r, "job_id");
    if (job != NULL && *job != '\0') {
        if (!util_is_uuid(job))
            return err_add(&r->err, 404, "not_found", "job_id", "no job %.40s in workspace %s",
                           job, r->auth.workspace_name);
        s.job_id = job;
    }
    long long after;
    if (support_query_int(r, "after", 0, 0, 1LL << 60, &after, &r->err) != 0)
        return -1;
    s.log_after = after;
    const char *last = req_header(r, "Last-Event-ID");
    if (last != NULL && *last != '\0' &&
        events_cursor_parse(last, &s.watermark, &s.log_after, &r->err) != 0)
        return -1;
    /* A job's stream always starts with the job as it is now (and ends at
     * once if it is over): its cursor only says which log lines were
     * sent. A cursor from before any change is a first look too. */
    if (s.job_id != NULL || s.watermark == 0)
        s.watermark = -1;
    /* A job stream checks its job exists before anything is sent. */
    if (s.job_id != NULL && s.watermark < 0 && events_poll_jobs(&s) != 0)
        return -1;

    const app_config_t *cfg = app_of(r)->config;
    int slot = gate_enter();
    if (slot < 0) {
        req_header_add(r, "Retry-After", "10");
        return err_set(&r->err, 503, "too_many_streams",
                       "all %d event streams of the API pool are in use "
                       "(TRAINYARD_EVENT_STREAMS): poll the jobs instead, or retry later",
                       gate_capacity());
    }
    arena_defer(r->arena, events_gate_leave, (void *)(intptr_t)(slot + 1));

    req_header_add(r, "Cache-Control", "no-cache");
    req_header_add(r, "X-Accel-Buffering", "no");
    if (req_reply_begin(r, 200, "text/event-stream; charset=utf-8", -1) != 0)
        return 0;
    if (strcmp(r->method, "HEAD") == 0)
        return 0; /* the headers say it all; a HEAD never holds a worker */
    char *hello = arena_sprintf(r->arena, "retry: %d\n: %s%s of workspace %s for %.0f s\n\n",
                                EVENTS_RETRY_MS, s.job_id ? "events of job " : "job events",
                                s.job_id ? s.job_id : "", r->auth.workspace_name,
                                cfg->events_seconds);
    if (events_write(&s, hello) != 0 || req_reply_flush(r) != 0)
        return 0;
    double deadline = util_now_monotonic() + cfg->events_seconds;
    for (;;) {
        int more_logs = 0;
        if (events_poll_jobs(&s) != 0)
            break;
        if (s.job_id != NULL && (more_logs = events_poll_logs(&s)) < 0)
            break;
        if (s.job_final && !more_logs) {
            json_object *end = json_object_new_object();
            json_object_object_add(end, "job_id", json_object_new_string(s.job_id));
            json_object_object_add(end, "reason", json_object_new_string("job finished"));
            events_send(&s, "end", end);
            json_object_put(end);
            break;
        }
        double now = util_now_monotonic();
        if (now - s.last_write >= EVENTS_HEARTBEAT_SECONDS &&
            events_write(&s, ": keep-alive\n\n") != 0)
            break;
        if (req_reply_flush(r) != 0 || now >= deadline || events_term_pending() ||
            req_client_gone(r))
            break;
        if (!more_logs) {
            double every = s.job_id != NULL ? EVENTS_JOB_POLL_SECONDS : EVENTS_POLL_SECONDS;
            double nap = deadline - now < every ? deadline - now : every;
            struct timespec ts = {(time_t)nap, (long)((nap - floor(nap)) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    /* Errors after the answer began cannot be sent: the stream just ends,
     * and the EventSource reconnects. */
    err_clear(&r->err);
    req_reply_flush(r);
    return 0;
}
