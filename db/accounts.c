/*
 * accounts.c — accounts, their workspaces, and KAOS's bundles (see
 * accounts.h).
 *
 * Every statement about a workspace takes the account id and the name
 * together, so that a workspace of another account can never be reached,
 * named or told apart from a missing one.
 */
#include "db/accounts.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const db_stmt_t stmt_ws_find = {
    "acct_ws_find", "SELECT id FROM workspaces WHERE account_id = $1 AND name = $2", 2};
static const db_stmt_t stmt_ws_create = {
    "acct_ws_create",
    "INSERT INTO workspaces (account_id, name) VALUES ($1, $2) "
    "ON CONFLICT (account_id, name) DO NOTHING RETURNING id",
    2};
static const db_stmt_t stmt_ws_list = {
    "acct_ws_list",
    "SELECT w.name, extract(epoch FROM w.created_at)::float8 AS created_at,"
    " (a.default_workspace_id = w.id) AS is_default,"
    " (SELECT count(*) FROM jobs j WHERE j.workspace_id = w.id"
    "   AND j.state IN ('queued', 'building', 'running')) AS live "
    "FROM workspaces w JOIN accounts a ON a.id = w.account_id "
    "WHERE w.account_id = $1 ORDER BY w.id",
    1};
/* One statement: the refusal and the delete cannot be raced apart by a job
 * enqueued in between (the row lock on the workspace is taken first). */
static const db_stmt_t stmt_ws_delete = {
    "acct_ws_delete",
    "WITH w AS (SELECT w.id, (a.default_workspace_id = w.id) AS is_default FROM workspaces w"
    "           JOIN accounts a ON a.id = w.account_id"
    "           WHERE w.account_id = $1 AND w.name = $2 FOR UPDATE OF w),"
    " live AS (SELECT count(*) AS n FROM jobs j, w WHERE j.workspace_id = w.id"
    "          AND j.state IN ('queued', 'building', 'running')),"
    " d AS (DELETE FROM workspaces x USING w, live"
    "       WHERE x.id = w.id AND live.n = 0 AND NOT w.is_default RETURNING x.id) "
    "SELECT w.is_default, live.n AS live, (SELECT count(*) FROM d) AS deleted FROM w, live",
    2};
static const db_stmt_t stmt_account_find = {
    "acct_find", "SELECT id FROM accounts WHERE name = $1", 1};

#define KB_COLS                                                                              \
    "id, workspace_id, kind, coalesce(artifact_id::text, '') AS artifact_id, format, size,"   \
    " sha256, root, files::text AS files, parallelism, user_name,"                            \
    " extract(epoch FROM created_at)::float8 AS created_at"

static const db_stmt_t stmt_kb_insert = {
    "kaos_bundle_insert",
    "INSERT INTO kaos_bundles (workspace_id, kind, artifact_id, format, size, sha256, root,"
    " files, parallelism, user_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) "
    "RETURNING id, extract(epoch FROM created_at)::float8 AS created_at",
    10};
static const db_stmt_t stmt_kb_latest = {
    "kaos_bundle_latest",
    "SELECT " KB_COLS " FROM kaos_bundles WHERE workspace_id = $1 AND kind = $2"
    " AND artifact_id IS NOT NULL ORDER BY created_at DESC, id LIMIT $3",
    3};
static const db_stmt_t stmt_kb_get = {
    "kaos_bundle_get",
    "SELECT " KB_COLS " FROM kaos_bundles WHERE workspace_id = $1 AND id = $2::uuid", 2};

int db_workspace_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

static int ws_not_found(err_t *e, const char *name)
{
    return err_set(e, 404, "WORKSPACE_NOT_FOUND", "There is no workspace named: %s",
                   name ? name : "");
}

/* Runs an account-scoped statement: $1 the account id, $2 (if name is not
 * NULL) a workspace name. */
static int account_query(db_t *db, arena_t *arena, const db_stmt_t *stmt, long long account_id,
                         const char *name, PGresult **res, err_t *e)
{
    char acct[24];
    snprintf(acct, sizeof(acct), "%lld", account_id);
    const char *p[2] = {acct, name};
    return db_query(db, arena, stmt, p, res, e);
}

int db_account_workspace_find(db_t *db, arena_t *arena, long long account_id, const char *name,
                              long long *id, err_t *e)
{
    if (account_id <= 0 || !db_workspace_name_ok(name))
        return ws_not_found(e, name);
    PGresult *res;
    if (account_query(db, arena, &stmt_ws_find, account_id, name, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return ws_not_found(e, name);
    *id = db_get_ll(res, 0, "id", 0);
    return 0;
}

int db_account_workspace_create(db_t *db, arena_t *arena, long long account_id,
                                const char *name, long long *id, err_t *e)
{
    if (!db_workspace_name_ok(name))
        return err_set(e, 400, "INVALID_WORKSPACE_NAME",
                       "Workspace names are 1 to 64 of A-Z a-z 0-9 _ -");
    PGresult *res;
    if (account_query(db, arena, &stmt_ws_create, account_id, name, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 409, "WORKSPACE_EXISTS", "Workspace %s already exists", name);
    if (id)
        *id = db_get_ll(res, 0, "id", 0);
    return 0;
}

int db_account_workspace_list(db_t *db, arena_t *arena, long long account_id, json_object **out,
                              err_t *e)
{
    PGresult *res;
    if (account_query(db, arena, &stmt_ws_list, account_id, NULL, &res, e) != 0)
        return -1;
    json_object *arr = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(db_get(res, i, "name")));
        json_object_object_add(o, "created_at",
                               json_object_new_double(db_get_double(res, i, "created_at", 0)));
        const char *d = db_get(res, i, "is_default");
        json_object_object_add(o, "default", json_object_new_boolean(d && d[0] == 't'));
        json_object_object_add(o, "jobs_live",
                               json_object_new_int64(db_get_ll(res, i, "live", 0)));
        json_object_array_add(arr, o);
    }
    *out = arr;
    return 0;
}

int db_account_workspace_delete(db_t *db, arena_t *arena, long long account_id,
                                const char *name, err_t *e)
{
    if (account_id <= 0 || !db_workspace_name_ok(name))
        return ws_not_found(e, name);
    PGresult *res;
    if (account_query(db, arena, &stmt_ws_delete, account_id, name, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return ws_not_found(e, name);
    const char *d = db_get(res, 0, "is_default");
    if (d && d[0] == 't')
        return err_set(e, 409, "WORKSPACE_IS_DEFAULT",
                       "Workspace %s is the account's default and cannot be deleted", name);
    long long live = db_get_ll(res, 0, "live", 0);
    if (live > 0)
        return err_set(e, 409, "WORKSPACE_HAS_RUNNING_JOBS",
                       "Workspace %s has %lld running job%s: kill them first", name, live,
                       live == 1 ? "" : "s");
    return 0;
}

int db_account_find(db_t *db, arena_t *arena, const char *account, long long *id, err_t *e)
{
    const char *p[1] = {account ? account : ""};
    PGresult *res;
    if (db_query(db, arena, &stmt_account_find, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no account named \"%s\"", account ? account : "");
    *id = db_get_ll(res, 0, "id", 0);
    return 0;
}

/* --- KAOS bundles ------------------------------------------------------- */

static void kb_put(void *p)
{
    json_object_put(p);
}

static void kb_from_row(arena_t *arena, const PGresult *res, int row, kaos_bundle_t *b)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->id, sizeof(b->id), "%s", db_get(res, row, "id"));
    b->workspace_id = db_get_ll(res, row, "workspace_id", 0);
    b->kind = db_get(res, row, "kind");
    snprintf(b->artifact_id, sizeof(b->artifact_id), "%s", db_get(res, row, "artifact_id"));
    b->format = db_get(res, row, "format");
    b->size = db_get_ll(res, row, "size", 0);
    b->sha256 = db_get(res, row, "sha256");
    b->root = db_get(res, row, "root");
    const char *files = db_get(res, row, "files");
    b->files = files ? json_tokener_parse(files) : NULL;
    arena_defer(arena, kb_put, b->files);
    b->parallelism = (int)db_get_ll(res, row, "parallelism", 1);
    b->user_name = db_get(res, row, "user_name");
    b->created_at = db_get_double(res, row, "created_at", 0);
}

int db_kaos_bundle_insert(db_t *db, arena_t *arena, kaos_bundle_t *b, err_t *e)
{
    char ws[24], size[24], par[16];
    snprintf(ws, sizeof(ws), "%lld", b->workspace_id);
    snprintf(size, sizeof(size), "%lld", b->size);
    snprintf(par, sizeof(par), "%d", b->parallelism > 0 ? b->parallelism : 1);
    const char *files =
        b->files ? json_object_to_json_string_ext(b->files, JSON_C_TO_STRING_PLAIN) : NULL;
    const char *p[10] = {ws,      b->kind, b->artifact_id, b->format, size,
                         b->sha256, b->root, files,         par,       b->user_name};
    PGresult *res;
    if (db_query(db, arena, &stmt_kb_insert, p, &res, e) != 0)
        return -1;
    snprintf(b->id, sizeof(b->id), "%s", db_get(res, 0, "id"));
    b->created_at = db_get_double(res, 0, "created_at", 0);
    return 0;
}

int db_kaos_bundle_list(db_t *db, arena_t *arena, long long workspace_id, const char *kind,
                        int limit, kaos_bundle_t **out, size_t *n, err_t *e)
{
    char ws[24], lim[16];
    snprintf(ws, sizeof(ws), "%lld", workspace_id);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[3] = {ws, kind, lim};
    PGresult *res;
    if (db_query(db, arena, &stmt_kb_latest, p, &res, e) != 0)
        return -1;
    *n = (size_t)PQntuples(res);
    *out = arena_calloc(arena, *n + 1, sizeof(**out));
    for (size_t i = 0; i < *n; i++)
        kb_from_row(arena, res, (int)i, &(*out)[i]);
    return 0;
}

int db_kaos_bundle_latest(db_t *db, arena_t *arena, long long workspace_id, const char *kind,
                          kaos_bundle_t *out, int *found, err_t *e)
{
    kaos_bundle_t *list;
    size_t n;
    if (db_kaos_bundle_list(db, arena, workspace_id, kind, 1, &list, &n, e) != 0)
        return -1;
    *found = n > 0;
    if (n > 0)
        *out = list[0];
    return 0;
}

int db_kaos_bundle_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       kaos_bundle_t *out, err_t *e)
{
    if (!util_is_uuid(id))
        return err_set(e, 404, "not_found", "no bundle %s", id ? id : "");
    char ws[24];
    snprintf(ws, sizeof(ws), "%lld", workspace_id);
    const char *p[2] = {ws, id};
    PGresult *res;
    if (db_query(db, arena, &stmt_kb_get, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no bundle %s", id);
    kb_from_row(arena, res, 0, out);
    return 0;
}
