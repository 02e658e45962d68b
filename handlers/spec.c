/*
 * spec.c — training spec construction and checking (see spec.h).
 */
#include "handlers/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "handlers/app.h"
#include "handlers/support.h"

static const long long spec_durations[] = {10, 60, 300, 1800};
static const char *const spec_tasks[] = {"binary", "multiclass", "regression"};

/* The fields every way of asking for a training shares; what names the
 * data (dataset_id, or a bundle's dataset path) and whether duration is
 * required differ per table below. */
#define SPEC_DATASET_ID                                                                         \
    {.name = "dataset_id", .type = FIELD_STRING, .flags = FIELD_REQUIRED | FIELD_NONEMPTY,      \
     .max_len = 64}
#define SPEC_COMMON_FIELDS                                                                      \
    {.name = "predict_fields", .type = FIELD_STRING_ARRAY,                                      \
     .flags = FIELD_REQUIRED | FIELD_NONEMPTY, .max_len = 64},                                  \
    {.name = "ignore_fields", .type = FIELD_STRING_ARRAY, .max_len = 4096},                     \
    {.name = "extra_attention", .type = FIELD_BOOL},                                            \
    {.name = "force", .type = FIELD_BOOL},                                                      \
    {.name = "seed", .type = FIELD_INT, .min = 0, .max = 2147483647},                           \
    {.name = "max_models", .type = FIELD_INT, .min = 1, .max = 1000},                           \
    {.name = "task", .type = FIELD_STRING, .allowed_strings = spec_tasks,                       \
     .n_allowed_strings = 3}

const field_spec_t spec_fields_akkio[] = {
    SPEC_DATASET_ID,
    SPEC_COMMON_FIELDS,
    {.name = "duration", .type = FIELD_INT, .flags = FIELD_REQUIRED,
     .allowed_ints = spec_durations, .n_allowed_ints = 4},
};
_Static_assert(sizeof(spec_fields_akkio) / sizeof(spec_fields_akkio[0]) == SPEC_FIELDS_AKKIO_COUNT,
               "SPEC_FIELDS_AKKIO_COUNT is out of date");

#define SPEC_OPTIONAL_DURATION                                                                  \
    {.name = "duration", .type = FIELD_INT, .allowed_ints = spec_durations, .n_allowed_ints = 4}

const field_spec_t spec_fields_optional_duration[] = {
    SPEC_DATASET_ID,
    SPEC_COMMON_FIELDS,
    SPEC_OPTIONAL_DURATION,
};
const size_t spec_fields_optional_duration_count =
    sizeof(spec_fields_optional_duration) / sizeof(spec_fields_optional_duration[0]);

const field_spec_t spec_fields_bundle[] = {
    {.name = "dataset", .type = FIELD_STRING, .flags = FIELD_REQUIRED | FIELD_NONEMPTY,
     .max_len = 500},
    SPEC_COMMON_FIELDS,
    SPEC_OPTIONAL_DURATION,
};
const size_t spec_fields_bundle_count = sizeof(spec_fields_bundle) / sizeof(spec_fields_bundle[0]);

/* Index of the dataset column named name, or -1. */
static int spec_column_index(const dataset_rec_t *ds, const char *name)
{
    size_t n = json_object_array_length(ds->fields);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(ds->fields, i);
        json_object *fname;
        if (json_object_object_get_ex(f, "name", &fname) &&
            strcmp(json_object_get_string(fname), name) == 0)
            return (int)i;
    }
    return -1;
}

/* "a, b, c" (first few column names) for error messages. */
static const char *spec_column_list(request_t *r, const dataset_rec_t *ds)
{
    char buf[200] = "";
    size_t n = json_object_array_length(ds->fields);
    for (size_t i = 0; i < n; i++) {
        json_object *fname;
        json_object_object_get_ex(json_object_array_get_idx(ds->fields, i), "name", &fname);
        const char *name = json_object_get_string(fname);
        if (strlen(buf) + strlen(name) + 8 >= sizeof(buf)) {
            strcat(buf, ", ...");
            break;
        }
        if (i > 0)
            strcat(buf, ", ");
        strcat(buf, name);
    }
    return arena_strdup(r->arena, buf);
}

/* Checks a list of field names against the columns; marks each column used
 * in seen[] and reports duplicates and unknown names. */
static void spec_check_names(request_t *r, json_object *list, const char *where,
                             const char *key, const dataset_rec_t *ds, unsigned char *seen,
                             unsigned char mark, err_t *e)
{
    size_t n = list ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(list, i));
        char field[ERR_FIELD_MAX];
        snprintf(field, sizeof(field), "%s", where);
        err_path_append(field, sizeof(field), key);
        err_path_append_index(field, sizeof(field), (long)i);
        int col = spec_column_index(ds, name);
        if (col < 0) {
            err_add(e, 422, "value_error", field,
                    "Value error, \"%s\" is not a field of dataset %s (fields: %s)", name, ds->id,
                    spec_column_list(r, ds));
        } else if (seen[col] == mark) {
            err_add(e, 422, "value_error", field, "Value error, \"%s\" is listed twice", name);
        } else if (seen[col] != 0) {
            err_add(e, 422, "value_error", field,
                    "Value error, \"%s\" cannot be both predicted and ignored", name);
        } else {
            seen[col] = mark;
        }
    }
}

int spec_build(request_t *r, json_object *fields, const char *where, dataset_rec_t *ds,
               json_object **spec, err_t *e)
{
    json_object *v;
    char field[ERR_FIELD_MAX];
    /* Faults on demand for the test suite: refused unless the server was
     * started for tests, so that no client can crash a trainer's worker. */
    json_object *test_mode = NULL;
    if (json_object_object_get_ex(fields, "test_mode", &test_mode)) {
        snprintf(field, sizeof(field), "%s", where);
        err_path_append(field, sizeof(field), "test_mode");
        if (app_of(r)->config == NULL || !app_of(r)->config->test_mode)
            return err_add(e, 422, "value_error", field,
                           "Value error, test_mode is only taken by a server started for "
                           "tests (TRAINYARD_TEST_MODE=1)");
        if (!json_object_is_type(test_mode, json_type_object))
            return err_add(e, 422, "type_error", field, "Input should be an object");
    }
    const char *dataset_id = json_object_object_get_ex(fields, "dataset_id", &v)
                                 ? json_object_get_string(v) : "";
    snprintf(field, sizeof(field), "%s", where);
    err_path_append(field, sizeof(field), "dataset_id");
    err_t lookup;
    err_clear(&lookup);
    if (!util_is_uuid(dataset_id) ||
        db_dataset_get(app_of(r)->db, r->arena, r->auth.workspace_id, dataset_id, ds,
                       &lookup) != 0) {
        if (lookup.status >= 500) {
            *e = lookup;
            return -1;
        }
        return err_add(e, 422, "value_error", field,
                       "Value error, there is no dataset with id \"%s\" in this workspace",
                       dataset_id);
    }

    json_object *predict = NULL, *ignore = NULL;
    json_object_object_get_ex(fields, "predict_fields", &predict);
    json_object_object_get_ex(fields, "ignore_fields", &ignore);
    size_t n_columns = json_object_array_length(ds->fields);
    unsigned char *seen = arena_calloc(r->arena, n_columns + 1, 1);
    int before = e->count;
    spec_check_names(r, predict, where, "predict_fields", ds, seen, 1, e);
    spec_check_names(r, ignore, where, "ignore_fields", ds, seen, 2, e);
    if (e->count > before)
        return -1;
    size_t inputs = 0;
    for (size_t i = 0; i < n_columns; i++)
        inputs += seen[i] == 0;
    if (inputs == 0) {
        snprintf(field, sizeof(field), "%s", where);
        err_path_append(field, sizeof(field), "ignore_fields");
        return err_add(e, 422, "value_error", field,
                       "Value error, no input field is left to learn from");
    }

    json_object *out = support_own(r, json_object_new_object());
    json_object_object_add(out, "dataset_id", json_object_new_string(ds->id));
    json_object_object_add(out, "predict_fields", json_object_get(predict));
    json_object_object_add(out, "ignore_fields",
                           ignore ? json_object_get(ignore) : json_object_new_array());
    long long duration = 10;
    if (json_object_object_get_ex(fields, "duration", &v) && v != NULL)
        duration = json_object_get_int64(v);
    json_object_object_add(out, "duration", json_object_new_int64(duration));
    int extra = json_object_object_get_ex(fields, "extra_attention", &v) && v != NULL &&
                json_object_get_boolean(v);
    json_object_object_add(out, "extra_attention", json_object_new_boolean(extra));
    static const char *const passthrough[] = {"seed", "max_models", "task", "user", "test_mode"};
    for (size_t i = 0; i < sizeof(passthrough) / sizeof(passthrough[0]); i++)
        if (json_object_object_get_ex(fields, passthrough[i], &v) && v != NULL)
            json_object_object_add(out, passthrough[i], json_object_get(v));
    *spec = out;
    return 0;
}

static int spec_compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the sorted names of a string array to h, each NUL-terminated. */
static void spec_hash_sorted(request_t *r, sha256_t *h, json_object *list)
{
    size_t n = list ? json_object_array_length(list) : 0;
    const char **names = arena_alloc(r->arena, (n + 1) * sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = json_object_get_string(json_object_array_get_idx(list, i));
    qsort(names, n, sizeof(*names), spec_compare_strings);
    for (size_t i = 0; i < n; i++)
        sha256_update(h, names[i], strlen(names[i]) + 1);
    sha256_update(h, "|", 1);
}

const char *spec_dedupe_key(request_t *r, json_object *spec)
{
    sha256_t *h = sha256_new();
    json_object *v;
    json_object_object_get_ex(spec, "dataset_id", &v);
    sha256_update(h, json_object_get_string(v), strlen(json_object_get_string(v)) + 1);
    json_object_object_get_ex(spec, "predict_fields", &v);
    spec_hash_sorted(r, h, v);
    json_object_object_get_ex(spec, "ignore_fields", &v);
    spec_hash_sorted(r, h, v);
    static const char *const scalars[] = {"duration", "extra_attention", "seed", "max_models",
                                          "task", "test_mode"};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        const char *text = json_object_object_get_ex(spec, scalars[i], &v)
                               ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)
                               : "-";
        sha256_update(h, text, strlen(text) + 1);
    }
    char *hex = arena_alloc(r->arena, SHA256_HEX_LEN + 1);
    sha256_finish_hex(h, hex);
    return hex;
}

void spec_rebase_errors(err_t *e, const char *prefix)
{
    for (int i = 0; i < e->count; i++) {
        char *f = e->items[i].field;
        if (strncmp(f, "body", 4) != 0 || (f[4] != '/' && f[4] != '\0'))
            continue;
        char buf[ERR_FIELD_MAX];
        snprintf(buf, sizeof(buf), "%s%s", prefix, f + 4);
        memcpy(f, buf, sizeof(buf));
    }
}
