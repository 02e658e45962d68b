/*
 * column.c — typed column storage and the type rule (see column.h).
 *
 * The type rule, in order: no non-numeric cell -> number; only the words
 * true/false/yes/no -> boolean; more than COL_DICT_CAP distinct texts ->
 * string; at most 20 distinct texts, or at most one distinct text per two
 * non-missing cells -> category; otherwise string (free text, ids).
 * "Distinct" is column_distinct(): exact, or the HyperLogLog estimate past
 * COL_EXACT_DISTINCT, in both modes alike.
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
    free(c->hll);
    free(c->vals);
    free(c->codes);
    memset(c, 0, sizeof(*c));
}

static int grow(column_t *c, err_t *e)
{
    size_t cap = c->cap ? c->cap * 2 : 1024;
    if (c->is_codes) {
        void *nc = realloc(c->codes, cap * c->code_bytes);
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

/* --- distinct counting ---------------------------------------------------- */

#define HLL_BITS 12
#define HLL_M (1u << HLL_BITS)

/* h is dict_hash() of the text: its top bits pick the register. */
static void hll_add(uint8_t *reg, uint64_t h)
{
    uint32_t idx = (uint32_t)(h >> (64 - HLL_BITS));
    uint64_t rest = (h << HLL_BITS) | (1ULL << (HLL_BITS - 1));
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > reg[idx])
        reg[idx] = rank;
}

/* A new distinct text: count it, and past the exact range feed the sketch
 * (seeded with every text seen so far when it is created). */
static int note_text(column_t *c, uint64_t h, err_t *e)
{
    c->n_texts++;
    if (c->hll == NULL && c->n_texts >= COL_EXACT_DISTINCT) {
        c->hll = calloc(HLL_M, 1);
        if (c->hll == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < c->dict.n; i++)
            if (!c->dict.e[i].flag)
                hll_add(c->hll, dict_hash(dict_text(&c->dict, i), c->dict.e[i].len));
        return 0; /* the text itself was interned, so it is in the seed */
    }
    if (c->hll != NULL)
        hll_add(c->hll, h);
    return 0;
}

double column_distinct(const column_t *c)
{
    if (c->hll == NULL)
        return (double)c->n_texts;
    double sum = 0;
    unsigned zeros = 0;
    for (uint32_t i = 0; i < HLL_M; i++) {
        sum += ldexp(1.0, -(int)c->hll[i]);
        zeros += c->hll[i] == 0;
    }
    double m = HLL_M, alpha = 0.7213 / (1.0 + 1.079 / m);
    double est = alpha * m * m / sum;
    if (est <= 2.5 * m && zeros > 0)
        est = m * log(m / (double)zeros); /* small-range correction */
    return est;
}

static uint32_t intern(column_t *c, const char *p, size_t n, int flag, err_t *e, int *fail)
{
    uint64_t h = dict_hash(p, n); /* once, for the table and the sketch */
    if (!c->store && c->n_texts >= COL_EXACT_DISTINCT) {
        /* Inference past the exact range: known texts are free, new ones
         * only feed the sketch (it may count a repeat again: harmless). */
        if (dict_find_hashed(&c->dict, p, n, h) < 0) {
            c->n_spilled++;
            hll_add(c->hll, h);
        }
        return COL_OVERFLOW;
    }
    if (c->dict.n >= COL_DICT_CAP && dict_find_hashed(&c->dict, p, n, h) < 0) {
        if (!flag) {
            c->n_overflow++;
            if (c->hll != NULL)
                hll_add(c->hll, h); /* keep the estimate in step with inference */
        }
        return COL_OVERFLOW;
    }
    size_t before = c->dict.n;
    long id = dict_intern_hashed(&c->dict, p, n, h, flag);
    if (id < 0) {
        *fail = 1;
        err_set(e, 500, "internal", "out of memory");
        return COL_MISSING;
    }
    if (c->dict.n > before && !flag && note_text(c, h, e) != 0) {
        *fail = 1;
        return COL_MISSING;
    }
    return (uint32_t)id;
}

/* --- code storage (column_code() in column.h reads it) ------------------ */

static unsigned code_width(uint32_t code)
{
    return code >= COL_OVERFLOW ? 1 : code < 0xFEu ? 1 : code < 0xFFFEu ? 2 : 4;
}

static void code_put(column_t *c, size_t i, uint32_t code)
{
    if (c->code_bytes == 4) {
        ((uint32_t *)c->codes)[i] = code;
        return;
    }
    uint32_t top = c->code_bytes == 1 ? 0xFFu : 0xFFFFu;
    uint32_t v = code >= COL_OVERFLOW ? top - (COL_MISSING - code) : code;
    if (c->code_bytes == 1)
        ((uint8_t *)c->codes)[i] = (uint8_t)v;
    else
        ((uint16_t *)c->codes)[i] = (uint16_t)v;
}

/* Row n is about to get code: widen the stored codes first if it does not
 * fit. Converting from the last row down never overwrites a row not yet
 * read (each new slot starts at or past its old one). */
static int code_fit(column_t *c, uint32_t code, err_t *e)
{
    unsigned w = code_width(code);
    if (w <= c->code_bytes)
        return 0;
    void *nc = realloc(c->codes, (c->cap ? c->cap : 1) * w);
    if (nc == NULL)
        return err_set(e, 500, "internal", "out of memory");
    column_t old = *c;
    old.codes = nc;
    c->codes = nc;
    c->code_bytes = w;
    for (size_t i = c->n; i-- > 0;)
        code_put(c, i, column_code(&old, i));
    return 0;
}

/* The first text cell: turn the floats stored so far into codes. */
static int switch_to_codes(column_t *c, err_t *e)
{
    float *vals = c->vals;
    size_t n = c->n;
    c->codes = malloc(c->cap ? c->cap : 1);
    if (c->codes == NULL)
        return err_set(e, 500, "internal", "out of memory");
    c->vals = NULL;
    c->is_codes = 1;
    c->code_bytes = 1;
    c->n = 0;
    int fail = 0;
    for (size_t i = 0; i < n && !fail; i++) {
        uint32_t code = COL_MISSING;
        if (!isnan(vals[i])) {
            char buf[32];
            int k = num_format_float(vals[i], buf, sizeof(buf));
            code = intern(c, buf, (size_t)k, 1, e, &fail);
        }
        if (!fail && code_fit(c, code, e) < 0)
            fail = 1;
        if (!fail)
            code_put(c, c->n++, code);
    }
    c->n = n;
    free(vals);
    return fail ? -1 : 0;
}

int column_to_codes(column_t *c, err_t *e)
{
    return c->is_codes || !c->store ? 0 : switch_to_codes(c, e);
}

int column_to_numbers(column_t *c, err_t *e)
{
    if (!c->is_codes || !c->store)
        return 0;
    float *vals = malloc((c->cap ? c->cap : 1) * sizeof(*vals));
    if (vals == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t i = 0; i < c->n; i++) {
        uint32_t code = column_code(c, i);
        float v = NAN;
        if (code < COL_OVERFLOW) {
            const char *t = dict_text(&c->dict, code);
            if (!num_parse_float(t, c->dict.e[code].len, &v))
                v = NAN;
        }
        vals[i] = v;
    }
    free(c->codes);
    c->codes = NULL;
    c->code_bytes = 0;
    c->is_codes = 0;
    c->vals = vals;
    return 0;
}

int column_add(column_t *c, const char *p, size_t n, err_t *e)
{
    p = num_trim(p, n, &n);
    /* Every missing word (NA, N/A, NaN, null, None) starts with an n. */
    int missing = n == 0 || (n <= 4 && (p[0] | 0x20) == 'n' && csv_cell_is_missing(p, n));
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
    if (fail || code_fit(c, code, e) < 0)
        return -1;
    code_put(c, c->n++, code);
    return 0;
}

csv_type_t column_type(const column_t *c)
{
    unsigned long long nonmissing = c->n_numeric + c->n_text;
    if (c->n_text == 0)
        return CSV_NUMBER;
    int all_bool = c->n_numeric == 0 && c->hll == NULL;
    for (size_t i = 0; i < c->dict.n && all_bool; i++) {
        if (!c->dict.e[i].flag &&
            num_bool_word(dict_text(&c->dict, i), c->dict.e[i].len) < 0)
            all_bool = 0;
    }
    if (all_bool)
        return CSV_BOOLEAN;
    double distinct = column_distinct(c);
    if (distinct > COL_DICT_CAP)
        return CSV_STRING;
    if (distinct <= 20 || distinct * 2 <= (double)nonmissing)
        return CSV_CATEGORY;
    return CSV_STRING;
}
