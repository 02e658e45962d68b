/*
 * predict_check.c — warnings about prediction inputs (see predict_check.h).
 *
 * Warnings are aggregated per (code, field, level): a batch of 10,000 rows
 * with one misspelled field gives one warning with a count, not 10,000.
 *
 * The check runs on every row of every prediction, so a clean row must cost
 * little next to the prediction itself: a row's keys are matched with the
 * model's fields by their position in the last row (ml/keyorder.h), at a
 * string compare each. A category value is first compared with the few
 * levels last seen in that field, then looked up in the field's level set.
 */
#include "handlers/predict_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/csv.h"
#include "ml/keyorder.h"
#include "ml/model.h"

#define ROWS_KEPT 10
#define RECENT_LEVELS 4      /* levels remembered per category field */

typedef struct feature {
    const char *name;        /* the model's (borrowed from preprocess) */
    json_object *desc;       /* its description (borrowed) */
    json_object *levels;     /* category: the set of its levels (owned: a hash
                                lookup, not a scan, for wide categories); else NULL */
    const char *recent[RECENT_LEVELS]; /* known levels last seen (keys of levels) */
    unsigned next_recent;
} feature_t;

struct predict_check {
    json_object *features;   /* borrowed from preprocess */
    const char *target;      /* the predicted field, or NULL */
    feature_t *feat;         /* the model's features, in order (owned) */
    size_t n_features;
    keyorder_t *keys;        /* the features' names (owned) */
    json_object *warnings;   /* aggregated (owned) */
    json_object *index;      /* "code\x1ffield\x1fvalue" -> its warning (owned) */
};

predict_check_t *predict_check_new(json_object *preprocess)
{
    predict_check_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    json_object *target = NULL;
    json_object_object_get_ex(preprocess, "features", &c->features);
    if (json_object_object_get_ex(preprocess, "target", &target) && target != NULL)
        c->target = json_object_get_string(target);
    c->warnings = json_object_new_array();
    c->index = json_object_new_object();
    size_t nf = c->features ? json_object_array_length(c->features) : 0, nd = 0;
    const char **dropped = ml_preprocess_dropped(preprocess, &nd);
    c->feat = calloc(nf + 1, sizeof(*c->feat));
    const char **names = calloc(nf + nd + 1, sizeof(*names));
    json_object **descs = calloc(nf + 1, sizeof(*descs));
    if (dropped == NULL || c->feat == NULL || names == NULL || descs == NULL)
        abort();
    size_t named = 0;
    for (size_t j = 0; j < nf; j++) {
        json_object *f = json_object_array_get_idx(c->features, j), *name;
        if (json_object_object_get_ex(f, "name", &name)) {
            descs[named] = f;
            names[named++] = json_object_get_string(name);
        }
    }
    /* A name given twice (never written by the engine) counts once. */
    keyorder_t *all = keyorder_new(names, named);
    if (all == NULL)
        abort();
    for (size_t j = 0; j < named; j++) {
        if (keyorder_find(all, SIZE_MAX, names[j]) != (long)j)
            continue;
        feature_t *ft = &c->feat[c->n_features];
        ft->name = names[c->n_features++] = names[j];
        ft->desc = descs[j];
        json_object *kind = NULL, *levels;
        json_object_object_get_ex(ft->desc, "kind", &kind);
        if (kind != NULL && strcmp(json_object_get_string(kind), "category") == 0) {
            /* Only categories get a set: it also says which fields are. */
            ft->levels = json_object_new_object();
            size_t nl = json_object_object_get_ex(ft->desc, "levels", &levels)
                            ? json_object_array_length(levels) : 0;
            for (size_t i = 0; i < nl; i++)
                json_object_object_add(
                    ft->levels, json_object_get_string(json_object_array_get_idx(levels, i)),
                    NULL);
        }
    }
    keyorder_free(all);
    /* The training columns the model dropped come after its fields: a row
     * that carries them (the training table's own columns) is not told
     * they are unknown. */
    memcpy(names + c->n_features, dropped, nd * sizeof(*names));
    c->keys = keyorder_new(names, c->n_features + nd);
    free(dropped);
    free(names);
    free(descs);
    if (c->keys == NULL)
        abort();
    return c;
}

void predict_check_free(predict_check_t *c)
{
    if (c == NULL)
        return;
    keyorder_free(c->keys);
    for (size_t j = 0; j < c->n_features; j++)
        json_object_put(c->feat[j].levels);
    json_object_put(c->warnings);
    json_object_put(c->index);
    free(c->feat);
    free(c);
}

void predict_check_reset(predict_check_t *c)
{
    if (json_object_array_length(c->warnings) == 0)
        return;
    json_object_put(c->warnings);
    json_object_put(c->index);
    c->warnings = json_object_new_array();
    c->index = json_object_new_object();
}

json_object *predict_check_warnings(const predict_check_t *c)
{
    return c->warnings;
}

/* One finding about one row: aggregated, and/or refused, and/or told. */
typedef struct finding_sink {
    predict_check_t *c;
    size_t row;
    int aggregate;
    int strict;
    err_t *e;
    int refused;
    char *text;              /* per-row text, or NULL */
    size_t text_cap, text_len;
    size_t found;
} finding_sink_t;

static void note(finding_sink_t *s, const char *code, const char *field, const char *value,
                 const char *message)
{
    s->found++;
    if (s->text != NULL && s->text_len < s->text_cap) {
        int k = snprintf(s->text + s->text_len, s->text_cap - s->text_len, "%s%s %s%s%s",
                         s->text_len ? "; " : "", code, field, value ? "=" : "",
                         value ? value : "");
        s->text_len += k > 0 ? (size_t)k : 0;
        if (s->text_len >= s->text_cap)
            s->text_len = s->text_cap - 1;
    }
    if (s->strict && s->refused < ERR_MAX_ITEMS) {
        char loc[400];
        snprintf(loc, sizeof(loc), "body/data/%zu/%.300s", s->row, field);
        err_add(s->e, 422, code, loc, "%s%s%s", message, value ? ": " : "", value ? value : "");
        s->refused++;
    }
    if (!s->aggregate)
        return;
    predict_check_t *c = s->c;
    char key[600];
    snprintf(key, sizeof(key), "%s\x1f%.250s\x1f%.250s", code, field, value ? value : "");
    json_object *w = NULL;
    if (!json_object_object_get_ex(c->index, key, &w)) {
        if (json_object_array_length(c->warnings) >= PREDICT_CHECK_MAX)
            return;
        w = json_object_new_object();
        json_object_object_add(w, "code", json_object_new_string(code));
        json_object_object_add(w, "field", json_object_new_string(field));
        if (value != NULL)
            json_object_object_add(w, "value", json_object_new_string(value));
        json_object_object_add(w, "count", json_object_new_int64(0));
        json_object_object_add(w, "rows", json_object_new_array());
        json_object_object_add(w, "message", json_object_new_string(message));
        json_object_array_add(c->warnings, w);
        json_object_object_add(c->index, key, json_object_get(w));
    }
    json_object *count, *rows;
    json_object_object_get_ex(w, "count", &count);
    json_object_object_get_ex(w, "rows", &rows);
    json_object_set_int64(count, json_object_get_int64(count) + 1);
    if (json_object_array_length(rows) < ROWS_KEPT)
        json_object_array_add(rows, json_object_new_int64((int64_t)s->row));
}

/* The text a category value is matched by (as ml/model.c reads it): a
 * string trimmed of spaces and tabs, a boolean as true/false, a number as
 * json-c prints it. NULL for objects and arrays (the engine refuses them). */
static const char *category_text(json_object *v, char *buf, size_t n)
{
    switch (json_object_get_type(v)) {
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        if (len == 0 || (s[0] != ' ' && s[0] != '\t' && s[len - 1] != ' ' && s[len - 1] != '\t'))
            return s; /* the common case: nothing to trim, no copy */
        while (len > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        snprintf(buf, n, "%.*s", (int)len, s);
        return buf;
    }
    case json_type_boolean:
        return json_object_get_boolean(v) ? "true" : "false";
    case json_type_int:
    case json_type_double:
        snprintf(buf, n, "%s", json_object_get_string(v));
        return buf;
    default:
        return NULL;
    }
}

/* True if text is a level the model knows in this category field. */
static int level_known(feature_t *ft, const char *text)
{
    for (unsigned i = 0; i < RECENT_LEVELS; i++)
        if (ft->recent[i] != NULL && strcmp(ft->recent[i], text) == 0)
            return 1;
    struct lh_entry *en = lh_table_lookup_entry(json_object_get_object(ft->levels), text);
    if (en == NULL)
        return 0;
    ft->recent[ft->next_recent++ % RECENT_LEVELS] = (const char *)lh_entry_k(en);
    return 1;
}

static void check_row(finding_sink_t *s, json_object *row)
{
    predict_check_t *c = s->c;
    if (!json_object_is_type(row, json_type_object))
        return;
    size_t seen = 0; /* the model's fields among the row's (keys are unique) */
    size_t k = 0;
    json_object_object_foreach(row, key, val) {
        long j = keyorder_find(c->keys, k++, key);
        if (j < 0) {
            if (c->target == NULL || strcmp(key, c->target) != 0)
                note(s, "unknown_field", key, NULL,
                     "the model has no such field; the value was ignored");
            continue;
        }
        if ((size_t)j >= c->n_features)
            continue; /* a training column the model dropped */
        feature_t *ft = &c->feat[j];
        seen++;
        if (val == NULL || ft->levels == NULL)
            continue; /* missing, or not a category */
        char buf[512];
        const char *text = category_text(val, buf, sizeof(buf));
        if (text == NULL || level_known(ft, text) || csv_cell_is_missing(text, strlen(text)))
            continue;
        json_object *other = NULL;
        json_object_object_get_ex(ft->desc, "other", &other);
        note(s, "unseen_level", key, text,
             json_object_get_boolean(other)
                 ? "a level not seen in training (or too rare to keep); predicted as the "
                   "model's \"other\" level"
                 : "a level not seen in training; predicted as a missing value");
    }
    if (seen == c->n_features)
        return; /* every field the model reads is there */
    for (size_t j = 0; j < c->n_features; j++)
        if (!json_object_object_get_ex(row, c->feat[j].name, NULL))
            note(s, "missing_field", c->feat[j].name, NULL,
                 "a field the model reads is absent; predicted as a missing value");
}

int predict_check_rows(predict_check_t *c, json_object *rows, size_t first_row, int strict,
                       err_t *e)
{
    return predict_check_rows_marked(c, rows, NULL, first_row, strict, e);
}

int predict_check_rows_marked(predict_check_t *c, json_object *rows, const unsigned char *marked,
                              size_t first_row, int strict, err_t *e)
{
    finding_sink_t s = {.c = c, .aggregate = 1, .strict = strict, .e = e};
    size_t n = json_object_is_type(rows, json_type_array) ? json_object_array_length(rows) : 0;
    for (size_t i = 0; i < n; i++) {
        if (marked != NULL && !marked[i])
            continue;
        s.row = first_row + i;
        check_row(&s, json_object_array_get_idx(rows, i));
    }
    return s.refused > 0 ? -1 : 0;
}

size_t predict_check_row_text(predict_check_t *c, json_object *row, char *buf, size_t n)
{
    finding_sink_t s = {.c = c, .text = buf, .text_cap = n};
    if (n > 0)
        buf[0] = '\0';
    check_row(&s, row);
    return s.found;
}
