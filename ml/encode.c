/*
 * encode.c — feature plan, field rows, linear expansion and the preprocess
 * JSON (see encode.h).
 *
 * Level order is by count, ties by first sight, so the same data always
 * gives the same codes (part of the seed-determinism guarantee).
 *
 * A linear model's means and scales are written so that they parse back to
 * the very doubles training used: the programs print doubles with 15
 * significant digits (json-c's global format), which moves a mean like
 * 1000000.1234567891 by up to 5e-10 and, after standardising, the last bits
 * of a float32 input; the API, the download and the scorers would then
 * agree with each other but not with the model as trained.
 */
#include "ml/encode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/num.h"

static void feature_free(enc_feature_t *f)
{
    free(f->name);
    for (size_t i = 0; i < f->n_levels; i++)
        free(f->levels[i]);
    free(f->levels);
    free(f->map);
}

void enc_plan_free(enc_plan_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        feature_free(&p->f[i]);
    free(p->f);
    memset(p, 0, sizeof(*p));
}

static int is_ignored(json_object *ignore, const char *name)
{
    size_t n = ignore && json_object_is_type(ignore, json_type_array)
                   ? json_object_array_length(ignore) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(ignore, i));
        if (s && strcmp(s, name) == 0)
            return 1;
    }
    return 0;
}

/* drop_reason for a number column of a spilled dataset (ml/spill.h): the
 * same two checks from the facts gathered as its pages were written. A
 * column typed a number by the client after its pages were written as
 * levels has no such facts and is kept. */
static const char *spilled_number_drop(const ml_data_t *d, size_t col)
{
    const spill_numstats_t *st = spill_numstats(d->spill, col);
    if (!st->valid)
        return NULL;
    if (st->n == 0 || st->lo == st->hi)
        return "constant";
    err_t e;
    err_clear(&e);
    return spill_is_sequence(d->spill, &d->cols[col], col, &e) == 1
               ? "id-like: an integer sequence, unique per row" : NULL;
}

/* NULL if the column is usable, else the reason it is dropped. */
static const char *drop_reason(const column_t *c, csv_type_t t, size_t rows)
{
    if (t == CSV_NUMBER) {
        size_t n = 0;
        int all_int = 1;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < c->n; i++) {
            float v = c->vals[i];
            if (isnan(v))
                continue;
            n++;
            if (v != floorf(v))
                all_int = 0;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (n == 0 || lo == hi)
            return "constant";
        if (!all_int || n != rows || rows < 3 || (double)hi - (double)lo != (double)(rows - 1))
            return NULL;
        float *tmp = malloc(n * sizeof(*tmp));
        if (tmp == NULL)
            return NULL;
        memcpy(tmp, c->vals, n * sizeof(*tmp));
        qsort(tmp, n, sizeof(*tmp), num_cmp_float);
        int seq = 1;
        for (size_t i = 1; i < n && seq; i++)
            if (tmp[i] != tmp[i - 1] + 1.0f)
                seq = 0;
        free(tmp);
        return seq ? "id-like: an integer sequence, unique per row" : NULL;
    }
    unsigned long long nonmissing = c->n_numeric + c->n_text;
    if (c->dict.n + (c->n_overflow ? 1 : 0) <= 1)
        return "constant";
    if (t == CSV_BOOLEAN)
        return NULL;
    int all_unique = 1;
    for (size_t i = 0; i < c->dict.n && all_unique; i++)
        if (c->dict.e[i].count > 1)
            all_unique = 0;
    if (all_unique && (nonmissing == rows || c->n_overflow > 0))
        return "id-like: unique per row";
    return NULL;
}

typedef struct level_ref {
    size_t id;
    unsigned long long count;
} level_ref_t;

static int cmp_level(const void *a, const void *b)
{
    const level_ref_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

static int build_levels(enc_feature_t *f, const column_t *c, err_t *e)
{
    size_t n = c->dict.n;
    level_ref_t *refs = malloc((n ? n : 1) * sizeof(*refs));
    f->map = malloc((n ? n : 1) * sizeof(*f->map));
    if (refs == NULL || f->map == NULL) {
        free(refs);
        return err_set(e, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (level_ref_t){i, c->dict.e[i].count};
    qsort(refs, n, sizeof(*refs), cmp_level);
    size_t kept = 0;
    while (kept < n && kept < ENC_MAX_LEVELS && refs[kept].count >= 2)
        kept++;
    f->levels = calloc(kept ? kept : 1, sizeof(*f->levels));
    if (f->levels == NULL) {
        free(refs);
        return err_set(e, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        f->map[i] = (uint32_t)kept;
    for (size_t k = 0; k < kept; k++) {
        f->levels[k] = strdup(dict_text(&c->dict, refs[k].id));
        f->map[refs[k].id] = (uint32_t)k;
    }
    f->n_levels = kept;
    f->other = kept < n || c->n_overflow > 0;
    free(refs);
    return 0;
}

static void add_drop(json_object *dropped, const char *field, const char *reason)
{
    if (dropped == NULL)
        return;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "field", json_object_new_string(field));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_array_add(dropped, o);
}

int enc_plan_build(enc_plan_t *p, const ml_data_t *d, size_t target, json_object *ignore,
                   json_object *dropped, err_t *e)
{
    memset(p, 0, sizeof(*p));
    p->f = calloc(d->n_cols ? d->n_cols : 1, sizeof(*p->f));
    if (p->f == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t i = 0; i < d->n_cols; i++) {
        if (i == target)
            continue;
        if (is_ignored(ignore, d->names[i])) {
            add_drop(dropped, d->names[i], "ignored");
            continue;
        }
        const column_t *c = &d->cols[i];
        const char *why = d->spill != NULL && d->types[i] == CSV_NUMBER
                              ? spilled_number_drop(d, i)
                              : drop_reason(c, d->types[i], d->n_rows);
        if (why != NULL) {
            add_drop(dropped, d->names[i], why);
            continue;
        }
        enc_feature_t *f = &p->f[p->n];
        f->name = strdup(d->names[i]);
        f->col = i;
        f->scale = 1.0;
        if (d->types[i] == CSV_NUMBER) {
            f->kind = ENC_NUMBER;
        } else if (d->types[i] == CSV_BOOLEAN) {
            f->kind = ENC_BOOLEAN;
            f->map = malloc(c->dict.n * sizeof(*f->map));
            if (f->map == NULL)
                return err_set(e, 500, "internal", "out of memory");
            for (size_t k = 0; k < c->dict.n; k++)
                f->map[k] = (uint32_t)num_bool_word(dict_text(&c->dict, k), c->dict.e[k].len);
        } else {
            f->kind = ENC_CATEGORY;
            if (build_levels(f, c, e) < 0) {
                p->n++;
                return -1;
            }
            if (f->n_levels == 0) {
                feature_free(f);
                memset(f, 0, sizeof(*f));
                add_drop(dropped, d->names[i], "high cardinality: no level repeats");
                continue;
            }
        }
        p->n++;
    }
    p->width = p->n;
    return 0;
}

void enc_fill_rows(const enc_plan_t *p, const ml_data_t *d, const size_t *rows, size_t n,
                   float *out)
{
    size_t w = p->n;
    for (size_t j = 0; j < w; j++) {
        const enc_feature_t *f = &p->f[j];
        const column_t *c = &d->cols[f->col];
        if (!c->is_codes) {
            for (size_t i = 0; i < n; i++)
                out[i * w + j] = c->vals[rows[i]];
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t code = column_code(c, rows[i]);
            float v;
            if (code == COL_MISSING)
                v = NAN;
            else if (code == COL_OVERFLOW)
                v = f->kind == ENC_CATEGORY && f->other ? (float)f->n_levels : NAN;
            else
                v = (float)f->map[code];
            out[i * w + j] = v;
        }
    }
}

#define IMPUTE_SAMPLE 8192

/* The median of column j's non-missing values, among IMPUTE_SAMPLE rows
 * spread evenly over n (all of them when n is smaller); 0 when none. */
static double column_median(const enc_plan_t *p, const float *F, size_t n, size_t j,
                            float *buf)
{
    size_t step = n > IMPUTE_SAMPLE ? (n + IMPUTE_SAMPLE - 1) / IMPUTE_SAMPLE : 1, m = 0;
    for (size_t i = 0; i < n; i += step)
        if (!isnan(F[i * p->n + j]))
            buf[m++] = F[i * p->n + j];
    if (m == 0)
        return 0.0;
    qsort(buf, m, sizeof(*buf), num_cmp_float);
    return m % 2 ? buf[m / 2] : ((double)buf[m / 2 - 1] + (double)buf[m / 2]) / 2.0;
}

/* What the linear model reads of a number's value (double, as the
 * standardisation computes): log1p of it, below 0 read as 0, when marked. */
static double linear_value(const enc_feature_t *f, double v)
{
    return f->log1p ? log1p(v > 0 ? v : 0.0) : v;
}

/* Whether column j's training values are all >= 0 and right-skewed. */
static int skewed_non_negative(const enc_plan_t *p, const float *F, size_t n, size_t j)
{
    double s = 0, lo = INFINITY;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        float v = F[i * p->n + j];
        if (isnan(v))
            continue;
        s += v;
        lo = v < lo ? v : lo;
        k++;
    }
    if (k < 3 || lo < 0)
        return 0;
    double mean = s / (double)k, m2 = 0, m3 = 0;
    for (size_t i = 0; i < n; i++) {
        float v = F[i * p->n + j];
        if (isnan(v))
            continue;
        double d = v - mean;
        m2 += d * d;
        m3 += d * d * d;
    }
    m2 /= (double)k;
    m3 /= (double)k;
    return m2 > 1e-12 && m3 / (m2 * sqrt(m2)) > ENC_LOG_SKEW;
}

size_t enc_fit_linear(enc_plan_t *p, const float *F, size_t n, int log_skewed)
{
    float *buf = malloc((IMPUTE_SAMPLE + 1) * sizeof(*buf));
    size_t marked = 0;
    for (size_t j = 0; j < p->n; j++) {
        enc_feature_t *f = &p->f[j];
        f->mean = 0.0;
        f->scale = 1.0;
        f->imputed = 0;
        f->log1p = 0;
        if (f->kind == ENC_CATEGORY)
            continue;
        if (log_skewed && f->kind == ENC_NUMBER && skewed_non_negative(p, F, n, j)) {
            f->log1p = 1;
            marked++;
        }
        double s = 0, s2 = 0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            float v = F[i * p->n + j];
            if (isnan(v))
                continue;
            double x = linear_value(f, v);
            s += x;
            s2 += x * x;
            k++;
        }
        if (k == 0)
            continue;
        f->mean = s / (double)k;
        double var = s2 / (double)k - f->mean * f->mean;
        f->scale = var > 1e-12 ? sqrt(var) : 1.0;
        if (f->kind == ENC_NUMBER && buf != NULL) {
            /* In the field's own units: a missing value then goes through
             * the same reading (log1p) as a present one. */
            f->impute = column_median(p, F, n, j, buf);
            f->imputed = 1;
        }
    }
    free(buf);
    return marked;
}

int enc_plan_transforms(const enc_plan_t *p)
{
    for (size_t j = 0; j < p->n; j++)
        if (p->f[j].log1p)
            return 1;
    return 0;
}

size_t enc_linear_width(const enc_plan_t *p)
{
    size_t w = 0;
    for (size_t j = 0; j < p->n; j++)
        w += p->f[j].kind == ENC_CATEGORY ? p->f[j].n_levels + (p->f[j].other ? 1 : 0) : 1;
    return w;
}

void enc_expand_linear(const enc_plan_t *p, const float *frow, float *out)
{
    size_t o = 0;
    for (size_t j = 0; j < p->n; j++) {
        const enc_feature_t *f = &p->f[j];
        float v = frow[j];
        if (f->kind != ENC_CATEGORY) {
            if (isnan(v))
                out[o++] = f->imputed ? (float)((linear_value(f, f->impute) - f->mean) / f->scale)
                                      : 0.0f;
            else
                out[o++] = (float)((linear_value(f, v) - f->mean) / f->scale);
            continue;
        }
        size_t k = f->n_levels + (f->other ? 1 : 0);
        memset(out + o, 0, k * sizeof(*out));
        if (!isnan(v) && v >= 0 && (size_t)v < k)
            out[o + (size_t)v] = 1.0f;
        o += k;
    }
}

void enc_names_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char *dup_printf(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s=%s", a, b);
    return s;
}

int enc_feature_info(const enc_plan_t *p, char ***names, char ***types, size_t *n)
{
    size_t w = p->linear ? enc_linear_width(p) : p->n;
    char **nm = calloc(w ? w : 1, sizeof(*nm));
    char **ty = calloc(w ? w : 1, sizeof(*ty));
    if (nm == NULL || ty == NULL) {
        free(nm);
        free(ty);
        return -1;
    }
    size_t o = 0;
    for (size_t j = 0; j < p->n; j++) {
        const enc_feature_t *f = &p->f[j];
        if (!p->linear || f->kind != ENC_CATEGORY) {
            nm[o] = strdup(f->name);
            ty[o++] = strdup(!p->linear && f->kind == ENC_CATEGORY ? "c" : "q");
            continue;
        }
        for (size_t k = 0; k < f->n_levels; k++) {
            nm[o] = dup_printf(f->name, f->levels[k]);
            ty[o++] = strdup("q");
        }
        if (f->other) {
            nm[o] = dup_printf(f->name, "(other)");
            ty[o++] = strdup("q");
        }
    }
    *names = nm;
    *types = ty;
    *n = w;
    return 0;
}

json_object *enc_exact_double(double v)
{
    char buf[40];
    if (!isfinite(v))
        return json_object_new_double(v);
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof(buf), "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return json_object_new_double_s(v, buf);
}

static const char *kind_name(enc_kind_t k)
{
    return k == ENC_NUMBER ? "number" : k == ENC_BOOLEAN ? "boolean" : "category";
}

json_object *enc_plan_to_json(const enc_plan_t *p)
{
    json_object *arr = json_object_new_array();
    for (size_t j = 0; j < p->n; j++) {
        const enc_feature_t *f = &p->f[j];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(f->name));
        json_object_object_add(o, "kind", json_object_new_string(kind_name(f->kind)));
        if (f->kind == ENC_CATEGORY) {
            json_object *lv = json_object_new_array();
            for (size_t k = 0; k < f->n_levels; k++)
                json_object_array_add(lv, json_object_new_string(f->levels[k]));
            json_object_object_add(o, "levels", lv);
            json_object_object_add(o, "other", json_object_new_boolean(f->other));
        } else if (p->linear) {
            json_object_object_add(o, "mean", enc_exact_double(f->mean));
            json_object_object_add(o, "scale", enc_exact_double(f->scale));
            if (f->imputed)
                json_object_object_add(o, "impute", enc_exact_double(f->impute));
            if (f->log1p)
                json_object_object_add(o, "transform", json_object_new_string("log1p"));
        }
        json_object_array_add(arr, o);
    }
    return arr;
}

int enc_plan_from_json(enc_plan_t *p, json_object *features, int linear, err_t *e)
{
    memset(p, 0, sizeof(*p));
    if (!json_object_is_type(features, json_type_array))
        return err_set(e, 500, "model_invalid", "preprocess has no features");
    size_t n = json_object_array_length(features);
    p->f = calloc(n ? n : 1, sizeof(*p->f));
    if (p->f == NULL)
        return err_set(e, 500, "internal", "out of memory");
    p->linear = linear;
    for (size_t j = 0; j < n; j++) {
        json_object *o = json_object_array_get_idx(features, j), *v;
        enc_feature_t *f = &p->f[p->n++];
        f->scale = 1.0;
        if (!json_object_object_get_ex(o, "name", &v) || !json_object_is_type(v, json_type_string))
            return err_set(e, 500, "model_invalid", "preprocess feature %zu has no name", j);
        f->name = strdup(json_object_get_string(v));
        const char *kind = json_object_object_get_ex(o, "kind", &v) ? json_object_get_string(v) : "";
        if (strcmp(kind, "number") == 0) {
            f->kind = ENC_NUMBER;
        } else if (strcmp(kind, "boolean") == 0) {
            f->kind = ENC_BOOLEAN;
        } else if (strcmp(kind, "category") == 0) {
            f->kind = ENC_CATEGORY;
            json_object *lv;
            if (!json_object_object_get_ex(o, "levels", &lv) ||
                !json_object_is_type(lv, json_type_array))
                return err_set(e, 500, "model_invalid", "preprocess feature %zu has no levels", j);
            size_t k = json_object_array_length(lv);
            f->levels = calloc(k ? k : 1, sizeof(*f->levels));
            for (size_t i = 0; i < k; i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(lv, i));
                f->levels[f->n_levels++] = strdup(s ? s : "");
            }
            f->other = json_object_object_get_ex(o, "other", &v) && json_object_get_boolean(v);
        } else {
            return err_set(e, 500, "model_invalid", "preprocess feature %zu has kind \"%s\"", j,
                           kind);
        }
        if (json_object_object_get_ex(o, "mean", &v))
            f->mean = json_object_get_double(v);
        if (json_object_object_get_ex(o, "scale", &v))
            f->scale = json_object_get_double(v);
        if (f->kind == ENC_NUMBER && json_object_object_get_ex(o, "impute", &v) &&
            (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))) {
            f->impute = json_object_get_double(v);
            f->imputed = isfinite(f->impute);
        }
        if (!(f->scale > 0) || !isfinite(f->scale))
            f->scale = 1.0;
        if (json_object_object_get_ex(o, "transform", &v)) {
            const char *t = json_object_get_string(v);
            if (!linear || f->kind != ENC_NUMBER || t == NULL || strcmp(t, "log1p") != 0)
                return err_set(e, 500, "model_invalid",
                               "preprocess feature %zu has transform \"%s\" (only a linear "
                               "model's number may have \"log1p\")", j, t ? t : "");
            f->log1p = 1;
        }
    }
    p->width = linear ? enc_linear_width(p) : p->n;
    return 0;
}

int enc_value_from_text(const enc_feature_t *f, const char *p, size_t n, float *out)
{
    p = num_trim(p, n, &n);
    if (csv_cell_is_missing(p, n)) {
        *out = NAN;
        return 0;
    }
    if (f->kind == ENC_NUMBER)
        return num_parse_float(p, n, out) ? 0 : -1;
    if (f->kind == ENC_BOOLEAN) {
        int b = num_bool_word(p, n);
        if (b < 0) {
            float v;
            if (!num_parse_float(p, n, &v) || (v != 0.0f && v != 1.0f))
                return -1;
            b = v == 1.0f;
        }
        *out = (float)b;
        return 0;
    }
    for (size_t k = 0; k < f->n_levels; k++)
        if (strlen(f->levels[k]) == n && memcmp(f->levels[k], p, n) == 0) {
            *out = (float)k;
            return 0;
        }
    *out = f->other ? (float)f->n_levels : NAN;
    return 0;
}

int enc_plan_copy(const enc_plan_t *src, enc_plan_t *dst, int linear, err_t *e)
{
    json_object *j = enc_plan_to_json(src);
    int rc = enc_plan_from_json(dst, j, linear, e);
    json_object_put(j);
    return rc;
}
