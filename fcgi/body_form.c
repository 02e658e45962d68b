/*
 * body_form.c — application/x-www-form-urlencoded bodies.
 *
 * "a=1&b=x+y&c=%2F": '+' is a space, %XX an octet; a key without '=' has the
 * empty value; empty pairs ("a=1&&b=2") are skipped. A repeated key or one
 * written "k[]" becomes an array (body_tree_add). Decoded text must be UTF-8
 * without NUL. A body whose first non-blank byte is '{' is JSON: the Strapi
 * seed's own example posts JSON under this content type.
 */
#include "fcgi/body.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "fcgi/body_internal.h"

/* Decodes s[0..n) into out (at least n + 1 bytes). Returns -1 on a
 * malformed escape or a NUL. */
static int form_decode(const char *s, size_t n, char *out)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = util_hex_value(s[i + 1]), lo = util_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return -1;
        out[len++] = c;
    }
    out[len] = '\0';
    return 0;
}

int body_decode_form(const char *buf, size_t n, const body_limits_t *lim, json_object **out,
                     err_t *e)
{
    if (lim == NULL)
        lim = &body_limits_default;
    *out = NULL;
    if (n > lim->max_bytes)
        return err_set(e, 413, "too_large", "form: body larger than %zu bytes", lim->max_bytes);
    size_t start = 0;
    while (start < n && strchr(" \t\r\n", buf[start]) != NULL)
        start++;
    if (start < n && buf[start] == '{')
        return body_decode_json(buf, n, lim, out, e);

    char *key = malloc(n + 1), *val = malloc(n + 1);
    if (key == NULL || val == NULL) {
        free(key);
        free(val);
        return err_set(e, 500, "internal_error", "form: out of memory");
    }
    json_object *obj = json_object_new_object();
    int fields = 0, pair = 0, rc = 0;
    size_t i = 0;
    while (i < n && rc == 0) {
        const char *amp = memchr(buf + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - buf) : n;
        size_t len = end - i;
        /* A trailing newline from `curl -d @file` is not part of the value. */
        if (amp == NULL)
            while (len > 0 && (buf[i + len - 1] == '\n' || buf[i + len - 1] == '\r'))
                len--;
        if (len > 0) {
            pair++;
            const char *eq = memchr(buf + i, '=', len);
            size_t klen = eq ? (size_t)(eq - (buf + i)) : len;
            const char *v = eq ? eq + 1 : buf + i + len;
            size_t vlen = eq ? len - klen - 1 : 0;
            if (form_decode(buf + i, klen, key) != 0 || form_decode(v, vlen, val) != 0) {
                rc = err_add(e, 400, "form_invalid", "body",
                             "form: malformed percent escape in pair %d", pair);
            } else if (!util_utf8_valid(key, strlen(key)) || !util_utf8_valid(val, strlen(val))) {
                rc = err_add(e, 400, "form_invalid", "body",
                             "form: pair %d is not valid UTF-8", pair);
            } else if (key[0] == '\0') {
                rc = err_add(e, 400, "form_invalid", "body", "form: pair %d has no name", pair);
            } else {
                rc = body_tree_add(obj, key, json_object_new_string(val), &fields,
                                   lim->max_fields, "form", e);
            }
        }
        i = end + 1;
    }
    free(key);
    free(val);
    if (rc != 0) {
        json_object_put(obj);
        return -1;
    }
    *out = obj;
    return 0;
}
