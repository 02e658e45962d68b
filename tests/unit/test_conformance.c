/*
 * test_conformance.c — behaviours that real FastAPI and Strapi v3 clients
 * rely on (issue 11): pydantic v2's lax conversions, Akkio's field types,
 * and Strapi's list query parameters.
 */
#include <check.h>
#include <string.h>

#include "fcgi/validate.h"
#include "ml/csv.h"
#include "tests/unit/unit.h"

Suite *suite_conformance(void);

static const long long durations[] = {10, 60, 300, 1800};
static const field_spec_t lax_fields[] = {
    {.name = "duration", .type = FIELD_INT, .allowed_ints = durations, .n_allowed_ints = 4},
    {.name = "seed", .type = FIELD_INT},
    {.name = "force", .type = FIELD_BOOL},
    {.name = "rate", .type = FIELD_NUMBER},
    {.name = "name", .type = FIELD_STRING},
};
#define N_LAX (sizeof(lax_fields) / sizeof(lax_fields[0]))

/* Validates one JSON body (not coerced: lax mode applies to JSON too). */
static int lax(const char *json, err_t *e, json_object **out)
{
    json_object *o = json_tokener_parse(json);
    ck_assert_msg(o != NULL, "test JSON: %s", json);
    err_clear(e);
    int rc = validate_body(o, lax_fields, N_LAX, 0, e);
    *out = o;
    return rc;
}

static const char *code_of(const err_t *e, const char *field)
{
    for (int i = 0; i < e->count; i++)
        if (strcmp(e->items[i].field, field) == 0)
            return e->items[i].code;
    return NULL;
}

START_TEST(conformance_lax_accepts_what_pydantic_accepts)
{
    static const struct {
        const char *json;
        long long duration;
        int force;
    } ok[] = {
        {"{\"duration\":\"60\",\"force\":\"true\"}", 60, 1},
        {"{\"duration\":60.0,\"force\":1}", 60, 1},
        {"{\"duration\":\" 300 \",\"force\":\"yes\"}", 300, 1},
        {"{\"duration\":\"1800.0\",\"force\":\"on\"}", 1800, 1},
        {"{\"duration\":\"+10\",\"force\":\"1\"}", 10, 1},
        {"{\"duration\":10,\"force\":\"Y\"}", 10, 1},
        {"{\"duration\":10,\"force\":\"false\"}", 10, 0},
        {"{\"duration\":10,\"force\":0}", 10, 0},
        {"{\"duration\":10,\"force\":\"no\"}", 10, 0},
        {"{\"duration\":10,\"force\":\"off\"}", 10, 0},
        {"{\"duration\":10,\"force\":\"0\"}", 10, 0},
        {"{\"duration\":10,\"force\":\"F\"}", 10, 0},
        {"{\"duration\":10,\"force\":0.0}", 10, 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        err_t e;
        json_object *o;
        ck_assert_msg(lax(ok[i].json, &e, &o) == 0, "%s: %s", ok[i].json,
                      e.count ? e.items[0].code : "");
        json_object *d = json_object_object_get(o, "duration");
        json_object *f = json_object_object_get(o, "force");
        ck_assert(json_object_is_type(d, json_type_int));
        ck_assert_int_eq(json_object_get_int64(d), ok[i].duration);
        ck_assert(json_object_is_type(f, json_type_boolean));
        ck_assert_int_eq(json_object_get_boolean(f), ok[i].force);
        json_object_put(o);
    }
    err_t e;
    json_object *o;
    ck_assert_int_eq(lax("{\"seed\":true,\"rate\":\"0.25\"}", &e, &o), 0);
    ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "seed")), 1);
    ck_assert(json_object_get_double(json_object_object_get(o, "rate")) == 0.25);
    json_object_put(o);
    ck_assert_int_eq(lax("{\"seed\":\"1_000\",\"rate\":false}", &e, &o), 0);
    ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "seed")), 1000);
    json_object_put(o);
}
END_TEST

START_TEST(conformance_lax_refuses_the_rest_with_todays_codes)
{
    static const struct {
        const char *json, *field, *code;
    } bad[] = {
        {"{\"duration\":\"60.5\"}", "body/duration", "int_parsing"},
        {"{\"duration\":\"1e3\"}", "body/duration", "int_parsing"},
        {"{\"duration\":\"sixty\"}", "body/duration", "int_parsing"},
        {"{\"duration\":\"\"}", "body/duration", "int_parsing"},
        {"{\"seed\":\"1__0\"}", "body/seed", "int_parsing"},
        {"{\"duration\":60.5}", "body/duration", "int_from_float"},
        {"{\"duration\":[60]}", "body/duration", "int_type"},
        {"{\"duration\":\"61\"}", "body/duration", "literal_error"},
        {"{\"force\":2}", "body/force", "bool_parsing"},
        {"{\"force\":0.5}", "body/force", "bool_parsing"},
        {"{\"force\":\"maybe\"}", "body/force", "bool_parsing"},
        {"{\"force\":{}}", "body/force", "bool_type"},
        {"{\"rate\":\"x\"}", "body/rate", "float_parsing"},
        {"{\"rate\":[]}", "body/rate", "float_type"},
        {"{\"name\":5}", "body/name", "string_type"},
        {"{\"name\":true}", "body/name", "string_type"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t e;
        json_object *o;
        ck_assert_msg(lax(bad[i].json, &e, &o) == -1, "accepted %s", bad[i].json);
        const char *code = code_of(&e, bad[i].field);
        ck_assert_msg(code != NULL && strcmp(code, bad[i].code) == 0, "%s: %s, want %s",
                      bad[i].json, code ? code : "(none)", bad[i].code);
        json_object_put(o);
    }
}
END_TEST

START_TEST(conformance_akkio_field_types)
{
    ck_assert_str_eq(csv_type_akkio_name(CSV_BOOLEAN), "category");
    ck_assert_str_eq(csv_type_akkio_name(CSV_CATEGORY), "category");
    ck_assert_str_eq(csv_type_akkio_name(CSV_NUMBER), "number");
    ck_assert_str_eq(csv_type_akkio_name(CSV_STRING), "string");
    /* dataset documents keep the finer type */
    ck_assert_str_eq(csv_type_name(CSV_BOOLEAN), "boolean");
}
END_TEST

Suite *suite_conformance(void)
{
    const TTest *const t[] = {conformance_lax_accepts_what_pydantic_accepts,
                              conformance_lax_refuses_the_rest_with_todays_codes,
                              conformance_akkio_field_types};
    return unit_suite("conformance", t, sizeof(t) / sizeof(t[0]));
}
