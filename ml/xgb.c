/*
 * xgb.c — XGBoost C API wrapper (see xgb.h).
 *
 * The linear weights are read from, and written into, the model's JSON
 * form (learner.gradient_booster.model.weights) because the C API has no
 * call for them; those are the only places the saved format is touched.
 * Quantised matrices are fed through XGBoost's data-iterator callbacks
 * (proxy DMatrix, batches of QBATCH rows), which is how they avoid a copy.
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

/* Feature names and types (either may be NULL) on a matrix or a proxy;
 * non-zero when XGBoost refused them (its error is then set). */
static int set_feature_info(DMatrixHandle d, char *const *names, char *const *types, size_t w)
{
    return (names && XGDMatrixSetStrFeatureInfo(d, "feature_name", (const char **)names,
                                                (bst_ulong)w) != 0) ||
           (types && XGDMatrixSetStrFeatureInfo(d, "feature_type", (const char **)types,
                                                (bst_ulong)w) != 0);
}

/* Hands a new matrix out with its feature info, or frees it. */
static int named_out(DMatrixHandle d, char *const *names, char *const *types, size_t w,
                     void **out, err_t *e)
{
    if (set_feature_info(d, names, types, w)) {
        xfail(e, "matrix info");
        XGDMatrixFree(d);
        return -1;
    }
    *out = d;
    return 0;
}

int xgb_dmatrix_new(const float *X, size_t n, size_t w, char *const *names, char *const *types,
                    const float *label, const float *weight, void **out, err_t *e)
{
    DMatrixHandle d = NULL;
    *out = NULL;
    if (XGDMatrixCreateFromMat_omp(X, (bst_ulong)n, (bst_ulong)w, NAN, &d, 2) != 0)
        return xfail(e, "create matrix");
    if (set_feature_info(d, names, types, w) ||
        (label && XGDMatrixSetFloatInfo(d, "label", label, (bst_ulong)n) != 0) ||
        (weight && XGDMatrixSetFloatInfo(d, "weight", weight, (bst_ulong)n) != 0)) {
        xfail(e, "matrix info");
        XGDMatrixFree(d);
        return -1;
    }
    *out = d;
    return 0;
}

int xgb_dmatrix_set_label(void *d, const float *y, size_t n, err_t *e)
{
    if (XGDMatrixSetFloatInfo(d, "label", y, (bst_ulong)n) != 0)
        return xfail(e, "set labels");
    return 0;
}

void xgb_dmatrix_free(void *d)
{
    if (d)
        XGDMatrixFree(d);
}

#define QBATCH 65536 /* rows per batch XGBoost reads while quantising */

typedef struct qiter {
    const xgb_rows_t *rows;
    DMatrixHandle proxy;
    size_t range, pos;
    float *buf;                /* QBATCH rows when they come from fill */
} qiter_t;

static void qiter_reset(DataIterHandle h)
{
    qiter_t *it = h;
    it->range = 0;
    it->pos = it->rows->begin[0];
}

static int qiter_next(DataIterHandle h)
{
    qiter_t *it = h;
    const xgb_rows_t *r = it->rows;
    while (it->range < r->n_ranges && it->pos >= r->end[it->range]) {
        it->range++;
        if (it->range < r->n_ranges)
            it->pos = r->begin[it->range];
    }
    if (it->range >= r->n_ranges)
        return 0;
    size_t a = it->pos, n = r->end[it->range] - a;
    n = n > QBATCH ? QBATCH : n;
    const float *X = r->X ? r->X + a * r->w : it->buf;
    if (r->X == NULL)
        r->fill(r->fill_ctx, a, n, it->buf);
    char arr[200];
    snprintf(arr, sizeof(arr),
             "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
             (unsigned long long)(uintptr_t)X, n, r->w);
    /* A failing setter leaves XGBoost's error set; returning 0 ends the
     * iteration and the create call reports a shape mismatch. */
    if (XGProxyDMatrixSetDataDense(it->proxy, arr) != 0 ||
        (r->label && XGDMatrixSetFloatInfo(it->proxy, "label", r->label + a, (bst_ulong)n) != 0) ||
        (r->weight &&
         XGDMatrixSetFloatInfo(it->proxy, "weight", r->weight + a, (bst_ulong)n) != 0) ||
        set_feature_info(it->proxy, r->names, r->types, r->w))
        return 0;
    it->pos = a + n;
    return 1;
}

int xgb_rows_dmatrix_new(const xgb_rows_t *rows, void **out, err_t *e)
{
    size_t n = 0, w = rows->w;
    for (size_t r = 0; r < rows->n_ranges; r++)
        n += rows->end[r] - rows->begin[r];
    if (rows->n_ranges == 1 && rows->X) {
        size_t a = rows->begin[0];
        return xgb_dmatrix_new(rows->X + a * w, n, w, rows->names, rows->types,
                               rows->label ? rows->label + a : NULL,
                               rows->weight ? rows->weight + a : NULL, out, e);
    }
    float *X = malloc((n * w + 1) * sizeof(float));
    float *y = rows->label ? malloc((n + 1) * sizeof(float)) : NULL;
    float *wt = rows->weight ? malloc((n + 1) * sizeof(float)) : NULL;
    int rc = -1;
    if (X == NULL || (rows->label && y == NULL) || (rows->weight && wt == NULL)) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    size_t o = 0;
    for (size_t r = 0; r < rows->n_ranges; r++) {
        size_t a = rows->begin[r], k = rows->end[r] - a;
        if (rows->X)
            memcpy(X + o * w, rows->X + a * w, k * w * sizeof(float));
        else
            rows->fill(rows->fill_ctx, a, k, X + o * w);
        if (y)
            memcpy(y + o, rows->label + a, k * sizeof(float));
        if (wt)
            memcpy(wt + o, rows->weight + a, k * sizeof(float));
        o += k;
    }
    rc = xgb_dmatrix_new(X, n, w, rows->names, rows->types, y, wt, out, e);
out:
    free(X);
    free(y);
    free(wt);
    return rc;
}

int xgb_qmatrix_new(const xgb_rows_t *rows, void *ref, void **out, err_t *e)
{
    qiter_t it = {.rows = rows};
    DMatrixHandle d = NULL;
    *out = NULL;
    if (rows->X == NULL && (it.buf = malloc(QBATCH * (rows->w ? rows->w : 1) * sizeof(float))) ==
                               NULL)
        return err_set(e, 500, "internal", "out of memory");
    if (XGProxyDMatrixCreate(&it.proxy) != 0) {
        free(it.buf);
        return xfail(e, "create proxy matrix");
    }
    qiter_reset(&it);
    int rc = XGQuantileDMatrixCreateFromCallback(&it, it.proxy, ref, qiter_reset, qiter_next,
                                                 "{\"missing\":NaN,\"nthread\":2}", &d);
    XGDMatrixFree(it.proxy);
    free(it.buf);
    if (rc != 0)
        return xfail(e, "create quantile matrix");
    /* Names and types also on the result (the proxy's travel with the
     * batches in 1.7, but saying it again costs nothing). */
    return named_out(d, rows->names, rows->types, rows->w, out, e);
}

typedef struct xiter {
    const xgb_batches_t *b;
    DMatrixHandle proxy;
} xiter_t;

static void xiter_reset(DataIterHandle h)
{
    xiter_t *it = h;
    it->b->reset(it->b->ctx);
}

static int xiter_next(DataIterHandle h)
{
    xiter_t *it = h;
    const xgb_batches_t *b = it->b;
    const float *X = NULL, *label = NULL;
    size_t n = 0;
    if (b->next(b->ctx, &X, &label, &n) != 1)
        return 0;
    char arr[200];
    snprintf(arr, sizeof(arr),
             "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
             (unsigned long long)(uintptr_t)X, n, b->w);
    if (XGProxyDMatrixSetDataDense(it->proxy, arr) != 0 ||
        (label && XGDMatrixSetFloatInfo(it->proxy, "label", label, (bst_ulong)n) != 0) ||
        set_feature_info(it->proxy, b->names, b->types, b->w))
        return 0;
    return 1;
}

int xgb_extmem_new(const xgb_batches_t *b, const char *cache_prefix, void **out, err_t *e)
{
    xiter_t it = {.b = b};
    DMatrixHandle d = NULL;
    *out = NULL;
    if (XGProxyDMatrixCreate(&it.proxy) != 0)
        return xfail(e, "create proxy matrix");
    json_object *prefix = json_object_new_string(cache_prefix); /* JSON-escaped below */
    char *cfg = NULL;
    if (asprintf(&cfg, "{\"missing\":NaN,\"nthread\":2,\"cache_prefix\":%s}",
                 json_object_to_json_string_ext(prefix, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
        cfg = NULL;
    json_object_put(prefix);
    if (cfg == NULL) {
        XGDMatrixFree(it.proxy);
        return err_set(e, 500, "internal", "out of memory");
    }
    int rc = XGDMatrixCreateFromCallback(&it, it.proxy, xiter_reset, xiter_next, cfg, &d);
    free(cfg);
    XGDMatrixFree(it.proxy);
    if (rc != 0)
        return xfail(e, "create external-memory matrix");
    return named_out(d, b->names, b->types, b->w, out, e);
}

int xgb_qmatrix_from_batches(const xgb_batches_t *b, int max_bin, void *ref, void **out,
                             err_t *e)
{
    xiter_t it = {.b = b};
    char cfg[96];
    snprintf(cfg, sizeof(cfg), "{\"missing\":NaN,\"nthread\":2,\"max_bin\":%d}", max_bin);
    DMatrixHandle d = NULL;
    *out = NULL;
    if (XGProxyDMatrixCreate(&it.proxy) != 0)
        return xfail(e, "create proxy matrix");
    int rc = XGQuantileDMatrixCreateFromCallback(&it, it.proxy, ref, xiter_reset, xiter_next,
                                                 cfg, &d);
    XGDMatrixFree(it.proxy);
    if (rc != 0)
        return xfail(e, "create quantile matrix");
    return named_out(d, b->names, b->types, b->w, out, e);
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

int xgb_predict_contribs(void *b, void *d, float **out, size_t *len, err_t *e)
{
    /* type 2: SHAP contributions (TreeSHAP for trees; weight x input for
     * gblinear), bias in the last column, margin units. */
    const char *cfg = "{\"type\":2,\"training\":false,\"iteration_begin\":0,"
                      "\"iteration_end\":0,\"strict_shape\":false}";
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDMatrix(b, d, cfg, &shape, &dim, &res) != 0)
        return xfail(e, "predict contributions");
    return copy_out(res, shape, dim, out, len, e);
}

/* type: 0 the objective's output, 1 margins. */
static int predict_dense(void *b, const float *X, size_t n, size_t w, int type, float **out,
                         size_t *len, err_t *e)
{
    char arr[200], cfg[200];
    snprintf(arr, sizeof(arr),
             "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
             (unsigned long long)(uintptr_t)X, n, w);
    snprintf(cfg, sizeof(cfg),
             "{\"type\":%d,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
             "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}",
             type);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDense(b, arr, cfg, NULL, &shape, &dim, &res) != 0)
        return xfail(e, "predict");
    return copy_out(res, shape, dim, out, len, e);
}

int xgb_predict_dense(void *b, const float *X, size_t n, size_t w, float **out, size_t *len,
                      err_t *e)
{
    return predict_dense(b, X, n, w, 0, out, len, e);
}

int xgb_predict_dense_margin(void *b, const float *X, size_t n, size_t w, float **out,
                             size_t *len, err_t *e)
{
    return predict_dense(b, X, n, w, 1, out, len, e);
}

int xgb_booster_save(void *b, void **buf, size_t *len, err_t *e)
{
    return xgb_booster_save_as(b, "ubj", buf, len, e);
}

int xgb_booster_save_as(void *b, const char *format, void **buf, size_t *len, err_t *e)
{
    bst_ulong n = 0;
    const char *p = NULL;
    char cfg[64];
    snprintf(cfg, sizeof(cfg), "{\"format\":\"%s\"}", format);
    if (XGBoosterSaveModelToBuffer(b, cfg, &n, &p) != 0)
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

int xgb_booster_slice_range(void *b, int begin, int end, void **out, err_t *e)
{
    BoosterHandle s = NULL;
    if (XGBoosterSlice(b, begin, end, 1, &s) != 0)
        return xfail(e, "slice model");
    *out = s;
    return 0;
}

int xgb_booster_trees_per_round(void *b, size_t *out, err_t *e)
{
    bst_ulong n = 0;
    const char *cfg = NULL;
    if (XGBoosterSaveJsonConfig(b, &n, &cfg) != 0)
        return xfail(e, "model config");
    /* The config is small (no trees): learner_model_param.num_class,
     * times num_parallel_tree (always 1 here, 0 classes = 1 output). */
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, cfg, (int)n) : NULL;
    json_tokener_free(tok);
    json_object *lrn, *mp, *nc;
    long k = 0;
    if (root && json_object_object_get_ex(root, "learner", &lrn) &&
        json_object_object_get_ex(lrn, "learner_model_param", &mp) &&
        json_object_object_get_ex(mp, "num_class", &nc))
        k = strtol(json_object_get_string(nc), NULL, 10);
    json_object_put(root);
    *out = k > 1 ? (size_t)k : 1;
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

/* Margin the booster adds to every output: base_score through the
 * objective's link (logit for binary:logistic, identity otherwise). */
static double base_margin(json_object *lrn)
{
    json_object *mp, *bs, *obj, *name;
    double base = 0.5;
    if (json_object_object_get_ex(lrn, "learner_model_param", &mp) &&
        json_object_object_get_ex(mp, "base_score", &bs))
        base = strtod(json_object_get_string(bs), NULL);
    if (json_object_object_get_ex(lrn, "objective", &obj) &&
        json_object_object_get_ex(obj, "name", &name) &&
        strcmp(json_object_get_string(name), "binary:logistic") == 0)
        return base > 0 && base < 1 ? log(base / (1 - base)) : 0.0;
    return base;
}

int xgb_linear_with_weights(void *b, const double *w, size_t n_features, size_t n_groups,
                            void **out, err_t *e)
{
    bst_ulong len = 0;
    const char *p = NULL;
    *out = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\":\"json\"}", &len, &p) != 0)
        return xfail(e, "save model");
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, p, (int)len) : NULL;
    json_tokener_free(tok);
    json_object *lrn, *gb, *model, *wt;
    size_t n = (n_features + 1) * n_groups;
    if (root == NULL || !json_object_object_get_ex(root, "learner", &lrn) ||
        !json_object_object_get_ex(lrn, "gradient_booster", &gb) ||
        !json_object_object_get_ex(gb, "model", &model) ||
        !json_object_object_get_ex(model, "weights", &wt) || json_object_array_length(wt) != n) {
        json_object_put(root);
        return err_set(e, 500, "xgboost", "not a linear model of that shape");
    }
    double shift = base_margin(lrn);
    json_object *nw = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(nw, json_object_new_double(i >= n_features * n_groups ? w[i] - shift
                                                                                   : w[i]));
    json_object_object_add(model, "weights", nw);
    size_t tlen = 0;
    const char *txt = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                       &tlen);
    int rc = xgb_booster_load(txt, tlen, out, e);
    json_object_put(root);
    return rc;
}

int xgb_booster_json(void *b, json_object **out, err_t *e)
{
    bst_ulong len = 0;
    const char *p = NULL;
    *out = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\":\"json\"}", &len, &p) != 0)
        return xfail(e, "save model");
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, p, (int)len) : NULL;
    json_tokener_free(tok);
    if (root == NULL)
        return err_set(e, 500, "xgboost", "the model's JSON form does not parse");
    *out = root;
    return 0;
}
