/*
 * test_fcgi_dialect.c — the four error shapes rendered from one err_t.
 */
#include <check.h>
#include <string.h>

#include "fcgi/dialect.h"
#include "tests/unit/unit.h"

Suite *suite_fcgi_dialect(void);

static void ck_doc(dialect_t d, const err_t *e, const char *want)
{
    json_object *doc = dialect_error_doc(d, e);
    const char *got = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
    ck_assert_msg(strcmp(got, want) == 0, "dialect %d:\n got  %s\n want %s", d, got, want);
    json_object_put(doc);
}

static void validation_err(err_t *e)
{
    err_clear(e);
    err_add(e, 422, "literal_error", "body/duration", "Input should be 10, 60, 300 or 1800");
    err_add(e, 422, "string_type", "body/predict_fields/0", "Input should be a valid string");
}

START_TEST(dialect_akkio_validation_list)
{
    err_t e;
    validation_err(&e);
    ck_assert_int_eq(dialect_error_status(DIALECT_AKKIO, &e), 422);
    ck_doc(DIALECT_AKKIO, &e,
           "{\"detail\":[{\"type\":\"literal_error\",\"loc\":[\"body\",\"duration\"],"
           "\"msg\":\"Input should be 10, 60, 300 or 1800\"},{\"type\":\"string_type\","
           "\"loc\":[\"body\",\"predict_fields\",0],\"msg\":\"Input should be a valid string\"}]}");
}
END_TEST

START_TEST(dialect_akkio_json_error_and_http_errors)
{
    err_t e;
    err_clear(&e);
    err_add(&e, 400, "json_invalid", "body/17", "json: unexpected token at offset 17");
    ck_assert_int_eq(dialect_error_status(DIALECT_AKKIO, &e), 422);
    ck_doc(DIALECT_AKKIO, &e,
           "{\"detail\":[{\"type\":\"json_invalid\",\"loc\":[\"body\",17],\"msg\":\"JSON decode "
           "error\",\"ctx\":{\"error\":\"json: unexpected token at offset 17\"}}]}");
    ck_assert_int_eq(dialect_error_status(DIALECT_STRAPI, &e), 400);
    ck_doc(DIALECT_STRAPI, &e, "{\"code\":400,\"message\":\"json: unexpected token at offset 17\"}");

    err_clear(&e);
    err_set(&e, 401, "unauthorized", "Invalid API key");
    ck_assert_int_eq(dialect_error_status(DIALECT_AKKIO, &e), 401);
    ck_doc(DIALECT_AKKIO, &e, "{\"detail\":\"Invalid API key\"}");
    err_clear(&e);
    err_set(&e, 404, "not_found", "Not Found");
    ck_doc(DIALECT_AKKIO, &e, "{\"detail\":\"Not Found\"}");
}
END_TEST

START_TEST(dialect_workspace_codes_and_messages)
{
    err_t e;
    validation_err(&e);
    ck_assert_int_eq(dialect_error_status(DIALECT_WORKSPACE, &e), 422);
    ck_doc(DIALECT_WORKSPACE, &e,
           "{\"error_code\":\"INVALID_REQUEST\",\"message\":\"duration: Input should be 10, 60, 300 "
           "or 1800; predict_fields.0: Input should be a valid string\"}");
    err_clear(&e);
    err_set(&e, 404, "JOB_NOT_FOUND", "There is no job with id: 1234");
    ck_doc(DIALECT_WORKSPACE, &e,
           "{\"error_code\":\"JOB_NOT_FOUND\",\"message\":\"There is no job with id: 1234\"}");
    struct {
        int status;
        const char *code;
    } map[] = {{400, "BAD_REQUEST"}, {401, "UNAUTHORIZED"}, {403, "FORBIDDEN"},
               {404, "NOT_FOUND"}, {409, "CONFLICT"}, {413, "PAYLOAD_TOO_LARGE"},
               {415, "UNSUPPORTED_MEDIA_TYPE"}, {503, "SERVICE_UNAVAILABLE"},
               {500, "INTERNAL_ERROR"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        err_clear(&e);
        err_set(&e, map[i].status, "lower_code", "m");
        json_object *doc = dialect_error_doc(DIALECT_WORKSPACE, &e);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(doc, "error_code")),
                         map[i].code);
        json_object_put(doc);
    }
}
END_TEST

START_TEST(dialect_strapi_and_plain)
{
    err_t e;
    validation_err(&e);
    ck_assert_int_eq(dialect_error_status(DIALECT_STRAPI, &e), 400);
    ck_doc(DIALECT_STRAPI, &e,
           "{\"code\":400,\"message\":\"duration: Input should be 10, 60, 300 or 1800; "
           "predict_fields.0: Input should be a valid string\"}");
    ck_assert_int_eq(dialect_error_status(DIALECT_PLAIN, &e), 422);
    ck_doc(DIALECT_PLAIN, &e,
           "{\"error\":{\"status\":422,\"code\":\"literal_error\",\"field\":\"body/duration\","
           "\"message\":\"duration: Input should be 10, 60, 300 or 1800\",\"details\":["
           "{\"field\":\"body/duration\",\"code\":\"literal_error\",\"message\":\"Input should be "
           "10, 60, 300 or 1800\"},{\"field\":\"body/predict_fields/0\",\"code\":\"string_type\","
           "\"message\":\"Input should be a valid string\"}]}}");
}
END_TEST

START_TEST(dialect_never_leaks_500_details)
{
    err_t e;
    err_clear(&e);
    err_set(&e, 500, "db", "could not connect to server: /var/run/postgresql/.s.PGSQL.5432");
    for (int d = DIALECT_AKKIO; d <= DIALECT_AKKIO_V1; d++) {
        json_object *doc = dialect_error_doc((dialect_t)d, &e);
        const char *text = json_object_to_json_string(doc);
        ck_assert_msg(strstr(text, "postgresql") == NULL, "%s", text);
        json_object_put(doc);
        ck_assert_int_eq(dialect_error_status((dialect_t)d, &e), 500);
    }
    /* an empty or odd status is a 500 too */
    err_clear(&e);
    ck_assert_int_eq(dialect_error_status(DIALECT_STRAPI, &e), 500);
    ck_doc(DIALECT_STRAPI, &e, "{\"code\":500,\"message\":\"Internal Server Error\"}");
    /* bytes that are not UTF-8 never reach the JSON */
    err_set(&e, 400, "bad", "xml: bad byte \xff here");
    json_object *doc = dialect_error_doc(DIALECT_WORKSPACE, &e);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(doc, "message")),
                     "xml: bad byte ? here");
    json_object_put(doc);
}
END_TEST

START_TEST(dialect_akkio_v1_status_shapes)
{
    err_t e;
    err_clear(&e);
    err_set(&e, 401, "unauthorized", "missing API key");
    ck_assert_int_eq(dialect_error_status(DIALECT_AKKIO_V1, &e), 401);
    ck_doc(DIALECT_AKKIO_V1, &e, "{\"status\":\"missing or invalid API key\"}");
    err_clear(&e);
    err_add(&e, 422, "float_parsing", "body/rows/3/age", "Input should be a valid number");
    ck_assert_int_eq(dialect_error_status(DIALECT_AKKIO_V1, &e), 422);
    ck_doc(DIALECT_AKKIO_V1, &e,
           "{\"status\":\"error\",\"message\":\"rows.3.age: Input should be a valid number\","
           "\"field\":\"rows.3.age\"}");
    err_clear(&e);
    err_set(&e, 404, "not_found", "There is no dataset with id: x");
    ck_doc(DIALECT_AKKIO_V1, &e,
           "{\"status\":\"error\",\"message\":\"There is no dataset with id: x\"}");
}
END_TEST

Suite *suite_fcgi_dialect(void)
{
    const TTest *const t[] = {dialect_akkio_validation_list, dialect_akkio_json_error_and_http_errors,
                              dialect_workspace_codes_and_messages, dialect_strapi_and_plain,
                              dialect_never_leaks_500_details, dialect_akkio_v1_status_shapes};
    return unit_suite("fcgi_dialect", t, sizeof(t) / sizeof(t[0]));
}
