/*
 * models.c — trained models: show, download, predict.
 *
 *   GET  /api/v1/models                 a page of the workspace's models, each with
 *                                       its lineage (handlers/lineage.h)
 *   GET  /api/v1/models/{id}            task, fields, metrics, candidates, lineage
 *   GET  /api/v1/models/{id}/download   tar.gz: model.ubj (XGBoost), preprocess.json,
 *                                       metrics.json (+ member-<i>.ubj of an ensemble),
 *                                       trainyard_scorer.py and README.md (scorer/:
 *                                       the official scorer, the schema)
 *   POST /api/v1/models/{id}/predict    {"data":[{field: value}, ...]} -> Akkio's
 *                                       {"status":"success","predictions":[...]};
 *                                       or text/csv in -> text/csv out, streamed
 *                                       (handlers/batch.h)
 *   POST /api/v1/models/{id}/evaluate   labelled rows as text/csv, or
 *                                       {"dataset_id"} -> metrics on them
 *   POST /v1/models                     Akkio's legacy form: {"id","data"} with the key
 *                                       as api_key in the body or query (routed through
 *                                       handlers/akkio_v1.c, which also trains there)
 *
 * Both predict routes take `explain: true` (or ?explain=true): each
 * prediction then carries "explanation", its per-field contributions
 * (ml/model.h documents the shape). Both answer "warnings" about fields the
 * model does not read, category levels it never saw and fields left out
 * (handlers/predict_check.h); `strict: true` (or ?strict=true) turns them
 * into a 422 instead, and nothing is predicted.
 *
 * Predictions run in the API worker on a model from the worker's cache
 * (handlers/model_cache.h). XML and form bodies carry a single row: either
 * under <data> or as the body's own fields.
 */
#include "handlers/handlers.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "db/artifacts.h"
#include "db/models.h"
#include "db/models_admin.h"
#include "handlers/app.h"
#include "handlers/batch.h"
#include "handlers/lineage.h"
#include "handlers/predict_check.h"
#include "handlers/scorer_files.h"
#include "handlers/support.h"
#include "handlers/tarball.h"
#include "common/util.h"
#include "ml/model.h"

const field_spec_t models_predict_fields[] = {
    {.name = "data", .type = FIELD_ANY},
    {.name = "explain", .type = FIELD_BOOL},
    {.name = "strict", .type = FIELD_BOOL},
};
_Static_assert(sizeof(models_predict_fields) / sizeof(models_predict_fields[0]) ==
                   MODELS_PREDICT_FIELDS_COUNT, "count out of date");

const field_spec_t models_legacy_fields[] = {
    {.name = "id", .type = FIELD_STRING, .flags = FIELD_REQUIRED | FIELD_NONEMPTY},
    {.name = "data", .type = FIELD_ANY},
    {.name = "api_key", .type = FIELD_STRING},
    {.name = "explain", .type = FIELD_BOOL},
    {.name = "strict", .type = FIELD_BOOL},
};
_Static_assert(sizeof(models_legacy_fields) / sizeof(models_legacy_fields[0]) ==
                   MODELS_LEGACY_FIELDS_COUNT, "count out of date");

static int models_load(request_t *r, const char *id, model_rec_t *m)
{
    if (!util_is_uuid(id))
        return err_set(&r->err, 404, "not_found", "There is no model with id: %s", id);
    return db_model_get(app_of(r)->db, r->arena, r->auth.workspace_id, id, m, &r->err);
}

/* The labels every model document carries. */
static void models_labels(json_object *doc, const model_rec_t *m)
{
    support_json_str(doc, "name", m->name);
    json_object_object_add(doc, "tags",
                           m->tags ? json_object_get(m->tags) : json_object_new_array());
    json_object_object_add(doc, "pinned", json_object_new_boolean(m->pinned));
    if (m->updated_at > 0)
        support_json_time(doc, "updated_at", m->updated_at);
}

int models_list(request_t *r)
{
    long long limit, offset;
    if (support_query_int(r, "limit", 100, 1, 1000, &limit, &r->err) != 0 ||
        support_query_int(r, "offset", 0, 0, 1LL << 40, &offset, &r->err) != 0)
        return -1;
    const char *tag = req_query(r, "tag");
    if (tag != NULL && tag[0] == '\0')
        tag = NULL;
    model_rec_t *list;
    size_t n;
    long long total;
    if (db_model_list_page(app_of(r)->db, r->arena, r->auth.workspace_id, (int)limit,
                           (int)offset, tag, &list, &n, &total, &r->err) != 0)
        return -1;
    json_object **lineage = lineage_of_listing(r, list, n, sizeof(*list), offsetof(model_rec_t, id));
    if (lineage == NULL)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object *items = json_object_new_array();
    json_object_object_add(doc, "models", items);
    for (size_t i = 0; i < n; i++) {
        const model_rec_t *m = &list[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "model_id", json_object_new_string(m->id));
        json_object_object_add(o, "task_id", json_object_new_string(m->job_id));
        support_json_str(o, "dataset_id", m->dataset_id);
        support_json_str(o, "predict_field", m->predict_field);
        support_json_str(o, "task", m->task);
        models_labels(o, m);
        json_object_object_add(o, "metrics", json_object_get(m->metrics));
        support_json_time(o, "created_at", m->created_at);
        json_object_object_add(o, "lineage", lineage[i]);
        json_object_array_add(items, o);
    }
    json_object_object_add(doc, "total", json_object_new_int64(total));
    json_object_object_add(doc, "limit", json_object_new_int64(limit));
    json_object_object_add(doc, "offset", json_object_new_int64(offset));
    return req_reply_json(r, 200, doc);
}

int models_show(request_t *r)
{
    model_rec_t m;
    if (models_load(r, r->params[0], &m) != 0)
        return -1;
    json_object *lineage = NULL;
    if (lineage_of_model(r, m.id, &lineage) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "model_id", json_object_new_string(m.id));
    json_object_object_add(doc, "task_id", json_object_new_string(m.job_id));
    support_json_str(doc, "dataset_id", m.dataset_id);
    support_json_str(doc, "predict_field", m.predict_field);
    support_json_str(doc, "task", m.task);
    json_object *features = NULL, *classes = NULL;
    if (m.preprocess != NULL) {
        json_object_object_get_ex(m.preprocess, "features", &features);
        json_object_object_get_ex(m.preprocess, "classes", &classes);
    }
    json_object_object_add(doc, "features", json_object_get(features));
    json_object_object_add(doc, "classes", json_object_get(classes));
    json_object_object_add(doc, "metrics", json_object_get(m.metrics));
    json_object_object_add(doc, "candidates", json_object_get(m.candidates));
    support_json_time(doc, "created_at", m.created_at);
    models_labels(doc, &m);
    json_object_object_add(doc, "lineage", lineage);
    json_object_object_add(doc, "download",
                           json_object_new_string(arena_sprintf(
                               r->arena, "/api/v1/models/%s/download", m.id)));
    return req_reply_json(r, 200, doc);
}

const field_spec_t models_update_fields[] = {
    {.name = "name", .type = FIELD_ANY},
    {.name = "tags", .type = FIELD_ANY},
    {.name = "pinned", .type = FIELD_BOOL},
};
_Static_assert(sizeof(models_update_fields) / sizeof(models_update_fields[0]) ==
                   MODELS_UPDATE_FIELDS_COUNT, "count out of date");

#define MODEL_NAME_MAX 200
#define MODEL_TAG_MAX 64
#define MODEL_TAGS_MAX 32

/* A tag: 1..64 of letters, digits, '-', '_', '.', ':' (safe in a query
 * string and a shell without quoting). */
static int models_tag_ok(const char *t, size_t n)
{
    if (n == 0 || n > MODEL_TAG_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return 1;
}

int models_update(request_t *r)
{
    model_update_t u = {.pinned = -1};
    json_object *v;
    int any = 0;
    if (json_object_object_get_ex(r->body, "name", &v)) {
        any = 1;
        u.set_name = 1;
        if (v != NULL && !json_object_is_type(v, json_type_string))
            err_add(&r->err, 422, "string_type", "body/name",
                    "Input should be a valid string (or null to clear the name)");
        else if (v != NULL && (json_object_get_string_len(v) > MODEL_NAME_MAX ||
                               json_object_get_string_len(v) == 0))
            err_add(&r->err, 422, "string_too_long", "body/name",
                    "a name has 1 to %d characters (null clears it)", MODEL_NAME_MAX);
        else
            u.name = v ? json_object_get_string(v) : NULL;
    }
    if (json_object_object_get_ex(r->body, "tags", &v)) {
        any = 1;
        if (!json_object_is_type(v, json_type_array)) {
            err_add(&r->err, 422, "list_type", "body/tags",
                    "Input should be a valid list of tags (strings)");
        } else if (json_object_array_length(v) > MODEL_TAGS_MAX) {
            err_add(&r->err, 422, "too_long", "body/tags", "at most %d tags", MODEL_TAGS_MAX);
        } else {
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *t = json_object_array_get_idx(v, i);
                if (!json_object_is_type(t, json_type_string) ||
                    !models_tag_ok(json_object_get_string(t),
                                   (size_t)json_object_get_string_len(t)))
                    err_add(&r->err, 422, "string_pattern_mismatch",
                            arena_sprintf(r->arena, "body/tags/%zu", i),
                            "a tag is 1 to %d of letters, digits, '-', '_', '.', ':'",
                            MODEL_TAG_MAX);
            }
            u.tags = v;
        }
    }
    if (json_object_object_get_ex(r->body, "pinned", &v)) {
        any = 1;
        u.pinned = json_object_get_boolean(v);
    }
    if (r->err.count > 0)
        return -1;
    if (!any)
        return err_add(&r->err, 422, "missing", "body",
                       "send at least one of name, tags, pinned");
    if (!util_is_uuid(r->params[0]))
        return err_set(&r->err, 404, "not_found", "There is no model with id: %s",
                       r->params[0]);
    if (db_model_update(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0], &u,
                        &r->err) != 0)
        return -1;
    return models_show(r);
}

int models_delete(request_t *r)
{
    if (!util_is_uuid(r->params[0]))
        return err_set(&r->err, 404, "not_found", "There is no model with id: %s",
                       r->params[0]);
    if (db_model_delete(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0],
                        &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "model_id", json_object_new_string(r->params[0]));
    json_object_object_add(doc, "deleted", json_object_new_boolean(1));
    return req_reply_json(r, 200, doc);
}

/* The official scorer and its README (the preprocess.json schema). */
static int models_add_scorer(tarball_t *t, err_t *e)
{
    scorer_file_t files[SCORER_FILES_COUNT];
    size_t n = scorer_files_get(files);
    for (size_t i = 0; i < n; i++)
        if (tarball_add_bytes(t, files[i].name, files[i].data, files[i].len, e) != 0)
            return -1;
    return 0;
}

/* An ensemble's members as member-<i>.ubj beside the blend (the recipe
 * is preprocess.json's "ensemble", ml/ensemble.h): cut out of the stored
 * blend, or for the linear member made from its coefficients in the recipe,
 * so nothing more is stored per model. */
static int models_add_members(tarball_t *t, db_t *db, arena_t *arena, const model_rec_t *m,
                              err_t *e)
{
    json_object *ens = NULL, *members = NULL;
    if (!json_object_object_get_ex(m->preprocess, "ensemble", &ens) ||
        !json_object_object_get_ex(ens, "members", &members))
        return 0;
    void *blend = NULL;
    size_t len = 0;
    if (db_artifact_load(db, arena, m->artifact_id, &blend, &len, e) != 0)
        return -1;
    for (size_t i = 0; i < json_object_array_length(members); i++) {
        void *mb = NULL;
        size_t ml = 0;
        if (ml_model_member_file(blend, len, m->preprocess, i, &mb, &ml, e) < 0)
            return -1;
        int rc = tarball_add_bytes(t, arena_sprintf(arena, "member-%zu.ubj", i), mb, ml, e);
        free(mb);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int models_download(request_t *r)
{
    model_rec_t m;
    if (models_load(r, r->params[0], &m) != 0)
        return -1;
    db_t *db = app_of(r)->db;
    const char *pre = json_object_to_json_string_ext(m.preprocess, JSON_C_TO_STRING_PRETTY);
    const char *metrics = json_object_to_json_string_ext(m.metrics, JSON_C_TO_STRING_PRETTY);
    tarball_t *t = tarball_begin(r, arena_sprintf(r->arena, "model-%s.tar.gz", m.id), &r->err);
    if (t == NULL)
        return -1;
    err_t e;
    err_clear(&e);
    if (tarball_add_artifact(t, db, "model.ubj", m.artifact_id, &e) != 0 ||
        models_add_members(t, db, r->arena, &m, &e) != 0 ||
        tarball_add_bytes(t, "preprocess.json", pre, strlen(pre), &e) != 0 ||
        tarball_add_bytes(t, "metrics.json", metrics, strlen(metrics), &e) != 0 ||
        models_add_scorer(t, &e) != 0) {
        /* Headers are out: all that is left is to cut the stream short. */
        tarball_end(t, &e);
        return 0;
    }
    tarball_end(t, &e);
    return 0;
}

/* The rows to predict: body.data as an array of objects, a single object,
 * or (XML/form) the body's own fields as one row. Arena-owned array. */
static int models_rows(request_t *r, json_object **rows)
{
    json_object *data = NULL;
    json_object_object_get_ex(r->body, "data", &data);
    if (json_object_is_type(data, json_type_array)) {
        *rows = data;
        return 0;
    }
    json_object *one = support_own(r, json_object_new_array());
    if (json_object_is_type(data, json_type_object)) {
        json_object_array_add(one, json_object_get(data));
        *rows = one;
        return 0;
    }
    if (data == NULL && r->body_untyped) {
        /* A form or XML body without <data>: its own fields are the row. */
        json_object *row = json_object_new_object();
        json_object_object_foreach(r->body, key, val) {
            if (strcmp(key, "api_key") != 0 && strcmp(key, "id") != 0 &&
                strcmp(key, "explain") != 0 && strcmp(key, "strict") != 0)
                json_object_object_add(row, key, json_object_get(val));
        }
        json_object_array_add(one, row);
        *rows = one;
        return 0;
    }
    if (data == NULL)
        return err_add(&r->err, 422, "missing", "body/data", "Field required");
    return err_add(&r->err, 422, "list_type", "body/data",
                   "Input should be a valid list of rows ({field: value} objects)");
}

/* Each worker keeps the input checkers of the models it predicted with
 * lately, so that a prediction from a cached model needs no database round
 * trip (a single-row predict is about a millisecond: a query would double
 * it). An entry is looked up again once it is MODELS_RECHECK_SECONDS old,
 * so a model deleted through any worker stops answering in every worker
 * within that time, although the booster itself stays in the worker's
 * model cache until evicted. */
#define MODELS_CHECKERS 16
#define MODELS_RECHECK_SECONDS 1.0

typedef struct checker_entry {
    char id[UUID_STR_LEN + 1];     /* canonical (lower-case); "" = free */
    long long workspace_id;
    json_object *preprocess;       /* owned; the checker borrows it */
    predict_check_t *check;        /* owned */
    double checked_at, used_at;    /* monotonic seconds */
} checker_entry_t;

static checker_entry_t models_checkers[MODELS_CHECKERS];

static void models_checker_drop(checker_entry_t *c)
{
    predict_check_free(c->check);
    json_object_put(c->preprocess);
    memset(c, 0, sizeof(*c));
}

/* The checker for a model of the request's workspace, its warnings empty;
 * 404 in r->err when there is no such model (any more). Owned by the
 * worker's table: valid until the next call. */
static predict_check_t *models_checker(request_t *r, const char *model_id)
{
    char canon[UUID_STR_LEN + 1];
    if (model_id == NULL || !util_is_uuid(model_id)) {
        err_set(&r->err, 404, "not_found", "There is no model with id: %s",
                model_id ? model_id : "");
        return NULL;
    }
    for (size_t i = 0; i < UUID_STR_LEN && model_id[i] != '\0'; i++)
        canon[i] = (char)tolower((unsigned char)model_id[i]);
    canon[UUID_STR_LEN] = '\0';
    double now = util_now_monotonic();
    checker_entry_t *hit = NULL, *victim = &models_checkers[0];
    for (size_t i = 0; i < MODELS_CHECKERS; i++) {
        checker_entry_t *c = &models_checkers[i];
        if (c->id[0] != '\0' && c->workspace_id == r->auth.workspace_id &&
            strcmp(c->id, canon) == 0)
            hit = c;
        if (c->id[0] == '\0' || (victim->id[0] != '\0' && c->used_at < victim->used_at))
            victim = c;
    }
    if (hit != NULL && now - hit->checked_at < MODELS_RECHECK_SECONDS) {
        hit->used_at = now;
        predict_check_reset(hit->check);
        return hit->check;
    }
    model_rec_t rec;
    if (db_model_get(app_of(r)->db, r->arena, r->auth.workspace_id, canon, &rec, &r->err) != 0) {
        if (hit != NULL)
            models_checker_drop(hit);
        return NULL;
    }
    checker_entry_t *c = hit != NULL ? hit : victim;
    if (c->id[0] != '\0')
        models_checker_drop(c);
    snprintf(c->id, sizeof(c->id), "%s", canon);
    c->workspace_id = r->auth.workspace_id;
    c->preprocess = json_object_get(rec.preprocess);
    c->check = predict_check_new(c->preprocess);
    c->checked_at = c->used_at = now;
    return c->check;
}

/* Is the body a CSV streamed to the handler (ROUTE_STREAM_CSV)? */
static int models_csv_body(const request_t *r)
{
    return r->body == NULL && strcmp(r->media_type, "text/csv") == 0;
}

/* Server-Timing of a prediction: how long the body's reading took in this
 * handler (decode: the plain reader, or json-c when the body was not
 * plain; 0 when the runtime decoded it before) and how long the model
 * lookup, checks and prediction took after it (and, for a plain batch,
 * writing the answer's text, which the runtime does for a document). */
static void models_server_timing(request_t *r, double started, double decoded)
{
    req_header_add(r, "Server-Timing",
                   arena_sprintf(r->arena, "decode;dur=%.3f, predict;dur=%.3f",
                                 (decoded - started) * 1000.0,
                                 (util_now_monotonic() - decoded) * 1000.0));
}

/* The answer to a prediction, as a document. */
static int models_predict_reply(request_t *r, json_object *predictions, json_object *warnings,
                                double started, double decoded)
{
    stats_add(STATS_PREDICTIONS, json_object_array_length(predictions));
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "status", json_object_new_string("success"));
    json_object_object_add(doc, "predictions", predictions);
    json_object_object_add(doc, "warnings", warnings);
    models_server_timing(r, started, decoded);
    return req_reply_json(r, 200, doc);
}

/* strict and explain: the body's, else the query's; -1 with r->err filled
 * for a query value that is not a boolean. */
static int models_predict_flags(request_t *r, int body_strict, int body_explain, int *strict,
                                int *explain)
{
    *strict = body_strict > 0;
    *explain = body_explain > 0;
    if (body_strict < 0 && support_query_bool(r, "strict", 0, strict, &r->err) != 0)
        return -1;
    if (body_explain < 0 && support_query_bool(r, "explain", 0, explain, &r->err) != 0)
        return -1;
    return 0;
}

/* A JSON batch on the predict route (ROUTE_RAW_JSON) read straight from
 * its text (ml/rowjson.h): 1 answered, -1 refused (r->err), 0 when it is
 * not plain or the model is not found here, for the general path, which
 * decodes the body (so a bad body is still refused before an unknown
 * model) and answers as it always has; *check and *model are what was
 * looked up on the way (NULL if not), for it to use again. */
static int models_predict_plain(request_t *r, const char *model_id, double started,
                                predict_check_t **check, ml_model_t **model_out)
{
    size_t len = 0;
    const char *text = req_body_text(r, &len);
    if (text == NULL)
        return 0;
    *check = models_checker(r, model_id);
    ml_model_t *model = *check == NULL
                            ? NULL
                            : model_cache_get(app_of(r)->models, app_of(r)->db, r->arena,
                                              r->auth.workspace_id, model_id, &r->err);
    if (model == NULL) {
        *check = NULL;
        err_clear(&r->err);
        return 0;
    }
    *model_out = model;
    rowjson_rows_t rows;
    int got = ml_model_read_text(model, text, len, &rows);
    if (got <= 0)
        return got < 0 ? err_set(&r->err, 500, "internal", "out of memory") : 0;
    double decoded = util_now_monotonic();
    int strict, explain;
    if (models_predict_flags(r, rows.strict, rows.explain, &strict, &explain) != 0) {
        free(rows.F);
        return -1;
    }
    /* A plain batch holds nothing the input check would tell of. */
    if (explain) {
        json_object *predictions = NULL;
        int rc = ml_model_predict_matrix(model, rows.F, rows.n, 1, &predictions, &r->err);
        free(rows.F);
        return rc < 0 || models_predict_reply(r, predictions, json_object_new_array(), started,
                                              decoded) != 0
                   ? -1
                   : 1;
    }
    /* Without explanations the answer is written as text, straight from
     * the predicted floats: the bytes models_predict_reply's document
     * would serialise to, in a fraction of the time (a 10,000-row digits
     * answer: 110,000 numbers). */
    textbuf_t answer = {0};
    static const char head[] = "{\"status\":\"success\",\"predictions\":";
    static const char tail[] = ",\"warnings\":[]}";
    tb_addn(&answer, head, sizeof(head) - 1);
    int rc = ml_model_predict_matrix_text(model, rows.F, rows.n, &answer, &r->err);
    free(rows.F);
    if (rc == 0 && tb_addn(&answer, tail, sizeof(tail) - 1) < 0)
        rc = err_set(&r->err, 500, "internal", "out of memory");
    if (rc == 0) {
        stats_add(STATS_PREDICTIONS, rows.n);
        models_server_timing(r, started, decoded);
        rc = req_reply_json_text(r, 200, answer.p, answer.n);
    }
    free(answer.p);
    return rc < 0 ? -1 : 1;
}

static int models_predict_with(request_t *r, const char *model_id)
{
    double started = util_now_monotonic();
    predict_check_t *check = NULL;
    ml_model_t *model = NULL;
    int plain = models_predict_plain(r, model_id, started, &check, &model);
    if (plain != 0)
        return plain > 0 ? 0 : -1;
    if (req_body_decode(r, &r->err) != 0)
        return -1;
    double decoded = util_now_monotonic();
    json_object *rows = NULL;
    int csv = models_csv_body(r);
    if (!csv && models_rows(r, &rows) != 0)
        return -1;
    int strict = 0;
    json_object *st = NULL;
    if (json_object_object_get_ex(r->body, "strict", &st))
        strict = json_object_get_boolean(st);
    else if (support_query_bool(r, "strict", 0, &strict, &r->err) != 0)
        return -1;
    if (csv) {
        /* A batch: one more query is nothing beside it. */
        model_rec_t rec;
        if (db_model_get(app_of(r)->db, r->arena, r->auth.workspace_id, model_id, &rec,
                         &r->err) != 0)
            return -1;
        ml_model_t *m = model_cache_get(app_of(r)->models, app_of(r)->db, r->arena,
                                        r->auth.workspace_id, model_id, &r->err);
        if (m == NULL)
            return -1;
        return batch_predict_csv(r, &rec, m, strict);
    }
    if (check == NULL && (check = models_checker(r, model_id)) == NULL)
        return -1;
    if (model == NULL && (model = model_cache_get(app_of(r)->models, app_of(r)->db, r->arena,
                                                  r->auth.workspace_id, model_id,
                                                  &r->err)) == NULL)
        return -1;
    /* explain: true (body) or ?explain=true adds per-field contributions
     * to each prediction (shape in ml/model.h). */
    err_t pe;
    err_clear(&pe);
    int explain = 0;
    json_object *ex = NULL;
    int ok = 1;
    if (json_object_object_get_ex(r->body, "explain", &ex))
        explain = json_object_get_boolean(ex);
    else
        ok = support_query_bool(r, "explain", 0, &explain, &pe) == 0;
    /* The prediction reads each row's keys anyway and marks the rows the
     * input check could find anything in: a batch of plain rows is checked
     * without a second pass over it. A failed prediction marks nothing, so
     * the check reads every row then, and its strict refusal answers
     * first, as when it ran before the prediction. */
    size_t n = json_object_is_type(rows, json_type_array) ? json_object_array_length(rows) : 0;
    unsigned char *unusual = arena_alloc(r->arena, n + 1);
    json_object *predictions = NULL;
    ok = ok && ml_model_predict_rows(model, rows, explain, unusual, &predictions, &pe) == 0;
    if (predict_check_rows_marked(check, rows, ok ? unusual : NULL, 0, strict, &r->err) != 0) {
        json_object_put(predictions);
        return -1;
    }
    if (!ok) {
        r->err = pe;
        return -1;
    }
    return models_predict_reply(r, predictions, json_object_get(predict_check_warnings(check)),
                                started, decoded);
}

const field_spec_t models_evaluate_fields[] = {
    {.name = "dataset_id", .type = FIELD_STRING, .flags = FIELD_REQUIRED | FIELD_NONEMPTY},
};
_Static_assert(sizeof(models_evaluate_fields) / sizeof(models_evaluate_fields[0]) ==
                   MODELS_EVALUATE_FIELDS_COUNT, "count out of date");

int models_evaluate(request_t *r)
{
    model_rec_t rec;
    if (models_load(r, r->params[0], &rec) != 0)
        return -1;
    const char *dataset_id = NULL;
    if (!models_csv_body(r)) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(r->body, "dataset_id", &v) || v == NULL)
            return err_add(&r->err, 422, "missing", "body/dataset_id",
                           "Field required (or send the labelled rows as text/csv)");
        dataset_id = json_object_get_string(v);
    }
    ml_model_t *m = model_cache_get(app_of(r)->models, app_of(r)->db, r->arena,
                                    r->auth.workspace_id, rec.id, &r->err);
    if (m == NULL)
        return -1;
    return batch_evaluate(r, &rec, m, dataset_id);
}

int models_predict(request_t *r)
{
    return models_predict_with(r, r->params[0]);
}

int models_predict_legacy(request_t *r)
{
    /* Authenticated by the runtime (header, query or the body's api_key). */
    json_object *v = NULL;
    json_object_object_get_ex(r->body, "id", &v);
    return models_predict_with(r, json_object_get_string(v));
}
