/*
 * main.c — trainyard-api: the FastCGI pool behind nginx.
 *
 * Reads its settings from one table (flags, environment, defaults; --help
 * prints them), then hands the route table and the app hooks to the prefork
 * runtime. Nothing here touches PostgreSQL or XGBoost: workers connect and
 * load models after fork (handlers/app.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/cfg.h"
#include "common/gate.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/util.h"
#include "fcgi/server.h"
#include "handlers/app.h"
#include "handlers/handlers.h"
#include "handlers/waiter.h"

static const cfg_entry_t api_settings[] = {
    {"database-url", "TRAINYARD_DATABASE_URL", "postgresql:///trainyard", CFG_STRING,
     offsetof(app_config_t, database_url), "libpq connection string or URL"},
    {"socket", "TRAINYARD_SOCKET", "var/run/api.sock", CFG_STRING,
     offsetof(app_config_t, socket_path), "FastCGI unix socket nginx connects to"},
    {"socket-group", "TRAINYARD_SOCKET_GROUP", NULL, CFG_STRING,
     offsetof(app_config_t, socket_group), "group owning the socket (mode 0660)"},
    {"workers", "TRAINYARD_WORKERS", "0", CFG_INT, offsetof(app_config_t, workers),
     "prefork pool size; 0 = twice the number of cores"},
    {"max-requests", "TRAINYARD_MAX_REQUESTS", "0", CFG_INT,
     offsetof(app_config_t, max_requests), "requests per worker before it is recycled; 0 = never"},
    {"model-cache", "TRAINYARD_MODEL_CACHE", "256m", CFG_SIZE,
     offsetof(app_config_t, model_cache_bytes), "bytes of loaded models each worker keeps"},
    {"upload-limit", "TRAINYARD_UPLOAD_LIMIT", "2g", CFG_SIZE,
     offsetof(app_config_t, upload_limit), "largest dataset or bundle upload"},
    {"worker-rss-slack", "TRAINYARD_WORKER_RSS_SLACK", "24m", CFG_SIZE,
     offsetof(app_config_t, worker_rss_slack),
     "a worker this far above its starting memory after a large request is recycled; 0 = never"},
    {"body-dir", "TRAINYARD_BODY_DIR", NULL, CFG_STRING, offsetof(app_config_t, body_dir),
     "nginx's client_body_temp_path: bodies it hands over by path must be in it"},
    {"uploads-per-key", "TRAINYARD_UPLOADS_PER_KEY", "2", CFG_INT,
     offsetof(app_config_t, uploads_per_key),
     "uploads one API key may have in flight at once (429 past it); 0 = no cap"},
    {"drain-seconds", "TRAINYARD_DRAIN_SECONDS", "10", CFG_SECONDS,
     offsetof(app_config_t, drain_seconds), "grace for in-flight requests on SIGTERM"},
    {"trainer-stale-seconds", "TRAINYARD_TRAINER_STALE_SECONDS", "30", CFG_SECONDS,
     offsetof(app_config_t, trainer_stale_seconds),
     "/healthz: a trainer seen within this is alive"},
    {"log-level", "TRAINYARD_LOG_LEVEL", "info", CFG_STRING, offsetof(app_config_t, log_level),
     "debug | info | warn | error"},
    {"log-format", "TRAINYARD_LOG_FORMAT", "text", CFG_STRING,
     offsetof(app_config_t, log_format),
     "text | json (one object per line, with the request id of the request served)"},
    {"metrics", "TRAINYARD_METRICS", "local", CFG_STRING, offsetof(app_config_t, metrics_access),
     "who may read /metrics: local (loopback clients) | key (an API key: its workspace's "
     "jobs) | public"},
    {"test-mode", "TRAINYARD_TEST_MODE", "0", CFG_INT, offsetof(app_config_t, test_mode),
     "1 = accept a spec's test_mode (for test stacks only); 0 = refuse it"},
    {"event-streams", "TRAINYARD_EVENT_STREAMS", "-1", CFG_INT,
     offsetof(app_config_t, event_streams),
     "GET /api/v1/events streams open at once across the pool (503 past it); -1 = half the "
     "workers; always fewer than the workers"},
    {"event-stream-seconds", "TRAINYARD_EVENT_STREAM_SECONDS", "25", CFG_SECONDS,
     offsetof(app_config_t, events_seconds),
     "how long one event stream lasts before the browser reconnects (1 to 300)"},
    RUNNER_CFG_ENTRIES(app_config_t, runner),
};

/* API workers are single-threaded: predictions must not start OpenMP
 * teams whose idle threads spin (80% of a worker's time in libgomp under
 * load, measured). libgomp reads these before main, hence the re-exec. */
static const char *const api_env_defaults[] = {"OMP_NUM_THREADS=1", "OMP_WAIT_POLICY=passive"};

int main(int argc, char **argv)
{
    util_exec_with_env_defaults(argv, api_env_defaults, 2);
    static app_config_t cfg;
    err_t e;
    err_clear(&e);
    int rc = cfg_load(api_settings, sizeof(api_settings) / sizeof(api_settings[0]), &cfg, argc,
                      argv, "trainyard-api [--setting=value ...]", &e);
    if (rc == 1)
        return 0;
    log_level_t level = LOG_INFO;
    if (rc == 0 && log_level_parse(cfg.log_level, &level) != 0)
        rc = err_set(&e, 400, "value_error", "log-level: unknown level \"%s\"", cfg.log_level);
    log_format_t format = LOG_FORMAT_TEXT;
    if (rc == 0 && log_format_parse(cfg.log_format, &format) != 0)
        rc = err_set(&e, 400, "value_error", "log-format: \"%s\" is not text or json",
                     cfg.log_format);
    if (rc == 0 && strcmp(cfg.metrics_access, "local") != 0 &&
        strcmp(cfg.metrics_access, "key") != 0 && strcmp(cfg.metrics_access, "public") != 0)
        rc = err_set(&e, 400, "value_error", "metrics: \"%s\" is not local, key or public",
                     cfg.metrics_access);
    if (rc == 0 && !(cfg.events_seconds >= 1 && cfg.events_seconds <= 300))
        rc = err_set(&e, 400, "value_error", "event-stream-seconds: %g is not within 1 to 300",
                     cfg.events_seconds);
    if (rc == 0)
        rc = runner_cfg_check(&cfg.runner, &e);
    if (rc != 0) {
        fprintf(stderr, "trainyard-api: %s\n", err_message(&e));
        return 2;
    }
    log_init("trainyard-api", level);
    log_set_format(format);
    /* json-c prints doubles with 17 digits (0.81000000000000005); 15 keep
     * every figure a float32 model or a metric actually has. */
    json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);
    if (cfg.workers <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        /* Twice the cores: a worker spends part of each request waiting on
         * PostgreSQL (a query, a commit's fsync), and more requests in
         * flight than cores keep both busy (measured: status +60%, enqueue
         * even, at 4 workers on 2 cores). */
        cfg.workers = cores > 0 ? 2 * (int)cores : 4;
    }
    server_config_t server = {
        .socket_path = cfg.socket_path,
        .workers = cfg.workers,
        .backlog = 1024,
        .max_requests = cfg.max_requests,
        .drain_seconds = cfg.drain_seconds,
        .socket_group = cfg.socket_group,
        .rss_slack = cfg.worker_rss_slack,
        .upload_limit = cfg.upload_limit,
        .body_dir = cfg.body_dir,
    };
    static const server_hooks_t hooks = {
        .app_init = app_init,
        .app_fini = app_fini,
        .authenticate = app_authenticate,
        .ensure_db = app_ensure_db,
        .after_request = app_after_request,
        .waiter_init = app_waiter_init,
        .waiter_fd = app_waiter_fd,
        .waiter_poll = app_waiter_poll,
    };
    /* The pool's counters, mapped before the workers are forked so that
     * every worker adds to the same ones (common/stats.h). */
    if (stats_create(routes_count, &e) != 0) {
        log_error("%s", err_message(&e));
        return 1;
    }
    /* Event streams hold a worker each: capped pool-wide, always below the
     * pool's size so that ordinary requests keep a worker (common/gate.h;
     * the slots are shared memory mapped here, before the fork). */
    int streams = cfg.event_streams < 0 ? cfg.workers / 2 : cfg.event_streams;
    if (streams > cfg.workers - 1)
        streams = cfg.workers - 1;
    if (streams > GATE_MAX_SLOTS)
        streams = GATE_MAX_SLOTS;
    cfg.event_streams = streams;
    if (gate_create(streams, &e) != 0) {
        log_error("%s", err_message(&e));
        return 1;
    }
    log_info("starting %d workers on %s", server.workers, server.socket_path);
    if (server_run(&server, routes, routes_count, &hooks, &cfg, &e) != 0) {
        log_error("%s", err_message(&e));
        return 1;
    }
    return 0;
}
