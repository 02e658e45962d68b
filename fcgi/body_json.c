/*
 * body_json.c — application/json bodies through json-c's tokener.
 *
 * json-c's own depth cap bounds the parser's stack; after parsing, one walk
 * over the tree counts fields against the cap and refuses what json-c lets
 * through but no handler should see: NaN/Infinity (and numbers too large for
 * a double), strings with an encoded NUL, and strings that are not UTF-8
 * (json-c turns a lone "\ud800" into bytes that are not).
 */
#include "fcgi/body.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef struct walk {
    int fields;
    int max_fields;
    const char *problem; /* set on the first refusal */
} walk_t;

static void walk_tree(json_object *o, walk_t *w)
{
    if (w->problem != NULL || o == NULL)
        return;
    switch (json_object_get_type(o)) {
    case json_type_object: {
        json_object_object_foreach(o, key, val) {
            if (++w->fields > w->max_fields) {
                w->problem = "fields";
                return;
            }
            if (!util_utf8_valid(key, strlen(key))) {
                w->problem = "a field name that is not valid UTF-8";
                return;
            }
            walk_tree(val, w);
            if (w->problem != NULL)
                return;
        }
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n && w->problem == NULL; i++) {
            if (++w->fields > w->max_fields) {
                w->problem = "fields";
                return;
            }
            walk_tree(json_object_array_get_idx(o, i), w);
        }
        break;
    }
    case json_type_double:
        if (!isfinite(json_object_get_double(o)))
            w->problem = "a number that is not finite";
        break;
    case json_type_string: {
        const char *s = json_object_get_string(o);
        size_t n = (size_t)json_object_get_string_len(o);
        if (memchr(s, '\0', n) != NULL)
            w->problem = "a string containing \\u0000";
        else if (!util_utf8_valid(s, n))
            w->problem = "a string that is not valid UTF-8";
        break;
    }
    default:
        break;
    }
}

int body_decode_json(const char *buf, size_t n, const body_limits_t *lim, json_object **out,
                     err_t *e)
{
    if (lim == NULL)
        lim = &body_limits_default;
    *out = NULL;
    if (n > lim->max_bytes || n >= INT_MAX)
        return err_set(e, 413, "too_large", "json: body larger than %zu bytes", lim->max_bytes);
    size_t start = 0;
    while (start < n && strchr(" \t\r\n", buf[start]) != NULL)
        start++;
    if (start == n)
        return err_add(e, 400, "json_invalid", "body/0", "json: empty body");

    /* json-c counts the outermost value as one level and fails when the
     * count reaches the cap, hence + 1. The text is fed in slices, straight
     * from the caller's buffer (no copy of a 32 MB body), then a NUL so that
     * a bare top-level number is complete. */
    struct json_tokener *tok = json_tokener_new_ex(lim->max_depth + 1);
    if (tok == NULL)
        return err_set(e, 500, "internal_error", "json: out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = NULL;
    enum json_tokener_error jerr = json_tokener_continue;
    size_t end = 0;
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 65536 ? n - off : 65536;
        obj = json_tokener_parse_ex(tok, buf + off, (int)k);
        jerr = json_tokener_get_error(tok);
        if (jerr != json_tokener_continue) {
            end = off + json_tokener_get_parse_end(tok);
            break;
        }
        off += k;
        end = off;
    }
    if (jerr == json_tokener_continue) {
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = n + json_tokener_get_parse_end(tok);
    }
    json_tokener_free(tok);
    /* A value completed in an earlier slice may be followed by whitespace
     * in later ones (RFC 8259 allows it around any value): skip it, so that
     * where the slices fall never decides whether a body is valid. */
    if (jerr == json_tokener_success && obj != NULL)
        while (end < n && (buf[end] == ' ' || buf[end] == '\t' || buf[end] == '\n' ||
                           buf[end] == '\r'))
            end++;

    char path[32];
    if (jerr == json_tokener_error_depth) {
        json_object_put(obj);
        return err_set(e, 413, "too_large", "json: nesting deeper than %d levels",
                       lim->max_depth);
    }
    if (obj == NULL && jerr == json_tokener_success && end >= n)
        return err_add(e, 400, "json_invalid", "body/0", "json: the body is null");
    if (jerr != json_tokener_success || end < n) {
        json_object_put(obj);
        if (end > n)
            end = n;
        snprintf(path, sizeof(path), "body/%zu", end);
        if (jerr == json_tokener_continue || (jerr != json_tokener_success && end >= n))
            return err_add(e, 400, "json_invalid", path,
                           "json: unexpected end of input at offset %zu", end);
        return err_add(e, 400, "json_invalid", path, "json: unexpected token at offset %zu",
                       end);
    }
    walk_t w = {.fields = 0, .max_fields = lim->max_fields, .problem = NULL};
    walk_tree(obj, &w);
    if (w.problem != NULL) {
        json_object_put(obj);
        if (strcmp(w.problem, "fields") == 0)
            return err_set(e, 413, "too_large", "json: more than %d fields", lim->max_fields);
        return err_add(e, 400, "json_invalid", "body", "json: %s", w.problem);
    }
    *out = obj;
    return 0;
}
