/*
 * body_multipart.c — multipart/form-data bodies decoded whole (non-file
 * fields only), built on the streaming parser in multipart.c.
 *
 * Routes that take files stream them with multipart.h directly; here a part
 * with a filename is refused, so that a file never lands in a JSON string.
 */
#include "fcgi/body.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "fcgi/body_internal.h"
#include "fcgi/multipart.h"

typedef struct mp_collect {
    json_object *obj;
    const body_limits_t *lim;
    char name[256];
    char *value;      /* the current part's bytes */
    size_t len;
    size_t cap;
    int fields;
} mp_collect_t;

static int on_begin(void *ctx, const char *name, const char *filename, const char *ctype,
                    err_t *e)
{
    mp_collect_t *c = ctx;
    (void)ctype;
    if (filename != NULL)
        return err_add(e, 400, "multipart_invalid", "body",
                       "multipart: file part \"%.60s\" is not accepted on this route", name);
    if (strlen(name) >= sizeof(c->name))
        return err_add(e, 400, "multipart_invalid", "body", "multipart: field name too long");
    strcpy(c->name, name);
    c->len = 0;
    return 0;
}

static int on_data(void *ctx, const char *buf, size_t n, err_t *e)
{
    mp_collect_t *c = ctx;
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *p = realloc(c->value, cap);
        if (p == NULL)
            return err_set(e, 500, "internal_error", "multipart: out of memory");
        c->value = p;
        c->cap = cap;
    }
    memcpy(c->value + c->len, buf, n);
    c->len += n;
    return 0;
}

static int on_end(void *ctx, err_t *e)
{
    mp_collect_t *c = ctx;
    const char *v = c->value ? c->value : "";
    if (c->value != NULL)
        c->value[c->len] = '\0';
    if (memchr(v, '\0', c->len) != NULL || !util_utf8_valid(v, c->len))
        return err_add(e, 400, "multipart_invalid", "body",
                       "multipart: field \"%.60s\" is not valid UTF-8 text", c->name);
    return body_tree_add(c->obj, c->name, json_object_new_string_len(v, (int)c->len),
                         &c->fields, c->lim->max_fields, "multipart", e);
}

int body_decode_multipart(const char *buf, size_t n, const char *content_type,
                          const body_limits_t *lim, json_object **out, err_t *e)
{
    if (lim == NULL)
        lim = &body_limits_default;
    *out = NULL;
    if (n > lim->max_bytes)
        return err_set(e, 413, "too_large", "multipart: body larger than %zu bytes",
                       lim->max_bytes);
    mp_collect_t c = {.obj = json_object_new_object(), .lim = lim};
    static const multipart_callbacks_t cb = {on_begin, on_data, on_end};
    multipart_t *mp = multipart_new(content_type, &cb, &c, (size_t)lim->max_fields, 8192, e);
    int rc = -1;
    if (mp != NULL && multipart_feed(mp, buf, n, e) == 0 && multipart_finish(mp, e) == 0)
        rc = 0;
    multipart_free(mp);
    free(c.value);
    if (rc != 0) {
        json_object_put(c.obj);
        return -1;
    }
    *out = c.obj;
    return 0;
}
