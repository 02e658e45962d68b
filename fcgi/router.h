/*
 * router.h — the static route table and the one place 404/405 are decided.
 *
 * Patterns are literal segments and {name} segments, e.g.
 * "/api/v1/models/train/{task_id}/status". A {name} matches one non-empty
 * segment; its decoded value lands in r->params in pattern order. A trailing
 * slash in the request path is ignored ("/train/ws/123/" matches
 * "/train/{workspace}/{job_id}"). Routes are tried in table order, so list a
 * literal ("/trainings/count") before the pattern it would also match
 * ("/trainings/{id}").
 */
#ifndef TRAINYARD_ROUTER_H
#define TRAINYARD_ROUTER_H

#include <stddef.h>

#include "fcgi/request.h"
#include "fcgi/validate.h"

enum route_flags {
    ROUTE_AUTH = 1 << 0,        /* needs a valid API key (401/403 per dialect otherwise) */
    ROUTE_STREAM_BODY = 1 << 1, /* the handler reads the body itself (req_body_read) */
    ROUTE_NO_DB = 1 << 2,       /* must answer even while PostgreSQL is down */
    ROUTE_KEY_IN_BODY = 1 << 3, /* key may also come as api_key in query or body (Akkio /v1) */
    ROUTE_LONG = 1 << 4,        /* answers at length (downloads): the worker frees its other
                                   kept connections first (fcgi/server.c) */
    ROUTE_STREAM_CSV = 1 << 5,  /* a text/csv body is streamed to the handler as with
                                   ROUTE_STREAM_BODY (capped by the upload limit, not
                                   body_limit); any other body is decoded as usual */
    ROUTE_TICKET = 1 << 6,      /* the app's authenticate hook may accept a short-lived
                                   ?ticket= instead of a key (an EventSource cannot send
                                   headers); the runtime does not look at it */
    ROUTE_RAW_JSON = 1 << 7     /* a JSON body is loaded and its shape counted against the
                                   route's limits, but not decoded: the handler may read
                                   its text (req_body_text) and decodes and validates it
                                   as any route's (req_body_decode) when it needs r->body */
};

typedef struct route {
    const char *method;          /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern;
    route_fn handler;
    size_t body_limit;           /* bytes; 0 = no body accepted */
    dialect_t dialect;
    unsigned flags;
    const field_spec_t *fields;  /* body fields to validate, NULL = none */
    size_t n_fields;
} route_t;

typedef enum router_result {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND = 404,
    ROUTER_METHOD_NOT_ALLOWED = 405
} router_result_t;

/* Finds the route for method + path. On ROUTER_FOUND, *out is the route and
 * params/n_params hold the {name} values (copied into arena). On 405,
 * allow (if not NULL) receives "GET, POST"-style text for the Allow header.
 * The dialect of the closest pattern (for rendering 404/405 in the right
 * shape) is written to *dialect when not NULL. */
router_result_t router_match(const route_t *table, size_t n, const char *method,
                             const char *path, arena_t *arena, const route_t **out,
                             const char **params, int *n_params, const char **allow,
                             dialect_t *dialect);

/* Percent-decodes s into a new arena string; returns NULL on a malformed
 * escape or an encoded NUL. plus_as_space is for form and query encoding. */
char *router_percent_decode(arena_t *arena, const char *s, size_t n, int plus_as_space);

#endif
