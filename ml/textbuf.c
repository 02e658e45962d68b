/*
 * textbuf.c — the growing text buffer (textbuf.h).
 */
#include "ml/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for need more bytes and the NUL. */
static int reserve(textbuf_t *b, size_t need)
{
    if (b->oom)
        return -1;
    if (b->p != NULL && b->n + need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1 << 14;
    while (cap < b->n + need + 1)
        cap *= 2;
    char *q = realloc(b->p, cap);
    if (q == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = q;
    b->cap = cap;
    return 0;
}

int tb_addn(textbuf_t *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int tb_printf(textbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        b->oom = 1;
        return -1;
    }
    if (reserve(b, (size_t)need) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
    return 0;
}

int tb_json(textbuf_t *b, json_object *o)
{
    size_t len = 0;
    const char *t = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (t == NULL) {
        b->oom = 1;
        return -1;
    }
    return tb_addn(b, t, len);
}
