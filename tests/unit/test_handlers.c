/*
 * test_handlers.c — the pure parts of handlers/: the Akkio dedupe key, error
 * path rebasing, and the route table's invariants.
 */
#include <check.h>
#include <string.h>

#include "common/arena.h"
#include "fcgi/router.h"
#include "handlers/app.h"
#include "handlers/handlers.h"
#include "handlers/spec.h"
#include "tests/unit/unit.h"

Suite *suite_handlers(void);

static json_object *spec_of(const char *text)
{
    json_object *o = json_tokener_parse(text);
    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(handlers_dedupe_key_ignores_order_force_and_user)
{
    request_t r;
    memset(&r, 0, sizeof(r));
    r.arena = arena_create(0);
    json_object *a = spec_of("{\"dataset_id\":\"d\",\"predict_fields\":[\"x\",\"y\"],"
                             "\"ignore_fields\":[\"p\",\"q\"],\"duration\":10,"
                             "\"extra_attention\":false}");
    json_object *b = spec_of("{\"duration\":10,\"predict_fields\":[\"y\",\"x\"],"
                             "\"ignore_fields\":[\"q\",\"p\"],\"dataset_id\":\"d\","
                             "\"extra_attention\":false,\"user\":\"bob\",\"force\":true}");
    json_object *c = spec_of("{\"dataset_id\":\"d\",\"predict_fields\":[\"x\",\"y\"],"
                             "\"ignore_fields\":[\"p\",\"q\"],\"duration\":60,"
                             "\"extra_attention\":false}");
    json_object *d = spec_of("{\"dataset_id\":\"d\",\"predict_fields\":[\"xy\"],"
                             "\"ignore_fields\":[\"p\",\"q\"],\"duration\":10,"
                             "\"extra_attention\":false}");
    const char *ka = spec_dedupe_key(&r, a);
    ck_assert_uint_eq(strlen(ka), 64);
    ck_assert_str_eq(ka, spec_dedupe_key(&r, b));
    ck_assert_str_ne(ka, spec_dedupe_key(&r, c));
    /* ["x","y"] and ["xy"] must not collide: names are delimited. */
    ck_assert_str_ne(ka, spec_dedupe_key(&r, d));
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(d);
    arena_destroy(r.arena);
}
END_TEST

/* A spec's test_mode (faults on demand) is refused with 422 naming the field
 * unless the API was started with TRAINYARD_TEST_MODE=1, before the dataset
 * is looked up; in test mode a non-object is refused too. */
START_TEST(handlers_spec_test_mode_refused_outside_tests)
{
    app_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    app_t app;
    memset(&app, 0, sizeof(app));
    app.config = &cfg;
    request_t r;
    memset(&r, 0, sizeof(r));
    r.arena = arena_create(0);
    r.app = &app;
    json_object *fields = spec_of("{\"dataset_id\":\"d\",\"predict_fields\":[\"y\"],"
                                  "\"duration\":10,\"test_mode\":{\"crash_signal\":9}}");
    dataset_rec_t ds;
    json_object *spec = NULL;
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(spec_build(&r, fields, "body/meta", &ds, &spec, &e), -1);
    ck_assert_int_eq(e.count, 1);
    ck_assert_int_eq(e.status, 422);
    ck_assert_str_eq(e.items[0].field, "body/meta/test_mode");
    ck_assert_str_eq(e.items[0].message, "Value error, test_mode is only taken by a server "
                                         "started for tests (TRAINYARD_TEST_MODE=1)");
    ck_assert_ptr_null(spec);
    cfg.test_mode = 1;
    json_object_object_add(fields, "test_mode", json_object_new_int(9));
    err_clear(&e);
    ck_assert_int_eq(spec_build(&r, fields, "body", &ds, &spec, &e), -1);
    ck_assert_str_eq(e.items[0].field, "body/test_mode");
    ck_assert_str_eq(e.items[0].message, "Input should be an object");
    json_object_put(fields);
    arena_destroy(r.arena);
}
END_TEST

/* Test jobs with different faults, and a test job and a plain one, are
 * different requests. */
START_TEST(handlers_dedupe_key_counts_test_mode)
{
    request_t r;
    memset(&r, 0, sizeof(r));
    r.arena = arena_create(0);
    json_object *a = spec_of("{\"dataset_id\":\"d\",\"predict_fields\":[\"y\"],\"duration\":10}");
    json_object *b = spec_of("{\"dataset_id\":\"d\",\"predict_fields\":[\"y\"],\"duration\":10,"
                             "\"test_mode\":{\"exit_code\":3}}");
    json_object *c = spec_of("{\"dataset_id\":\"d\",\"predict_fields\":[\"y\"],\"duration\":10,"
                             "\"test_mode\":{\"exit_code\":4}}");
    ck_assert_str_ne(spec_dedupe_key(&r, a), spec_dedupe_key(&r, b));
    ck_assert_str_ne(spec_dedupe_key(&r, b), spec_dedupe_key(&r, c));
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    arena_destroy(r.arena);
}
END_TEST

START_TEST(handlers_rebase_errors_moves_body_paths)
{
    err_t e;
    err_clear(&e);
    err_add(&e, 422, "missing", "body/dataset_id", "Field required");
    err_add(&e, 422, "missing", "body", "Input should be an object");
    err_add(&e, 422, "missing", "query/limit", "bad");
    err_add(&e, 422, "missing", "bodyguard/x", "not a body path");
    spec_rebase_errors(&e, "body/meta");
    ck_assert_str_eq(e.items[0].field, "body/meta/dataset_id");
    ck_assert_str_eq(e.items[1].field, "body/meta");
    ck_assert_str_eq(e.items[2].field, "query/limit");
    ck_assert_str_eq(e.items[3].field, "bodyguard/x");
}
END_TEST

START_TEST(handlers_route_table_is_consistent)
{
    for (size_t i = 0; i < routes_count; i++) {
        const route_t *rt = &routes[i];
        ck_assert_ptr_nonnull(rt->handler);
        ck_assert_msg(rt->pattern[0] == '/', "%s", rt->pattern);
        /* A route that validates a body must accept one. */
        if (rt->n_fields > 0)
            ck_assert_msg(rt->body_limit > 0, "%s %s", rt->method, rt->pattern);
        /* No two routes share method + pattern. */
        for (size_t j = i + 1; j < routes_count; j++)
            ck_assert_msg(strcmp(rt->method, routes[j].method) != 0 ||
                              strcmp(rt->pattern, routes[j].pattern) != 0,
                          "duplicate %s %s", rt->method, rt->pattern);
        /* Every authenticated family has a dialect to render 401/403 in. */
        ck_assert_int_le(rt->dialect, DIALECT_AKKIO_V1);
        /* Akkio's legacy routes: the key may sit in query or body, and
         * errors take the legacy {"status":...} shape. */
        if (strncmp(rt->pattern, "/v1/", 4) == 0) {
            ck_assert_msg(rt->flags & ROUTE_KEY_IN_BODY, "%s %s", rt->method, rt->pattern);
            ck_assert_int_eq(rt->dialect, DIALECT_AKKIO_V1);
        }
    }
}
END_TEST

START_TEST(handlers_routes_resolve_literals_before_patterns)
{
    arena_t *a = arena_create(0);
    const route_t *rt;
    const char *params[8];
    int n = 0;
    const char *allow = NULL;
    dialect_t d;
    ck_assert_int_eq(router_match(routes, routes_count, "GET", "/trainings/count", a, &rt, params,
                                  &n, &allow, &d), ROUTER_FOUND);
    ck_assert_ptr_eq(rt->handler, trainings_count);
    ck_assert_int_eq(router_match(routes, routes_count, "GET", "/train/dev/inspect", a, &rt,
                                  params, &n, &allow, &d), ROUTER_FOUND);
    ck_assert_ptr_eq(rt->handler, ws_inspect);
    ck_assert_int_eq(router_match(routes, routes_count, "DELETE", "/train/dev/1234/", a, &rt,
                                  params, &n, &allow, &d), ROUTER_FOUND);
    ck_assert_ptr_eq(rt->handler, ws_kill);
    ck_assert_str_eq(params[1], "1234");
    ck_assert_int_eq(router_match(routes, routes_count, "PATCH", "/trainings/3", a, &rt, params,
                                  &n, &allow, &d), ROUTER_METHOD_NOT_ALLOWED);
    ck_assert_int_eq(d, DIALECT_STRAPI);
    ck_assert_int_eq(router_match(routes, routes_count, "GET", "/nope", a, &rt, params, &n,
                                  &allow, &d), ROUTER_NOT_FOUND);
    arena_destroy(a);
}
END_TEST

Suite *suite_handlers(void)
{
    const TTest *const t[] = {handlers_dedupe_key_ignores_order_force_and_user,
                              handlers_dedupe_key_counts_test_mode,
                              handlers_spec_test_mode_refused_outside_tests,
                              handlers_rebase_errors_moves_body_paths,
                              handlers_route_table_is_consistent,
                              handlers_routes_resolve_literals_before_patterns};
    return unit_suite("handlers", t, sizeof(t) / sizeof(t[0]));
}
