/*
 * counters.c — job counts from job_counts + job_count_deltas (see counters.h).
 *
 * The fold is one statement: DELETE the deltas RETURNING them, sum them by
 * workspace and state, and upsert the sums, inside a transaction that holds
 * a transaction-scoped advisory lock (tried, never waited for). Deltas of a
 * workspace deleted meanwhile are dropped with it (the upsert joins the
 * workspaces that still exist).
 */
#include "db/counters.h"

#include <stdio.h>
#include <string.h>

#include "db/jobs.h"

/* Any constant; the same in every process. */
#define COUNTS_LOCK_KEY "7311955011"

static const db_stmt_t stmt_read = {
    "job_counts_cached",
    "SELECT state, sum(n)::bigint AS n FROM ("
    " SELECT state, n FROM job_counts WHERE workspace_id = $1 OR $1 = 0"
    " UNION ALL"
    " SELECT state, delta FROM job_count_deltas WHERE workspace_id = $1 OR $1 = 0) c"
    " GROUP BY state",
    1};

static const db_stmt_t stmt_fold = {
    "job_counts_fold",
    "WITH lock AS (SELECT pg_try_advisory_xact_lock(" COUNTS_LOCK_KEY ") AS got),"
    " d AS (DELETE FROM job_count_deltas WHERE (SELECT got FROM lock)"
    "       RETURNING workspace_id, state, delta),"
    " s AS (SELECT workspace_id, state, sum(delta) AS n FROM d GROUP BY workspace_id, state),"
    " u AS (INSERT INTO job_counts AS c (workspace_id, state, n)"
    "       SELECT s.workspace_id, s.state, s.n FROM s JOIN workspaces w ON w.id = s.workspace_id"
    "       ORDER BY 1, 2"
    "       ON CONFLICT (workspace_id, state) DO UPDATE SET n = c.n + excluded.n)"
    " SELECT count(*) AS folded FROM d",
    0};

int db_job_counts_cached(db_t *db, arena_t *arena, long long workspace_id, long long counts[7],
                         err_t *e)
{
    char ws[24];
    snprintf(ws, sizeof(ws), "%lld", workspace_id);
    const char *p[1] = {ws};
    PGresult *res;
    if (db_query(db, arena, &stmt_read, p, &res, e) != 0)
        return -1;
    memset(counts, 0, 7 * sizeof(counts[0]));
    for (int i = 0; i < PQntuples(res); i++) {
        job_state_t s;
        if (job_state_parse(db_get(res, i, "state"), &s) == 0)
            counts[s] = db_get_ll(res, i, "n", 0);
    }
    return 0;
}

int db_job_counts_compact(db_t *db, long long *folded, err_t *e)
{
    if (folded)
        *folded = 0;
    if (db_begin(db, e) != 0)
        return -1;
    PGresult *res = NULL;
    if (db_query(db, NULL, &stmt_fold, NULL, &res, e) != 0) {
        db_rollback(db);
        return -1;
    }
    if (folded)
        *folded = db_get_ll(res, 0, "folded", 0);
    PQclear(res);
    return db_commit(db, e);
}
