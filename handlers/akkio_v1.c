/*
 * akkio_v1.c — Akkio's legacy /v1 API, as its Python SDK (akkio-python)
 * and older scripts speak it, over the same dataset store, queue and model
 * store as every other dialect.
 *
 *   GET    /v1/datasets            {"status":"success","datasets":[{"id","name","rows"}]}
 *   GET    /v1/datasets?id=        {"status":"success","id","name","rows",
 *                                   "fields":[{"name","type","trainyard_type","missing"}]}
 *   POST   /v1/datasets {name}     creates an empty dataset:
 *                                  {"status":"success","dataset_id","dataset_name"}
 *   POST   /v1/datasets {id,rows}  appends rows (a list of {field: value}, or that list
 *                                  JSON-encoded in a string) -> {"status":"success","rows"}
 *   POST   /v1/datasets {id,csv}   appends the rows of a CSV text with a header (a JSON
 *                                  string or a form field)
 *   POST   /v1/datasets {id,fields}         sets field types ([{name,type}] or {name: type})
 *   POST   /v1/datasets {id,parse_fields}   re-infers the types from the rows
 *   DELETE /v1/datasets {id}       {"status":"success"}; refused (409) while a job that
 *                                  has not finished uses the dataset
 *   GET    /v1/models              {"status":"success","models":[{"id","name",...,
 *                                   "lineage"}]} (lineage: handlers/lineage.h)
 *   POST   /v1/models {dataset_id, predict_fields, ignore_fields, extra_attention,
 *                      duration, force}
 *                                  trains, and answers once the model exists with the
 *                                  training task's result (akkio_result_doc): status,
 *                                  model_id, stats, field_importance, data_story, + task_id;
 *                                  a duration outside 10/60/300/1800 rounds up to the next
 *   POST   /v1/models {id, data, explain}   predicts (handlers/models.c)
 *   DELETE /v1/models {id}         {"status":"success"}
 *
 * Parameters come from the query string, a JSON body or a form body, merged
 * (the body wins); form and query values are strings and are coerced as the
 * validator does ("10" -> 10, "true" -> true). The runtime authenticates
 * (ROUTE_KEY_IN_BODY: header, ?api_key= or the body's api_key) and renders
 * errors in DIALECT_AKKIO_V1: {"status":"missing or invalid API key"} for a
 * bad key, {"status":"error","message","field"} otherwise.
 *
 * Field types: Akkio knows number | category | string; `type` is one of
 * those (trainyard's boolean shows as category) and `trainyard_type` is the
 * engine's own (number, boolean, category, string).
 *
 * Appending is one transaction: the dataset row is locked, the new rows
 * checked against the schema (the first rows ever appended define it; each
 * later value must fit its field's type, and a row may not bring a field
 * the dataset lacks; one bad value refuses the whole request, naming row
 * and field), then the old bytes and the new rows stream through the same
 * artifact writer and CSV inference as an upload, into a NEW artifact the
 * dataset row is pointed at. A job already training read the old artifact
 * id and keeps its bytes: the old artifact is deleted only when no job that
 * has not finished uses the dataset. The old bytes pass through a temporary
 * file (COPY holds the connection while writing), never memory.
 *
 * The new rows are written with the delimiter the dataset's file has
 * (datasets.delimiter, sniffed at upload: a ';' file stays a ';' file), and
 * an appended CSV is read with that delimiter, not sniffed: its header must
 * name exactly the dataset's fields (in any order), else 422 naming the
 * field, with the delimiter it was read with in the message. A dataset
 * with no rows yet takes the CSV's header as its schema, its delimiter
 * sniffed, and is written with ','.
 *
 * Synchronous create_model: the request parks (req_park) on "job:<id>",
 * which the queue notifies when the job reaches a final state; no worker
 * waits meanwhile. Resumed, it answers the result, parks again after a
 * spurious wake, or after V1_WAIT_SECONDS answers a timeout error naming
 * the task to poll.
 *
 * Explanations (`explain: true` on predict): each prediction carries
 * "explanation" with per-field TreeSHAP contributions in margin units:
 *   binary     {"output":"log-odds","class":"<positive class>","bias":b,
 *               "contributions":{"<field>":c,...}}
 *   regression {"output":"value","bias":b,"contributions":{...}}
 *   multiclass {"output":"margin","classes":{"<class>":{"bias":b,"contributions":{...}}}}
 * bias + the sum of contributions = the row's margin (binary: log-odds of the
 * positive class, p = 1/(1+e^-margin); multiclass: softmax over classes). A
 * category's one-hot inputs (linear models) are summed into its field.
 */
#include "handlers/handlers.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"
#include "db/artifacts.h"
#include "db/datasets.h"
#include "db/datasets_append.h"
#include "db/jobs.h"
#include "db/models_admin.h"
#include "handlers/app.h"
#include "handlers/lineage.h"
#include "handlers/spec.h"
#include "handlers/support.h"
#include "ml/csv.h"

/* Longest a create_model call waits for its training (the runtime's park
 * cap; nginx's /v1/models read timeout is above it). */
#define V1_WAIT_SECONDS 3600.0
#define V1_NAME_MAX 200
#define V1_LIST_MAX 1000

/* --- parameters ------------------------------------------------------ */

static void v1_add_query(const char *name, const char *value, void *ctx)
{
    json_object *o = ctx;
    if (strcmp(name, "api_key") != 0 && !json_object_object_get_ex(o, name, NULL))
        json_object_object_add(o, name, json_object_new_string(value));
}

/* The call's parameters: the query's, overlaid by the body's (api_key left
 * out). Arena-owned. */
static int v1_params(request_t *r, json_object **out)
{
    json_object *o = support_own(r, json_object_new_object());
    if (r->body != NULL) {
        if (!json_object_is_type(r->body, json_type_object))
            return err_add(&r->err, 422, "dict_type", "body",
                           "Input should be an object of parameters");
        json_object_object_foreach(r->body, key, val) {
            if (strcmp(key, "api_key") != 0)
                json_object_object_add(o, key, json_object_get(val));
        }
    }
    req_query_each(r, v1_add_query, o);
    *out = o;
    return 0;
}

static const char *v1_str(json_object *p, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(p, key, &v) || v == NULL ||
        json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
        return NULL;
    return json_object_get_string(v);
}

static int v1_has(json_object *p, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(p, key, &v) && v != NULL;
}

/* A boolean parameter: JSON true/false, or the text true/1/yes. */
static int v1_bool(json_object *p, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(p, key, &v) || v == NULL)
        return 0;
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        return strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0;
    }
    return json_object_get_boolean(v);
}

static int v1_require_id(request_t *r, json_object *p, const char *key, const char **id)
{
    *id = v1_str(p, key);
    if (*id == NULL || **id == '\0')
        return err_add(&r->err, 422, "missing", arena_sprintf(r->arena, "body/%s", key),
                       "Field required");
    return 0;
}

static json_object *v1_success(request_t *r)
{
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "status", json_object_new_string("success"));
    return doc;
}

/* --- datasets: reading ------------------------------------------------ */

/* Akkio's three types; trainyard's boolean is a two-level category there. */
static const char *v1_akkio_type(const char *t)
{
    if (t != NULL && (strcmp(t, "number") == 0 || strcmp(t, "string") == 0))
        return t;
    return "category";
}

static json_object *v1_fields_doc(json_object *fields)
{
    json_object *out = json_object_new_array();
    size_t n = json_object_is_type(fields, json_type_array) ? json_object_array_length(fields)
                                                             : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(fields, i);
        json_object *o = json_object_new_object();
        const char *name = v1_str(f, "name"), *type = v1_str(f, "type");
        json_object *missing = NULL;
        json_object_object_get_ex(f, "missing", &missing);
        json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
        json_object_object_add(o, "type", json_object_new_string(v1_akkio_type(type)));
        json_object_object_add(o, "trainyard_type", json_object_new_string(type ? type : ""));
        json_object_object_add(o, "missing", json_object_get(missing));
        json_object_array_add(out, o);
    }
    return out;
}

int akkio_v1_datasets_get(request_t *r)
{
    json_object *p;
    if (v1_params(r, &p) != 0)
        return -1;
    const char *id = v1_str(p, "id");
    db_t *db = app_of(r)->db;
    json_object *doc = v1_success(r);
    if (id != NULL) {
        dataset_rec_t ds;
        if (!util_is_uuid(id))
            return err_set(&r->err, 404, "not_found", "There is no dataset with id: %s", id);
        if (db_dataset_get(db, r->arena, r->auth.workspace_id, id, &ds, &r->err) != 0)
            return -1;
        json_object_object_add(doc, "id", json_object_new_string(ds.id));
        json_object_object_add(doc, "name", json_object_new_string(ds.name ? ds.name : ""));
        json_object_object_add(doc, "rows", json_object_new_int64(ds.rows));
        json_object_object_add(doc, "fields", v1_fields_doc(ds.fields));
        return req_reply_json(r, 200, doc);
    }
    dataset_rec_t *list;
    size_t n;
    long long total;
    if (db_dataset_list(db, r->arena, r->auth.workspace_id, V1_LIST_MAX, 0, &list, &n, &total,
                        &r->err) != 0)
        return -1;
    json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(list[i].id));
        json_object_object_add(o, "name", json_object_new_string(list[i].name ? list[i].name : ""));
        json_object_object_add(o, "rows", json_object_new_int64(list[i].rows));
        json_object_array_add(items, o);
    }
    json_object_object_add(doc, "datasets", items);
    return req_reply_json(r, 200, doc);
}

/* --- datasets: creating ----------------------------------------------- */

/* An empty dataset: a zero-byte artifact (so every dataset has one, as
 * uploads do) and a row with no fields. */
static int v1_dataset_create(request_t *r, const char *name)
{
    if (strlen(name) > V1_NAME_MAX)
        return err_add(&r->err, 422, "string_too_long", "body/name",
                       "String should have at most %d characters", V1_NAME_MAX);
    db_t *db = app_of(r)->db;
    if (db_begin(db, &r->err) != 0)
        return -1;
    artifact_info_t info;
    artifact_writer_t *w = db_artifact_begin(db, r->auth.workspace_id, "dataset", &r->err);
    if (w == NULL || db_artifact_finish(w, &info, &r->err) != 0)
        goto fail;
    dataset_rec_t ds;
    memset(&ds, 0, sizeof(ds));
    ds.workspace_id = r->auth.workspace_id;
    ds.name = name;
    ds.rows = 0;
    ds.fields = support_own(r, json_object_new_array());
    memcpy(ds.artifact_id, info.id, sizeof(ds.artifact_id));
    ds.size = 0;
    memcpy(ds.sha256, info.sha256, sizeof(ds.sha256));
    if (db_dataset_insert(db, r->arena, &ds, &r->err) != 0 || db_commit(db, &r->err) != 0)
        goto fail;
    json_object *doc = v1_success(r);
    json_object_object_add(doc, "dataset_id", json_object_new_string(ds.id));
    json_object_object_add(doc, "dataset_name", json_object_new_string(name));
    return req_reply_json(r, 200, doc);
fail:
    db_rollback(db);
    return -1;
}

/* --- datasets: appending rows ----------------------------------------- */

/* A growable byte buffer for the new rows' CSV text (malloc'd; freed by
 * the arena). */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sbuf_free(void *p)
{
    free(((sbuf_t *)p)->p);
}

static void sbuf_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL)
            abort();
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* One CSV cell, quoted when it must be (any of the delimiters a reader
 * could take it for, a quote, a line break, or spaces at its ends that an
 * unquoted cell would lose): quoting a cell never changes what it reads
 * as, whichever delimiter the file has. */
static void sbuf_cell(sbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ' || strpbrk(s, ",;\t|\"\r\n") != NULL);
    if (!quote) {
        sbuf_put(b, s, n);
        return;
    }
    sbuf_put(b, "\"", 1);
    for (const char *q = s; *q; q++) {
        if (*q == '"')
            sbuf_put(b, "\"", 1);
        sbuf_put(b, q, 1);
    }
    sbuf_put(b, "\"", 1);
}

/* `rows` as sent: a list, or (Akkio's curl examples) that list JSON-encoded
 * in a string. Arena-owned. */
static int v1_rows(request_t *r, json_object *p, json_object **rows)
{
    json_object *v = NULL;
    json_object_object_get_ex(p, "rows", &v);
    if (json_object_is_type(v, json_type_string)) {
        json_object *parsed = json_tokener_parse(json_object_get_string(v));
        if (parsed == NULL)
            return err_add(&r->err, 422, "json_invalid", "body/rows",
                           "rows is a string but not a JSON list of rows");
        v = support_own(r, parsed);
    }
    if (!json_object_is_type(v, json_type_array))
        return err_add(&r->err, 422, "list_type", "body/rows",
                       "Input should be a list of rows ({field: value} objects)");
    if (json_object_array_length(v) == 0)
        return err_add(&r->err, 422, "too_short", "body/rows", "send at least one row");
    *rows = v;
    return 0;
}

/* --- datasets: an appended CSV ---------------------------------------- */

typedef struct v1_csv {
    request_t *r;
    json_object *rows;         /* the CSV's rows as {field: "text"} objects */
    json_object *fields;       /* the dataset's fields; empty when it has none yet */
    char delim;
    char **names;              /* the header (arena-owned) */
    size_t ncol;
    int header_bad;            /* the header named unknown fields or left some out */
} v1_csv_t;

static const char *v1_delim_name(char d)
{
    return d == '\t' ? "tab" : d == ';' ? "';'" : d == '|' ? "'|'" : "','";
}

/* The header against the dataset's fields: every column a field, every
 * field a column. Items name the field (body/csv/<name>). */
static void v1_csv_header(v1_csv_t *c, const csv_cell_t *cells, size_t n)
{
    request_t *r = c->r;
    c->names = arena_calloc(r->arena, n + 1, sizeof(*c->names));
    c->ncol = n;
    for (size_t k = 0; k < n; k++) {
        char *name = arena_alloc(r->arena, cells[k].len + 1);
        memcpy(name, cells[k].ptr, cells[k].len);
        name[cells[k].len] = '\0';
        c->names[k] = name;
    }
    size_t nf = json_object_array_length(c->fields);
    if (nf == 0)
        return; /* a dataset with no rows yet: this header is its schema */
    for (size_t k = 0; k < n; k++) {
        int known = 0;
        for (size_t f = 0; f < nf && !known; f++) {
            const char *fn = v1_str(json_object_array_get_idx(c->fields, f), "name");
            known = fn != NULL && strcmp(fn, c->names[k]) == 0;
        }
        if (!known) {
            char path[ERR_FIELD_MAX] = "body/csv";
            err_path_append(path, sizeof(path), c->names[k]);
            err_add(&r->err, 422, "extra_forbidden", path,
                    "the CSV's column \"%s\" is not a field of the dataset (read with the "
                    "dataset's delimiter %s)", c->names[k], v1_delim_name(c->delim));
            c->header_bad = 1;
        }
    }
    for (size_t f = 0; f < nf; f++) {
        const char *fn = v1_str(json_object_array_get_idx(c->fields, f), "name");
        int present = 0;
        for (size_t k = 0; k < n && !present && fn != NULL; k++)
            present = strcmp(fn, c->names[k]) == 0;
        if (!present && fn != NULL) {
            char path[ERR_FIELD_MAX] = "body/csv";
            err_path_append(path, sizeof(path), fn);
            err_add(&r->err, 422, "missing", path,
                    "the CSV has no column \"%s\", a field of the dataset (read with the "
                    "dataset's delimiter %s)", fn, v1_delim_name(c->delim));
            c->header_bad = 1;
        }
    }
}

static int v1_csv_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                         err_t *e)
{
    v1_csv_t *c = ctx;
    if (line == 1) {
        v1_csv_header(c, cells, n);
        /* Stop at once: no row of a file with the wrong columns is read. */
        return c->header_bad ? err_set(e, 422, "header", "header mismatch") : 0;
    }
    json_object *row = json_object_new_object();
    for (size_t k = 0; k < n && k < c->ncol; k++)
        json_object_object_add(row, c->names[k],
                               json_object_new_string_len(cells[k].ptr, (int)cells[k].len));
    json_object_array_add(c->rows, row);
    return 0;
}

/* `csv` (the text of a CSV file with a header) as the rows list the JSON
 * form sends. Read with the dataset's delimiter; when it has no fields yet,
 * the delimiter is sniffed. Arena-owned. */
static int v1_csv_rows(request_t *r, json_object *p, const dataset_rec_t *ds, json_object **rows)
{
    json_object *v = NULL;
    json_object_object_get_ex(p, "csv", &v);
    if (!json_object_is_type(v, json_type_string))
        return err_add(&r->err, 422, "string_type", "body/csv",
                       "csv is the text of a CSV file with a header row");
    v1_csv_t c = {.r = r, .rows = support_own(r, json_object_new_array()), .fields = ds->fields};
    int fresh = json_object_array_length(ds->fields) == 0;
    c.delim = ds->delimiter != NULL && ds->delimiter[0] != '\0' ? ds->delimiter[0] : ',';
    csv_reader_t *rd = csv_reader_new(&csv_limits_default, v1_csv_record, &c);
    if (rd == NULL)
        return err_set(&r->err, 500, "internal", "out of memory");
    if (!fresh)
        (void)csv_reader_set_delimiter(rd, c.delim);
    err_t pe;
    err_clear(&pe);
    const char *text = json_object_get_string(v);
    int rc = csv_reader_feed(rd, text, strlen(text), &pe);
    if (rc == 0)
        rc = csv_reader_finish(rd, &pe);
    csv_reader_free(rd);
    if (c.header_bad)
        return -1; /* the items are in r->err */
    if (rc != 0)
        return err_add(&r->err, pe.status ? pe.status : 400,
                       pe.count ? pe.items[0].code : "csv_invalid", "body/csv", "%s",
                       err_message(&pe));
    if (c.names == NULL)
        return err_add(&r->err, 422, "too_short", "body/csv", "the CSV is empty: send a header "
                       "row and at least one row");
    if (json_object_array_length(c.rows) == 0)
        return err_add(&r->err, 422, "too_short", "body/csv", "the CSV has a header but no rows");
    *rows = c.rows;
    return 0;
}

static int v1_number_text(const char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return 0;
    double x = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    return *end == '\0' && isfinite(x);
}

static int v1_bool_text(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "0", "1"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return 0;
}

/* Checks one value against its field's type and returns its cell text
 * ("" = missing), or NULL with an error item naming row and field. */
static const char *v1_cell(request_t *r, json_object *v, const char *type, size_t row,
                           const char *field)
{
    char path[ERR_FIELD_MAX] = "body/rows";
    err_path_append_index(path, sizeof(path), (long)row);
    err_path_append(path, sizeof(path), field);
    if (v == NULL || json_object_is_type(v, json_type_null))
        return "";
    json_type t = json_object_get_type(v);
    if (t == json_type_object || t == json_type_array) {
        err_add(&r->err, 422, "value_type", path, "row %zu, field \"%s\": a single value is "
                "required, not a list or object", row, field);
        return NULL;
    }
    const char *s = json_object_get_string(v);
    if (t == json_type_boolean)
        s = json_object_get_boolean(v) ? "true" : "false";
    if (type == NULL || csv_cell_is_missing(s, strlen(s)))
        return s;
    if (strcmp(type, "number") == 0 && t != json_type_int && t != json_type_double &&
        !v1_number_text(s)) {
        err_add(&r->err, 422, "float_parsing", path,
                "row %zu, field \"%s\": \"%s\" is not a number, and the field is a number "
                "field", row, field, s);
        return NULL;
    }
    if (strcmp(type, "number") == 0 && (t == json_type_int || t == json_type_double) &&
        !isfinite(json_object_get_double(v))) {
        err_add(&r->err, 422, "finite_number", path, "row %zu, field \"%s\": not a finite "
                "number", row, field);
        return NULL;
    }
    if (strcmp(type, "boolean") == 0 && t != json_type_boolean && !v1_bool_text(s)) {
        err_add(&r->err, 422, "bool_parsing", path,
                "row %zu, field \"%s\": \"%s\" is not true/false, and the field is a boolean "
                "field", row, field, s);
        return NULL;
    }
    return s;
}

/* What streams the old bytes out of the database: inference, a temporary
 * file for the writer that runs after, the last byte (does a newline end
 * the file?). */
typedef struct grow {
    csv_infer_t *infer;
    FILE *tmp;
    char last;
} grow_t;

static int grow_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    grow_t *g = ctx;
    if (n == 0)
        return 0;
    if (csv_infer_feed(g->infer, buf, n, e) != 0)
        return -1;
    if (fwrite(buf, 1, n, g->tmp) != n)
        return err_set(e, 500, "internal", "temporary file: write failed");
    g->last = ((const char *)buf)[n - 1];
    return 0;
}

/* The stored fields with each type kept and `missing` refreshed from the
 * new summary (a type set by the client survives appends). */
static json_object *v1_fields_merge(json_object *stored, json_object *inferred)
{
    json_object *out = json_object_new_array();
    size_t n = json_object_array_length(stored), m = json_object_array_length(inferred);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(stored, i);
        json_object *o = json_object_new_object();
        const char *name = v1_str(f, "name");
        json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
        json_object_object_add(o, "type", json_object_new_string(v1_str(f, "type") ? v1_str(f, "type") : "string"));
        json_object *declared = NULL;
        if (json_object_object_get_ex(f, "declared", &declared))
            json_object_object_add(o, "declared", json_object_get(declared));
        for (size_t j = 0; j < m; j++) {
            json_object *g = json_object_array_get_idx(inferred, j), *miss;
            const char *gn = v1_str(g, "name");
            if (name && gn && strcmp(name, gn) == 0 &&
                json_object_object_get_ex(g, "missing", &miss)) {
                json_object_object_add(o, "missing", json_object_get(miss));
                break;
            }
        }
        json_object_array_add(out, o);
    }
    return out;
}

static int v1_dataset_append(request_t *r, const char *id, json_object *p)
{
    json_object *rows = NULL;
    int from_csv = v1_has(p, "csv");
    if (from_csv && v1_has(p, "rows"))
        return err_add(&r->err, 422, "extra_forbidden", "body/csv",
                       "send the new rows either as rows or as csv, not both");
    if (!from_csv && v1_rows(r, p, &rows) != 0)
        return -1;
    app_t *app = app_of(r);
    db_t *db = app->db;
    grow_t g = {.infer = NULL, .tmp = NULL, .last = '\n'};
    artifact_writer_t *w = NULL;
    json_object *summary = NULL;
    int rc = -1;
    if (db_begin(db, &r->err) != 0)
        return -1;
    dataset_rec_t ds;
    int busy = 0;
    if (db_dataset_lock(db, r->arena, r->auth.workspace_id, id, &ds, &busy, &r->err) != 0)
        goto out;
    /* A CSV is read with the dataset's delimiter, known only now. */
    if (from_csv && v1_csv_rows(r, p, &ds, &rows) != 0)
        goto out;
    size_t n = json_object_array_length(rows);

    /* The schema: the stored fields, or (first rows ever) the keys of these
     * rows in order of appearance. */
    int fresh = json_object_array_length(ds.fields) == 0;
    json_object *names = support_own(r, json_object_new_array());
    if (fresh) {
        for (size_t i = 0; i < n; i++) {
            json_object *row = json_object_array_get_idx(rows, i);
            if (!json_object_is_type(row, json_type_object))
                continue;
            json_object_object_foreach(row, key, val) {
                (void)val;
                int seen = 0;
                for (size_t k = 0; k < json_object_array_length(names) && !seen; k++)
                    seen = strcmp(json_object_get_string(json_object_array_get_idx(names, k)),
                                  key) == 0;
                if (!seen)
                    json_object_array_add(names, json_object_new_string(key));
            }
        }
        if (json_object_array_length(names) == 0) {
            err_add(&r->err, 422, "missing", "body/rows/0", "the first rows name no fields");
            goto out;
        }
    } else {
        for (size_t k = 0; k < json_object_array_length(ds.fields); k++)
        {
            const char *fn = v1_str(json_object_array_get_idx(ds.fields, k), "name");
            json_object_array_add(names, json_object_new_string(fn ? fn : ""));
        }
    }
    size_t ncol = json_object_array_length(names);
    /* The new rows in the file's own delimiter (a dataset with no rows yet
     * is written with ','). */
    const char *sep = !fresh && ds.delimiter != NULL && ds.delimiter[0] != '\0' ? ds.delimiter
                                                                               : ",";

    /* The new rows as CSV text, every value checked against its field
     * first: one bad value refuses the whole request. */
    sbuf_t *csv = arena_calloc(r->arena, 1, sizeof(*csv));
    arena_defer(r->arena, sbuf_free, csv);
    if (fresh) {
        for (size_t k = 0; k < ncol; k++) {
            if (k > 0)
                sbuf_put(csv, sep, 1);
            sbuf_cell(csv, json_object_get_string(json_object_array_get_idx(names, k)));
        }
        sbuf_put(csv, "\n", 1);
    }
    for (size_t i = 0; i < n; i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        if (!json_object_is_type(row, json_type_object)) {
            char path[ERR_FIELD_MAX] = "body/rows";
            err_path_append_index(path, sizeof(path), (long)i);
            err_add(&r->err, 422, "dict_type", path, "row %zu is not a {field: value} object", i);
            continue;
        }
        json_object_object_foreach(row, key, val) {
            (void)val;
            int known = 0;
            for (size_t k = 0; k < ncol && !known; k++)
                known = strcmp(json_object_get_string(json_object_array_get_idx(names, k)),
                               key) == 0;
            if (!known) {
                char path[ERR_FIELD_MAX] = "body/rows";
                err_path_append_index(path, sizeof(path), (long)i);
                err_path_append(path, sizeof(path), key);
                err_add(&r->err, 422, "extra_forbidden", path,
                        "row %zu, field \"%s\": the dataset has no such field", i, key);
            }
        }
        for (size_t k = 0; k < ncol; k++) {
            const char *name = json_object_get_string(json_object_array_get_idx(names, k));
            json_object *v = NULL;
            json_object_object_get_ex(row, name, &v);
            const char *type =
                fresh ? NULL : v1_str(json_object_array_get_idx(ds.fields, k), "type");
            const char *cell = v1_cell(r, v, type, i, name);
            if (cell == NULL)
                continue;
            if (k > 0)
                sbuf_put(csv, sep, 1);
            sbuf_cell(csv, cell);
        }
        sbuf_put(csv, "\n", 1);
    }
    if (r->err.count > 0) {
        r->err.status = 422;
        goto out;
    }

    /* Old bytes out (inference + temporary file), then old + new through
     * the upload's writer into a new artifact. */
    g.infer = csv_infer_new(&csv_limits_default);
    g.tmp = tmpfile();
    if (g.tmp == NULL) {
        err_set(&r->err, 500, "internal", "no temporary file for the append");
        goto out;
    }
    if (!fresh && ds.artifact_id[0] != '\0' &&
        db_artifact_read(db, ds.artifact_id, grow_sink, &g, &r->err) != 0)
        goto out;
    const char *lead = g.last != '\n' ? "\n" : "";
    if (csv_infer_feed(g.infer, lead, strlen(lead), &r->err) != 0 ||
        csv_infer_feed(g.infer, csv->p, csv->len, &r->err) != 0 ||
        csv_infer_finish(g.infer, &summary, &r->err) != 0)
        goto out;
    support_own(r, summary);
    w = db_artifact_begin(db, r->auth.workspace_id, "dataset", &r->err);
    if (w == NULL)
        goto out;
    rewind(g.tmp);
    char buf[64 * 1024];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), g.tmp)) > 0)
        if (db_artifact_write(w, buf, got, &r->err) != 0)
            goto out;
    if (db_artifact_write(w, lead, strlen(lead), &r->err) != 0 ||
        db_artifact_write(w, csv->p, csv->len, &r->err) != 0)
        goto out;
    artifact_info_t info;
    artifact_writer_t *done = w;
    w = NULL;
    if (db_artifact_finish(done, &info, &r->err) != 0)
        goto out;

    char old_artifact[UUID_STR_LEN + 1];
    memcpy(old_artifact, ds.artifact_id, sizeof(old_artifact));
    json_object *v, *inferred = NULL;
    json_object_object_get_ex(summary, "rows", &v);
    ds.rows = json_object_get_int64(v);
    json_object_object_get_ex(summary, "fields", &inferred);
    ds.fields = fresh ? inferred : support_own(r, v1_fields_merge(ds.fields, inferred));
    memcpy(ds.artifact_id, info.id, sizeof(ds.artifact_id));
    ds.size = info.size;
    memcpy(ds.sha256, info.sha256, sizeof(ds.sha256));
    if (db_dataset_replace_data(db, r->arena, &ds, &r->err) != 0)
        goto out;
    /* A job that has not finished may have read the old artifact id: its
     * bytes stay (retention reclaims them later) so its data never changes. */
    if (!busy && db_artifact_drop(db, r->arena, old_artifact, &r->err) != 0)
        goto out;
    if (db_commit(db, &r->err) != 0)
        goto out;
    rc = 0;
    log_info("dataset %s: %zu rows appended (%lld in all)", ds.id, n, ds.rows);
    json_object *doc = v1_success(r);
    json_object_object_add(doc, "dataset_id", json_object_new_string(ds.id));
    json_object_object_add(doc, "rows", json_object_new_int64(ds.rows));
    req_reply_json(r, 200, doc);
out:
    if (w != NULL)
        db_artifact_abort(w);
    if (rc != 0)
        db_rollback(db);
    if (g.tmp != NULL)
        fclose(g.tmp);
    csv_infer_free(g.infer);
    return rc;
}

/* --- datasets: types ------------------------------------------------- */

static const char *v1_type_parse(const char *t)
{
    static const char *const known[] = {"number", "category", "string", "boolean"};
    for (size_t i = 0; t != NULL && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcasecmp(t, known[i]) == 0)
            return known[i];
    if (t != NULL && strcasecmp(t, "text") == 0)
        return "string";
    return NULL;
}

/* `fields`: [{"name","type"}] or {"<name>":"<type>"} (a form or query may
 * send either JSON-encoded). */
static int v1_dataset_set_fields(request_t *r, const char *id, json_object *p)
{
    json_object *f = NULL;
    json_object_object_get_ex(p, "fields", &f);
    if (json_object_is_type(f, json_type_string)) {
        json_object *parsed = json_tokener_parse(json_object_get_string(f));
        f = parsed ? support_own(r, parsed) : NULL;
    }
    json_object *want = support_own(r, json_object_new_object()); /* name -> type */
    if (json_object_is_type(f, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(f); i++) {
            json_object *it = json_object_array_get_idx(f, i);
            const char *name = v1_str(it, "name"), *type = v1_type_parse(v1_str(it, "type"));
            char path[ERR_FIELD_MAX] = "body/fields";
            err_path_append_index(path, sizeof(path), (long)i);
            if (name == NULL || type == NULL)
                err_add(&r->err, 422, "value_error", path,
                        "each field needs a name and a type (number, category, string, "
                        "boolean)");
            else
                json_object_object_add(want, name, json_object_new_string(type));
        }
    } else if (json_object_is_type(f, json_type_object)) {
        json_object_object_foreach(f, key, val) {
            const char *type = v1_type_parse(json_object_get_string(val));
            char path[ERR_FIELD_MAX] = "body/fields";
            err_path_append(path, sizeof(path), key);
            if (type == NULL)
                err_add(&r->err, 422, "literal_error", path,
                        "type should be number, category, string or boolean");
            else
                json_object_object_add(want, key, json_object_new_string(type));
        }
    } else {
        err_add(&r->err, 422, "list_type", "body/fields",
                "fields should be a list of {name, type} or a {name: type} object");
    }
    if (r->err.count > 0)
        return -1;
    db_t *db = app_of(r)->db;
    if (db_begin(db, &r->err) != 0)
        return -1;
    dataset_rec_t ds;
    int busy;
    if (db_dataset_lock(db, r->arena, r->auth.workspace_id, id, &ds, &busy, &r->err) != 0)
        goto fail;
    json_object_object_foreach(want, name, type) {
        int found = 0;
        for (size_t i = 0; i < json_object_array_length(ds.fields) && !found; i++) {
            json_object *fd = json_object_array_get_idx(ds.fields, i);
            const char *fn = v1_str(fd, "name");
            if (fn != NULL && strcmp(fn, name) == 0) {
                /* declared: training reads the field as this type
                 * (db_dataset_declared_types, ml_data_retype). */
                json_object_object_add(fd, "type", json_object_get(type));
                json_object_object_add(fd, "declared", json_object_new_boolean(1));
                found = 1;
            }
        }
        if (!found) {
            char path[ERR_FIELD_MAX] = "body/fields";
            err_path_append(path, sizeof(path), name);
            err_add(&r->err, 422, "value_error", path, "the dataset has no field \"%s\"", name);
        }
    }
    if (r->err.count > 0)
        goto fail;
    if (db_dataset_set_fields(db, r->arena, ds.id, ds.fields, &r->err) != 0 ||
        db_commit(db, &r->err) != 0)
        goto fail;
    json_object *doc = v1_success(r);
    json_object_object_add(doc, "fields", v1_fields_doc(ds.fields));
    return req_reply_json(r, 200, doc);
fail:
    db_rollback(db);
    return -1;
}

static int infer_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    return csv_infer_feed(ctx, buf, n, e);
}

/* parse_fields: the types inferred again from the rows, as an upload would. */
static int v1_dataset_parse(request_t *r, const char *id)
{
    db_t *db = app_of(r)->db;
    if (db_begin(db, &r->err) != 0)
        return -1;
    dataset_rec_t ds;
    int busy;
    csv_infer_t *ci = NULL;
    json_object *summary = NULL, *fields = NULL;
    if (db_dataset_lock(db, r->arena, r->auth.workspace_id, id, &ds, &busy, &r->err) != 0)
        goto fail;
    if (ds.rows == 0 || ds.size == 0) {
        err_set(&r->err, 409, "empty", "dataset %s has no rows yet: add rows first", ds.id);
        goto fail;
    }
    ci = csv_infer_new(&csv_limits_default);
    if (db_artifact_read(db, ds.artifact_id, infer_sink, ci, &r->err) != 0 ||
        csv_infer_finish(ci, &summary, &r->err) != 0)
        goto fail;
    support_own(r, summary);
    json_object_object_get_ex(summary, "fields", &fields);
    if (db_dataset_set_fields(db, r->arena, ds.id, fields, &r->err) != 0 ||
        db_commit(db, &r->err) != 0)
        goto fail;
    csv_infer_free(ci);
    json_object *doc = v1_success(r);
    json_object_object_add(doc, "fields", v1_fields_doc(fields));
    return req_reply_json(r, 200, doc);
fail:
    csv_infer_free(ci);
    db_rollback(db);
    return -1;
}

int akkio_v1_datasets_post(request_t *r)
{
    json_object *p;
    if (v1_params(r, &p) != 0)
        return -1;
    const char *id = v1_str(p, "id");
    if (id == NULL) {
        const char *name = v1_str(p, "name");
        if (name == NULL || *name == '\0')
            return err_add(&r->err, 422, "missing", "body/name",
                           "send name to create a dataset, or id with rows, fields or "
                           "parse_fields to change one");
        return v1_dataset_create(r, name);
    }
    if (v1_has(p, "rows") || v1_has(p, "csv"))
        return v1_dataset_append(r, id, p);
    if (v1_has(p, "fields"))
        return v1_dataset_set_fields(r, id, p);
    if (v1_bool(p, "parse_fields"))
        return v1_dataset_parse(r, id);
    return err_add(&r->err, 422, "missing", "body/rows",
                   "with id, send rows or csv (to add), fields (to set types) or "
                   "parse_fields: true");
}

int akkio_v1_datasets_delete(request_t *r)
{
    json_object *p;
    const char *id;
    if (v1_params(r, &p) != 0 || v1_require_id(r, p, "id", &id) != 0)
        return -1;
    if (db_dataset_delete(app_of(r)->db, r->arena, r->auth.workspace_id, id, &r->err) != 0) {
        if (r->err.status == 409) {
            err_clear(&r->err);
            return err_set(&r->err, 409, "dataset_in_use",
                           "dataset %s is used by a training that has not finished; delete it "
                           "once that training ends", id);
        }
        return -1;
    }
    return req_reply_json(r, 200, v1_success(r));
}

/* --- models ---------------------------------------------------------- */

int akkio_v1_models_get(request_t *r)
{
    model_item_t *list;
    size_t n;
    if (db_model_list_workspace(app_of(r)->db, r->arena, r->auth.workspace_id, V1_LIST_MAX,
                                &list, &n, &r->err) != 0)
        return -1;
    /* Each model's lineage (handlers/lineage.h), one query for the list:
     * an extra beside Akkio's keys, as on the training result. */
    json_object **lineage = lineage_of_listing(r, list, n, sizeof(*list),
                                               offsetof(model_item_t, id));
    if (lineage == NULL)
        return -1;
    json_object *doc = v1_success(r);
    json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(list[i].id));
        json_object_object_add(
            o, "name",
            json_object_new_string(arena_sprintf(r->arena, "%s: %s",
                                                 list[i].dataset_name ? list[i].dataset_name
                                                                      : "dataset",
                                                 list[i].predict_field)));
        support_json_str(o, "dataset_id", list[i].dataset_id);
        support_json_str(o, "predict_field", list[i].predict_field);
        support_json_str(o, "task", list[i].task);
        support_json_str(o, "task_id", list[i].job_id);
        support_json_time(o, "created_at", list[i].created_at);
        json_object_object_add(o, "lineage", lineage[i]);
        json_object_array_add(items, o);
    }
    json_object_object_add(doc, "models", items);
    return req_reply_json(r, 200, doc);
}

int akkio_v1_models_delete(request_t *r)
{
    json_object *p;
    const char *id;
    if (v1_params(r, &p) != 0 || v1_require_id(r, p, "id", &id) != 0)
        return -1;
    if (db_model_delete(app_of(r)->db, r->arena, r->auth.workspace_id, id, &r->err) != 0)
        return -1;
    return req_reply_json(r, 200, v1_success(r));
}

/* Answers a training that reached a final state: its result, or why not. */
static int v1_training_answer(request_t *r, const job_t *job)
{
    if (job->state != JOB_SUCCEEDED || job->result == NULL)
        return err_set(&r->err, 422, "training_failed", "training %s did not succeed: %s",
                       job->id, akkio_failure_text(job));
    json_object *doc = akkio_result_doc(r, job);
    json_object_object_add(doc, "task_id", json_object_new_string(job->id));
    return req_reply_json(r, 200, doc);
}

/* Parks until the job is final; on failure to park, answers what is known. */
static int v1_training_wait(request_t *r, const char *job_id)
{
    if (req_park(r, arena_sprintf(r->arena, "job:%s", job_id), V1_WAIT_SECONDS, job_id) == 0)
        return 0;
    return err_set(&r->err, 504, "timeout",
                   "training %s has not finished yet; follow it at "
                   "/api/v1/models/train/%s/status",
                   job_id, job_id);
}

static int v1_model_resume(request_t *r)
{
    const char *job_id = req_resume_note(r);
    job_t job;
    if (db_job_get(app_of(r)->db, r->arena, r->auth.workspace_id, job_id, &job, &r->err) != 0)
        return -1;
    if (job_state_is_final(job.state))
        return v1_training_answer(r, &job);
    if (req_resumed(r) == REQ_RESUMED_WOKEN)
        return v1_training_wait(r, job.id);
    return err_set(&r->err, 504, "timeout",
                   "training %s did not finish within %.0f s; follow it at "
                   "/api/v1/models/train/%s/status",
                   job.id, V1_WAIT_SECONDS, job.id);
}

/* The legacy API took any duration (the SDK's README passes 1): a number
 * outside the budgets becomes the next budget up (10, 60, 300, 1800). */
static void v1_duration_round(json_object *p)
{
    static const long long budgets[] = {10, 60, 300, 1800};
    json_object *v;
    if (!json_object_object_get_ex(p, "duration", &v) || v == NULL)
        return;
    double d;
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
        d = json_object_get_double(v);
    else if (json_object_is_type(v, json_type_string) &&
             v1_number_text(json_object_get_string(v)))
        d = strtod(json_object_get_string(v), NULL);
    else
        return; /* the validator names it */
    if (!(d > 0))
        return;
    long long pick = budgets[3];
    for (size_t i = 0; i < 4; i++)
        if (d <= (double)budgets[i]) {
            pick = budgets[i];
            break;
        }
    json_object_object_add(p, "duration", json_object_new_int64(pick));
}

static int v1_model_create(request_t *r, json_object *p)
{
    v1_duration_round(p);
    if (validate_body(p, spec_fields_optional_duration, spec_fields_optional_duration_count, 1,
                      &r->err) != 0)
        return -1;
    const char *dataset_id = v1_str(p, "dataset_id");
    dataset_rec_t ds;
    if (!util_is_uuid(dataset_id))
        return err_set(&r->err, 404, "not_found", "There is no dataset with id: %s",
                       dataset_id);
    if (db_dataset_get(app_of(r)->db, r->arena, r->auth.workspace_id, dataset_id, &ds,
                       &r->err) != 0)
        return -1;
    if (ds.rows == 0)
        return err_add(&r->err, 422, "empty_dataset", "body/dataset_id",
                       "dataset %s has no rows: add rows (add_rows_to_dataset) before training",
                       ds.id);
    json_object *spec;
    if (spec_build(r, p, "body", &ds, &spec, &r->err) != 0)
        return -1;
    job_t job;
    memset(&job, 0, sizeof(job));
    job.workspace_id = r->auth.workspace_id;
    job.dialect = "akkio";
    job.spec = spec;
    job.dataset_id = ds.id;
    job.priority = 100;
    job.max_attempts = 3;
    /* Akkio's "identical request" rule, as /api/v1/models/train/new: the
     * same request waits for the same training unless forced. */
    job.dedupe_key = v1_bool(p, "force") ? NULL : spec_dedupe_key(r, spec);
    int existing = 0;
    if (db_job_enqueue(app_of(r)->db, r->arena, &job, &existing, &r->err) != 0)
        return -1;
    if (existing) {
        job_t now;
        if (db_job_get(app_of(r)->db, r->arena, r->auth.workspace_id, job.id, &now,
                       &r->err) != 0)
            return -1;
        if (job_state_is_final(now.state))
            return v1_training_answer(r, &now);
    }
    return v1_training_wait(r, job.id);
}

int akkio_v1_models_post(request_t *r)
{
    if (req_resumed(r) != REQ_FRESH)
        return v1_model_resume(r);
    json_object *p;
    if (v1_params(r, &p) != 0)
        return -1;
    if (v1_has(p, "dataset_id"))
        return v1_model_create(r, p);
    /* A prediction: handlers/models.c reads id, data and explain from the
     * body; query parameters count too. */
    if (validate_body(p, models_legacy_fields, MODELS_LEGACY_FIELDS_COUNT, 1, &r->err) != 0)
        return -1;
    r->body = p;
    return models_predict_legacy(r);
}
