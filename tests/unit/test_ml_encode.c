/*
 * test_ml_encode.c — task detection, feature plans and encodings, metrics
 * (ml/task.c, ml/encode.c, ml/metrics.c). No XGBoost here.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/data.h"
#include "ml/encode.h"
#include "ml/metrics.h"
#include "ml/task.h"
#include "tests/unit/unit.h"

Suite *suite_ml_encode(void);

static ml_data_t *data_from(const char *text)
{
    err_t e;
    err_clear(&e);
    ml_data_t *d = ml_data_new(NULL);
    ck_assert_int_eq(ml_data_feed(d, text, strlen(text), &e), 0);
    ck_assert_msg(ml_data_finish(d, &e) == 0, "%s", err_message(&e));
    return d;
}

/* A CSV of n rows whose column "y" is produced by fn(i). */
static char *csv_with(size_t n, const char *(*fn)(size_t i, char *buf))
{
    size_t cap = 64 + n * 64;
    char *s = malloc(cap), buf[32];
    size_t len = (size_t)snprintf(s, cap, "x,y\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%zu.5,%s\n", i % 13, fn(i, buf));
    return s;
}

static const char *y_binary(size_t i, char *b) { snprintf(b, 32, "%zu", i % 2); return b; }
static const char *y_digit(size_t i, char *b) { snprintf(b, 32, "%zu", i % 10); return b; }
static const char *y_real(size_t i, char *b) { snprintf(b, 32, "%zu.25", i % 37); return b; }
static const char *y_text(size_t i, char *b) { return i % 5 == 0 ? "" : i % 3 ? "cat" : "dog"; (void)b; }

static void detect(const char *(*fn)(size_t, char *), const char *override, task_info_t *t,
                   int expect_rc, err_t *e)
{
    char *csv = csv_with(100, fn);
    ml_data_t *d = data_from(csv);
    free(csv);
    err_clear(e);
    ck_assert_int_eq(task_detect(d, 1, override, t, e), expect_rc);
    ml_data_free(d);
}

START_TEST(ml_encode_task_detection)
{
    task_info_t t;
    err_t e;
    detect(y_binary, NULL, &t, 0, &e);
    ck_assert_int_eq(t.task, TASK_BINARY);
    ck_assert_uint_eq(t.k, 2);
    ck_assert_str_eq(t.classes[0], "0");
    ck_assert_ptr_nonnull(strstr(t.reason, "2 distinct integer values"));
    task_info_free(&t);

    detect(y_digit, NULL, &t, 0, &e);
    ck_assert_int_eq(t.task, TASK_MULTICLASS);
    ck_assert_uint_eq(t.k, 10);
    ck_assert_str_eq(t.classes[9], "9");
    ck_assert(t.y[3] == 3.0f);
    task_info_free(&t);

    detect(y_real, NULL, &t, 0, &e);
    ck_assert_int_eq(t.task, TASK_REGRESSION);
    ck_assert_ptr_nonnull(strstr(t.reason, "regression"));
    task_info_free(&t);

    /* Rows with a missing target are left out; text classes sorted. */
    detect(y_text, NULL, &t, 0, &e);
    ck_assert_int_eq(t.task, TASK_BINARY);
    ck_assert_uint_eq(t.n, 80);
    ck_assert_str_eq(t.classes[0], "cat");
    ck_assert_str_eq(t.classes[1], "dog");
    ck_assert_uint_eq(t.rows[0], 1);
    task_info_free(&t);

    /* Overrides. */
    detect(y_binary, "regression", &t, 0, &e);
    ck_assert_int_eq(t.task, TASK_REGRESSION);
    ck_assert_ptr_nonnull(strstr(t.reason, "set by the spec"));
    task_info_free(&t);
    detect(y_text, "regression", &t, -1, &e);
    ck_assert_int_eq(e.status, 400);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "regression needs numbers"));
    task_info_free(&t);
    detect(y_digit, "binary", &t, -1, &e);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "not binary"));
    task_info_free(&t);
    detect(y_digit, "sideways", &t, -1, &e);
    ck_assert_str_eq(e.items[0].field, "task");
    task_info_free(&t);
}
END_TEST

START_TEST(ml_encode_plan_drops_and_levels)
{
    /* id (text, unique), seq (integer sequence), const, ign, city (high
     * cardinality with rare levels), flag, num, y */
    size_t n = 300;
    size_t cap = n * 96 + 128;
    char *s = malloc(cap);
    size_t len = (size_t)snprintf(s, cap, "id,seq,const,ign,city,flag,num,y\n");
    for (size_t i = 0; i < n; i++) {
        char city[32];
        if (i % 3 == 0)
            snprintf(city, sizeof(city), "rare%zu", i); /* seen once: folded */
        else
            snprintf(city, sizeof(city), "c%zu", i % 4);
        char num[16] = "";
        if (i != 5)
            snprintf(num, sizeof(num), "%zu.5", i % 4);
        len += (size_t)snprintf(s + len, cap - len, "u%zu,%zu,7,%zu,%s,%s,%s,%zu\n", i * 7919 % 1000,
                                i + 1, i, city, i % 2 ? "true" : "false", num, i % 2);
    }
    ml_data_t *d = data_from(s);
    free(s);
    json_object *ignore = json_object_new_array();
    json_object_array_add(ignore, json_object_new_string("ign"));
    json_object *dropped = json_object_new_array();
    enc_plan_t p;
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(enc_plan_build(&p, d, 7, ignore, dropped, &e), 0);
    const char *want[][2] = {{"id", "id-like"}, {"seq", "id-like"}, {"const", "constant"},
                             {"ign", "ignored"}};
    ck_assert_uint_eq(json_object_array_length(dropped), 4);
    for (size_t i = 0; i < 4; i++) {
        json_object *o = json_object_array_get_idx(dropped, i), *f, *r;
        json_object_object_get_ex(o, "field", &f);
        json_object_object_get_ex(o, "reason", &r);
        ck_assert_str_eq(json_object_get_string(f), want[i][0]);
        ck_assert_ptr_nonnull(strstr(json_object_get_string(r), want[i][1]));
    }
    ck_assert_uint_eq(p.n, 3);
    ck_assert_str_eq(p.f[0].name, "city");
    ck_assert_int_eq(p.f[0].kind, ENC_CATEGORY);
    ck_assert_uint_eq(p.f[0].n_levels, 4);
    ck_assert(p.f[0].other);
    ck_assert_int_eq(p.f[1].kind, ENC_BOOLEAN);
    ck_assert_int_eq(p.f[2].kind, ENC_NUMBER);
    /* Field rows: rare level -> other (4), c1 -> its code, bools, NaN. */
    size_t rows[3] = {0, 1, 5};
    float F[9];
    enc_fill_rows(&p, d, rows, 3, F);
    ck_assert(F[0] == 4.0f);                       /* rare0 -> other */
    ck_assert(F[3] < 4.0f && F[3] >= 0.0f);         /* c1 */
    ck_assert_str_eq(p.f[0].levels[(size_t)F[3]], "c1");
    ck_assert(F[1] == 0.0f && F[4] == 1.0f);
    ck_assert(isnan(F[8]) && F[5] == 1.5f);
    /* Text -> value as the API does it. */
    float v;
    ck_assert_int_eq(enc_value_from_text(&p.f[0], " c2 ", 4, &v), 0);
    ck_assert_str_eq(p.f[0].levels[(size_t)v], "c2");
    ck_assert_int_eq(enc_value_from_text(&p.f[0], "never-seen", 10, &v), 0);
    ck_assert(v == 4.0f);
    ck_assert_int_eq(enc_value_from_text(&p.f[2], "abc", 3, &v), -1);
    ck_assert_int_eq(enc_value_from_text(&p.f[1], "yes", 3, &v), 0);
    ck_assert(v == 1.0f);
    ck_assert_int_eq(enc_value_from_text(&p.f[1], "maybe", 5, &v), -1);
    /* Round trip through the preprocess JSON. */
    json_object *j = enc_plan_to_json(&p);
    enc_plan_t q;
    ck_assert_int_eq(enc_plan_from_json(&q, j, 0, &e), 0);
    ck_assert_uint_eq(q.n, 3);
    ck_assert_uint_eq(q.f[0].n_levels, 4);
    ck_assert_str_eq(q.f[0].levels[0], p.f[0].levels[0]);
    ck_assert_int_eq(q.f[0].other, 1);
    enc_plan_free(&q);
    json_object_put(j);
    enc_plan_free(&p);
    json_object_put(ignore);
    json_object_put(dropped);
    ml_data_free(d);
}
END_TEST

/* d's plan (the target in column target) with its first n rows as field
 * rows in F and the linear standardisation fitted on them: a linear plan. */
/* Returns the features marked log1p (log_skewed: enc_fit_linear). */
static size_t fit_linear_plan(ml_data_t *d, size_t target, size_t n, float *F, enc_plan_t *p,
                              int log_skewed)
{
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(enc_plan_build(p, d, target, NULL, NULL, &e), 0);
    size_t rows[16];
    ck_assert_uint_le(n, 16);
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    enc_fill_rows(p, d, rows, n, F);
    size_t marked = enc_fit_linear(p, F, n, log_skewed);
    p->linear = 1;
    return marked;
}

START_TEST(ml_encode_linear_expansion)
{
    ml_data_t *d = data_from("a,c,y\n1,x,0\n3,y,1\n,x,0\n5,z,1\n5,y,0\n1,z,1\n");
    enc_plan_t p;
    float F[12];
    fit_linear_plan(d, 2, 6, F, &p, 0);
    ck_assert_double_eq_tol(p.f[0].mean, 3.0, 1e-9);
    ck_assert_double_eq_tol(p.f[0].scale, sqrt(3.2), 1e-6);
    ck_assert_uint_eq(enc_linear_width(&p), 1 + 3);
    float out[4];
    enc_expand_linear(&p, F, out); /* a=1, c=x */
    ck_assert_double_eq_tol(out[0], -2.0 / sqrt(3.2), 1e-6);
    ck_assert(out[1 + (size_t)F[1]] == 1.0f);
    ck_assert(out[1] + out[2] + out[3] == 1.0f);
    enc_expand_linear(&p, F + 4, out); /* a missing -> its median, 3 here as the mean */
    ck_assert(p.f[0].imputed && p.f[0].impute == 3.0);
    ck_assert(out[0] == 0.0f);
    char **names, **types;
    size_t n;
    ck_assert_int_eq(enc_feature_info(&p, &names, &types, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(names[0], "a");
    ck_assert_ptr_nonnull(strstr(names[1], "c="));
    enc_names_free(names, n);
    enc_names_free(types, n);
    enc_plan_free(&p);
    ml_data_free(d);
}
END_TEST

/* A missing number stands for the training median, not the mean (0 after
 * standardising): a skewed column's median is far from its mean. A model
 * written without "impute" still reads a missing value as 0. */
START_TEST(ml_encode_linear_missing_is_the_median)
{
    ml_data_t *d = data_from("a,y\n1,0\n1,1\n2,0\n100,1\n,0\n4,1\n");
    enc_plan_t p;
    err_t e;
    err_clear(&e);
    float F[6];
    fit_linear_plan(d, 1, 6, F, &p, 0);
    ck_assert(p.f[0].imputed && p.f[0].impute == 2.0);  /* of 1, 1, 2, 4, 100 */
    ck_assert_double_eq_tol(p.f[0].mean, 21.6, 1e-9);
    float out[1];
    enc_expand_linear(&p, F + 4, out);
    ck_assert(out[0] == (float)((2.0 - p.f[0].mean) / p.f[0].scale) && out[0] < -0.45f);
    json_object *j = enc_plan_to_json(&p);
    json_object *f0 = json_object_array_get_idx(j, 0), *v = NULL;
    ck_assert(json_object_object_get_ex(f0, "impute", &v) && json_object_get_double(v) == 2.0);
    json_object_object_del(f0, "impute");
    enc_plan_t q;
    ck_assert_int_eq(enc_plan_from_json(&q, j, 1, &e), 0);
    enc_expand_linear(&q, F + 4, out);
    ck_assert(!q.f[0].imputed && out[0] == 0.0f);
    enc_plan_free(&q);
    json_object_put(j);
    enc_plan_free(&p);
    ml_data_free(d);
}
END_TEST

/* A linear model's standardisation survives the preprocess JSON exactly,
 * under the 15-digit format the programs set for every other double
 * (values near 1e6 with a small spread need all 17 digits). */
START_TEST(ml_encode_linear_standardisation_exact_in_json)
{
    ml_data_t *d = data_from("a,b,y\n1000000.125,0.1,0\n1000000.25,0.2,1\n1000000.0625,0.7,0\n"
                             "1000000.5,0.3,1\n1000000.375,0.11,0\n1000000.1875,0.9,1\n"
                             "1000000.4375,0.13,1\n");
    enc_plan_t p;
    err_t e;
    err_clear(&e);
    float F[14];
    fit_linear_plan(d, 2, 7, F, &p, 0);
    json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);
    json_object *j = enc_plan_to_json(&p);
    char *text = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    json_c_set_serialization_double_format(NULL, JSON_C_OPTION_GLOBAL);
    json_object_put(j);
    /* 15 digits would not do: the test is only worth its name if so. */
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", p.f[0].mean);
    ck_assert(strtod(buf, NULL) != p.f[0].mean || strtod(buf, NULL) != p.f[1].mean);
    json_object *back = json_tokener_parse(text);
    free(text);
    enc_plan_t q;
    ck_assert_int_eq(enc_plan_from_json(&q, back, 1, &e), 0);
    for (size_t k = 0; k < 2; k++) {
        ck_assert(q.f[k].mean == p.f[k].mean);
        ck_assert(q.f[k].scale == p.f[k].scale);
        ck_assert(q.f[k].imputed && q.f[k].impute == p.f[k].impute);
    }
    enc_plan_free(&q);
    json_object_put(back);
    enc_plan_free(&p);
    ml_data_free(d);
}
END_TEST

/* The log1p input (enc_fit_linear's log_skewed): only a right-skewed
 * number with no value below 0 is marked; its standardisation is that of
 * log1p(x); a value below 0 at prediction is read as 0 and a missing one
 * as log1p of the median; "transform" survives the JSON, and a reader
 * refuses one it cannot apply. */
START_TEST(ml_encode_linear_log1p_of_skewed_numbers)
{
    /* a: skewed, >= 0; b: symmetric; c: skewed with a value below 0. */
    ml_data_t *d = data_from("a,b,c,y\n1,3,-1,0\n1,1,0,1\n2,2,0,0\n100,3,50,1\n,2,1,0\n"
                             "4,1,2,1\n1,2,0,0\n");
    enc_plan_t p;
    err_t e;
    float F[21];
    ck_assert_uint_eq(fit_linear_plan(d, 3, 7, F, &p, 1), 1);
    ck_assert_uint_eq(p.n, 3);
    ck_assert(p.f[0].log1p && !p.f[1].log1p && !p.f[2].log1p);
    ck_assert(enc_plan_transforms(&p));
    static const double a[] = {1, 1, 2, 100, 4, 1};
    double s = 0, s2 = 0;
    for (size_t i = 0; i < 6; i++) {
        s += log1p(a[i]);
        s2 += log1p(a[i]) * log1p(a[i]);
    }
    double mean = s / 6, scale = sqrt(s2 / 6 - mean * mean);
    ck_assert_double_eq_tol(p.f[0].mean, mean, 1e-12);
    ck_assert_double_eq_tol(p.f[0].scale, scale, 1e-12);
    ck_assert(p.f[0].impute == 1.5); /* the median in the field's own units */
    float out[3];
    enc_expand_linear(&p, F + 3 * 3, out); /* a = 100 */
    ck_assert(out[0] == (float)((log1p(100.0) - p.f[0].mean) / p.f[0].scale));
    ck_assert(out[1] == (float)((3.0 - p.f[1].mean) / p.f[1].scale));
    enc_expand_linear(&p, F + 4 * 3, out); /* a missing */
    ck_assert(out[0] == (float)((log1p(1.5) - p.f[0].mean) / p.f[0].scale));
    const float below[3] = {-5.0f, 1.0f, -1.0f};
    enc_expand_linear(&p, below, out);
    ck_assert(out[0] == (float)((0.0 - p.f[0].mean) / p.f[0].scale));
    ck_assert(out[2] == (float)((-1.0 - p.f[2].mean) / p.f[2].scale));
    /* Without log_skewed nothing is marked. */
    enc_plan_t raw;
    ck_assert_uint_eq(fit_linear_plan(d, 3, 7, F, &raw, 0), 0);
    ck_assert(!enc_plan_transforms(&raw) && raw.f[0].mean == 109.0 / 6);
    enc_plan_free(&raw);
    /* The JSON keeps it, and reads back to the same input. */
    json_object *j = enc_plan_to_json(&p), *v = NULL;
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(j, 0), "transform", &v));
    ck_assert_str_eq(json_object_get_string(v), "log1p");
    ck_assert(!json_object_object_get_ex(json_object_array_get_idx(j, 1), "transform", &v));
    enc_plan_t q;
    err_clear(&e);
    ck_assert_int_eq(enc_plan_from_json(&q, j, 1, &e), 0);
    float back[3];
    enc_expand_linear(&q, below, back);
    enc_expand_linear(&p, below, out);
    ck_assert(memcmp(out, back, sizeof(out)) == 0 && q.f[0].log1p && !q.f[1].log1p);
    enc_plan_free(&q);
    /* Refused: a transform on a tree model's input, an unknown one, one
     * on a category. */
    err_clear(&e);
    ck_assert_int_eq(enc_plan_from_json(&q, j, 0, &e), -1);
    ck_assert_str_eq(e.items[0].code, "model_invalid");
    enc_plan_free(&q);
    json_object_object_add(json_object_array_get_idx(j, 0), "transform",
                           json_object_new_string("sqrt"));
    err_clear(&e);
    ck_assert_int_eq(enc_plan_from_json(&q, j, 1, &e), -1);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "sqrt"));
    enc_plan_free(&q);
    json_object_put(j);
    j = json_tokener_parse("[{\"name\":\"c\",\"kind\":\"category\",\"levels\":[\"x\"],"
                   "\"transform\":\"log1p\"}]");
    err_clear(&e);
    ck_assert_int_eq(enc_plan_from_json(&q, j, 1, &e), -1);
    enc_plan_free(&q);
    json_object_put(j);
    enc_plan_free(&p);
    ml_data_free(d);
}
END_TEST

START_TEST(ml_encode_metrics_hand_computed)
{
    /* AUC: pairs (pos, neg): scores pos {0.9, 0.4}, neg {0.5, 0.1}: 3 of 4
     * pairs ordered right -> 0.75; a tie counts one half. */
    float s[4] = {0.9f, 0.4f, 0.5f, 0.1f};
    int y[4] = {1, 1, 0, 0};
    ck_assert_double_eq_tol(metric_auc(s, y, 4), 0.75, 1e-12);
    float st[4] = {0.5f, 0.4f, 0.5f, 0.1f};
    ck_assert_double_eq_tol(metric_auc(st, y, 4), 0.625, 1e-12);
    int one[2] = {1, 1};
    ck_assert_double_eq_tol(metric_auc(s, one, 2), 0.5, 1e-12);
    /* 3 classes, 4 rows. */
    float p[12] = {0.7f, 0.2f, 0.1f, 0.1f, 0.8f, 0.1f, 0.3f, 0.3f, 0.4f, 0.6f, 0.3f, 0.1f};
    int yc[4] = {0, 1, 1, 2};
    ck_assert_double_eq_tol(metric_accuracy(p, yc, 4, 3), 0.5, 1e-12);
    double ll = -(log(0.7) + log(0.8) + log(0.3) + log(0.1)) / 4;
    ck_assert_double_eq_tol(metric_logloss(p, yc, 4, 3), ll, 1e-6);
    /* predicted 0,1,2,0; class 0: tp1 fp1 fn0 (f1 2/3); class 1: tp1 fn1
     * (f1 2/3); class 2: tp0 fp1 fn1 (f1 0) -> macro 4/9. */
    ck_assert_double_eq_tol(metric_macro_f1(p, yc, 4, 3), 4.0 / 9.0, 1e-9);
    const char *names[3] = {"a", "b", "c"};
    json_object *st_json = metric_class_stats(4, "t", "category", names, p, yc, 4, 3);
    ck_assert_uint_eq(json_object_array_length(st_json), 3);
    json_object *c0 = json_object_array_get_idx(st_json, 0), *v;
    json_object_object_get_ex(c0, "true positives", &v);
    ck_assert_int_eq(json_object_get_int(v), 1);
    json_object_object_get_ex(c0, "false positives", &v);
    ck_assert_int_eq(json_object_get_int(v), 1);
    json_object_object_get_ex(c0, "precision", &v);
    ck_assert_double_eq_tol(json_object_get_double(v), 0.5, 1e-12);
    json_object *c1 = json_object_array_get_idx(st_json, 1);
    json_object_object_get_ex(c1, "count", &v);
    ck_assert_int_eq(json_object_get_int(v), 2);
    json_object_object_get_ex(c1, "frequency", &v);
    ck_assert_double_eq_tol(json_object_get_double(v), 0.5, 1e-12);
    json_object_object_get_ex(c1, "class_name", &v);
    ck_assert_str_eq(json_object_get_string(v), "b");
    json_object_object_get_ex(c1, "field", &v);
    ck_assert_int_eq(json_object_get_int(v), 4);
    json_object_put(st_json);
    /* Regression. */
    float pr[3] = {1, 2, 4}, yr[3] = {1, 3, 2};
    ck_assert_double_eq_tol(metric_mae(pr, yr, 3), 1.0, 1e-9);
    ck_assert_double_eq_tol(metric_rmse(pr, yr, 3), sqrt(5.0 / 3.0), 1e-6);
    ck_assert_double_eq_tol(metric_r2(pr, yr, 3), 1.0 - 5.0 / 2.0, 1e-6);
}
END_TEST

Suite *suite_ml_encode(void)
{
    const TTest *const t[] = {
        ml_encode_task_detection, ml_encode_plan_drops_and_levels, ml_encode_linear_expansion,
        ml_encode_metrics_hand_computed, ml_encode_linear_standardisation_exact_in_json,
        ml_encode_linear_missing_is_the_median, ml_encode_linear_log1p_of_skewed_numbers,
    };
    return unit_suite("ml_encode", t, sizeof(t) / sizeof(t[0]));
}
