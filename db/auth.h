/*
 * auth.h — workspaces and API keys.
 *
 * A key looks like "ty_<prefix>_<secret>": prefix is 12 random hex digits
 * (stored in clear, unique, shown in listings and used to revoke), secret is
 * 32 random bytes in hex. Only SHA-256(key) is stored; lookups fetch by
 * prefix and compare hashes in constant time.
 */
#ifndef TRAINYARD_DB_AUTH_H
#define TRAINYARD_DB_AUTH_H

#include "db/db.h"
#include "fcgi/request.h"

#define AUTH_KEY_MAX 96

/* Any change to a key row (revoke by the CLI, UPDATE or DELETE by SQL) sends
 * NOTIFY on this channel (payload: the prefix) from a trigger, so that
 * processes caching key checks drop them at once. */
#define AUTH_KEYS_CHANNEL "trainyard_keys"

/* Creates a workspace; 409 "conflict" if the name exists. Names are
 * [A-Za-z0-9_-]{1,64} (400 otherwise). */
int db_workspace_create(db_t *db, arena_t *arena, const char *name, long long *id, err_t *e);

/* Looks a workspace up by name: 0 and *id, or -1 with 404. */
int db_workspace_find(db_t *db, arena_t *arena, const char *name, long long *id, err_t *e);

/* Creates a key for the named account (whose default workspace it acts in
 * where a route names none; `workspace create NAME` makes an account NAME
 * with a workspace NAME) and writes it (the only time it is ever visible)
 * into key_out. */
int db_key_create(db_t *db, arena_t *arena, const char *workspace, char key_out[AUTH_KEY_MAX],
                  err_t *e);

/* Creates a key of the account named `account` whose own workspace is the
 * account's workspace named `workspace` (NULL: the account's default);
 * with workspace_only the key may act there only (any other workspace
 * named by a request is refused). 404 when the account or workspace does
 * not exist. */
int db_key_create_in(db_t *db, arena_t *arena, const char *account, const char *workspace,
                     int workspace_only, char key_out[AUTH_KEY_MAX], err_t *e);

/* Revokes the key with this prefix (the part after "ty_", or the whole key);
 * 404 if none. */
int db_key_revoke(db_t *db, arena_t *arena, const char *prefix, err_t *e);

/* Checks a presented key. 0 with *out filled, or -1 with 401 "unauthorized"
 * (unknown, malformed or revoked: the message does not say which). */
int db_key_check(db_t *db, arena_t *arena, const char *key, auth_t *out, err_t *e);

/* The key with this prefix, not revoked: its stored hash (the raw
 * SHA-256, a secret only the database holds, for deriving tokens) and
 * what it may act as (its own workspace). -1 with 401 otherwise. */
int db_key_by_prefix(db_t *db, arena_t *arena, const char *prefix, unsigned char hash[32],
                     auth_t *out, err_t *e);

#endif
