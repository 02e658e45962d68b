/*
 * datasets_append.c — statements for growing and retyping a dataset (see
 * datasets_append.h). Kept apart from datasets.c so that the legacy
 * dialect's needs stay in one place; the row format is datasets.c's.
 */
#include "db/datasets_append.h"

#include <stdio.h>
#include <string.h>

static const db_stmt_t stmt_lock = {
    "dataset_append_lock",
    "SELECT id, workspace_id, name, rows, fields::text AS fields, artifact_id, size, sha256, "
    "delimiter, "
    "extract(epoch FROM created_at)::float8 AS created_at, "
    "EXISTS (SELECT 1 FROM jobs WHERE dataset_id = d.id AND state IN "
    "('queued', 'building', 'running')) AS busy FROM datasets d "
    "WHERE id = $2 AND workspace_id = $1 AND deleted_at IS NULL FOR UPDATE",
    2};
static const db_stmt_t stmt_replace = {
    "dataset_append_replace",
    "UPDATE datasets SET artifact_id = $2, rows = $3, fields = $4::jsonb, size = $5, "
    "sha256 = $6 WHERE id = $1",
    6};
static const db_stmt_t stmt_fields = {
    "dataset_append_fields", "UPDATE datasets SET fields = $2::jsonb WHERE id = $1", 2};
static const db_stmt_t stmt_job_pin = {
    "dataset_append_job_pin", "SELECT dataset_artifact_id FROM jobs WHERE id = $1", 1};
/* Never bytes an unfinished job was submitted on (sql/0033): a statement
 * of its own, so its snapshot sees every job committed before the lock. */
static const db_stmt_t stmt_drop = {
    "dataset_append_drop",
    "DELETE FROM artifacts a WHERE a.id = $1 AND NOT EXISTS (SELECT 1 FROM jobs j "
    "WHERE j.dataset_artifact_id = a.id AND j.state IN ('queued', 'building', 'running'))",
    1};

static void json_put(void *p)
{
    json_object_put(p);
}

int db_dataset_lock(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                    dataset_rec_t *out, int *busy, err_t *e)
{
    memset(out, 0, sizeof(*out));
    *busy = 0;
    if (!util_is_uuid(id))
        return err_set(e, 404, "not_found", "There is no dataset with id: %s", id ? id : "");
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_lock, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "There is no dataset with id: %s", id);
    snprintf(out->id, sizeof(out->id), "%s", db_get(res, 0, "id"));
    out->workspace_id = db_get_ll(res, 0, "workspace_id", 0);
    out->name = db_get(res, 0, "name");
    out->rows = db_get_ll(res, 0, "rows", 0);
    const char *f = db_get(res, 0, "fields");
    out->fields = f ? json_tokener_parse(f) : json_object_new_array();
    arena_defer(arena, json_put, out->fields);
    const char *a = db_get(res, 0, "artifact_id");
    snprintf(out->artifact_id, sizeof(out->artifact_id), "%s", a ? a : "");
    out->size = (unsigned long long)db_get_ll(res, 0, "size", 0);
    const char *h = db_get(res, 0, "sha256");
    snprintf(out->sha256, sizeof(out->sha256), "%s", h ? h : "");
    out->created_at = db_get_double(res, 0, "created_at", 0);
    out->delimiter = db_get(res, 0, "delimiter");
    const char *b = db_get(res, 0, "busy");
    *busy = b != NULL && strcmp(b, "t") == 0;
    return 0;
}

int db_dataset_replace_data(db_t *db, arena_t *arena, const dataset_rec_t *rec, err_t *e)
{
    const char *p[6] = {rec->id,
                        rec->artifact_id,
                        arena_sprintf(arena, "%lld", rec->rows),
                        json_object_to_json_string_ext(rec->fields, JSON_C_TO_STRING_PLAIN),
                        arena_sprintf(arena, "%llu", rec->size),
                        rec->sha256};
    return db_query(db, arena, &stmt_replace, p, NULL, e);
}

int db_dataset_set_fields(db_t *db, arena_t *arena, const char *id, json_object *fields,
                          err_t *e)
{
    const char *p[2] = {id, json_object_to_json_string_ext(fields, JSON_C_TO_STRING_PLAIN)};
    return db_query(db, arena, &stmt_fields, p, NULL, e);
}

json_object *db_dataset_declared_types(json_object *fields)
{
    json_object *out = NULL;
    size_t n = json_object_is_type(fields, json_type_array) ? json_object_array_length(fields)
                                                             : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(fields, i), *name, *type, *declared;
        if (!json_object_object_get_ex(f, "declared", &declared) ||
            !json_object_get_boolean(declared) || !json_object_object_get_ex(f, "name", &name) ||
            !json_object_object_get_ex(f, "type", &type) ||
            !json_object_is_type(type, json_type_string))
            continue;
        if (out == NULL)
            out = json_object_new_object();
        json_object_object_add(out, json_object_get_string(name), json_object_get(type));
    }
    return out;
}

int db_job_dataset_artifact(db_t *db, arena_t *arena, const char *job_id, char *out, err_t *e)
{
    out[0] = '\0';
    if (!util_is_uuid(job_id))
        return 0;
    const char *p[1] = {job_id};
    PGresult *res;
    if (db_query(db, arena, &stmt_job_pin, p, &res, e) != 0)
        return -1;
    const char *a = PQntuples(res) > 0 ? db_get(res, 0, "dataset_artifact_id") : NULL;
    if (a != NULL && util_is_uuid(a))
        snprintf(out, UUID_STR_LEN + 1, "%s", a);
    return 0;
}

int db_artifact_drop(db_t *db, arena_t *arena, const char *artifact_id, err_t *e)
{
    if (artifact_id == NULL || !util_is_uuid(artifact_id))
        return 0;
    const char *p[1] = {artifact_id};
    return db_query(db, arena, &stmt_drop, p, NULL, e);
}
