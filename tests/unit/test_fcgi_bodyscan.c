/*
 * test_fcgi_bodyscan.c — the byte-by-byte shape counter and key picker:
 * counts agree with the decoders', limits stop a body early, api_key is
 * found in JSON and form bodies at every split point, and ambiguous or
 * nested keys are not taken.
 */
#include <check.h>
#include <string.h>

#include "fcgi/body.h"
#include "fcgi/bodyscan.h"
#include "tests/unit/unit.h"

Suite *suite_fcgi_bodyscan(void);

/* Scans text whole, then split at every point; the answers must agree.
 * Returns the key found (static buffer) or NULL; *fields gets the count. */
static const char *scan(body_format_t f, const char *text, const body_limits_t *lim,
                        long *fields, int *rc_out)
{
    static char found[BODYSCAN_VALUE_MAX];
    bodyscan_t whole;
    bodyscan_init(&whole, f, lim, "api_key");
    int rc = bodyscan_feed(&whole, text, strlen(text));
    bodyscan_finish(&whole);
    size_t n = strlen(text);
    for (size_t cut = 0; cut <= n; cut++) {
        bodyscan_t part;
        bodyscan_init(&part, f, lim, "api_key");
        int a = bodyscan_feed(&part, text, cut);
        int b = a == 0 ? bodyscan_feed(&part, text + cut, n - cut) : a;
        bodyscan_finish(&part);
        ck_assert_int_eq(b, rc);
        ck_assert_int_eq(part.fields, whole.fields);
        const char *k1 = bodyscan_found(&whole), *k2 = bodyscan_found(&part);
        ck_assert_msg((k1 == NULL) == (k2 == NULL) && (k1 == NULL || strcmp(k1, k2) == 0),
                      "cut %zu of %s", cut, text);
    }
    if (fields != NULL)
        *fields = whole.fields;
    if (rc_out != NULL)
        *rc_out = rc;
    const char *k = bodyscan_found(&whole);
    if (k == NULL)
        return NULL;
    strcpy(found, k);
    return found;
}

/* The decoder's own count of members and items, for comparison. */
static long tree_fields(json_object *o)
{
    long n = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val) {
            (void)key;
            n += 1 + tree_fields(val);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            n += 1 + tree_fields(json_object_array_get_idx(o, i));
    }
    return n;
}

START_TEST(bodyscan_json_counts_as_the_decoder)
{
    static const char *const bodies[] = {
        "{}", "[]", "{\"a\":1}", "[1,2,3]", "{\"a\":[1,{\"b\":\"x,y]\"}],\"c\":{}}",
        "[[],[[]],{\"k\":\"\\\"[\"}]", " { \"a\" : [ ] , \"b\" : null } ", "\"just a string\"", "42",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_object *o = NULL;
        err_t e;
        err_clear(&e);
        ck_assert_int_eq(body_decode_json(bodies[i], strlen(bodies[i]), NULL, &o, &e), 0);
        long fields = -1;
        scan(BODY_JSON, bodies[i], &body_limits_default, &fields, NULL);
        ck_assert_msg(fields == tree_fields(o), "%s: scan %ld, tree %ld", bodies[i], fields,
                      tree_fields(o));
        json_object_put(o);
    }
}
END_TEST

START_TEST(bodyscan_limits_stop_early)
{
    body_limits_t lim = {.max_bytes = 1 << 20, .max_depth = 3, .max_fields = 4};
    int rc = 0;
    long fields = 0;
    scan(BODY_JSON, "[0,0,0,0]", &lim, &fields, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(fields, 4);
    scan(BODY_JSON, "[0,0,0,0,0]", &lim, NULL, &rc);
    ck_assert_int_eq(rc, -1);

    bodyscan_t s;
    bodyscan_init(&s, BODY_JSON, &lim, NULL);
    ck_assert_int_eq(bodyscan_feed(&s, "[[[[[", 5), -1);
    ck_assert_int_eq(s.problem, BODYSCAN_TOO_DEEP);
    err_t e;
    err_clear(&e);
    bodyscan_error(&s, &e);
    ck_assert_int_eq(e.status, 413);
    ck_assert_str_eq(err_message(&e), "json: nesting deeper than 3 levels");
    /* Once over, it stays over. */
    ck_assert_int_eq(bodyscan_feed(&s, "]", 1), -1);

    bodyscan_init(&s, BODY_FORM, &lim, NULL);
    ck_assert_int_eq(bodyscan_feed(&s, "a=1&&b=2&c&d=", 13), 0);
    ck_assert_int_eq(s.fields, 4);
    ck_assert_int_eq(bodyscan_feed(&s, "&e=5", 4), -1);
    err_clear(&e);
    bodyscan_error(&s, &e);
    ck_assert_str_eq(err_message(&e), "form: more than 4 fields");

    bodyscan_init(&s, BODY_XML, &lim, NULL);
    const char *xml = "<?xml version=\"1.0\"?><item><a>1</a><b/><!-- c --></item>";
    ck_assert_int_eq(bodyscan_feed(&s, xml, strlen(xml)), 0);
    ck_assert_int_eq(s.fields, 3);
}
END_TEST

START_TEST(bodyscan_finds_the_key_in_json)
{
    const char *k = scan(BODY_JSON, "{\"id\":\"m1\",\"api_key\":\"ty_ab_cd\",\"data\":[{\"x\":1}]}",
                         &body_limits_default, NULL, NULL);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "ty_ab_cd");
    k = scan(BODY_JSON, " { \"data\" : [ {\"api_key\":\"nested\"} ] , \"api_key\" : \"a\\/b\" } ",
             &body_limits_default, NULL, NULL);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "a/b");
    /* Only at the top of an object; not as a value; not twice; strings only. */
    ck_assert_ptr_null(scan(BODY_JSON, "{\"x\":{\"api_key\":\"k\"}}", &body_limits_default, NULL,
                            NULL));
    ck_assert_ptr_null(scan(BODY_JSON, "{\"x\":\"api_key\",\"y\":\"k\"}", &body_limits_default,
                            NULL, NULL));
    ck_assert_ptr_null(scan(BODY_JSON, "{\"api_key\":\"a\",\"api_key\":\"a\"}",
                            &body_limits_default, NULL, NULL));
    ck_assert_ptr_null(scan(BODY_JSON, "{\"api_key\":123}", &body_limits_default, NULL, NULL));
    ck_assert_ptr_null(scan(BODY_JSON, "{\"api_key\":\"\\u0041\"}", &body_limits_default, NULL,
                            NULL));
    ck_assert_ptr_null(scan(BODY_JSON, "[{\"api_key\":\"k\"}]", &body_limits_default, NULL,
                            NULL));
    ck_assert_ptr_null(scan(BODY_JSON, "{\"api_key_2\":\"k\",\"api_ke\":\"k\"}",
                            &body_limits_default, NULL, NULL));
    /* Too long to be a key. */
    char big[600] = "{\"api_key\":\"";
    memset(big + strlen(big), 'k', 400);
    strcpy(big + 12 + 400, "\"}");
    ck_assert_ptr_null(scan(BODY_JSON, big, &body_limits_default, NULL, NULL));
}
END_TEST

START_TEST(bodyscan_finds_the_key_in_forms)
{
    const char *k = scan(BODY_FORM, "id=m1&api_key=ty_ab%5Fcd+x&data=%5B%5D",
                         &body_limits_default, NULL, NULL);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "ty_ab_cd x");
    k = scan(BODY_FORM, "api%5Fkey=last", &body_limits_default, NULL, NULL);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "last");
    ck_assert_ptr_null(scan(BODY_FORM, "api_key=a&api_key=b", &body_limits_default, NULL,
                            NULL));
    ck_assert_ptr_null(scan(BODY_FORM, "api_key&x=1", &body_limits_default, NULL, NULL));
    ck_assert_ptr_null(scan(BODY_FORM, "api_key=%4", &body_limits_default, NULL, NULL));
    ck_assert_ptr_null(scan(BODY_FORM, "api_key=%00x", &body_limits_default, NULL, NULL));
    /* A form body that is JSON (the Strapi quirk) is scanned as JSON. */
    k = scan(BODY_FORM, " {\"api_key\":\"j\"}", &body_limits_default, NULL, NULL);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "j");
}
END_TEST

Suite *suite_fcgi_bodyscan(void)
{
    const TTest *const t[] = {bodyscan_json_counts_as_the_decoder, bodyscan_limits_stop_early,
                              bodyscan_finds_the_key_in_json, bodyscan_finds_the_key_in_forms};
    return unit_suite("fcgi_bodyscan", t, sizeof(t) / sizeof(t[0]));
}
