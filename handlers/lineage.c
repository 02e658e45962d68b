/*
 * lineage.c — a model's lineage document (see lineage.h), built from one
 * query (db_model_lineage) for a single model, and from one query for a
 * whole listing (db_model_lineage_many), so that a page of 1000 models
 * costs one round trip, not a thousand.
 */
#include "handlers/lineage.h"

#include <string.h>
#include <strings.h>

#include "db/models.h"
#include "handlers/app.h"
#include "handlers/support.h"

static json_object *lineage_doc(const model_lineage_t *l)
{
    json_object *doc = json_object_new_object();
    json_object *job = json_object_new_object();
    support_json_str(job, "job_id", l->job_id);
    support_json_str(job, "dialect", l->dialect);
    support_json_str(job, "state", l->state);
    support_json_str(job, "user", l->user);
    support_json_time(job, "created_at", l->job_created_at);
    if (l->job_finished_at > 0)
        support_json_time(job, "finished_at", l->job_finished_at);
    json_object_object_add(doc, "job", job);
    json_object_object_add(doc, "spec", json_object_get(l->spec));
    json_object *data = NULL;
    if (l->dataset_id != NULL) {
        data = json_object_new_object();
        support_json_str(data, "dataset_id", l->dataset_id);
        support_json_str(data, "name", l->dataset_name);
        support_json_str(data, "sha256", l->dataset_sha256);
        json_object_object_add(data, "rows", json_object_new_int64(l->dataset_rows));
        json_object_object_add(data, "size", json_object_new_int64(l->dataset_size));
        support_json_str(data, "delimiter", l->dataset_delimiter);
        json_object_object_add(data, "deleted", json_object_new_boolean(l->dataset_deleted));
    }
    json_object_object_add(doc, "dataset", data);
    json_object *code = NULL;
    if (l->code_id != NULL) {
        code = json_object_new_object();
        support_json_str(code, "bundle_id", l->code_id);
        support_json_str(code, "sha256", l->code_sha256);
        json_object_object_add(code, "size", json_object_new_int64(l->code_size));
    }
    json_object_object_add(doc, "code", code);
    return doc;
}

int lineage_of_model(request_t *r, const char *model_id, json_object **out)
{
    *out = NULL;
    model_lineage_t l;
    if (db_model_lineage(app_of(r)->db, r->arena, r->auth.workspace_id, model_id, &l,
                         &r->err) != 0)
        return -1;
    *out = lineage_doc(&l);
    return 0;
}

int lineage_of_models(request_t *r, const char *const *ids, size_t n, json_object **out)
{
    model_lineage_t *rows;
    size_t got;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (db_model_lineage_many(app_of(r)->db, r->arena, r->auth.workspace_id, 0, ids, n, &rows,
                              &got, &r->err) != 0)
        return -1;
    /* Rows come in job order: matched back to the ids by a scan (a page
     * is at most a thousand; a hash would cost more than it saves). */
    for (size_t k = 0; k < got; k++)
        for (size_t i = 0; i < n; i++)
            if (out[i] == NULL && ids[i] != NULL && strcasecmp(ids[i], rows[k].model_id) == 0) {
                out[i] = lineage_doc(&rows[k]);
                break;
            }
    return 0;
}

json_object **lineage_of_listing(request_t *r, const void *records, size_t n, size_t stride,
                                 size_t id_offset)
{
    const char **ids = arena_calloc(r->arena, n + 1, sizeof(*ids));
    json_object **out = arena_calloc(r->arena, n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        ids[i] = (const char *)records + i * stride + id_offset;
    return lineage_of_models(r, ids, n, out) != 0 ? NULL : out;
}

int lineage_of_jobs(request_t *r, const char *const *job_ids, size_t n, json_object **out)
{
    model_lineage_t *rows;
    size_t got;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (db_model_lineage_many(app_of(r)->db, r->arena, r->auth.workspace_id, 1, job_ids, n,
                              &rows, &got, &r->err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (job_ids[i] == NULL)
            continue;
        for (size_t k = 0; k < got; k++) {
            if (strcasecmp(job_ids[i], rows[k].job_id) != 0)
                continue;
            if (out[i] == NULL)
                out[i] = json_object_new_array();
            /* Which model of the job this is: a job trains one model per
             * predict field. */
            json_object *m = json_object_new_object();
            support_json_str(m, "id", rows[k].model_id);
            support_json_str(m, "predict_field", rows[k].predict_field);
            json_object_object_add(m, "lineage", lineage_doc(&rows[k]));
            json_object_array_add(out[i], m);
        }
    }
    return 0;
}
