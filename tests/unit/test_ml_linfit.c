/*
 * test_ml_linfit.c — the linear solver (ml/linfit.c) against hand-derived
 * optima, its hand-over to XGBoost as a gblinear model, and the quantised
 * matrices built from row ranges and from a fill callback (ml/xgb.c).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ml/linfit.h"
#include "ml/xgb.h"
#include "tests/unit/unit.h"

Suite *suite_ml_linfit(void);

#define N 60
#define W 3

/* Deterministic inputs: three standardised-looking columns. */
static void make_x(float *X, size_t n, size_t w)
{
    uint64_t s = 12345;
    for (size_t i = 0; i < n * w; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        X[i] = (float)((double)(s >> 40) / (double)(1ULL << 24) * 4.0 - 2.0);
    }
}

/* The test's own objective (not linfit's): sum of losses + lambda/2 |b|^2. */
static double objective(const linfit_problem_t *p, double lambda, const double *c)
{
    size_t g = linfit_groups(p->task, p->k), w = p->w;
    double f = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (i >= p->skip_begin && i < p->skip_end)
            continue;
        double z[8];
        for (size_t k = 0; k < g; k++) {
            z[k] = c[w * g + k];
            for (size_t j = 0; j < w; j++)
                z[k] += p->X[i * w + j] * c[j * g + k];
        }
        if (p->task == TASK_BINARY) {
            double pr = 1 / (1 + exp(-z[0]));
            f -= p->y[i] > 0.5 ? log(pr) : log(1 - pr);
        } else if (p->task == TASK_MULTICLASS) {
            double sum = 0;
            for (size_t k = 0; k < g; k++)
                sum += exp(z[k]);
            f -= z[(size_t)p->y[i]] - log(sum);
        } else {
            f += 0.5 * (z[0] - p->y[i]) * (z[0] - p->y[i]);
        }
    }
    for (size_t j = 0; j < w * g; j++)
        f += 0.5 * lambda * c[j] * c[j];
    return f;
}

/* Central differences of the test's objective: ~0 at the optimum. */
static double max_gradient(const linfit_problem_t *p, double lambda, const double *c, size_t dim)
{
    double *x = malloc(dim * sizeof(*x)), m = 0;
    memcpy(x, c, dim * sizeof(*x));
    for (size_t j = 0; j < dim; j++) {
        double h = 1e-5, v = x[j];
        x[j] = v + h;
        double fp = objective(p, lambda, x);
        x[j] = v - h;
        double fm = objective(p, lambda, x);
        x[j] = v;
        double g = fabs(fp - fm) / (2 * h);
        m = g > m ? g : m;
    }
    free(x);
    return m;
}

START_TEST(ml_linfit_binary_reaches_the_optimum)
{
    float X[N * W], y[N];
    make_x(X, N, W);
    for (size_t i = 0; i < N; i++) /* noisy: not separable, a finite optimum */
        y[i] = (X[i * W] - 0.5f * X[i * W + 1] + (i % 7 == 0 ? 3.0f : 0.0f)) > 0 ? 1.0f : 0.0f;
    linfit_problem_t p = {.X = X, .n = N, .w = W, .y = y, .task = TASK_BINARY, .k = 2};
    double c[W + 1] = {0}, c_strong[W + 1] = {0};
    int conv = 0;
    ck_assert_int_gt(linfit_fit(&p, 1.0, c, 500, util_now_monotonic() + 10, &conv), 0);
    ck_assert(conv);
    ck_assert_double_lt(max_gradient(&p, 1.0, c, W + 1), 1e-3);
    ck_assert_double_gt(c[0], 0.5); /* the signal's sign */
    ck_assert_double_lt(c[1], 0);
    /* A stronger penalty shrinks the weights. */
    linfit_fit(&p, 100.0, c_strong, 500, util_now_monotonic() + 10, NULL);
    ck_assert_double_lt(fabs(c_strong[0]), fabs(c[0]));
    float pr[2 * N];
    linfit_predict(c, X, N, W, TASK_BINARY, 2, pr);
    for (size_t i = 0; i < N; i++)
        ck_assert_double_eq_tol(pr[2 * i] + pr[2 * i + 1], 1.0, 1e-6);
}
END_TEST

START_TEST(ml_linfit_ridge_matches_closed_form)
{
    /* One feature, unpenalised intercept: b = Sxy / (Sxx + lambda). */
    float X[N], y[N];
    make_x(X, N, 1);
    for (size_t i = 0; i < N; i++)
        y[i] = 1000.0f + 250.0f * X[i] + (float)((i * 37) % 11) - 5.0f;
    double mx = 0, my = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < N; i++) {
        mx += X[i] / (double)N;
        my += y[i] / (double)N;
    }
    for (size_t i = 0; i < N; i++) {
        sxx += (X[i] - mx) * (X[i] - mx);
        sxy += (X[i] - mx) * (y[i] - my);
    }
    double lambda = 7.0, b = sxy / (sxx + lambda), a = my - b * mx;
    linfit_problem_t p = {.X = X, .n = N, .w = 1, .y = y, .task = TASK_REGRESSION, .k = 1};
    double c[2] = {0, 0};
    int conv = 0;
    linfit_fit(&p, lambda, c, 500, util_now_monotonic() + 10, &conv);
    ck_assert(conv);
    ck_assert_double_eq_tol(c[0], b, 1e-3 * fabs(b));
    ck_assert_double_eq_tol(c[1], a, 1e-3 * fabs(a));
}
END_TEST

START_TEST(ml_linfit_multiclass_skips_the_left_out_rows)
{
    float X[(N + 10) * W], y[N + 10];
    make_x(X, N + 10, W);
    for (size_t i = 0; i < N + 10; i++)
        y[i] = (float)((X[i * W] > 0.3f ? 2 : X[i * W + 2] > 0 ? 1 : 0));
    /* Rows [20, 30) carry absurd labels: left out, they must not count. */
    float Xk[N * W], yk[N];
    size_t o = 0;
    for (size_t i = 0; i < N + 10; i++) {
        if (i >= 20 && i < 30) {
            y[i] = 0;
            continue;
        }
        memcpy(Xk + o * W, X + i * W, W * sizeof(float));
        yk[o++] = y[i];
    }
    linfit_problem_t p = {.X = X, .n = N + 10, .w = W, .y = y, .skip_begin = 20, .skip_end = 30,
                          .task = TASK_MULTICLASS, .k = 3};
    linfit_problem_t q = {.X = Xk, .n = N, .w = W, .y = yk, .task = TASK_MULTICLASS, .k = 3};
    double a[(W + 1) * 3] = {0}, b[(W + 1) * 3] = {0};
    linfit_fit(&p, 0.5, a, 500, util_now_monotonic() + 10, NULL);
    linfit_fit(&q, 0.5, b, 500, util_now_monotonic() + 10, NULL);
    for (size_t j = 0; j < (W + 1) * 3; j++)
        ck_assert_double_eq_tol(a[j], b[j], 1e-4);
    ck_assert_double_lt(max_gradient(&q, 0.5, b, (W + 1) * 3), 1e-3);
    float pr[3 * N];
    linfit_predict(b, Xk, N, W, TASK_MULTICLASS, 3, pr);
    size_t right = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_double_eq_tol(pr[3 * i] + pr[3 * i + 1] + pr[3 * i + 2], 1.0, 1e-5);
        size_t m = pr[3 * i + 1] > pr[3 * i] ? 1 : 0;
        m = pr[3 * i + 2] > pr[3 * i + m] ? 2 : m;
        right += m == (size_t)yk[i];
    }
    ck_assert_uint_ge(right, N * 8 / 10);
}
END_TEST

/* The solver's weights handed to XGBoost predict what the solver predicts,
 * for every task (base_score taken out of the bias). */
static void check_booster(ml_task_t task, size_t k, const char *objective_name)
{
    float X[N * W], y[N];
    make_x(X, N, W);
    for (size_t i = 0; i < N; i++)
        y[i] = task == TASK_REGRESSION ? 3.0f * X[i * W] + 10.0f
                                       : (float)((size_t)(X[i * W] + 2.0f) % k);
    linfit_problem_t p = {.X = X, .n = N, .w = W, .y = y, .task = task, .k = k};
    size_t g = linfit_groups(task, k), dim = (W + 1) * g;
    double c[(W + 1) * 4] = {0};
    linfit_fit(&p, 1.0, c, 500, util_now_monotonic() + 10, NULL);
    err_t e;
    err_clear(&e);
    void *d = NULL, *b = NULL, *lin = NULL;
    ck_assert_int_eq(xgb_dmatrix_new(X, N, W, NULL, NULL, y, NULL, &d, &e), 0);
    ck_assert_int_eq(xgb_booster_new(&d, 1, &b, &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "booster", "gblinear", &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "objective", objective_name, &e), 0);
    if (task == TASK_MULTICLASS)
        ck_assert_int_eq(xgb_booster_param(b, "num_class", k == 3 ? "3" : "4", &e), 0);
    if (task == TASK_REGRESSION)
        ck_assert_int_eq(xgb_booster_param(b, "base_score", "7.5", &e), 0);
    ck_assert_int_eq(xgb_booster_update(b, 0, d, &e), 0);
    ck_assert_msg(xgb_linear_with_weights(b, c, W, g, &lin, &e) == 0, "%s", err_message(&e));
    float *raw = NULL;
    size_t len = 0;
    /* gblinear has no in-place prediction: through a matrix, as scoring.c */
    ck_assert_msg(xgb_predict_dmatrix(lin, d, 0, &raw, &len, &e) == 0, "%s", err_message(&e));
    size_t kk = task == TASK_REGRESSION ? 1 : k;
    float mine[N * 4];
    linfit_predict(c, X, N, W, task, k, mine);
    for (size_t i = 0; i < N; i++) {
        if (task == TASK_BINARY)
            ck_assert_double_eq_tol(raw[i], mine[2 * i + 1], 1e-5);
        else
            for (size_t j = 0; j < kk; j++)
                ck_assert_double_eq_tol(raw[i * kk + j], mine[i * kk + j],
                                        task == TASK_REGRESSION ? 1e-3 : 1e-5);
    }
    /* Wrong shape: refused. */
    void *bad = NULL;
    ck_assert_int_eq(xgb_linear_with_weights(b, c, W + 1, g, &bad, &e), -1);
    ck_assert_ptr_null(bad);
    (void)dim;
    free(raw);
    xgb_booster_free(lin);
    xgb_booster_free(b);
    xgb_dmatrix_free(d);
}

START_TEST(ml_linfit_booster_predicts_the_same)
{
    check_booster(TASK_BINARY, 2, "binary:logistic");
    check_booster(TASK_MULTICLASS, 3, "multi:softprob");
    check_booster(TASK_REGRESSION, 1, "reg:squarederror");
}
END_TEST

/* --- quantised matrices -------------------------------------------------- */

typedef struct src {
    const float *X;
    size_t w;
    int calls;
} src_t;

static void fill(void *ctx, size_t first, size_t n, float *out)
{
    src_t *s = ctx;
    s->calls++;
    memcpy(out, s->X + first * s->w, n * s->w * sizeof(float));
}

static void *train_bytes(void *dtrain, size_t *len)
{
    err_t e;
    err_clear(&e);
    void *b = NULL, *bytes = NULL;
    ck_assert_int_eq(xgb_booster_new(&dtrain, 1, &b, &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "tree_method", "hist", &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "nthread", "1", &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "max_depth", "3", &e), 0);
    for (int it = 0; it < 4; it++)
        ck_assert_msg(xgb_booster_update(b, it, dtrain, &e) == 0, "%s", err_message(&e));
    ck_assert_int_eq(xgb_booster_save(b, &bytes, len, &e), 0);
    xgb_booster_free(b);
    return bytes;
}

START_TEST(ml_linfit_qmatrix_ranges_and_fill_agree)
{
    enum { R = 200 };
    static float X[R * W], y[R], Xc[R * W], yc[R];
    make_x(X, R, W);
    for (size_t i = 0; i < R; i++)
        y[i] = X[i * W] * 2 - X[i * W + 1];
    /* Training rows around a validation block [50, 90). */
    size_t o = 0;
    for (size_t i = 0; i < R; i++) {
        if (i >= 50 && i < 90)
            continue;
        memcpy(Xc + o * W, X + i * W, W * sizeof(float));
        yc[o++] = y[i];
    }
    err_t e;
    err_clear(&e);
    xgb_rows_t ranges = {.X = X, .w = W, .label = y, .begin = {0, 90}, .end = {50, R},
                         .n_ranges = 2};
    xgb_rows_t copied = {.X = Xc, .w = W, .label = yc, .begin = {0, 0}, .end = {o, 0},
                         .n_ranges = 1};
    src_t s = {.X = X, .w = W};
    xgb_rows_t filled = ranges;
    filled.X = NULL;
    filled.fill = fill;
    filled.fill_ctx = &s;
    void *d1 = NULL, *d2 = NULL, *d3 = NULL, *dv = NULL;
    ck_assert_msg(xgb_qmatrix_new(&ranges, NULL, &d1, &e) == 0, "%s", err_message(&e));
    ck_assert_int_eq(xgb_qmatrix_new(&copied, NULL, &d2, &e), 0);
    ck_assert_int_eq(xgb_qmatrix_new(&filled, NULL, &d3, &e), 0);
    ck_assert_int_gt(s.calls, 0);
    xgb_rows_t valid = {.X = X, .w = W, .label = y, .begin = {50, 0}, .end = {90, 0},
                        .n_ranges = 1};
    ck_assert_int_eq(xgb_qmatrix_new(&valid, d1, &dv, &e), 0);
    size_t l1, l2, l3;
    void *b1 = train_bytes(d1, &l1), *b2 = train_bytes(d2, &l2), *b3 = train_bytes(d3, &l3);
    ck_assert_uint_eq(l1, l2);
    ck_assert_uint_eq(l1, l3);
    ck_assert_int_eq(memcmp(b1, b2, l1), 0);
    ck_assert_int_eq(memcmp(b1, b3, l1), 0);
    /* The validation matrix (bins of the training one) predicts 40 rows. */
    void *bst = NULL;
    float *pred = NULL;
    size_t len = 0;
    ck_assert_int_eq(xgb_booster_load(b1, l1, &bst, &e), 0);
    ck_assert_int_eq(xgb_predict_dmatrix(bst, dv, 0, &pred, &len, &e), 0);
    ck_assert_uint_eq(len, 40);
    free(pred);
    xgb_booster_free(bst);
    free(b1);
    free(b2);
    free(b3);
    xgb_dmatrix_free(d1);
    xgb_dmatrix_free(d2);
    xgb_dmatrix_free(d3);
    xgb_dmatrix_free(dv);
}
END_TEST

Suite *suite_ml_linfit(void)
{
    const TTest *const t[] = {
        ml_linfit_binary_reaches_the_optimum, ml_linfit_ridge_matches_closed_form,
        ml_linfit_multiclass_skips_the_left_out_rows, ml_linfit_booster_predicts_the_same,
        ml_linfit_qmatrix_ranges_and_fill_agree,
    };
    return unit_suite("ml_linfit", t, sizeof(t) / sizeof(t[0]));
}
