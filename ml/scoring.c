/*
 * scoring.c — plan + booster -> predictions (see scoring.h). Uses XGBoost's
 * in-place prediction from dense rows, which skips building a DMatrix.
 */
#include "ml/scoring.h"

#include <math.h>
#include <stdlib.h>

#include "ml/linpart.h"
#include "ml/treeshap.h"
#include "ml/xgb.h"

float scoring_expm1(float v)
{
    return (float)expm1((double)v);
}

const char *ml_task_name(ml_task_t t)
{
    return t == TASK_BINARY ? "binary" : t == TASK_MULTICLASS ? "multiclass" : "regression";
}

float *scoring_normalise(float *raw, size_t n, ml_task_t task, size_t k)
{
    if (task != TASK_BINARY || k != 2)
        return raw;
    float *p = malloc((n ? n : 1) * 2 * sizeof(*p));
    if (p == NULL) {
        free(raw);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = 1.0f - raw[i];
        p[2 * i + 1] = raw[i];
    }
    free(raw);
    return p;
}

void scoring_softmax(const double *z, size_t g, float *out)
{
    double mx = z[0], sum = 0;
    for (size_t c = 1; c < g; c++)
        mx = z[c] > mx ? z[c] : mx;
    for (size_t c = 0; c < g; c++)
        sum += exp(z[c] - mx);
    for (size_t c = 0; c < g; c++)
        out[c] = (float)(exp(z[c] - mx) / sum);
}

/* The trees' margins (len of them: n x groups) plus a blend's linear
 * member's, through the objective's link in double, into raw (floats). */
static int blend_linear(const linpart_t *lp, ml_task_t task, const float *F, size_t n,
                        float *raw, size_t len, err_t *e)
{
    size_t g = len / (n ? n : 1);
    if (g != lp->g)
        return err_set(e, 500, "model_invalid", "the linear member has %zu groups, the trees %zu",
                       lp->g, g);
    double *z = malloc((len + 1) * sizeof(*z));
    if (z == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t i = 0; i < len; i++)
        z[i] = raw[i];
    if (linpart_add_margin(lp, F, n, z) < 0) {
        free(z);
        return err_set(e, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        double *r = z + i * g;
        if (task == TASK_BINARY) {
            raw[i] = (float)(1.0 / (1.0 + exp(-r[0])));
        } else if (task == TASK_MULTICLASS) {
            scoring_softmax(r, g, raw + i * g);
        } else {
            raw[i] = (float)r[0];
        }
    }
    free(z);
    return 0;
}

/* The booster's output (margins when lp is given) to predictions: the
 * linear member and the link, the target transform, the class columns.
 * Takes raw. */
static int predict_finish(const enc_plan_t *p, const linpart_t *lp, ml_task_t task, size_t k,
                          const float *F, size_t n, float *raw, size_t len, float **out, err_t *e)
{
    size_t want = task == TASK_MULTICLASS ? n * k : n;
    if (len != want) {
        free(raw);
        return err_set(e, 500, "model_invalid", "model output has %zu values, expected %zu", len,
                       want);
    }
    if (lp != NULL && !p->linear && blend_linear(lp, task, F, n, raw, len, e) < 0) {
        free(raw);
        return -1;
    }
    if (task == TASK_REGRESSION && p->target_log1p)
        for (size_t i = 0; i < n; i++)
            raw[i] = scoring_expm1(raw[i]);
    *out = scoring_normalise(raw, n, task, k);
    if (*out == NULL)
        return err_set(e, 500, "internal", "out of memory");
    return 0;
}

/* The booster's input for field rows F: F itself, or a linear plan's
 * expansion into *tmp (malloc'd; the caller frees it). NULL out of memory. */
static const float *model_input(const enc_plan_t *p, const float *F, size_t n, float **tmp,
                                err_t *e)
{
    *tmp = NULL;
    if (!p->linear)
        return F;
    size_t w = enc_linear_width(p);
    *tmp = malloc((n * w + 1) * sizeof(**tmp));
    if (*tmp == NULL) {
        err_set(e, 500, "internal", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        enc_expand_linear(p, F + i * p->n, *tmp + i * w);
    return *tmp;
}

int scoring_predict(const enc_plan_t *p, void *booster, const linpart_t *lp, ml_task_t task,
                    size_t k, const float *F, size_t n, float **out, err_t *e)
{
    *out = NULL;
    size_t w = p->linear ? enc_linear_width(p) : p->n;
    float *tmp = NULL;
    const float *X = model_input(p, F, n, &tmp, e);
    if (X == NULL)
        return -1;
    float *raw = NULL;
    size_t len = 0;
    int rc;
    if (p->linear) {
        /* gblinear has no in-place prediction: go through a DMatrix. */
        void *d = NULL;
        rc = xgb_dmatrix_new(X, n, w, NULL, NULL, NULL, NULL, &d, e);
        if (rc == 0)
            rc = xgb_predict_dmatrix(booster, d, 0, &raw, &len, e);
        xgb_dmatrix_free(d);
    } else if (lp != NULL) {
        rc = xgb_predict_dense_margin(booster, X, n, w, &raw, &len, e);
    } else {
        rc = xgb_predict_dense(booster, X, n, w, &raw, &len, e);
    }
    free(tmp);
    if (rc < 0)
        return -1;
    return predict_finish(p, lp, task, k, F, n, raw, len, out, e);
}

/* XGBoost's PredTransform of its margins, in float as it computes them
 * (common::Sigmoid, common::Softmax), so a walked prediction is its
 * prediction bit for bit. */
static void xgb_transform(ml_task_t task, size_t g, float *raw, size_t n)
{
    for (size_t i = 0; task == TASK_BINARY && i < n; i++)
        raw[i] = 1.0f / (1.0f + expf(-raw[i]));
    for (size_t i = 0; task == TASK_MULTICLASS && i < n; i++) {
        float *z = raw + i * g, mx = z[0];
        for (size_t c = 1; c < g; c++)
            mx = fmaxf(z[c], mx);
        double sum = 0;
        for (size_t c = 0; c < g; c++) {
            z[c] = expf(z[c] - mx);
            sum += z[c];
        }
        for (size_t c = 0; c < g; c++)
            z[c] /= (float)sum;
    }
}

int scoring_predict_walked(const enc_plan_t *p, const treeshap_t *walker, const linpart_t *lp,
                           ml_task_t task, size_t k, const float *F, size_t n, float **out,
                           err_t *e)
{
    *out = NULL;
    size_t g = task == TASK_MULTICLASS ? k : 1, len = n * g;
    float *raw = malloc((len + 1) * sizeof(*raw)), *tmp = NULL;
    if (raw == NULL)
        return err_set(e, 500, "internal", "out of memory");
    const float *X = model_input(p, F, n, &tmp, e);
    if (X == NULL) {
        free(raw);
        return -1;
    }
    treeshap_margins(walker, X, n, raw);
    free(tmp);
    if (lp == NULL)
        xgb_transform(task, g, raw, n);
    return predict_finish(p, lp, task, k, F, n, raw, len, out, e);
}

