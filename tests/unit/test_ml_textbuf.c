/*
 * test_ml_textbuf.c — the growing text buffer (ml/textbuf.c): appends of
 * every kind keep the text whole and NUL-terminated across growth past its
 * first allocation, and JSON goes in compact, slashes unescaped.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/textbuf.h"
#include "tests/unit/unit.h"

Suite *suite_ml_textbuf(void);

START_TEST(ml_textbuf_grows_and_stays_whole)
{
    textbuf_t b = {0};
    size_t want = 0;
    for (int i = 0; i < 5000; i++) { /* ~40 KB: more than the first 16 KB */
        ck_assert_int_eq(tb_printf(&b, "%d,", i), 0);
        want += (size_t)snprintf(NULL, 0, "%d,", i);
    }
    ck_assert_int_eq(tb_addn(&b, "end", 3), 0);
    want += 3;
    ck_assert_uint_eq(b.n, want);
    ck_assert_uint_eq(strlen(b.p), want);
    ck_assert(strncmp(b.p, "0,1,2,", 6) == 0);
    ck_assert(strstr(b.p, ",4998,4999,end") != NULL);
    ck_assert(!b.oom);
    free(b.p);
}
END_TEST

START_TEST(ml_textbuf_json_is_compact)
{
    textbuf_t b = {0};
    json_object *o = json_object_new_object();
    json_object_object_add(o, "path", json_object_new_string("a/b"));
    json_object_object_add(o, "n", json_object_new_int(2));
    ck_assert_int_eq(tb_addn(&b, "[", 1), 0);
    ck_assert_int_eq(tb_json(&b, o), 0);
    ck_assert_int_eq(tb_addn(&b, "]", 1), 0);
    ck_assert_str_eq(b.p, "[{\"path\":\"a/b\",\"n\":2}]");
    json_object_put(o);
    free(b.p);
}
END_TEST

Suite *suite_ml_textbuf(void)
{
    const TTest *t[] = {ml_textbuf_grows_and_stays_whole, ml_textbuf_json_is_compact};
    return unit_suite("ml_textbuf", t, sizeof(t) / sizeof(t[0]));
}
