/*
 * server.h — the FastCGI prefork runtime.
 *
 * The master opens the unix socket (mode 0660, so only nginx's group can
 * talk to it), forks N workers and respawns any that die. SIGTERM/SIGINT make
 * it stop respawning, pass SIGTERM on, and wait for workers to finish the
 * request they are in (drain). The master never opens a database connection
 * nor touches XGBoost: app_init runs in each worker after fork.
 *
 * A worker loops: accept, fill request_t, route, authenticate, read and
 * decode the body within the route's limit, validate, call the handler,
 * render errors, finish, reset the arena. A worker may exit on its own
 * after max_requests (0 = never) to bound slow leaks in libraries.
 */
#ifndef TRAINYARD_SERVER_H
#define TRAINYARD_SERVER_H

#include <stddef.h>

#include "common/err.h"
#include "fcgi/router.h"

typedef struct server_hooks {
    /* Runs in the worker after fork; returns the app pointer stored in
     * r->app, or NULL on failure (the worker exits and is respawned). */
    void *(*app_init)(void *config);
    void (*app_fini)(void *app);
    /* Authenticates r (fills r->auth) using the route's dialect rules.
     * Returns 0, or -1 with e filled (401/403/503). */
    int (*authenticate)(request_t *r, err_t *e);
    /* Called for routes without ROUTE_NO_DB before authentication: lets the
     * app check its database connection (503 + Retry-After when down). */
    int (*ensure_db)(request_t *r, err_t *e);
    /* Called after each request (metrics). status is what was sent. */
    void (*after_request)(request_t *r, int status, double seconds);
    /* Wake-ups for parked requests (req_park; fcgi/park.h). All NULL: the
     * pool has no parker and req_park answers -1. waiter_init runs in the
     * parker process after fork and returns its state (NULL: none). */
    void *(*waiter_init)(void *config);
    /* The descriptor to poll for wake-ups, -1 when there is none right now
     * (the database is down: waiter_poll is then called every second). */
    int (*waiter_fd)(void *waiter);
    /* Consumes what arrived: wake(ctx, key) for every key that fired, and
     * wake(ctx, NULL) for all of them when notifications may have been
     * missed (after a reconnect). */
    void (*waiter_poll)(void *waiter, void (*wake)(void *ctx, const char *key), void *ctx);
} server_hooks_t;

typedef struct server_config {
    const char *socket_path;  /* unix socket for nginx */
    int workers;              /* prefork pool size (>= 1) */
    int backlog;
    long max_requests;        /* per worker before recycling; 0 = unlimited */
    double drain_seconds;     /* grace for in-flight requests on SIGTERM */
    const char *socket_group; /* group to chown the socket to, NULL = keep */
    size_t upload_limit;      /* caps ROUTE_STREAM_BODY routes below their table
                                 limit; 0 = the table's */
    const char *body_dir;     /* nginx's client body temp dir: bodies handed over by
                                 path must be under it (NULL: not checked) */
    size_t rss_slack;         /* a worker whose RSS stays this far above its
                                 start after a large request retires; 0 = never */
} server_config_t;

/* Runs the master until SIGTERM/SIGINT. Returns 0 on a clean drain, -1 with
 * e filled if the socket cannot be opened. */
int server_run(const server_config_t *cfg, const route_t *routes, size_t n_routes,
               const server_hooks_t *hooks, void *app_config, err_t *e);

#endif
