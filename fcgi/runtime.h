/*
 * runtime.h — the runtime's private interface between server.c (FastCGI),
 * request.c (request_t and replies) and dispatch.c (the per-request
 * pipeline). Handlers never include this; the unit tests do, to run whole
 * requests through dispatch with in-memory I/O instead of a socket.
 */
#ifndef TRAINYARD_RUNTIME_H
#define TRAINYARD_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

#include "fcgi/request.h"
#include "fcgi/router.h"
#include "fcgi/server.h"

/* Where a request's bytes come from and go to (FCGX streams in server.c). */
typedef struct req_io {
    /* Reads up to n bytes, blocking until n bytes or the end of the body.
     * Returns the count (less than n only at the end), or -1 on error. */
    ssize_t (*read)(void *ctx, void *buf, size_t n);
    /* Writes all n bytes; 0, or -1 if the client went away. */
    int (*write)(void *ctx, const void *buf, size_t n);
    /* Pushes what write buffered to the client now (a server-sent event must
     * not wait for the buffer to fill); 0, or -1 if the client went away.
     * NULL: nothing is buffered (tests' in-memory I/O). */
    int (*flush)(void *ctx);
    /* 1 when the client has closed the connection (nginx drops it when its
     * client goes); NULL: never known. */
    int (*gone)(void *ctx);
    void *ctx;
} req_io_t;

typedef struct resp_header {
    const char *name;
    const char *value;
    struct resp_header *next;
} resp_header_t;

/* The runtime-private part of a request (r->impl). */
typedef struct req_impl {
    req_io_t io;
    char **envp;              /* CGI parameters, "NAME=value", NULL-terminated */
    const char *raw_path;     /* path as sent (undecoded), for the router */
    int bad_length;           /* CONTENT_LENGTH present but not a number */
    dialect_t dialect;        /* for errors before a route is known */
    resp_header_t *headers;   /* extra response headers, in order */
    resp_header_t **headers_tail;
    int head_only;            /* HEAD: send headers, drop bodies */
    int echo_request_id;      /* the request came with a usable X-Request-Id: echo it */
    /* Called once routing shows a request that will keep the worker busy
     * for a while (streamed body, download, large body): the worker gives
     * its other idle connections to the pool. NULL in tests. */
    void (*on_long_request)(void);
    int can_park;             /* the pool has a parker (set by the worker) */
    int parked;               /* req_park was called: hand the connection over */
    double park_deadline;     /* monotonic seconds */
    double park_deadline_cap; /* a resumed request parks again only until this; 0 = none */
    const char *park_key;     /* arena-owned */
    const char *park_note;
    int resumed;              /* REQ_FRESH / REQ_RESUMED_* */
    const char *resume_note;
    int replied;              /* a response has been started */
    int status;               /* its status */
    long long reply_length;   /* declared Content-Length, -1 if none */
    long long reply_sent;     /* body bytes written */
    int write_failed;         /* the client went away while we wrote */
    long long body_read;      /* request body bytes read so far */
    size_t body_limit;        /* the route's limit, or the upload limit for streamed
                                 bodies when that is lower (set by dispatch) */
    size_t upload_limit;      /* server_config_t.upload_limit; 0 = the routes' own */
    const char *body_path;    /* nginx wrote the body to this file and sent none
                                 (TRAINYARD_BODY_BY_PATH=1), NULL otherwise */
    const char *body_dir;     /* server_config_t.body_dir: where such files must be */
    int body_fd;              /* body_path opened, -1 until then */
    int body_eof;             /* the whole request body has been read */
    const char *raw_body;     /* ROUTE_RAW_JSON: the loaded body, not decoded yet */
    size_t raw_len;
    int raw_pending;          /* raw_body awaits req_body_decode */
    int query_parsed;
    size_t n_query;
    const char **query_names; /* decoded, arena-owned */
    const char **query_values;
} req_impl_t;

/* Prepares r for one request: zeroes it and fills the request fields from
 * the CGI parameters in envp. impl, arena and envp must outlive r. */
void request_init(request_t *r, req_impl_t *impl, arena_t *arena, char **envp,
                  const req_io_t *io, void *app);

/* The body's file when nginx handed the body over by path: opens it on
 * first use (checked: a regular file under im->body_dir when that is set).
 * Returns the descriptor (owned by the request), -1 when the body came
 * over FastCGI, -2 with e filled when the file cannot be used. */
int request_body_file(request_t *r, err_t *e);

/* Runs one request: route, ensure_db, authenticate, body, validate,
 * handler, error rendering, after_request. Returns the status sent (0 if
 * nothing could be sent). hooks may have NULL members. */
int request_dispatch(request_t *r, const route_t *routes, size_t n_routes,
                     const server_hooks_t *hooks);

#endif
