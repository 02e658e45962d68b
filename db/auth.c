/*
 * auth.c — workspaces and API keys (see auth.h).
 *
 * Keys are "ty_" + 12 hex (prefix) + "_" + 64 hex (secret). The prefix finds
 * the row; SHA-256 of the whole key, compared in constant time, proves it.
 * A presented key that is malformed, unknown or revoked gets the same 401.
 * The NOTIFY that empties key caches comes from a trigger on api_keys
 * (sql/0004), so a revocation by SQL reaches the caches as fast as ours.
 */
#include "db/auth.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "db/accounts.h"

#define AUTH_PREFIX_HEX 12
#define AUTH_SECRET_BYTES 32

static const db_stmt_t stmt_ws_create = {
    "ws_create", "INSERT INTO workspaces (name) VALUES ($1) RETURNING id", 1};
/* Names are unique per account (0040): by name alone, the workspace that is
 * its own account's default (what `workspace create NAME` made) comes first. */
static const db_stmt_t stmt_ws_find = {
    "ws_find",
    "SELECT w.id FROM workspaces w JOIN accounts a ON a.id = w.account_id WHERE w.name = $1 "
    "ORDER BY (a.default_workspace_id = w.id AND a.name = w.name) DESC, w.id LIMIT 1",
    1};
/* $4 NULL: the account's default workspace; else the account's workspace
 * of that name. $5: the key may act there only (sql/0152). */
static const db_stmt_t stmt_key_insert = {
    "key_insert",
    "INSERT INTO api_keys (workspace_id, account_id, prefix, hash, workspace_only) "
    "SELECT w.id, w.account_id, $2, decode($3, 'hex'), $5::boolean FROM accounts a "
    "JOIN workspaces w ON w.account_id = a.id AND "
    "  CASE WHEN $4::text IS NULL THEN w.id = a.default_workspace_id ELSE w.name = $4 END "
    "WHERE a.name = $1 RETURNING id",
    5};
static const db_stmt_t stmt_key_revoke = {
    "key_revoke",
    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = $1 "
    "RETURNING id",
    1};
static const db_stmt_t stmt_key_lookup = {
    "key_lookup",
    "SELECT encode(k.hash, 'hex') AS hash, k.revoked_at IS NOT NULL AS revoked, "
    "w.id AS workspace_id, w.name AS workspace_name, k.account_id, k.workspace_only "
    "FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.prefix = $1",
    1};

static int auth_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return 0;
    return 1;
}

int db_workspace_create(db_t *db, arena_t *arena, const char *name, long long *id, err_t *e)
{
    if (!db_workspace_name_ok(name))
        return err_add(e, 400, "value_error", "name",
                       "workspace names are 1 to 64 of A-Z a-z 0-9 _ -");
    PGresult *res;
    const char *p[1] = {name};
    if (db_query(db, arena, &stmt_ws_create, p, &res, e) != 0) {
        if (e->status == 409) {
            err_clear(e);
            return err_set(e, 409, "conflict", "workspace \"%s\" exists", name);
        }
        return -1;
    }
    if (id)
        *id = db_get_ll(res, 0, "id", 0);
    return 0;
}

int db_workspace_find(db_t *db, arena_t *arena, const char *name, long long *id, err_t *e)
{
    PGresult *res;
    const char *p[1] = {name};
    if (!db_workspace_name_ok(name))
        return err_set(e, 404, "not_found", "no workspace named \"%s\"", name ? name : "");
    if (db_query(db, arena, &stmt_ws_find, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no workspace named \"%s\"", name);
    if (id)
        *id = db_get_ll(res, 0, "id", 0);
    return 0;
}

int db_key_create(db_t *db, arena_t *arena, const char *workspace, char key_out[AUTH_KEY_MAX],
                  err_t *e)
{
    return db_key_create_in(db, arena, workspace, NULL, 0, key_out, e);
}

int db_key_create_in(db_t *db, arena_t *arena, const char *account, const char *workspace,
                     int workspace_only, char key_out[AUTH_KEY_MAX], err_t *e)
{
    unsigned char raw[AUTH_PREFIX_HEX / 2 + AUTH_SECRET_BYTES];
    if (util_random_bytes(raw, sizeof(raw), e) != 0)
        return -1;
    char prefix[AUTH_PREFIX_HEX + 1], secret[2 * AUTH_SECRET_BYTES + 1];
    util_hex(raw, AUTH_PREFIX_HEX / 2, prefix);
    util_hex(raw + AUTH_PREFIX_HEX / 2, AUTH_SECRET_BYTES, secret);
    char key[AUTH_KEY_MAX];
    snprintf(key, sizeof(key), "ty_%s_%s", prefix, secret);
    char hash[SHA256_HEX_LEN + 1];
    sha256_hex(key, strlen(key), hash);
    PGresult *res;
    const char *p[5] = {account, prefix, hash, workspace, workspace_only ? "t" : "f"};
    if (db_query(db, arena, &stmt_key_insert, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0 && workspace != NULL)
        return err_set(e, 404, "not_found", "account \"%s\" has no workspace named \"%s\"",
                       account, workspace);
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no workspace named \"%s\"", account);
    memcpy(key_out, key, strlen(key) + 1);
    return 0;
}

int db_key_revoke(db_t *db, arena_t *arena, const char *prefix, err_t *e)
{
    char want[AUTH_PREFIX_HEX + 1];
    const char *p = prefix ? prefix : "";
    if (strncmp(p, "ty_", 3) == 0)
        p += 3;
    if (strlen(p) < AUTH_PREFIX_HEX || !auth_is_hex(p, AUTH_PREFIX_HEX) ||
        (p[AUTH_PREFIX_HEX] != '\0' && p[AUTH_PREFIX_HEX] != '_'))
        return err_set(e, 404, "not_found", "no key with prefix \"%s\"", prefix ? prefix : "");
    memcpy(want, p, AUTH_PREFIX_HEX);
    want[AUTH_PREFIX_HEX] = '\0';
    PGresult *res;
    const char *params[1] = {want};
    if (db_query(db, arena, &stmt_key_revoke, params, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no key with prefix \"%s\"", want);
    return 0;
}

int db_key_check(db_t *db, arena_t *arena, const char *key, auth_t *out, err_t *e)
{
    size_t n = key ? strlen(key) : 0;
    const size_t want = 3 + AUTH_PREFIX_HEX + 1 + 2 * AUTH_SECRET_BYTES;
    if (n != want || strncmp(key, "ty_", 3) != 0 || key[3 + AUTH_PREFIX_HEX] != '_' ||
        !auth_is_hex(key + 3, AUTH_PREFIX_HEX) ||
        !auth_is_hex(key + 4 + AUTH_PREFIX_HEX, 2 * AUTH_SECRET_BYTES))
        return err_set(e, 401, "unauthorized", "invalid or missing API key");
    char prefix[AUTH_PREFIX_HEX + 1];
    memcpy(prefix, key + 3, AUTH_PREFIX_HEX);
    prefix[AUTH_PREFIX_HEX] = '\0';
    PGresult *res;
    const char *p[1] = {prefix};
    if (db_query(db, arena, &stmt_key_lookup, p, &res, e) != 0)
        return -1;
    char hash[SHA256_HEX_LEN + 1];
    sha256_hex(key, n, hash);
    const char *stored = PQntuples(res) ? db_get(res, 0, "hash") : NULL;
    if (stored != NULL && strlen(stored) != SHA256_HEX_LEN)
        stored = NULL;
    /* Compare even when no row exists (against a value no digest equals
     * here: it is not hex), so timing does not tell known prefixes apart. */
    static const char nothing[SHA256_HEX_LEN + 1] =
        "----------------------------------------------------------------";
    int same = util_ct_memcmp(hash, stored ? stored : nothing, SHA256_HEX_LEN) == 0;
    const char *revoked = stored ? db_get(res, 0, "revoked") : "t";
    if (stored == NULL || !same || revoked == NULL || strcmp(revoked, "f") != 0)
        return err_set(e, 401, "unauthorized", "invalid or missing API key");
    out->workspace_id = db_get_ll(res, 0, "workspace_id", 0);
    out->key_workspace_id = out->workspace_id;
    const char *only = db_get(res, 0, "workspace_only");
    out->workspace_only = only != NULL && strcmp(only, "t") == 0;
    out->account_id = db_get_ll(res, 0, "account_id", 0);
    out->workspace_name = arena_strdup(arena, db_get(res, 0, "workspace_name"));
    out->key_prefix = arena_strdup(arena, prefix);
    return 0;
}

int db_key_by_prefix(db_t *db, arena_t *arena, const char *prefix, unsigned char hash[32],
                     auth_t *out, err_t *e)
{
    if (prefix == NULL || strlen(prefix) != AUTH_PREFIX_HEX || !auth_is_hex(prefix, AUTH_PREFIX_HEX))
        return err_set(e, 401, "unauthorized", "invalid or missing API key");
    PGresult *res;
    const char *p[1] = {prefix};
    if (db_query(db, arena, &stmt_key_lookup, p, &res, e) != 0)
        return -1;
    const char *stored = PQntuples(res) ? db_get(res, 0, "hash") : NULL;
    const char *revoked = stored ? db_get(res, 0, "revoked") : "t";
    if (stored == NULL || strlen(stored) != SHA256_HEX_LEN || revoked == NULL ||
        strcmp(revoked, "f") != 0)
        return err_set(e, 401, "unauthorized", "invalid or revoked API key");
    for (size_t i = 0; i < 32; i++) {
        unsigned v = 0;
        sscanf(stored + 2 * i, "%2x", &v);
        hash[i] = (unsigned char)v;
    }
    out->workspace_id = db_get_ll(res, 0, "workspace_id", 0);
    out->key_workspace_id = out->workspace_id;
    out->account_id = db_get_ll(res, 0, "account_id", 0);
    out->workspace_name = arena_strdup(arena, db_get(res, 0, "workspace_name"));
    out->key_prefix = arena_strdup(arena, prefix);
    const char *only = db_get(res, 0, "workspace_only");
    out->workspace_only = only != NULL && strcmp(only, "t") == 0;
    return 0;
}
