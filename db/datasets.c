/*
 * datasets.c — dataset metadata (see datasets.h).
 *
 * A deleted dataset keeps its row for provenance (jobs and models point to
 * it) with deleted_at set; its artifact, the bytes, is removed in the same
 * transaction.
 */
#include "db/datasets.h"

#include <stdio.h>
#include <string.h>

#define DATASET_COLS                                                                     \
    "id, workspace_id, name, rows, fields::text AS fields, artifact_id, size, sha256, "   \
    "delimiter, "                                                                        \
    "extract(epoch FROM created_at)::float8 AS created_at"

static const db_stmt_t stmt_insert = {
    "dataset_insert",
    "INSERT INTO datasets (workspace_id, name, rows, fields, artifact_id, size, sha256, "
    "delimiter) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, coalesce($8, ',')) "
    "RETURNING id, extract(epoch FROM created_at)::float8 AS created_at",
    8};
static const db_stmt_t stmt_get = {
    "dataset_get",
    "SELECT " DATASET_COLS " FROM datasets WHERE id = $2 AND workspace_id = $1 "
    "AND deleted_at IS NULL",
    2};
static const db_stmt_t stmt_list = {
    "dataset_list",
    "SELECT " DATASET_COLS ", count(*) OVER () AS total FROM datasets "
    "WHERE workspace_id = $1 AND deleted_at IS NULL "
    "ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
    3};
static const db_stmt_t stmt_count = {
    "dataset_count",
    "SELECT count(*) AS total FROM datasets WHERE workspace_id = $1 AND deleted_at IS NULL", 1};
static const db_stmt_t stmt_lock = {
    "dataset_lock",
    "SELECT artifact_id, EXISTS (SELECT 1 FROM jobs WHERE dataset_id = d.id AND state IN "
    "('queued', 'building', 'running')) AS busy FROM datasets d "
    "WHERE id = $2 AND workspace_id = $1 AND deleted_at IS NULL FOR UPDATE",
    2};
static const db_stmt_t stmt_delete = {
    "dataset_delete",
    "UPDATE datasets SET deleted_at = now(), artifact_id = NULL WHERE id = $1", 1};
static const db_stmt_t stmt_artifact_delete = {
    "dataset_artifact_delete", "DELETE FROM artifacts WHERE id = $1", 1};

static void json_put(void *p)
{
    json_object_put(p);
}

static void dataset_from_row(arena_t *arena, const PGresult *res, int row, dataset_rec_t *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", db_get(res, row, "id"));
    d->workspace_id = db_get_ll(res, row, "workspace_id", 0);
    d->name = db_get(res, row, "name");
    d->rows = db_get_ll(res, row, "rows", 0);
    const char *f = db_get(res, row, "fields");
    d->fields = f ? json_tokener_parse(f) : NULL;
    arena_defer(arena, json_put, d->fields);
    const char *a = db_get(res, row, "artifact_id");
    snprintf(d->artifact_id, sizeof(d->artifact_id), "%s", a ? a : "");
    d->size = (unsigned long long)db_get_ll(res, row, "size", 0);
    const char *h = db_get(res, row, "sha256");
    snprintf(d->sha256, sizeof(d->sha256), "%s", h ? h : "");
    d->delimiter = db_get(res, row, "delimiter");
    d->created_at = db_get_double(res, row, "created_at", 0);
}

static int dataset_not_found(err_t *e, const char *id)
{
    return err_set(e, 404, "not_found", "There is no dataset with id: %s", id ? id : "");
}

int db_dataset_insert(db_t *db, arena_t *arena, dataset_rec_t *rec, err_t *e)
{
    const char *p[8] = {
        arena_sprintf(arena, "%lld", rec->workspace_id),
        rec->name ? rec->name : "",
        arena_sprintf(arena, "%lld", rec->rows),
        rec->fields ? json_object_to_json_string_ext(rec->fields, JSON_C_TO_STRING_PLAIN) : "[]",
        rec->artifact_id[0] ? rec->artifact_id : NULL,
        arena_sprintf(arena, "%llu", rec->size),
        rec->sha256[0] ? rec->sha256 : NULL,
        rec->delimiter};
    PGresult *res;
    if (db_query(db, arena, &stmt_insert, p, &res, e) != 0)
        return -1;
    snprintf(rec->id, sizeof(rec->id), "%s", db_get(res, 0, "id"));
    rec->created_at = db_get_double(res, 0, "created_at", 0);
    return 0;
}

int db_dataset_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                   dataset_rec_t *out, err_t *e)
{
    if (!util_is_uuid(id))
        return dataset_not_found(e, id);
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_get, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return dataset_not_found(e, id);
    dataset_from_row(arena, res, 0, out);
    return 0;
}

int db_dataset_list(db_t *db, arena_t *arena, long long workspace_id, int limit, int offset,
                    dataset_rec_t **out, size_t *n, long long *total, err_t *e)
{
    const char *p[3] = {arena_sprintf(arena, "%lld", workspace_id),
                        arena_sprintf(arena, "%d", limit < 0 ? 100 : limit),
                        arena_sprintf(arena, "%d", offset < 0 ? 0 : offset)};
    PGresult *res;
    if (db_query(db, arena, &stmt_list, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    *out = arena_calloc(arena, (size_t)rows + 1, sizeof(dataset_rec_t));
    for (int i = 0; i < rows; i++)
        dataset_from_row(arena, res, i, &(*out)[i]);
    *n = (size_t)rows;
    if (total != NULL) {
        if (rows > 0) {
            *total = db_get_ll(res, 0, "total", rows);
        } else {
            PGresult *c;
            if (db_query(db, arena, &stmt_count, p, &c, e) != 0)
                return -1;
            *total = db_get_ll(c, 0, "total", 0);
        }
    }
    return 0;
}

int db_dataset_delete(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                      err_t *e)
{
    if (!util_is_uuid(id))
        return dataset_not_found(e, id);
    int own_tx = !db_in_transaction(db);
    if (own_tx && db_begin(db, e) != 0)
        return -1;
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_lock, p, &res, e) != 0)
        goto fail;
    if (PQntuples(res) == 0) {
        dataset_not_found(e, id);
        goto fail;
    }
    const char *busy = db_get(res, 0, "busy");
    if (busy && strcmp(busy, "t") == 0) {
        err_set(e, 409, "conflict", "dataset %s is used by a job that has not finished", id);
        goto fail;
    }
    const char *artifact = db_get(res, 0, "artifact_id");
    const char *pd[1] = {id};
    if (db_query(db, arena, &stmt_delete, pd, NULL, e) != 0)
        goto fail;
    if (artifact != NULL) {
        const char *pa[1] = {artifact};
        if (db_query(db, arena, &stmt_artifact_delete, pa, NULL, e) != 0)
            goto fail;
    }
    if (own_tx && db_commit(db, e) != 0)
        goto fail;
    return 0;
fail:
    if (own_tx)
        db_rollback(db);
    return -1;
}
