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

#endif
