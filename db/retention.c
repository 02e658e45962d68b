/*
 * retention.c — the storage collector (see retention.h).
 *
 * Every step is one statement that deletes at most GC_BATCH rows and says
 * how many it deleted; the pass repeats a step until a batch comes back
 * short (or GC_ROUNDS batches ran, leaving the rest for the next pass), each
 * batch in its own implicit transaction. Jobs and models that are deleted
 * leave their artifacts unreferenced: step 4 of the same pass collects them
 * once the grace has passed since their creation, which is long past for
 * anything old enough to be expired.
 *
 * What must survive, reference by reference (sql/), and where it is kept:
 *   models.job_id -> jobs (CASCADE)       step 2 never deletes a job that
 *                                          still has a model
 *   job_logs.job_id -> jobs (CASCADE)     logs go with or before their job
 *   models.pinned (0012)                  step 1 never ranks them
 *   a model's own unfinished job          step 1 keeps the model
 *   a model named in an unfinished job's  step 1 keeps the model (the same
 *     spec (warm start, ensemble...)       check as DELETE, models_admin.c)
 *   models.artifact_id -> artifacts       step 4 keeps it
 *   datasets.artifact_id (SET NULL)       step 4 keeps a live dataset's bytes
 *   jobs.dataset_artifact_id (0033)       step 4 keeps bytes an unfinished
 *                                          job was submitted on (an append
 *                                          since has replaced them)
 *   jobs.bundle_id (SET NULL)             step 4 keeps a job's bundle while
 *                                          the job row exists
 *   kaos_bundles.artifact_id (SET NULL)   step 4 keeps KAOS's bundles
 *   trainings.job_id (SET NULL)           a Strapi document outlives its job
 *                                          by design: only finished jobs
 *                                          without models are deleted, and
 *                                          the document keeps its metrics
 * Datasets themselves, workspaces and keys are never collected here.
 */
#include "db/retention.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define GC_BATCH "1000"
#define GC_ROUNDS 100
/* Any constant; the same in every process. */
#define GC_LOCK_KEY "7311955012"

#define FINISHED "('succeeded', 'failed', 'killed', 'timed_out')"
#define UNFINISHED "('queued', 'building', 'running')"

/* A model beyond the newest K of its dataset is deleted unless something
 * not yet over needs it: pinned models are not even ranked (they take no
 * place among the K); a model whose own job is unfinished (a grid job
 * stores its first models before it ends) or that an unfinished job of the
 * workspace names anywhere in its spec (a warm start, an ensemble, a batch
 * scoring: the check db_model_delete makes, db/models_admin.c) is ranked
 * but kept, and goes in a later pass once that job is over. */
static const db_stmt_t stmt_models = {
    "gc_models",
    "WITH ranked AS ("
    " SELECT m.id, m.job_id, m.workspace_id, coalesce(wr.keep_models, $1::int) AS keep,"
    "  row_number() OVER (PARTITION BY m.workspace_id, m.dataset_id"
    "                     ORDER BY m.created_at DESC, m.seq DESC) AS rn"
    " FROM models m LEFT JOIN workspace_retention wr ON wr.workspace_id = m.workspace_id"
    " WHERE NOT m.pinned AND m.dataset_id IS NOT NULL),"
    " d AS (DELETE FROM models WHERE id IN (SELECT r.id FROM ranked r"
    "       WHERE r.keep > 0 AND r.rn > r.keep"
    "         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id"
    "                         AND j.state IN " UNFINISHED ")"
    "         AND NOT EXISTS (SELECT 1 FROM jobs u WHERE u.workspace_id = r.workspace_id"
    "                         AND u.state IN " UNFINISHED
    "                         AND jsonb_path_exists(u.spec, 'strict $.** ? (@ == $m)',"
    "                                               jsonb_build_object('m', r.id::text)))"
    "       LIMIT " GC_BATCH ") RETURNING 1)"
    " SELECT count(*) AS n FROM d",
    1};

static const db_stmt_t stmt_jobs = {
    "gc_jobs",
    "WITH d AS (DELETE FROM jobs WHERE id IN ("
    " SELECT j.id FROM jobs j LEFT JOIN workspace_retention wr ON wr.workspace_id = j.workspace_id"
    " WHERE j.state IN " FINISHED " AND coalesce(wr.keep_days, $1::int) > 0"
    "   AND j.finished_at < now() - make_interval(days => coalesce(wr.keep_days, $1::int))"
    "   AND NOT EXISTS (SELECT 1 FROM models m WHERE m.job_id = j.id)"
    " LIMIT " GC_BATCH ") RETURNING 1)"
    " SELECT count(*) AS n FROM d",
    1};

static const db_stmt_t stmt_logs = {
    "gc_logs",
    "WITH d AS (DELETE FROM job_logs WHERE id IN ("
    " SELECT l.id FROM jobs j"
    " LEFT JOIN workspace_retention wr ON wr.workspace_id = j.workspace_id"
    " JOIN job_logs l ON l.job_id = j.id"
    " WHERE j.state IN " FINISHED " AND coalesce(wr.keep_days, $1::int) > 0"
    "   AND j.finished_at < now() - make_interval(days => coalesce(wr.keep_days, $1::int))"
    " LIMIT " GC_BATCH "0) RETURNING 1)"
    " SELECT count(*) AS n FROM d",
    1};

static const db_stmt_t stmt_artifacts = {
    "gc_artifacts",
    "WITH d AS (DELETE FROM artifacts WHERE id IN ("
    " SELECT a.id FROM artifacts a"
    " WHERE a.created_at < now() - make_interval(secs => $1::double precision)"
    "   AND NOT EXISTS (SELECT 1 FROM datasets x WHERE x.artifact_id = a.id)"
    "   AND NOT EXISTS (SELECT 1 FROM models x WHERE x.artifact_id = a.id)"
    "   AND NOT EXISTS (SELECT 1 FROM kaos_bundles x WHERE x.artifact_id = a.id)"
    "   AND NOT EXISTS (SELECT 1 FROM jobs x WHERE x.bundle_id = a.id)"
    "   AND NOT EXISTS (SELECT 1 FROM jobs x WHERE x.dataset_artifact_id = a.id"
    "                   AND x.state IN " UNFINISHED ")"
    " LIMIT " GC_BATCH ") RETURNING size)"
    " SELECT count(*) AS n, coalesce(sum(size), 0)::bigint AS bytes FROM d",
    1};

static const db_stmt_t stmt_lock = {
    "gc_lock", "SELECT pg_try_advisory_lock(" GC_LOCK_KEY ") AS got", 0};
static const db_stmt_t stmt_unlock = {
    "gc_unlock", "SELECT pg_advisory_unlock(" GC_LOCK_KEY ")", 0};

static const db_stmt_t stmt_retention = {
    "retention_set",
    "INSERT INTO workspace_retention (workspace_id, keep_days, keep_models)"
    " SELECT id, $2::int, $3::int FROM workspaces WHERE name = $1"
    " ON CONFLICT (workspace_id) DO UPDATE SET keep_days = excluded.keep_days,"
    "  keep_models = excluded.keep_models, updated_at = now()"
    " RETURNING workspace_id",
    3};

static const db_stmt_t stmt_pin = {
    "model_pin", "UPDATE models SET pinned = $2::boolean WHERE id = $1::uuid RETURNING id", 2};

/* Runs one step until a short batch; adds to *n (and *bytes). */
static int gc_step(db_t *db, const db_stmt_t *stmt, const char *param, double deadline,
                   long long *n, long long *bytes, err_t *e)
{
    const char *p[1] = {param};
    for (int round = 0; round < GC_ROUNDS; round++) {
        if (deadline > 0 && util_now_monotonic() > deadline)
            break;
        PGresult *res;
        if (db_query(db, NULL, stmt, p, &res, e) != 0)
            return -1;
        long long got = db_get_ll(res, 0, "n", 0);
        if (bytes)
            *bytes += db_get_ll(res, 0, "bytes", 0);
        PQclear(res);
        *n += got;
        if (got < 1000)
            break;
    }
    return 0;
}

int db_gc_run(db_t *db, const gc_policy_t *policy, gc_report_t *out, err_t *e)
{
    memset(out, 0, sizeof(*out));
    PGresult *res;
    if (db_query(db, NULL, &stmt_lock, NULL, &res, e) != 0)
        return -1;
    int got = strcmp(db_get(res, 0, "got") ? db_get(res, 0, "got") : "f", "t") == 0;
    PQclear(res);
    if (!got)
        return 0;
    out->ran = 1;
    char days[16], models[16], grace[32];
    snprintf(days, sizeof(days), "%d", policy->keep_days < 0 ? 0 : policy->keep_days);
    snprintf(models, sizeof(models), "%d", policy->keep_models < 0 ? 0 : policy->keep_models);
    snprintf(grace, sizeof(grace), "%.3f", policy->orphan_grace < 0 ? 0 : policy->orphan_grace);
    double deadline = policy->budget > 0 ? util_now_monotonic() + policy->budget : 0;
    int rc = gc_step(db, &stmt_models, models, deadline, &out->models, NULL, e);
    if (rc == 0)
        rc = gc_step(db, &stmt_jobs, days, deadline, &out->jobs, NULL, e);
    if (rc == 0)
        rc = gc_step(db, &stmt_logs, days, deadline, &out->logs, NULL, e);
    if (rc == 0)
        rc = gc_step(db, &stmt_artifacts, grace, deadline, &out->artifacts, &out->bytes, e);
    err_t ignore;
    err_clear(&ignore);
    db_query(db, NULL, &stmt_unlock, NULL, NULL, &ignore);
    return rc;
}

int db_retention_set(db_t *db, arena_t *arena, const char *workspace, int keep_days,
                     int keep_models, err_t *e)
{
    char d[16], m[16];
    snprintf(d, sizeof(d), "%d", keep_days);
    snprintf(m, sizeof(m), "%d", keep_models);
    const char *p[3] = {workspace, keep_days < 0 ? NULL : d, keep_models < 0 ? NULL : m};
    PGresult *res;
    if (db_query(db, arena, &stmt_retention, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no workspace \"%s\"", workspace);
    return 0;
}

int db_model_pin(db_t *db, arena_t *arena, const char *model_id, int pinned, err_t *e)
{
    if (!util_is_uuid(model_id))
        return err_set(e, 404, "not_found", "no model \"%s\"", model_id);
    const char *p[2] = {model_id, pinned ? "true" : "false"};
    PGresult *res;
    if (db_query(db, arena, &stmt_pin, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 404, "not_found", "no model \"%s\"", model_id);
    return 0;
}
