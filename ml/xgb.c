/*
 * xgb.c — XGBoost C API wrapper (see xgb.h).
 *
 * The linear weights are read from the model's JSON form
 * (learner.gradient_booster.model.weights) because the C API has no call
 * for them; that is the one place the saved format is parsed here.
 */
#include "ml/xgb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <xgboost/c_api.h>

static int xfail(err_t *e, const char *what)
{
    return err_set(e, 500, "xgboost", "%s: %s", what, XGBGetLastError());
}

int xgb_dmatrix_new(const float *X, size_t n, size_t w, char *const *names, char *const *types,
                    const float *label, const float *weight, void **out, err_t *e)
{
    DMatrixHandle d = NULL;
    *out = NULL;
    if (XGDMatrixCreateFromMat_omp(X, (bst_ulong)n, (bst_ulong)w, NAN, &d, 2) != 0)
        return xfail(e, "create matrix");
    if ((names && XGDMatrixSetStrFeatureInfo(d, "feature_name", (const char **)names,
                                             (bst_ulong)w) != 0) ||
        (types && XGDMatrixSetStrFeatureInfo(d, "feature_type", (const char **)types,
                                             (bst_ulong)w) != 0) ||
        (label && XGDMatrixSetFloatInfo(d, "label", label, (bst_ulong)n) != 0) ||
        (weight && XGDMatrixSetFloatInfo(d, "weight", weight, (bst_ulong)n) != 0)) {
        xfail(e, "matrix info");
        XGDMatrixFree(d);
        return -1;
    }
    *out = d;
    return 0;
}

void xgb_dmatrix_free(void *d)
{
    if (d)
        XGDMatrixFree(d);
}

int xgb_booster_new(void *const *dmats, size_t nd, void **out, err_t *e)
{
    BoosterHandle b = NULL;
    if (XGBoosterCreate((const DMatrixHandle *)dmats, (bst_ulong)nd, &b) != 0)
        return xfail(e, "create booster");
    *out = b;
    return 0;
}

void xgb_booster_free(void *b)
{
    if (b)
        XGBoosterFree(b);
}

int xgb_booster_param(void *b, const char *name, const char *value, err_t *e)
{
    if (XGBoosterSetParam(b, name, value) != 0)
        return xfail(e, name);
    return 0;
}

int xgb_booster_features(void *b, char *const *names, char *const *types, size_t n, err_t *e)
{
    if (XGBoosterSetStrFeatureInfo(b, "feature_name", (const char **)names, (bst_ulong)n) != 0 ||
        XGBoosterSetStrFeatureInfo(b, "feature_type", (const char **)types, (bst_ulong)n) != 0)
        return xfail(e, "booster feature info");
    return 0;
}

int xgb_booster_update(void *b, int iter, void *dtrain, err_t *e)
{
    if (XGBoosterUpdateOneIter(b, iter, dtrain) != 0)
        return xfail(e, "boosting round");
    return 0;
}

int xgb_booster_eval(void *b, int iter, void *d, double *value, err_t *e)
{
    const char *names[1] = {"valid"};
    DMatrixHandle mats[1] = {d};
    const char *txt = NULL;
    if (XGBoosterEvalOneIter(b, iter, mats, names, 1, &txt) != 0)
        return xfail(e, "evaluate");
    const char *colon = txt ? strchr(txt, ':') : NULL;
    if (colon == NULL)
        return err_set(e, 500, "xgboost", "evaluate: unexpected output");
    *value = strtod(colon + 1, NULL);
    return 0;
}

static int copy_out(const float *res, const bst_ulong *shape, bst_ulong dim, float **out,
                    size_t *len, err_t *e)
{
    size_t n = 1;
    for (bst_ulong i = 0; i < dim; i++)
        n *= (size_t)shape[i];
    *out = malloc((n ? n : 1) * sizeof(float));
    if (*out == NULL)
        return err_set(e, 500, "internal", "out of memory");
    memcpy(*out, res, n * sizeof(float));
    *len = n;
    return 0;
}

int xgb_predict_dmatrix(void *b, void *d, int iter_end, float **out, size_t *len, err_t *e)
{
    char cfg[160];
    snprintf(cfg, sizeof(cfg),
             "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":%d,"
             "\"strict_shape\":false}", iter_end);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDMatrix(b, d, cfg, &shape, &dim, &res) != 0)
        return xfail(e, "predict");
    return copy_out(res, shape, dim, out, len, e);
}

int xgb_predict_dense(void *b, const float *X, size_t n, size_t w, float **out, size_t *len,
                      err_t *e)
{
    char arr[200];
    snprintf(arr, sizeof(arr),
             "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
             (unsigned long long)(uintptr_t)X, n, w);
    const char *cfg = "{\"type\":0,\"training\":false,\"iteration_begin\":0,"
                      "\"iteration_end\":0,\"strict_shape\":false,\"cache_id\":0,"
                      "\"missing\":NaN}";
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDense(b, arr, cfg, NULL, &shape, &dim, &res) != 0)
        return xfail(e, "predict");
    return copy_out(res, shape, dim, out, len, e);
}

int xgb_booster_save(void *b, void **buf, size_t *len, err_t *e)
{
    bst_ulong n = 0;
    const char *p = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\":\"ubj\"}", &n, &p) != 0)
        return xfail(e, "save model");
    *buf = malloc(n ? n : 1);
    if (*buf == NULL)
        return err_set(e, 500, "internal", "out of memory");
    memcpy(*buf, p, n); /* the buffer is thread-local and reused: copy now */
    *len = n;
    return 0;
}

int xgb_booster_load(const void *buf, size_t len, void **out, err_t *e)
{
    BoosterHandle b = NULL;
    *out = NULL;
    if (XGBoosterCreate(NULL, 0, &b) != 0)
        return xfail(e, "create booster");
    if (XGBoosterLoadModelFromBuffer(b, buf, (bst_ulong)len) != 0) {
        xfail(e, "load model");
        XGBoosterFree(b);
        return -1;
    }
    *out = b;
    return 0;
}

int xgb_booster_slice(void *b, int end, void **out, err_t *e)
{
    BoosterHandle s = NULL;
    if (XGBoosterSlice(b, 0, end, 1, &s) != 0)
        return xfail(e, "slice model");
    *out = s;
    return 0;
}

int xgb_booster_gain(void *b, char ***names, float **scores, size_t *n, err_t *e)
{
    bst_ulong nf = 0, dim = 0;
    const char **fn = NULL;
    const bst_ulong *shape = NULL;
    const float *sc = NULL;
    *names = NULL;
    *scores = NULL;
    *n = 0;
    if (XGBoosterFeatureScore(b, "{\"importance_type\":\"total_gain\"}", &nf, &fn, &dim, &shape,
                              &sc) != 0)
        return xfail(e, "feature score");
    size_t cols = 1;
    for (bst_ulong i = 1; i < dim; i++)
        cols *= (size_t)shape[i];
    char **nm = calloc(nf ? nf : 1, sizeof(*nm));
    float *s = calloc(nf ? nf : 1, sizeof(*s));
    if (nm == NULL || s == NULL) {
        free(nm);
        free(s);
        return err_set(e, 500, "internal", "out of memory");
    }
    for (bst_ulong i = 0; i < nf; i++) {
        nm[i] = strdup(fn[i]);
        for (size_t j = 0; j < cols; j++)
            s[i] += sc[i * cols + j];
    }
    *names = nm;
    *scores = s;
    *n = nf;
    return 0;
}

int xgb_linear_weights(void *b, size_t n_features, size_t n_groups, float **w, err_t *e)
{
    bst_ulong len = 0;
    const char *p = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\":\"json\"}", &len, &p) != 0)
        return xfail(e, "save model");
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, p, (int)len);
    json_tokener_free(tok);
    json_object *lrn, *gb, *model, *wt;
    if (root == NULL || !json_object_object_get_ex(root, "learner", &lrn) ||
        !json_object_object_get_ex(lrn, "gradient_booster", &gb) ||
        !json_object_object_get_ex(gb, "model", &model) ||
        !json_object_object_get_ex(model, "weights", &wt) ||
        json_object_array_length(wt) != (n_features + 1) * n_groups) {
        json_object_put(root);
        return err_set(e, 500, "xgboost", "linear model has no weights");
    }
    size_t n = (n_features + 1) * n_groups;
    *w = malloc(n * sizeof(float));
    if (*w == NULL) {
        json_object_put(root);
        return err_set(e, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        (*w)[i] = (float)json_object_get_double(json_object_array_get_idx(wt, i));
    json_object_put(root);
    return 0;
}
