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

const double db_job_duration_bounds[DB_JOB_DURATION_BUCKETS] = {1,   5,   10,   30,   60,
                                                                 120, 300, 600, 1800, 3600};

/* The bounds as a PostgreSQL array literal, for the fold and the read. */
static const char *duration_bounds_param(char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "{");
    for (int i = 0; i < DB_JOB_DURATION_BUCKETS && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%g", i ? "," : "",
                                db_job_duration_bounds[i]);
    if (len < n)
        snprintf(buf + len, n - len, "}");
    return buf;
}

/* Each delta goes to the smallest bound at or above it ('Infinity' past
 * the last); folded under its own try-lock, like the counts. */
#define DURATION_BUCKET_SQL                                                                        \
    "coalesce((SELECT min(b) FROM unnest($1::float8[]) b WHERE b >= d.seconds),"                 \
    " 'Infinity'::float8)"

static const db_stmt_t stmt_dur_fold = {
    "job_durations_fold",
    "WITH lock AS (SELECT pg_try_advisory_xact_lock(" COUNTS_LOCK_KEY "1) AS got),"
    " d AS (DELETE FROM job_duration_deltas WHERE (SELECT got FROM lock)"
    "       RETURNING outcome, seconds),"
    " s AS (SELECT outcome, " DURATION_BUCKET_SQL " AS le, count(*) AS n, sum(seconds) AS t"
    "       FROM d GROUP BY 1, 2)"
    " INSERT INTO job_durations AS j (outcome, le, n, seconds)"
    " SELECT outcome, le, n, t FROM s ORDER BY 1, 2"
    " ON CONFLICT (outcome, le) DO UPDATE SET n = j.n + excluded.n,"
    "  seconds = j.seconds + excluded.seconds",
    1};

static const db_stmt_t stmt_dur_read = {
    "job_durations_read",
    "SELECT outcome, le, sum(n)::bigint AS n, sum(t) AS t FROM ("
    " SELECT outcome, le, n, seconds AS t FROM job_durations"
    " UNION ALL"
    " SELECT outcome, " DURATION_BUCKET_SQL ", 1, seconds FROM job_duration_deltas d) x"
    " GROUP BY outcome, le",
    1};

static const db_stmt_t stmt_queue = {
    "queue_depths",
    "SELECT w.name, q.n, extract(epoch FROM now() - q.oldest) AS age FROM ("
    " SELECT workspace_id, count(*) AS n, min(created_at) AS oldest FROM jobs"
    " WHERE state = 'queued' AND (workspace_id = $1 OR $1 = 0) GROUP BY workspace_id) q"
    " JOIN workspaces w ON w.id = q.workspace_id ORDER BY w.name",
    1};

static const db_stmt_t stmt_slots = {
    "trainer_slots",
    "SELECT (SELECT coalesce(sum(slots), 0) FROM trainers"
    "        WHERE seen_at > now() - make_interval(secs => $1::float8))::bigint AS total,"
    "       (SELECT count(*) FROM jobs WHERE state IN ('building', 'running'))::bigint AS busy",
    1};

static const char *const duration_outcomes[4] = {"succeeded", "failed", "killed", "timed_out"};

int db_job_durations(db_t *db, arena_t *arena, db_job_duration_t out[4], err_t *e)
{
    char bounds[256];
    const char *p[1] = {duration_bounds_param(bounds, sizeof(bounds))};
    memset(out, 0, 4 * sizeof(out[0]));
    for (int k = 0; k < 4; k++)
        out[k].outcome = duration_outcomes[k];
    PGresult *res;
    if (db_query(db, arena, &stmt_dur_read, p, &res, e) != 0)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *outcome = db_get(res, i, "outcome");
        double le = db_get_double(res, i, "le", 0);
        for (int k = 0; k < 4; k++) {
            if (outcome == NULL || strcmp(outcome, duration_outcomes[k]) != 0)
                continue;
            int b = 0;
            while (b < DB_JOB_DURATION_BUCKETS && le > db_job_duration_bounds[b])
                b++;
            out[k].n[b] += db_get_ll(res, i, "n", 0);
            out[k].seconds += db_get_double(res, i, "t", 0);
        }
    }
    return 0;
}

int db_queue_depths(db_t *db, arena_t *arena, long long workspace_id, db_queue_depth_t **out,
                    int *n, err_t *e)
{
    char ws[24];
    snprintf(ws, sizeof(ws), "%lld", workspace_id);
    const char *p[1] = {ws};
    PGresult *res;
    *out = NULL;
    *n = 0;
    if (db_query(db, arena, &stmt_queue, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    *out = arena_calloc(arena, rows > 0 ? (size_t)rows : 1, sizeof(**out));
    for (int i = 0; i < rows; i++) {
        (*out)[i].workspace = db_get(res, i, "name");
        (*out)[i].queued = db_get_ll(res, i, "n", 0);
        (*out)[i].oldest_seconds = db_get_double(res, i, "age", 0);
    }
    *n = rows;
    return 0;
}

int db_trainer_slots(db_t *db, arena_t *arena, double stale_seconds, long long *total,
                     long long *busy, err_t *e)
{
    char stale[32];
    snprintf(stale, sizeof(stale), "%.3f", stale_seconds);
    const char *p[1] = {stale};
    PGresult *res;
    if (db_query(db, arena, &stmt_slots, p, &res, e) != 0)
        return -1;
    *total = db_get_ll(res, 0, "total", 0);
    *busy = db_get_ll(res, 0, "busy", 0);
    return 0;
}

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
    /* Job durations (sql/0135) fold in the same transaction. */
    char bounds[256];
    const char *p[1] = {duration_bounds_param(bounds, sizeof(bounds))};
    res = NULL;
    if (db_query(db, NULL, &stmt_dur_fold, p, &res, e) != 0) {
        db_rollback(db);
        return -1;
    }
    PQclear(res);
    return db_commit(db, e);
}
