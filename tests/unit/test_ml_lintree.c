/*
 * test_ml_lintree.c — the linear model compiled into one-feature trees
 * (ml/lintree.c) predicts what linfit_predict predicts on the expanded
 * input: exactly (to float rounding) on integer-valued numbers, booleans,
 * categories (the "other" bucket included) and missing cells, within a
 * small tolerance on continuous numbers; its contributions add up to its
 * margin with each field's share depending on that field alone; a value in
 * a wide gap between training values is not read as its neighbour; and it
 * merges with a tree model into one blend.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/encode.h"
#include "ml/ensemble.h"
#include "ml/linfit.h"
#include "ml/lintree.h"
#include "ml/xgb.h"
#include "tests/unit/unit.h"

Suite *suite_ml_lintree(void);

#define NR 3000
#define NF 5

static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static char *levels3[] = {"red", "green", "blue"};

/* Fields: pixel (integers 0..16, mostly 0), flag (boolean), colour (3
 * levels + other), reading (continuous, or integer with integers = 1),
 * count (integers 0..40); every field missing now and then. */
static void make_plan(enc_plan_t *pl, enc_feature_t *f)
{
    memset(f, 0, NF * sizeof(*f));
    f[0] = (enc_feature_t){.name = "pixel", .kind = ENC_NUMBER};
    f[1] = (enc_feature_t){.name = "flag", .kind = ENC_BOOLEAN};
    f[2] = (enc_feature_t){.name = "colour", .kind = ENC_CATEGORY, .n_levels = 3,
                           .levels = levels3, .other = 1};
    f[3] = (enc_feature_t){.name = "reading", .kind = ENC_NUMBER};
    f[4] = (enc_feature_t){.name = "count", .kind = ENC_NUMBER};
    *pl = (enc_plan_t){.f = f, .n = NF, .linear = 1};
}

static void make_rows(float *F, float *y, size_t n, int integers, ml_task_t task, size_t k)
{
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++) {
        float *r = F + i * NF;
        r[0] = urand(&s) < 0.6 ? 0.0f : (float)(int)(urand(&s) * 17);
        r[1] = urand(&s) < 0.5 ? 1.0f : 0.0f;
        r[2] = (float)(int)(urand(&s) * 4); /* code 3 = other */
        r[3] = integers ? (float)(int)(urand(&s) * 50) : (float)(urand(&s) * 100 - 30);
        r[4] = (float)(int)(urand(&s) * 41);
        for (size_t j = 0; j < NF; j++)
            if (urand(&s) < 0.05)
                r[j] = NAN;
        double z = 0.2 * (isnan(r[0]) ? 5 : r[0]) - 2 * (r[1] == 1.0f) + (r[2] == 3.0f) +
                   0.03 * (isnan(r[3]) ? 20 : r[3]) + urand(&s) * 3;
        if (task == TASK_REGRESSION)
            y[i] = (float)z;
        else if (task == TASK_BINARY)
            y[i] = z > 2.5 ? 1.0f : 0.0f;
        else
            y[i] = (float)((size_t)(z + 10) % k);
    }
}

/* Fits the linear model, compiles it and returns the largest difference
 * between the two models' outputs over the rows (and the mean one). */
static double compiled_vs_linfit(ml_task_t task, size_t k, int integers, double *mean_diff,
                                 double *visits)
{
    enc_feature_t f[NF];
    enc_plan_t pl;
    make_plan(&pl, f);
    float *F = malloc(NR * NF * sizeof(float)), *y = malloc(NR * sizeof(float));
    make_rows(F, y, NR, integers, task, k);
    enc_fit_linear(&pl, F, NR);
    size_t w = enc_linear_width(&pl), g = linfit_groups(task, k), kk = task == TASK_REGRESSION
                                                                           ? 1 : k;
    ck_assert_uint_eq(w, 1 + 1 + 4 + 1 + 1);
    float *X = malloc(NR * w * sizeof(float)), *lp = malloc(NR * kk * sizeof(float));
    for (size_t i = 0; i < NR; i++)
        enc_expand_linear(&pl, F + i * NF, X + i * w);
    double *coef = calloc((w + 1) * g, sizeof(double));
    linfit_problem_t p = {.X = X, .n = NR, .w = w, .y = y, .task = task, .k = k};
    ck_assert_int_ge(linfit_fit(&p, 1.0, coef, 400, INFINITY, NULL), 1);
    linfit_predict(coef, X, NR, w, task, k, lp);

    lintree_in_t in = {.plan = &pl, .coef = coef, .F = F, .n = NR, .task = task, .k = k};
    void *b = NULL;
    err_t e;
    err_clear(&e);
    lintree_stats_t st;
    ck_assert_msg(lintree_compile(&in, &b, &st, &e) == 0, "%s", e.items[0].message);
    *visits = st.visits;
    ck_assert_uint_eq(st.rounds, NF);
    ck_assert_uint_eq(st.exact_fields, integers ? NF : NF - 1);
    float *tp = NULL;
    size_t len = 0;
    ck_assert_int_eq(xgb_predict_dense(b, F, NR, NF, &tp, &len, &e), 0);
    ck_assert_uint_eq(len, NR * (task == TASK_MULTICLASS ? k : 1));
    double worst = 0, sum = 0;
    for (size_t i = 0; i < NR; i++)
        for (size_t c = 0; c < kk; c++) {
            /* XGBoost gives binary models one probability (of class 1). */
            double a = task == TASK_BINARY ? lp[2 * i + 1] : lp[i * kk + c];
            double t = task == TASK_BINARY ? tp[i] : tp[i * kk + c];
            if (task == TASK_BINARY && c == 1)
                continue;
            worst = fabs(a - t) > worst ? fabs(a - t) : worst;
            sum += t - a;
        }
    *mean_diff = sum / NR;
    free(tp);
    xgb_booster_free(b);
    free(F);
    free(y);
    free(X);
    free(lp);
    free(coef);
    return worst;
}

START_TEST(ml_lintree_exact_on_integers_binary)
{
    double md, visits = 0;
    double worst = compiled_vs_linfit(TASK_BINARY, 2, 1, &md, &visits);
    ck_assert_msg(worst < 2e-6, "largest probability difference %g", worst);
    /* Five fields, each a handful of steps deep on average. */
    ck_assert_msg(visits > 5 && visits < 5 * 8, "visits %g", visits);
}
END_TEST

START_TEST(ml_lintree_exact_on_integers_multiclass)
{
    double md, visits = 0;
    double worst = compiled_vs_linfit(TASK_MULTICLASS, 4, 1, &md, &visits);
    ck_assert_msg(worst < 2e-6, "largest probability difference %g", worst);
    ck_assert_msg(visits > 4 * 5 && visits < 4 * 5 * 8, "visits %g", visits);
}
END_TEST

START_TEST(ml_lintree_close_on_continuous_regression)
{
    /* reading takes ~NR distinct values: quantile bins of ~12 rows, so a
     * prediction is off by at most a bin's half-width times its slope,
     * and right on average. */
    double md, visits = 0;
    double worst = compiled_vs_linfit(TASK_REGRESSION, 1, 0, &md, &visits);
    ck_assert_msg(worst < 0.05, "largest difference %g", worst);
    ck_assert_msg(fabs(md) < 1e-3, "mean difference %g", md);
}
END_TEST

START_TEST(ml_lintree_missing_and_unseen_rows)
{
    /* Rows built by hand: every field missing (the linear model's bias
     * alone), values outside the training range, the "other" code. */
    enc_feature_t f[NF];
    enc_plan_t pl;
    make_plan(&pl, f);
    float *F = malloc(NR * NF * sizeof(float)), *y = malloc(NR * sizeof(float));
    make_rows(F, y, NR, 1, TASK_BINARY, 2);
    enc_fit_linear(&pl, F, NR);
    size_t w = enc_linear_width(&pl);
    double coef[9 * 1];
    for (size_t j = 0; j < 9; j++)
        coef[j] = 0.3 * (double)j - 1.1; /* any model compiles: not only fitted ones */
    lintree_in_t in = {.plan = &pl, .coef = coef, .F = F, .n = NR, .task = TASK_BINARY, .k = 2};
    void *b = NULL;
    err_t e;
    err_clear(&e);
    ck_assert_msg(lintree_compile(&in, &b, NULL, &e) == 0, "%s", e.items[0].message);
    float rows[4][NF] = {{NAN, NAN, NAN, NAN, NAN},
                         {3, 1, 3, NAN, 7},
                         {NAN, 0, 0, 25, NAN},
                         {16, NAN, NAN, 0, 40}};
    float *tp = NULL, X[8], lp[8];
    size_t len = 0;
    ck_assert_int_eq(xgb_predict_dense(b, &rows[0][0], 4, NF, &tp, &len, &e), 0);
    for (size_t i = 0; i < 4; i++) {
        enc_expand_linear(&pl, rows[i], X);
        linfit_predict(coef, X, 1, w, TASK_BINARY, 2, lp);
        ck_assert_msg(fabs(lp[1] - tp[i]) < 2e-6, "row %zu: %g vs %g", i, lp[1], tp[i]);
    }
    ck_assert(fabs(tp[0] - 1 / (1 + exp(-coef[8]))) < 1e-6); /* all missing: the bias */
    free(tp);
    xgb_booster_free(b);
    free(F);
    free(y);
}
END_TEST

/* The regression case two tests start from: NR integer rows, the plan
 * fitted to them, and REG_COEF compiled (owned: reg_case_free). */
static const double REG_COEF[9] = {0.5, -1, 2, 0, 0.25, 1, 0.1, -0.2, 3};

typedef struct reg_case {
    enc_feature_t f[NF];
    enc_plan_t pl;
    float *F, *y;
    void *b;
} reg_case_t;

static void reg_case_make(reg_case_t *c)
{
    make_plan(&c->pl, c->f);
    c->F = malloc(NR * NF * sizeof(float));
    c->y = malloc(NR * sizeof(float));
    make_rows(c->F, c->y, NR, 1, TASK_REGRESSION, 1);
    enc_fit_linear(&c->pl, c->F, NR);
    lintree_in_t in = {.plan = &c->pl, .coef = REG_COEF, .F = c->F, .n = NR,
                       .task = TASK_REGRESSION, .k = 1};
    err_t e;
    err_clear(&e);
    c->b = NULL;
    ck_assert_msg(lintree_compile(&in, &c->b, NULL, &e) == 0, "%s", e.items[0].message);
}

static void reg_case_free(reg_case_t *c)
{
    xgb_booster_free(c->b);
    free(c->F);
    free(c->y);
}

START_TEST(ml_lintree_contributions_are_per_field)
{
    /* TreeSHAP of a one-feature tree is that field's own function: two
     * rows differing in one field differ in that field's contribution
     * only, by the linear model's difference. */
    reg_case_t c;
    reg_case_make(&c);
    void *b = c.b, *d = NULL;
    err_t e;
    err_clear(&e);
    float rows[2][NF] = {{4, 1, 2, 10, 5}, {4, 1, 0, 10, 5}};
    ck_assert_int_eq(xgb_dmatrix_new(&rows[0][0], 2, NF, NULL, NULL, NULL, NULL, &d, &e), 0);
    float *ct = NULL, *pr = NULL;
    size_t len = 0, plen = 0;
    ck_assert_int_eq(xgb_predict_contribs(b, d, &ct, &len, &e), 0);
    ck_assert_uint_eq(len, 2 * (NF + 1));
    ck_assert_int_eq(xgb_predict_dmatrix(b, d, 0, &pr, &plen, &e), 0);
    for (size_t i = 0; i < 2; i++) {
        double s = 0;
        for (size_t j = 0; j <= NF; j++)
            s += ct[i * (NF + 1) + j];
        ck_assert(fabs(s - pr[i]) < 1e-4);
    }
    for (size_t j = 0; j <= NF; j++)
        if (j != 2)
            ck_assert(fabs(ct[j] - ct[NF + 1 + j]) < 1e-5);
    /* colour: blue (code 2, one-hot column 2 + 2) against red (column 2). */
    ck_assert(fabs((ct[2] - ct[NF + 1 + 2]) - (REG_COEF[4] - REG_COEF[2])) < 1e-5);
    free(ct);
    free(pr);
    xgb_dmatrix_free(d);
    reg_case_free(&c);
}
END_TEST

START_TEST(ml_lintree_merges_with_trees)
{
    /* A blend of the compiled linear model and a tree model predicts the
     * weighted sum of their margins (ensemble_merge reads both alike). */
    reg_case_t c;
    reg_case_make(&c);
    float *F = c.F, *y = c.y;
    void *lin = c.b, *tree = NULL, *d = NULL, *blend = NULL;
    err_t e;
    err_clear(&e);
    char *names[NF] = {"pixel", "flag", "colour", "reading", "count"};
    char *types[NF] = {"q", "q", "c", "q", "q"};
    ck_assert_int_eq(xgb_dmatrix_new(F, NR, NF, names, types, y, NULL, &d, &e), 0);
    ck_assert_int_eq(xgb_booster_new(&d, 1, &tree, &e), 0);
    ck_assert_int_eq(xgb_booster_param(tree, "tree_method", "hist", &e), 0);
    ck_assert_int_eq(xgb_booster_param(tree, "max_depth", "3", &e), 0);
    ck_assert_int_eq(xgb_booster_param(tree, "nthread", "1", &e), 0);
    ck_assert_int_eq(xgb_booster_features(tree, names, types, NF, &e), 0);
    for (int it = 0; it < 5; it++)
        ck_assert_int_eq(xgb_booster_update(tree, it, d, &e), 0);
    void *bs[2] = {lin, tree};
    double wts[2] = {0.25, 0.75};
    json_object *members = NULL;
    ck_assert_msg(ensemble_merge(bs, wts, 2, &blend, &members, &e) == 0, "%s", e.items[0].message);
    float *pl_ = NULL, *pt = NULL, *pb = NULL;
    size_t n1, n2, n3;
    ck_assert_int_eq(xgb_predict_dense(lin, F, 50, NF, &pl_, &n1, &e), 0);
    ck_assert_int_eq(xgb_predict_dense(tree, F, 50, NF, &pt, &n2, &e), 0);
    ck_assert_int_eq(xgb_predict_dense(blend, F, 50, NF, &pb, &n3, &e), 0);
    for (size_t i = 0; i < 50; i++)
        ck_assert_msg(fabs(pb[i] - (0.25 * pl_[i] + 0.75 * pt[i])) < 1e-3 * (1 + fabs(pb[i])),
                      "row %zu: %g vs %g", i, pb[i], 0.25 * pl_[i] + 0.75 * pt[i]);
    free(pl_);
    free(pt);
    free(pb);
    json_object_put(members);
    xgb_booster_free(blend);
    xgb_booster_free(tree);
    xgb_dmatrix_free(d);
    reg_case_free(&c);
}
END_TEST

START_TEST(ml_lintree_binned_numbers_cover_gaps)
{
    /* One continuous field whose training values leave a wide gap
     * ([0, 10) and [100, 110)): a value in the gap gets its own bin, so it
     * is not read as the nearest training value, and every value is within
     * a bin's spread (0.02 of margin) of the linear model. */
    enum { N = 2000 };
    static float F[N];
    uint64_t s = 5;
    for (size_t i = 0; i < N; i++)
        F[i] = (float)(urand(&s) * 10 + (i % 2 ? 100 : 0));
    enc_feature_t f = {.name = "x", .kind = ENC_NUMBER};
    enc_plan_t pl = {.f = &f, .n = 1, .linear = 1};
    enc_fit_linear(&pl, F, N);
    double coef[2] = {1.5, 0.25}; /* 1.5 per standard deviation (~50) */
    lintree_in_t in = {.plan = &pl, .coef = coef, .F = F, .n = N, .task = TASK_REGRESSION,
                       .k = 1};
    void *b = NULL;
    err_t e;
    err_clear(&e);
    lintree_stats_t st;
    ck_assert_msg(lintree_compile(&in, &b, &st, &e) == 0, "%s", e.items[0].message);
    ck_assert_uint_eq(st.exact_fields, 0);
    float rows[] = {55, 30, 80, 5, 105, 0, 109.9f, NAN};
    size_t nr = sizeof(rows) / sizeof(rows[0]);
    float *tp = NULL, X, lp;
    size_t len = 0;
    ck_assert_int_eq(xgb_predict_dense(b, rows, nr, 1, &tp, &len, &e), 0);
    for (size_t i = 0; i < nr; i++) {
        enc_expand_linear(&pl, &rows[i], &X);
        linfit_predict(coef, &X, 1, 1, TASK_REGRESSION, 1, &lp);
        ck_assert_msg(fabs(lp - tp[i]) < 0.025, "x=%g: %g vs %g", rows[i], lp, tp[i]);
    }
    free(tp);
    xgb_booster_free(b);
}
END_TEST

Suite *suite_ml_lintree(void)
{
    const TTest *const tests[] = {ml_lintree_exact_on_integers_binary,
                                  ml_lintree_exact_on_integers_multiclass,
                                  ml_lintree_close_on_continuous_regression,
                                  ml_lintree_missing_and_unseen_rows,
                                  ml_lintree_contributions_are_per_field,
                                  ml_lintree_merges_with_trees,
                                  ml_lintree_binned_numbers_cover_gaps};
    return unit_suite("ml_lintree", tests, sizeof(tests) / sizeof(tests[0]));
}
