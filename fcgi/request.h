/*
 * request.h — one HTTP request as a handler sees it, and the ways to answer.
 *
 * The runtime (fcgi/server.c) accepts a FastCGI request, fills a request_t
 * from the CGI parameters, matches the route, authenticates when the route
 * asks for it, decodes the body into r->body unless the route streams it
 * (or keeps a JSON body's text for the handler: ROUTE_RAW_JSON), validates
 * r->body against the route's field list, and only then calls the
 * handler. Everything in a request_t lives in r->arena and dies with the
 * request.
 *
 * A handler returns 0 once it has sent a response (req_reply_*), or -1 with
 * r->err filled; the runtime then renders r->err in the route's dialect.
 * Handlers never format error JSON themselves.
 */
#ifndef TRAINYARD_REQUEST_H
#define TRAINYARD_REQUEST_H

#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "common/arena.h"
#include "common/err.h"

/* The shape errors take on a route (see fcgi/dialect.c). */
typedef enum dialect {
    DIALECT_AKKIO,     /* 422 {"detail":[{loc,msg,type}]}, 401 {"detail":"..."} */
    DIALECT_WORKSPACE, /* {"error_code":"JOB_NOT_FOUND","message":"..."} */
    DIALECT_STRAPI,    /* {"code":403,"message":"..."} */
    DIALECT_PLAIN,     /* trainyard's own routes: {"error":{"status","code","field","message"}} */
    DIALECT_AKKIO_V1   /* Akkio's legacy /v1: 401 {"status":"missing or invalid API key"},
                          else {"status":"error","message":"...","field":"..."} */
} dialect_t;

struct route;
struct db;

/* Who is calling: filled by the runtime for routes flagged ROUTE_AUTH. */
typedef struct auth {
    long long workspace_id;     /* 0 when unauthenticated */
    long long account_id;       /* the key's account (the tenant); 0 when unknown */
    const char *workspace_name; /* arena-owned */
    const char *key_prefix;     /* the public part of the key used */
    long long key_workspace_id; /* the key's own workspace (where it acts by default) */
    int workspace_only;         /* the key may act in key_workspace_id only */
} auth_t;

typedef struct request {
    arena_t *arena;             /* per-request; reset after the response */
    const struct route *route;  /* matched route */
    void *app;                  /* the worker's application state (handlers/app.h) */

    const char *method;         /* "GET", "POST", ... */
    const char *path;           /* decoded path without query, e.g. "/trainings/7" */
    const char *query;          /* raw query string, "" if none */
    const char *media_type;     /* lowercased media type without parameters, "" if none */
    const char *content_type;   /* the raw Content-Type header, "" if none */
    long long content_length;   /* -1 when absent */
    const char *remote_addr;
    const char *request_id;     /* X-Request-Id as nginx passed it (set from $request_id
                                   when the client sent none; echoed in the response),
                                   or one made here; attached to log lines and jobs */

    const char *params[8];      /* values of {name} path segments, in pattern order */
    int n_params;

    json_object *body;          /* decoded + validated body; NULL if none or streamed.
                                   Owned by the arena (released by a cleanup). */
    int body_untyped;           /* 1 if the body came as XML or form (all strings) */
    const char *body_key;       /* ROUTE_KEY_IN_BODY: the api_key the runtime found in the
                                   body (arena-owned), NULL if none */
    const char *path_key;       /* the key nginx took out of a KAOS endpoint path
                                   (/kaos/<key>/train/...: TRAINYARD_PATH_KEY, the path
                                   itself arrives without it), NULL if none */
    auth_t auth;
    err_t err;                  /* filled by a failing handler */

    void *impl;                 /* runtime-private (FCGX_Request, header list, counters) */
} request_t;

/* Route handler: returns 0 after replying, -1 with r->err filled. */
typedef int (*route_fn)(request_t *r);

/* A request header by its HTTP name ("X-API-Key"), NULL if absent. */
const char *req_header(const request_t *r, const char *name);

/* A query parameter, percent-decoded, NULL if absent ("" if present but empty).
 * The first occurrence wins. */
const char *req_query(request_t *r, const char *name);

/* Calls fn for every query parameter in order (decoded name and value). */
void req_query_each(request_t *r, void (*fn)(const char *name, const char *value, void *ctx),
                    void *ctx);

/* Reads up to n bytes of a streamed body (routes flagged ROUTE_STREAM_BODY).
 * Returns the number of bytes read, 0 at the end of the body, -1 with e
 * filled: 413 once more than the route's body_limit has been read, 400 on a
 * short body (client went away before Content-Length bytes). */
ssize_t req_body_read(request_t *r, void *buf, size_t n, err_t *e);

/* Adds a response header (sent with the next reply). Name and value are copied. */
void req_header_add(request_t *r, const char *name, const char *value);

/* Sends status + JSON document. Does not take ownership of doc. */
int req_reply_json(request_t *r, int status, json_object *doc);

/* Sends status + a preformatted JSON text (for bodies built as strings). */
int req_reply_json_text(request_t *r, int status, const char *json, size_t len);

/* Sends a body of any type. */
int req_reply_bytes(request_t *r, int status, const char *content_type, const void *body,
                    size_t len);

/* Streams a large response: begin (length -1 if unknown), write chunks, end. */
int req_reply_begin(request_t *r, int status, const char *content_type, long long length);
int req_reply_write(request_t *r, const void *buf, size_t n);
int req_reply_end(request_t *r);

/* Sends what req_reply_write has buffered at once (FCGX_FFlush): for
 * answers that trickle, such as server-sent events. 0, or -1 once the
 * client has gone away. */
int req_reply_flush(request_t *r);

/* True once the client is known to have gone (nginx closed the connection
 * while we answer at length): a stream stops at once instead of at its
 * next write. */
int req_client_gone(request_t *r);

/* Request body bytes read so far (by the runtime or the handler). */
long long req_body_bytes(const request_t *r);

/* ROUTE_RAW_JSON: the JSON body's text as received (mapped or in the arena,
 * *n bytes, not NUL-terminated), or NULL when there is none or it was
 * decoded already. */
const char *req_body_text(const request_t *r, size_t *n);

/* ROUTE_RAW_JSON: decodes that text into r->body and validates it against
 * the route's fields, with the same errors as any route's body. 0 when
 * there is nothing left to decode; -1 with e filled. */
int req_body_decode(request_t *r, err_t *e);

/* Renders e in the route's dialect and sends it. */
int req_reply_error(request_t *r, const err_t *e);

/* The standard reason phrase of an HTTP status ("Not Found"). */
const char *req_reason_phrase(int status);

/* True once a response has been started. */
int req_replied(const request_t *r);

/* Long waits (fcgi/park.h). Instead of answering now, a handler may park
 * its request: the worker is freed at once, the runtime's parker holds the
 * connection until wake_key is notified (the app's waiter hooks decide what
 * notifies which key) or `seconds` pass (capped at PARK_MAX_SECONDS, 3600), and then a worker
 * calls the same route's handler again with req_resumed(r) saying why and
 * req_resume_note(r) returning note. A resumed request has no body; its
 * r->auth is the first call's. Only before any reply. A request woken
 * before its deadline may park again, never past the first deadline.
 * Returns 0 (the handler then returns 0 without replying), or -1 when the
 * request cannot be parked (no parker in this pool, a body not read to its
 * end, or its time is up): the handler then answers now. */
int req_park(request_t *r, const char *wake_key, double seconds, const char *note);

enum { REQ_FRESH = 0, REQ_RESUMED_WOKEN = 1, REQ_RESUMED_TIMEOUT = 2 };

/* REQ_FRESH, or why a parked request came back: its key was notified
 * (WOKEN) or its time ran out or parking failed (TIMEOUT: answer with what
 * is known now). */
int req_resumed(const request_t *r);
const char *req_resume_note(const request_t *r);

#endif
