/*
 * fuzz_rowjson.c — the plain batch reader (ml/rowjson.c) against the general
 * path, on arbitrary bytes.
 *
 * Whatever rowjson_read accepts, the general path must accept too and read
 * to the same floats, bit for bit: body_decode_json parses it, and each
 * row's cells are read again here the way ml/model.c reads a json-c value
 * (a number through json_object_get_double, a boolean as 0/1, a category
 * through enc_value_from_text) and compared. It must also be a batch the
 * input check finds nothing in: every row's keys exactly the plan's fields
 * (plus the dropped column), levels known. Inputs it refuses cost nothing
 * to check: the general path answers them.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fcgi/body.h"
#include "ml/encode.h"
#include "ml/keyorder.h"
#include "ml/rowjson.h"
#include "tests/fuzz/fuzz_plan.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char FEATURES[] =
    "[{\"name\":\"a\",\"kind\":\"number\"},{\"name\":\"b\",\"kind\":\"boolean\"},"
    "{\"name\":\"c\",\"kind\":\"category\",\"levels\":[\"x\",\"y z\",\"NA\"],\"other\":true}]";

static enc_plan_t plan;
static keyorder_t *keys;

static void setup(void)
{
    fuzz_plan_setup(FEATURES, &plan, &keys);
}

/* The general path's float for one cell (v NULL: absent or null). */
static float cell(const enc_feature_t *f, json_object *v)
{
    if (v == NULL)
        return NAN;
    if (f->kind != ENC_CATEGORY && json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        float out = NAN;
        FUZZ_CHECK(enc_value_from_text(f, s, strlen(s), &out) == 0, "text \"%s\" read", s);
        return out;
    }
    switch (f->kind) {
    case ENC_NUMBER:
        FUZZ_CHECK(json_object_is_type(v, json_type_int) ||
                       json_object_is_type(v, json_type_double), "a number field read a %s",
                   json_type_to_name(json_object_get_type(v)));
        return (float)json_object_get_double(v);
    case ENC_BOOLEAN:
        FUZZ_CHECK(json_object_is_type(v, json_type_boolean), "a boolean field read a %s",
                   json_type_to_name(json_object_get_type(v)));
        return json_object_get_boolean(v) ? 1.0f : 0.0f;
    default: {
        FUZZ_CHECK(json_object_is_type(v, json_type_string), "a category read a %s",
                   json_type_to_name(json_object_get_type(v)));
        const char *s = json_object_get_string(v);
        float out = NAN;
        FUZZ_CHECK(enc_value_from_text(f, s, strlen(s), &out) == 0, "category text");
        FUZZ_CHECK(out < (float)f->n_levels, "an unknown level \"%s\" read as plain", s);
        return out;
    }
    }
}

static int same(float x, float y)
{
    return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof(x)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    rowjson_plan_t p = {.plan = &plan, .keys = keys, .max_cells = 3000};
    rowjson_rows_t rows;
    int got = rowjson_read(&p, (const char *)data, size, &rows);
    FUZZ_CHECK(got == 0 || got == 1, "rc %d", got);
    if (got == 0) {
        FUZZ_CHECK(rows.F == NULL && rows.n == 0, "a refusal kept rows");
        return 0;
    }
    body_limits_t lim = body_limits_default;
    lim.max_bytes = 1u << 20;
    lim.max_fields = 1 << 20;
    json_object *doc = NULL;
    err_t e;
    err_clear(&e);
    FUZZ_CHECK(body_decode_json((const char *)data, size, &lim, &doc, &e) == 0,
               "read as plain, refused by json-c: %s", err_message(&e));
    json_object *d = NULL, *flag = NULL;
    FUZZ_CHECK(json_object_object_get_ex(doc, "data", &d) &&
                   json_object_is_type(d, json_type_array), "no data list");
    FUZZ_CHECK(json_object_object_length(doc) ==
                   1 + (rows.strict >= 0) + (rows.explain >= 0), "other members");
    if (rows.strict >= 0)
        FUZZ_CHECK(json_object_object_get_ex(doc, "strict", &flag) &&
                       json_object_is_type(flag, json_type_boolean) &&
                       json_object_get_boolean(flag) == rows.strict, "strict");
    if (rows.explain >= 0)
        FUZZ_CHECK(json_object_object_get_ex(doc, "explain", &flag) &&
                       json_object_is_type(flag, json_type_boolean) &&
                       json_object_get_boolean(flag) == rows.explain, "explain");
    FUZZ_CHECK(json_object_array_length(d) == rows.n, "%zu rows, json-c %zu", rows.n,
               json_object_array_length(d));
    for (size_t i = 0; i < rows.n; i++) {
        json_object *row = json_object_array_get_idx(d, i);
        FUZZ_CHECK(json_object_is_type(row, json_type_object), "row %zu", i);
        size_t known = 0;
        json_object_object_foreach(row, key, val) {
            long j = keyorder_find(keys, SIZE_MAX, key);
            FUZZ_CHECK(j >= 0, "row %zu: unknown key \"%s\" read as plain", i, key);
            if ((size_t)j >= plan.n) {
                FUZZ_CHECK(!json_object_is_type(val, json_type_object) &&
                               !json_object_is_type(val, json_type_array), "nested value");
                continue;
            }
            known++;
            float want = cell(&plan.f[j], val);
            float have = rows.F[i * plan.n + (size_t)j];
            FUZZ_CHECK(same(want, have), "row %zu field %s: %.9g, json-c %.9g", i, key,
                       (double)have, (double)want);
        }
        FUZZ_CHECK(known == plan.n, "row %zu names %zu of %zu fields", i, known, plan.n);
    }
    json_object_put(doc);
    free(rows.F);
    return 0;
}
