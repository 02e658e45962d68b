/*
 * models.c — trained models: show, download, predict.
 *
 *   GET  /api/v1/models/{id}            task, fields, metrics, candidates
 *   GET  /api/v1/models/{id}/download   tar.gz: model.ubj (XGBoost), preprocess.json,
 *                                       metrics.json (+ member-<i>.ubj of an ensemble)
 *   POST /api/v1/models/{id}/predict    {"data":[{field: value}, ...]} -> Akkio's
 *                                       {"status":"success","predictions":[...]}
 *   POST /v1/models                     Akkio's legacy form: {"id","data"} with the key
 *                                       as api_key in the body or query (routed through
 *                                       handlers/akkio_v1.c, which also trains there)
 *
 * Both predict routes take `explain: true` (or ?explain=true): each
 * prediction then carries "explanation", its per-field contributions
 * (ml/model.h documents the shape).
 *
 * Predictions run in the API worker on a model from the worker's cache
 * (handlers/model_cache.h). XML and form bodies carry a single row: either
 * under <data> or as the body's own fields.
 */
#include "handlers/handlers.h"

#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "db/artifacts.h"
#include "db/models.h"
#include "handlers/app.h"
#include "handlers/support.h"
#include "handlers/tarball.h"
#include "common/util.h"
#include "ml/ensemble.h"

const field_spec_t models_predict_fields[] = {
    {.name = "data", .type = FIELD_ANY},
    {.name = "explain", .type = FIELD_BOOL},
};
_Static_assert(sizeof(models_predict_fields) / sizeof(models_predict_fields[0]) ==
                   MODELS_PREDICT_FIELDS_COUNT, "count out of date");

const field_spec_t models_legacy_fields[] = {
    {.name = "id", .type = FIELD_STRING, .flags = FIELD_REQUIRED | FIELD_NONEMPTY},
    {.name = "data", .type = FIELD_ANY},
    {.name = "api_key", .type = FIELD_STRING},
    {.name = "explain", .type = FIELD_BOOL},
};
_Static_assert(sizeof(models_legacy_fields) / sizeof(models_legacy_fields[0]) ==
                   MODELS_LEGACY_FIELDS_COUNT, "count out of date");

static int models_load(request_t *r, const char *id, model_rec_t *m)
{
    if (!util_is_uuid(id))
        return err_set(&r->err, 404, "not_found", "There is no model with id: %s", id);
    return db_model_get(app_of(r)->db, r->arena, r->auth.workspace_id, id, m, &r->err);
}

int models_show(request_t *r)
{
    model_rec_t m;
    if (models_load(r, r->params[0], &m) != 0)
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
    json_object_object_add(doc, "download",
                           json_object_new_string(arena_sprintf(
                               r->arena, "/api/v1/models/%s/download", m.id)));
    return req_reply_json(r, 200, doc);
}

/* An ensemble's members as member-<i>.ubj beside the blend (the recipe
 * is preprocess.json's "ensemble", ml/ensemble.h): cut out of the stored
 * blend, so nothing more is stored per model. */
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
        if (ensemble_member(blend, len, members, i, &mb, &ml, e) < 0)
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
        tarball_add_bytes(t, "metrics.json", metrics, strlen(metrics), &e) != 0) {
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
                strcmp(key, "explain") != 0)
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

static int models_predict_with(request_t *r, const char *model_id)
{
    double started = util_now_monotonic();
    json_object *rows = NULL;
    if (models_rows(r, &rows) != 0)
        return -1;
    ml_model_t *model = model_cache_get(app_of(r)->models, app_of(r)->db, r->arena,
                                        r->auth.workspace_id, model_id, &r->err);
    if (model == NULL)
        return -1;
    /* explain: true (body) or ?explain=true adds per-field contributions
     * to each prediction (shape in ml/model.h). */
    int explain = 0;
    json_object *ex = NULL;
    if (json_object_object_get_ex(r->body, "explain", &ex))
        explain = json_object_get_boolean(ex);
    else if (support_query_bool(r, "explain", 0, &explain, &r->err) != 0)
        return -1;
    json_object *predictions;
    if (ml_model_predict_explain(model, rows, explain, &predictions, &r->err) != 0)
        return -1;
    stats_add(STATS_PREDICTIONS, json_object_array_length(predictions));
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "status", json_object_new_string("success"));
    json_object_object_add(doc, "predictions", predictions);
    /* How long the model lookup and prediction took, for clients and the
     * benchmark (the body's decoding happened before and is not included). */
    req_header_add(r, "Server-Timing",
                   arena_sprintf(r->arena, "predict;dur=%.3f",
                                 (util_now_monotonic() - started) * 1000.0));
    return req_reply_json(r, 200, doc);
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
