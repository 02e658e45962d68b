/*
 * test_fcgi_validate.c — pydantic v2 codes/messages, coercion, paths.
 */
#include <check.h>
#include <string.h>

#include "fcgi/validate.h"
#include "tests/unit/unit.h"

Suite *suite_fcgi_validate(void);

static const long long durations[] = {10, 60, 300, 1800};
static const char *const kinds[] = {"a", "b", "c"};

static const field_spec_t train_fields[] = {
    {.name = "dataset_id", .type = FIELD_STRING, .flags = FIELD_REQUIRED | FIELD_NONEMPTY,
     .max_len = 8},
    {.name = "predict_fields", .type = FIELD_STRING_ARRAY, .flags = FIELD_REQUIRED | FIELD_NONEMPTY},
    {.name = "duration", .type = FIELD_INT, .flags = FIELD_REQUIRED, .allowed_ints = durations,
     .n_allowed_ints = 4},
    {.name = "extra_attention", .type = FIELD_BOOL},
    {.name = "kind", .type = FIELD_STRING, .allowed_strings = kinds, .n_allowed_strings = 3},
    {.name = "rate", .type = FIELD_NUMBER, .min = 0, .max = 1},
    {.name = "seed", .type = FIELD_INT, .flags = FIELD_NULLABLE, .min = 0, .max = 1000},
    {.name = "rows", .type = FIELD_ARRAY, .max_len = 2},
    {.name = "meta", .type = FIELD_OBJECT},
};
#define N_TRAIN (sizeof(train_fields) / sizeof(train_fields[0]))

/* Validates text as JSON; returns the error for inspection. */
static int run(const char *json, int coerce, err_t *e, json_object **out)
{
    json_object *o = json_tokener_parse(json);
    ck_assert_msg(o != NULL || strcmp(json, "null") == 0, "test JSON: %s", json);
    err_clear(e);
    int rc = validate_body(o, train_fields, N_TRAIN, coerce, e);
    if (out != NULL)
        *out = o;
    else
        json_object_put(o);
    return rc;
}

static const err_item_t *find(const err_t *e, const char *field)
{
    for (int i = 0; i < e->count; i++)
        if (strcmp(e->items[i].field, field) == 0)
            return &e->items[i];
    return NULL;
}

#define CK_ITEM(e, field_, code_, msg_)                                               \
    do {                                                                              \
        const err_item_t *it_ = find(e, field_);                                      \
        ck_assert_msg(it_ != NULL, "no error at %s", field_);                         \
        ck_assert_str_eq(it_->code, code_);                                           \
        ck_assert_str_eq(it_->message, msg_);                                         \
    } while (0)

START_TEST(validate_accepts_good_json)
{
    err_t e;
    ck_assert_int_eq(run("{\"dataset_id\":\"d1\",\"predict_fields\":[\"y\"],\"duration\":60,"
                         "\"extra_attention\":true,\"kind\":\"b\",\"rate\":0.5,\"seed\":null,"
                         "\"rows\":[{}],\"meta\":{},\"unknown\":1}",
                         0, &e, NULL),
                     0);
    ck_assert_int_eq(e.count, 0);
    /* an integral float is an integer, as in pydantic, and is converted */
    json_object *o;
    ck_assert_int_eq(
        run("{\"dataset_id\":\"d\",\"predict_fields\":[\"y\"],\"duration\":10.0}", 0, &e, &o), 0);
    ck_assert(json_object_is_type(json_object_object_get(o, "duration"), json_type_int));
    json_object_put(o);
}
END_TEST

START_TEST(validate_reports_missing_fields_all_at_once)
{
    err_t e;
    ck_assert_int_eq(run("{}", 0, &e, NULL), -1);
    ck_assert_int_eq(e.status, 422);
    ck_assert_int_eq(e.count, 3);
    CK_ITEM(&e, "body/dataset_id", "missing", "Field required");
    CK_ITEM(&e, "body/predict_fields", "missing", "Field required");
    CK_ITEM(&e, "body/duration", "missing", "Field required");
}
END_TEST

START_TEST(validate_type_errors_match_pydantic)
{
    err_t e;
    /* lax mode converts strings to numbers and booleans; other types stay wrong */
    ck_assert_int_eq(run("{\"dataset_id\":5,\"predict_fields\":\"y\",\"duration\":[60],"
                         "\"extra_attention\":{},\"rate\":[],\"rows\":{},\"meta\":[]}",
                         0, &e, NULL),
                     -1);
    CK_ITEM(&e, "body/dataset_id", "string_type", "Input should be a valid string");
    CK_ITEM(&e, "body/predict_fields", "list_type", "Input should be a valid list");
    CK_ITEM(&e, "body/duration", "int_type", "Input should be a valid integer");
    CK_ITEM(&e, "body/extra_attention", "bool_type", "Input should be a valid boolean");
    CK_ITEM(&e, "body/rate", "float_type", "Input should be a valid number");
    CK_ITEM(&e, "body/rows", "list_type", "Input should be a valid list");
    CK_ITEM(&e, "body/meta", "dict_type", "Input should be a valid dictionary");

    ck_assert_int_eq(run("{\"dataset_id\":\"d\",\"predict_fields\":[\"y\",3],\"duration\":60.5}",
                         0, &e, NULL),
                     -1);
    CK_ITEM(&e, "body/predict_fields/1", "string_type", "Input should be a valid string");
    CK_ITEM(&e, "body/duration", "int_from_float",
            "Input should be a valid integer, got a number with a fractional part");

    ck_assert_int_eq(run("{\"dataset_id\":null,\"predict_fields\":[\"y\"],\"duration\":null}", 0,
                         &e, NULL),
                     -1);
    CK_ITEM(&e, "body/dataset_id", "string_type", "Input should be a valid string");
    CK_ITEM(&e, "body/duration", "int_type", "Input should be a valid integer");
}
END_TEST

START_TEST(validate_literals_ranges_lengths)
{
    err_t e;
    ck_assert_int_eq(run("{\"dataset_id\":\"\",\"predict_fields\":[],\"duration\":11,"
                         "\"kind\":\"z\",\"rate\":1.5,\"seed\":-1,\"rows\":[1,2,3]}",
                         0, &e, NULL),
                     -1);
    CK_ITEM(&e, "body/dataset_id", "string_too_short", "String should have at least 1 character");
    CK_ITEM(&e, "body/predict_fields", "too_short",
            "List should have at least 1 item after validation, not 0");
    CK_ITEM(&e, "body/duration", "literal_error", "Input should be 10, 60, 300 or 1800");
    CK_ITEM(&e, "body/kind", "literal_error", "Input should be 'a', 'b' or 'c'");
    CK_ITEM(&e, "body/rate", "less_than_equal", "Input should be less than or equal to 1");
    CK_ITEM(&e, "body/seed", "greater_than_equal", "Input should be greater than or equal to 0");
    CK_ITEM(&e, "body/rows", "too_long", "List should have at most 2 items after validation, not 3");

    ck_assert_int_eq(run("{\"dataset_id\":\"123456789\",\"predict_fields\":[\"y\"],\"duration\":10}",
                         0, &e, NULL),
                     -1);
    CK_ITEM(&e, "body/dataset_id", "string_too_long", "String should have at most 8 characters");
    /* length counts characters, not bytes: 8 two-byte characters fit */
    ck_assert_int_eq(run("{\"dataset_id\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
                         "\xa9\xc3\xa9\",\"predict_fields\":[\"y\"],\"duration\":10}",
                         0, &e, NULL),
                     0);
}
END_TEST

START_TEST(validate_coerces_strings_from_xml_and_forms)
{
    err_t e;
    json_object *o;
    ck_assert_int_eq(run("{\"dataset_id\":\"d\",\"predict_fields\":\"y\",\"duration\":\" 300 \","
                         "\"extra_attention\":\"TRUE\",\"rate\":\"0.25\",\"seed\":\"7\","
                         "\"rows\":{\"item\":[\"1\",\"2\"]}}",
                         1, &e, &o),
                     0);
    ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "duration")), 300);
    ck_assert(json_object_get_boolean(json_object_object_get(o, "extra_attention")));
    ck_assert(json_object_get_double(json_object_object_get(o, "rate")) == 0.25);
    json_object *pf = json_object_object_get(o, "predict_fields");
    ck_assert(json_object_is_type(pf, json_type_array));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(pf, 0)), "y");
    ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "rows")), 2);
    json_object_put(o);

    ck_assert_int_eq(run("{\"dataset_id\":\"d\",\"predict_fields\":{\"item\":\"y\"},"
                         "\"duration\":\"6o\",\"extra_attention\":\"maybe\",\"rate\":\"0x1p3\"}",
                         1, &e, NULL),
                     -1);
    CK_ITEM(&e, "body/duration", "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer");
    CK_ITEM(&e, "body/extra_attention", "bool_parsing",
            "Input should be a valid boolean, unable to interpret input");
    CK_ITEM(&e, "body/rate", "float_parsing",
            "Input should be a valid number, unable to parse string as a number");
    ck_assert_ptr_null(find(&e, "body/predict_fields"));

    /* a string in exponent notation is no integer, even in lax mode */
    ck_assert_int_eq(run("{\"dataset_id\":\"d\",\"predict_fields\":[\"y\"],\"duration\":\"1e3\"}",
                         1, &e, NULL),
                     -1);
    CK_ITEM(&e, "body/duration", "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer");
}
END_TEST

START_TEST(validate_non_object_body)
{
    err_t e;
    const char *bodies[] = {"[1,2]", "\"x\"", "3", "null"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        ck_assert_int_eq(run(bodies[i], 0, &e, NULL), -1);
        ck_assert_int_eq(e.count, 1);
        CK_ITEM(&e, "body", "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from");
    }
}
END_TEST

START_TEST(validate_field_names_with_slash_are_escaped)
{
    static const field_spec_t f[] = {{.name = "a/b", .type = FIELD_INT, .flags = FIELD_REQUIRED}};
    err_t e;
    err_clear(&e);
    json_object *o = json_tokener_parse("{}");
    ck_assert_int_eq(validate_body(o, f, 1, 0, &e), -1);
    ck_assert_str_eq(e.items[0].field, "body/a~1b");
    json_object_put(o);
}
END_TEST

Suite *suite_fcgi_validate(void)
{
    const TTest *const t[] = {validate_accepts_good_json, validate_reports_missing_fields_all_at_once,
                              validate_type_errors_match_pydantic, validate_literals_ranges_lengths,
                              validate_coerces_strings_from_xml_and_forms, validate_non_object_body,
                              validate_field_names_with_slash_are_escaped};
    return unit_suite("fcgi_validate", t, sizeof(t) / sizeof(t[0]));
}
