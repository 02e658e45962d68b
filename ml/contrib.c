/*
 * contrib.c — TreeSHAP contributions per user field (see contrib.h).
 *
 * Contributions need a DMatrix (XGBoost has no in-place call for them):
 * the field rows go in as they do for training, with the feature names
 * and types the booster was trained with, so categorical splits read the
 * level codes the same way. The linear model's rows are expanded first,
 * as scoring.c does for predictions. Cost: TreeSHAP is O(trees x leaves x
 * depth^2) per row against O(trees x depth) for a prediction; the API
 * answers both from one worker with nthread = 1 (model.c).
 */
#include "ml/contrib.h"

#include <stdlib.h>
#include <string.h>

#include "ml/xgb.h"

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

int contrib_fields(const enc_plan_t *p, void *booster, size_t groups, const float *F, size_t n,
                   float **out, err_t *e)
{
    *out = NULL;
    size_t w = p->linear ? enc_linear_width(p) : p->n;
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
    float *res = malloc((n * groups * (p->n + 1) + 1) * sizeof(*res));
    if (res == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n * groups; i++)
        contrib_fold(p, raw + i * (w + 1), w, res + i * (p->n + 1));
    *out = res;
    rc = 0;
out:
    free(raw);
    xgb_dmatrix_free(d);
    enc_names_free(names, nn);
    enc_names_free(types, nn);
    free(tmp);
    return rc;
}
