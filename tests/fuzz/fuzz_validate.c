/*
 * fuzz_validate.c — validate_body on JSON parsed from the input, against a
 * fixed spec covering every field type and flag.
 *
 * The first input byte chooses strict or coercing mode (coercion rewrites
 * the object in place, which is where reference-count mistakes hide); the
 * rest is parsed by json-c. A refusal must be 422 with every item's field
 * under "body"; an accepted, coerced body must afterwards hold values of the
 * declared types and pass a second, strict validation.
 */
#include <stddef.h>
#include <stdint.h>

#include "fcgi/validate.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long long durations[] = {10, 60, 300, 1800};
static const char *const kinds[] = {"classification", "regression"};

static const field_spec_t spec[] = {
    {"name", FIELD_STRING, FIELD_REQUIRED | FIELD_NONEMPTY, 0, 0, NULL, 0, NULL, 0, 64},
    {"duration", FIELD_INT, 0, 0, 0, durations, 4, NULL, 0, 0},
    {"rounds", FIELD_INT, FIELD_NULLABLE, 1, 1000, NULL, 0, NULL, 0, 0},
    {"rate", FIELD_NUMBER, 0, 0.0, 1.0, NULL, 0, NULL, 0, 0},
    {"force", FIELD_BOOL, 0, 0, 0, NULL, 0, NULL, 0, 0},
    {"predict_fields", FIELD_STRING_ARRAY, FIELD_REQUIRED | FIELD_NONEMPTY, 0, 0, NULL, 0, NULL,
     0, 8},
    {"kind", FIELD_STRING, FIELD_NULLABLE, 0, 0, NULL, 0, kinds, 2, 0},
    {"params", FIELD_OBJECT, 0, 0, 0, NULL, 0, NULL, 0, 0},
    {"rows", FIELD_ARRAY, 0, 0, 0, NULL, 0, NULL, 0, 100},
    {"extra", FIELD_ANY, FIELD_NULLABLE, 0, 0, NULL, 0, NULL, 0, 0},
};
#define N_SPEC (sizeof(spec) / sizeof(spec[0]))

static int type_ok(const field_spec_t *f, json_object *v)
{
    if (v == NULL)
        return (f->flags & FIELD_NULLABLE) != 0;
    switch (f->type) {
    case FIELD_STRING: return json_object_is_type(v, json_type_string);
    case FIELD_INT: return json_object_is_type(v, json_type_int) ||
                           json_object_is_type(v, json_type_double); /* 10.0 is accepted */
    case FIELD_NUMBER: return json_object_is_type(v, json_type_int) ||
                              json_object_is_type(v, json_type_double);
    case FIELD_BOOL: return json_object_is_type(v, json_type_boolean);
    case FIELD_STRING_ARRAY:
        if (!json_object_is_type(v, json_type_array))
            return 0;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                return 0;
        return 1;
    case FIELD_OBJECT: return json_object_is_type(v, json_type_object);
    case FIELD_ARRAY: return json_object_is_type(v, json_type_array);
    case FIELD_ANY: return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 64 * 1024)
        return 0;
    int coerce = data[0] & 1;
    json_tokener *tok = json_tokener_new_ex(16);
    json_object *obj = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
    if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue)
        obj = json_tokener_parse_ex(tok, "", -1); /* flush a trailing number */
    json_tokener_free(tok);
    if (obj == NULL)
        return 0;

    err_t e;
    err_clear(&e);
    if (validate_body(obj, spec, N_SPEC, coerce, &e) < 0) {
        fuzz_check_err(&e, "validate");
        FUZZ_CHECK(e.status == 422, "status %d", e.status);
        for (int i = 0; i < e.count; i++)
            FUZZ_CHECK(strncmp(e.items[i].field, "body", 4) == 0, "field \"%s\"",
                       e.items[i].field);
    } else {
        FUZZ_CHECK(json_object_is_type(obj, json_type_object), "a non-object was accepted");
        for (size_t i = 0; i < N_SPEC; i++) {
            json_object *v = NULL;
            int present = json_object_object_get_ex(obj, spec[i].name, &v);
            FUZZ_CHECK(present || !(spec[i].flags & FIELD_REQUIRED), "missing %s accepted",
                       spec[i].name);
            if (present)
                FUZZ_CHECK(type_ok(&spec[i], v), "field %s accepted as %s", spec[i].name,
                           json_type_to_name(json_object_get_type(v)));
        }
        err_t e2;
        err_clear(&e2);
        FUZZ_CHECK(validate_body(obj, spec, N_SPEC, 0, &e2) == 0,
                   "accepted body fails strict validation: %s", err_message(&e2));
    }
    FUZZ_CHECK(json_object_to_json_string(obj) != NULL, "unserialisable body");
    json_object_put(obj);
    return 0;
}
