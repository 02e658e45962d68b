/*
 * test_handlers_predict_check.c — warnings about prediction inputs
 * (handlers/predict_check.c): what is found, how it is aggregated, what
 * strict refuses, the per-row text of CSV answers.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "handlers/predict_check.h"
#include "tests/unit/unit.h"

Suite *suite_handlers_predict_check(void);

static const char pre_text[] =
    "{\"version\":1,\"task\":\"binary\",\"target\":\"churn\",\"classes\":[\"No\",\"Yes\"],"
    "\"features\":[{\"name\":\"tenure\",\"kind\":\"number\"},"
    "{\"name\":\"contract\",\"kind\":\"category\",\"levels\":[\"Monthly\",\"Yearly\"],"
    "\"other\":true},"
    "{\"name\":\"plan\",\"kind\":\"category\",\"levels\":[\"a\",\"b\"],\"other\":false}]}";

static json_object *warning(json_object *ws, const char *code, const char *field)
{
    for (size_t i = 0; i < json_object_array_length(ws); i++) {
        json_object *w = json_object_array_get_idx(ws, i), *c, *f;
        json_object_object_get_ex(w, "code", &c);
        json_object_object_get_ex(w, "field", &f);
        if (strcmp(json_object_get_string(c), code) == 0 &&
            strcmp(json_object_get_string(f), field) == 0)
            return w;
    }
    return NULL;
}

static long long member_int(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return json_object_get_int64(v);
}

START_TEST(handlers_predict_check_finds_and_aggregates)
{
    json_object *pre = json_tokener_parse(pre_text);
    json_object *rows = json_tokener_parse(
        "[{\"tenure\":3,\"contract\":\"Monthly\",\"plan\":\"a\",\"churn\":\"Yes\"},"
        " {\"tenur\":3,\"contract\":\" Weekly \",\"plan\":\"c\"},"
        " {\"tenur\":4,\"contract\":null,\"plan\":\"NA\",\"tenure\":1},"
        " 7]");
    predict_check_t *c = predict_check_new(pre);
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(predict_check_rows(c, rows, 100, 0, &e), 0);
    json_object *ws = predict_check_warnings(c);
    /* The labelled row's target, missing words and null are no findings. */
    ck_assert_int_eq(json_object_array_length(ws), 4);
    json_object *w = warning(ws, "unknown_field", "tenur");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(member_int(w, "count"), 2);
    json_object *r;
    json_object_object_get_ex(w, "rows", &r);
    ck_assert_str_eq(json_object_to_json_string(r), "[ 101, 102 ]");
    w = warning(ws, "unseen_level", "contract");
    ck_assert_ptr_nonnull(w);
    json_object *v;
    json_object_object_get_ex(w, "value", &v);
    ck_assert_str_eq(json_object_get_string(v), "Weekly"); /* trimmed, as the engine */
    json_object_object_get_ex(w, "message", &v);
    ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "\"other\""));
    w = warning(ws, "unseen_level", "plan");
    json_object_object_get_ex(w, "message", &v);
    ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "missing value"));
    ck_assert_ptr_nonnull(warning(ws, "missing_field", "tenure"));
    ck_assert_int_eq(member_int(warning(ws, "missing_field", "tenure"), "count"), 1);
    /* The next batch adds to the same warnings. */
    json_object *more = json_tokener_parse("[{\"tenur\":1,\"contract\":\"Yearly\",\"plan\":\"b\"}]");
    ck_assert_int_eq(predict_check_rows(c, more, 104, 0, &e), 0);
    ck_assert_int_eq(member_int(warning(ws, "unknown_field", "tenur"), "count"), 3);
    /* Kept for the next request, a checker starts empty again. */
    predict_check_reset(c);
    ck_assert_int_eq(json_object_array_length(predict_check_warnings(c)), 0);
    ck_assert_int_eq(predict_check_rows(c, more, 0, 0, &e), 0);
    ws = predict_check_warnings(c);
    ck_assert_int_eq(member_int(warning(ws, "unknown_field", "tenur"), "count"), 1);
    predict_check_free(c);
    json_object_put(more);
    json_object_put(rows);
    json_object_put(pre);
}
END_TEST

/* The checker remembers the last row's key order and each field's recent
 * levels: rows that swap keys, and levels that only look like known ones,
 * are still judged exactly. */
START_TEST(handlers_predict_check_caches_do_not_blur)
{
    json_object *pre = json_tokener_parse(pre_text);
    json_object *rows = json_tokener_parse(
        "[{\"tenure\":1,\"contract\":\"Monthly\",\"plan\":\"a\"},"
        " {\"tenure\":2,\"contract\":\"Yearly\",\"plan\":\"b\"},"
        " {\"plan\":\"a\",\"tenure\":3,\"contract\":\"Month\"},"
        " {\"contract\":\"Monthly \",\"plan\":\"bb\",\"tenure\":4},"
        " {\"tenure\":5,\"contract\":\"Yearly\",\"pla\":\"a\"}]");
    predict_check_t *c = predict_check_new(pre);
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(predict_check_rows(c, rows, 0, 0, &e), 0);
    json_object *ws = predict_check_warnings(c);
    ck_assert_int_eq(json_object_array_length(ws), 4);
    ck_assert_int_eq(member_int(warning(ws, "unseen_level", "contract"), "count"), 1); /* Month */
    ck_assert_int_eq(member_int(warning(ws, "unseen_level", "plan"), "count"), 1);     /* bb */
    ck_assert_int_eq(member_int(warning(ws, "unknown_field", "pla"), "count"), 1);
    ck_assert_int_eq(member_int(warning(ws, "missing_field", "plan"), "count"), 1);
    predict_check_free(c);
    json_object_put(rows);
    json_object_put(pre);
}
END_TEST

START_TEST(handlers_predict_check_strict_refuses_with_paths)
{
    json_object *pre = json_tokener_parse(pre_text);
    json_object *rows = json_tokener_parse(
        "[{\"tenure\":3,\"contract\":\"Monthly\",\"plan\":\"a\"},"
        " {\"tenure\":3,\"contract\":\"Weekly\",\"plan\":\"a\"}]");
    predict_check_t *c = predict_check_new(pre);
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(predict_check_rows(c, rows, 0, 1, &e), -1);
    ck_assert_int_eq(e.status, 422);
    ck_assert_int_eq(e.count, 1);
    ck_assert_str_eq(e.items[0].field, "body/data/1/contract");
    ck_assert_str_eq(e.items[0].code, "unseen_level");
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "Weekly"));
    predict_check_free(c);
    /* A clean batch passes strict. */
    c = predict_check_new(pre);
    err_clear(&e);
    json_object *ok = json_tokener_parse("[{\"tenure\":3,\"contract\":\"Yearly\",\"plan\":\"b\"}]");
    ck_assert_int_eq(predict_check_rows(c, ok, 0, 1, &e), 0);
    ck_assert_int_eq(json_object_array_length(predict_check_warnings(c)), 0);
    predict_check_free(c);
    json_object_put(ok);
    json_object_put(rows);
    json_object_put(pre);
}
END_TEST

START_TEST(handlers_predict_check_row_text_and_bounds)
{
    json_object *pre = json_tokener_parse(pre_text);
    predict_check_t *c = predict_check_new(pre);
    json_object *row = json_tokener_parse("{\"tenure\":1,\"contract\":\"Weekly\",\"plan\":\"z\"}");
    char buf[128];
    ck_assert_int_eq(predict_check_row_text(c, row, buf, sizeof(buf)), 2);
    ck_assert_str_eq(buf, "unseen_level contract=Weekly; unseen_level plan=z");
    /* Cut, never overrun. */
    char small[12];
    ck_assert_int_eq(predict_check_row_text(c, row, small, sizeof(small)), 2);
    ck_assert_int_eq(strlen(small), sizeof(small) - 1);
    /* Per-row text does not aggregate. */
    ck_assert_int_eq(json_object_array_length(predict_check_warnings(c)), 0);
    /* At most PREDICT_CHECK_MAX distinct warnings, however many levels. */
    json_object *rows = json_object_new_array();
    for (int i = 0; i < 3 * PREDICT_CHECK_MAX; i++) {
        json_object *o = json_object_new_object();
        char level[32];
        snprintf(level, sizeof(level), "L%d", i);
        json_object_object_add(o, "tenure", json_object_new_int(1));
        json_object_object_add(o, "plan", json_object_new_string("a"));
        json_object_object_add(o, "contract", json_object_new_string(level));
        json_object_array_add(rows, o);
    }
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(predict_check_rows(c, rows, 0, 0, &e), 0);
    ck_assert_int_eq(json_object_array_length(predict_check_warnings(c)), PREDICT_CHECK_MAX);
    json_object_put(rows);
    json_object_put(row);
    predict_check_free(c);
    json_object_put(pre);
}
END_TEST

/* The training columns the model dropped (preprocess "dropped_fields") are
 * no unknown fields; only the rows marked are read. */
START_TEST(handlers_predict_check_dropped_and_marked)
{
    json_object *pre = json_tokener_parse(
        "{\"target\":\"y\",\"features\":[{\"name\":\"a\",\"kind\":\"number\"},"
        "{\"name\":\"b\",\"kind\":\"number\"}],"
        "\"dropped_fields\":[{\"field\":\"k\",\"reason\":\"constant\"},"
        "{\"field\":\"id\",\"reason\":\"ignored\"}]}");
    json_object *rows = json_tokener_parse(
        "[{\"a\":1,\"b\":2,\"k\":7,\"id\":\"x\",\"y\":1},"
        " {\"a\":1,\"bb\":2},"
        " {\"a\":1,\"c\":2}]");
    predict_check_t *c = predict_check_new(pre);
    err_t e;
    err_clear(&e);
    static const unsigned char marked[3] = {1, 0, 1};
    ck_assert_int_eq(predict_check_rows_marked(c, rows, marked, 0, 0, &e), 0);
    json_object *ws = predict_check_warnings(c);
    /* Row 0: nothing (dropped columns, the label); row 1 not read; row 2:
     * c unknown, b missing. */
    ck_assert_int_eq(json_object_array_length(ws), 2);
    ck_assert_ptr_nonnull(warning(ws, "unknown_field", "c"));
    ck_assert_ptr_nonnull(warning(ws, "missing_field", "b"));
    ck_assert_ptr_null(warning(ws, "unknown_field", "bb"));
    predict_check_reset(c);
    ck_assert_int_eq(predict_check_rows_marked(c, rows, NULL, 0, 1, &e), -1);
    ck_assert_int_eq(e.count, 4); /* rows 1 and 2: an unknown field and b missing each */
    ck_assert_str_eq(e.items[0].field, "body/data/1/bb");
    predict_check_free(c);
    json_object_put(rows);
    json_object_put(pre);
}
END_TEST

Suite *suite_handlers_predict_check(void)
{
    const TTest *const t[] = {
        handlers_predict_check_finds_and_aggregates,
        handlers_predict_check_caches_do_not_blur,
        handlers_predict_check_strict_refuses_with_paths,
        handlers_predict_check_row_text_and_bounds,
        handlers_predict_check_dropped_and_marked,
    };
    return unit_suite("handlers_predict_check", t, sizeof(t) / sizeof(t[0]));
}
