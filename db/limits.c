/*
 * limits.c — per-workspace limits (see limits.h).
 *
 * Usage counters (bytes, datasets) are kept by triggers in workspace_usage
 * (sql/0004): reading them is one primary-key lookup, never a sum over the
 * workspace's artifacts. The exact check after an upload relies on the row
 * lock those triggers already took in the caller's transaction; the FOR
 * UPDATE below states it rather than depending on it.
 */
#include "db/limits.h"

#include <stdio.h>
#include <string.h>

static const db_stmt_t stmt_get = {
    "limits_get",
    "SELECT w.max_queued, w.max_running, w.max_bytes, w.max_datasets, u.bytes, u.datasets,"
    " (SELECT count(*) FROM jobs j WHERE j.workspace_id = w.id AND j.state = 'queued') AS queued,"
    " (SELECT count(*) FROM jobs j WHERE j.workspace_id = w.id"
    "   AND j.state IN ('building', 'running')) AS running"
    " FROM workspaces w JOIN workspace_usage u ON u.workspace_id = w.id WHERE w.name = $1",
    1};
static const db_stmt_t stmt_set = {
    "limits_set",
    "UPDATE workspaces SET max_queued = coalesce($2::int, max_queued),"
    " max_running = coalesce($3::int, max_running),"
    " max_bytes = coalesce($4::bigint, max_bytes),"
    " max_datasets = coalesce($5::int, max_datasets)"
    " WHERE name = $1 RETURNING id",
    5};
static const db_stmt_t stmt_precheck = {
    "limits_precheck",
    "SELECT w.max_bytes, w.max_datasets, u.bytes, u.datasets"
    " FROM workspaces w JOIN workspace_usage u ON u.workspace_id = w.id WHERE w.id = $1",
    1};
static const db_stmt_t stmt_check = {
    "limits_check",
    "SELECT w.max_bytes, w.max_datasets, u.bytes, u.datasets"
    " FROM workspace_usage u JOIN workspaces w ON w.id = u.workspace_id"
    " WHERE u.workspace_id = $1 FOR UPDATE OF u",
    1};

static const char *limits_fmt(arena_t *arena, long long v)
{
    return v > 0 ? arena_sprintf(arena, "%lld", v) : NULL;
}

int db_limits_get(db_t *db, arena_t *arena, const char *workspace, ws_limits_t *limits,
                  ws_usage_t *usage, err_t *e)
{
    const char *p[1] = {workspace};
    PGresult *res;
    if (db_query(db, arena, &stmt_get, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no workspace named \"%s\"", workspace);
    limits->max_queued = db_get_ll(res, 0, "max_queued", 0);
    limits->max_running = db_get_ll(res, 0, "max_running", 0);
    limits->max_bytes = db_get_ll(res, 0, "max_bytes", 0);
    limits->max_datasets = db_get_ll(res, 0, "max_datasets", 0);
    if (usage != NULL) {
        usage->queued = db_get_ll(res, 0, "queued", 0);
        usage->running = db_get_ll(res, 0, "running", 0);
        usage->bytes = db_get_ll(res, 0, "bytes", 0);
        usage->datasets = db_get_ll(res, 0, "datasets", 0);
    }
    return 0;
}

int db_limits_set(db_t *db, arena_t *arena, const char *workspace, const ws_limits_t *set,
                  err_t *e)
{
    static const long long int_max = 2147483647LL;
    if (set->max_queued > int_max || set->max_running > int_max || set->max_datasets > int_max)
        return err_set(e, 400, "value_error", "queued, running and datasets limits are at most %lld",
                       int_max);
    const char *p[5] = {workspace, limits_fmt(arena, set->max_queued),
                        limits_fmt(arena, set->max_running), limits_fmt(arena, set->max_bytes),
                        limits_fmt(arena, set->max_datasets)};
    PGresult *res;
    if (db_query(db, arena, &stmt_set, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no workspace named \"%s\"", workspace);
    return 0;
}

/* Compares usage (+ what is being added) with the limits in res. */
static int limits_compare(const PGresult *res, long long adding_bytes, int adding_dataset,
                          err_t *e)
{
    long long max_bytes = db_get_ll(res, 0, "max_bytes", 0);
    long long max_datasets = db_get_ll(res, 0, "max_datasets", 0);
    long long bytes = db_get_ll(res, 0, "bytes", 0);
    long long datasets = db_get_ll(res, 0, "datasets", 0);
    if (adding_bytes < 0)
        adding_bytes = 0;
    if (bytes + adding_bytes > max_bytes)
        return err_set(e, 413, "limit_exceeded",
                       "limit reached: at most %lld bytes stored per workspace (max_bytes = %lld);"
                       " with this upload it would hold %lld",
                       max_bytes, max_bytes, bytes + adding_bytes);
    if (datasets + adding_dataset > max_datasets)
        return err_set(e, 429, "limit_exceeded",
                       "limit reached: at most %lld datasets per workspace (max_datasets = %lld)",
                       max_datasets, max_datasets);
    return 0;
}

int db_limits_precheck(db_t *db, arena_t *arena, long long workspace_id, long long adding_bytes,
                       int adding_dataset, err_t *e)
{
    const char *p[1] = {arena_sprintf(arena, "%lld", workspace_id)};
    PGresult *res;
    if (db_query(db, arena, &stmt_precheck, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return 0; /* the workspace went away: the upload's own writes will say so */
    return limits_compare(res, adding_bytes, adding_dataset, e);
}

int db_limits_check_upload(db_t *db, arena_t *arena, long long workspace_id, err_t *e)
{
    const char *p[1] = {arena_sprintf(arena, "%lld", workspace_id)};
    PGresult *res;
    if (db_query(db, arena, &stmt_check, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return 0;
    return limits_compare(res, 0, 0, e);
}
