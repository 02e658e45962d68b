/*
 * stats.h — the API pool's counters, shared by every worker.
 *
 * The prefork master maps one anonymous shared region before it forks
 * (stats_create); every worker inherits it and adds to it with atomic
 * operations, so /metrics shows the whole pool whichever worker answers,
 * and a worker that dies or is recycled takes none of the counts with it.
 * Counters only grow (Prometheus counters and histograms): two scrapes in
 * a row are monotonic.
 *
 * What is counted is kept generic: a request is counted under a route
 * index (0 .. n_routes-1, n_routes for "no route matched"), its status and
 * its duration; a short closed list of named counters covers the rest.
 * Names for the routes are supplied when rendering.
 */
#ifndef TRAINYARD_STATS_H
#define TRAINYARD_STATS_H

#include <stddef.h>

#include "common/arena.h"
#include "common/err.h"

typedef enum stats_counter {
    STATS_UPLOAD_BYTES,       /* bytes of streamed request bodies (uploads) */
    STATS_BODY_BYTES,         /* bytes of every request body */
    STATS_PREDICTIONS,        /* prediction rows answered */
    STATS_MODEL_CACHE_HITS,   /* model lookups served from a worker's cache */
    STATS_MODEL_CACHE_MISSES, /* ... that had to load the model */
    STATS_DB_UNAVAILABLE,     /* requests refused because PostgreSQL was down */
    STATS_COUNTER_COUNT
} stats_counter_t;

/* Gauges each worker sets for itself; rendered as the sum over live
 * workers (what the whole pool holds). */
typedef enum stats_gauge {
    STATS_GAUGE_MODEL_CACHE_MODELS, /* models in the worker's cache */
    STATS_GAUGE_MODEL_CACHE_BYTES,  /* their approximate bytes */
    STATS_GAUGE_COUNT
} stats_gauge_t;

/* Latency buckets, seconds (upper bounds; +Inf is implicit). */
#define STATS_BUCKETS 14

/* Maps the shared region for n_routes routes. Call once, in the master,
 * before forking. Returns 0, or -1 with e filled. Without it every other
 * call does nothing (unit tests, programs that do not serve). */
int stats_create(size_t n_routes, err_t *e);

/* Counts one answered request. route is the route's index, or n_routes
 * (as given to stats_create) when none matched. A status outside 100..599
 * (0: parked, or nothing could be sent) is not counted. */
void stats_request(size_t route, int status, double seconds);

void stats_add(stats_counter_t c, unsigned long long n);

/* Sets this worker's value of g (a worker that has not answered a request
 * yet has no slot: nothing is set). */
void stats_worker_gauge(stats_gauge_t g, long long value);

/* A route's labels when rendering: called for index i < n_routes, fills
 * method and pattern (static strings). */
typedef void (*stats_route_name_fn)(size_t i, const char **method, const char **pattern);

/* Appends the Prometheus text of everything counted to *text (arena
 * string, may start NULL). Series with no request yet are left out. */
char *stats_render(arena_t *arena, char *text, stats_route_name_fn name);

#endif
