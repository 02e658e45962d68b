/*
 * test_ml_infer.c — the distinct counts the dataset summary reports (ml/infer.c):
 * exact for small text columns, estimated (and flagged) past
 * COL_EXACT_DISTINCT, absent where the column holds numbers.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/column.h"
#include "ml/csv.h"
#include "tests/unit/unit.h"

Suite *suite_ml_infer(void);

static json_object *field(json_object *summary, size_t i)
{
    json_object *fields;
    ck_assert(json_object_object_get_ex(summary, "fields", &fields));
    return json_object_array_get_idx(fields, i);
}

START_TEST(ml_infer_distinct_counts)
{
    const char *text = "city,flag,n,mixed\n"
                       "Oslo,yes,1,a\n"
                       "Rome,no,2,3\n"
                       "Oslo,yes,3,b\n"
                       "NA,no,4,a\n"
                       "Lima,yes,,c\n";
    err_t e = {0};
    csv_infer_t *ci = csv_infer_new(NULL);
    json_object *s = NULL;
    ck_assert_int_eq(csv_infer_feed(ci, text, strlen(text), &e), 0);
    ck_assert_int_eq(csv_infer_finish(ci, &s, &e), 0);
    csv_infer_free(ci);
    json_object *v;
    /* Missing cells are not values: Oslo, Rome, Lima. */
    ck_assert(json_object_object_get_ex(field(s, 0), "distinct", &v));
    ck_assert_int_eq(json_object_get_int(v), 3);
    ck_assert(!json_object_object_get_ex(field(s, 0), "distinct_estimated", NULL));
    ck_assert(json_object_object_get_ex(field(s, 1), "distinct", &v));
    ck_assert_int_eq(json_object_get_int(v), 2);
    /* Numbers are not counted: no figure rather than a wrong one. */
    ck_assert(!json_object_object_get_ex(field(s, 2), "distinct", NULL));
    ck_assert(!json_object_object_get_ex(field(s, 3), "distinct", NULL));
    json_object_put(s);
}
END_TEST

START_TEST(ml_infer_distinct_estimated_past_exact)
{
    /* 3 * COL_EXACT_DISTINCT distinct ids, each twice: the estimate is
     * within HyperLogLog's few percent and flagged as an estimate. */
    size_t n = 3 * COL_EXACT_DISTINCT;
    err_t e = {0};
    csv_infer_t *ci = csv_infer_new(NULL);
    ck_assert_int_eq(csv_infer_feed(ci, "id\n", 3, &e), 0);
    char line[32];
    for (size_t rep = 0; rep < 2; rep++)
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(line, sizeof(line), "u%zu\n", i);
            ck_assert_int_eq(csv_infer_feed(ci, line, (size_t)len, &e), 0);
        }
    json_object *s = NULL, *v;
    ck_assert_int_eq(csv_infer_finish(ci, &s, &e), 0);
    csv_infer_free(ci);
    ck_assert(json_object_object_get_ex(field(s, 0), "distinct", &v));
    double d = (double)json_object_get_int64(v);
    ck_assert_msg(d > 0.95 * (double)n && d < 1.05 * (double)n, "estimate %g for %zu", d, n);
    ck_assert(json_object_object_get_ex(field(s, 0), "distinct_estimated", &v) &&
              json_object_get_boolean(v));
    json_object_put(s);
}
END_TEST

Suite *suite_ml_infer(void)
{
    const TTest *const t[] = {ml_infer_distinct_counts, ml_infer_distinct_estimated_past_exact};
    return unit_suite("ml_infer", t, sizeof(t) / sizeof(t[0]));
}
