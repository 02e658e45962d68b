/*
 * test_fcgi_router.c — route matching, params, 404/405 and decoding.
 */
#include <check.h>
#include <string.h>

#include "fcgi/router.h"
#include "tests/unit/unit.h"

Suite *suite_fcgi_router(void);

static int h_dummy(request_t *r)
{
    (void)r;
    return 0;
}

static const route_t table[] = {
    {"POST", "/api/v1/models/train/new", h_dummy, 4096, DIALECT_AKKIO, 0, NULL, 0},
    {"GET", "/api/v1/models/train/{task_id}/status", h_dummy, 0, DIALECT_AKKIO, 0, NULL, 0},
    {"GET", "/trainings/count", h_dummy, 0, DIALECT_STRAPI, 0, NULL, 0},
    {"GET", "/trainings/{id}", h_dummy, 0, DIALECT_STRAPI, 0, NULL, 0},
    {"PUT", "/trainings/{id}", h_dummy, 100, DIALECT_STRAPI, 0, NULL, 0},
    {"DELETE", "/trainings/{id}", h_dummy, 0, DIALECT_STRAPI, 0, NULL, 0},
    {"GET", "/train/{workspace}/{job_id}", h_dummy, 0, DIALECT_WORKSPACE, 0, NULL, 0},
    {"GET", "/healthz", h_dummy, 0, DIALECT_PLAIN, 0, NULL, 0},
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

START_TEST(router_literal_and_param_match)
{
    arena_t *a = arena_create(0);
    const route_t *rt;
    const char *params[8];
    int np = -1;
    dialect_t d;
    ck_assert_int_eq(router_match(table, N_TABLE, "POST", "/api/v1/models/train/new", a, &rt,
                                  params, &np, NULL, &d),
                     ROUTER_FOUND);
    ck_assert_ptr_eq(rt, &table[0]);
    ck_assert_int_eq(np, 0);
    ck_assert_int_eq(d, DIALECT_AKKIO);

    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/api/v1/models/train/abc-1/status", a,
                                  &rt, params, &np, NULL, NULL),
                     ROUTER_FOUND);
    ck_assert_ptr_eq(rt, &table[1]);
    ck_assert_int_eq(np, 1);
    ck_assert_str_eq(params[0], "abc-1");

    /* literal listed before the pattern wins */
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/trainings/count", a, &rt, params, &np,
                                  NULL, NULL),
                     ROUTER_FOUND);
    ck_assert_ptr_eq(rt, &table[2]);
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/trainings/7", a, &rt, params, &np,
                                  NULL, NULL),
                     ROUTER_FOUND);
    ck_assert_ptr_eq(rt, &table[3]);
    ck_assert_str_eq(params[0], "7");
    arena_destroy(a);
}
END_TEST

START_TEST(router_trailing_slash_and_two_params)
{
    arena_t *a = arena_create(0);
    const route_t *rt;
    const char *params[8];
    int np;
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/train/ws/123/", a, &rt, params, &np,
                                  NULL, NULL),
                     ROUTER_FOUND);
    ck_assert_int_eq(np, 2);
    ck_assert_str_eq(params[0], "ws");
    ck_assert_str_eq(params[1], "123");
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/healthz/", a, &rt, params, &np, NULL,
                                  NULL),
                     ROUTER_FOUND);
    /* but not two slashes, nor an empty segment */
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/healthz//", a, &rt, params, &np, NULL,
                                  NULL),
                     ROUTER_NOT_FOUND);
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/train//123", a, &rt, params, &np, NULL,
                                  NULL),
                     ROUTER_NOT_FOUND);
    arena_destroy(a);
}
END_TEST

START_TEST(router_405_lists_allowed_methods)
{
    arena_t *a = arena_create(0);
    const route_t *rt = (const route_t *)1;
    const char *allow = NULL;
    dialect_t d = DIALECT_PLAIN;
    ck_assert_int_eq(router_match(table, N_TABLE, "POST", "/trainings/5", a, &rt, NULL, NULL,
                                  &allow, &d),
                     ROUTER_METHOD_NOT_ALLOWED);
    ck_assert_ptr_null(rt);
    ck_assert_str_eq(allow, "GET, PUT, DELETE");
    ck_assert_int_eq(d, DIALECT_STRAPI);
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/api/v1/models/train/new", a, &rt,
                                  NULL, NULL, &allow, &d),
                     ROUTER_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(allow, "POST");
    /* HEAD is served by GET */
    ck_assert_int_eq(router_match(table, N_TABLE, "HEAD", "/healthz", a, &rt, NULL, NULL, &allow,
                                  &d),
                     ROUTER_FOUND);
    arena_destroy(a);
}
END_TEST

START_TEST(router_404_takes_closest_dialect)
{
    arena_t *a = arena_create(0);
    const route_t *rt;
    dialect_t d = DIALECT_PLAIN;
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/api/v1/models/train/x/nope", a, &rt,
                                  NULL, NULL, NULL, &d),
                     ROUTER_NOT_FOUND);
    ck_assert_int_eq(d, DIALECT_AKKIO);
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/train/ws", a, &rt, NULL, NULL, NULL,
                                  &d),
                     ROUTER_NOT_FOUND);
    ck_assert_int_eq(d, DIALECT_WORKSPACE);
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/nothing/here", a, &rt, NULL, NULL,
                                  NULL, &d),
                     ROUTER_NOT_FOUND);
    ck_assert_int_eq(d, DIALECT_PLAIN);
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "", a, &rt, NULL, NULL, NULL, &d),
                     ROUTER_NOT_FOUND);
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "healthz", a, &rt, NULL, NULL, NULL, &d),
                     ROUTER_NOT_FOUND);
    arena_destroy(a);
}
END_TEST

START_TEST(router_params_are_percent_decoded)
{
    arena_t *a = arena_create(0);
    const route_t *rt;
    const char *params[8];
    int np;
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/trainings/a%2Fb%20c", a, &rt, params,
                                  &np, NULL, NULL),
                     ROUTER_FOUND);
    ck_assert_str_eq(params[0], "a/b c");
    /* literal segments compare decoded */
    ck_assert_int_eq(router_match(table, N_TABLE, "GET", "/heal%74hz", a, &rt, params, &np, NULL,
                                  NULL),
                     ROUTER_FOUND);
    /* malformed escapes, encoded NUL and dot segments match nothing */
    const char *bad[] = {"/trainings/%zz", "/trainings/%2", "/trainings/%", "/trainings/a%00b",
                         "/trainings/..", "/trainings/.", "/trainings/%2e%2e"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(router_match(table, N_TABLE, "GET", bad[i], a, &rt, params, &np, NULL,
                                   NULL) == ROUTER_NOT_FOUND,
                      "%s", bad[i]);
    arena_destroy(a);
}
END_TEST

START_TEST(router_percent_decode_rules)
{
    arena_t *a = arena_create(0);
    ck_assert_str_eq(router_percent_decode(a, "a+b%41", 6, 1), "a bA");
    ck_assert_str_eq(router_percent_decode(a, "a+b%41", 6, 0), "a+bA");
    ck_assert_str_eq(router_percent_decode(a, "%c3%a9", 6, 0), "\xc3\xa9");
    ck_assert_str_eq(router_percent_decode(a, "", 0, 0), "");
    ck_assert_ptr_null(router_percent_decode(a, "%4", 2, 0));
    ck_assert_ptr_null(router_percent_decode(a, "%g1", 3, 0));
    ck_assert_ptr_null(router_percent_decode(a, "x%00", 4, 0));
    /* n bounds the input: "%41" cut after "%4" is malformed */
    ck_assert_ptr_null(router_percent_decode(a, "%41", 2, 0));
    arena_destroy(a);
}
END_TEST

Suite *suite_fcgi_router(void)
{
    const TTest *const t[] = {router_literal_and_param_match, router_trailing_slash_and_two_params,
                              router_405_lists_allowed_methods, router_404_takes_closest_dialect,
                              router_params_are_percent_decoded, router_percent_decode_rules};
    return unit_suite("fcgi_router", t, sizeof(t) / sizeof(t[0]));
}
