/*
 * test_ml_contrib.c — folding booster-input contributions into user fields
 * (ml/contrib.c): one-hot columns of a category add up to its field, and
 * the total (bias included) is unchanged, so it still equals the margin.
 * And ml/treeshap.c against XGBoost's own pred_contribs on boosters
 * trained here: numbers with missing values, categories, features split on
 * again down a path, deep trees, several output groups.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/contrib.h"
#include "ml/treeshap.h"
#include "ml/xgb.h"
#include "tests/unit/unit.h"

Suite *suite_ml_contrib(void);

START_TEST(ml_contrib_tree_maps_one_to_one)
{
    enc_feature_t f[2] = {{.name = "a", .kind = ENC_NUMBER},
                          {.name = "c", .kind = ENC_CATEGORY, .n_levels = 2, .other = 1}};
    enc_plan_t p = {.f = f, .n = 2, .linear = 0, .width = 2};
    const float raw[3] = {0.25f, -1.5f, 0.125f};
    float out[3];
    contrib_fold(&p, raw, 2, out);
    ck_assert(out[0] == 0.25f && out[1] == -1.5f && out[2] == 0.125f);
}
END_TEST

START_TEST(ml_contrib_linear_sums_one_hot_columns)
{
    enc_feature_t f[3] = {{.name = "a", .kind = ENC_NUMBER},
                          {.name = "c", .kind = ENC_CATEGORY, .n_levels = 2, .other = 1},
                          {.name = "b", .kind = ENC_BOOLEAN}};
    enc_plan_t p = {.f = f, .n = 3, .linear = 1};
    size_t w = enc_linear_width(&p);
    ck_assert_uint_eq(w, 5);
    /* a | c=x c=y c=(other) | b | bias */
    const float raw[6] = {0.5f, 0.25f, -0.75f, 0.0f, 2.0f, -1.0f};
    float out[4];
    contrib_fold(&p, raw, w, out);
    ck_assert(fabsf(out[0] - 0.5f) < 1e-6f);
    ck_assert(fabsf(out[1] - (-0.5f)) < 1e-6f);
    ck_assert(fabsf(out[2] - 2.0f) < 1e-6f);
    ck_assert(fabsf(out[3] - (-1.0f)) < 1e-6f);
    float total_raw = 0, total = 0;
    for (size_t i = 0; i < 6; i++)
        total_raw += raw[i];
    for (size_t i = 0; i < 4; i++)
        total += out[i];
    ck_assert(fabsf(total - total_raw) < 1e-6f);
}
END_TEST

/* A reproducible table: w features, feature 1 a category of 7 levels
 * (codes), every fifth value of feature 0 missing; the label depends on
 * several features with interactions, so trees split on a feature again. */
#define NF 5
static void make_rows(size_t n, float *X, float *y, size_t k)
{
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        float *x = X + i * NF;
        for (size_t j = 0; j < NF; j++) {
            s = s * 1103515245u + 12345u;
            x[j] = (float)((s >> 8) % 10000) / 1000.0f;
        }
        x[1] = (float)((unsigned)x[1] % 7);
        double v = sin(x[0]) + (x[1] == 2 || x[1] == 5 ? 1.5 : 0) + 0.3 * x[2] * x[3] -
                   (x[4] > 5 ? 1 : 0);
        if (i % 5 == 0)
            x[0] = NAN;
        y[i] = k == 2 ? (v > 1.5) : (float)((int)(v > 0.5) + (int)(v > 2.5));
    }
}

/* Trains k classes (2: binary) at depth, compares every contribution. */
static void check_against_xgboost(size_t k, const char *depth, int rounds)
{
    const size_t n = 400;
    float *X = malloc(n * NF * sizeof(*X)), *y = malloc(n * sizeof(*y));
    make_rows(n, X, y, k);
    char *names[NF] = {"a", "c", "b", "d", "e"}, *types[NF] = {"q", "c", "q", "q", "q"};
    err_t e;
    err_clear(&e);
    void *d = NULL, *b = NULL;
    ck_assert_int_eq(xgb_dmatrix_new(X, n, NF, names, types, y, NULL, &d, &e), 0);
    ck_assert_int_eq(xgb_booster_new(&d, 1, &b, &e), 0);
    xgb_booster_param(b, "objective", k == 2 ? "binary:logistic" : "multi:softprob", &e);
    if (k > 2) {
        char nc[24];
        snprintf(nc, sizeof(nc), "%zu", k);
        xgb_booster_param(b, "num_class", nc, &e);
    }
    xgb_booster_param(b, "tree_method", "hist", &e);
    xgb_booster_param(b, "max_depth", depth, &e);
    xgb_booster_param(b, "max_cat_to_onehot", "4", &e);
    xgb_booster_param(b, "nthread", "1", &e);
    for (int it = 0; it < rounds; it++)
        ck_assert_int_eq(xgb_booster_update(b, it, d, &e), 0);
    size_t groups = k == 2 ? 1 : k, stride = NF + 1;
    float *want = NULL;
    size_t len = 0;
    ck_assert_int_eq(xgb_predict_contribs(b, d, &want, &len, &e), 0);
    ck_assert_uint_eq(len, n * groups * stride);
    treeshap_t *ts = NULL;
    ck_assert_int_eq(treeshap_build(b, NF, groups, &ts, &e), 0);
    ck_assert_ptr_nonnull(ts);
    float *got = calloc(n * groups * stride, sizeof(*got));
    treeshap_rows(ts, X, n, got);
    double worst = 0;
    for (size_t i = 0; i < n * groups; i++)
        for (size_t j = 0; j < NF; j++) {
            double diff = fabs((double)got[i * stride + j] - want[i * stride + j]);
            worst = diff > worst ? diff : worst;
        }
    ck_assert_msg(worst < 1e-4, "k=%zu depth=%s: worst difference %g", k, depth, worst);
    /* Through contrib_fields (its cache, the bias from XGBoost): every row
     * still sums to the margin XGBoost gives. */
    enc_feature_t f[NF] = {{.name = "a", .kind = ENC_NUMBER},
                           {.name = "c", .kind = ENC_CATEGORY, .n_levels = 7},
                           {.name = "b", .kind = ENC_NUMBER},
                           {.name = "d", .kind = ENC_NUMBER},
                           {.name = "e", .kind = ENC_NUMBER}};
    const char *lv[7] = {"0", "1", "2", "3", "4", "5", "6"};
    f[1].levels = (char **)lv;
    enc_plan_t p = {.f = f, .n = NF, .linear = 0, .width = NF};
    contrib_cache_t *cache = NULL;
    float *ct = NULL;
    ck_assert_int_eq(contrib_fields(&p, b, groups, &cache, X, n, &ct, &e), 0);
    ck_assert(contrib_cache_fast(cache));
    for (size_t i = 0; i < n * groups; i++) {
        double sw = 0, sg = 0;
        for (size_t j = 0; j < stride; j++) {
            sw += want[i * stride + j];
            sg += ct[i * stride + j];
        }
        ck_assert_msg(fabs(sw - sg) < 1e-4, "row-group %zu: %g vs margin %g", i, sg, sw);
    }
    free(ct);
    contrib_cache_free(cache);
    free(got);
    free(want);
    treeshap_free(ts);
    xgb_booster_free(b);
    xgb_dmatrix_free(d);
    free(X);
    free(y);
}

START_TEST(ml_contrib_treeshap_matches_xgboost_binary)
{
    check_against_xgboost(2, "6", 40);
}
END_TEST

/* Trees of at most 8 splits are answered from their outcome tables. */
START_TEST(ml_contrib_treeshap_matches_xgboost_tables)
{
    check_against_xgboost(2, "3", 60);
    check_against_xgboost(3, "2", 30);
}
END_TEST

START_TEST(ml_contrib_treeshap_matches_xgboost_deep)
{
    check_against_xgboost(2, "10", 15);
}
END_TEST

START_TEST(ml_contrib_treeshap_matches_xgboost_multiclass)
{
    check_against_xgboost(3, "4", 20);
}
END_TEST

Suite *suite_ml_contrib(void)
{
    const TTest *const t[] = {ml_contrib_tree_maps_one_to_one,
                              ml_contrib_linear_sums_one_hot_columns,
                              ml_contrib_treeshap_matches_xgboost_binary,
                              ml_contrib_treeshap_matches_xgboost_tables,
                              ml_contrib_treeshap_matches_xgboost_deep,
                              ml_contrib_treeshap_matches_xgboost_multiclass};
    return unit_suite("ml_contrib", t, sizeof(t) / sizeof(t[0]));
}
