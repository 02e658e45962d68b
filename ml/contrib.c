/*
 * contrib.c — TreeSHAP contributions per user field (see contrib.h).
 *
 * Tree models are explained by ml/treeshap.c, which computes the same
 * values as XGBoost's pred_contribs in one pass per tree instead of one
 * path unwinding per leaf and feature (the 1,000-row benchmark went from
 * 8x a plain prediction to well within 3x). Its forest is read once per
 * model and kept in the model's contrib_cache, with the bias (constant
 * per output group: the base margin plus every tree's cover-weighted mean)
 * taken from XGBoost on one row. Before the cache is trusted, XGBoost and
 * treeshap.c explain the first rows of the first batch and must agree
 * within 1e-4; a model they disagree on, or one treeshap.c declines
 * (gblinear, dart), is explained by XGBoost itself every time.
 *
 * Through XGBoost, contributions need a DMatrix (it has no in-place call
 * for them): the field rows go in as they do for training, with the
 * feature names and types the booster was trained with, so categorical
 * splits read the level codes the same way. The linear model's rows are
 * expanded first, as scoring.c does for predictions.
 */
#include "ml/contrib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/treeshap.h"
#include "ml/xgb.h"

#define PROBE_ROWS 4
#define PROBE_TOL 1e-4

struct contrib_cache {
    treeshap_t *ts;     /* NULL: XGBoost explains this model */
    float *bias;        /* per group */
};

void contrib_cache_free(contrib_cache_t *c)
{
    if (c == NULL)
        return;
    treeshap_free(c->ts);
    free(c->bias);
    free(c);
}

size_t contrib_cache_bytes(const contrib_cache_t *c)
{
    return c == NULL ? 0 : sizeof(*c) + treeshap_bytes(c->ts);
}

int contrib_cache_fast(const contrib_cache_t *c)
{
    return c != NULL && c->ts != NULL;
}

void contrib_fold(const enc_plan_t *p, const float *raw, size_t width, float *out)
{
    size_t o = 0;
    for (size_t j = 0; j < p->n; j++) {
        size_t cols = 1;
        if (p->linear && p->f[j].kind == ENC_CATEGORY)
            cols = p->f[j].n_levels + (p->f[j].other ? 1 : 0);
        double s = 0;
        for (size_t c = 0; c < cols && o < width; c++)
            s += raw[o++];
        out[j] = (float)s;
    }
    out[p->n] = raw[width]; /* the bias */
}

/* XGBoost's contributions per booster input: n x groups x (w + 1). */
static int xgb_contribs(const enc_plan_t *p, void *booster, size_t groups, const float *F,
                        size_t n, float **raw_out, size_t *w_out, err_t *e)
{
    *raw_out = NULL;
    size_t w = p->linear ? enc_linear_width(p) : p->n;
    *w_out = w;
    const float *X = F;
    float *tmp = NULL;
    if (p->linear) {
        tmp = malloc((n * w + 1) * sizeof(*tmp));
        if (tmp == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < n; i++)
            enc_expand_linear(p, F + i * p->n, tmp + i * w);
        X = tmp;
    }
    char **names = NULL, **types = NULL;
    size_t nn = 0;
    void *d = NULL;
    float *raw = NULL;
    size_t len = 0;
    int rc = -1;
    if (enc_feature_info(p, &names, &types, &nn) != 0 || nn != w) {
        err_set(e, 500, "model_invalid", "feature info does not match the model's inputs");
        goto out;
    }
    if (xgb_dmatrix_new(X, n, w, names, types, NULL, NULL, &d, e) != 0)
        goto out;
    if (xgb_predict_contribs(booster, d, &raw, &len, e) != 0)
        goto out;
    if (len != n * groups * (w + 1)) {
        err_set(e, 500, "model_invalid", "contributions have %zu values, expected %zu", len,
                n * groups * (w + 1));
        goto out;
    }
    *raw_out = raw;
    raw = NULL;
    rc = 0;
out:
    free(raw);
    xgb_dmatrix_free(d);
    enc_names_free(names, nn);
    enc_names_free(types, nn);
    free(tmp);
    return rc;
}

/* Builds the cache from the first rows of F (see the top of the file). */
static int cache_build(const enc_plan_t *p, void *booster, size_t groups, const float *F,
                       size_t n, contrib_cache_t **out, err_t *e)
{
    contrib_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return err_set(e, 500, "internal", "out of memory");
    *out = c;
    if (p->linear)
        return 0;
    treeshap_t *ts = NULL;
    int r = treeshap_build(booster, p->n, groups, &ts, e);
    if (r < 0)
        return -1;
    if (r > 0)
        return 0;
    /* Probe: the batch's first rows and a row of missing values. */
    size_t k = n < PROBE_ROWS ? n : PROBE_ROWS, np = k + 1, stride = p->n + 1;
    float *X = malloc(np * p->n * sizeof(*X) + 1);
    float *ours = calloc(np * groups * stride, sizeof(*ours));
    float *theirs = NULL;
    size_t w = 0;
    int rc = -1;
    if (X == NULL || ours == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto done;
    }
    memcpy(X, F, k * p->n * sizeof(*X));
    for (size_t j = 0; j < p->n; j++)
        X[k * p->n + j] = NAN;
    if (xgb_contribs(p, booster, groups, X, np, &theirs, &w, e) < 0)
        goto done;
    treeshap_rows(ts, X, np, ours);
    c->bias = malloc(groups * sizeof(*c->bias));
    if (c->bias == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto done;
    }
    for (size_t g = 0; g < groups; g++)
        c->bias[g] = theirs[(k * groups + g) * stride + p->n];
    int agree = 1;
    for (size_t i = 0; i < np * groups && agree; i++)
        for (size_t j = 0; j < p->n; j++) {
            double a = ours[i * stride + j], b = theirs[i * stride + j];
            if (!(fabs(a - b) <= PROBE_TOL * (1 + fabs(b))))
                agree = 0;
        }
    if (agree) {
        c->ts = ts;
        ts = NULL;
    }
    rc = 0;
done:
    treeshap_free(ts);
    free(X);
    free(ours);
    free(theirs);
    return rc;
}

int contrib_fields(const enc_plan_t *p, void *booster, size_t groups, contrib_cache_t **cache,
                   const float *F, size_t n, float **out, err_t *e)
{
    *out = NULL;
    contrib_cache_t *own = NULL;
    if (cache == NULL)
        cache = &own;
    if (*cache == NULL && cache_build(p, booster, groups, F, n, cache, e) < 0) {
        contrib_cache_free(*cache);
        *cache = NULL;
        return -1;
    }
    contrib_cache_t *c = *cache;
    size_t stride = p->n + 1;
    int rc = -1;
    if (c->ts != NULL) {
        float *res = calloc(n * groups * stride + 1, sizeof(*res));
        if (res == NULL) {
            err_set(e, 500, "internal", "out of memory");
            goto out;
        }
        treeshap_rows(c->ts, F, n, res);
        for (size_t i = 0; i < n * groups; i++)
            res[i * stride + p->n] = c->bias[i % groups];
        *out = res;
        rc = 0;
        goto out;
    }
    float *raw = NULL;
    size_t w = 0;
    if (xgb_contribs(p, booster, groups, F, n, &raw, &w, e) < 0)
        goto out;
    float *res = malloc((n * groups * stride + 1) * sizeof(*res));
    if (res == NULL) {
        free(raw);
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n * groups; i++)
        contrib_fold(p, raw + i * (w + 1), w, res + i * stride);
    free(raw);
    *out = res;
    rc = 0;
out:
    contrib_cache_free(own);
    return rc;
}
