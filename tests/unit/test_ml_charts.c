/*
 * test_ml_charts.c — the console's chart data (ml/metrics.c: confusion
 * matrix, ROC and precision-recall points, residual sample) against values
 * worked out by hand, and the thinning of long curves.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/metrics.h"
#include "tests/unit/unit.h"

Suite *suite_ml_charts(void);

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, k, &v), "missing key %s", k);
    return v;
}

static double at(json_object *arr, size_t i, size_t j)
{
    return json_object_get_double(json_object_array_get_idx(json_object_array_get_idx(arr, i), j));
}

START_TEST(ml_charts_confusion_matrix_multiclass)
{
    /* predicted 0,1,2,0 for actual 0,1,1,2 -> rows = actual, columns = predicted. */
    float p[12] = {0.7f, 0.2f, 0.1f, 0.1f, 0.8f, 0.1f, 0.3f, 0.3f, 0.4f, 0.6f, 0.3f, 0.1f};
    int y[4] = {0, 1, 1, 2};
    const char *names[3] = {"a", "b", "c"};
    json_object *c = metric_class_charts(names, p, y, 4, 3);
    json_object *cm = get(c, "confusion_matrix"), *m = get(cm, "matrix");
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(get(cm, "labels"), 2)), "c");
    static const int want[3][3] = {{1, 0, 0}, {0, 1, 1}, {1, 0, 0}};
    for (size_t a = 0; a < 3; a++)
        for (size_t q = 0; q < 3; q++)
            ck_assert_int_eq((int)at(m, a, q), want[a][q]);
    /* Curves only for binary tasks. */
    ck_assert(!json_object_object_get_ex(c, "roc", NULL));
    ck_assert(!json_object_object_get_ex(c, "pr", NULL));
    json_object_put(c);
}
END_TEST

START_TEST(ml_charts_binary_curves_by_hand)
{
    /* Scores for class 1: pos {0.9, 0.4}, neg {0.5, 0.1}. Thresholds from
     * the top: 0.9 -> tpr .5 fpr 0 prec 1; 0.5 -> .5, .5, .5; 0.4 -> 1, .5,
     * 2/3; 0.1 -> 1, 1, .5. AUC 0.75 as metric_auc; AP = .5*1 + .5*2/3. */
    float s[4] = {0.9f, 0.4f, 0.5f, 0.1f};
    float p[8];
    for (size_t i = 0; i < 4; i++) {
        p[i * 2] = 1 - s[i];
        p[i * 2 + 1] = s[i];
    }
    int y[4] = {1, 1, 0, 0};
    const char *names[2] = {"No", "Yes"};
    json_object *c = metric_class_charts(names, p, y, 4, 2);
    json_object *roc = get(c, "roc"), *pr = get(c, "pr");
    ck_assert_str_eq(json_object_get_string(get(roc, "positive")), "Yes");
    ck_assert_double_eq_tol(json_object_get_double(get(roc, "auc")), metric_auc(s, y, 4), 1e-9);
    ck_assert_double_eq_tol(json_object_get_double(get(roc, "auc")), 0.75, 1e-9);
    json_object *rp = get(roc, "points"), *pp = get(pr, "points");
    ck_assert_uint_eq(json_object_array_length(rp), 5); /* (0,0) + 4 thresholds */
    static const double fpr[5] = {0, 0, .5, .5, 1}, tpr[5] = {0, .5, .5, 1, 1};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_double_eq_tol(at(rp, i, 0), fpr[i], 1e-9);
        ck_assert_double_eq_tol(at(rp, i, 1), tpr[i], 1e-9);
    }
    static const double prec[4] = {1, .5, 2.0 / 3.0, .5};
    static const float thr[4] = {0.9f, 0.5f, 0.4f, 0.1f};
    ck_assert_uint_eq(json_object_array_length(pp), 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_double_eq_tol(at(pp, i, 1), prec[i], 1e-4); /* 5 digits written */
        ck_assert_double_eq_tol(at(pp, i, 2), (double)thr[i], 1e-6);
    }
    ck_assert_double_eq_tol(json_object_get_double(get(pr, "average_precision")),
                            0.5 + 0.5 * 2.0 / 3.0, 1e-9);
    json_object_put(c);
}
END_TEST

START_TEST(ml_charts_long_curve_thinned_to_cap)
{
    /* 5000 distinct scores: the curve keeps at most METRIC_CURVE_POINTS
     * points, starts at (0,0), ends at (1,1), and its AUC is still the
     * exact one (computed before thinning). */
    size_t n = 5000;
    float *p = malloc(n * 2 * sizeof(*p)), *s = malloc(n * sizeof(*s));
    int *y = malloc(n * sizeof(*y));
    uint64_t r = 7;
    for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        s[i] = (float)((double)(r >> 40) / (double)(1ULL << 24));
        y[i] = (s[i] + (double)(i % 7) / 10.0) > 0.8;
        p[i * 2] = 1 - s[i];
        p[i * 2 + 1] = s[i];
    }
    const char *names[2] = {"0", "1"};
    json_object *c = metric_class_charts(names, p, y, n, 2);
    json_object *rp = get(get(c, "roc"), "points");
    size_t len = json_object_array_length(rp);
    ck_assert_uint_le(len, METRIC_CURVE_POINTS);
    ck_assert_uint_ge(len, METRIC_CURVE_POINTS / 2);
    ck_assert_double_eq_tol(at(rp, 0, 0), 0, 1e-12);
    ck_assert_double_eq_tol(at(rp, len - 1, 0), 1, 1e-12);
    ck_assert_double_eq_tol(at(rp, len - 1, 1), 1, 1e-12);
    for (size_t i = 1; i < len; i++)
        ck_assert(at(rp, i, 0) >= at(rp, i - 1, 0) && at(rp, i, 1) >= at(rp, i - 1, 1));
    /* Written with 5 significant digits, not json-c's 17: a point is at
     * most 3 x "0.12345" plus punctuation. */
    ck_assert_uint_le(strlen(json_object_to_json_string_ext(rp, JSON_C_TO_STRING_PLAIN)),
                      len * 3 * 8 + len * 3 + 2);
    ck_assert_double_eq_tol(json_object_get_double(get(get(c, "roc"), "auc")), metric_auc(s, y, n),
                            1e-9);
    json_object_put(c);
    free(p);
    free(s);
    free(y);
}
END_TEST

START_TEST(ml_charts_residual_sample)
{
    float y[3] = {1, 2, 3}, pr[3] = {1.5f, 2, 2};
    json_object *c = metric_regression_charts(pr, y, 3);
    json_object *r = get(c, "residuals");
    ck_assert_int_eq(json_object_get_int(get(r, "count")), 3);
    ck_assert_uint_eq(json_object_array_length(get(r, "actual")), 3);
    ck_assert_double_eq_tol(json_object_get_double(json_object_array_get_idx(get(r, "predicted"), 0)),
                            1.5, 1e-9);
    json_object_put(c);
    /* Many rows: an even sample of METRIC_RESIDUAL_SAMPLE, pairs kept aligned. */
    size_t n = 10007;
    float *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)i;
        b[i] = (float)i + 0.5f;
    }
    c = metric_regression_charts(b, a, n);
    r = get(c, "residuals");
    json_object *aa = get(r, "actual"), *bb = get(r, "predicted");
    ck_assert_uint_eq(json_object_array_length(aa), METRIC_RESIDUAL_SAMPLE);
    for (size_t i = 0; i < METRIC_RESIDUAL_SAMPLE; i++)
        ck_assert_double_eq_tol(json_object_get_double(json_object_array_get_idx(bb, i)) -
                                    json_object_get_double(json_object_array_get_idx(aa, i)),
                                0.5, 1e-9);
    ck_assert_double_eq_tol(json_object_get_double(json_object_array_get_idx(aa, 499)),
                            (double)(499 * n / 500), 1e-9);
    json_object_put(c);
    free(a);
    free(b);
}
END_TEST

Suite *suite_ml_charts(void)
{
    const TTest *const t[] = {
        ml_charts_confusion_matrix_multiclass, ml_charts_binary_curves_by_hand,
        ml_charts_long_curve_thinned_to_cap, ml_charts_residual_sample,
    };
    return unit_suite("ml_charts", t, sizeof(t) / sizeof(t[0]));
}
