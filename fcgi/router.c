/*
 * router.c — matches method + path against the static route table.
 *
 * The path given is the raw request path (as sent, before any decoding), so
 * that an encoded '/' ("%2F") stays inside one segment. Each segment is
 * percent-decoded once, then compared with a literal segment or captured for
 * a {name} segment. Segments that cannot be decoded (malformed escape,
 * encoded NUL), empty inner segments ("//") and dot segments ("." and "..")
 * match nothing, so such paths end as 404 in the dialect of the closest
 * route. Tables are small (tens of routes): a linear scan is the fastest and
 * the simplest thing that works.
 */
#include "common/util.h"
#include "fcgi/router.h"

#include <stdio.h>
#include <string.h>

#define ROUTER_MAX_SEGMENTS 32

typedef struct segments {
    const char *text[ROUTER_MAX_SEGMENTS]; /* decoded, NULL if undecodable */
    int n;
    int bad;                               /* 1 if any segment is unusable */
} segments_t;

char *router_percent_decode(arena_t *arena, const char *s, size_t n, int plus_as_space)
{
    char *out = arena_alloc(arena, n + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\0')
            return NULL;
        if (c == '%') {
            if (i + 2 >= n)
                return NULL;
            int hi = util_hex_value(s[i + 1]), lo = util_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return NULL;
            i += 2;
        } else if (c == '+' && plus_as_space) {
            c = ' ';
        }
        out[len++] = c;
    }
    out[len] = '\0';
    return out;
}

/* Splits the raw path into decoded segments. A single trailing slash is
 * ignored; "/" alone has no segments. */
static void path_split(arena_t *arena, const char *path, segments_t *sg)
{
    sg->n = 0;
    sg->bad = 0;
    if (path == NULL || path[0] != '/') {
        sg->bad = 1;
        return;
    }
    const char *p = path + 1;
    size_t total = strlen(p);
    if (total > 0 && p[total - 1] == '/')
        total--;
    if (total == 0)
        return;
    const char *end = p + total;
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t len = (size_t)(seg_end - p);
        if (sg->n == ROUTER_MAX_SEGMENTS) {
            sg->bad = 1;
            return;
        }
        char *dec = len == 0 ? NULL : router_percent_decode(arena, p, len, 0);
        if (dec != NULL && (strcmp(dec, ".") == 0 || strcmp(dec, "..") == 0))
            dec = NULL;
        if (dec == NULL)
            sg->bad = 1;
        sg->text[sg->n++] = dec;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
}

/* Compares a pattern with the segments. Returns the number of leading
 * segments that matched (for "closest route"), and sets *full when every
 * segment matched and the counts agree. Captures go to params when given. */
static int pattern_match(const char *pattern, const segments_t *sg, const char **params,
                         int *n_params, int *full)
{
    const char *p = pattern;
    int i = 0, captured = 0;
    *full = 0;
    if (*p == '/')
        p++;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (i >= sg->n || sg->text[i] == NULL)
            return i;
        int is_param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
        if (is_param) {
            if (params != NULL && captured < 8)
                params[captured] = sg->text[i];
            captured++;
        } else if (strlen(sg->text[i]) != len || memcmp(sg->text[i], p, len) != 0) {
            return i;
        }
        i++;
        p += len;
        if (*p == '/')
            p++;
    }
    if (i == sg->n && !sg->bad) {
        *full = 1;
        if (n_params != NULL)
            *n_params = captured > 8 ? 8 : captured;
    }
    return i;
}

static int method_matches(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return 1;
    /* HEAD is served by the GET handler; the writer drops the body. */
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

router_result_t router_match(const route_t *table, size_t n, const char *method,
                             const char *path, arena_t *arena, const route_t **out,
                             const char **params, int *n_params, const char **allow,
                             dialect_t *dialect)
{
    segments_t sg;
    path_split(arena, path, &sg);
    int best_depth = 0, path_matched = 0;
    dialect_t best = DIALECT_PLAIN;
    const char *allowed[8];
    int n_allowed = 0;

    if (out != NULL)
        *out = NULL;
    if (n_params != NULL)
        *n_params = 0;
    for (size_t i = 0; i < n; i++) {
        int full = 0, np = 0;
        const char *tmp[8];
        int depth = pattern_match(table[i].pattern, &sg, tmp, &np, &full);
        if (depth > best_depth) {
            best_depth = depth;
            best = table[i].dialect;
        }
        if (!full)
            continue;
        if (!path_matched)
            best = table[i].dialect; /* an exact path beats any prefix */
        path_matched = 1;
        best_depth = ROUTER_MAX_SEGMENTS + 1;
        if (method != NULL && method_matches(table[i].method, method)) {
            for (int k = 0; params != NULL && k < np; k++)
                params[k] = tmp[k];
            if (n_params != NULL)
                *n_params = np;
            if (out != NULL)
                *out = &table[i];
            if (dialect != NULL)
                *dialect = table[i].dialect;
            return ROUTER_FOUND;
        }
        /* Collect the allowed methods once each, in table order. */
        int seen = 0;
        for (int k = 0; k < n_allowed; k++)
            seen |= strcmp(allowed[k], table[i].method) == 0;
        if (!seen && n_allowed < (int)(sizeof(allowed) / sizeof(allowed[0])))
            allowed[n_allowed++] = table[i].method;
    }
    if (n_params != NULL)
        *n_params = 0;
    if (dialect != NULL)
        *dialect = best;
    if (path_matched) {
        if (allow != NULL) {
            char buf[128] = "";
            for (int k = 0; k < n_allowed; k++) {
                size_t len = strlen(buf);
                snprintf(buf + len, sizeof(buf) - len, "%s%s", k > 0 ? ", " : "", allowed[k]);
            }
            *allow = arena_strdup(arena, buf);
        }
        return ROUTER_METHOD_NOT_ALLOWED;
    }
    return ROUTER_NOT_FOUND;
}
