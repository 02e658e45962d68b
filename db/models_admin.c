/*
 * models_admin.c — list and delete models (see models_admin.h).
 *
 * The list joins the dataset for a readable name; it reads the
 * models_workspace index (sql/0030_akkio_v1.sql). A delete removes the
 * model row first (it references the artifact), then the artifact.
 *
 * A delete is refused (409) while the model is pinned, or while an
 * unfinished job depends on it: the job that produced it (a grid job may
 * store its first models before it ends) or any job whose spec names the
 * model's id anywhere (a warm start, an ensemble, an evaluation). The check
 * runs after the row is locked by the DELETE, in the same transaction.
 */
#include "db/models_admin.h"

#include <stdio.h>
#include <string.h>

static const db_stmt_t stmt_list = {
    "model_admin_list",
    "SELECT m.id, m.job_id, m.dataset_id, d.name AS dataset_name, m.predict_field, m.task, "
    "extract(epoch FROM m.created_at)::float8 AS created_at FROM models m "
    "LEFT JOIN datasets d ON d.id = m.dataset_id::uuid "
    "WHERE m.workspace_id = $1 ORDER BY m.created_at DESC, m.seq DESC LIMIT $2",
    2};
static const db_stmt_t stmt_delete = {
    "model_admin_delete",
    "DELETE FROM models WHERE id = $2 AND workspace_id = $1 RETURNING artifact_id, job_id", 2};
static const db_stmt_t stmt_pinned = {
    "model_admin_pinned",
    "SELECT pinned FROM models WHERE id = $2 AND workspace_id = $1 FOR UPDATE", 2};
static const db_stmt_t stmt_dependent = {
    "model_admin_dependent",
    "SELECT j.id, j.state FROM jobs j WHERE j.workspace_id = $1 "
    "AND j.state IN ('queued', 'building', 'running') "
    "AND (j.id = $3::uuid OR jsonb_path_exists(j.spec, 'strict $.** ? (@ == $m)', "
    "jsonb_build_object('m', $2::text))) ORDER BY j.created_at LIMIT 1",
    3};
static const db_stmt_t stmt_artifact = {
    "model_admin_artifact_delete", "DELETE FROM artifacts WHERE id = $1", 1};
static const db_stmt_t stmt_undedupe = {
    "model_admin_undedupe", "UPDATE jobs SET dedupe_key = NULL WHERE id = $1", 1};

int db_model_list_workspace(db_t *db, arena_t *arena, long long workspace_id, int limit,
                            model_item_t **out, size_t *n, err_t *e)
{
    *out = NULL;
    *n = 0;
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id),
                        arena_sprintf(arena, "%d", limit)};
    PGresult *res;
    if (db_query(db, arena, &stmt_list, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    *out = arena_calloc(arena, (size_t)rows + 1, sizeof(model_item_t));
    for (int i = 0; i < rows; i++) {
        model_item_t *m = &(*out)[i];
        snprintf(m->id, sizeof(m->id), "%s", db_get(res, i, "id"));
        m->job_id = db_get(res, i, "job_id");
        m->dataset_id = db_get(res, i, "dataset_id");
        m->dataset_name = db_get(res, i, "dataset_name");
        m->predict_field = db_get(res, i, "predict_field");
        m->task = db_get(res, i, "task");
        m->created_at = db_get_double(res, i, "created_at", 0);
    }
    *n = (size_t)rows;
    return 0;
}

int db_model_delete(db_t *db, arena_t *arena, long long workspace_id, const char *id, err_t *e)
{
    if (!util_is_uuid(id))
        return err_set(e, 404, "not_found", "There is no model with id: %s", id ? id : "");
    if (db_begin(db, e) != 0)
        return -1;
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_pinned, p, &res, e) != 0)
        goto fail;
    if (PQntuples(res) == 1 && db_get(res, 0, "pinned")[0] == 't') {
        err_set(e, 409, "model_pinned",
                "model %s is pinned: unpin it first (PATCH {\"pinned\": false})", id);
        goto fail;
    }
    if (db_query(db, arena, &stmt_delete, p, &res, e) != 0)
        goto fail;
    if (PQntuples(res) == 0) {
        err_set(e, 404, "not_found", "There is no model with id: %s", id);
        goto fail;
    }
    const char *pa[1] = {db_get(res, 0, "artifact_id")};
    const char *pj[1] = {db_get(res, 0, "job_id")};
    const char *pd[3] = {p[0], id, pj[0]};
    PGresult *dep;
    if (db_query(db, arena, &stmt_dependent, pd, &dep, e) != 0)
        goto fail;
    if (PQntuples(dep) > 0) {
        err_set(e, 409, "model_in_use",
                "model %s is in use by job %s (%s): delete it once the job has finished or "
                "after killing it", id, db_get(dep, 0, "id"), db_get(dep, 0, "state"));
        goto fail;
    }
    if (db_query(db, arena, &stmt_artifact, pa, NULL, e) != 0 ||
        db_query(db, arena, &stmt_undedupe, pj, NULL, e) != 0)
        goto fail;
    return db_commit(db, e);
fail:
    db_rollback(db);
    return -1;
}
