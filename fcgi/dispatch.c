/*
 * dispatch.c — one request from routing to after_request (runtime.h).
 *
 * The order is fixed and the same for every route, so handlers can rely on
 * it: route (404/405 in the closest route's dialect) → Content-Length
 * against the route's limit (413 before reading a byte) → ensure_db (unless
 * ROUTE_NO_DB) → authenticate (ROUTE_AUTH), before a body byte is read →
 * body read, its shape counted as it arrives (fcgi/bodyscan.h), and decoded
 * (unless ROUTE_STREAM_BODY) → validation → handler. Routes flagged
 * ROUTE_KEY_IN_BODY take the key from a header or the query first; without
 * one, the body is spooled to a temporary file while the key is picked out
 * of it, and decoded only once that key is valid.
 *
 * Whatever fails is rendered from an err_t in the route's dialect; a handler
 * that fails without replying gets the same treatment. 500s are logged with
 * their real message and shown without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "fcgi/body.h"
#include "fcgi/bodyscan.h"
#include "fcgi/runtime.h"
#include "fcgi/validate.h"

#define BODY_SLICE (256 * 1024)           /* bytes read between two scans */
#define LONG_BODY_BYTES (1024 * 1024)     /* a body this large makes a long request */

static void put_json(void *p)
{
    json_object_put(p);
}

static int body_too_large(err_t *e, size_t limit)
{
    if (limit == 0)
        return err_set(e, 413, "too_large", "this route takes no request body");
    return err_set(e, 413, "too_large", "body exceeds the limit of %zu bytes for this route",
                   limit);
}

/* The decoders' limits on a route: its size cap, and a field cap that
 * follows it (one field per 16 bytes at most): a 32 MB batch of prediction
 * rows legitimately holds hundreds of thousands of fields, a 64 KB training
 * request never needs 10,000. */
static body_limits_t route_body_limits(const route_t *rt)
{
    body_limits_t lim = body_limits_default;
    if (rt->body_limit > lim.max_bytes)
        lim.max_bytes = rt->body_limit;
    if (rt->body_limit / 16 > (size_t)lim.max_fields)
        lim.max_fields = rt->body_limit / 16 > INT_MAX ? INT_MAX : (int)(rt->body_limit / 16);
    return lim;
}

static const char *request_media(const request_t *r)
{
    return r->media_type[0] ? r->media_type : "application/json";
}

/* Reads the next piece of the body and counts its shape; 0 at the end. */
static ssize_t body_read_counted(request_t *r, bodyscan_t *scan, char *buf, size_t n, err_t *e)
{
    ssize_t got = req_body_read(r, buf, n, e);
    if (got < 0) {
        if (e->status == 413 && ((req_impl_t *)r->impl)->body_limit == 0) {
            err_clear(e);
            return body_too_large(e, 0);
        }
        return -1;
    }
    if (got > 0 && bodyscan_feed(scan, buf, (size_t)got) != 0)
        return bodyscan_error(scan, e);
    return got;
}

/* Reads the whole (bounded) body into the arena, a slice at a time so that
 * the scan stops a body past the field or depth cap before a decoder ever
 * sees it. *len is 0 for none. */
static int body_read_all(request_t *r, bodyscan_t *scan, char **out, size_t *len, err_t *e)
{
    size_t limit = ((req_impl_t *)r->impl)->body_limit;
    size_t cap = r->content_length >= 0 ? (size_t)r->content_length : 4096;
    if (cap > limit)
        cap = limit;
    char *buf = arena_alloc(r->arena, cap + 1);
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            if (r->content_length >= 0 && n == (size_t)r->content_length)
                break;
            /* Unknown length: grow, but never past limit + 1. */
            size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            if (ncap <= cap)
                ncap = cap + 1;
            char *nbuf = arena_alloc(r->arena, ncap + 1);
            memcpy(nbuf, buf, n);
            buf = nbuf;
            cap = ncap;
        }
        size_t want = cap - n < BODY_SLICE ? cap - n : BODY_SLICE;
        ssize_t got = body_read_counted(r, scan, buf + n, want, e);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int body_decode_buffer(request_t *r, const char *buf, size_t n, err_t *e)
{
    if (n == 0)
        return 0;
    body_limits_t lim = route_body_limits(r->route);
    json_object *doc = NULL;
    if (body_decode(request_media(r), r->content_type, buf, n, &lim, &doc, &r->body_untyped, e) !=
        0)
        return -1;
    arena_defer(r->arena, put_json, doc);
    r->body = doc;
    return 0;
}

typedef struct body_map {
    char *addr;
    size_t len;
} body_map_t;

static void body_unmap(void *p)
{
    body_map_t *m = p;
    munmap(m->addr, m->len);
}

/* A body nginx handed over by path, mapped read-only (no copy in this
 * worker's heap, whatever its size) and counted as read. *len is 0 for an
 * empty body. Returns 0 or -1 with e filled (413 past the route's limit). */
static int body_map_file(request_t *r, int fd, const char **addr, size_t *len, err_t *e)
{
    req_impl_t *im = r->impl;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return err_set(e, 500, "internal_error", "body file: %s", strerror(errno));
    if ((unsigned long long)st.st_size > im->body_limit)
        return body_too_large(e, im->body_limit);
    *addr = NULL;
    *len = (size_t)st.st_size;
    im->body_read = st.st_size;
    im->body_eof = 1;
    if (*len == 0)
        return 0;
    void *m = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return err_set(e, 500, "internal_error", "body file: mmap: %s", strerror(errno));
    body_map_t *bm = arena_alloc(r->arena, sizeof(*bm));
    bm->addr = m;
    bm->len = *len;
    arena_defer(r->arena, body_unmap, bm);
    *addr = m;
    return 0;
}

/* The whole body in memory: mapped from nginx's file, or read from the
 * FastCGI stream into the arena; its shape counted either way. */
static int body_load(request_t *r, bodyscan_t *scan, const char **buf, size_t *n, err_t *e)
{
    int fd = request_body_file(r, e);
    if (fd == -2)
        return -1;
    if (fd >= 0) {
        if (body_map_file(r, fd, buf, n, e) != 0)
            return -1;
        if (*n > 0 && bodyscan_feed(scan, *buf, *n) != 0)
            return bodyscan_error(scan, e);
        return 0;
    }
    char *b = NULL;
    if (body_read_all(r, scan, &b, n, e) != 0)
        return -1;
    *buf = b;
    return 0;
}

static int body_decode_into(request_t *r, err_t *e)
{
    body_limits_t lim = route_body_limits(r->route);
    bodyscan_t scan;
    body_format_t fmt = body_format_of(request_media(r));
    bodyscan_init(&scan, fmt, &lim, NULL);
    const char *buf = NULL;
    size_t n = 0;
    if (body_load(r, &scan, &buf, &n, e) != 0)
        return -1;
    if ((r->route->flags & ROUTE_RAW_JSON) && fmt == BODY_JSON) {
        req_impl_t *im = r->impl;
        im->raw_body = buf;
        im->raw_len = n;
        im->raw_pending = 1;
        return 0;
    }
    return body_decode_buffer(r, buf, n, e);
}

/* --- a key that travels in the body ---------------------------------------
 * Akkio v1 clients send api_key inside a JSON or form body that may be 32 MB
 * of prediction rows. Without a key in a header or the query, the body is
 * spooled to an unlinked temporary file while a bodyscan picks out api_key;
 * only once that key is valid is the file mapped and decoded. An
 * unauthenticated request so costs this worker a few kilobytes of memory,
 * whatever it sends. */

typedef struct spool {
    int fd;           /* our temporary file, -1 when nginx's file serves */
    char *map;        /* our file mapped (for decoding) */
    const char *view; /* nginx's file, mapped by body_map_file */
    int from_nginx;   /* the body is nginx's file (request_body_file) */
    size_t len;
} spool_t;

static void spool_release(void *p)
{
    spool_t *sp = p;
    if (sp->map != NULL)
        munmap(sp->map, sp->len);
    if (sp->fd >= 0)
        close(sp->fd);
}

static int spool_open(err_t *e)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/trainyard-body.XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    if (fd < 0)
        return err_set(e, 500, "internal_error", "body spool in %s: %s", dir, strerror(errno));
    return fd;
}

static int spool_write(int fd, const char *buf, size_t n, err_t *e)
{
    while (n > 0) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, 500, "internal_error", "body spool: %s",
                           k < 0 ? strerror(errno) : "short write");
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Spools the body, scanning it for the key. Fills *sp (released with the
 * arena) and r->body_key when the body holds exactly one plain key. */
static int body_spool_scan(request_t *r, spool_t *sp, err_t *e)
{
    body_limits_t lim = route_body_limits(r->route);
    bodyscan_t *scan = arena_alloc(r->arena, sizeof(*scan));
    bodyscan_init(scan, body_format_of(request_media(r)), &lim, "api_key");
    int body_fd = request_body_file(r, e);
    if (body_fd == -2)
        return -1;
    /* A body nginx handed over by path is its own spool. Either way it is
     * read through one small buffer, never mapped, until the key is known
     * to be good: an unauthenticated request keeps no 32 MB in this worker. */
    sp->from_nginx = body_fd >= 0;
    if (!sp->from_nginx) {
        sp->fd = spool_open(e);
        if (sp->fd < 0)
            return -1;
        arena_defer(r->arena, spool_release, sp);
    }
    char *chunk = arena_alloc(r->arena, BODY_SLICE);
    for (;;) {
        ssize_t got = body_read_counted(r, scan, chunk, BODY_SLICE, e);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        if (!sp->from_nginx && spool_write(sp->fd, chunk, (size_t)got, e) != 0)
            return -1;
        sp->len += (size_t)got;
    }
    bodyscan_finish(scan);
    const char *key = bodyscan_found(scan);
    if (key != NULL)
        r->body_key = arena_strdup(r->arena, key);
    return 0;
}

static int body_decode_spool(request_t *r, spool_t *sp, err_t *e)
{
    if (sp->len == 0)
        return 0;
    if (sp->from_nginx) {
        int fd = request_body_file(r, e);
        if (fd < 0 || body_map_file(r, fd, &sp->view, &sp->len, e) != 0)
            return -1;
        return body_decode_buffer(r, sp->view, sp->len, e);
    }
    void *map = mmap(NULL, sp->len, PROT_READ, MAP_PRIVATE, sp->fd, 0);
    if (map == MAP_FAILED)
        return err_set(e, 500, "internal_error", "body spool: mmap: %s", strerror(errno));
    sp->map = map;
    return body_decode_buffer(r, sp->map, sp->len, e);
}

/* Authenticates a ROUTE_KEY_IN_BODY request and decodes its body. */
static int body_key_authenticate(request_t *r, const server_hooks_t *hooks, err_t *e)
{
    if (hooks->authenticate == NULL || hooks->authenticate(r, e) == 0)
        return body_decode_into(r, e);
    if (e->status != 401)
        return -1;
    err_t first = *e;
    err_clear(e);
    spool_t *sp = arena_calloc(r->arena, 1, sizeof(*sp));
    sp->fd = -1;
    if (body_spool_scan(r, sp, e) != 0)
        return -1;
    if (r->body_key == NULL) {
        *e = first;
        return -1;
    }
    if (hooks->authenticate(r, e) != 0)
        return -1;
    return body_decode_spool(r, sp, e);
}

static int any_required(const route_t *rt)
{
    for (size_t i = 0; i < rt->n_fields; i++)
        if (rt->fields[i].flags & FIELD_REQUIRED)
            return 1;
    return 0;
}

static int body_validate(request_t *r, err_t *e)
{
    const route_t *rt = r->route;
    if (rt->fields == NULL || rt->n_fields == 0)
        return 0;
    if (r->body == NULL) {
        if (any_required(rt))
            return err_add(e, 422, "missing", "body", "Field required");
        r->body = json_object_new_object(); /* all fields optional: an empty body */
        arena_defer(r->arena, put_json, r->body);
        return 0;
    }
    return validate_body(r->body, rt->fields, rt->n_fields, r->body_untyped, e);
}

const char *req_body_text(const request_t *r, size_t *n)
{
    const req_impl_t *im = r->impl;
    *n = im->raw_pending ? im->raw_len : 0;
    return im->raw_pending && im->raw_len > 0 ? im->raw_body : NULL;
}

int req_body_decode(request_t *r, err_t *e)
{
    req_impl_t *im = r->impl;
    if (!im->raw_pending)
        return 0;
    im->raw_pending = 0;
    if (body_decode_buffer(r, im->raw_body, im->raw_len, e) != 0)
        return -1;
    return body_validate(r, e);
}

/* Everything before the handler. Returns 0 to call it, -1 with e filled. */
static int prepare(request_t *r, const route_t *routes, size_t n_routes,
                   const server_hooks_t *hooks, err_t *e)
{
    req_impl_t *im = r->impl;
    const route_t *rt = NULL;
    const char *allow = NULL;
    dialect_t d = DIALECT_PLAIN;
    router_result_t res = router_match(routes, n_routes, r->method, im->raw_path, r->arena, &rt,
                                       r->params, &r->n_params, &allow, &d);
    im->dialect = d;
    if (res == ROUTER_NOT_FOUND)
        return err_set(e, 404, "not_found", "Not Found");
    if (res == ROUTER_METHOD_NOT_ALLOWED) {
        req_header_add(r, "Allow", allow ? allow : "");
        return err_set(e, 405, "method_not_allowed", "Method Not Allowed");
    }
    r->route = rt;

    if (im->bad_length)
        return err_set(e, 400, "bad_request", "invalid Content-Length header");
    /* Streamed bodies (uploads) are capped by the configured upload limit
     * when it is below the route table's ceiling. */
    im->body_limit = rt->body_limit;
    if ((rt->flags & ROUTE_STREAM_BODY) && im->upload_limit > 0 &&
        im->upload_limit < im->body_limit)
        im->body_limit = im->upload_limit;
    /* A CSV body on a route that streams CSV (batch predictions) is as
     * large as an upload may be; other bodies keep the route's limit. */
    int csv_streamed = (rt->flags & ROUTE_STREAM_CSV) && strcmp(r->media_type, "text/csv") == 0;
    if (csv_streamed && im->upload_limit > 0)
        im->body_limit = im->upload_limit;
    if (r->content_length > 0 && (unsigned long long)r->content_length > im->body_limit)
        return body_too_large(e, im->body_limit);

    if (!(rt->flags & ROUTE_NO_DB) && hooks->ensure_db != NULL && hooks->ensure_db(r, e) != 0)
        return -1;
    int streamed = (rt->flags & ROUTE_STREAM_BODY) != 0 || csv_streamed;
    /* A request that will hold this worker a while lets its other idle
     * connections go to idle workers first (fcgi/server.c). */
    if (im->on_long_request != NULL &&
        (streamed || (rt->flags & ROUTE_LONG) || r->content_length > LONG_BODY_BYTES))
        im->on_long_request();
    if (im->resumed != REQ_FRESH) {
        /* A parked request coming back: authenticated the first time (the
         * worker restored r->auth), its body consumed then. */
        return 0;
    }
    if (rt->flags & ROUTE_KEY_IN_BODY) {
        if (!streamed && body_key_authenticate(r, hooks, e) != 0)
            return -1;
    } else {
        /* The key is checked before a body byte is read. */
        if ((rt->flags & ROUTE_AUTH) && hooks->authenticate != NULL &&
            hooks->authenticate(r, e) != 0)
            return -1;
        if (!streamed && body_decode_into(r, e) != 0)
            return -1;
    }
    if (!streamed && !((req_impl_t *)r->impl)->raw_pending && body_validate(r, e) != 0)
        return -1;
    return 0;
}

static void log_failure(const request_t *r, const err_t *e)
{
    if (e->status >= 500 || e->status < 400)
        log_error("request: %s %s: %d %s: %s", r->method, r->path, e->status,
                  e->count > 0 ? e->items[0].code : "", err_message(e));
}

int request_dispatch(request_t *r, const route_t *routes, size_t n_routes,
                     const server_hooks_t *hooks)
{
    static const server_hooks_t none = {0};
    if (hooks == NULL)
        hooks = &none;
    req_impl_t *im = r->impl;
    double start = util_now_monotonic();
    err_t e;
    err_clear(&e);
    /* Every line logged while this request is served carries its id. */
    log_context_set("request_id", r->request_id);

    if (prepare(r, routes, n_routes, hooks, &e) != 0) {
        if (e.status == 0)
            err_set(&e, 500, "internal_error", "a runtime hook failed without an error");
        log_failure(r, &e);
        req_reply_error(r, &e);
    } else {
        int rc = r->route->handler(r);
        if (rc != 0 && !im->replied) {
            if (r->err.status == 0)
                err_set(&r->err, 500, "internal_error", "handler failed without an error");
            log_failure(r, &r->err);
            req_reply_error(r, &r->err);
        } else if (rc != 0) {
            log_warn("request: %s %s: handler failed after replying: %s", r->method, r->path,
                     err_message(&r->err));
        } else if (!im->replied && !im->parked) {
            err_t none_sent;
            err_clear(&none_sent);
            err_set(&none_sent, 500, "internal_error", "handler returned without replying");
            log_failure(r, &none_sent);
            req_reply_error(r, &none_sent);
        }
    }
    if (hooks->after_request != NULL)
        hooks->after_request(r, im->status, util_now_monotonic() - start);
    log_context_set("request_id", NULL);
    return im->status;
}
