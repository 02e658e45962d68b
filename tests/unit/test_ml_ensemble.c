/*
 * test_ml_ensemble.c — blends of tree models (ml/ensemble.c): the greedy
 * selection finds a blend better than any single candidate when their
 * errors differ and keeps the single one when they do not; the merged
 * booster's margin is the weighted sum of the members' (binary,
 * multiclass, regression), its contributions still sum to that margin, and
 * each member taken back out of the blend predicts as it did alone.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ensemble.h"
#include "ml/xgb.h"
#include "tests/unit/unit.h"

Suite *suite_ml_ensemble(void);

static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

START_TEST(ml_ensemble_select_blends_independent_errors)
{
    /* Two candidates, each the truth plus its own noise: their average
     * is closer than either, so both must be chosen, about equally. */
    enum { NV = 2000 };
    static float y[NV], a[NV], b[NV], c[NV], blend[NV];
    uint64_t s = 7;
    for (size_t i = 0; i < NV; i++) {
        y[i] = (float)(urand(&s) * 10);
        a[i] = y[i] + (float)(urand(&s) - 0.5) * 4;
        b[i] = y[i] + (float)(urand(&s) - 0.5) * 4;
        c[i] = a[i] + 0.5f; /* a worse copy of a: never useful */
    }
    const float *pred[3] = {a, b, c};
    int counts[3];
    double loss = 0;
    int steps = ensemble_select(pred, 3, NV, TASK_REGRESSION, 1, y, 25, NULL, 0, counts, blend,
                                &loss);
    ck_assert_int_ge(steps, 2);
    ck_assert_int_eq(counts[0] + counts[1] + counts[2], steps);
    ck_assert_int_gt(counts[0], 0);
    ck_assert_int_gt(counts[1], 0);
    ck_assert_int_eq(counts[2], 0);
    double la = 0;
    for (size_t i = 0; i < NV; i++)
        la += (a[i] - y[i]) * (a[i] - y[i]);
    ck_assert(loss < 0.7 * la / NV); /* independent halves: ~0.5 of one */
    /* The blend written out is the counts-weighted mean. */
    double w0 = (double)counts[0] / steps, w1 = (double)counts[1] / steps;
    ck_assert(fabs(blend[5] - (w0 * a[5] + w1 * b[5])) < 1e-4);
}
END_TEST

START_TEST(ml_ensemble_select_respects_serving_budget)
{
    /* The same two independent candidates, but together they would walk
     * more trees than the budget: only one may be in the blend, while a
     * cheap one still fits beside it. */
    enum { NV = 2000 };
    static float y[NV], a[NV], b[NV], c[NV], blend[NV];
    uint64_t s = 11;
    for (size_t i = 0; i < NV; i++) {
        y[i] = (float)(urand(&s) * 10);
        a[i] = y[i] + (float)(urand(&s) - 0.5) * 4;
        b[i] = y[i] + (float)(urand(&s) - 0.5) * 4;
        c[i] = y[i] + (float)(urand(&s) - 0.5) * 4;
    }
    const float *pred[3] = {a, b, c};
    const long cost[3] = {200, 200, 50};
    int counts[3];
    double loss = 0;
    int steps = ensemble_select(pred, 3, NV, TASK_REGRESSION, 1, y, 25, cost, 300, counts, blend,
                                &loss);
    ck_assert_int_ge(steps, 2);
    ck_assert_msg(counts[0] == 0 || counts[1] == 0, "both costly members chosen: %d, %d",
                  counts[0], counts[1]);
    ck_assert_int_gt(counts[2], 0); /* independent errors: the cheap one pays */
    /* A budget below every cost: nothing fits. */
    ck_assert_int_eq(ensemble_select(pred, 3, NV, TASK_REGRESSION, 1, y, 25, cost, 10, counts,
                                     blend, &loss), 0);
}
END_TEST

START_TEST(ml_ensemble_select_keeps_a_dominant_single)
{
    /* Binary probabilities: one candidate is right, the other a coin:
     * adding the coin only hurts, so one step and one member. */
    enum { NV = 500 };
    static float y[NV], good[2 * NV], coin[2 * NV], blend[2 * NV];
    uint64_t s = 11;
    for (size_t i = 0; i < NV; i++) {
        y[i] = urand(&s) < 0.5 ? 1.0f : 0.0f;
        float p = y[i] > 0.5f ? 0.9f : 0.1f, q = (float)urand(&s);
        good[2 * i] = 1 - p;
        good[2 * i + 1] = p;
        coin[2 * i] = 1 - q;
        coin[2 * i + 1] = q;
    }
    const float *pred[2] = {coin, good};
    int counts[2];
    double loss = 0;
    int steps = ensemble_select(pred, 2, NV, TASK_BINARY, 2, y, 25, NULL, 0, counts, blend, &loss);
    ck_assert_int_eq(steps, 1);
    ck_assert_int_eq(counts[0], 0);
    ck_assert_int_eq(counts[1], 1);
    ck_assert(fabs(loss + log(0.9)) < 1e-4);
    ck_assert(fabsf(blend[1] - good[1]) < 1e-5f);
}
END_TEST

START_TEST(ml_ensemble_pair_finds_the_weight_greedy_steps_miss)
{
    /* a = y + 3d, b = y - d: the blend 1/4 a + 3/4 b is exact. Greedy
     * steps start from b (the lower loss), and one copy of a makes
     * (a + b) / 2 = y + d, no better, so they stop at b alone; the pair's
     * grid reaches 6/24 and 18/24. */
    enum { NV = 300 };
    static float y[NV], a[NV], b[NV], blend[NV];
    uint64_t s = 5;
    for (size_t i = 0; i < NV; i++) {
        y[i] = (float)(urand(&s) * 10);
        float d = (float)(urand(&s) - 0.5);
        a[i] = y[i] + 3 * d;
        b[i] = y[i] - d;
    }
    const float *pred[2] = {a, b};
    int counts[2];
    double loss = 0;
    ck_assert_int_eq(ensemble_select(pred, 2, NV, TASK_REGRESSION, 1, y, 24, NULL, 0, counts,
                                     blend, &loss),
                     1);
    ck_assert_int_eq(counts[0], 0);
    ck_assert_int_eq(ensemble_pair(a, b, NV, TASK_REGRESSION, 1, y, 24, counts, blend, &loss),
                     24);
    ck_assert_int_eq(counts[0], 6);
    ck_assert_int_eq(counts[1], 18);
    ck_assert_msg(loss < 1e-9, "loss %g", loss);
    for (size_t i = 0; i < NV; i++)
        ck_assert(fabsf(blend[i] - y[i]) < 1e-4f);
    ck_assert_int_eq(ensemble_pair(a, b, NV, TASK_REGRESSION, 1, y, 1, counts, blend, &loss), -1);
}
END_TEST

/* Trains a small hist booster (rounds, depth) on X / y. */
static void *train(const float *X, size_t n, size_t w, const float *y, const char *obj, int k,
                   int rounds, int depth, double base)
{
    err_t e;
    err_clear(&e);
    void *d = NULL, *b = NULL;
    char buf[32];
    ck_assert_int_eq(xgb_dmatrix_new(X, n, w, NULL, NULL, y, NULL, &d, &e), 0);
    ck_assert_int_eq(xgb_booster_new(&d, 1, &b, &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "objective", obj, &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "tree_method", "hist", &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "nthread", "1", &e), 0);
    snprintf(buf, sizeof(buf), "%d", depth);
    ck_assert_int_eq(xgb_booster_param(b, "max_depth", buf, &e), 0);
    if (k > 1) {
        snprintf(buf, sizeof(buf), "%d", k);
        ck_assert_int_eq(xgb_booster_param(b, "num_class", buf, &e), 0);
    }
    if (!isnan(base)) {
        snprintf(buf, sizeof(buf), "%.9g", base);
        ck_assert_int_eq(xgb_booster_param(b, "base_score", buf, &e), 0);
    }
    for (int i = 0; i < rounds; i++)
        ck_assert_int_eq(xgb_booster_update(b, i, d, &e), 0);
    xgb_dmatrix_free(d);
    return b;
}

/* Margins (n x g) from a booster's outputs on X. */
static float *margins(void *b, const float *X, size_t n, size_t w, int kind, size_t g)
{
    err_t e;
    err_clear(&e);
    float *out = NULL;
    size_t len = 0;
    ck_assert_msg(xgb_predict_dense(b, X, n, w, &out, &len, &e) == 0, "%s", err_message(&e));
    ck_assert_uint_eq(len, n * g);
    for (size_t i = 0; i < len; i++) {
        double p = out[i] < 1e-7 ? 1e-7 : out[i] > 1 - 1e-7 ? 1 - 1e-7 : out[i];
        if (kind == 0)
            out[i] = (float)log(p / (1 - p));
        else if (kind == 1)
            out[i] = (float)log(p);
    }
    if (kind == 1) /* softmax margins are known up to a per-row constant */
        for (size_t r = 0; r < n; r++) {
            float m0 = out[r * g];
            for (size_t c = 0; c < g; c++)
                out[r * g + c] -= m0;
        }
    return out;
}

static void check_blend(const char *obj, int k, int kind, double base0, double base1)
{
    enum { N = 400, W = 3 };
    static float X[N * W], y[N];
    uint64_t s = 3;
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < W; j++)
            X[i * W + j] = (float)urand(&s);
        double t = X[i * W] + 0.5 * X[i * W + 1] + 0.2 * urand(&s);
        y[i] = kind == 2 ? (float)(10 * t) : kind == 0 ? (t > 0.8 ? 1.0f : 0.0f)
                                                       : (float)((int)(t * 2) % k);
    }
    size_t g = kind == 1 ? (size_t)k : 1;
    void *m[2] = {train(X, N, W, y, obj, k, 7, 2, base0), train(X, N, W, y, obj, k, 4, 5, base1)};
    const double wt[2] = {0.3, 0.7};
    err_t e;
    err_clear(&e);
    void *blend = NULL;
    json_object *members = NULL;
    ck_assert_msg(ensemble_merge(m, wt, 2, &blend, &members, &e) == 0, "%s", err_message(&e));
    ck_assert_uint_eq(json_object_array_length(members), 2);
    float *m0 = margins(m[0], X, N, W, kind, g), *m1 = margins(m[1], X, N, W, kind, g);
    float *mb = margins(blend, X, N, W, kind, g);
    for (size_t i = 0; i < N * g; i++)
        ck_assert_msg(fabs(mb[i] - (0.3 * m0[i] + 0.7 * m1[i])) < 1e-3 * (1 + fabs(mb[i])),
                      "%s row %zu: %g vs %g", obj, i, mb[i], 0.3 * m0[i] + 0.7 * m1[i]);
    /* TreeSHAP of the blend still sums to its margin. */
    void *d = NULL;
    float *ct = NULL;
    size_t len = 0;
    ck_assert_int_eq(xgb_dmatrix_new(X, N, W, NULL, NULL, NULL, NULL, &d, &e), 0);
    ck_assert_int_eq(xgb_predict_contribs(blend, d, &ct, &len, &e), 0);
    ck_assert_uint_eq(len, N * g * (W + 1));
    if (kind != 1)
        for (size_t i = 0; i < N; i++) {
            double sum = 0;
            for (size_t j = 0; j <= W; j++)
                sum += ct[i * (W + 1) + j];
            ck_assert(fabs(sum - mb[i]) < 1e-3 * (1 + fabs(mb[i])));
        }
    /* Each member comes back out as it was. */
    void *bytes = NULL;
    size_t blen = 0;
    ck_assert_int_eq(xgb_booster_save(blend, &bytes, &blen, &e), 0);
    for (size_t j = 0; j < 2; j++) {
        void *mbytes = NULL, *mj = NULL;
        size_t mlen = 0;
        ck_assert_msg(ensemble_member(bytes, blen, members, j, &mbytes, &mlen, &e) == 0, "%s",
                      err_message(&e));
        ck_assert_int_eq(xgb_booster_load(mbytes, mlen, &mj, &e), 0);
        float *back = margins(mj, X, N, W, kind, g), *orig = j ? m1 : m0;
        for (size_t i = 0; i < N * g; i++)
            ck_assert_msg(fabs(back[i] - orig[i]) < 1e-3 * (1 + fabs(orig[i])),
                          "%s member %zu row %zu: %g vs %g", obj, j, i, back[i], orig[i]);
        free(back);
        free(mbytes);
        xgb_booster_free(mj);
    }
    void *none = NULL;
    size_t nlen = 0;
    ck_assert_int_eq(ensemble_member(bytes, blen, members, 2, &none, &nlen, &e), -1);
    ck_assert_ptr_null(none);
    free(bytes);
    free(ct);
    free(m0);
    free(m1);
    free(mb);
    xgb_dmatrix_free(d);
    json_object_put(members);
    xgb_booster_free(blend);
    xgb_booster_free(m[0]);
    xgb_booster_free(m[1]);
}

START_TEST(ml_ensemble_merge_binary_is_weighted_margin)
{
    check_blend("binary:logistic", 1, 0, NAN, NAN);
}
END_TEST

START_TEST(ml_ensemble_merge_multiclass_is_weighted_margin)
{
    check_blend("multi:softprob", 3, 1, NAN, NAN);
}
END_TEST

START_TEST(ml_ensemble_merge_regression_blends_base_scores)
{
    check_blend("reg:squarederror", 1, 2, 4.0, 7.5);
}
END_TEST

Suite *suite_ml_ensemble(void)
{
    const TTest *t[] = {
        ml_ensemble_select_blends_independent_errors, ml_ensemble_select_respects_serving_budget,
        ml_ensemble_select_keeps_a_dominant_single,
        ml_ensemble_pair_finds_the_weight_greedy_steps_miss,
        ml_ensemble_merge_binary_is_weighted_margin,
        ml_ensemble_merge_multiclass_is_weighted_margin,
        ml_ensemble_merge_regression_blends_base_scores,
    };
    return unit_suite("ml_ensemble", t, sizeof(t) / sizeof(t[0]));
}
