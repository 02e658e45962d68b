/*
 * jobs.c — the durable job queue (see jobs.h and DESIGN.md "The core").
 *
 * Every transition is one UPDATE whose WHERE clause states the state it
 * starts from and, on the trainer side, the lease owner: two trainers can
 * never both finish a job, and a trainer whose lease was reaped writes
 * nothing. NOTIFY travels inside the same statement or transaction as the
 * write it announces, so a listener never wakes before the row is visible.
 *
 * Enqueue is a single INSERT ... pg_notify statement (atomic on its own: no
 * BEGIN/COMMIT round trips on the hot path); a unique partial index keeps
 * identical Akkio requests to one live job, and the admission trigger of
 * sql/0004 skips a job past the workspace's max_queued (exact under
 * concurrency, without a counter row that enqueues would queue behind),
 * which job_insert reports as 429.
 *
 * The claim is fair between workspaces (see stmt_claim) and every write a
 * trainer makes afterwards names the attempt it claimed.
 */
#include "db/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static const char *const state_names[] = {"queued", "building", "running", "succeeded",
                                          "failed", "killed", "timed_out"};

const char *job_state_name(job_state_t s)
{
    return (unsigned)s < 7 ? state_names[s] : "unknown";
}

int job_state_parse(const char *s, job_state_t *out)
{
    for (int i = 0; s != NULL && i < 7; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (job_state_t)i;
            return 0;
        }
    }
    return -1;
}

int job_state_is_final(job_state_t s)
{
    return s >= JOB_SUCCEEDED;
}

/* Every query returning jobs selects these, in this shape. */
#define JOB_COLS                                                                            \
    "id, workspace_id, dialect, state, priority, spec::text AS spec, dataset_id, bundle_id, " \
    "user_name, dedupe_key, attempts, max_attempts, lease_owner, "                           \
    "extract(epoch FROM lease_expires_at)::float8 AS lease_expires_at, "                     \
    "extract(epoch FROM kill_requested_at)::float8 AS kill_requested_at, progress, "         \
    "estimate_seconds, error, result::text AS result, "                                      \
    "extract(epoch FROM created_at)::float8 AS created_at, "                                 \
    "extract(epoch FROM started_at)::float8 AS started_at, "                                 \
    "extract(epoch FROM finished_at)::float8 AS finished_at, request_id"
/* The same shape without the result document, which can be large (candidates,
 * data story): status polls and listings never need it. */
#define JOB_COLS_NO_RESULT                                                                  \
    "id, workspace_id, dialect, state, priority, spec::text AS spec, dataset_id, bundle_id, " \
    "user_name, dedupe_key, attempts, max_attempts, lease_owner, "                           \
    "extract(epoch FROM lease_expires_at)::float8 AS lease_expires_at, "                     \
    "extract(epoch FROM kill_requested_at)::float8 AS kill_requested_at, progress, "         \
    "estimate_seconds, error, NULL::text AS result, "                                        \
    "extract(epoch FROM created_at)::float8 AS created_at, "                                 \
    "extract(epoch FROM started_at)::float8 AS started_at, "                                 \
    "extract(epoch FROM finished_at)::float8 AS finished_at, request_id"

static const db_stmt_t stmt_insert = {
    "job_insert",
    "WITH ins AS (INSERT INTO jobs (workspace_id, dialect, priority, spec, dataset_id, "
    "bundle_id, user_name, dedupe_key, max_attempts, request_id) "
    "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (workspace_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN "
    "('queued', 'building', 'running', 'succeeded') DO NOTHING RETURNING id, created_at) "
    "SELECT id, extract(epoch FROM created_at)::float8 AS created_at, "
    "pg_notify('" JOBS_CHANNEL "', id::text) FROM ins",
    10};
/* Why an insert inserted nothing: the admission trigger (sql/0004) leaves
 * the workspace's max_queued here when it refused the job; "" otherwise. */
static const db_stmt_t stmt_refused = {
    "job_refused",
    "SELECT current_setting('trainyard.refused', true) AS lim,"
    " set_config('trainyard.refused', '', false) AS reset",
    0};
static const db_stmt_t stmt_dedupe_find = {
    "job_dedupe_find",
    "SELECT id FROM jobs WHERE workspace_id = $1 AND dedupe_key = $2 AND state IN "
    "('queued', 'building', 'running', 'succeeded') ORDER BY created_at DESC LIMIT 1",
    2};
static const db_stmt_t stmt_get = {
    "job_get", "SELECT " JOB_COLS " FROM jobs WHERE id = $2 AND workspace_id = $1", 2};
static const db_stmt_t stmt_get_summary = {
    "job_get_summary",
    "SELECT " JOB_COLS_NO_RESULT " FROM jobs WHERE id = $2 AND workspace_id = $1", 2};
static const db_stmt_t stmt_list = {
    "job_list",
    "SELECT " JOB_COLS_NO_RESULT " FROM jobs WHERE workspace_id = $1 "
    "ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
    3};
static const db_stmt_t stmt_counts = {
    "job_counts",
    "SELECT state, count(*) AS n FROM jobs WHERE workspace_id = $1 OR $1 = 0 GROUP BY state",
    1};
static const db_stmt_t stmt_kill = {
    "job_kill",
    "WITH u AS (UPDATE jobs SET "
    " state = CASE WHEN state = 'queued' THEN 'killed' ELSE state END,"
    " kill_requested_at = coalesce(kill_requested_at, now()),"
    " finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END,"
    " error = CASE WHEN state = 'queued' THEN 'killed before it started' ELSE error END,"
    " updated_at = now()"
    " WHERE id = $2 AND workspace_id = $1 AND state IN ('queued', 'building', 'running')"
    " RETURNING id, state),"
    " n AS (SELECT pg_notify('" KILL_CHANNEL "', id::text) FROM u WHERE state <> 'killed')"
    " SELECT state, (SELECT count(*) FROM n) AS notified FROM u",
    2};
static const db_stmt_t stmt_state = {
    "job_state", "SELECT state FROM jobs WHERE id = $2 AND workspace_id = $1", 2};
static const db_stmt_t stmt_log_append = {
    "job_log_append",
    "INSERT INTO job_logs (job_id, stream, line) "
    "SELECT $1, $2, l.value FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY "
    "AS l(value, ord) ORDER BY l.ord",
    3};
static const db_stmt_t stmt_logs = {
    "job_logs",
    "SELECT l.id AS seq, extract(epoch FROM l.at)::float8 AS at, l.stream, l.line "
    "FROM job_logs l JOIN jobs j ON j.id = l.job_id "
    "WHERE j.workspace_id = $1 AND l.job_id = $2 AND l.id > $3 ORDER BY l.id LIMIT $4",
    4};
/* The fair claim. Among workspaces with queued jobs and below their running
 * limit, the one with the fewest jobs running goes first (ties: the priority
 * then age of its next job); within it, priority then age.
 *
 * "Age" is how long the workspace's next job has waited for its turn: since
 * it was queued, or since the workspace last had a job started, whichever
 * is later. With fewer trainer slots than busy workspaces most claims are
 * ties at 0 or 1 running, and the plain age of the next job would hand
 * every tie to the workspace that flooded the queue first; this age makes
 * the ties go round-robin.
 *
 * "head" finds each workspace with queued jobs and the head of its queue
 * by skipping through jobs_claim_ws (one probe per such workspace, however
 * long its queue); "cand" adds each one's running count (live jobs are
 * few: one per trainer slot, found through jobs_lease), its running limit
 * and its last start (jobs_started), and is materialized in claim order.
 * Every probe of jobs_claim_ws near a queue's head wades through the
 * entries of jobs just claimed (dead, not yet pruned), which is what a
 * claim mostly costs: hence one probe for the look, and the pick starts
 * where the look found the head. (A job queued before the head but
 * committed after this claim's snapshot is left to the next claim.) "pick" walks cand in a nested loop and stops
 * at the first workspace whose queue has a job no other claimer holds, so
 * only that one row is locked. No outer ORDER BY on purpose: it would make
 * the planner run every lateral pick (locking one job in each workspace)
 * before sorting. Two claims racing for a workspace's last running place
 * can both win it: max_running may be exceeded by at most (concurrent
 * claimers - 1), for the length of a job. Nothing here writes any counter,
 * so claims never queue behind each other's commits. */
static const db_stmt_t stmt_claim = {
    "job_claim",
    "WITH RECURSIVE head AS ("
    "   (SELECT workspace_id, priority, created_at FROM jobs WHERE state = 'queued'"
    "     ORDER BY workspace_id, priority, created_at LIMIT 1)"
    "   UNION ALL"
    "   SELECT n.* FROM head, LATERAL (SELECT workspace_id, priority, created_at FROM jobs"
    "     WHERE state = 'queued' AND workspace_id > head.workspace_id"
    "     ORDER BY workspace_id, priority, created_at LIMIT 1) n),"
    " cand AS MATERIALIZED ("
    "   SELECT c.workspace_id, c.running, c.priority, c.turn_since, c.created_at FROM ("
    "     SELECT h.workspace_id, h.priority, h.created_at,"
    "       (SELECT count(*) FROM jobs r WHERE r.state IN ('building', 'running')"
    "         AND r.workspace_id = h.workspace_id) AS running,"
    "       (SELECT w.max_running FROM workspaces w WHERE w.id = h.workspace_id) AS max_running,"
    "       greatest(h.created_at, (SELECT max(started_at) FROM jobs"
    "                                WHERE workspace_id = h.workspace_id)) AS turn_since"
    "     FROM head h OFFSET 0) c" /* a fence: each count runs once */
    "    WHERE c.running < c.max_running"
    "    ORDER BY c.running, c.priority, c.turn_since, c.created_at),"
    " pick AS (SELECT p.id FROM cand CROSS JOIN LATERAL ("
    "     SELECT id FROM jobs WHERE state = 'queued' AND workspace_id = cand.workspace_id"
    "        AND (priority, created_at) >= (cand.priority, cand.created_at)"
    "      ORDER BY priority, created_at FOR UPDATE SKIP LOCKED LIMIT 1) p LIMIT 1)"
    " UPDATE jobs SET"
    " state = CASE WHEN bundle_id IS NOT NULL AND dataset_id IS NULL"
    "         THEN 'building' ELSE 'running' END,"
    " lease_owner = $1, trainer = $1,"
    " lease_expires_at = now() + make_interval(secs => $2::float8),"
    " attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()"
    " WHERE id = (SELECT id FROM pick) AND state = 'queued'"
    " RETURNING " JOB_COLS,
    2};
/* Every trainer-side write is fenced by the claim: the lease owner AND the
 * attempt number it was claimed with ($3 below), so that a stale claim (a
 * paused trainer, a reused trainer id, a job reaped and claimed again by
 * the same trainer) can never renew or end the job's newer claim. */
static const db_stmt_t stmt_heartbeat = {
    "job_heartbeat",
    "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $4::float8),"
    " progress = $5, estimate_seconds = $6, updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND attempts = $3"
    " AND state IN ('building', 'running')"
    " RETURNING kill_requested_at IS NOT NULL AS kill",
    6};
static const db_stmt_t stmt_built = {
    "job_built",
    "UPDATE jobs SET state = 'running', dataset_id = $4, updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND state = 'building' RETURNING id",
    4};
static const db_stmt_t stmt_finish = {
    "job_finish",
    "UPDATE jobs SET state = $4, error = $5, result = $6::json, finished_at = now(),"
    " lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),"
    " progress = CASE WHEN $4 = 'succeeded' THEN 1 ELSE progress END,"
    " estimate_seconds = CASE WHEN $4 = 'succeeded' THEN 0 ELSE estimate_seconds END"
    " WHERE id = $1 AND lease_owner = $2 AND attempts = $3"
    " AND state IN ('building', 'running') RETURNING id",
    6};
static const db_stmt_t stmt_release = {
    "job_release",
    "UPDATE jobs SET"
    " state = CASE WHEN kill_requested_at IS NOT NULL THEN 'killed' ELSE 'queued' END,"
    " finished_at = CASE WHEN kill_requested_at IS NOT NULL THEN now() END,"
    " error = CASE WHEN kill_requested_at IS NOT NULL THEN 'killed' ELSE error END,"
    " lease_owner = NULL, lease_expires_at = NULL, attempts = greatest(attempts - 1, 0),"
    " updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND attempts = $3"
    " AND state IN ('building', 'running')"
    " RETURNING pg_notify('" JOBS_CHANNEL "', id::text)",
    3};
/* A crashed attempt: queued again while attempts remain (the attempt
 * counts), failed with the crash and the attempts named once they are
 * spent; a kill asked for meanwhile wins over both. */
static const db_stmt_t stmt_retry = {
    "job_retry",
    "WITH u AS (UPDATE jobs SET"
    " state = CASE WHEN kill_requested_at IS NOT NULL THEN 'killed'"
    "              WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,"
    " finished_at = CASE WHEN kill_requested_at IS NOT NULL OR attempts >= max_attempts"
    "                    THEN now() END,"
    " error = CASE WHEN kill_requested_at IS NOT NULL THEN 'killed'"
    "              ELSE $4 || ' on attempt ' || attempts || ' of ' || max_attempts END,"
    " lease_owner = NULL, lease_expires_at = NULL, updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND attempts = $3"
    " AND state IN ('building', 'running') RETURNING id, state, error),"
    " n AS (SELECT pg_notify('" JOBS_CHANNEL "', id::text) FROM u WHERE state = 'queued')"
    " SELECT state, error, (SELECT count(*) FROM n) AS notified FROM u",
    4};
static const db_stmt_t stmt_reap = {
    "job_reap",
    "WITH expired AS (SELECT id FROM jobs WHERE state IN ('building', 'running')"
    "   AND lease_expires_at < now() FOR UPDATE SKIP LOCKED),"
    " u AS (UPDATE jobs j SET"
    "   state = CASE WHEN j.kill_requested_at IS NOT NULL THEN 'killed'"
    "                WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'timed_out' END,"
    "   finished_at = CASE WHEN j.kill_requested_at IS NOT NULL"
    "                        OR j.attempts >= j.max_attempts THEN now() END,"
    "   error = CASE WHEN j.kill_requested_at IS NOT NULL THEN 'killed'"
    "                WHEN j.attempts >= j.max_attempts THEN"
    "                  'the trainer stopped answering ' || j.attempts || ' times; giving up'"
    "                ELSE j.error END,"
    "   lease_owner = NULL, lease_expires_at = NULL, updated_at = now()"
    "   FROM expired WHERE j.id = expired.id RETURNING j.id, j.state),"
    " n AS (SELECT pg_notify('" JOBS_CHANNEL "', '') FROM u WHERE state = 'queued' LIMIT 1)"
    " SELECT count(*) FILTER (WHERE state = 'queued') AS requeued,"
    "        count(*) FILTER (WHERE state <> 'queued') AS finished,"
    "        count(*) FILTER (WHERE state = 'timed_out') AS timed_out,"
    "        (SELECT count(*) FROM n) AS notified FROM u",
    0};
static const db_stmt_t stmt_trainer_seen = {
    "trainer_seen",
    "INSERT INTO trainers (id, host, pid, slots, seen_at) VALUES ($1, $2, $3, $4, now())"
    " ON CONFLICT (id) DO UPDATE SET host = $2, pid = $3, slots = $4, seen_at = now()",
    4};
static const db_stmt_t stmt_trainer_age = {
    "trainer_age", "SELECT extract(epoch FROM now() - max(seen_at))::float8 AS age FROM trainers",
    0};

/* --- row decoding ------------------------------------------------------ */

static void json_put(void *p)
{
    json_object_put(p);
}

static json_object *json_col(arena_t *arena, const PGresult *res, int row, const char *col)
{
    const char *v = db_get(res, row, col);
    if (v == NULL)
        return NULL;
    json_object *j = json_tokener_parse(v);
    arena_defer(arena, json_put, j);
    return j;
}

/* Strings point into res, which the arena owns. */
static void job_from_row(arena_t *arena, const PGresult *res, int row, job_t *j)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", db_get(res, row, "id"));
    j->workspace_id = db_get_ll(res, row, "workspace_id", 0);
    j->dialect = db_get(res, row, "dialect");
    if (job_state_parse(db_get(res, row, "state"), &j->state) != 0)
        j->state = JOB_FAILED;
    j->priority = (int)db_get_ll(res, row, "priority", 100);
    j->spec = json_col(arena, res, row, "spec");
    j->dataset_id = db_get(res, row, "dataset_id");
    j->bundle_id = db_get(res, row, "bundle_id");
    j->user_name = db_get(res, row, "user_name");
    j->dedupe_key = db_get(res, row, "dedupe_key");
    j->attempts = (int)db_get_ll(res, row, "attempts", 0);
    j->max_attempts = (int)db_get_ll(res, row, "max_attempts", 3);
    j->lease_owner = db_get(res, row, "lease_owner");
    j->lease_expires_at = db_get_double(res, row, "lease_expires_at", 0);
    j->kill_requested_at = db_get_double(res, row, "kill_requested_at", 0);
    j->progress = db_get_double(res, row, "progress", 0);
    j->estimate_seconds = db_get_double(res, row, "estimate_seconds", -1);
    j->error = db_get(res, row, "error");
    j->result = json_col(arena, res, row, "result");
    j->created_at = db_get_double(res, row, "created_at", 0);
    j->started_at = db_get_double(res, row, "started_at", 0);
    j->finished_at = db_get_double(res, row, "finished_at", 0);
    j->request_id = db_get(res, row, "request_id");
}

static const char *fmt_ll(arena_t *arena, long long v)
{
    return arena_sprintf(arena, "%lld", v);
}

static const char *fmt_double(arena_t *arena, double v)
{
    return arena_sprintf(arena, "%.17g", v);
}

static int job_not_found(err_t *e, const char *code, const char *id)
{
    return err_set(e, 404, code, "There is no job with id: %s", id ? id : "");
}

/* --- API side ------------------------------------------------------------ */

static int job_insert(db_t *db, arena_t *arena, job_t *job, err_t *e)
{
    const char *ws = fmt_ll(arena, job->workspace_id);
    if (job->priority <= 0)
        job->priority = 100;
    if (job->max_attempts <= 0)
        job->max_attempts = 3;
    const char *spec = job->spec ? json_object_to_json_string_ext(job->spec, JSON_C_TO_STRING_PLAIN)
                                 : "{}";
    if (job->request_id == NULL)
        job->request_id = db_request_id(db);
    const char *p[10] = {ws,
                        job->dialect,
                        fmt_ll(arena, job->priority),
                        spec,
                        job->dataset_id,
                        job->bundle_id,
                        job->user_name,
                        job->dedupe_key,
                        fmt_ll(arena, job->max_attempts),
                        job->request_id};
    PGresult *res;
    if (db_query(db, arena, &stmt_insert, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0) {
        if (db_query(db, arena, &stmt_refused, NULL, &res, e) != 0)
            return -1;
        const char *lim = db_get(res, 0, "lim");
        if (lim != NULL && *lim != '\0')
            return err_set(e, 429, "limit_exceeded",
                           "limit reached: at most %s queued jobs per workspace (max_queued = %s)",
                           lim, lim);
        return 1; /* a live job with the same dedupe key exists */
    }
    snprintf(job->id, sizeof(job->id), "%s", db_get(res, 0, "id"));
    job->state = JOB_QUEUED;
    job->attempts = 0;
    job->created_at = db_get_double(res, 0, "created_at", 0);
    return 0;
}

/* The live job holding job->dedupe_key: 1 and its id in job->id, or 0 if
 * none is live any more. */
static int job_dedupe_find(db_t *db, arena_t *arena, job_t *job, err_t *e)
{
    const char *p[2] = {fmt_ll(arena, job->workspace_id), job->dedupe_key};
    PGresult *res;
    if (db_query(db, arena, &stmt_dedupe_find, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return 0;
    snprintf(job->id, sizeof(job->id), "%s", db_get(res, 0, "id"));
    return 1;
}

int db_job_enqueue_in_tx(db_t *db, arena_t *arena, job_t *job, int *existing, err_t *e)
{
    if (existing)
        *existing = 0;
    /* The insert yields to a live job with the same dedupe key (waiting for
     * it to commit if it is in flight); that job may finish between the
     * insert and the lookup, hence the retry. */
    for (int tries = 0; tries < 3; tries++) {
        int rc = job_insert(db, arena, job, e);
        if (rc <= 0)
            return rc;
        int found = job_dedupe_find(db, arena, job, e);
        if (found != 0) {
            if (found > 0 && existing)
                *existing = 1;
            return found > 0 ? 0 : -1;
        }
    }
    return err_set(e, 409, "conflict", "an identical request is changing state; try again");
}

int db_job_enqueue(db_t *db, arena_t *arena, job_t *job, int *existing, err_t *e)
{
    /* One statement: no transaction of its own is needed. */
    return db_job_enqueue_in_tx(db, arena, job, existing, e);
}

static int job_get_with(db_t *db, arena_t *arena, const db_stmt_t *stmt, long long workspace_id,
                        const char *id, job_t *out, err_t *e)
{
    if (!util_is_uuid(id))
        return job_not_found(e, "not_found", id);
    const char *p[2] = {fmt_ll(arena, workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, stmt, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return job_not_found(e, "not_found", id);
    job_from_row(arena, res, 0, out);
    return 0;
}

int db_job_get(db_t *db, arena_t *arena, long long workspace_id, const char *id, job_t *out,
               err_t *e)
{
    return job_get_with(db, arena, &stmt_get, workspace_id, id, out, e);
}

int db_job_get_summary(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       job_t *out, err_t *e)
{
    return job_get_with(db, arena, &stmt_get_summary, workspace_id, id, out, e);
}

int db_job_list(db_t *db, arena_t *arena, long long workspace_id, int limit, int offset,
                job_t **out, size_t *n, err_t *e)
{
    const char *p[3] = {fmt_ll(arena, workspace_id), fmt_ll(arena, limit < 0 ? 100 : limit),
                        fmt_ll(arena, offset < 0 ? 0 : offset)};
    PGresult *res;
    if (db_query(db, arena, &stmt_list, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    *out = arena_calloc(arena, (size_t)rows + 1, sizeof(job_t));
    for (int i = 0; i < rows; i++)
        job_from_row(arena, res, i, &(*out)[i]);
    *n = (size_t)rows;
    return 0;
}

int db_job_counts(db_t *db, arena_t *arena, long long workspace_id, long long counts[7],
                  err_t *e)
{
    const char *p[1] = {fmt_ll(arena, workspace_id)};
    PGresult *res;
    if (db_query(db, arena, &stmt_counts, p, &res, e) != 0)
        return -1;
    memset(counts, 0, 7 * sizeof(counts[0]));
    for (int i = 0; i < PQntuples(res); i++) {
        job_state_t s;
        if (job_state_parse(db_get(res, i, "state"), &s) == 0)
            counts[s] = db_get_ll(res, i, "n", 0);
    }
    return 0;
}

int db_job_kill(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                job_state_t *state_after, err_t *e)
{
    if (!util_is_uuid(id))
        return job_not_found(e, "JOB_NOT_FOUND", id);
    const char *p[2] = {fmt_ll(arena, workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_kill, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 1) {
        job_state_t s = JOB_KILLED;
        job_state_parse(db_get(res, 0, "state"), &s);
        if (state_after)
            *state_after = s;
        return 0;
    }
    /* Nothing changed: unknown, or already final. */
    if (db_query(db, arena, &stmt_state, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return job_not_found(e, "JOB_NOT_FOUND", id);
    return err_set(e, 400, "JOB_NOT_RUNNING", "Job is not running, id: %s", id);
}

int db_job_log_append(db_t *db, arena_t *arena, const char *job_id, const char *stream,
                      const char *const *lines, size_t n, err_t *e)
{
    if (n == 0)
        return 0;
    json_object *arr = json_object_new_array_ext((int)n);
    arena_defer(arena, json_put, arr);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, json_object_new_string(lines[i] ? lines[i] : ""));
    const char *p[3] = {job_id, stream, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN)};
    return db_query(db, arena, &stmt_log_append, p, NULL, e);
}

int db_job_logs(db_t *db, arena_t *arena, long long workspace_id, const char *job_id,
                long long after_seq, int limit, json_object **out, err_t *e)
{
    if (!util_is_uuid(job_id))
        return job_not_found(e, "not_found", job_id);
    const char *ws = fmt_ll(arena, workspace_id);
    const char *p0[2] = {ws, job_id};
    PGresult *res;
    if (db_query(db, arena, &stmt_state, p0, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return job_not_found(e, "not_found", job_id);
    const char *p[4] = {ws, job_id, fmt_ll(arena, after_seq < 0 ? 0 : after_seq),
                        fmt_ll(arena, limit <= 0 ? 1000 : limit)};
    if (db_query(db, arena, &stmt_logs, p, &res, e) != 0)
        return -1;
    json_object *arr = json_object_new_array();
    arena_defer(arena, json_put, arr);
    for (int i = 0; i < PQntuples(res); i++) {
        json_object *o = json_object_new_object();
        char at[32];
        util_format_time(db_get_double(res, i, "at", 0), at);
        json_object_object_add(o, "seq", json_object_new_int64(db_get_ll(res, i, "seq", 0)));
        json_object_object_add(o, "at", json_object_new_string(at));
        json_object_object_add(o, "stream", json_object_new_string(db_get(res, i, "stream")));
        json_object_object_add(o, "line", json_object_new_string(db_get(res, i, "line")));
        json_object_array_add(arr, o);
    }
    *out = arr;
    return 0;
}

/* --- trainer side ------------------------------------------------------ */

int db_job_claim(db_t *db, arena_t *arena, const char *trainer_id, double lease_seconds,
                 job_t *out, int *got, err_t *e)
{
    *got = 0;
    const char *p[2] = {trainer_id, fmt_double(arena, lease_seconds)};
    PGresult *res;
    if (db_query(db, arena, &stmt_claim, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return 0;
    job_from_row(arena, res, 0, out);
    *got = 1;
    return 0;
}

int db_job_heartbeat(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                     int attempt, double lease_seconds, double progress, double estimate_seconds,
                     int *kill_requested, int *lease_lost, err_t *e)
{
    *kill_requested = 0;
    *lease_lost = 0;
    if (progress < 0)
        progress = 0;
    if (progress > 1)
        progress = 1;
    const char *p[6] = {job_id, trainer_id, fmt_ll(arena, attempt),
                        fmt_double(arena, lease_seconds), fmt_double(arena, progress),
                        estimate_seconds < 0 ? NULL : fmt_double(arena, estimate_seconds)};
    PGresult *res;
    if (db_query(db, arena, &stmt_heartbeat, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0) {
        *lease_lost = 1;
        return 0;
    }
    const char *k = db_get(res, 0, "kill");
    *kill_requested = k != NULL && strcmp(k, "t") == 0;
    return 0;
}

int db_job_built(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                 int attempt, const char *dataset_id, err_t *e)
{
    const char *p[4] = {job_id, trainer_id, fmt_ll(arena, attempt), dataset_id};
    PGresult *res;
    if (db_query(db, arena, &stmt_built, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 409, "lease_lost",
                       "job %s is no longer building for this trainer and attempt", job_id);
    return 0;
}

int db_job_finish(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                  int attempt, job_state_t state, const char *error, json_object *result,
                  int *lease_lost, err_t *e)
{
    *lease_lost = 0;
    if (!job_state_is_final(state))
        return err_set(e, 500, "internal", "finish with non-final state %s",
                       job_state_name(state));
    const char *p[6] = {job_id, trainer_id, fmt_ll(arena, attempt), job_state_name(state), error,
                        result ? json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN)
                               : NULL};
    PGresult *res;
    if (db_query(db, arena, &stmt_finish, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        *lease_lost = 1;
    return 0;
}

int db_job_release(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                   int attempt, err_t *e)
{
    const char *p[3] = {job_id, trainer_id, fmt_ll(arena, attempt)};
    return db_query(db, arena, &stmt_release, p, NULL, e);
}

int db_job_retry(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                 int attempt, const char *error, job_state_t *state_after, int *lease_lost,
                 err_t *e)
{
    *lease_lost = 0;
    const char *p[4] = {job_id, trainer_id, fmt_ll(arena, attempt), error ? error : "crashed"};
    PGresult *res;
    if (db_query(db, arena, &stmt_retry, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0) {
        *lease_lost = 1;
        return 0;
    }
    job_state_t s = JOB_FAILED;
    job_state_parse(db_get(res, 0, "state"), &s);
    if (state_after)
        *state_after = s;
    return 0;
}

int db_job_reap(db_t *db, arena_t *arena, int *requeued, int *timed_out, err_t *e)
{
    PGresult *res;
    if (db_query(db, arena, &stmt_reap, NULL, &res, e) != 0)
        return -1;
    int rq = (int)db_get_ll(res, 0, "requeued", 0);
    int to = (int)db_get_ll(res, 0, "timed_out", 0);
    if (requeued)
        *requeued = rq;
    if (timed_out)
        *timed_out = to;
    if (rq > 0 || to > 0)
        log_info("reaper: %d job(s) requeued, %d timed out", rq, to);
    return 0;
}

int db_trainer_seen(db_t *db, arena_t *arena, const char *trainer_id, const char *host, int pid,
                    int slots, err_t *e)
{
    const char *p[4] = {trainer_id, host, fmt_ll(arena, pid), fmt_ll(arena, slots)};
    return db_query(db, arena, &stmt_trainer_seen, p, NULL, e);
}

int db_trainer_last_seen_age(db_t *db, arena_t *arena, double *age, err_t *e)
{
    PGresult *res;
    if (db_query(db, arena, &stmt_trainer_age, NULL, &res, e) != 0)
        return -1;
    *age = db_get_double(res, 0, "age", -1);
    return 0;
}
