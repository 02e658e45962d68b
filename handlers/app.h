/*
 * app.h — the API worker's application state and the runtime hooks.
 *
 * One app_t per worker process, created after fork by app_init: the
 * worker's database handle (connected lazily, so a worker starts while
 * PostgreSQL is down and answers 503 until it is back), its bounded cache
 * of loaded models (request counters for /metrics are the pool's, in
 * common/stats.h, shared by every worker). Handlers reach it
 * through r->app.
 */
#ifndef TRAINYARD_APP_H
#define TRAINYARD_APP_H

#include <stddef.h>

#include "db/db.h"
#include "fcgi/request.h"
#include "handlers/model_cache.h"
#include "common/runner.h"

typedef struct app_config {
    const char *database_url;  /* TRAINYARD_DATABASE_URL */
    const char *socket_path;   /* TRAINYARD_SOCKET */
    const char *socket_group;  /* TRAINYARD_SOCKET_GROUP */
    int workers;               /* TRAINYARD_WORKERS, 0 = number of cores */
    int max_requests;          /* TRAINYARD_MAX_REQUESTS per worker, 0 = unlimited */
    size_t model_cache_bytes;  /* TRAINYARD_MODEL_CACHE */
    size_t upload_limit;       /* TRAINYARD_UPLOAD_LIMIT: dataset and bundle bodies */
    const char *body_dir;      /* TRAINYARD_BODY_DIR: nginx's client body temp dir */
    int uploads_per_key;       /* TRAINYARD_UPLOADS_PER_KEY: uploads in flight per key */
    double drain_seconds;      /* TRAINYARD_DRAIN_SECONDS */
    size_t worker_rss_slack;   /* TRAINYARD_WORKER_RSS_SLACK: retire a worker this far
                                  above its starting RSS after a large request */
    double trainer_stale_seconds; /* /healthz: a trainer seen within this is alive */
    const char *log_level;     /* TRAINYARD_LOG_LEVEL */
    const char *log_format;    /* TRAINYARD_LOG_FORMAT: text | json */
    const char *metrics_access; /* TRAINYARD_METRICS: public | local | key */
    int test_mode;             /* TRAINYARD_TEST_MODE: 1 = a spec may carry "test_mode"
                                  (faults on demand, obeyed by a trainer in test mode
                                  too); 0 = such a spec is refused with 422 */
    int event_streams;         /* TRAINYARD_EVENT_STREAMS: event streams open at once
                                  across the pool (common/gate.h); -1 = half the workers */
    double events_seconds;     /* TRAINYARD_EVENT_STREAM_SECONDS: one stream's life */
    runner_cfg_t runner;       /* TRAINYARD_RUNNER, TRAINYARD_SANDBOX_*: whether a source-code
                                  bundle can be trained here at all */
} app_config_t;

/* A key check this worker remembers (see app.c, "Key cache"). */
typedef struct app_key_entry {
    unsigned char digest[32];     /* SHA-256 of the presented key */
    long long workspace_id;
    long long account_id;
    int workspace_only;           /* the key may act in its own workspace only */
    char workspace_name[72];
    char key_prefix[40];
    double expires;               /* monotonic seconds; 0 = empty slot */
} app_key_entry_t;

#define APP_KEY_SLOTS 64

/* /healthz's last database check, reused for up to a second: a health
 * probe at thousands of requests a second needs no query each time. */
typedef struct app_health {
    double checked_at;            /* monotonic seconds; 0 = never */
    int db_ok;
    double trainer_age;           /* seconds since a trainer was seen, at checked_at; -1 */
    char error[200];              /* why the database check failed */
} app_health_t;

typedef struct app {
    const app_config_t *config;
    db_t *db;
    model_cache_t *models;
    app_key_entry_t keys[APP_KEY_SLOTS];
    unsigned next_key_slot;       /* round-robin replacement */
    unsigned keys_generation;     /* db generation the LISTEN was issued on */
    app_health_t health;
} app_t;

/* Runtime hooks (fcgi/server.h). */
void *app_init(void *config);
void app_fini(void *app);
int app_authenticate(request_t *r, err_t *e);
int app_ensure_db(request_t *r, err_t *e);
void app_after_request(request_t *r, int status, double seconds);

/* Authenticates r with an explicit key (routes that take the key in the
 * body, e.g. Akkio's legacy api_key). */
int app_authenticate_key(request_t *r, const char *key, err_t *e);

/* The header that chooses, on routes without a workspace in their path,
 * which of the account's workspaces a request acts in (the console's
 * picker, the CLI's --workspace). Absent: the key's own workspace. */
#define APP_WORKSPACE_HEADER "X-Trainyard-Workspace"

/* Makes the account's workspace `name` the one r acts in (r->auth). 403
 * "forbidden" when the key may act in its own workspace only and name is
 * another; 404 "WORKSPACE_NOT_FOUND" when the account has none of that
 * name (another account's is not found either). */
int app_workspace_enter(request_t *r, const char *name, err_t *e);

/* The worker's state from a request. */
static inline app_t *app_of(const request_t *r)
{
    return (app_t *)r->app;
}

#endif
