/*
 * test_ml_extmem.c — data larger than memory (ml/spill.h, ml/extmem.h):
 * spilled columns read back as the in-memory ones hold them, and a table
 * forced onto the external-memory path (small page groups) trains a model
 * whose quality on fresh rows is close to the in-memory path's, that
 * predicts like any model, and whose result says which path it took; a
 * table of several blocks is boosted around all of them.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "ml/data.h"
#include "ml/encode.h"
#include "ml/extmem.h"
#include "ml/metrics.h"
#include "ml/model.h"
#include "ml/spill.h"
#include "ml/train.h"
#include "tests/unit/unit.h"

Suite *suite_ml_extmem(void);

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static double urand(uint64_t *s)
{
    return (double)lcg(s) / 2147483648.0;
}

static const char *const colors[] = {"red", "green", "blue", "teal", "gold"};
static const double color_effect[] = {1.0, -1.0, 0.0, 0.5, -0.5};

/* One row of the synthetic table: y depends on x1, x2, color and flag;
 * x3 is noise; "mixed" holds numbers until late rows bring a text (a
 * column that turns to levels after pages were written). Fills the CSV
 * line and, when obj is not NULL, the row as a JSON object. */
static int row_text(char *buf, size_t n, uint64_t *s, size_t i, size_t rows, int *y,
                    json_object *obj)
{
    double x1 = urand(s) * 4 - 2, x2 = urand(s) * 4 - 2, x3 = urand(s);
    size_t c = lcg(s) % 5;
    int flag = lcg(s) % 2;
    double z = 1.5 * x1 - 1.0 * x2 * x2 + 2 * color_effect[c] + (flag ? 0.7 : -0.7) +
               (urand(s) - 0.5) * 2.0;
    *y = z > -1.0;
    char mixed[32];
    if (i + 10 >= rows && i % 2)
        snprintf(mixed, sizeof(mixed), "unknown");
    else
        snprintf(mixed, sizeof(mixed), "%zu", (size_t)(lcg(s) % 7));
    if (obj != NULL) {
        json_object_object_add(obj, "x1", json_object_new_double(x1));
        json_object_object_add(obj, "x2", json_object_new_double(x2));
        json_object_object_add(obj, "x3", json_object_new_double(x3));
        json_object_object_add(obj, "color", json_object_new_string(colors[c]));
        json_object_object_add(obj, "flag", json_object_new_string(flag ? "yes" : "no"));
    }
    return snprintf(buf, n, "%zu,%.4f,%.4f,%.4f,%s,%s,%s,%s\n", i + 1, x1, x2, x3, colors[c],
                    flag ? "yes" : "no", mixed, *y ? "churn" : "stay");
}

/* The same table, in memory or spilled in groups of group_rows. */
static ml_data_t *table(size_t rows, const char *dir, size_t group_rows)
{
    ml_data_t *d = ml_data_new(NULL);
    err_t e;
    err_clear(&e);
    if (dir != NULL)
        ck_assert_int_eq(ml_data_spill(d, dir, group_rows, &e), 0);
    const char *head = "id,x1,x2,x3,color,flag,mixed,y\n";
    ck_assert_int_eq(ml_data_feed(d, head, strlen(head), &e), 0);
    uint64_t s = 42;
    char line[256];
    for (size_t i = 0; i < rows; i++) {
        int y;
        int k = row_text(line, sizeof(line), &s, i, rows, &y, NULL);
        ck_assert_msg(ml_data_feed(d, line, (size_t)k, &e) == 0, "%s", err_message(&e));
    }
    ck_assert_msg(ml_data_finish(d, &e) == 0, "%s", err_message(&e));
    return d;
}

static char *scratch(void)
{
    char *dir = strdup("/tmp/trainyard-extmem-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

START_TEST(ml_extmem_spill_reads_back_every_value)
{
    char *dir = scratch();
    ml_data_t *m = table(5000, NULL, 0), *d = table(5000, dir, 700);
    err_t e;
    err_clear(&e);
    ck_assert(ml_data_spilled(d) && !ml_data_spilled(m));
    ck_assert_uint_eq(ml_data_rows(d), 5000);
    ck_assert_uint_gt(spill_groups(d->spill), 7);
    ck_assert_uint_eq(spill_rows(d->spill), 5000);
    for (size_t c = 0; c < m->n_cols; c++) {
        ck_assert_int_eq(d->types[c], m->types[c]);
        ck_assert_int_eq(d->cols[c].is_codes, m->cols[c].is_codes);
        ck_assert_uint_eq(d->cols[c].dict.n, m->cols[c].dict.n);
        uint32_t buf[700];
        size_t row = 0;
        for (size_t g = 0; g < spill_groups(d->spill); g++) {
            size_t n = spill_group_size(d->spill, g);
            ck_assert_int_eq(spill_read(d->spill, &d->cols[c], c, g, buf, &e), 0);
            for (size_t i = 0; i < n; i++, row++) {
                if (!m->cols[c].is_codes) {
                    float a = ((float *)buf)[i], b = m->cols[c].vals[row];
                    ck_assert((isnan(a) && isnan(b)) || a == b);
                    continue;
                }
                /* Codes may be numbered differently (a switched column
                 * interns its spilled numbers at the switch): compare
                 * texts, and counts per level. */
                uint32_t a = buf[i], b = column_code(&m->cols[c], row);
                ck_assert_int_eq(a >= COL_OVERFLOW, b >= COL_OVERFLOW);
                if (a < COL_OVERFLOW) {
                    ck_assert_str_eq(dict_text(&d->cols[c].dict, a),
                                     dict_text(&m->cols[c].dict, b));
                    ck_assert_uint_eq(d->cols[c].dict.e[a].count, m->cols[c].dict.e[b].count);
                }
            }
        }
        ck_assert_uint_eq(row, 5000);
    }
    /* "mixed" turned to levels after pages were written as numbers. */
    long mixed = ml_data_find(d, "mixed");
    ck_assert_int_eq(d->types[mixed], CSV_CATEGORY);
    /* The id column is still recognised as one from the pages. */
    ml_data_free(m);
    ml_data_free(d);
    ck_assert_int_eq(rmdir(dir), 0); /* the page file was unlinked at once */
    free(dir);
}
END_TEST

/* AUC of model m on rows fresh rows drawn from the same law. */
static double fresh_auc(ml_model_t *m, size_t rows)
{
    uint64_t s = 977;
    json_object *arr = json_object_new_array();
    int *y = malloc(rows * sizeof(*y));
    float *score = malloc(rows * sizeof(*score));
    char line[256];
    for (size_t i = 0; i < rows; i++) {
        json_object *o = json_object_new_object();
        row_text(line, sizeof(line), &s, i, rows * 100, &y[i], o);
        json_object_array_add(arr, o);
    }
    json_object *out = NULL;
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_model_predict(m, arr, &out, &e) == 0, "%s", err_message(&e));
    for (size_t i = 0; i < rows; i++) {
        json_object *p;
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(out, i),
                                            "Probability y is churn", &p));
        score[i] = (float)json_object_get_double(p);
    }
    double auc = metric_auc(score, y, rows);
    json_object_put(out);
    json_object_put(arr);
    free(y);
    free(score);
    return auc;
}

static double train_and_score(ml_data_t *d, json_object **result)
{
    /* Three candidates each, bounded by work rather than by the clock
     * (each early-stops): under ASan on a loaded machine a round costs ten
     * times more, and a tight budget would measure that instead. The
     * deadline only caps the test's time. */
    json_object *spec = json_tokener_parse("{\"predict_fields\":[\"y\"],\"duration\":30,"
                                           "\"seed\":3,\"max_models\":3}");
    ml_result_t r;
    err_t e;
    err_clear(&e);
    ck_assert_msg(ml_train(d, spec, util_now_monotonic() + 25, NULL, &r, &e) == 0, "%s",
                  err_message(&e));
    ml_model_out_t *mo = &r.models[0];
    ml_model_t *m = ml_model_load(mo->booster, mo->booster_len, mo->preprocess, &e);
    ck_assert_msg(m != NULL, "%s", err_message(&e));
    double auc = fresh_auc(m, 3000);
    *result = json_object_get(r.result);
    ml_model_free(m);
    ml_result_free(&r);
    json_object_put(spec);
    return auc;
}

START_TEST(ml_extmem_trains_close_to_in_memory)
{
    char *dir = scratch();
    ml_data_t *m = table(12000, NULL, 0), *d = table(12000, dir, 1000);
    json_object *rm = NULL, *rd = NULL, *x;
    double auc_m = train_and_score(m, &rm), auc_d = train_and_score(d, &rd);
    fprintf(stderr, "ml_extmem: fresh-row AUC in memory %.4f, external memory %.4f\n", auc_m,
            auc_d);
    ck_assert(!json_object_object_get_ex(rm, "external_memory", NULL));
    ck_assert(json_object_object_get_ex(rd, "external_memory", &x));
    ck_assert(json_object_object_get_ex(x, "rows", &x));
    ck_assert_int_eq(json_object_get_int(x), 12000);
    /* The id column is dropped from the pages' facts as from memory. */
    ck_assert(strstr(json_object_to_json_string(rd), "id-like") != NULL);
    ck_assert(auc_d > 0.85);
    ck_assert_msg(auc_d > auc_m - 0.02, "external %.4f vs in memory %.4f", auc_d, auc_m);
    json_object_put(rm);
    json_object_put(rd);
    ml_data_free(m);
    ml_data_free(d);
    ck_assert_int_eq(rmdir(dir), 0); /* XGBoost's cache files are gone too */
    free(dir);
}
END_TEST

/* A table of several blocks (a small block_bytes stands for a small
 * memory cap): the booster moves from block to block, every training row
 * is in one, it stays inside its time, and its model is as good as the
 * signal allows. */
START_TEST(ml_extmem_blocks_go_around_the_table)
{
    char *dir = scratch();
    ml_data_t *d = table(12000, dir, 1000);
    err_t e;
    err_clear(&e);
    long col = ml_data_find(d, "y");
    task_info_t t;
    ck_assert_msg(extmem_task_detect(d, (size_t)col, NULL, &t, &e) == 0, "%s", err_message(&e));
    ck_assert_int_eq(t.task, TASK_BINARY);
    enc_plan_t plan;
    memset(&plan, 0, sizeof(plan));
    json_object *ignore = json_object_new_array(), *dropped = json_object_new_array();
    ck_assert_msg(enc_plan_build(&plan, d, (size_t)col, ignore, dropped, &e) == 0, "%s",
                  err_message(&e));
    double now = util_now_monotonic();
    /* ~46 bytes a row here: 3000-row blocks of the ~11,700 training rows. */
    extmem_in_t in = {.d = d, .target = (size_t)col, .t = &t, .plan = &plan, .end = now + 20,
                      .reserve = 0.5, .job_start = now, .job_end = now + 20, .seed = 5,
                      .max_models = 1, .field = "y", .field_index = 0,
                      .block_bytes = 3000.0 * (2.0 * (double)plan.n + 36.0)};
    search_out_t so;
    float *F = NULL, *y = NULL;
    size_t nv = 0;
    json_object *info = NULL, *x;
    ck_assert_msg(extmem_search(&in, &so, &F, &y, &nv, &info, &e) == 0, "%s", err_message(&e));
    ck_assert_double_le(util_now_monotonic(), now + 20);
    ck_assert(json_object_object_get_ex(info, "blocks", &x));
    ck_assert_int_ge(json_object_get_int(x), 3);
    /* The booster moved on to other blocks (it stops when the holdout
     * stops improving, which on this easy law may come before a tour). */
    int blocks = json_object_get_int(x);
    ck_assert(json_object_object_get_ex(info, "blocks_quantised", &x));
    ck_assert_int_ge(json_object_get_int(x), 2);
    ck_assert(json_object_object_get_ex(info, "training_rows", &x));
    ck_assert_int_eq(json_object_get_int(x) + (int)nv, 12000);
    ck_assert_uint_gt(nv, 1000);
    json_object *c0 = json_object_array_get_idx(so.candidates, 0), *p;
    ck_assert(json_object_object_get_ex(c0, "params", &p));
    ck_assert(json_object_object_get_ex(p, "blocks", &x));
    ck_assert_int_eq(json_object_get_int(x), blocks);
    ck_assert_msg(so.value > 0.9, "holdout auc %.4f", so.value);
    free(F);
    free(y);
    json_object_put(info);
    json_object_put(ignore);
    json_object_put(dropped);
    search_out_free(&so);
    enc_plan_free(&plan);
    task_info_free(&t);
    ml_data_free(d);
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}
END_TEST

Suite *suite_ml_extmem(void)
{
    const TTest *const t[] = {
        ml_extmem_spill_reads_back_every_value,
        ml_extmem_trains_close_to_in_memory,
        ml_extmem_blocks_go_around_the_table,
    };
    return unit_suite("ml_extmem", t, sizeof(t) / sizeof(t[0]));
}
