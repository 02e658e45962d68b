/*
 * retention.h — bounded storage: what is old or unreferenced is deleted.
 *
 * One collection pass (db_gc_run), in this order, each step in batches of
 * at most a thousand rows per statement so that no lock is held for long:
 *   1. models past the last keep_models of their dataset, unless pinned;
 *   2. finished jobs older than keep_days that no kept model belongs to
 *      (their logs go with them);
 *   3. log lines older than keep_days of the jobs kept for their models;
 *   4. artifacts nothing refers to (no dataset, model or job; a dataset's
 *      bytes an unfinished job was submitted on count, sql/0033), older than
 *      the grace period: rejected or abandoned uploads, the bytes of deleted
 *      datasets, replaced models, bundles of deleted jobs. Their chunks go
 *      with them (ON DELETE CASCADE).
 * Per-workspace settings (workspace_retention) override the defaults given
 * here. Only one process collects at a time (an advisory lock, tried).
 */
#ifndef TRAINYARD_DB_RETENTION_H
#define TRAINYARD_DB_RETENTION_H

#include "db/db.h"

typedef struct gc_policy {
    int keep_days;             /* finished jobs and logs; 0 = forever */
    int keep_models;           /* models per dataset; 0 = all */
    double orphan_grace;       /* seconds an unreferenced artifact is left alone */
    double budget;             /* seconds a pass may take (0 = until done); the
                                  rest waits for the next pass */
} gc_policy_t;

typedef struct gc_report {
    int ran;                   /* 0 when another process held the lock */
    long long models, jobs, logs, artifacts;
    long long bytes;           /* artifact bytes freed */
} gc_report_t;

int db_gc_run(db_t *db, const gc_policy_t *policy, gc_report_t *out, err_t *e);

/* A workspace's own policy; a value < 0 means "the default" (NULL). */
int db_retention_set(db_t *db, arena_t *arena, const char *workspace, int keep_days,
                     int keep_models, err_t *e);

/* Pins (keeps forever) or unpins a model. 404 if there is no such model. */
int db_model_pin(db_t *db, arena_t *arena, const char *model_id, int pinned, err_t *e);

#endif
