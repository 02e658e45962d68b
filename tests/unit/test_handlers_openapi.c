/*
 * test_handlers_openapi.c — /openapi.json cannot drift: every route has a
 * documentation row and every row a route; every operation has an
 * operationId, a summary, responses with the dialect's error schema, and a
 * schema on every parameter.
 */
#include <check.h>
#include <string.h>

#include "common/arena.h"
#include "handlers/handlers.h"
#include "tests/unit/unit.h"

Suite *suite_openapi(void);

START_TEST(openapi_every_route_is_documented)
{
    char why[256] = "";
    ck_assert_msg(openapi_check(routes, routes_count, why, sizeof(why)) == 0, "%s", why);
    /* A route the document does not know is refused by name. */
    const route_t extra[] = {{"GET", "/not/documented", system_healthz, 0, DIALECT_PLAIN,
                              ROUTE_NO_DB, NULL, 0}};
    ck_assert_int_eq(openapi_check(extra, 1, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "/not/documented"));
}
END_TEST

START_TEST(openapi_operations_are_complete)
{
    arena_t *a = arena_create(4096);
    json_object *doc = openapi_document(a);
    json_object *paths = json_object_object_get(doc, "paths");
    size_t ops = 0;
    json_object_object_foreach(paths, path, item)
    {
        json_object_object_foreach(item, method, op)
        {
            ops++;
            json_object *v;
            ck_assert_msg(json_object_object_get_ex(op, "operationId", &v), "%s %s", method, path);
            ck_assert_msg(json_object_object_get_ex(op, "summary", &v), "%s %s", method, path);
            json_object *responses = json_object_object_get(op, "responses");
            ck_assert_msg(responses != NULL && json_object_object_length(responses) >= 1,
                          "%s %s has no responses", method, path);
            json_object *params = NULL;
            if (json_object_object_get_ex(op, "parameters", &params))
                for (size_t i = 0; i < json_object_array_length(params); i++)
                    ck_assert_msg(json_object_object_get_ex(json_object_array_get_idx(params, i),
                                                            "schema", &v),
                                  "%s %s: a parameter without a schema", method, path);
        }
    }
    ck_assert_uint_eq(ops, routes_count);
    /* The Akkio training route: fields from its table, a 422 in FastAPI's shape. */
    json_object *train = json_object_object_get(
        json_object_object_get(paths, "/api/v1/models/train/new"), "post");
    json_object *r422 = json_object_object_get(json_object_object_get(train, "responses"), "422");
    ck_assert_ptr_nonnull(r422);
    const char *text = json_object_to_json_string_ext(r422, JSON_C_TO_STRING_NOSLASHESCAPE);
    ck_assert_ptr_nonnull(strstr(text, "AkkioValidationError"));
    ck_assert_ptr_nonnull(strstr(text, "\"loc\""));
    const char *body = json_object_to_json_string_ext(json_object_object_get(train, "requestBody"),
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
    ck_assert_ptr_nonnull(strstr(body, "\"duration\""));
    ck_assert_ptr_nonnull(strstr(body, "application/xml"));
    /* Strapi's validation errors are 400 in its own shape. */
    json_object *create =
        json_object_object_get(json_object_object_get(paths, "/trainings"), "post");
    json_object *r400 =
        json_object_object_get(json_object_object_get(create, "responses"), "400");
    ck_assert_ptr_nonnull(
        strstr(json_object_to_json_string_ext(r400, JSON_C_TO_STRING_NOSLASHESCAPE), "StrapiError"));
    json_object_put(doc);
    arena_destroy(a);
}
END_TEST

Suite *suite_openapi(void)
{
    const TTest *const t[] = {openapi_every_route_is_documented, openapi_operations_are_complete};
    return unit_suite("openapi", t, sizeof(t) / sizeof(t[0]));
}
