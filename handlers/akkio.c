/*
 * akkio.c — the Akkio-compatible training API (seeds/002).
 *
 *   POST /api/v1/models/train/new          201 {"task_id"}
 *   GET  /api/v1/models/train/{id}/status  200 {"status","metadata":{...}}
 *   GET  /api/v1/models/train/{id}/result  200 {"status":"success","model_id","stats",...}
 *   GET  /models/train/{id}/result         the same (the status location joined to the host)
 *
 * Job states map onto Akkio's Celery-style enum: queued -> PENDING,
 * building|running -> IN_PROGRESS, succeeded -> SUCCEEDED, failed|killed ->
 * FAILED, timed_out -> UNKNOWN_TIMEOUT. A failed task still answers the
 * status call with 200, as the seed's service does.
 *
 * Without `force`, an identical request (same dataset, fields, duration,
 * options) whose model exists or is being trained returns that task again
 * instead of training twice, with "existing": true beside the task_id.
 */
#include "handlers/handlers.h"

#include <math.h>
#include <string.h>

#include "common/log.h"
#include "db/jobs.h"
#include "handlers/app.h"
#include "handlers/spec.h"
#include "handlers/lineage.h"
#include "handlers/support.h"
#include "common/util.h"

int akkio_train_new(request_t *r)
{
    dataset_rec_t ds;
    json_object *spec;
    if (spec_build(r, r->body, "body", &ds, &spec, &r->err) != 0)
        return -1;
    json_object *force;
    int forced = json_object_object_get_ex(r->body, "force", &force) &&
                 json_object_get_boolean(force);
    job_t job;
    memset(&job, 0, sizeof(job));
    job.workspace_id = r->auth.workspace_id;
    job.dialect = "akkio";
    job.spec = spec;
    job.dataset_id = ds.id;
    job.priority = 100;
    job.max_attempts = 3;
    job.dedupe_key = forced ? NULL : spec_dedupe_key(r, spec);
    int existing = 0;
    if (db_job_enqueue(app_of(r)->db, r->arena, &job, &existing, &r->err) != 0)
        return -1;
    /* The line that ties nginx's access line (same request id) to the job. */
    log_info("train/new: job %s %s in workspace %s (dataset %s)", job.id,
             existing ? "already exists" : "queued",
             r->auth.workspace_name ? r->auth.workspace_name : "?", ds.id);
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "task_id", json_object_new_string(job.id));
    /* Still 201 (clients check for it), but say that nothing new was queued. */
    if (existing)
        json_object_object_add(doc, "existing", json_object_new_boolean(1));
    return req_reply_json(r, 201, doc);
}

/* Loads the caller's job named in the path, as Akkio's 404 when unknown;
 * with_result also fetches the (large) result document. */
static int akkio_load_task(request_t *r, job_t *job, int with_result)
{
    int (*get)(db_t *, arena_t *, long long, const char *, job_t *, err_t *) =
        with_result ? db_job_get : db_job_get_summary;
    if (!util_is_uuid(r->params[0]) ||
        get(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0], job, &r->err) != 0) {
        if (r->err.status >= 500)
            return -1;
        err_clear(&r->err);
        return err_set(&r->err, 404, "not_found", "Task not found: %s", r->params[0]);
    }
    return 0;
}

static const char *akkio_status_name(job_state_t s)
{
    switch (s) {
    case JOB_QUEUED: return "PENDING";
    case JOB_BUILDING:
    case JOB_RUNNING: return "IN_PROGRESS";
    case JOB_SUCCEEDED: return "SUCCEEDED";
    case JOB_FAILED:
    case JOB_KILLED: return "FAILED";
    case JOB_TIMED_OUT: return "UNKNOWN_TIMEOUT";
    }
    return "PENDING";
}

const char *akkio_failure_text(const job_t *job)
{
    if (job->error != NULL && *job->error != '\0')
        return job->error;
    if (job->state == JOB_KILLED)
        return "The task was killed on request.";
    if (job->state == JOB_TIMED_OUT)
        return "The task lost its trainer too many times and was given up.";
    return "Unable to complete request. Please verify your inputs, try again later.";
}

int akkio_status(request_t *r)
{
    job_t job;
    if (akkio_load_task(r, &job, 0) != 0)
        return -1;
    /* ?wait=N (trainyard's addition, at most 240): a task not yet final is
     * answered when it ends or after N seconds, whichever comes first,
     * without holding a worker meanwhile (req_park). */
    if (req_resumed(r) != REQ_RESUMED_TIMEOUT && !job_state_is_final(job.state)) {
        long long wait = 0;
        if (support_query_int(r, "wait", 0, 0, 240, &wait, &r->err) != 0)
            return -1;
        if (wait > 0 &&
            req_park(r, arena_sprintf(r->arena, "job:%s", job.id), (double)wait, job.id) == 0)
            return 0;
    }
    json_object *doc = support_own(r, json_object_new_object());
    json_object *meta = json_object_new_object();
    const char *status = akkio_status_name(job.state);
    json_object_object_add(doc, "status", json_object_new_string(status));
    switch (job.state) {
    case JOB_QUEUED:
        json_object_object_add(meta, "type", json_object_new_string("PENDING"));
        break;
    case JOB_BUILDING:
    case JOB_RUNNING:
        json_object_object_add(meta, "type", json_object_new_string("IN_PROGRESS"));
        support_json_double(meta, "estimate_seconds",
                            job.estimate_seconds >= 0 ? job.estimate_seconds : (double)NAN);
        json_object_object_add(meta, "progress", json_object_new_double(job.progress));
        break;
    case JOB_SUCCEEDED:
        json_object_object_add(meta, "type", json_object_new_string("SUCCEEDED"));
        json_object_object_add(meta, "location",
                               json_object_new_string(arena_sprintf(
                                   r->arena, "/models/train/%s/result", job.id)));
        break;
    case JOB_FAILED:
    case JOB_KILLED:
        json_object_object_add(meta, "type", json_object_new_string("FAILED"));
        json_object_object_add(meta, "error", json_object_new_string(akkio_failure_text(&job)));
        break;
    case JOB_TIMED_OUT:
        /* Its own type, so that a client switching on metadata.type (the
         * seed's discriminator) sees the status it was told; "message" as
         * the seed's other free-text members, "error" kept for clients that
         * read FAILED's field. */
        json_object_object_add(meta, "type", json_object_new_string("UNKNOWN_TIMEOUT"));
        json_object_object_add(meta, "message",
                               json_object_new_string(akkio_failure_text(&job)));
        json_object_object_add(meta, "error", json_object_new_string(akkio_failure_text(&job)));
        break;
    }
    /* The request that created the task (its X-Request-Id), for tracing. */
    if (job.request_id != NULL)
        json_object_object_add(meta, "request_id", json_object_new_string(job.request_id));
    json_object_object_add(doc, "metadata", meta);
    return req_reply_json(r, 200, doc);
}

int akkio_result(request_t *r)
{
    job_t job;
    if (akkio_load_task(r, &job, 1) != 0)
        return -1;
    if (job.state != JOB_SUCCEEDED || job.result == NULL) {
        if (job_state_is_final(job.state))
            return err_set(&r->err, 409, "task_failed", "Task %s did not succeed (%s): %s",
                           job.id, akkio_status_name(job.state), akkio_failure_text(&job));
        return err_set(&r->err, 409, "task_not_ready",
                       "Task %s has no result yet (status %s); poll its status until SUCCEEDED",
                       job.id, akkio_status_name(job.state));
    }
    return req_reply_json(r, 200, akkio_result_doc(r, &job));
}

json_object *akkio_result_doc(request_t *r, const job_t *job)
{
    /* The seed's documented order first, trainyard's additions after. */
    static const char *const order[] = {"status", "model_id", "stats", "field_importance",
                                        "data_story"};
    json_object *doc = support_own(r, json_object_new_object());
    json_object *v;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (json_object_object_get_ex(job->result, order[i], &v))
            json_object_object_add(doc, order[i], json_object_get(v));
    json_object_object_foreach(job->result, key, val) {
        if (!json_object_object_get_ex(doc, key, NULL))
            json_object_object_add(doc, key, json_object_get(val));
    }
    /* Where the model came from (handlers/lineage.h). An extra: a lookup
     * that fails leaves it out rather than failing the result. */
    json_object *mid = NULL, *lineage = NULL;
    if (json_object_object_get_ex(doc, "model_id", &mid) && mid != NULL) {
        if (lineage_of_model(r, json_object_get_string(mid), &lineage) == 0)
            json_object_object_add(doc, "lineage", lineage);
        else
            err_clear(&r->err);
    }
    return doc;
}
