/*
 * linpart.c — a blend's linear member served as a dot product (linpart.h).
 *
 * Margins are summed in double, column by column in the expanded input's
 * order, starting from the bias: the Python scorer repeats that order, so
 * both sides give the same doubles before the float output.
 */
#include "ml/linpart.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/linfit.h"
#include "ml/search.h"
#include "ml/xgb.h"

void linpart_free(linpart_t *l)
{
    if (l == NULL)
        return;
    enc_plan_free(&l->plan);
    free(l->coef);
    free(l->mean);
    free(l);
}

static linpart_t *alloc_part(size_t width, size_t g, double weight)
{
    linpart_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->width = width;
    l->g = g;
    l->weight = weight;
    l->coef = calloc((width + 1) * g, sizeof(*l->coef));
    l->mean = calloc(width + 1, sizeof(*l->mean));
    if (l->coef == NULL || l->mean == NULL) {
        linpart_free(l);
        return NULL;
    }
    return l;
}

int linpart_new(const enc_plan_t *plan, const double *coef, size_t g, double weight,
                const float *X, size_t n, linpart_t **out, err_t *e)
{
    size_t w = enc_linear_width(plan);
    linpart_t *l = alloc_part(w, g, weight);
    *out = NULL;
    if (l == NULL)
        return err_set(e, 500, "internal", "out of memory");
    if (enc_plan_copy(plan, &l->plan, 1, e) < 0) {
        linpart_free(l);
        return -1;
    }
    memcpy(l->coef, coef, (w + 1) * g * sizeof(*coef));
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < w; c++)
            l->mean[c] += X[i * w + c];
    for (size_t c = 0; c < w && n > 0; c++)
        l->mean[c] /= (double)n;
    *out = l;
    return 0;
}

json_object *linpart_to_json(const linpart_t *l)
{
    char **names = NULL, **types = NULL;
    size_t nf = 0;
    if (enc_feature_info(&l->plan, &names, &types, &nf) < 0 || nf != l->width) {
        enc_names_free(names, nf);
        enc_names_free(types, nf);
        return NULL;
    }
    json_object *o = json_object_new_object();
    json_object *cols = json_object_new_array(), *coef = json_object_new_array();
    json_object *means = json_object_new_array();
    json_object_object_add(o, "inputs", enc_plan_to_json(&l->plan));
    for (size_t j = 0; j <= l->width; j++) {
        json_object_array_add(cols, json_object_new_string(j < l->width ? names[j] : "(bias)"));
        json_object *row = json_object_new_array();
        for (size_t c = 0; c < l->g; c++)
            json_object_array_add(row, enc_exact_double(l->coef[j * l->g + c]));
        json_object_array_add(coef, row);
        if (j < l->width)
            json_object_array_add(means, enc_exact_double(l->mean[j]));
    }
    json_object_object_add(o, "columns", cols);
    json_object_object_add(o, "coefficients", coef);
    json_object_object_add(o, "means", means);
    enc_names_free(names, nf);
    enc_names_free(types, nf);
    return o;
}

/* A JSON array of n numbers into v; -1 if it is not one. */
static int numbers(json_object *a, size_t n, double *v)
{
    if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(a, i);
        if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int))
            return -1;
        v[i] = json_object_get_double(x);
        if (!isfinite(v[i]))
            return -1;
    }
    return 0;
}

int linpart_from_json(json_object *o, double weight, const enc_plan_t *fields, size_t g,
                      linpart_t **out, err_t *e)
{
    *out = NULL;
    json_object *inputs, *coef, *means;
    if (!json_object_object_get_ex(o, "inputs", &inputs) ||
        !json_object_object_get_ex(o, "coefficients", &coef) ||
        !json_object_object_get_ex(o, "means", &means) ||
        !json_object_is_type(coef, json_type_array))
        return err_set(e, 500, "model_invalid",
                       "the ensemble's linear member lacks inputs, coefficients or means");
    enc_plan_t plan;
    if (enc_plan_from_json(&plan, inputs, 1, e) < 0) {
        enc_plan_free(&plan);
        return -1;
    }
    int same = plan.n == fields->n;
    for (size_t j = 0; same && j < plan.n; j++)
        same = strcmp(plan.f[j].name, fields->f[j].name) == 0;
    size_t w = enc_linear_width(&plan);
    linpart_t *l = same && json_object_array_length(coef) == w + 1 ? alloc_part(w, g, weight)
                                                                    : NULL;
    int ok = l != NULL && numbers(means, w, l->mean) == 0;
    for (size_t j = 0; ok && j <= w; j++)
        ok = numbers(json_object_array_get_idx(coef, j), g, l->coef + j * g) == 0;
    if (!ok) {
        enc_plan_free(&plan);
        linpart_free(l);
        return err_set(e, 500, "model_invalid",
                       "the ensemble's linear member does not fit the model's fields");
    }
    l->plan = plan;
    *out = l;
    return 0;
}

/* Expanded input of one field row into x; then margins in z (g). */
static void row_margins(const linpart_t *l, const float *frow, float *x, double *z)
{
    enc_expand_linear(&l->plan, frow, x);
    for (size_t c = 0; c < l->g; c++) {
        double acc = l->coef[l->width * l->g + c];
        for (size_t j = 0; j < l->width; j++)
            acc += (double)x[j] * l->coef[j * l->g + c];
        z[c] = acc;
    }
}

int linpart_add_margin(const linpart_t *l, const float *F, size_t n, double *margin)
{
    float *x = malloc((l->width + 1) * sizeof(*x));
    double *z = malloc(l->g * sizeof(*z));
    int rc = x && z ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        row_margins(l, F + i * l->plan.n, x, z);
        for (size_t c = 0; c < l->g; c++)
            margin[i * l->g + c] += l->weight * z[c];
    }
    free(x);
    free(z);
    return rc;
}

int linpart_add_contrib(const linpart_t *l, const float *F, size_t n, float *ct)
{
    size_t p = l->plan.n, stride = p + 1;
    float *x = malloc((l->width + 1) * sizeof(*x));
    double *base = calloc(l->g, sizeof(*base));
    if (x == NULL || base == NULL) {
        free(x);
        free(base);
        return -1;
    }
    for (size_t c = 0; c < l->g; c++) {
        base[c] = l->coef[l->width * l->g + c];
        for (size_t j = 0; j < l->width; j++)
            base[c] += l->mean[j] * l->coef[j * l->g + c];
    }
    for (size_t i = 0; i < n; i++) {
        enc_expand_linear(&l->plan, F + i * p, x);
        for (size_t c = 0; c < l->g; c++) {
            float *row = ct + (i * l->g + c) * stride;
            size_t o = 0;
            for (size_t f = 0; f < p; f++) {
                const enc_feature_t *ft = &l->plan.f[f];
                size_t cols = ft->kind == ENC_CATEGORY ? ft->n_levels + (ft->other ? 1 : 0) : 1;
                double s = 0;
                for (size_t k = 0; k < cols; k++, o++)
                    s += ((double)x[o] - l->mean[o]) * l->coef[o * l->g + c];
                row[f] += (float)(l->weight * s);
            }
            row[p] += (float)(l->weight * base[c]);
        }
    }
    free(x);
    free(base);
    return 0;
}

int linpart_add_importance(const linpart_t *l, float *share)
{
    size_t p = l->plan.n, o = 0;
    double total = 0, *s = calloc(p + 1, sizeof(*s));
    if (s == NULL)
        return -1;
    for (size_t f = 0; f < p; f++) {
        const enc_feature_t *ft = &l->plan.f[f];
        size_t cols = ft->kind == ENC_CATEGORY ? ft->n_levels + (ft->other ? 1 : 0) : 1;
        for (size_t k = 0; k < cols; k++, o++)
            for (size_t c = 0; c < l->g; c++)
                s[f] += fabs(l->coef[o * l->g + c]);
        total += s[f];
    }
    for (size_t f = 0; f < p; f++)
        share[f] += (float)(l->weight * (total > 0 ? s[f] / total : 1.0 / (double)p));
    free(s);
    return 0;
}

int linpart_member_file(const linpart_t *l, ml_task_t task, size_t k, void **out, size_t *len,
                        err_t *e)
{
    /* A one-round gblinear booster on one zero row gives the model's shape
     * and config; its weights are then replaced by the coefficients. */
    char **names = NULL, **types = NULL;
    size_t nf = 0;
    void *d = NULL, *b = NULL, *lb = NULL;
    float *X = calloc(l->width + 1, sizeof(*X)), y = 0;
    int rc = -1;
    *out = NULL;
    if (X == NULL)
        return err_set(e, 500, "internal", "out of memory");
    if (enc_feature_info(&l->plan, &names, &types, &nf) < 0) {
        free(X);
        return err_set(e, 500, "internal", "out of memory");
    }
    if (xgb_dmatrix_new(X, 1, l->width, names, types, &y, NULL, &d, e) < 0 ||
        xgb_booster_new(&d, 1, &b, e) < 0 ||
        search_params_set(b, task, k, 0, "1", 0, NULL, e) < 0 ||
        xgb_booster_param(b, "booster", "gblinear", e) < 0 ||
        xgb_booster_features(b, names, types, nf, e) < 0 || xgb_booster_update(b, 0, d, e) < 0 ||
        xgb_linear_with_weights(b, l->coef, l->width, l->g, &lb, e) < 0 ||
        xgb_booster_save(lb, out, len, e) < 0)
        goto out;
    rc = 0;
out:
    xgb_booster_free(lb);
    xgb_booster_free(b);
    xgb_dmatrix_free(d);
    enc_names_free(names, nf);
    enc_names_free(types, nf);
    free(X);
    return rc;
}
