/*
 * scoring.c — plan + booster -> predictions (see scoring.h). Uses XGBoost's
 * in-place prediction from dense rows, which skips building a DMatrix.
 */
#include "ml/scoring.h"

#include <math.h>
#include <stdlib.h>

#include "ml/xgb.h"

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

int scoring_predict(const enc_plan_t *p, void *booster, ml_task_t task, size_t k, const float *F,
                    size_t n, float **out, err_t *e)
{
    *out = NULL;
    const float *X = F;
    float *tmp = NULL;
    size_t w = p->n;
    if (p->linear) {
        w = enc_linear_width(p);
        tmp = malloc((n * w + 1) * sizeof(*tmp));
        if (tmp == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < n; i++)
            enc_expand_linear(p, F + i * p->n, tmp + i * w);
        X = tmp;
    }
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
    } else {
        rc = xgb_predict_dense(booster, X, n, w, &raw, &len, e);
    }
    free(tmp);
    if (rc < 0)
        return -1;
    size_t want = task == TASK_MULTICLASS ? n * k : n;
    if (len != want) {
        free(raw);
        return err_set(e, 500, "model_invalid", "model output has %zu values, expected %zu", len,
                       want);
    }
    if (task == TASK_REGRESSION && p->target_log1p)
        for (size_t i = 0; i < n; i++)
            raw[i] = expm1f(raw[i]);
    *out = scoring_normalise(raw, n, task, k);
    if (*out == NULL)
        return err_set(e, 500, "internal", "out of memory");
    return 0;
}
