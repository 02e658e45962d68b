/*
 * test_ml_contrib.c — folding booster-input contributions into user fields
 * (ml/contrib.c): one-hot columns of a category add up to its field, and
 * the total (bias included) is unchanged, so it still equals the margin.
 */
#include <check.h>
#include <math.h>

#include "ml/contrib.h"
#include "tests/unit/unit.h"

Suite *suite_ml_contrib(void);

START_TEST(ml_contrib_tree_maps_one_to_one)
{
    enc_feature_t f[2] = {{.name = "a", .kind = ENC_NUMBER},
                          {.name = "c", .kind = ENC_CATEGORY, .n_levels = 2, .other = 1}};
    enc_plan_t p = {.f = f, .n = 2, .linear = 0, .width = 2};
    const float raw[3] = {0.25f, -1.5f, 0.125f};
    float out[3];
    contrib_fold(&p, raw, 2, out);
    ck_assert(out[0] == 0.25f && out[1] == -1.5f && out[2] == 0.125f);
}
END_TEST

START_TEST(ml_contrib_linear_sums_one_hot_columns)
{
    enc_feature_t f[3] = {{.name = "a", .kind = ENC_NUMBER},
                          {.name = "c", .kind = ENC_CATEGORY, .n_levels = 2, .other = 1},
                          {.name = "b", .kind = ENC_BOOLEAN}};
    enc_plan_t p = {.f = f, .n = 3, .linear = 1};
    size_t w = enc_linear_width(&p);
    ck_assert_uint_eq(w, 5);
    /* a | c=x c=y c=(other) | b | bias */
    const float raw[6] = {0.5f, 0.25f, -0.75f, 0.0f, 2.0f, -1.0f};
    float out[4];
    contrib_fold(&p, raw, w, out);
    ck_assert(fabsf(out[0] - 0.5f) < 1e-6f);
    ck_assert(fabsf(out[1] - (-0.5f)) < 1e-6f);
    ck_assert(fabsf(out[2] - 2.0f) < 1e-6f);
    ck_assert(fabsf(out[3] - (-1.0f)) < 1e-6f);
    float total_raw = 0, total = 0;
    for (size_t i = 0; i < 6; i++)
        total_raw += raw[i];
    for (size_t i = 0; i < 4; i++)
        total += out[i];
    ck_assert(fabsf(total - total_raw) < 1e-6f);
}
END_TEST

Suite *suite_ml_contrib(void)
{
    const TTest *const t[] = {ml_contrib_tree_maps_one_to_one,
                              ml_contrib_linear_sums_one_hot_columns};
    return unit_suite("ml_contrib", t, sizeof(t) / sizeof(t[0]));
}
