/*
 * column.c — typed column storage and the type rule (see column.h).
 *
 * The type rule, in order: no non-numeric cell -> number; only the words
 * true/false/yes/no -> boolean; more than COL_DICT_CAP distinct texts ->
 * string; at most 20 distinct texts, or at most one distinct text per two
 * non-missing cells -> category; otherwise string (free text, ids).
 * Numeric cells of a mixed column count as cells but not as levels, so the
 * rule depends only on counters both modes keep identically.
 */
#include "ml/column.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/num.h"

void column_init(column_t *c, int store)
{
    memset(c, 0, sizeof(*c));
    dict_init(&c->dict);
    c->store = store;
}

void column_free(column_t *c)
{
    dict_free(&c->dict);
    free(c->vals);
    free(c->codes);
    memset(c, 0, sizeof(*c));
}

static int grow(column_t *c, err_t *e)
{
    size_t cap = c->cap ? c->cap * 2 : 1024;
    if (c->is_codes) {
        uint32_t *nc = realloc(c->codes, cap * sizeof(*nc));
        if (nc == NULL)
            return err_set(e, 500, "internal", "out of memory");
        c->codes = nc;
    } else {
        float *nv = realloc(c->vals, cap * sizeof(*nv));
        if (nv == NULL)
            return err_set(e, 500, "internal", "out of memory");
        c->vals = nv;
    }
    c->cap = cap;
    return 0;
}

static uint32_t intern(column_t *c, const char *p, size_t n, int flag, err_t *e, int *fail)
{
    if (c->dict.n >= COL_DICT_CAP && dict_find(&c->dict, p, n) < 0) {
        if (!flag)
            c->n_overflow++;
        return COL_OVERFLOW;
    }
    long id = dict_intern(&c->dict, p, n, flag);
    if (id < 0) {
        *fail = 1;
        err_set(e, 500, "internal", "out of memory");
        return COL_MISSING;
    }
    return (uint32_t)id;
}

/* The first text cell: turn the floats stored so far into codes. */
static int switch_to_codes(column_t *c, err_t *e)
{
    uint32_t *codes = malloc((c->cap ? c->cap : 1) * sizeof(*codes));
    if (codes == NULL)
        return err_set(e, 500, "internal", "out of memory");
    int fail = 0;
    for (size_t i = 0; i < c->n && !fail; i++) {
        if (isnan(c->vals[i])) {
            codes[i] = COL_MISSING;
            continue;
        }
        char buf[32];
        int k = num_format_float(c->vals[i], buf, sizeof(buf));
        codes[i] = intern(c, buf, (size_t)k, 1, e, &fail);
    }
    free(c->vals);
    c->vals = NULL;
    c->codes = codes;
    c->is_codes = 1;
    return fail ? -1 : 0;
}

int column_add(column_t *c, const char *p, size_t n, err_t *e)
{
    p = num_trim(p, n, &n);
    int missing = csv_cell_is_missing(p, n);
    float v = NAN;
    int numeric = !missing && num_parse_float(p, n, &v);
    if (missing)
        c->n_missing++;
    else if (numeric)
        c->n_numeric++;
    else
        c->n_text++;
    if (!c->store) {
        if (!missing && !numeric) {
            int fail = 0;
            intern(c, p, n, 0, e, &fail);
            if (fail)
                return -1;
        }
        return 0;
    }
    if (!missing && !numeric && !c->is_codes && switch_to_codes(c, e) < 0)
        return -1;
    if (c->n == c->cap && grow(c, e) < 0)
        return -1;
    if (!c->is_codes) {
        c->vals[c->n++] = missing ? NAN : v;
        return 0;
    }
    int fail = 0;
    uint32_t code = missing ? COL_MISSING : intern(c, p, n, numeric, e, &fail);
    if (fail)
        return -1;
    c->codes[c->n++] = code;
    return 0;
}

csv_type_t column_type(const column_t *c)
{
    unsigned long long nonmissing = c->n_numeric + c->n_text;
    if (c->n_text == 0)
        return CSV_NUMBER;
    size_t distinct = 0;
    int all_bool = c->n_numeric == 0 && c->n_overflow == 0;
    for (size_t i = 0; i < c->dict.n; i++) {
        if (c->dict.e[i].flag)
            continue;
        distinct++;
        if (all_bool && num_bool_word(dict_text(&c->dict, i), c->dict.e[i].len) < 0)
            all_bool = 0;
    }
    if (all_bool)
        return CSV_BOOLEAN;
    if (c->n_overflow > 0)
        return CSV_STRING;
    if (distinct <= 20 || distinct * 2 <= nonmissing)
        return CSV_CATEGORY;
    return CSV_STRING;
}
