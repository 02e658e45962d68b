/*
 * limits.h — per-workspace limits and the usage they are checked against.
 *
 * Four limits, stored on the workspace (sql/0004) with generous defaults and
 * set by the admin CLI: queued jobs, running jobs, stored bytes (every
 * artifact: datasets, bundles, models) and datasets. Queued jobs are refused
 * by the jobs insert trigger itself (429, see db/jobs.h) and running jobs
 * are held back by the claim; this module serves the other two, which are
 * checked by the upload handlers, and the CLI.
 *
 * Every refusal names the limit and its value: 413 for bytes, 429 for the
 * rest, code "limit_exceeded", rendered in each dialect's own shape.
 */
#ifndef TRAINYARD_DB_LIMITS_H
#define TRAINYARD_DB_LIMITS_H

#include "db/db.h"

typedef struct ws_limits {
    long long max_queued;    /* jobs waiting in 'queued' */
    long long max_running;   /* jobs building or running at once */
    long long max_bytes;     /* bytes of artifacts stored */
    long long max_datasets;  /* datasets not deleted */
} ws_limits_t;

typedef struct ws_usage {
    long long queued, running, bytes, datasets;
} ws_usage_t;

/* The named workspace's limits and current usage (queued and running
 * counted from the jobs). 404 if there is no such workspace. */
int db_limits_get(db_t *db, arena_t *arena, const char *workspace, ws_limits_t *limits,
                  ws_usage_t *usage, err_t *e);

/* Sets the limits that are > 0 in set; the others stay as they are. 404 if
 * there is no such workspace, 400 for a value out of range. */
int db_limits_set(db_t *db, arena_t *arena, const char *workspace, const ws_limits_t *set,
                  err_t *e);

/* Before an upload's body is read: refuses at once (nothing stored) an
 * upload of adding_bytes (< 0: unknown) that cannot fit, and a new dataset
 * past max_datasets (adding_dataset = 1). A cheap read, no lock. */
int db_limits_precheck(db_t *db, arena_t *arena, long long workspace_id, long long adding_bytes,
                       int adding_dataset, err_t *e);

/* Inside the upload's transaction, after its artifact (and dataset row) are
 * written: locks the workspace's usage row, so concurrent uploads are
 * checked one after the other and the limits hold exactly, and refuses if
 * they are now exceeded (the caller rolls back). */
int db_limits_check_upload(db_t *db, arena_t *arena, long long workspace_id, err_t *e);

#endif
