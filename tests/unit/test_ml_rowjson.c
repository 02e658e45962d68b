/*
 * test_ml_rowjson.c — the plain batch reader (ml/rowjson.c): a plain batch
 * is read to the cells the general path would give (numbers as json-c
 * reads them, booleans, known levels, missing values, the flags); every
 * way out of the plain shape is refused, to be answered by the general
 * path; and a batch past its cell bound is refused before it grows.
 * tests/fuzz/fuzz_rowjson.c checks the same against json-c on any input.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/rowjson.h"
#include "tests/unit/unit.h"

Suite *suite_ml_rowjson(void);

typedef struct fixture {
    enc_plan_t plan;
    keyorder_t *keys;
} fixture_t;

/* a: number, b: boolean, c: category x | "y z" | NA (other); k: dropped. */
static void fixture_init(fixture_t *fx)
{
    json_object *f = json_tokener_parse(
        "[{\"name\":\"a\",\"kind\":\"number\"},{\"name\":\"b\",\"kind\":\"boolean\"},"
        "{\"name\":\"c\",\"kind\":\"category\",\"levels\":[\"x\",\"y z\",\"NA\"],"
        "\"other\":true}]");
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(enc_plan_from_json(&fx->plan, f, 0, &e), 0);
    json_object_put(f);
    const char *names[] = {fx->plan.f[0].name, fx->plan.f[1].name, fx->plan.f[2].name, "k"};
    fx->keys = keyorder_new(names, 4);
    ck_assert_ptr_nonnull(fx->keys);
}

static void fixture_free(fixture_t *fx)
{
    keyorder_free(fx->keys);
    enc_plan_free(&fx->plan);
}

static int read_text(fixture_t *fx, const char *text, size_t max_cells, rowjson_rows_t *rows)
{
    rowjson_plan_t p = {.plan = &fx->plan, .keys = fx->keys, .max_cells = max_cells};
    return rowjson_read(&p, text, strlen(text), rows);
}

START_TEST(ml_rowjson_reads_a_plain_batch)
{
    fixture_t fx;
    fixture_init(&fx);
    rowjson_rows_t rows;
    const char *text =
        " {\"explain\": true, \"data\": ["
        "{\"a\": 1, \"b\": true, \"c\": \"x\"},"
        " {\"c\": \"y z\", \"k\": {\"not\": 1}}],"
        " \"strict\": false} ";
    /* A dropped column holding an object is not plain (json-c would keep it,
     * but no training column held one). */
    ck_assert_int_eq(read_text(&fx, text, 1000, &rows), 0);
    text = "{\"explain\":true,\"data\":["
           "{\"a\":1,\"b\":true,\"c\":\"x\"},"
           "{\"c\":\"y z\",\"k\":\"id-7\",\"b\":false,\"a\":-2.5e-3},"
           "{\"a\":null,\"b\":null,\"c\":null,\"k\":null},"
           "{\"a\":123456789012345678,\"b\":true,\"c\":\"x\"},"
           "{\"a\":0.30000000000000004,\"b\":true,\"c\":\"x\"},"
           "{\"a\":-0.0,\"b\":true,\"c\":\"x\"},"
           "{\"a\":12345678.901234567,\"b\":true,\"c\":\"x\"}],"
           "\"strict\":false}";
    ck_assert_int_eq(read_text(&fx, text, 1000, &rows), 1);
    ck_assert_uint_eq(rows.n, 7);
    ck_assert_int_eq(rows.explain, 1);
    ck_assert_int_eq(rows.strict, 0);
    const float *F = rows.F;
    ck_assert(F[0] == 1.0f && F[1] == 1.0f && F[2] == 0.0f);
    ck_assert(F[3] == (float)strtod("-2.5e-3", NULL) && F[4] == 0.0f && F[5] == 1.0f);
    ck_assert(isnan(F[6]) && isnan(F[7]) && isnan(F[8]));
    ck_assert(F[9] == (float)(double)123456789012345678LL);
    ck_assert(F[12] == (float)strtod("0.30000000000000004", NULL));
    ck_assert(F[15] == 0.0f && signbit(F[15]));
    ck_assert(F[18] == (float)strtod("12345678.901234567", NULL));
    free(rows.F);
    /* Text as the general path reads it: numbers, boolean words, missing. */
    text = "{\"data\":[{\"a\":\" 29.85\",\"b\":\"no\",\"c\":\"x\"},"
           "{\"a\":\"\",\"b\":\"NA\",\"c\":\"y z\"}]}";
    ck_assert_int_eq(read_text(&fx, text, 1000, &rows), 1);
    ck_assert(rows.F[0] == 29.85f && rows.F[1] == 0.0f && rows.F[2] == 0.0f);
    ck_assert(isnan(rows.F[3]) && isnan(rows.F[4]) && rows.F[5] == 1.0f);
    free(rows.F);
    /* No flags; no rows. */
    ck_assert_int_eq(read_text(&fx, "{\"data\":[]}", 1000, &rows), 1);
    ck_assert_uint_eq(rows.n, 0);
    ck_assert_int_eq(rows.strict, -1);
    ck_assert_int_eq(rows.explain, -1);
    free(rows.F);
    fixture_free(&fx);
}
END_TEST

START_TEST(ml_rowjson_refuses_what_is_not_plain)
{
    fixture_t fx;
    fixture_init(&fx);
    static const char *const cases[] = {
        "",                                               /* no body */
        "[]",                                             /* not an object */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"x\"}]",   /* cut short */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"x\"}]} x", /* trailing text */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"x\",}]}", /* trailing comma */
        "{}",                                             /* no data */
        "{\"data\":{\"a\":1,\"b\":true,\"c\":\"x\"}}",    /* one row, not a list */
        "{\"data\":[7]}",                                 /* a row not an object */
        "{\"data\":[],\"data\":[]}",                      /* data twice */
        "{\"data\":[],\"strict\":1}",                     /* strict not a boolean */
        "{\"data\":[],\"strict\":true,\"strict\":true}",  /* strict twice */
        "{\"data\":[],\"note\":\"hi\"}",                  /* a member it does not know */
        "{\"data\":[{\"a\":1,\"b\":true}]}",              /* a field missing */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"x\",\"d\":1}]}", /* an unknown field */
        "{\"data\":[{\"a\":1,\"a\":2,\"b\":true,\"c\":\"x\"}]}", /* a field twice */
        "{\"data\":[{\"a\":true,\"b\":true,\"c\":\"x\"}]}",      /* a boolean for a number */
        "{\"data\":[{\"a\":1,\"b\":1,\"c\":\"x\"}]}",            /* 1 for a boolean */
        "{\"data\":[{\"a\":\"1x\",\"b\":true,\"c\":\"x\"}]}",    /* text, not a number */
        "{\"data\":[{\"a\":1,\"b\":\"maybe\",\"c\":\"x\"}]}",    /* not a boolean word */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":1}]}",             /* a number for a category */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"w\"}]}",         /* an unseen level */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\" x\"}]}",        /* a padded level */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"NA\"}]}",        /* a missing word */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"\\u0078\"}]}",   /* an escape */
        "{\"data\":[{\"a\":[1],\"b\":true,\"c\":\"x\"}]}",       /* a list for a number */
        "{\"data\":[{\"a\":-0,\"b\":true,\"c\":\"x\"}]}",        /* json-c's int -0 */
        "{\"data\":[{\"a\":01,\"b\":true,\"c\":\"x\"}]}",        /* a leading zero */
        "{\"data\":[{\"a\":1234567890123456789,\"b\":true,\"c\":\"x\"}]}", /* 19 digits */
        "{\"data\":[{\"a\":1e39,\"b\":true,\"c\":\"x\"}]}",      /* past a float */
        "{\"data\":[{\"a\":1e-400,\"b\":true,\"c\":\"x\"}]}",    /* underflow */
        "{\"data\":[{\"a\":NaN,\"b\":true,\"c\":\"x\"}]}",       /* not JSON */
        "{\"data\":[{\"a\":1.,\"b\":true,\"c\":\"x\"}]}",        /* not JSON */
        "{\"data\":[{\"a\":1,\"b\":true,\"c\":\"x\"}]} /* c */", /* a comment */
        "{\"data\":[\f]}",                              /* white space to some parsers */
        "{\"data\":[\v]}",
        "{\"data\":[]}\"", "{\"data\":[]} \"}",              /* unfinished after the end */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rowjson_rows_t rows;
        ck_assert_msg(read_text(&fx, cases[i], 1000, &rows) == 0, "plain: %s", cases[i]);
        ck_assert_ptr_null(rows.F);
        ck_assert_uint_eq(rows.n, 0);
    }
    fixture_free(&fx);
}
END_TEST

START_TEST(ml_rowjson_bounds_cells)
{
    fixture_t fx;
    fixture_init(&fx);
    /* 2,000 rows of 3 fields: 6,000 cells. */
    size_t cap = 2000 * 40 + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "{\"data\":[");
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s{\"a\":%d,\"b\":true,\"c\":\"x\"}",
                                i ? "," : "", i);
    snprintf(text + len, cap - len, "]}");
    rowjson_rows_t rows;
    ck_assert_int_eq(read_text(&fx, text, 6000, &rows), 1);
    ck_assert_uint_eq(rows.n, 2000);
    ck_assert(rows.F[1999 * 3] == 1999.0f);
    free(rows.F);
    ck_assert_int_eq(read_text(&fx, text, 5999, &rows), 0);
    ck_assert_ptr_null(rows.F);
    free(text);
    fixture_free(&fx);
}
END_TEST

Suite *suite_ml_rowjson(void)
{
    const TTest *const t[] = {
        ml_rowjson_reads_a_plain_batch,
        ml_rowjson_refuses_what_is_not_plain,
        ml_rowjson_bounds_cells,
    };
    return unit_suite("ml_rowjson", t, sizeof(t) / sizeof(t[0]));
}
