/*
 * accounts.h — accounts, their workspaces, and KAOS's bundles.
 *
 * The account is the tenant (DESIGN.md "Account and workspace"): a key
 * belongs to one, and a route that names a workspace acts in the workspace
 * of that name *of the key's account*. Another account's workspace is not
 * found, exactly like one that does not exist: every lookup here takes the
 * account id first.
 *
 * KAOS bundles (code, data, hyperparameters) arrive separately; each upload
 * is an artifact plus a row saying what its check found (sql/0040_kaos.sql).
 * The pipeline reads the latest of each kind.
 */
#ifndef TRAINYARD_DB_ACCOUNTS_H
#define TRAINYARD_DB_ACCOUNTS_H

#include <json-c/json.h>

#include "common/util.h"
#include "db/db.h"

/* 1 if name is a valid workspace name ([A-Za-z0-9_-]{1,64}). */
int db_workspace_name_ok(const char *name);

/* The account's workspace of that name: 0 and *id, or -1 with 404
 * "WORKSPACE_NOT_FOUND" (also for a malformed name or another account's). */
int db_account_workspace_find(db_t *db, arena_t *arena, long long account_id, const char *name,
                              long long *id, err_t *e);

/* Creates a workspace in the account: 400 for a bad name, 409
 * "WORKSPACE_EXISTS" when the account has one of that name. */
int db_account_workspace_create(db_t *db, arena_t *arena, long long account_id,
                                const char *name, long long *id, err_t *e);

/* The account's workspaces, oldest first: an array of
 * {"name","created_at","default","jobs_live"}. Caller owns *out. */
int db_account_workspace_list(db_t *db, arena_t *arena, long long account_id, json_object **out,
                              err_t *e);

/* Deletes the account's workspace and everything in it. Refused with 409
 * while it has queued, building or running jobs, and for the account's
 * default workspace (its keys act there); 404 as for find. */
int db_account_workspace_delete(db_t *db, arena_t *arena, long long account_id,
                                const char *name, err_t *e);

/* The account named `account` (the CLI's way in): its id, or 404. */
int db_account_find(db_t *db, arena_t *arena, const char *account, long long *id, err_t *e);

/* --- KAOS bundles ----------------------------------------------------- */

typedef struct kaos_bundle {
    char id[UUID_STR_LEN + 1];
    long long workspace_id;
    const char *kind;          /* "code" | "data" | "params" */
    char artifact_id[UUID_STR_LEN + 1]; /* "" once collected */
    const char *format;        /* "zip" | "tar" */
    long long size;
    const char *sha256;
    const char *root;          /* the root folder (code, data), or NULL */
    json_object *files;        /* params: array of file names; else NULL */
    int parallelism;           /* params: runs at once */
    const char *user_name;
    double created_at;
} kaos_bundle_t;

/* Inserts (id generated). Joins the caller's transaction. */
int db_kaos_bundle_insert(db_t *db, arena_t *arena, kaos_bundle_t *b, err_t *e);

/* The workspace's latest bundle of a kind: 0 with *found = 1 and *out, or
 * *found = 0. Arena-owned strings and JSON. */
int db_kaos_bundle_latest(db_t *db, arena_t *arena, long long workspace_id, const char *kind,
                          kaos_bundle_t *out, int *found, err_t *e);

/* A bundle by id within the workspace (404 otherwise). */
int db_kaos_bundle_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       kaos_bundle_t *out, err_t *e);

/* The workspace's bundles of a kind, newest first (at most limit). */
int db_kaos_bundle_list(db_t *db, arena_t *arena, long long workspace_id, const char *kind,
                        int limit, kaos_bundle_t **out, size_t *n, err_t *e);

#endif
