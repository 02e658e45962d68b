/*
 * strapi_query.c — Strapi v3's list parameters (see strapi_query.h).
 *
 * Two steps, as Strapi itself does them. First the names are nested the way
 * the qs module nests them (a[b][0]=x, a[]=x, a repeated name becomes a
 * list), into a json-c tree; then that tree is read the way Strapi's
 * convertRestQueryParams reads it: _sort/_limit/_start/_q/_publicationState
 * are options, _where is a group (a JSON text, an object or a list) in which
 * _or holds alternatives, and any other key is field[_op] = value(s).
 * Digit keys stand for list positions (qs makes _where[0][x] a list).
 *
 * Nothing here checks a field name against the collection: db/trainings.c
 * owns the allow-list, so there is one place that decides what reaches SQL.
 */
#include "handlers/strapi_query.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void json_put(void *p)
{
    json_object_put(p);
}

void strapi_query_init(strapi_query_t *sq, arena_t *arena)
{
    sq->arena = arena;
    sq->root = json_object_new_object();
    arena_defer(arena, json_put, sq->root);
    sq->failed = 0;
}

__attribute__((format(printf, 3, 4))) static int bad(err_t *e, const char *param,
                                                      const char *fmt, ...)
{
    char field[ERR_FIELD_MAX] = "query";
    err_path_append(field, sizeof(field), param);
    char msg[ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_add(e, 400, "value_error", field, "%s", msg);
}

/* Stores value at key of obj as qs does: a second value under the same key
 * makes a list; append (a[]) always does. */
static int qs_put(json_object *obj, const char *key, const char *value, int append)
{
    json_object *old;
    if (!json_object_object_get_ex(obj, key, &old)) {
        json_object *v = json_object_new_string(value);
        if (append) {
            json_object *arr = json_object_new_array();
            json_object_array_add(arr, v);
            v = arr;
        }
        json_object_object_add(obj, key, v);
        return 0;
    }
    if (json_object_is_type(old, json_type_array)) {
        if (json_object_array_length(old) >= STRAPI_MAX_VALUES)
            return -1;
        json_object_array_add(old, json_object_new_string(value));
        return 0;
    }
    if (json_object_is_type(old, json_type_string)) {
        json_object *arr = json_object_new_array();
        json_object_array_add(arr, json_object_get(old));
        json_object_array_add(arr, json_object_new_string(value));
        json_object_object_add(obj, key, arr);
        return 0;
    }
    return -1; /* a[b]=1&a=2: a is already a group */
}

int strapi_query_add(strapi_query_t *sq, const char *name, const char *value, err_t *e)
{
    if (name == NULL || *name == '\0')
        return 0; /* "&&" or "=x": nothing to read */
    if (value == NULL)
        value = "";
    /* Split name into base[seg][seg]...; a name whose brackets do not close
     * is one plain key, as qs takes it. */
    char *segs[STRAPI_MAX_SEGMENTS + 1];
    int n = 0;
    const char *open = strchr(name, '[');
    segs[n++] = arena_strndup(sq->arena, name, open ? (size_t)(open - name) : strlen(name));
    const char *p = open;
    while (p != NULL && *p == '[') {
        const char *close = strchr(p + 1, ']');
        if (close == NULL)
            break;
        if (n > STRAPI_MAX_SEGMENTS)
            return sq->failed = bad(e, name, "too deeply nested (at most %s levels)", "8");
        segs[n++] = arena_strndup(sq->arena, p + 1, (size_t)(close - p - 1));
        p = close + 1;
    }
    if (p != NULL && *p != '\0') { /* "a[b" or "a[b]c": not brackets after all */
        n = 1;
        segs[0] = arena_strdup(sq->arena, name);
    }
    if (*segs[0] == '\0')
        return sq->failed = bad(e, name, "a parameter needs a name before [: \"%s\"", name);
    json_object *obj = sq->root;
    for (int i = 0; i + 1 < n; i++) {
        int last_is_append = i + 2 == n && *segs[i + 1] == '\0';
        if (last_is_append) {
            if (qs_put(obj, segs[i], value, 1) != 0)
                return sq->failed = bad(e, name, "\"%s\" mixes a value and a group", name);
            return 0;
        }
        if (*segs[i + 1] == '\0')
            return sq->failed = bad(e, name, "[] may only end a name: \"%s\"", name);
        json_object *child;
        if (!json_object_object_get_ex(obj, segs[i], &child)) {
            child = json_object_new_object();
            json_object_object_add(obj, segs[i], child);
        } else if (!json_object_is_type(child, json_type_object)) {
            return sq->failed = bad(e, name, "\"%s\" mixes a value and a group", name);
        }
        obj = child;
    }
    if (qs_put(obj, segs[n - 1], value, 0) != 0)
        return sq->failed = bad(e, name, "\"%s\" mixes a value and a group (or too many values)",
                                name);
    return 0;
}

/* ---- reading the tree the way Strapi does ---- */

static const char *const ops[] = {"eq",       "ne",        "lt",         "gt",
                                  "lte",      "gte",       "in",         "nin",
                                  "contains", "ncontains", "containss", "ncontainss",
                                  "null"};

typedef struct reader {
    arena_t *arena;
    err_t *e;
    int conds;
} reader_t;

static training_node_t *node_new(reader_t *rd, training_node_kind_t kind)
{
    training_node_t *n = arena_calloc(rd->arena, 1, sizeof(*n));
    n->kind = kind;
    return n;
}

static void node_append(training_node_t *parent, training_node_t *child)
{
    training_node_t **at = &parent->first;
    while (*at != NULL)
        at = &(*at)->next;
    *at = child;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* A scalar as the text PostgreSQL will cast; NULL for JSON null, and
 * (const char *)-1 for an array or object (not a scalar). */
static const char *scalar_text(reader_t *rd, json_object *v)
{
    if (v == NULL)
        return NULL;
    switch (json_object_get_type(v)) {
    case json_type_string: return json_object_get_string(v);
    case json_type_boolean: return json_object_get_boolean(v) ? "true" : "false";
    case json_type_int: return arena_sprintf(rd->arena, "%lld", (long long)json_object_get_int64(v));
    case json_type_double: return arena_sprintf(rd->arena, "%.17g", json_object_get_double(v));
    default: return (const char *)-1;
    }
}

/* key = field[_op], v = a scalar or a list of scalars. */
static training_node_t *read_cond(reader_t *rd, const char *key, json_object *v)
{
    if (++rd->conds > STRAPI_MAX_CONDS) {
        bad(rd->e, key, "too many conditions (at most %s)", "64");
        return NULL;
    }
    training_node_t *n = node_new(rd, TRAINING_COND);
    n->param = key;
    n->field = key;
    n->op = "eq";
    const char *us = strrchr(key, '_');
    if (us != NULL && us != key) {
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
            if (strcmp(us + 1, ops[i]) == 0) {
                n->op = ops[i];
                n->field = arena_strndup(rd->arena, key, (size_t)(us - key));
                break;
            }
        }
    }
    if (json_object_is_type(v, json_type_array)) {
        size_t len = json_object_array_length(v);
        if (len > STRAPI_MAX_VALUES) {
            bad(rd->e, key, "too many values (at most %s)", "100");
            return NULL;
        }
        const char **vals = arena_calloc(rd->arena, len + 1, sizeof(*vals));
        for (size_t i = 0; i < len; i++) {
            vals[i] = scalar_text(rd, json_object_array_get_idx(v, i));
            if (vals[i] == NULL || vals[i] == (const char *)-1) {
                bad(rd->e, key, "\"%s\" takes a list of plain values", key);
                return NULL;
            }
        }
        /* Strapi reads id=1&id=2 as id_in; other operators take one value. */
        if (strcmp(n->op, "eq") == 0)
            n->op = "in";
        else if (strcmp(n->op, "ne") == 0)
            n->op = "nin";
        if (strcmp(n->op, "in") != 0 && strcmp(n->op, "nin") != 0) {
            bad(rd->e, key, "\"%s\" takes one value", key);
            return NULL;
        }
        n->values = vals;
        n->n_values = (int)len;
        return n;
    }
    const char *t = scalar_text(rd, v);
    if (t == (const char *)-1) {
        bad(rd->e, key, "\"%s\" takes a value, not a group", key);
        return NULL;
    }
    if (t == NULL) { /* {"x": null} in a JSON _where: x is null */
        if (strcmp(n->op, "eq") != 0) {
            bad(rd->e, key, "\"%s\" takes a value, not null", key);
            return NULL;
        }
        n->op = "null";
        t = "true";
    }
    const char **vals = arena_calloc(rd->arena, 2, sizeof(*vals));
    vals[0] = t;
    n->values = vals;
    n->n_values = 1;
    return n;
}

static training_node_t *read_group(reader_t *rd, json_object *v, int depth, const char *param);

/* Appends each group of the list v to n (an _or's or an and-list's). */
static training_node_t *read_group_list(reader_t *rd, training_node_t *n, json_object *v,
                                        int depth, const char *param)
{
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        training_node_t *k = read_group(rd, json_object_array_get_idx(v, i), depth + 1, param);
        if (k == NULL)
            return NULL;
        node_append(n, k);
    }
    return n;
}

/* _or: a list (or digit-keyed object) of groups, any of which may hold. */
static training_node_t *read_or(reader_t *rd, json_object *v, int depth, const char *param)
{
    training_node_t *n = node_new(rd, TRAINING_OR);
    if (json_object_is_type(v, json_type_array))
        return read_group_list(rd, n, v, depth, param);
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, val) {
            if (!all_digits(key)) {
                bad(rd->e, param, "_or takes a list of groups, not the key \"%s\"", key);
                return NULL;
            }
            training_node_t *k = read_group(rd, val, depth + 1, param);
            if (k == NULL)
                return NULL;
            node_append(n, k);
        }
        return n;
    }
    bad(rd->e, param, "_or takes a list of groups%s", "");
    return NULL;
}

/* A group: an object (all its conditions hold) or a list of groups (all
 * hold). */
static training_node_t *read_group(reader_t *rd, json_object *v, int depth, const char *param)
{
    if (depth > STRAPI_MAX_DEPTH) {
        bad(rd->e, param, "_where is nested too deeply (at most %s levels)", "8");
        return NULL;
    }
    training_node_t *n = node_new(rd, TRAINING_AND);
    if (json_object_is_type(v, json_type_array))
        return read_group_list(rd, n, v, depth, param);
    if (!json_object_is_type(v, json_type_object)) {
        bad(rd->e, param, "_where takes groups of conditions, not a plain value%s", "");
        return NULL;
    }
    json_object_object_foreach(v, key, val) {
        training_node_t *k;
        if (strcmp(key, "_or") == 0)
            k = read_or(rd, val, depth + 1, param);
        else if (all_digits(key))
            k = read_group(rd, val, depth + 1, param);
        else
            k = read_cond(rd, key, val);
        if (k == NULL)
            return NULL;
        node_append(n, k);
    }
    return n;
}

/* _sort=accuracy:DESC,rmse:ASC (a direction is optional, ASC by default). */
static int read_sort(reader_t *rd, const char *text, training_query_t *q)
{
    char *copy = arena_strdup(rd->arena, text);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        char *end = item + strlen(item);
        while (end > item && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (*item == '\0')
            continue;
        if (q->n_sorts >= TRAINING_SORT_MAX)
            return bad(rd->e, "_sort", "at most 8 sort keys, not \"%s\"", text);
        training_sort_t *s = &q->sorts[q->n_sorts++];
        char *colon = strchr(item, ':');
        s->desc = 0;
        if (colon != NULL) {
            *colon = '\0';
            if (strcasecmp(colon + 1, "DESC") == 0)
                s->desc = 1;
            else if (strcasecmp(colon + 1, "ASC") != 0)
                return bad(rd->e, "_sort",
                           "_sort takes field:ASC or field:DESC, comma-separated, not \"%s\"",
                           text);
        }
        /* "accuracy :DESC" names accuracy; ":DESC" names nothing. */
        for (char *fe = item + strlen(item); fe > item && isspace((unsigned char)fe[-1]);)
            *--fe = '\0';
        if (*item == '\0')
            return bad(rd->e, "_sort", "a sort key needs a field name: \"%s\"", text);
        s->field = item;
    }
    return 0;
}

static int read_int(reader_t *rd, const char *name, json_object *v, int *out)
{
    const char *t = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    char *end;
    long n = strtol(t, &end, 10);
    int is_start = strcmp(name, "_start") == 0;
    if (*t == '\0' || *end != '\0' || n < -1 || n > 1000000 || (n < 0 && is_start))
        return bad(rd->e, name, is_start ? "_start must be an integer >= 0%s"
                                         : "_limit must be an integer (-1 for all)%s", "");
    *out = (int)n;
    return 0;
}

static const char *one_string(json_object *v)
{
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int strapi_query_finish(strapi_query_t *sq, training_query_t *q, err_t *e)
{
    memset(q, 0, sizeof(*q));
    q->limit = 100;
    if (sq->failed)
        return -1;
    reader_t rd = {sq->arena, e, 0};
    training_node_t *root = node_new(&rd, TRAINING_AND);
    json_object_object_foreach(sq->root, key, val) {
        if (strcmp(key, "_sort") == 0) {
            const char *t = one_string(val);
            if (t == NULL || read_sort(&rd, t, q) != 0)
                return t == NULL ? bad(e, key, "give _sort once: %s", "field:ASC,field:DESC") : -1;
        } else if (strcmp(key, "_limit") == 0) {
            if (read_int(&rd, key, val, &q->limit) != 0)
                return -1;
        } else if (strcmp(key, "_start") == 0) {
            if (read_int(&rd, key, val, &q->start) != 0)
                return -1;
        } else if (strcmp(key, "_q") == 0) {
            if ((q->q = one_string(val)) == NULL)
                return bad(e, key, "give _q once%s", "");
        } else if (strcmp(key, "_publicationState") == 0) {
            const char *t = one_string(val);
            if (t != NULL && strcmp(t, "live") == 0)
                q->preview = 0;
            else if (t != NULL && strcmp(t, "preview") == 0)
                q->preview = 1;
            else
                return bad(e, key, "_publicationState is live or preview%s", "");
        } else if (strcmp(key, "_where") == 0) {
            json_object *w = val;
            if (json_object_is_type(val, json_type_string)) {
                /* JSON text, as Strapi's SDKs send it after qs.stringify
                 * is skipped: _where={"_or":[...]} */
                w = json_tokener_parse(json_object_get_string(val));
                if (w == NULL)
                    return bad(e, key, "_where is neither JSON nor brackets: \"%s\"",
                               json_object_get_string(val));
                arena_defer(sq->arena, json_put, w);
            }
            training_node_t *g = read_group(&rd, w, 1, "_where");
            if (g == NULL)
                return -1;
            node_append(root, g);
        } else if (key[0] == '_') {
            return bad(e, key, "unknown parameter \"%s\"", key);
        } else {
            training_node_t *c = read_cond(&rd, key, val);
            if (c == NULL)
                return -1;
            node_append(root, c);
        }
    }
    q->where = root->first != NULL ? root : NULL;
    return 0;
}
