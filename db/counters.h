/*
 * counters.h — job counts by state, read without counting jobs.
 *
 * sql/0011_job_counts.sql keeps them: a trigger appends a delta per state
 * change, db_job_counts_compact folds deltas into per-workspace totals.
 * Reading costs one small aggregate whatever the size of the jobs table, so
 * /metrics can be scraped as often as anyone likes.
 */
#ifndef TRAINYARD_DB_COUNTERS_H
#define TRAINYARD_DB_COUNTERS_H

#include "db/db.h"

/* counts[s] for each job_state_t s (7 states); workspace_id 0 = all. */
int db_job_counts_cached(db_t *db, arena_t *arena, long long workspace_id, long long counts[7],
                         err_t *e);

/* Folds pending deltas into the totals. Does nothing (0) if another
 * process is folding right now. *folded (may be NULL) = delta rows folded. */
int db_job_counts_compact(db_t *db, long long *folded, err_t *e);

/* Job durations by outcome (sql/0135): bucket bounds in seconds, the last
 * bucket (+Inf) implicit. The fold runs inside db_job_counts_compact. */
#define DB_JOB_DURATION_BUCKETS 10
extern const double db_job_duration_bounds[DB_JOB_DURATION_BUCKETS];

typedef struct db_job_duration {
    const char *outcome;                          /* job state name, static */
    long long n[DB_JOB_DURATION_BUCKETS + 1];     /* per bucket, not cumulative */
    double seconds;                               /* sum */
} db_job_duration_t;

/* out[i] for the four final states (succeeded, failed, killed, timed_out),
 * every pool's jobs together. */
int db_job_durations(db_t *db, arena_t *arena, db_job_duration_t out[4], err_t *e);

/* Queued jobs per workspace: only workspaces with a queued job, or the
 * one workspace workspace_id when it is not 0. Arrays in arena. */
typedef struct db_queue_depth {
    const char *workspace;    /* name */
    long long queued;
    double oldest_seconds;    /* age of the oldest queued job */
} db_queue_depth_t;

int db_queue_depths(db_t *db, arena_t *arena, long long workspace_id, db_queue_depth_t **out,
                    int *n, err_t *e);

/* Trainer slots: *total on trainers seen within stale_seconds, *busy =
 * jobs building or running. */
int db_trainer_slots(db_t *db, arena_t *arena, double stale_seconds, long long *total,
                     long long *busy, err_t *e);

#endif
