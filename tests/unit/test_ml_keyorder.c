/*
 * test_ml_keyorder.c — name lookup by key position (ml/keyorder.c): every
 * key finds its name's index whatever order the rows give them in, an
 * unknown key is -1 and does not disturb the next row, a name given twice
 * keeps its first index, and rows wider than the remembered positions
 * still find every key.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ml/keyorder.h"
#include "tests/unit/unit.h"

Suite *suite_ml_keyorder(void);

START_TEST(ml_keyorder_finds_keys_in_any_order)
{
    const char *names[] = {"age", "city", "score"};
    keyorder_t *ko = keyorder_new(names, 3);
    ck_assert_ptr_nonnull(ko);
    /* The usual order, twice (the second row compares by position). */
    for (int row = 0; row < 2; row++) {
        ck_assert_int_eq(keyorder_find(ko, 0, "age"), 0);
        ck_assert_int_eq(keyorder_find(ko, 1, "city"), 1);
        ck_assert_int_eq(keyorder_find(ko, 2, "score"), 2);
    }
    /* Another order, an unknown key among them, then the usual one again. */
    ck_assert_int_eq(keyorder_find(ko, 0, "score"), 2);
    ck_assert_int_eq(keyorder_find(ko, 1, "zip"), -1);
    ck_assert_int_eq(keyorder_find(ko, 2, "age"), 0);
    ck_assert_int_eq(keyorder_find(ko, 3, "city"), 1);
    ck_assert_int_eq(keyorder_find(ko, 0, "age"), 0);
    ck_assert_int_eq(keyorder_find(ko, 1, "city"), 1);
    ck_assert_int_eq(keyorder_find(ko, 2, "score"), 2);
    ck_assert_int_eq(keyorder_find(ko, 3, "zip"), -1);
    /* A prefix of a name, or a name with more, is not that name. */
    ck_assert_int_eq(keyorder_find(ko, 0, "ag"), -1);
    ck_assert_int_eq(keyorder_find(ko, 0, "ages"), -1);
    ck_assert_int_eq(keyorder_find(ko, 0, ""), -1);
    ck_assert_int_eq(keyorder_find(ko, SIZE_MAX, "city"), 1);
    keyorder_free(ko);
}
END_TEST

START_TEST(ml_keyorder_twice_given_name_keeps_first)
{
    const char *names[] = {"a", "b", "a"};
    keyorder_t *ko = keyorder_new(names, 3);
    ck_assert_ptr_nonnull(ko);
    ck_assert_int_eq(keyorder_find(ko, 2, "a"), 0);
    ck_assert_int_eq(keyorder_find(ko, 2, "a"), 0);
    keyorder_free(ko);
    ko = keyorder_new(names, 0);
    ck_assert_ptr_nonnull(ko);
    ck_assert_int_eq(keyorder_find(ko, 0, "a"), -1);
    keyorder_free(ko);
    keyorder_free(NULL);
}
END_TEST

START_TEST(ml_keyorder_wide_rows)
{
    enum { N = 3000 };
    static char text[N][16];
    static const char *names[N];
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof(text[i]), "f%d", i);
        names[i] = text[i];
    }
    keyorder_t *ko = keyorder_new(names, N);
    ck_assert_ptr_nonnull(ko);
    for (int row = 0; row < 3; row++)
        for (int k = 0; k < N; k++) {
            /* Row 1 reverses the order: every position misses once. */
            int i = row == 1 ? N - 1 - k : k;
            ck_assert_int_eq(keyorder_find(ko, (size_t)k, names[i]), i);
        }
    keyorder_free(ko);
}
END_TEST

Suite *suite_ml_keyorder(void)
{
    const TTest *t[] = {ml_keyorder_finds_keys_in_any_order,
                        ml_keyorder_twice_given_name_keeps_first, ml_keyorder_wide_rows};
    return unit_suite("ml_keyorder", t, sizeof(t) / sizeof(t[0]));
}
