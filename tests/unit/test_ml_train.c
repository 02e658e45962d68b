/*
 * test_ml_train.c — the training engine end to end (ml_train) and the
 * served model (ml_model_*): time budget, progress, result document,
 * determinism, extra attention, several fields, errors, prediction
 * validation, the linear path's choice of penalty, the serving budget of
 * blends. Datasets are small so the suite stays quick (the 10 s
 * time-budget check and a 15 s budgeted run on digits aside).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ml/model.h"
#include "ml/num.h"
#include "ml/train.h"
#include "ml/xgb.h"
#include "tests/unit/unit.h"

Suite *suite_ml_train(void);

typedef struct watch {
    double start, last, max_gap;
    int progress_calls, log_lines, stop_after;
} watch_t;

static void w_progress(void *ctx, double f, double left)
{
    watch_t *w = ctx;
    double now = util_now_monotonic();
    if (now - w->last > w->max_gap)
        w->max_gap = now - w->last;
    w->last = now;
    w->progress_calls++;
    ck_assert(f >= 0 && f <= 1);
    (void)left;
}

static void w_log(void *ctx, const char *line)
{
    watch_t *w = ctx;
    ck_assert(line != NULL && *line);
    w->log_lines++;
}

static int w_stop(void *ctx)
{
    watch_t *w = ctx;
    return w->stop_after > 0 && util_now_monotonic() - w->start > 0.3;
}

static ml_data_t *load_file(const char *name)
{
    FILE *f = fopen(unit_dataset_path(name), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", unit_dataset_path(name));
    ml_data_t *d = ml_data_new(NULL);
    err_t e;
    err_clear(&e);
    char buf[5000];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
        ck_assert_int_eq(ml_data_feed(d, buf, k, &e), 0);
    fclose(f);
    ck_assert_int_eq(ml_data_finish(d, &e), 0);
    return d;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static double unit_rand(uint64_t *s)
{
    return (double)lcg(s) / 2147483648.0;
}

/* Imbalanced 3-class data with numbers, a category, a boolean, a numeric
 * second target ("score") and an id. */
/* A dataset from CSV text s (len bytes; s is freed). */
static ml_data_t *data_from_text(char *s, size_t len)
{
    ml_data_t *d = ml_data_new(NULL);
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(ml_data_feed(d, s, len, &e), 0);
    ck_assert_int_eq(ml_data_finish(d, &e), 0);
    free(s);
    return d;
}

static ml_data_t *synth(size_t n)
{
    size_t cap = n * 128 + 128;
    char *s = malloc(cap);
    size_t len = (size_t)snprintf(s, cap, "id,x1,x2,x3,color,flag,score,y\n");
    uint64_t st = 42;
    static const char *colors[] = {"red", "green", "blue", "teal"};
    for (size_t i = 0; i < n; i++) {
        double x1 = unit_rand(&st), x2 = unit_rand(&st), x3 = unit_rand(&st);
        double noise = (unit_rand(&st) + unit_rand(&st) + unit_rand(&st) - 1.5) * 0.5;
        size_t c = lcg(&st) % 4;
        int flag = unit_rand(&st) < 0.5;
        double sc = x1 + 0.5 * x2 + (c == 2 ? 0.15 : 0) + (flag ? 0.1 : 0) + noise;
        const char *y = sc > 1.5 ? "rare" : sc > 1.3 ? "mid" : "common";
        len += (size_t)snprintf(s + len, cap - len, "r%zu,%.4f,%.4f,%.4f,%s,%s,%.4f,%s\n", i, x1,
                                x2, x3, colors[c], flag ? "yes" : "no", sc * 10, y);
    }
    return data_from_text(s, len);
}

static json_object *spec_for(const char *field, int seed, int max_models, int extra)
{
    json_object *s = json_object_new_object();
    json_object *pf = json_object_new_array();
    json_object_array_add(pf, json_object_new_string(field));
    json_object_object_add(s, "predict_fields", pf);
    if (seed >= 0)
        json_object_object_add(s, "seed", json_object_new_int(seed));
    if (max_models > 0)
        json_object_object_add(s, "max_models", json_object_new_int(max_models));
    json_object_object_add(s, "extra_attention", json_object_new_boolean(extra));
    return s;
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, k, &v), "missing key \"%s\"", k);
    return v;
}

START_TEST(ml_train_keeps_time_budget_and_reports_progress)
{
    ml_data_t *d = load_file("breast_cancer_train.csv");
    json_object *spec = spec_for("target", -1, 0, 0);
    watch_t w = {0};
    ml_callbacks_t cb = {.progress = w_progress, .log = w_log, .ctx = &w};
    ml_result_t r;
    err_t e;
    err_clear(&e);
    double dur = 10;
    w.start = w.last = util_now_monotonic();
    ck_assert_msg(ml_train(d, spec, w.start + dur, &cb, &r, &e) == 0, "%s", err_message(&e));
    double took = util_now_monotonic() - w.start;
    /* The budget's figure (duration x 1.1 + 1 s, claim to finish) is kept by
     * bench/http_budget.sh: on a machine shared with other work a single
     * boosting round can overrun any wall-clock bound this suite could set.
     * What a unit test can refuse is a search that ignores its deadline. */
    fprintf(stderr, "ml_train: a %.0f s budget took %.2f s\n", dur, took);
    ck_assert_msg(took <= dur * 3, "took %.2f s of a %.0f s budget", took, dur);
    /* Ending before the budget is only right when the search converged
     * (ml_train_small_table_finishes_early). */
    const char *why = json_object_get_string(get(get(r.result, "stopped"), "reason"));
    if (strcmp(why, "converged") != 0)
        ck_assert_msg(took >= dur * 0.5, "used only %.2f s of the budget (%s)", took, why);
    /* Progress comes during the search, not only at its end; how often in
     * wall time depends on the machine's load, which this suite does not
     * assert (the gap is printed for the reader). */
    ck_assert_msg(w.progress_calls >= 4, "%d progress reports", w.progress_calls);
    if (w.max_gap > 1.0)
        fprintf(stderr, "ml_train: longest progress gap %.2f s (loaded machine?)\n", w.max_gap);
    ck_assert_int_ge(w.log_lines, 4);
    ck_assert(!json_object_get_boolean(get(r.result, "reproducible")));
    ck_assert_uint_eq(r.n_models, 1);
    ck_assert_str_eq(r.models[0].task, "binary");
    json_object *v = get(r.models[0].metrics, "value");
    ck_assert(json_object_get_double(v) > 0.95); /* validation AUC */
    ml_result_free(&r);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

/* A 455-row table: every family tried, then no candidate gains beyond
 * noise, so the job ends long before its budget and says why (~1 s of
 * CPU). A candidate cut by the clock is no evidence of convergence, so on
 * a box so loaded that candidates starve the search may still run to its
 * budget: that is accepted only when some candidate was indeed cut. */
START_TEST(ml_train_small_table_finishes_early)
{
    ml_data_t *d = load_file("breast_cancer_train.csv");
    json_object *spec = spec_for("target", -1, 0, 0);
    ml_result_t r;
    err_t e;
    err_clear(&e);
    double dur = 30, t0 = util_now_monotonic();
    ck_assert_msg(ml_train(d, spec, t0 + dur, NULL, &r, &e) == 0, "%s", err_message(&e));
    double took = util_now_monotonic() - t0;
    json_object *stopped = get(r.result, "stopped");
    const char *why = json_object_get_string(get(stopped, "reason"));
    if (strcmp(why, "converged") == 0) {
        ck_assert(strstr(json_object_get_string(get(stopped, "detail")), "noise") != NULL);
        /* How early is bench/http_budget.sh's figure (a 455-row job in
         * <= 3 s); here, under ASan on a loaded box, only that the search
         * ended itself, before the budget. */
        ck_assert_msg(took < dur, "converged yet took %.2f s of %.0f", took, dur);
    } else {
        ck_assert_str_eq(why, "time budget");
        json_object *cands = get(r.result, "candidates");
        int starved = 0;
        for (size_t i = 0; i < json_object_array_length(cands); i++)
            starved |= json_object_get_boolean(get(json_object_array_get_idx(cands, i),
                                                   "truncated"));
        ck_assert_msg(starved, "no candidate was cut by the clock, yet no convergence in %.0f s",
                      dur);
    }
    ck_assert(json_object_get_double(get(r.models[0].metrics, "value")) > 0.95);
    ml_result_free(&r);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

/* A model fit on log1p(target) (preprocess "target_transform":"log1p")
 * predicts expm1 of the booster's output, and its explanation says so. */
START_TEST(ml_train_model_inverts_log1p_target)
{
    enum { N = 200 };
    static float X[N], y[N];
    for (size_t i = 0; i < N; i++) {
        X[i] = (float)(i % 10);
        y[i] = log1pf(expf(X[i])); /* the target is exp(a): log1p is ~a */
    }
    err_t e;
    err_clear(&e);
    void *d = NULL, *b = NULL, *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(xgb_dmatrix_new(X, N, 1, NULL, NULL, y, NULL, &d, &e), 0);
    ck_assert_int_eq(xgb_booster_new(&d, 1, &b, &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "tree_method", "hist", &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "eta", "1", &e), 0);
    ck_assert_int_eq(xgb_booster_param(b, "lambda", "0", &e), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(xgb_booster_update(b, i, d, &e), 0);
    ck_assert_int_eq(xgb_booster_save(b, &bytes, &len, &e), 0);
    json_object *pre = json_tokener_parse(
        "{\"version\":1,\"task\":\"regression\",\"target\":\"t\",\"model\":\"tree\","
        "\"target_transform\":\"log1p\",\"features\":[{\"name\":\"a\",\"kind\":\"number\"}]}");
    ml_model_t *m = ml_model_load(bytes, len, pre, &e);
    ck_assert_msg(m != NULL, "%s", err_message(&e));
    json_object *rows = json_tokener_parse("[{\"a\":3},{\"a\":7}]"), *out = NULL;
    ck_assert_int_eq(ml_model_predict_explain(m, rows, 1, &out, &e), 0);
    for (size_t i = 0; i < 2; i++) {
        json_object *p = json_object_array_get_idx(out, i);
        double v = json_object_get_double(get(p, "t")), want = exp(i ? 7.0 : 3.0);
        ck_assert_msg(fabs(v - want) < 0.02 * want, "row %zu: %g vs %g", i, v, want);
        json_object *ex = get(p, "explanation");
        ck_assert_str_eq(json_object_get_string(get(ex, "output")), "log1p(value)");
    }
    json_object_put(out);
    json_object_put(rows);
    /* An unknown transform is refused, not ignored. */
    json_object_object_add(pre, "target_transform", json_object_new_string("sqrt"));
    ck_assert_ptr_null(ml_model_load(bytes, len, pre, &e));
    ml_model_free(m);
    json_object_put(pre);
    free(bytes);
    xgb_booster_free(b);
    xgb_dmatrix_free(d);
}
END_TEST

START_TEST(ml_train_result_document_shape)
{
    ml_data_t *d = load_file("wine_train.csv");
    json_object *spec = spec_for("target", 3, 3, 0);
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 30, NULL, &r, &e) == 0, "%s",
                  err_message(&e));
    json_object *res = r.result;
    ck_assert_str_eq(json_object_get_string(get(res, "status")), "success");
    ck_assert(json_object_get_boolean(get(res, "reproducible")));
    ck_assert_str_eq(json_object_get_string(get(res, "metric")), "accuracy");
    /* stats: one list, one entry per class, Akkio's keys. */
    json_object *stats = get(res, "stats");
    ck_assert_uint_eq(json_object_array_length(stats), 1);
    json_object *s0 = json_object_array_get_idx(stats, 0);
    ck_assert_uint_eq(json_object_array_length(s0), 3);
    static const char *keys[] = {"field", "field_name", "field_type", "class", "class_name",
                                 "count", "true positives", "false positives", "false negatives",
                                 "precision", "recall", "f1", "frequency"};
    long total = 0;
    for (size_t c = 0; c < 3; c++) {
        json_object *o = json_object_array_get_idx(s0, c);
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            get(o, keys[k]);
        total += json_object_get_int(get(o, "count"));
        ck_assert_int_eq(json_object_get_int(get(o, "field")), 13);
    }
    ck_assert_int_eq(total, 142); /* 5-fold: every row validated once */
    /* field_importance over the 13 inputs, summing to 1. */
    json_object *fi = get(res, "field_importance");
    ck_assert_int_eq(json_object_object_length(fi), 13);
    double sum = 0;
    json_object_object_foreach(fi, key, val)
    {
        (void)key;
        ck_assert(json_object_get_double(val) >= 0);
        sum += json_object_get_double(val);
    }
    ck_assert_double_eq_tol(sum, 1.0, 1e-4);
    /* data_story: per outcome causes and cases. */
    json_object *story = json_object_array_get_idx(get(res, "data_story"), 0);
    ck_assert_str_eq(json_object_get_string(get(story, "name")), "target");
    json_object *outcomes = get(story, "outcomes");
    ck_assert_uint_eq(json_object_array_length(outcomes), 3);
    for (size_t c = 0; c < 3; c++) {
        json_object *oc = json_object_array_get_idx(outcomes, c);
        json_object *causes = get(oc, "causes");
        ck_assert_uint_ge(json_object_array_length(causes), 1);
        json_object *c0 = json_object_array_get_idx(causes, 0);
        ck_assert(fi != NULL && json_object_object_get_ex(fi, json_object_get_string(get(c0, "field")),
                                                          NULL));
        get(c0, "top_value");
        get(c0, "bottom_value");
        double top = json_object_get_double(get(oc, "top_case"));
        double avg = json_object_get_double(get(oc, "avg_case"));
        double bot = json_object_get_double(get(oc, "bottom_case"));
        ck_assert(top >= avg && avg >= bot && bot >= 0 && top <= 1);
    }
    /* task and candidates. */
    json_object *task = json_object_array_get_idx(get(res, "task"), 0);
    ck_assert_str_eq(json_object_get_string(get(task, "task")), "multiclass");
    ck_assert(strlen(json_object_get_string(get(task, "reason"))) > 10);
    json_object *cands = get(res, "candidates");
    ck_assert_uint_eq(json_object_array_length(cands), 3);
    for (size_t i = 1; i < 3; i++)
        ck_assert(json_object_get_double(get(json_object_array_get_idx(cands, i - 1), "value")) >=
                  json_object_get_double(get(json_object_array_get_idx(cands, i), "value")));
    get(json_object_array_get_idx(cands, 0), "params");
    get(json_object_array_get_idx(cands, 0), "seconds");
    get(json_object_array_get_idx(cands, 0), "trees");
    ml_result_free(&r);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

static void train_bytes(ml_data_t *d, int seed, void **bytes, size_t *len)
{
    json_object *spec = spec_for("target", seed, 3, 0);
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 60, NULL, &r, &e) == 0, "%s",
                  err_message(&e));
    ck_assert(json_object_get_boolean(get(r.result, "reproducible")));
    *len = r.models[0].booster_len;
    *bytes = malloc(*len);
    memcpy(*bytes, r.models[0].booster, *len);
    ml_result_free(&r);
    json_object_put(spec);
}

START_TEST(ml_train_seed_gives_identical_booster)
{
    ml_data_t *d = load_file("breast_cancer_train.csv");
    void *a, *b, *c;
    size_t la, lb, lc;
    train_bytes(d, 7, &a, &la);
    train_bytes(d, 7, &b, &lb);
    train_bytes(d, 8, &c, &lc);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(a, b, la) == 0, "same seed, different model bytes");
    ck_assert(la != lc || memcmp(a, c, la) != 0);
    free(a);
    free(b);
    free(c);
    ml_data_free(d);
}
END_TEST

static double macro_f1_of(json_object *result)
{
    json_object *s0 = json_object_array_get_idx(get(result, "stats"), 0);
    double sum = 0;
    size_t n = json_object_array_length(s0);
    for (size_t i = 0; i < n; i++)
        sum += json_object_get_double(get(json_object_array_get_idx(s0, i), "f1"));
    return sum / (double)n;
}

START_TEST(ml_train_extra_attention_raises_macro_f1)
{
    ml_data_t *d = synth(1500);
    double f1[2];
    for (int extra = 0; extra < 2; extra++) {
        json_object *spec = spec_for("y", 1, 2, extra);
        json_object *ign = json_object_new_array(); /* score gives y away */
        json_object_array_add(ign, json_object_new_string("score"));
        json_object_object_add(spec, "ignore_fields", ign);
        ml_result_t r;
        err_t e;
        err_clear(&e);
        ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 30, NULL, &r, &e) == 0, "%s",
                      err_message(&e));
        f1[extra] = macro_f1_of(r.result);
        ml_result_free(&r);
        json_object_put(spec);
    }
    ck_assert_msg(f1[1] > f1[0] + 0.01, "macro-F1 without %.4f, with %.4f", f1[0], f1[1]);
    ml_data_free(d);
}
END_TEST

START_TEST(ml_train_several_predict_fields)
{
    ml_data_t *d = synth(600);
    json_object *spec = json_object_new_object();
    json_object *pf = json_object_new_array();
    json_object_array_add(pf, json_object_new_string("y"));
    json_object_array_add(pf, json_object_new_string("score"));
    json_object_object_add(spec, "predict_fields", pf);
    json_object_object_add(spec, "seed", json_object_new_int(1));
    json_object_object_add(spec, "max_models", json_object_new_int(2));
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 30, NULL, &r, &e) == 0, "%s",
                  err_message(&e));
    ck_assert_uint_eq(r.n_models, 2);
    ck_assert_str_eq(r.models[0].predict_field, "y");
    ck_assert_str_eq(r.models[0].task, "multiclass");
    ck_assert_str_eq(r.models[1].task, "regression");
    ck_assert_uint_eq(json_object_array_length(get(r.result, "stats")), 2);
    ck_assert_uint_eq(json_object_array_length(get(r.result, "data_story")), 2);
    json_object *reg = json_object_array_get_idx(json_object_array_get_idx(get(r.result, "stats"), 1), 0);
    get(reg, "mae");
    get(reg, "rmse");
    ck_assert(json_object_get_double(get(reg, "r2")) > 0.5);
    /* Neither model reads the other predict field; the id is dropped. */
    for (size_t m = 0; m < 2; m++) {
        json_object *feats = get(r.models[m].preprocess, "features");
        for (size_t i = 0; i < json_object_array_length(feats); i++) {
            const char *nm = json_object_get_string(get(json_object_array_get_idx(feats, i), "name"));
            ck_assert_str_ne(nm, "y");
            ck_assert_str_ne(nm, "score");
            ck_assert_str_ne(nm, "id");
        }
    }
    json_object *dropped = get(r.result, "dropped_fields");
    ck_assert_uint_ge(json_object_array_length(dropped), 1);
    ck_assert_str_eq(json_object_get_string(get(json_object_array_get_idx(dropped, 0), "field")),
                     "id");
    ml_result_free(&r);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

START_TEST(ml_train_spec_errors)
{
    ml_data_t *d = synth(50);
    ml_result_t r;
    err_t e;
    json_object *spec = spec_for("nope", 1, 1, 0);
    err_clear(&e);
    ck_assert_int_eq(ml_train(d, spec, util_now_monotonic() + 5, NULL, &r, &e), -1);
    ck_assert_int_eq(e.status, 400);
    ck_assert_str_eq(err_message(&e), "predict field \"nope\" is not in the dataset");
    json_object_put(spec);
    spec = json_object_new_object();
    json_object_object_add(spec, "predict_fields", json_object_new_array());
    err_clear(&e);
    ck_assert_int_eq(ml_train(d, spec, util_now_monotonic() + 5, NULL, &r, &e), -1);
    ck_assert_str_eq(e.items[0].field, "predict_fields");
    json_object_put(spec);
    /* Every input ignored: nothing to learn from. */
    spec = spec_for("y", 1, 1, 0);
    json_object *ign = json_object_new_array();
    const char *all[] = {"x1", "x2", "x3", "color", "flag", "score"};
    for (size_t i = 0; i < 6; i++)
        json_object_array_add(ign, json_object_new_string(all[i]));
    json_object_object_add(spec, "ignore_fields", ign);
    err_clear(&e);
    ck_assert_int_eq(ml_train(d, spec, util_now_monotonic() + 5, NULL, &r, &e), -1);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "no usable input field"));
    json_object_put(spec);
    ml_data_free(d);
    /* A target with a single value. */
    d = ml_data_new(NULL);
    const char *csv = "a,t\n1,x\n2,x\n3,x\n";
    ck_assert_int_eq(ml_data_feed(d, csv, strlen(csv), &e), 0);
    ck_assert_int_eq(ml_data_finish(d, &e), 0);
    spec = spec_for("t", 1, 1, 0);
    err_clear(&e);
    ck_assert_int_eq(ml_train(d, spec, util_now_monotonic() + 5, NULL, &r, &e), -1);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "cannot classify"));
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

START_TEST(ml_train_stops_on_request)
{
    ml_data_t *d = synth(1500);
    json_object *spec = spec_for("y", 1, 0, 0);
    watch_t w = {.stop_after = 1};
    ml_callbacks_t cb = {.should_stop = w_stop, .ctx = &w};
    ml_result_t r;
    err_t e;
    err_clear(&e);
    w.start = util_now_monotonic();
    ck_assert_int_eq(ml_train(d, spec, w.start + 20, &cb, &r, &e), -1);
    ck_assert_str_eq(e.items[0].code, "stopped");
    ck_assert(util_now_monotonic() - w.start < 3);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

static json_object *parse_json(const char *s)
{
    json_object *o = json_tokener_parse(s);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* Trains d by spec (30 s at most) and loads its first model; r holds the
 * result (free it). */
static ml_model_t *train_first_model(ml_data_t *d, json_object *spec, ml_result_t *r)
{
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 30, NULL, r, &e) == 0, "%s",
                  err_message(&e));
    ml_model_out_t *mo = &r->models[0];
    ml_model_t *m = ml_model_load(mo->booster, mo->booster_len, mo->preprocess, &e);
    ck_assert_msg(m != NULL, "%s", err_message(&e));
    return m;
}

/* Frees what a train_first_model caller holds: the model, its result, the
 * spec and the data. */
static void trained_free(ml_model_t *m, ml_result_t *r, json_object *spec, ml_data_t *d)
{
    ml_model_free(m);
    ml_result_free(r);
    json_object_put(spec);
    ml_data_free(d);
}

/* A wave that trees fit and a line cannot: y = sin(2 pi 8 x) + a level's
 * shift, as a number (regression), its sign (binary) or its third
 * (multiclass); x missing in one row of 9. */
static ml_data_t *synth_wave(size_t n, int kind)
{
    size_t cap = n * 64 + 64;
    char *s = malloc(cap);
    size_t len = (size_t)snprintf(s, cap, "x,level,y\n");
    uint64_t st = 5;
    static const char *levels[] = {"a", "b", "c"};
    for (size_t i = 0; i < n; i++) {
        double x = unit_rand(&st);
        size_t l = lcg(&st) % 3;
        double y = sin(2 * M_PI * 8 * x) + 0.3 * (double)l + 0.1 * unit_rand(&st);
        char xs[32] = "";
        if (i % 9 != 4)
            snprintf(xs, sizeof(xs), "%.5f", x);
        char ys[32];
        if (kind == 0)
            snprintf(ys, sizeof(ys), "%.5f", y);
        else if (kind == 1)
            snprintf(ys, sizeof(ys), "%s", y > 0.3 ? "pos" : "neg");
        else
            snprintf(ys, sizeof(ys), "%s", y < -0.3 ? "low" : y < 0.6 ? "mid" : "high");
        len += (size_t)snprintf(s + len, cap - len, "%s,%s,%s\n", xs, levels[l], ys);
    }
    return data_from_text(s, len);
}

/* Small batches are walked here, large ones go to XGBoost (model.c): a
 * row predicted alone is the same text as in a batch of 300, for a
 * regression, a binary and a multiclass model of trees, and the linear
 * model (never walked) too. */
START_TEST(ml_model_small_batches_walked_as_xgboost_predicts)
{
    static const char *const kinds[] = {"regression", "binary", "multiclass"};
    json_object *rows = json_object_new_array();
    uint64_t st = 77;
    static const char *levels[] = {"a", "b", "c", "zz"};
    for (size_t i = 0; i < 300; i++) {
        json_object *o = json_object_new_object();
        if (i % 13 != 6)
            json_object_object_add(o, "x", json_object_new_double(unit_rand(&st) * 1.1 - 0.05));
        if (i % 17 != 8)
            json_object_object_add(o, "level", json_object_new_string(levels[lcg(&st) % 4]));
        json_object_array_add(rows, o);
    }
    for (size_t c = 0; c < 6; c++) {
        /* 6 models: the linear path, the default tree, random ones; the
         * last three cases take the linear model alone (its weights make
         * the walker's dot product). */
        ml_data_t *d = synth_wave(800, (int)(c % 3));
        json_object *spec = spec_for("y", 1, c < 3 ? 6 : 1, 0);
        ml_result_t r;
        err_t e;
        err_clear(&e);
        ml_model_t *m = train_first_model(d, spec, &r);
        const char *kind = json_object_get_string(
            get(json_object_array_get_idx(get(r.result, "models"), 0), "model"));
        json_object *all = NULL;
        ck_assert_msg(ml_model_predict(m, rows, &all, &e) == 0, "%s", err_message(&e));
        ck_assert_int_eq(ml_model_walks(m), 0); /* 300 rows: XGBoost */
        for (size_t i = 0; i < json_object_array_length(rows); i++) {
            json_object *one = json_object_new_array(), *got = NULL;
            json_object_array_add(one, json_object_get(json_object_array_get_idx(rows, i)));
            ck_assert_msg(ml_model_predict(m, one, &got, &e) == 0, "%s", err_message(&e));
            ck_assert_str_eq(json_object_to_json_string(json_object_array_get_idx(got, 0)),
                             json_object_to_json_string(json_object_array_get_idx(all, i)));
            json_object_put(got);
            json_object_put(one);
        }
        fprintf(stderr, "ml_model: %s, %s: small batches %s\n", kinds[c % 3], kind,
                ml_model_walks(m) > 0 ? "walked" : "through XGBoost");
        ck_assert_int_eq(ml_model_walks(m), 1);
        ck_assert((c >= 3) == (strcmp(kind, "linear") == 0));
        json_object_put(all);
        trained_free(m, &r, spec, d);
    }
    json_object_put(rows);
}
END_TEST

START_TEST(ml_train_model_predicts_and_validates)
{
    ml_data_t *d = synth(400);
    json_object *spec = spec_for("y", 2, 2, 0);
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ml_model_t *m = train_first_model(d, spec, &r);
    ml_model_out_t *mo = &r.models[0];
    ck_assert_uint_gt(ml_model_size(m), mo->booster_len);
    /* Good rows: numbers as strings, an unknown category, missing fields. */
    json_object *rows = parse_json("[{\"x1\":0.9,\"x2\":\"0.8\",\"x3\":0.1,\"color\":\"blue\","
                                   "\"flag\":true},{\"color\":\"purple\"},{}]");
    json_object *out = NULL;
    err_clear(&e);
    ck_assert_msg(ml_model_predict(m, rows, &out, &e) == 0, "%s", err_message(&e));
    ck_assert_uint_eq(json_object_array_length(out), 3);
    json_object *p0 = json_object_array_get_idx(out, 0);
    const char *label = json_object_get_string(get(p0, "y"));
    ck_assert(strcmp(label, "common") == 0 || strcmp(label, "mid") == 0 ||
              strcmp(label, "rare") == 0);
    double s = json_object_get_double(get(p0, "Probability y is common")) +
               json_object_get_double(get(p0, "Probability y is mid")) +
               json_object_get_double(get(p0, "Probability y is rare"));
    ck_assert_double_eq_tol(s, 1.0, 1e-4);
    ck_assert_int_eq(json_object_object_length(p0), 4);
    /* The same rows, keys in other orders and an unknown key among them,
     * after and before rows in the first order: the same predictions (rows
     * are read by key position, ml/keyorder.h). */
    json_object *shuffled = parse_json(
        "[{\"flag\":true,\"zzz\":1,\"color\":\"blue\",\"x3\":0.1,\"x2\":\"0.8\",\"x1\":0.9},"
        "{\"color\":\"purple\"},{},"
        "{\"x1\":0.9,\"x2\":\"0.8\",\"x3\":0.1,\"color\":\"blue\",\"flag\":true}]");
    json_object *again = NULL;
    ck_assert_msg(ml_model_predict(m, shuffled, &again, &e) == 0, "%s", err_message(&e));
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(json_object_to_json_string(json_object_array_get_idx(again, i)),
                         json_object_to_json_string(json_object_array_get_idx(out, i % 3)));
    json_object_put(again);
    json_object_put(shuffled);
    json_object_put(out);
    json_object_put(rows);
    /* Bad rows: every problem reported with its path, nothing predicted. */
    rows = parse_json("[{\"x1\":\"abc\"},7,{\"flag\":\"maybe\",\"x2\":[1]},{\"x3\":1e300}]");
    err_clear(&e);
    out = NULL;
    ck_assert_int_eq(ml_model_predict(m, rows, &out, &e), -1);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(e.status, 422);
    ck_assert_int_eq(e.count, 5);
    ck_assert_str_eq(e.items[0].field, "body/data/0/x1");
    ck_assert_str_eq(e.items[0].code, "float_parsing");
    ck_assert_str_eq(e.items[1].field, "body/data/1");
    ck_assert_str_eq(e.items[2].field, "body/data/2/x2");
    ck_assert_str_eq(e.items[3].field, "body/data/2/flag");
    ck_assert_str_eq(e.items[3].code, "bool_parsing");
    ck_assert_str_eq(e.items[4].field, "body/data/3/x3");
    json_object_put(rows);
    /* Not a list; an empty list. */
    rows = parse_json("{\"x1\":1}");
    err_clear(&e);
    ck_assert_int_eq(ml_model_predict(m, rows, &out, &e), -1);
    ck_assert_str_eq(e.items[0].field, "body/data");
    json_object_put(rows);
    rows = json_object_new_array();
    err_clear(&e);
    ck_assert_int_eq(ml_model_predict(m, rows, &out, &e), 0);
    ck_assert_uint_eq(json_object_array_length(out), 0);
    json_object_put(out);
    json_object_put(rows);
    ml_model_free(m);
    /* Broken models are refused, not crashed on. */
    err_clear(&e);
    ck_assert_ptr_null(ml_model_load("garbage", 7, mo->preprocess, &e));
    ck_assert_int_eq(e.status, 500);
    json_object *pp = parse_json("{\"task\":\"binary\",\"target\":\"y\",\"features\":[]}");
    err_clear(&e);
    ck_assert_ptr_null(ml_model_load(mo->booster, mo->booster_len, pp, &e));
    json_object_put(pp);
    err_clear(&e);
    ck_assert_ptr_null(ml_model_load(mo->booster, mo->booster_len, NULL, &e));
    ml_result_free(&r);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

/* A model of numbers and a boolean (color ignored, id dropped as id-like):
 * the rows marked unusual are exactly those an input check could find
 * anything in, and the training columns it dropped are known, not read. */
START_TEST(ml_train_model_marks_unusual_rows)
{
    ml_data_t *d = synth(400);
    json_object *spec = spec_for("y", 2, 2, 0);
    json_object *ignore = json_object_new_array();
    json_object_array_add(ignore, json_object_new_string("color"));
    json_object_object_add(spec, "ignore_fields", ignore);
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ml_model_t *m = train_first_model(d, spec, &r);
    json_object *dropped = get(r.models[0].preprocess, "dropped_fields");
    ck_assert_uint_ge(json_object_array_length(dropped), 2); /* id, color */
    json_object *rows = parse_json(
        "[{\"x1\":0.9,\"x2\":0.8,\"x3\":0.1,\"flag\":true,\"score\":3},"
        " {\"id\":\"r1\",\"x1\":0.9,\"x2\":0.8,\"color\":\"red\",\"x3\":0.1,"
        "  \"flag\":true,\"score\":3},"
        " {\"x1\":0.9,\"x2\":0.8,\"x3\":0.1,\"flag\":true,\"score\":3,\"y\":\"mid\"},"
        " {\"x1\":0.9,\"x2\":0.8,\"x3\":0.1,\"flag\":true,\"score\":3,\"zzz\":1},"
        " {\"x1\":0.9,\"x2\":0.8,\"x3\":0.1,\"score\":3},"
        " {\"score\":3,\"flag\":false,\"x3\":0.1,\"x2\":0.8,\"x1\":0.9}]");
    unsigned char unusual[6];
    memset(unusual, 7, sizeof(unusual));
    json_object *out = NULL;
    ck_assert_msg(ml_model_predict_rows(m, rows, 0, unusual, &out, &e) == 0, "%s",
                  err_message(&e));
    /* plain; dropped columns; the label; an unknown key; a field missing;
     * plain again in another key order */
    static const unsigned char want[6] = {0, 0, 1, 1, 1, 0};
    for (size_t i = 0; i < 6; i++)
        ck_assert_msg(unusual[i] == want[i], "row %zu: %d", i, unusual[i]);
    ck_assert_str_eq(json_object_to_json_string(json_object_array_get_idx(out, 0)),
                     json_object_to_json_string(json_object_array_get_idx(out, 1)));
    json_object_put(out);
    json_object_put(rows);
    trained_free(m, &r, spec, d);
}
END_TEST

/* Binary data for the linear path: p inputs uniform on [-1, 1]; the
 * label is x1 + x2 > 0 when slope is 0 (separable), else drawn with
 * probability sigmoid(slope * x1) (the other inputs are noise). */
static ml_data_t *synth_linear(size_t n, size_t p, double slope, uint64_t seed)
{
    size_t cap = n * (p * 9 + 8) + p * 8 + 16;
    char *s = malloc(cap);
    size_t len = 0;
    for (size_t j = 0; j < p; j++)
        len += (size_t)snprintf(s + len, cap - len, "x%zu,", j + 1);
    len += (size_t)snprintf(s + len, cap - len, "y\n");
    double *x = malloc(p * sizeof(*x));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < p; j++) {
            x[j] = 2 * unit_rand(&seed) - 1;
            len += (size_t)snprintf(s + len, cap - len, "%.4f,", x[j]);
        }
        int y = slope == 0 ? x[0] + x[1] > 0 : unit_rand(&seed) < 1 / (1 + exp(-slope * x[0]));
        len += (size_t)snprintf(s + len, cap - len, "%s\n", y ? "yes" : "no");
    }
    free(x);
    return data_from_text(s, len);
}

/* The C of the linear model that one candidate (max_models 1: the
 * linear path alone) ends with. */
static double linear_c_chosen(ml_data_t *d)
{
    json_object *spec = spec_for("y", 1, 1, 0);
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 60, NULL, &r, &e) == 0, "%s",
                  err_message(&e));
    json_object *cands = get(r.result, "candidates");
    ck_assert_uint_eq(json_object_array_length(cands), 1); /* the other steps are pruned */
    json_object *c0 = json_object_array_get_idx(cands, 0);
    ck_assert_str_eq(json_object_get_string(get(c0, "model")), "linear");
    double c = json_object_get_double(get(get(c0, "params"), "C"));
    ml_result_free(&r);
    json_object_put(spec);
    return c;
}

/* The regularisation path's choice (search.c, run_linear_path): the
 * validation log loss moves C off sklearn's default only when another
 * step is clearly better (LIN_DEFAULT_SLACK), in both directions: weaker
 * on separable data (sharper, still right: C = 100 when written), stronger
 * on few rows with many noise inputs (overfitting: C = 0.033); C = 1 stays
 * where the path is flat (many rows, a mild signal), although its bare
 * minimum there is C = 0.33, which a rule without the slack would take. */
START_TEST(ml_train_linear_penalty_follows_validation)
{
    struct {
        size_t n, p;
        double slope;
        double lo, hi; /* the C chosen must lie in [lo, hi] */
    } cases[] = {
        {600, 3, 0, 3, 1000},      /* separable */
        {120, 30, 1.0, 0, 0.5},    /* few rows, 29 noise inputs */
        {3000, 3, 1.5, 1, 1},      /* flat path */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_data_t *d = synth_linear(cases[i].n, cases[i].p, cases[i].slope, 7 + i);
        double c = linear_c_chosen(d);
        fprintf(stderr, "linear path: case %zu chose C = %g\n", i, c);
        ck_assert_msg(c >= cases[i].lo * 0.999 && c <= cases[i].hi * 1.001,
                      "case %zu: C = %g outside [%g, %g]", i, c, cases[i].lo, cases[i].hi);
        ml_data_free(d);
    }
}
END_TEST

/* Binary data whose log-odds are linear in log(x1): x1 log-normal
 * (skewed, > 0) when skewed, else normal (and partly below 0); x2 noise. */
static ml_data_t *synth_lognormal(size_t n, int skewed, uint64_t seed)
{
    size_t cap = n * 40 + 16;
    char *s = malloc(cap);
    size_t len = (size_t)snprintf(s, cap, "x1,x2,y\n");
    for (size_t i = 0; i < n; i++) {
        double z = (unit_rand(&seed) + unit_rand(&seed) + unit_rand(&seed) +
                    unit_rand(&seed) - 2) * 1.7320508;
        double t = 1 + 1.2 * z;
        double x1 = skewed ? exp(t) : t;
        double x2 = 2 * unit_rand(&seed) - 1;
        int y = unit_rand(&seed) < 1 / (1 + exp(-2.5 * (t - 1)));
        len += (size_t)snprintf(s + len, cap - len, "%.5g,%.4f,%s\n", x1, x2, y ? "yes" : "no");
    }
    return data_from_text(s, len);
}

/* The linear model's log1p input (search.c, run_linear_path; encode.h):
 * on a skewed positive input whose effect is logarithmic, the path's
 * validation picks log1p(x1) (not x2: it goes below 0), the preprocess
 * JSON says so as version 2, and the served model reads x1 that way: a
 * value below 0 as 0, a missing one as the median. On a symmetric input
 * nothing is transformed and the JSON stays version 1. */
START_TEST(ml_train_linear_reads_skewed_numbers_through_log1p)
{
    for (int skewed = 1; skewed >= 0; skewed--) {
        ml_data_t *d = synth_lognormal(800, skewed, 11);
        json_object *spec = spec_for("y", 1, 1, 0);
        ml_result_t r;
        ml_model_t *m = train_first_model(d, spec, &r);
        json_object *c0 = json_object_array_get_idx(get(r.result, "candidates"), 0), *v = NULL;
        ck_assert_str_eq(json_object_get_string(get(c0, "model")), "linear");
        int log_inputs = json_object_object_get_ex(get(c0, "params"), "inputs", &v);
        json_object *pre = r.models[0].preprocess;
        json_object *f = get(pre, "features");
        json_object *f0 = json_object_array_get_idx(f, 0), *f1 = json_object_array_get_idx(f, 1);
        ck_assert(!json_object_object_get_ex(f1, "transform", &v));
        if (!skewed) {
            ck_assert(!log_inputs && !json_object_object_get_ex(f0, "transform", &v));
            ck_assert_int_eq(json_object_get_int(get(pre, "version")), 1);
        } else {
            ck_assert_msg(log_inputs, "the raw input was chosen");
            ck_assert_str_eq(json_object_get_string(get(get(c0, "params"), "inputs")), "log1p");
            ck_assert_str_eq(json_object_get_string(get(f0, "transform")), "log1p");
            ck_assert_int_eq(json_object_get_int(get(pre, "version")), 2);
            double median = json_object_get_double(get(f0, "impute"));
            char text[300];
            snprintf(text, sizeof(text),
                     "[{\"x1\":30,\"x2\":0},{\"x1\":0.5,\"x2\":0},{\"x1\":-4,\"x2\":0},"
                     "{\"x1\":0,\"x2\":0},{\"x2\":0},{\"x1\":%.17g,\"x2\":0}]", median);
            json_object *rows = parse_json(text), *out = NULL;
            err_t e;
            err_clear(&e);
            ck_assert_msg(ml_model_predict(m, rows, &out, &e) == 0, "%s", err_message(&e));
            double hi = json_object_get_double(
                       get(json_object_array_get_idx(out, 0), "Probability y is yes")),
                   lo = json_object_get_double(
                       get(json_object_array_get_idx(out, 1), "Probability y is yes"));
            ck_assert_msg(hi > 0.9 && lo < 0.1, "P(yes) %g at x1 = 30, %g at 0.5", hi, lo);
            ck_assert_str_eq(json_object_to_json_string(json_object_array_get_idx(out, 2)),
                             json_object_to_json_string(json_object_array_get_idx(out, 3)));
            /* The median is a double; the row's value is read as a float. */
            ck_assert_double_eq_tol(
                json_object_get_double(
                    get(json_object_array_get_idx(out, 4), "Probability y is yes")),
                json_object_get_double(
                    get(json_object_array_get_idx(out, 5), "Probability y is yes")), 1e-6);
            json_object_put(out);
            json_object_put(rows);
        }
        trained_free(m, &r, spec, d);
    }
}
END_TEST

/* The fold count follows the budget (train.c, KFOLD_LONG): a small table
 * with a long budget validates on 10 folds, with a short one on 5, and a
 * capped run on 5 whatever its budget (its model must not depend on it).
 * The table converges in about a second, so the long budget is not spent. */
START_TEST(ml_train_long_budget_validates_on_ten_folds)
{
    static const struct {
        int max_models;
        double dur;
        const char *want;
    } cases[] = {
        {0, 40, "stratified 10-fold (out-of-fold)"},
        {0, 5, "stratified 5-fold (out-of-fold)"},
        {2, 40, "stratified 5-fold (out-of-fold)"},
    };
    ml_data_t *d = synth(150);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *spec = spec_for("y", 1, cases[i].max_models, 0);
        ml_result_t r;
        err_t e;
        err_clear(&e);
        ck_assert_msg(ml_train(d, spec, util_now_monotonic() + cases[i].dur, NULL, &r, &e) == 0,
                      "%s", err_message(&e));
        json_object *m = json_object_array_get_idx(get(r.result, "models"), 0);
        ck_assert_str_eq(json_object_get_string(get(m, "validation")), cases[i].want);
        /* Every row is still validated exactly once. */
        long total = 0;
        json_object *s0 = json_object_array_get_idx(get(r.result, "stats"), 0);
        for (size_t c = 0; c < json_object_array_length(s0); c++)
            total += json_object_get_int(get(json_object_array_get_idx(s0, c), "count"));
        ck_assert_int_eq(total, 150);
        ml_result_free(&r);
        json_object_put(spec);
    }
    ml_data_free(d);
}
END_TEST

/* The serving budget of a blend (ml/search.c's ENSEMBLE_MAX_VISITS), pinned
 * here: issue 14's 10,000-row batch in <= 100 ms rests on it. */
#define SERVING_MAX_VISITS 1800

/* Node visits a row of a served model, as the budget counts them: for every
 * tree of the booster its depth (the longest walk root to leaf), plus a
 * linear member's multiply-adds over 4. -1 when the model is no blend. */
static long served_visits(const ml_model_out_t *mo)
{
    json_object *ens = NULL, *members = NULL;
    if (!json_object_object_get_ex(mo->preprocess, "ensemble", &ens))
        return -1;
    err_t e;
    err_clear(&e);
    void *b = NULL;
    json_object *root = NULL, *lrn, *gb, *model, *trees;
    ck_assert_msg(xgb_booster_load(mo->booster, mo->booster_len, &b, &e) == 0, "%s",
                  err_message(&e));
    ck_assert_msg(xgb_booster_json(b, &root, &e) == 0, "%s", err_message(&e));
    ck_assert(json_object_object_get_ex(root, "learner", &lrn) &&
              json_object_object_get_ex(lrn, "gradient_booster", &gb) &&
              json_object_object_get_ex(gb, "model", &model) &&
              json_object_object_get_ex(model, "trees", &trees));
    long visits = 0;
    for (size_t t = 0; t < json_object_array_length(trees); t++) {
        json_object *tr = json_object_array_get_idx(trees, t);
        json_object *left = get(tr, "left_children"), *right = get(tr, "right_children");
        size_t n = json_object_array_length(left);
        int *depth = calloc(n + 1, sizeof(*depth)), deepest = 0;
        ck_assert_ptr_nonnull(depth);
        for (size_t i = 0; i < n; i++) { /* children come after their parent */
            int l = json_object_get_int(json_object_array_get_idx(left, i));
            int r = json_object_get_int(json_object_array_get_idx(right, i));
            if (l < 0)
                continue;
            ck_assert(l > (int)i && r > (int)i && (size_t)l < n && (size_t)r < n);
            depth[l] = depth[r] = depth[i] + 1;
            deepest = depth[l] > deepest ? depth[l] : deepest;
        }
        visits += deepest;
        free(depth);
    }
    json_object_put(root);
    xgb_booster_free(b);
    members = get(ens, "members");
    for (size_t j = 0; j < json_object_array_length(members); j++) {
        json_object *lin = NULL;
        if (!json_object_object_get_ex(json_object_array_get_idx(members, j), "linear", &lin))
            continue;
        json_object *coef = get(lin, "coefficients");
        long dots = 0;
        for (size_t i = 0; i < json_object_array_length(coef); i++)
            dots += (long)json_object_array_length(json_object_array_get_idx(coef, i));
        visits += (dots + 3) / 4;
    }
    return visits;
}

/* Every blend served keeps to the serving budget, the best tree paired with
 * the linear model too (digits: it used to serve 349 rounds x 10 classes x
 * depth 6 beside the linear model, ~44,000 visits a row). A capped run
 * (deterministic): on digits its pool of big trees does not fit beside the
 * linear model. */
START_TEST(ml_train_ensemble_keeps_serving_budget)
{
    ml_data_t *d = load_file("digits_train.csv");
    json_object *spec = spec_for("target", 0, 2, 0); /* the linear model, the default tree */
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 600, NULL, &r, &e) == 0, "%s",
                  err_message(&e));
    long visits = served_visits(&r.models[0]);
    fprintf(stderr, "ml_train: digits, 2 models: %s, %ld node visits a row\n",
            visits < 0 ? "no blend" : "a blend", visits);
    ck_assert_msg(visits <= SERVING_MAX_VISITS, "a blend of %ld node visits a row", visits);
    ml_result_free(&r);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

/* A budgeted run trains the linear model's companion: a tree whose rounds
 * fit the budget beside it, listed among the candidates; what is served,
 * blend or not, keeps to the budget. */
START_TEST(ml_train_companion_fits_beside_linear_model)
{
    ml_data_t *d = load_file("digits_train.csv");
    json_object *spec = spec_for("target", 0, 0, 0);
    ml_result_t r;
    err_t e;
    err_clear(&e);
    /* 15 s: the default tree's early stopping (~350 rounds, ~6 s on a quiet
     * box) ends before its share of the window, so that the companion after
     * it is not crowded out by a loaded machine. */
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 15, NULL, &r, &e) == 0, "%s",
                  err_message(&e));
    json_object *cands = get(r.result, "candidates"), *comp = NULL;
    for (size_t i = 0; i < json_object_array_length(cands); i++) {
        json_object *c = json_object_array_get_idx(cands, i), *p = get(c, "params"), *f;
        if (json_object_object_get_ex(p, "companion", &f) && json_object_get_boolean(f)) {
            ck_assert_ptr_null(comp); /* one */
            comp = c;
        }
    }
    ck_assert_msg(comp != NULL, "no companion among the candidates");
    json_object *cp = get(comp, "params");
    int depth = json_object_get_int(get(cp, "max_depth"));
    ck_assert_int_le(depth, 4);
    ck_assert(json_object_get_double(get(cp, "eta")) >= 0.3);
    /* Its rounds x 10 classes x depth leave room for the linear model. */
    long trees = json_object_get_int(get(comp, "trees"));
    ck_assert_msg(trees * 10 * depth < SERVING_MAX_VISITS, "companion of %ld rounds", trees);
    long visits = served_visits(&r.models[0]);
    fprintf(stderr, "ml_train: digits, budgeted: %s, %ld node visits a row\n",
            visits < 0 ? "no blend" : "a blend", visits);
    ck_assert_msg(visits <= SERVING_MAX_VISITS, "a blend of %ld node visits a row", visits);
    ml_result_free(&r);
    json_object_put(spec);
    ml_data_free(d);
}
END_TEST

/* Two numeric inputs and a target: a label with a quote or a slash, or a
 * value in the hundreds (regression). */
static ml_data_t *synth_two(size_t n, int regression)
{
    size_t cap = n * 64 + 64;
    char *s = malloc(cap);
    size_t len = (size_t)snprintf(s, cap, "x1,x2,y\n");
    uint64_t st = 7;
    for (size_t i = 0; i < n; i++) {
        double x1 = unit_rand(&st), x2 = unit_rand(&st);
        if (regression)
            len += (size_t)snprintf(s + len, cap - len, "%.4f,%.4f,%.3f\n", x1, x2,
                                    300 * x1 + 40 * x2 + 7 * unit_rand(&st));
        else
            len += (size_t)snprintf(s + len, cap - len, "%.4f,%.4f,%s\n", x1, x2,
                                    x1 + 0.3 * unit_rand(&st) > 0.6 ? "\"say \"\"hi\"\"\""
                                                                     : "a/b");
    }
    return data_from_text(s, len);
}

/* Each JSON number of text is the shortest text of its float. */
static void numbers_are_float_texts(const char *text)
{
    for (const char *p = text + (*text != '\0'); *p != '\0'; p++) {
        if (!(p[-1] == ':' && (*p == '-' || (*p >= '0' && *p <= '9'))))
            continue;
        char *end = NULL;
        float v = strtof(p, &end);
        char want[NUM_FLOAT_TEXT_MAX + 2];
        int k = num_format_float(v, want, sizeof(want));
        if (strpbrk(want, ".e") == NULL)
            memcpy(want + k, ".0", 3);
        ck_assert_msg(strncmp(p, want, (size_t)(end - p)) == 0 && strlen(want) == (size_t)(end - p),
                      "\"%.*s\" is not %s", (int)(end - p), p, want);
    }
}

/* A plain batch's answer written as text (ml_model_predict_matrix_text)
 * is byte for byte the general answer's document serialised, labels with
 * quotes and slashes escaped as json-c does; every number in it is the
 * prediction's shortest float text, not 17 digits of its double. */
START_TEST(ml_model_text_answer_is_the_document)
{
    static const char body[] =
        "{\"data\":[{\"x1\":0.9,\"x2\":0.1},{\"x1\":0.05,\"x2\":0.7},{\"x2\":0.5,\"x1\":0.61},"
        "{\"x1\":null,\"x2\":1}]}";
    for (int regression = 0; regression <= 1; regression++) {
        ml_data_t *d = synth_two(300, regression);
        json_object *spec = spec_for("y", 1, 2, 0);
        ml_result_t r;
        err_t e;
        err_clear(&e);
        ml_model_t *m = train_first_model(d, spec, &r);
        rowjson_rows_t rows;
        ck_assert_int_eq(ml_model_read_text(m, body, strlen(body), &rows), 1);
        ck_assert_uint_eq(rows.n, 4);
        json_object *doc = NULL;
        ck_assert_msg(ml_model_predict_matrix(m, rows.F, rows.n, 0, &doc, &e) == 0, "%s",
                      err_message(&e));
        textbuf_t text = {0};
        ck_assert_msg(ml_model_predict_matrix_text(m, rows.F, rows.n, &text, &e) == 0, "%s",
                      err_message(&e));
        ck_assert_str_eq(text.p, json_object_to_json_string_ext(
                                     doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!regression)
            ck_assert_msg(strstr(text.p, "\"y\":\"say \\\"hi\\\"\"") != NULL &&
                              strstr(text.p, "\"Probability y is a/b\":") != NULL,
                          "%s", text.p);
        numbers_are_float_texts(text.p);
        /* No rows: an empty array. */
        textbuf_t none = {0};
        ck_assert_int_eq(ml_model_predict_matrix_text(m, rows.F, 0, &none, &e), 0);
        ck_assert_str_eq(none.p, "[]");
        free(none.p);
        free(text.p);
        json_object_put(doc);
        free(rows.F);
        trained_free(m, &r, spec, d);
    }
}
END_TEST

Suite *suite_ml_train(void)
{
    const TTest *const t[] = {
        ml_train_keeps_time_budget_and_reports_progress, ml_train_small_table_finishes_early,
        ml_train_model_inverts_log1p_target,
        ml_train_result_document_shape,
        ml_train_seed_gives_identical_booster, ml_train_extra_attention_raises_macro_f1,
        ml_train_several_predict_fields, ml_train_spec_errors, ml_train_stops_on_request,
        ml_train_model_predicts_and_validates, ml_train_model_marks_unusual_rows,
        ml_train_linear_penalty_follows_validation,
        ml_train_linear_reads_skewed_numbers_through_log1p,
        ml_train_long_budget_validates_on_ten_folds,
        ml_train_ensemble_keeps_serving_budget, ml_train_companion_fits_beside_linear_model,
        ml_model_text_answer_is_the_document, ml_model_small_batches_walked_as_xgboost_predicts,
    };
    return unit_suite("ml_train", t, sizeof(t) / sizeof(t[0]));
}
