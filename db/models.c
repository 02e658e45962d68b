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
    "extract(epoch FROM created_at)::float8 AS created_at, name, to_json(tags)::text AS tags, " \
    "pinned, extract(epoch FROM updated_at)::float8 AS updated_at"
/* The list leaves out the heavy documents (candidates, preprocess). */
#define MODEL_COLS_LIGHT                                                                 \
    "id, workspace_id, job_id, dataset_id, predict_field, task, metrics::text AS metrics, " \
    "NULL AS candidates, NULL AS preprocess, artifact_id, "                               \
    "extract(epoch FROM created_at)::float8 AS created_at, name, to_json(tags)::text AS tags, " \
    "pinned, extract(epoch FROM updated_at)::float8 AS updated_at"

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

/* Newest first; $4 filters on one tag (NULL: all). Tags are matched as a
 * set (the GIN-free ANY is fine at a workspace's model count). */
static const db_stmt_t stmt_list_page = {
    "model_list_page",
    "SELECT " MODEL_COLS_LIGHT ", count(*) OVER () AS total FROM models "
    "WHERE workspace_id = $1 AND ($4::text IS NULL OR $4::text = ANY (tags)) "
    "ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3",
    4};
static const db_stmt_t stmt_update = {
    "model_update",
    "UPDATE models SET name = CASE WHEN $3::boolean THEN $4::text ELSE name END, "
    "tags = CASE WHEN $5::json IS NULL THEN tags ELSE ARRAY(SELECT DISTINCT t FROM "
    "json_array_elements_text($5::json) t ORDER BY t) END, pinned = coalesce($6::boolean, pinned), updated_at = now() "
    "WHERE id = $2 AND workspace_id = $1 RETURNING id",
    6};
/* What a model came from: its job (spec, dialect, state, code bundle) and
 * its dataset (kept as a row, with its hash, after a delete): its hash,
 * size and rows as the job was submitted on it (sql/0137: an append since
 * has changed the dataset row's), else as the row has them. */
#define TRAINED_ON "(j.dataset_sha256 IS NOT NULL AND j.dataset_id = m.dataset_id)"
#define LINEAGE_SELECT                                                                     \
    "SELECT m.id AS model_id, m.predict_field, j.id AS job_id, j.dialect, j.state, "         \
    "j.spec::text AS spec, j.user_name, "                                                    \
    "extract(epoch FROM j.created_at)::float8 AS job_created_at, "                           \
    "extract(epoch FROM j.finished_at)::float8 AS job_finished_at, "                         \
    "b.id AS code_id, b.sha256 AS code_sha256, b.size AS code_size, "                        \
    "d.id AS dataset_id, d.name AS dataset_name, d.delimiter AS dataset_delimiter, "         \
    "CASE WHEN " TRAINED_ON " THEN j.dataset_sha256 ELSE d.sha256 END AS dataset_sha256, "   \
    "CASE WHEN " TRAINED_ON " THEN coalesce(j.dataset_rows, d.rows) ELSE d.rows END "        \
    "AS dataset_rows, "                                                                       \
    "CASE WHEN " TRAINED_ON " THEN j.dataset_size ELSE d.size END AS dataset_size, "         \
    "d.deleted_at IS NOT NULL AS dataset_deleted "                                           \
    "FROM models m JOIN jobs j ON j.id = m.job_id "                                          \
    "LEFT JOIN artifacts b ON b.id = j.bundle_id "                                           \
    "LEFT JOIN datasets d ON d.id = m.dataset_id AND d.workspace_id = m.workspace_id "
static const db_stmt_t stmt_lineage = {
    "model_lineage", LINEAGE_SELECT "WHERE m.id = $2 AND m.workspace_id = $1", 2};
/* Listings: one query for a page of models, or for the models of a page
 * of Strapi trainings (their jobs). */
static const db_stmt_t stmt_lineage_many = {
    "model_lineage_many",
    LINEAGE_SELECT "WHERE m.workspace_id = $1 AND m.id = ANY ($2::uuid[]) "
    "ORDER BY m.job_id, m.seq",
    2};
static const db_stmt_t stmt_lineage_jobs = {
    "model_lineage_jobs",
    LINEAGE_SELECT "WHERE m.workspace_id = $1 AND m.job_id = ANY ($2::uuid[]) "
    "ORDER BY m.job_id, m.seq",
    2};

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
    m->name = db_get(res, row, "name");
    m->tags = json_col(arena, res, row, "tags");
    const char *pinned = db_get(res, row, "pinned");
    m->pinned = pinned != NULL && pinned[0] == 't';
    m->updated_at = db_get_double(res, row, "updated_at", 0);
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

int db_model_list_page(db_t *db, arena_t *arena, long long workspace_id, int limit, int offset,
                       const char *tag, model_rec_t **out, size_t *n, long long *total, err_t *e)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    const char *p[4] = {arena_sprintf(arena, "%lld", workspace_id),
                        arena_sprintf(arena, "%d", limit), arena_sprintf(arena, "%d", offset),
                        tag};
    PGresult *res;
    if (db_query(db, arena, &stmt_list_page, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    *out = arena_calloc(arena, (size_t)rows + 1, sizeof(model_rec_t));
    for (int i = 0; i < rows; i++)
        model_from_row(arena, res, i, &(*out)[i]);
    *n = (size_t)rows;
    *total = rows > 0 ? db_get_ll(res, 0, "total", 0) : 0;
    return 0;
}

int db_model_update(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                    const model_update_t *u, err_t *e)
{
    if (!util_is_uuid(id))
        return err_set(e, 404, "not_found", "There is no model with id: %s", id ? id : "");
    const char *p[6] = {arena_sprintf(arena, "%lld", workspace_id),
                        id,
                        u->set_name ? "true" : "false",
                        u->name,
                        u->tags ? json_text(u->tags) : NULL,
                        u->pinned < 0 ? NULL : u->pinned ? "true" : "false"};
    PGresult *res;
    if (db_query(db, arena, &stmt_update, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "There is no model with id: %s", id);
    return 0;
}

static void lineage_row(arena_t *arena, const PGresult *res, int row, model_lineage_t *out)
{
    memset(out, 0, sizeof(*out));
    out->model_id = db_get(res, row, "model_id");
    out->predict_field = db_get(res, row, "predict_field");
    out->job_id = db_get(res, row, "job_id");
    out->dialect = db_get(res, row, "dialect");
    out->state = db_get(res, row, "state");
    out->spec = json_col(arena, res, row, "spec");
    out->user = db_get(res, row, "user_name");
    out->job_created_at = db_get_double(res, row, "job_created_at", 0);
    out->job_finished_at = db_get_double(res, row, "job_finished_at", 0);
    out->code_id = db_get(res, row, "code_id");
    out->code_sha256 = db_get(res, row, "code_sha256");
    out->code_size = db_get_ll(res, row, "code_size", 0);
    out->dataset_id = db_get(res, row, "dataset_id");
    out->dataset_name = db_get(res, row, "dataset_name");
    out->dataset_sha256 = db_get(res, row, "dataset_sha256");
    out->dataset_rows = db_get_ll(res, row, "dataset_rows", 0);
    out->dataset_size = db_get_ll(res, row, "dataset_size", 0);
    out->dataset_delimiter = db_get(res, row, "dataset_delimiter");
    const char *del = db_get(res, row, "dataset_deleted");
    out->dataset_deleted = del != NULL && del[0] == 't';
}

int db_model_lineage(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                     model_lineage_t *out, err_t *e)
{
    memset(out, 0, sizeof(*out));
    if (!util_is_uuid(id))
        return err_set(e, 404, "not_found", "There is no model with id: %s", id ? id : "");
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_lineage, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "There is no model with id: %s", id);
    lineage_row(arena, res, 0, out);
    return 0;
}

int db_model_lineage_many(db_t *db, arena_t *arena, long long workspace_id, int by_job,
                          const char *const *ids, size_t n_ids, model_lineage_t **out,
                          size_t *n, err_t *e)
{
    *out = NULL;
    *n = 0;
    /* A PostgreSQL array literal of UUIDs: nothing in it needs quoting,
     * since only strings util_is_uuid accepts enter it. */
    char *list = arena_alloc(arena, n_ids * (UUID_STR_LEN + 1) + 3);
    size_t len = 0;
    list[len++] = '{';
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] == NULL || !util_is_uuid(ids[i]))
            continue;
        if (len > 1)
            list[len++] = ',';
        memcpy(list + len, ids[i], UUID_STR_LEN);
        len += UUID_STR_LEN;
    }
    list[len++] = '}';
    list[len] = '\0';
    if (len == 2)
        return 0;
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), list};
    PGresult *res;
    if (db_query(db, arena, by_job ? &stmt_lineage_jobs : &stmt_lineage_many, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    *out = arena_calloc(arena, (size_t)rows + 1, sizeof(model_lineage_t));
    for (int i = 0; i < rows; i++)
        lineage_row(arena, res, i, &(*out)[i]);
    *n = (size_t)rows;
    return 0;
}
