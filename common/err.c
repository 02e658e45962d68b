/*
 * err.c — the one error type (see err.h).
 *
 * Items are fixed-size so that an err_t can live on the stack of any caller,
 * inside or outside a request, with no allocator at hand.
 */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void copy_bounded(char *dst, size_t n, const char *src)
{
    if (src == NULL)
        src = "";
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void err_clear(err_t *e)
{
    e->status = 0;
    e->count = 0;
    e->dropped = 0;
    e->retry_after[0] = '\0';
}

static int err_vadd(err_t *e, int status, const char *code, const char *field,
                    const char *fmt, va_list ap)
{
    if (e->status == 0)
        e->status = status;
    if (e->count >= ERR_MAX_ITEMS) {
        e->dropped++;
        return -1;
    }
    err_item_t *it = &e->items[e->count++];
    copy_bounded(it->code, sizeof(it->code), code);
    copy_bounded(it->field, sizeof(it->field), field);
    vsnprintf(it->message, sizeof(it->message), fmt, ap);
    return -1;
}

int err_add(err_t *e, int status, const char *code, const char *field,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vadd(e, status, code, field, fmt, ap);
    va_end(ap);
    return -1;
}

int err_set(err_t *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vadd(e, status, code, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

void err_wrap(err_t *e, const char *context)
{
    for (int i = 0; i < e->count; i++) {
        char buf[ERR_MESSAGE_MAX];
        snprintf(buf, sizeof(buf), "%s: %s", context, e->items[i].message);
        copy_bounded(e->items[i].message, sizeof(e->items[i].message), buf);
    }
}

void err_path_append(char *buf, size_t n, const char *segment)
{
    size_t len = strlen(buf);
    if (len > 0 && len + 1 < n)
        buf[len++] = '/';
    for (const char *s = segment; *s != '\0' && len + 1 < n; s++) {
        if (*s == '/' || *s == '~') {
            if (len + 2 >= n)
                break;
            buf[len++] = '~';
            buf[len++] = *s == '/' ? '1' : '0';
        } else {
            buf[len++] = *s;
        }
    }
    buf[len] = '\0';
}

void err_path_append_index(char *buf, size_t n, long index)
{
    char num[24];
    snprintf(num, sizeof(num), "%ld", index);
    err_path_append(buf, n, num);
}

void err_path_each(const char *path, void (*fn)(const char *seg, void *ctx),
                   void *ctx)
{
    char seg[ERR_FIELD_MAX];
    size_t len = 0;
    for (const char *p = path;; p++) {
        if (*p == '/' || *p == '\0') {
            seg[len] = '\0';
            if (len > 0 || *p == '/')
                fn(seg, ctx);
            len = 0;
            if (*p == '\0')
                break;
            continue;
        }
        char c = *p;
        if (c == '~' && (p[1] == '0' || p[1] == '1'))
            c = *++p == '1' ? '/' : '~';
        if (len + 1 < sizeof(seg))
            seg[len++] = c;
    }
}

const char *err_message(const err_t *e)
{
    return e->count > 0 ? e->items[0].message : "";
}
