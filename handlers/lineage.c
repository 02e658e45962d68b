/*
 * lineage.c — a model's lineage document (see lineage.h), built from one
 * query (db_model_lineage) so that adding it to a listing of a job's models
 * costs one indexed lookup per model.
 */
#include "handlers/lineage.h"

#include "db/models.h"
#include "handlers/app.h"
#include "handlers/support.h"

int lineage_of_model(request_t *r, const char *model_id, json_object **out)
{
    *out = NULL;
    model_lineage_t l;
    if (db_model_lineage(app_of(r)->db, r->arena, r->auth.workspace_id, model_id, &l,
                         &r->err) != 0)
        return -1;
    json_object *doc = json_object_new_object();
    json_object *job = json_object_new_object();
    support_json_str(job, "job_id", l.job_id);
    support_json_str(job, "dialect", l.dialect);
    support_json_str(job, "state", l.state);
    support_json_str(job, "user", l.user);
    support_json_time(job, "created_at", l.job_created_at);
    if (l.job_finished_at > 0)
        support_json_time(job, "finished_at", l.job_finished_at);
    json_object_object_add(doc, "job", job);
    json_object_object_add(doc, "spec", json_object_get(l.spec));
    json_object *data = NULL;
    if (l.dataset_id != NULL) {
        data = json_object_new_object();
        support_json_str(data, "dataset_id", l.dataset_id);
        support_json_str(data, "name", l.dataset_name);
        support_json_str(data, "sha256", l.dataset_sha256);
        json_object_object_add(data, "rows", json_object_new_int64(l.dataset_rows));
        json_object_object_add(data, "size", json_object_new_int64(l.dataset_size));
        support_json_str(data, "delimiter", l.dataset_delimiter);
        json_object_object_add(data, "deleted", json_object_new_boolean(l.dataset_deleted));
    }
    json_object_object_add(doc, "dataset", data);
    json_object *code = NULL;
    if (l.code_id != NULL) {
        code = json_object_new_object();
        support_json_str(code, "bundle_id", l.code_id);
        support_json_str(code, "sha256", l.code_sha256);
        json_object_object_add(code, "size", json_object_new_int64(l.code_size));
    }
    json_object_object_add(doc, "code", code);
    *out = doc;
    return 0;
}
