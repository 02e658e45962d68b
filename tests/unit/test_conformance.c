/*
 * test_conformance.c — behaviours that real FastAPI and Strapi v3 clients
 * rely on (issue 11): pydantic v2's lax conversions, Akkio's field types,
 * and how Strapi's list query parameters are read (the SQL they become is
 * checked end to end in tests/e2e/test_conformance.py).
 */
#include <check.h>
#include <string.h>

#include "common/arena.h"
#include "fcgi/validate.h"
#include "handlers/strapi_query.h"
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

/* Parses a raw query string (no percent-decoding) into q. */
static int parse(arena_t *a, const char *qs, training_query_t *q, err_t *e)
{
    strapi_query_t sq;
    strapi_query_init(&sq, a);
    err_clear(e);
    char *copy = arena_strdup(a, qs), *save = NULL;
    for (char *p = strtok_r(copy, "&", &save); p != NULL; p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        if (eq != NULL)
            *eq = '\0';
        if (strapi_query_add(&sq, p, eq ? eq + 1 : "", e) != 0)
            return -1;
    }
    return strapi_query_finish(&sq, q, e);
}

static int count_kids(const training_node_t *n)
{
    int k = 0;
    for (const training_node_t *c = n->first; c != NULL; c = c->next)
        k++;
    return k;
}

START_TEST(conformance_strapi_sort_and_options)
{
    arena_t *a = arena_create(0);
    training_query_t q;
    err_t e;
    ck_assert_int_eq(parse(a, "_sort=accuracy:DESC, rmse:asc,id&_limit=-1&_start=5", &q, &e), 0);
    ck_assert_int_eq(q.n_sorts, 3);
    ck_assert_str_eq(q.sorts[0].field, "accuracy");
    ck_assert_int_eq(q.sorts[0].desc, 1);
    ck_assert_str_eq(q.sorts[1].field, "rmse");
    ck_assert_int_eq(q.sorts[1].desc, 0);
    ck_assert_str_eq(q.sorts[2].field, "id");
    ck_assert_int_eq(q.limit, -1);
    ck_assert_int_eq(q.start, 5);
    ck_assert_int_eq(q.preview, 0);
    ck_assert_ptr_null(q.where);
    ck_assert_int_eq(parse(a, "_q=fox&_publicationState=preview", &q, &e), 0);
    ck_assert_str_eq(q.q, "fox");
    ck_assert_int_eq(q.preview, 1);
    ck_assert_int_eq(q.limit, 100);
    static const char *const bad[] = {"_sort=:DESC", "_sort=a:UP", "_publicationState=x",
                                      "_limit=x", "_start=-1", "_nope=1", "_sort=a&_sort=b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(a, bad[i], &q, &e) == -1, "accepted %s", bad[i]);
        ck_assert_int_eq(e.status, 400);
    }
    arena_destroy(a);
}
END_TEST

START_TEST(conformance_strapi_filters_and_where)
{
    arena_t *a = arena_create(0);
    training_query_t q;
    err_t e;
    ck_assert_int_eq(parse(a, "version_in=v1&version_in=v2&published_at_null=true&"
                              "meta_ncontainss=X&created_at=1",
                           &q, &e),
                     0);
    const training_node_t *n = q.where->first;
    ck_assert_str_eq(n->field, "version");
    ck_assert_str_eq(n->op, "in");
    ck_assert_int_eq(n->n_values, 2);
    ck_assert_str_eq(n->values[1], "v2");
    n = n->next;
    ck_assert_str_eq(n->field, "published_at");
    ck_assert_str_eq(n->op, "null");
    n = n->next;
    ck_assert_str_eq(n->field, "meta");
    ck_assert_str_eq(n->op, "ncontainss");
    n = n->next; /* "_at" is no operator: the whole name is the field */
    ck_assert_str_eq(n->field, "created_at");
    ck_assert_str_eq(n->op, "eq");

    ck_assert_int_eq(parse(a, "_where[_or][0][x]=1&_where[_or][1][y_gte]=2", &q, &e), 0);
    const training_node_t *w = q.where->first; /* the _where group */
    ck_assert_int_eq(w->kind, TRAINING_AND);
    const training_node_t *or = w->first;
    ck_assert_int_eq(or->kind, TRAINING_OR);
    ck_assert_int_eq(count_kids(or), 2);
    ck_assert_str_eq(or->first->next->first->field, "y");
    ck_assert_str_eq(or->first->next->first->op, "gte");

    ck_assert_int_eq(parse(a, "_where={\"_or\":[{\"a\":1},[{\"b_lt\":2.5},{\"c\":null}]]}", &q, &e),
                     0);
    or = q.where->first->first;
    ck_assert_int_eq(or->kind, TRAINING_OR);
    ck_assert_int_eq(count_kids(or), 2);
    const training_node_t *c = or->first->next->first->next->first;
    ck_assert_str_eq(c->field, "c");
    ck_assert_str_eq(c->op, "null");
    ck_assert_str_eq(c->values[0], "true");

    static const char *const bad[] = {"_where=nope", "_where[_or]=1", "_where[_or][x][a]=1",
                                      "a[b]=1&a=2", "a_gt=1&a_gt=2", "[x]=1", "a[][b]=1",
                                      "_where={\"a\":{\"b\":1}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(a, bad[i], &q, &e) == -1, "accepted %s", bad[i]);
        ck_assert_int_eq(e.status, 400);
    }
    arena_destroy(a);
}
END_TEST

Suite *suite_conformance(void)
{
    const TTest *const t[] = {conformance_lax_accepts_what_pydantic_accepts,
                              conformance_lax_refuses_the_rest_with_todays_codes,
                              conformance_akkio_field_types, conformance_strapi_sort_and_options,
                              conformance_strapi_filters_and_where};
    return unit_suite("conformance", t, sizeof(t) / sizeof(t[0]));
}
