/*
 * proto.c — the child-to-trainer line protocol (see proto.h).
 */
#include "trainer/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int proto_parse(const char *line, proto_msg_t *out)
{
    memset(out, 0, sizeof(*out));
    if (line == NULL || line[0] == '\0' || line[1] != ' ')
        return -1;
    out->kind = line[0];
    const char *rest = line + 2;
    char *end;
    switch (line[0]) {
    case 'P':
        errno = 0;
        out->fraction = strtod(rest, &end);
        if (end == rest || *end != ' ' || errno != 0)
            return -1;
        rest = end + 1;
        out->estimate = strtod(rest, &end);
        if (end == rest || *end != '\0' || errno != 0)
            return -1;
        if (!(out->fraction >= 0))
            out->fraction = 0;
        if (out->fraction > 1)
            out->fraction = 1;
        return 0;
    case 'L':
        out->text = rest;
        return 0;
    case 'E': {
        errno = 0;
        long st = strtol(rest, &end, 10);
        if (end == rest || errno != 0 || st < 100 || st > 599 || (*end != ' ' && *end != '\0'))
            return -1;
        out->status = (int)st;
        out->text = *end == ' ' ? end + 1 : end;
        return 0;
    }
    default:
        return -1;
    }
}

static size_t proto_text(char *buf, size_t n, size_t used, const char *text)
{
    for (const char *p = text ? text : ""; *p != '\0' && used + 2 < n; p++)
        buf[used++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
    buf[used++] = '\n';
    buf[used] = '\0';
    return used;
}

size_t proto_format_progress(char *buf, size_t n, double fraction, double estimate)
{
    int k = snprintf(buf, n, "P %.4f %.1f\n", fraction, estimate);
    return k < 0 ? 0 : ((size_t)k < n ? (size_t)k : n - 1);
}

size_t proto_format_log(char *buf, size_t n, const char *text)
{
    if (n < 4)
        return 0;
    memcpy(buf, "L ", 2);
    return proto_text(buf, n, 2, text);
}

size_t proto_format_error(char *buf, size_t n, int status, const char *message)
{
    int k = snprintf(buf, n, "E %d ", status < 100 || status > 599 ? 500 : status);
    if (k < 0 || (size_t)k + 2 >= n)
        return 0;
    return proto_text(buf, n, (size_t)k, message);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void proto_sanitize(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t') {
            s[i++] = '?';
            continue;
        }
        if (c == 0x7f) {
            s[i++] = '?';
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            s[i++] = '?';
            continue;
        }
        i += k;
    }
}

static void proto_emit(proto_linebuf_t *lb, void (*fn)(void *ctx, char *line), void *ctx)
{
    lb->buf[lb->used] = '\0';
    if (lb->used > 0 && lb->buf[lb->used - 1] == '\r')
        lb->buf[--lb->used] = '\0';
    proto_sanitize(lb->buf);
    fn(ctx, lb->buf);
    lb->used = 0;
}

void proto_linebuf_feed(proto_linebuf_t *lb, const char *data, size_t n,
                        void (*fn)(void *ctx, char *line), void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            proto_emit(lb, fn, ctx);
            continue;
        }
        if (lb->used == PROTO_LINE_MAX)
            proto_emit(lb, fn, ctx);
        lb->buf[lb->used++] = data[i] != '\0' ? data[i] : '?';
    }
}

void proto_linebuf_flush(proto_linebuf_t *lb, void (*fn)(void *ctx, char *line), void *ctx)
{
    if (lb->used > 0)
        proto_emit(lb, fn, ctx);
}
