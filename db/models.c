/*
 * models.c — trained models (see models.h). One row per predict field of a
 * succeeded job; seq keeps the predict-field order of one job's models.
 */
#include "db/models.h"

#include <stdio.h>
#include <string.h>

#define MODEL_COLS                                                                       \
    "id, workspace_id, job_id, dataset_id, predict_field, task, metrics::text AS metrics, " \
    "candidates::text AS candidates, preprocess::text AS preprocess, artifact_id, "       \
    "extract(epoch FROM created_at)::float8 AS created_at"

static const db_stmt_t stmt_insert = {
    "model_insert",
    "INSERT INTO models (id, workspace_id, job_id, dataset_id, predict_field, task, metrics, "
    "candidates, preprocess, artifact_id) VALUES (coalesce($1::uuid, gen_random_uuid()), $2, "
    "$3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10) "
    "RETURNING id, extract(epoch FROM created_at)::float8 AS created_at",
    10};
static const db_stmt_t stmt_get = {
    "model_get", "SELECT " MODEL_COLS " FROM models WHERE id = $2 AND workspace_id = $1", 2};
static const db_stmt_t stmt_list_job = {
    "model_list_job",
    "SELECT " MODEL_COLS " FROM models WHERE job_id = $2 AND workspace_id = $1 ORDER BY seq", 2};

static void json_put(void *p)
{
    json_object_put(p);
}

static json_object *json_col(arena_t *arena, const PGresult *res, int row, const char *col)
{
    const char *v = db_get(res, row, col);
    json_object *j = v ? json_tokener_parse(v) : NULL;
    arena_defer(arena, json_put, j);
    return j;
}

static const char *json_text(json_object *j)
{
    return j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN) : NULL;
}

static void model_from_row(arena_t *arena, const PGresult *res, int row, model_rec_t *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", db_get(res, row, "id"));
    m->workspace_id = db_get_ll(res, row, "workspace_id", 0);
    snprintf(m->job_id, sizeof(m->job_id), "%s", db_get(res, row, "job_id"));
    m->dataset_id = db_get(res, row, "dataset_id");
    m->predict_field = db_get(res, row, "predict_field");
    m->task = db_get(res, row, "task");
    m->metrics = json_col(arena, res, row, "metrics");
    m->candidates = json_col(arena, res, row, "candidates");
    m->preprocess = json_col(arena, res, row, "preprocess");
    snprintf(m->artifact_id, sizeof(m->artifact_id), "%s", db_get(res, row, "artifact_id"));
    m->created_at = db_get_double(res, row, "created_at", 0);
}

int db_model_insert(db_t *db, arena_t *arena, model_rec_t *rec, err_t *e)
{
    const char *p[10] = {rec->id[0] ? rec->id : NULL,
                         arena_sprintf(arena, "%lld", rec->workspace_id),
                         rec->job_id,
                         rec->dataset_id,
                         rec->predict_field,
                         rec->task,
                         json_text(rec->metrics),
                         json_text(rec->candidates),
                         json_text(rec->preprocess),
                         rec->artifact_id};
    PGresult *res;
    if (db_query(db, arena, &stmt_insert, p, &res, e) != 0)
        return -1;
    snprintf(rec->id, sizeof(rec->id), "%s", db_get(res, 0, "id"));
    rec->created_at = db_get_double(res, 0, "created_at", 0);
    return 0;
}

int db_model_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                 model_rec_t *out, err_t *e)
{
    if (!util_is_uuid(id))
        return err_set(e, 404, "not_found", "There is no model with id: %s", id ? id : "");
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_get, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "There is no model with id: %s", id);
    model_from_row(arena, res, 0, out);
    return 0;
}

int db_model_list_for_job(db_t *db, arena_t *arena, long long workspace_id, const char *job_id,
                          model_rec_t **out, size_t *n, err_t *e)
{
    *n = 0;
    *out = NULL;
    if (!util_is_uuid(job_id))
        return 0;
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), job_id};
    PGresult *res;
    if (db_query(db, arena, &stmt_list_job, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    *out = arena_calloc(arena, (size_t)rows + 1, sizeof(model_rec_t));
    for (int i = 0; i < rows; i++)
        model_from_row(arena, res, i, &(*out)[i]);
    *n = (size_t)rows;
    return 0;
}
