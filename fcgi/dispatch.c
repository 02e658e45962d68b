/*
 * dispatch.c — one request from routing to after_request (runtime.h).
 *
 * The order is fixed and the same for every route, so handlers can rely on
 * it: route (404/405 in the closest route's dialect) → Content-Length
 * against the route's limit (413 before reading a byte) → ensure_db (unless
 * ROUTE_NO_DB) → authenticate (ROUTE_AUTH) → body read and decoded (unless
 * ROUTE_STREAM_BODY) → validation → handler. Routes flagged
 * ROUTE_KEY_IN_BODY have their body decoded before authentication, since the
 * key may be in it; they are validated after it all the same.
 *
 * Whatever fails is rendered from an err_t in the route's dialect; a handler
 * that fails without replying gets the same treatment. 500s are logged with
 * their real message and shown without it.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "fcgi/body.h"
#include "fcgi/runtime.h"
#include "fcgi/validate.h"

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

/* Reads the whole (bounded) body into the arena. *len is 0 for none. */
static int body_read_all(request_t *r, char **out, size_t *len, err_t *e)
{
    size_t limit = r->route->body_limit;
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
        ssize_t got = req_body_read(r, buf + n, cap - n, e);
        if (got < 0) {
            if (e->status == 413 && limit == 0) {
                err_clear(e);
                return body_too_large(e, limit);
            }
            return -1;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int any_required(const route_t *rt)
{
    for (size_t i = 0; i < rt->n_fields; i++)
        if (rt->fields[i].flags & FIELD_REQUIRED)
            return 1;
    return 0;
}

static int body_decode_into(request_t *r, err_t *e)
{
    char *buf = NULL;
    size_t n = 0;
    if (body_read_all(r, &buf, &n, e) != 0)
        return -1;
    if (n == 0)
        return 0;
    const char *media = r->media_type[0] ? r->media_type : "application/json";
    body_limits_t lim = body_limits_default;
    if (r->route->body_limit > lim.max_bytes)
        lim.max_bytes = r->route->body_limit;
    /* The field cap follows the route's size cap (one field per 16 bytes at
     * most): a 32 MB batch of prediction rows legitimately holds hundreds of
     * thousands of fields, a 64 KB training request never needs 10,000. */
    if (r->route->body_limit / 16 > (size_t)lim.max_fields)
        lim.max_fields = r->route->body_limit / 16 > INT_MAX ? INT_MAX
                                                              : (int)(r->route->body_limit / 16);
    json_object *doc = NULL;
    if (body_decode(media, r->content_type, buf, n, &lim, &doc, &r->body_untyped, e) != 0)
        return -1;
    arena_defer(r->arena, put_json, doc);
    r->body = doc;
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
    if (r->content_length > 0 && (unsigned long long)r->content_length > rt->body_limit)
        return body_too_large(e, rt->body_limit);

    if (!(rt->flags & ROUTE_NO_DB) && hooks->ensure_db != NULL && hooks->ensure_db(r, e) != 0)
        return -1;
    int streamed = (rt->flags & ROUTE_STREAM_BODY) != 0;
    int early_body = !streamed && (rt->flags & ROUTE_KEY_IN_BODY);
    if (early_body && body_decode_into(r, e) != 0)
        return -1;
    if ((rt->flags & ROUTE_AUTH) && hooks->authenticate != NULL && hooks->authenticate(r, e) != 0)
        return -1;
    if (!streamed && !early_body && body_decode_into(r, e) != 0)
        return -1;
    if (!streamed && body_validate(r, e) != 0)
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
        } else if (!im->replied) {
            err_t none_sent;
            err_clear(&none_sent);
            err_set(&none_sent, 500, "internal_error", "handler returned without replying");
            log_failure(r, &none_sent);
            req_reply_error(r, &none_sent);
        }
    }
    if (hooks->after_request != NULL)
        hooks->after_request(r, im->status, util_now_monotonic() - start);
    return im->status;
}
