/*
 * jobs.h — the durable job queue.
 *
 * States: queued -> building -> running -> succeeded | failed | killed, and
 * timed_out when a job's lease expired more often than max_attempts allows.
 * Jobs of the Akkio and Strapi dialects skip "building" (nothing to build);
 * workspace jobs build first (bundle extraction, dataset ingest).
 *
 * Enqueue inserts and sends NOTIFY trainyard_jobs in one transaction, so an
 * idle trainer LISTENing on that channel wakes the moment the job commits.
 * Claim is one statement: UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
 * LOCKED LIMIT 1) ordered by priority then age, setting lease_owner,
 * lease_expires_at and attempts + 1; it is fair between workspaces (the
 * one with the fewest running jobs goes first). Every later write by a
 * trainer checks lease_owner and the attempt number of its claim, so a
 * trainer that lost its lease cannot overwrite anything.
 * Kill of a queued job cancels it at once; of a building/running job it sets
 * kill_requested_at and sends NOTIFY trainyard_kill with the job id.
 */
#ifndef TRAINYARD_DB_JOBS_H
#define TRAINYARD_DB_JOBS_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/util.h"
#include "db/db.h"

#define JOBS_CHANNEL "trainyard_jobs"
#define KILL_CHANNEL "trainyard_kill"
#define JOB_DONE_CHANNEL "trainyard_job_done" /* a job reached a final state (sql/0020) */

typedef enum job_state {
    JOB_QUEUED,
    JOB_BUILDING,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_KILLED,
    JOB_TIMED_OUT
} job_state_t;

const char *job_state_name(job_state_t s);           /* "queued", ... */
int job_state_parse(const char *s, job_state_t *out); /* -1 if unknown */
int job_state_is_final(job_state_t s);

typedef struct job {
    char id[UUID_STR_LEN + 1];
    long long workspace_id;
    const char *dialect;        /* "akkio" | "workspace" | "strapi" */
    job_state_t state;
    int priority;               /* lower runs first; default 100 */
    json_object *spec;          /* the training spec (DESIGN.md "Training spec") */
    const char *dataset_id;     /* NULL for bundle jobs until built */
    const char *bundle_id;      /* artifact id of the source bundle, or NULL */
    const char *user_name;      /* workspace dialect's ?user=, or NULL */
    const char *dedupe_key;     /* Akkio "same request" key, or NULL */
    int attempts;
    int max_attempts;           /* default 3 */
    const char *lease_owner;    /* trainer id while claimed */
    double lease_expires_at;    /* epoch seconds, 0 if none */
    double kill_requested_at;   /* epoch seconds, 0 if none */
    double progress;            /* 0..1 */
    double estimate_seconds;    /* remaining, < 0 if unknown */
    const char *error;          /* failure text, or NULL */
    json_object *result;        /* the training result (succeeded), or NULL */
    double created_at, started_at, finished_at; /* epoch seconds, 0 if not yet */
    const char *request_id;     /* X-Request-Id of the request that created it, or NULL
                                   (set on insert from db_request_id) */
} job_t;

/* Inserts job (id generated into job->id, state queued) and notifies, in one
 * statement (so in one transaction). 429 "limit_exceeded" when the
 * workspace already has max_queued jobs queued: never one job too many,
 * even under concurrency; at the instant the workspace's bound reaches the
 * limit a job that would just have fitted may be refused (sql/0004). If job->dedupe_key is set and a job of
 * the same workspace with that key is queued/building/running/succeeded,
 * nothing is inserted:
 * *existing = 1 and job->id is that job's id. The arena owns any strings. */
int db_job_enqueue(db_t *db, arena_t *arena, job_t *job, int *existing, err_t *e);

/* Same, but joins a transaction the caller opened (no BEGIN/COMMIT; the
 * NOTIFY is delivered when the caller commits). */
int db_job_enqueue_in_tx(db_t *db, arena_t *arena, job_t *job, int *existing, err_t *e);

/* Fetches a job of this workspace: -1 with 404 "not_found" if it does not
 * exist or belongs to another workspace (indistinguishable on purpose). */
int db_job_get(db_t *db, arena_t *arena, long long workspace_id, const char *id, job_t *out,
               err_t *e);

/* Same without the result document (result = NULL): for status polls. */
int db_job_get_summary(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       job_t *out, err_t *e);

/* Lists the workspace's jobs, newest first (without their result documents). */
int db_job_list(db_t *db, arena_t *arena, long long workspace_id, int limit, int offset,
                job_t **out, size_t *n, err_t *e);

/* Counts of the workspace's jobs by state (index = job_state_t);
 * workspace_id 0 counts every workspace (for /metrics). */
int db_job_counts(db_t *db, arena_t *arena, long long workspace_id, long long counts[7],
                  err_t *e);

/* Kill. queued -> killed at once; building/running -> kill requested (the
 * owning trainer finishes it as killed). -1 with 404 if unknown, 400
 * "JOB_NOT_RUNNING" if already final. *state_after tells which happened. */
int db_job_kill(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                job_state_t *state_after, err_t *e);

/* Appends log lines (one row each, in order). */
int db_job_log_append(db_t *db, arena_t *arena, const char *job_id, const char *stream,
                      const char *const *lines, size_t n, err_t *e);

/* Reads log lines after seq (0 = from the start), up to limit. Each element
 * of the returned array is {"seq","at","stream","line"}. */
int db_job_logs(db_t *db, arena_t *arena, long long workspace_id, const char *job_id,
                long long after_seq, int limit, json_object **out, err_t *e);

/* --- trainer side ---------------------------------------------------- */

/* Claims the next queued job for trainer_id with a lease of lease_seconds.
 * Fair between workspaces: the next job comes from the workspace with the
 * fewest jobs running (ties: priority, then age of its next job), skipping
 * workspaces at their max_running; within a workspace, priority then age.
 * *got = 0 when nothing can be claimed. The claimed job is building (bundle
 * jobs) or running (others), started_at set on the first attempt, and
 * out->attempts is the claim's attempt number: pass it to every call below. */
int db_job_claim(db_t *db, arena_t *arena, const char *trainer_id, double lease_seconds,
                 job_t *out, int *got, err_t *e);

/* Every call below is fenced by (trainer_id, attempt): it writes nothing
 * unless the job is still held by that trainer under that very claim, so a
 * stale claim cannot touch a job that was reaped and claimed again, even by
 * the same trainer id. */

/* Renews the lease and records progress. *kill_requested tells whether a
 * kill was asked for; *lease_lost that the job is no longer ours (stop
 * working on it, write nothing). */
int db_job_heartbeat(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                     int attempt, double lease_seconds, double progress, double estimate_seconds,
                     int *kill_requested, int *lease_lost, err_t *e);

/* building -> running, setting the dataset the build produced; 409
 * "lease_lost" if the claim is no longer current. */
int db_job_built(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                 int attempt, const char *dataset_id, err_t *e);

/* Finishes a job exactly once: state must be final; sets error/result and
 * finished_at, clears the lease, only under the current claim and while the
 * job is not final yet. *lease_lost = 1 (and nothing written) otherwise.
 * Joins the caller's transaction if one is open (models are inserted in the
 * same transaction as the finish). */
int db_job_finish(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                  int attempt, job_state_t state, const char *error, json_object *result,
                  int *lease_lost, err_t *e);

/* Hands a job back (trainer shutting down, database lost under the child):
 * queued again, lease cleared, the attempt not counted; killed instead if a
 * kill was requested. */
int db_job_release(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                   int attempt, err_t *e);

/* A crashed attempt (the child died by a signal it did not ask for):
 * queued again while attempts remain, the attempt counted; failed once they
 * are spent, with error "<error> on attempt N of M"; killed if a kill was
 * requested. *state_after tells which; *lease_lost = 1 if the claim was no
 * longer current (nothing written). */
int db_job_retry(db_t *db, arena_t *arena, const char *job_id, const char *trainer_id,
                 int attempt, const char *error, job_state_t *state_after, int *lease_lost,
                 err_t *e);

/* Requeues jobs whose lease expired (attempts < max_attempts) and marks the
 * rest timed_out; kill-requested ones with an expired lease become killed. */
int db_job_reap(db_t *db, arena_t *arena, int *requeued, int *timed_out, err_t *e);

/* Registers/refreshes a trainer in `trainers` (for /healthz). */
int db_trainer_seen(db_t *db, arena_t *arena, const char *trainer_id, const char *host, int pid,
                    int slots, err_t *e);

/* Seconds since the most recently seen trainer checked in (-1 if never). */
int db_trainer_last_seen_age(db_t *db, arena_t *arena, double *age, err_t *e);

#endif
