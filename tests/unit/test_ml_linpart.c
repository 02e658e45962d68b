/*
 * test_ml_linpart.c — a blend's linear member served as a dot product
 * (ml/linpart.c): its margin is linfit's, through the link the same
 * outputs linfit_predict gives; added to a tree booster's margin in
 * scoring_predict it gives the weighted blend; its JSON form reads back
 * bit for bit whatever the global double format; its contributions add up
 * to its weighted margin and depend on their own field alone; a member
 * whose inputs are not the served fields is refused; and its gblinear
 * member file predicts what it predicts.
 */
#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ml/encode.h"
#include "ml/linfit.h"
#include "ml/linpart.h"
#include "ml/scoring.h"
#include "ml/xgb.h"
#include "tests/unit/unit.h"

Suite *suite_ml_linpart(void);

#define NR 2000
#define NF 4

static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static char *levels3[] = {"red", "green", "blue"};

/* Fields: pixel (integers 0..16), flag (boolean), colour (3 levels +
 * other), reading (continuous); every field missing now and then. */
static void make_plan(enc_plan_t *pl, enc_feature_t *f)
{
    memset(f, 0, NF * sizeof(*f));
    f[0] = (enc_feature_t){.name = "pixel", .kind = ENC_NUMBER};
    f[1] = (enc_feature_t){.name = "flag", .kind = ENC_BOOLEAN};
    f[2] = (enc_feature_t){.name = "colour", .kind = ENC_CATEGORY, .n_levels = 3,
                           .levels = levels3, .other = 1};
    f[3] = (enc_feature_t){.name = "reading", .kind = ENC_NUMBER};
    *pl = (enc_plan_t){.f = f, .n = NF, .linear = 1};
}

static void make_rows(float *F, float *y, size_t n, ml_task_t task, size_t k)
{
    uint64_t s = 7;
    for (size_t i = 0; i < n; i++) {
        float *r = F + i * NF;
        r[0] = urand(&s) < 0.5 ? 0.0f : (float)(int)(urand(&s) * 17);
        r[1] = urand(&s) < 0.5 ? 1.0f : 0.0f;
        r[2] = (float)(int)(urand(&s) * 4); /* code 3 = other */
        r[3] = (float)(urand(&s) * 100 - 30);
        for (size_t j = 0; j < NF; j++)
            if (urand(&s) < 0.05)
                r[j] = NAN;
        double z = 0.2 * (isnan(r[0]) ? 5 : r[0]) - 2 * (r[1] == 1.0f) + (r[2] == 3.0f) +
                   0.03 * (isnan(r[3]) ? 20 : r[3]) + urand(&s) * 3;
        y[i] = task == TASK_REGRESSION ? (float)z
               : task == TASK_BINARY   ? (z > 2.5 ? 1.0f : 0.0f)
                                       : (float)((size_t)(z + 10) % k);
    }
}

/* A fitted linear model on the fixture and its part at weight w. */
typedef struct lcase {
    enc_feature_t f[NF];
    enc_plan_t plan;
    float *F, *y, *X;
    size_t w, g, kk;
    double *coef;
    linpart_t *lp;
} lcase_t;

static void lcase_make(lcase_t *c, ml_task_t task, size_t k, double weight)
{
    make_plan(&c->plan, c->f);
    c->F = malloc(NR * NF * sizeof(float));
    c->y = malloc(NR * sizeof(float));
    make_rows(c->F, c->y, NR, task, k);
    enc_fit_linear(&c->plan, c->F, NR, 0);
    c->w = enc_linear_width(&c->plan);
    c->g = linfit_groups(task, k);
    c->kk = task == TASK_REGRESSION ? 1 : k;
    c->X = malloc(NR * c->w * sizeof(float));
    for (size_t i = 0; i < NR; i++)
        enc_expand_linear(&c->plan, c->F + i * NF, c->X + i * c->w);
    c->coef = calloc((c->w + 1) * c->g, sizeof(double));
    linfit_problem_t p = {.X = c->X, .n = NR, .w = c->w, .y = c->y, .task = task, .k = k};
    ck_assert_int_ge(linfit_fit(&p, 1.0, c->coef, 400, INFINITY, NULL), 1);
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(linpart_new(&c->plan, c->coef, c->g, weight, c->X, NR, &c->lp, &e), 0);
}

static void lcase_free(lcase_t *c)
{
    linpart_free(c->lp);
    free(c->F);
    free(c->y);
    free(c->X);
    free(c->coef);
}

/* link(margin) of row i into out (kk values): linfit_predict's layout. */
static void link_row(ml_task_t task, size_t g, const double *z, float *out)
{
    if (task == TASK_REGRESSION) {
        out[0] = (float)z[0];
    } else if (task == TASK_BINARY) {
        out[1] = (float)(1 / (1 + exp(-z[0])));
        out[0] = 1 - out[1];
    } else {
        double s = 0;
        for (size_t c = 0; c < g; c++)
            s += exp(z[c]);
        for (size_t c = 0; c < g; c++)
            out[c] = (float)(exp(z[c]) / s);
    }
}

static void margin_is_linfit(ml_task_t task, size_t k)
{
    lcase_t c;
    lcase_make(&c, task, k, 1.0);
    size_t kk = task == TASK_BINARY ? 2 : c.kk;
    double *z = calloc(NR * c.g, sizeof(double));
    float *lp = malloc(NR * kk * sizeof(float)), got[16];
    ck_assert_int_eq(linpart_add_margin(c.lp, c.F, NR, z), 0);
    linfit_predict(c.coef, c.X, NR, c.w, task, k, lp);
    for (size_t i = 0; i < NR; i++) {
        link_row(task, c.g, z + i * c.g, got);
        for (size_t j = 0; j < kk; j++)
            ck_assert_msg(fabs(got[j] - lp[i * kk + j]) < 1e-5, "row %zu: %g vs %g", i, got[j],
                          lp[i * kk + j]);
    }
    free(z);
    free(lp);
    lcase_free(&c);
}

START_TEST(ml_linpart_margin_is_linfit_binary)
{
    margin_is_linfit(TASK_BINARY, 2);
}
END_TEST

START_TEST(ml_linpart_margin_is_linfit_multiclass)
{
    margin_is_linfit(TASK_MULTICLASS, 3);
}
END_TEST

START_TEST(ml_linpart_margin_is_linfit_regression)
{
    margin_is_linfit(TASK_REGRESSION, 1);
}
END_TEST

START_TEST(ml_linpart_adds_to_the_trees_margin)
{
    /* scoring_predict with a tree booster and a member at weight 0.3:
     * sigmoid(trees' margin + 0.3 x the linear margin). */
    lcase_t c;
    lcase_make(&c, TASK_BINARY, 2, 0.3);
    char *names[NF] = {"pixel", "flag", "colour", "reading"};
    char *types[NF] = {"q", "q", "c", "q"};
    void *d = NULL, *tree = NULL;
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(xgb_dmatrix_new(c.F, NR, NF, names, types, c.y, NULL, &d, &e), 0);
    ck_assert_int_eq(xgb_booster_new(&d, 1, &tree, &e), 0);
    ck_assert_int_eq(xgb_booster_param(tree, "objective", "binary:logistic", &e), 0);
    ck_assert_int_eq(xgb_booster_param(tree, "tree_method", "hist", &e), 0);
    ck_assert_int_eq(xgb_booster_param(tree, "nthread", "1", &e), 0);
    ck_assert_int_eq(xgb_booster_features(tree, names, types, NF, &e), 0);
    for (int it = 0; it < 5; it++)
        ck_assert_int_eq(xgb_booster_update(tree, it, d, &e), 0);
    enc_plan_t tp = c.plan;
    tp.linear = 0;
    float *tm = NULL, *both = NULL;
    size_t len = 0;
    ck_assert_int_eq(xgb_predict_dense_margin(tree, c.F, 100, NF, &tm, &len, &e), 0);
    ck_assert_uint_eq(len, 100);
    ck_assert_msg(scoring_predict(&tp, tree, c.lp, TASK_BINARY, 2, c.F, 100, &both, &e) == 0,
                  "%s", e.items[0].message);
    double *z = calloc(100, sizeof(double));
    ck_assert_int_eq(linpart_add_margin(c.lp, c.F, 100, z), 0);
    for (size_t i = 0; i < 100; i++) {
        double want = 1 / (1 + exp(-(tm[i] + z[i])));
        ck_assert_msg(fabs(both[2 * i + 1] - want) < 1e-6 && fabs(both[2 * i] - (1 - want)) < 1e-6,
                      "row %zu: %g vs %g", i, both[2 * i + 1], want);
    }
    free(z);
    free(tm);
    free(both);
    xgb_booster_free(tree);
    xgb_dmatrix_free(d);
    lcase_free(&c);
}
END_TEST

START_TEST(ml_linpart_json_reads_back_exactly)
{
    /* API answers use a short double format; the recipe must not. */
    lcase_t c;
    lcase_make(&c, TASK_MULTICLASS, 3, 0.4);
    json_c_set_serialization_double_format("%.3g", JSON_C_OPTION_GLOBAL);
    json_object *o = linpart_to_json(c.lp);
    ck_assert_ptr_nonnull(o);
    const char *txt = json_object_to_json_string(o);
    json_object *back = json_tokener_parse(txt);
    json_c_set_serialization_double_format(NULL, JSON_C_OPTION_GLOBAL);
    ck_assert_ptr_nonnull(back);
    linpart_t *r = NULL;
    err_t e;
    err_clear(&e);
    ck_assert_msg(linpart_from_json(back, 0.4, &c.plan, 3, &r, &e) == 0, "%s",
                  e.items[0].message);
    ck_assert_uint_eq(r->width, c.lp->width);
    ck_assert_int_eq(memcmp(r->coef, c.lp->coef, (r->width + 1) * 3 * sizeof(double)), 0);
    ck_assert_int_eq(memcmp(r->mean, c.lp->mean, r->width * sizeof(double)), 0);
    for (size_t j = 0; j < NF; j++)
        ck_assert(r->plan.f[j].mean == c.lp->plan.f[j].mean &&
                  r->plan.f[j].scale == c.lp->plan.f[j].scale);
    linpart_free(r);
    /* Another model's member: the fields differ, or the table's shape. */
    enc_feature_t f2[NF];
    enc_plan_t other;
    make_plan(&other, f2);
    f2[3].name = "temperature";
    ck_assert_int_eq(linpart_from_json(back, 0.4, &other, 3, &r, &e), -1);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(linpart_from_json(back, 0.4, &c.plan, 2, &r, &e), -1);
    json_object *coef;
    json_object_object_get_ex(back, "coefficients", &coef);
    json_object_array_del_idx(coef, 0, 1);
    ck_assert_int_eq(linpart_from_json(back, 0.4, &c.plan, 3, &r, &e), -1);
    json_object_put(back);
    json_object_put(o);
    lcase_free(&c);
}
END_TEST

START_TEST(ml_linpart_contributions_add_up_per_field)
{
    lcase_t c;
    lcase_make(&c, TASK_MULTICLASS, 3, 0.5);
    size_t n = 50, stride = NF + 1;
    float *ct = calloc(n * 3 * stride, sizeof(float));
    double *z = calloc(n * 3, sizeof(double));
    ck_assert_int_eq(linpart_add_contrib(c.lp, c.F, n, ct), 0);
    ck_assert_int_eq(linpart_add_margin(c.lp, c.F, n, z), 0);
    for (size_t i = 0; i < n; i++)
        for (size_t g = 0; g < 3; g++) {
            const float *row = ct + (i * 3 + g) * stride;
            double s = 0;
            for (size_t j = 0; j <= NF; j++)
                s += row[j];
            ck_assert_msg(fabs(s - z[i * 3 + g]) < 1e-4, "row %zu class %zu: %g vs %g", i, g,
                          s, z[i * 3 + g]);
        }
    /* Changing the colour changes the colour's contribution only, and the
     * bias (the margin at the means) is the same for every row. */
    float two[2 * NF];
    memcpy(two, c.F, NF * sizeof(float));
    memcpy(two + NF, c.F, NF * sizeof(float));
    two[2] = 0.0f;
    two[NF + 2] = 2.0f;
    float ct2[2 * 3 * (NF + 1)] = {0};
    ck_assert_int_eq(linpart_add_contrib(c.lp, two, 2, ct2), 0);
    for (size_t g = 0; g < 3; g++)
        for (size_t j = 0; j <= NF; j++) {
            float a = ct2[g * stride + j], b = ct2[(3 + g) * stride + j];
            if (j == 2)
                ck_assert(a != b);
            else
                ck_assert(a == b);
        }
    free(ct);
    free(z);
    lcase_free(&c);
}
END_TEST

START_TEST(ml_linpart_member_file_is_the_member)
{
    /* The download's member file: stock XGBoost's gblinear on the expanded
     * input predicts the member alone (weight taken out). */
    lcase_t c;
    lcase_make(&c, TASK_MULTICLASS, 3, 0.25);
    void *bytes = NULL, *b = NULL, *d = NULL;
    size_t len = 0, plen = 0;
    err_t e;
    err_clear(&e);
    ck_assert_msg(linpart_member_file(c.lp, TASK_MULTICLASS, 3, &bytes, &len, &e) == 0, "%s",
                  e.items[0].message);
    ck_assert_int_eq(xgb_booster_load(bytes, len, &b, &e), 0);
    ck_assert_int_eq(xgb_dmatrix_new(c.X, 100, c.w, NULL, NULL, NULL, NULL, &d, &e), 0);
    float *pr = NULL, *lp = malloc(100 * 3 * sizeof(float));
    ck_assert_int_eq(xgb_predict_dmatrix(b, d, 0, &pr, &plen, &e), 0);
    ck_assert_uint_eq(plen, 300);
    linfit_predict(c.coef, c.X, 100, c.w, TASK_MULTICLASS, 3, lp);
    for (size_t i = 0; i < 300; i++)
        ck_assert_msg(fabs(pr[i] - lp[i]) < 1e-5, "%zu: %g vs %g", i, pr[i], lp[i]);
    free(pr);
    free(lp);
    free(bytes);
    xgb_booster_free(b);
    xgb_dmatrix_free(d);
    lcase_free(&c);
}
END_TEST

Suite *suite_ml_linpart(void)
{
    const TTest *const t[] = {
        ml_linpart_margin_is_linfit_binary, ml_linpart_margin_is_linfit_multiclass,
        ml_linpart_margin_is_linfit_regression, ml_linpart_adds_to_the_trees_margin,
        ml_linpart_json_reads_back_exactly, ml_linpart_contributions_add_up_per_field,
        ml_linpart_member_file_is_the_member,
    };
    return unit_suite("ml_linpart", t, sizeof(t) / sizeof(t[0]));
}
