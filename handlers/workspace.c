/*
 * workspace.c — the workspace-scoped jobs API (seeds/001, after KAOS).
 *
 *   GET    /train/{ws}                        jobs of the workspace (page_id)
 *   GET    /train/{ws}/inspect                the pipeline: counts by state, trainers
 *   POST   /train/{ws}?user=                  submit a source bundle (tar.gz) -> job
 *   POST   /train/{ws}/{job_id}               job info + its trained models, paged
 *                                             (page_id, sort_by); GET answers the same
 *   GET    /train/{ws}/{job_id}/bundle        the job's bundle: include-code, -data, -model
 *   GET    /train/{ws}/{model_id}/provenance  model -> job, code, data, parameters
 *   GET    /train/{ws}/{job_id}/logs          the job's log lines (after, limit)
 *   DELETE /train/{ws}/{job_id}/              kill a building or running job
 *
 * Errors take the seed's shape {"error_code":"JOB_NOT_FOUND","message":...}.
 * The workspace in the path is one of the key's account's (another
 * account's is a 404 like an unknown one); answers are KAOS's
 * {"response": ...}, job info {"page_id","page_count","response"}, logs a
 * bare string, and what KAOS answers bare (inspect's inputs, an upload's
 * glob_name) also sits beside "response", where its client reads it. Jobs
 * made from KAOS source bundles (the sandbox runner) answer job info,
 * provenance and bundle downloads through handlers/kaos.c.
 *
 * A bundle upload is teed, chunk by chunk, into its artifact and into an
 * unlinked temporary file; once the body is in, libarchive re-reads the
 * temporary file to check every entry and trainyard.json (bundle/bundle.h).
 * Only a valid bundle commits, together with its job.
 */
#include "handlers/handlers.h"

#include <archive.h>
#include <archive_entry.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "common/log.h"
#include "db/accounts.h"
#include "db/artifacts.h"
#include "db/datasets.h"
#include "db/jobs.h"
#include "db/limits.h"
#include "db/models.h"
#include "fcgi/multipart.h"
#include "handlers/app.h"
#include "handlers/kaos.h"
#include "handlers/spec.h"
#include "handlers/lineage.h"
#include "handlers/support.h"
#include "handlers/tarball.h"

#define WS_PAGE_SIZE 20
#define WS_CHUNK (256 * 1024)

static int ws_check(request_t *r)
{
    return kaos_workspace_enter(r, r->params[0]);
}

static int ws_job_load(request_t *r, const char *id, job_t *job)
{
    if (!util_is_uuid(id) ||
        db_job_get(app_of(r)->db, r->arena, r->auth.workspace_id, id, job, &r->err) != 0) {
        if (r->err.status >= 500)
            return -1;
        err_clear(&r->err);
        return err_set(&r->err, 404, "JOB_NOT_FOUND", "There is no job with id: %s", id);
    }
    return 0;
}

static json_object *ws_job_summary(const job_t *job)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "job_id", json_object_new_string(job->id));
    json_object_object_add(o, "state", json_object_new_string(job_state_name(job->state)));
    json_object_object_add(o, "status", json_object_new_string(kaos_state_name(job->state)));
    support_json_str(o, "dialect", job->dialect);
    support_json_str(o, "user", job->user_name);
    support_json_str(o, "dataset_id", job->dataset_id);
    json_object *pf = NULL;
    if (job->spec != NULL)
        json_object_object_get_ex(job->spec, "predict_fields", &pf);
    json_object_object_add(o, "predict_fields", json_object_get(pf));
    json_object_object_add(o, "progress", json_object_new_double(job->progress));
    json_object_object_add(o, "attempts", json_object_new_int(job->attempts));
    support_json_time(o, "created_at", job->created_at);
    support_json_time(o, "started_at", job->started_at);
    support_json_time(o, "finished_at", job->finished_at);
    double end = job->finished_at > 0 ? job->finished_at : util_now_wall();
    support_json_double(o, "duration_seconds",
                        job->started_at > 0 ? end - job->started_at : (double)NAN);
    support_json_str(o, "error", job->error);
    /* KAOS's SubmissionInfo: its client sorts queued jobs by "started" (a
     * string, never null: the queueing time until the job starts) and shows
     * "duration" in whole seconds. */
    support_json_time(o, "started", job->started_at > 0 ? job->started_at : job->created_at);
    json_object_object_add(o, "duration",
                           json_object_new_int64(job->started_at > 0 && end > job->started_at
                                                     ? (int64_t)(end - job->started_at)
                                                     : 0));
    support_json_str(o, "request_id", job->request_id); /* the request that created it */
    return o;
}

/* A job as KAOS's SubmissionInfo (kaos_model/common.py): job_id, state
 * (its JOB_* names), started, duration (whole seconds), progress (a
 * string), hyperopt ("True" when the job runs several hyperparameter
 * files), first and in that order; its client prints these rows as a
 * table, reading "state" and "started" (cli/kaos_cli/utils/rendering.py,
 * render_queued_table), so every row carries the same keys. Then the rest
 * of the summary, with trainyard's own state name as "status". */
static json_object *ws_job_submission(const job_t *job)
{
    json_object *sum = ws_job_summary(job);
    json_object *o = json_object_new_object(), *v;
    json_object_object_add(o, "job_id", json_object_new_string(job->id));
    json_object_object_add(o, "state", json_object_new_string(kaos_state_name(job->state)));
    json_object_object_get_ex(sum, "started", &v);
    json_object_object_add(o, "started", json_object_get(v));
    json_object_object_get_ex(sum, "duration", &v);
    json_object_object_add(o, "duration", json_object_get(v));
    char progress[64];
    snprintf(progress, sizeof(progress), "Progress: %.2f%%",
             100.0 * (job->progress > 0 ? (job->progress < 1 ? job->progress : 1) : 0));
    json_object_object_add(o, "progress", json_object_new_string(progress));
    json_object *params = NULL, *files = NULL;
    int hyperopt = job->spec != NULL && json_object_object_get_ex(job->spec, "params", &params) &&
                   json_object_object_get_ex(params, "files", &files) &&
                   json_object_array_length(files) > 1;
    json_object_object_add(o, "hyperopt", json_object_new_string(hyperopt ? "True" : "False"));
    json_object_object_add(o, "status", json_object_new_string(job_state_name(job->state)));
    json_object_object_foreach(sum, key, val) {
        if (!json_object_object_get_ex(o, key, NULL))
            json_object_object_add(o, key, json_object_get(val));
    }
    json_object_put(sum);
    return o;
}

int ws_list(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    long long page;
    if (support_query_int(r, "page_id", 0, 0, 1000000, &page, &r->err) != 0)
        return -1;
    job_t *jobs;
    size_t n;
    if (db_job_list(app_of(r)->db, r->arena, r->auth.workspace_id, WS_PAGE_SIZE,
                    (int)(page * WS_PAGE_SIZE), &jobs, &n, &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object *building = json_object_new_array(), *training = json_object_new_array();
    json_object *all = json_object_new_array();
    /* "jobs": trainyard's own listing (its console reads it); "building"
     * and "training": KAOS's TrainJobListing of SubmissionInfo rows. */
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(jobs[i].state == JOB_BUILDING ? building : training,
                              ws_job_submission(&jobs[i]));
        json_object_array_add(all, ws_job_summary(&jobs[i]));
    }
    json_object_object_add(doc, "workspace", json_object_new_string(r->params[0]));
    json_object_object_add(doc, "page_id", json_object_new_int64(page));
    json_object_object_add(doc, "jobs", all);
    json_object_object_add(doc, "building", building);
    json_object_object_add(doc, "training", training);
    json_object *ingesting = json_object_new_array();
    static const char *const kinds[] = {"data", "params"};
    for (size_t k = 0; k < 2; k++) {
        kaos_bundle_t *bs;
        size_t nb;
        if (db_kaos_bundle_list(app_of(r)->db, r->arena, r->auth.workspace_id, kinds[k],
                                WS_PAGE_SIZE, &bs, &nb, &r->err) != 0)
            return -1;
        for (size_t i = 0; i < nb; i++) {
            /* SubmissionInfo too: an upload is ingested at once */
            json_object *o = json_object_new_object();
            json_object_object_add(o, "job_id", json_object_new_string(bs[i].id));
            json_object_object_add(o, "state", json_object_new_string("JOB_SUCCESS"));
            support_json_time(o, "started", bs[i].created_at);
            json_object_object_add(o, "duration", json_object_new_int(0));
            json_object_object_add(o, "progress", json_object_new_string("Progress: 100.00%"));
            json_object_object_add(o, "kind", json_object_new_string(kinds[k]));
            json_object_object_add(o, "sha256", json_object_new_string(bs[i].sha256));
            support_json_str(o, "user", bs[i].user_name);
            support_json_time(o, "created_at", bs[i].created_at);
            json_object_array_add(ingesting, o);
        }
    }
    json_object_object_add(doc, "ingesting", ingesting);
    return kaos_reply(r, doc);
}

int ws_inspect(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    long long counts[7];
    double age = -1;
    if (db_job_counts(app_of(r)->db, r->arena, r->auth.workspace_id, counts, &r->err) != 0 ||
        db_trainer_last_seen_age(app_of(r)->db, r->arena, &age, &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "workspace", json_object_new_string(r->params[0]));
    json_object *states = json_object_new_object();
    for (int s = JOB_QUEUED; s <= JOB_TIMED_OUT; s++)
        json_object_object_add(states, job_state_name((job_state_t)s),
                               json_object_new_int64(counts[s]));
    json_object_object_add(doc, "jobs", states);
    json_object *pipeline = json_object_new_object();
    json_object_object_add(pipeline, "stages",
                           json_object_new_string("queued -> building -> running -> finished"));
    support_json_double(pipeline, "trainer_last_seen_seconds", age >= 0 ? age : (double)NAN);
    json_object_object_add(pipeline, "trainers_alive",
                           json_object_new_boolean(age >= 0 &&
                                                   age < app_of(r)->config->trainer_stale_seconds));
    json_object_object_add(doc, "pipeline", pipeline);
    /* KAOS's inspect: what the next training would run on. */
    static const char *const kinds[] = {"code", "data", "params"};
    static const char *const keys[] = {"image", "data_glob", "hyper_glob"};
    /* KAOS's backend answers these bare and its client reads them at the
     * top level as strings, "null" for an input not there yet
     * (cli/kaos_cli/commands/train.py, deploy: data['image'].find('null')). */
    json_object *top = json_object_new_object();
    for (size_t k = 0; k < 3; k++) {
        kaos_bundle_t b;
        int found;
        if (db_kaos_bundle_latest(app_of(r)->db, r->arena, r->auth.workspace_id, kinds[k], &b,
                                  &found, &r->err) != 0) {
            json_object_put(top);
            return -1;
        }
        const char *v = NULL;
        if (found && k == 0)
            v = arena_sprintf(r->arena, "%s/%s@sha256:%s", r->params[0],
                              b.root ? b.root : "code", b.sha256 ? b.sha256 : "");
        else if (found && k == 1)
            v = arena_sprintf(r->arena, "/pfs/data/%s/*", b.root ? b.root : "");
        else if (found)
            v = "/pfs/hyper/*";
        support_json_str(doc, keys[k], v);
        json_object_object_add(top, keys[k], json_object_new_string(v ? v : "null"));
    }
    return kaos_reply_beside(r, doc, top);
}

/* --- bundle submission ------------------------------------------------ */

typedef struct ws_upload {
    artifact_writer_t *writer; /* owned until finish/abort */
    FILE *spool;               /* unlinked temporary copy for inspection */
    int in_data;               /* multipart: inside the `data` part */
    int saw_data;
} ws_upload_t;

static int ws_tee(void *ctx, const char *buf, size_t n, err_t *e)
{
    ws_upload_t *up = ctx;
    if (fwrite(buf, 1, n, up->spool) != n)
        return err_set(e, 500, "internal", "could not spool the bundle");
    return db_artifact_write(up->writer, buf, n, e);
}

static int ws_part_begin(void *ctx, const char *name, const char *filename, const char *ctype,
                         err_t *e)
{
    (void)filename;
    (void)ctype;
    ws_upload_t *up = ctx;
    up->in_data = name != NULL && strcmp(name, "data") == 0;
    if (up->in_data && up->saw_data++)
        return err_set(e, 400, "INVALID_BUNDLE", "send exactly one `data` part");
    return 0;
}

static int ws_part_data(void *ctx, const char *buf, size_t n, err_t *e)
{
    ws_upload_t *up = ctx;
    return up->in_data ? ws_tee(up, buf, n, e) : 0;
}

static int ws_part_end(void *ctx, err_t *e)
{
    (void)e;
    ((ws_upload_t *)ctx)->in_data = 0;
    return 0;
}

static const multipart_callbacks_t ws_multipart = {ws_part_begin, ws_part_data, ws_part_end};

static int ws_receive(request_t *r, ws_upload_t *up, err_t *e)
{
    int multipart = strcmp(r->media_type, "multipart/form-data") == 0;
    if (support_body_stream(r, multipart ? &ws_multipart : NULL, ws_tee, up, e) != 0)
        return -1;
    if (multipart && !up->saw_data)
        return err_set(e, 400, "INVALID_BUNDLE",
                       "data: the source bundle is missing (send it as the `data` part)");
    return 0;
}

static ssize_t ws_spool_read(void *ctx, void *buf, size_t n, err_t *e)
{
    FILE *f = ctx;
    size_t got = fread(buf, 1, n, f);
    if (got == 0 && ferror(f))
        return err_set(e, 500, "internal", "could not read the spooled bundle");
    return (ssize_t)got;
}

static void ws_fclose(void *f)
{
    fclose(f);
}

int ws_submit(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    app_t *app = app_of(r);
    const char *user = req_query(r, "user");
    if (user != NULL && strlen(user) > 200)
        return err_set(&r->err, 400, "INVALID_REQUEST", "user: at most 200 characters");
    if (support_upload_slot(r, &r->err) != 0)
        return -1;
    ws_upload_t up = {0};
    up.spool = tmpfile();
    if (up.spool == NULL)
        return err_set(&r->err, 500, "internal", "could not create a spool file");
    arena_defer(r->arena, ws_fclose, up.spool);
    if (db_limits_precheck(app->db, r->arena, r->auth.workspace_id, r->content_length, 0,
                           &r->err) != 0)
        return -1;
    if (db_begin(app->db, &r->err) != 0)
        return -1;
    int rc = -1;
    bundle_info_t info = {0};
    up.writer = db_artifact_begin(app->db, r->auth.workspace_id, "bundle", &r->err);
    if (up.writer == NULL || ws_receive(r, &up, &r->err) != 0)
        goto out;
    artifact_info_t art;
    artifact_writer_t *w = up.writer;
    up.writer = NULL;
    if (db_artifact_finish(w, &art, &r->err) != 0)
        goto out;
    if (db_limits_check_upload(app->db, r->arena, r->auth.workspace_id, &r->err) != 0)
        goto out;
    if (art.size == 0) {
        err_set(&r->err, 400, "INVALID_BUNDLE", "Bundle must be non-empty");
        goto out;
    }
    rewind(up.spool);
    int kaos = 0;
    if (kaos_submit_code(r, &art, up.spool, user, &kaos) != 0)
        goto out;
    if (kaos) { /* a KAOS source bundle: stored, queued, committed, answered */
        rc = 0;
        goto out;
    }
    if (bundle_inspect(ws_spool_read, up.spool, &bundle_limits_default, &info, &r->err) != 0)
        goto out;
    support_own(r, info.spec);
    err_t spec_err;
    err_clear(&spec_err);
    if (validate_body(info.spec, spec_fields_bundle, spec_fields_bundle_count, 0, &spec_err) != 0) {
        spec_rebase_errors(&spec_err, "trainyard.json");
        err_clear(&r->err);
        err_set(&r->err, 400, "INVALID_BUNDLE", "%s: %s", spec_err.items[0].field,
                spec_err.items[0].message);
        goto out;
    }
    json_object *spec = support_own(r, json_object_new_object());
    json_object_object_foreach(info.spec, key, val) {
        if (strcmp(key, "dataset") != 0)
            json_object_object_add(spec, key, json_object_get(val));
    }
    json_object_object_add(spec, "dataset_path", json_object_new_string(info.dataset_path));
    if (!json_object_object_get_ex(spec, "duration", NULL))
        json_object_object_add(spec, "duration", json_object_new_int(10));
    if (user != NULL)
        json_object_object_add(spec, "user", json_object_new_string(user));
    job_t job;
    memset(&job, 0, sizeof(job));
    job.workspace_id = r->auth.workspace_id;
    job.dialect = "workspace";
    job.spec = spec;
    job.bundle_id = art.id;
    job.user_name = user;
    job.priority = 100;
    job.max_attempts = 3;
    int existing = 0;
    if (db_job_enqueue_in_tx(app->db, r->arena, &job, &existing, &r->err) != 0 ||
        db_commit(app->db, &r->err) != 0)
        goto out;
    rc = 0;
    log_info("train: job %s queued in workspace %s (bundle %s)", job.id, r->params[0], art.id);
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "job_id", json_object_new_string(job.id));
    json_object_object_add(doc, "state", json_object_new_string("queued"));
    json_object_object_add(doc, "workspace", json_object_new_string(r->params[0]));
    support_json_str(doc, "user", user);
    json_object *b = json_object_new_object();
    json_object_object_add(b, "id", json_object_new_string(art.id));
    json_object_object_add(b, "sha256", json_object_new_string(art.sha256));
    json_object_object_add(b, "size", json_object_new_int64((int64_t)art.size));
    json_object_object_add(b, "entries", json_object_new_int64((int64_t)info.entries));
    json_object_object_add(b, "dataset", json_object_new_string(info.dataset_path));
    json_object_object_add(doc, "bundle", b);
    /* KAOS's client reads data['glob_name'] after any source upload */
    json_object *top = json_object_new_object();
    json_object_object_add(top, "glob_name", json_object_new_string(
                                                 arena_sprintf(r->arena, "%.10s", art.sha256)));
    kaos_reply_beside(r, doc, top);
out:
    if (up.writer != NULL)
        db_artifact_abort(up.writer);
    if (rc != 0)
        db_rollback(app->db);
    return rc;
}

/* --- job info, models, provenance, logs -------------------------------- */

typedef struct ws_candidate {
    json_object *doc;  /* borrowed from the model record */
    double sort_key;
} ws_candidate_t;

static int ws_candidate_cmp(const void *a, const void *b)
{
    double x = ((const ws_candidate_t *)a)->sort_key, y = ((const ws_candidate_t *)b)->sort_key;
    return (x > y) - (x < y);
}

/* sort_by values and the candidate field each sorts on, ascending. "metric"
 * sorts best first whatever the metric's direction, which is what "rank"
 * records. */
static const char *const ws_sort_keys[] = {"rank", "metric", "seconds", "trees"};
static const char *const ws_sort_fields[] = {"rank", "rank", "seconds", "trees"};

int ws_job_info(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    job_t job;
    if (ws_job_load(r, r->params[1], &job) != 0)
        return -1;
    if (kaos_job_is(&job))
        return kaos_job_info(r, &job);
    long long page;
    if (support_query_int(r, "page_id", 0, 0, 1000000, &page, &r->err) != 0)
        return -1;
    const char *sort_by = req_query(r, "sort_by");
    size_t key = 0;
    if (sort_by != NULL) {
        for (key = 0; key < 4 && strcmp(sort_by, ws_sort_keys[key]) != 0; key++)
            ;
        if (key == 4)
            return err_set(&r->err, 400, "INVALID_REQUEST",
                           "sort_by: must be one of rank, metric, seconds, trees, not \"%s\"",
                           sort_by);
    }
    model_rec_t *models;
    size_t n_models;
    if (db_model_list_for_job(app_of(r)->db, r->arena, r->auth.workspace_id, job.id, &models,
                              &n_models, &r->err) != 0)
        return -1;
    size_t total = 0;
    for (size_t i = 0; i < n_models; i++)
        total += models[i].candidates ? json_object_array_length(models[i].candidates) : 0;
    ws_candidate_t *cands = arena_calloc(r->arena, total + 1, sizeof(*cands));
    size_t k = 0;
    for (size_t i = 0; i < n_models; i++) {
        size_t n = models[i].candidates ? json_object_array_length(models[i].candidates) : 0;
        for (size_t j = 0; j < n; j++) {
            json_object *c = json_object_array_get_idx(models[i].candidates, j);
            json_object *v = NULL;
            double sk = (double)k;
            if (json_object_object_get_ex(c, ws_sort_fields[key], &v))
                sk = json_object_get_double(v);
            cands[k].doc = c;
            cands[k].sort_key = sk;
            k++;
        }
    }
    qsort(cands, total, sizeof(*cands), ws_candidate_cmp);
    json_object *doc = support_own(r, ws_job_summary(&job));
    json_object_object_add(doc, "workspace", json_object_new_string(r->params[0]));
    json_object_object_add(doc, "spec", json_object_get(job.spec));
    support_json_double(doc, "estimate_seconds",
                        job.estimate_seconds >= 0 ? job.estimate_seconds : (double)NAN);
    json_object *final = json_object_new_array();
    for (size_t i = 0; i < n_models; i++) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "model_id", json_object_new_string(models[i].id));
        support_json_str(m, "predict_field", models[i].predict_field);
        support_json_str(m, "task", models[i].task);
        json_object_object_add(m, "metrics", json_object_get(models[i].metrics));
        json_object *lineage = NULL;
        if (lineage_of_model(r, models[i].id, &lineage) != 0) {
            json_object_put(m);
            json_object_put(final);
            return -1;
        }
        json_object_object_add(m, "lineage", lineage);
        json_object_array_add(final, m);
    }
    json_object_object_add(doc, "models", final);
    json_object *page_doc = json_object_new_object();
    json_object *items = json_object_new_array();
    for (size_t i = (size_t)page * WS_PAGE_SIZE; i < total && i < (size_t)(page + 1) * WS_PAGE_SIZE; i++)
        json_object_array_add(items, json_object_get(cands[i].doc));
    json_object_object_add(page_doc, "page_id", json_object_new_int64(page));
    json_object_object_add(page_doc, "page_count",
                           json_object_new_int64((long long)((total + WS_PAGE_SIZE - 1) / WS_PAGE_SIZE)));
    json_object_object_add(page_doc, "sort_by",
                           json_object_new_string(ws_sort_keys[key]));
    json_object_object_add(page_doc, "total", json_object_new_int64((long long)total));
    json_object_object_add(page_doc, "items", items);
    json_object_object_add(doc, "trained_models", page_doc);
    json_object *outer = support_own(r, json_object_new_object());
    json_object_object_add(outer, "page_id", json_object_new_int64(page));
    json_object_object_add(outer, "page_count",
                           json_object_new_int64((long long)((total + WS_PAGE_SIZE - 1) / WS_PAGE_SIZE)));
    json_object_object_add(outer, "response", json_object_get(doc));
    return req_reply_json(r, 200, outer);
}

int ws_provenance(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    model_rec_t m;
    app_t *app = app_of(r);
    if (!util_is_uuid(r->params[1]) ||
        db_model_get(app->db, r->arena, r->auth.workspace_id, r->params[1], &m, &r->err) != 0) {
        if (r->err.status >= 500)
            return -1;
        err_clear(&r->err);
        return err_set(&r->err, 404, "MODEL_NOT_FOUND", "There is no model with id: %s",
                       r->params[1]);
    }
    job_t job;
    if (ws_job_load(r, m.job_id, &job) != 0)
        return -1;
    if (kaos_job_is(&job))
        return kaos_provenance(r, &job, m.id);
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "model_id", json_object_new_string(m.id));
    support_json_str(doc, "predict_field", m.predict_field);
    support_json_str(doc, "task", m.task);
    support_json_time(doc, "trained_at", m.created_at);
    json_object *jobdoc = ws_job_summary(&job);
    json_object_object_add(doc, "job", jobdoc);
    json_object *code = NULL;
    if (job.bundle_id != NULL) {
        artifact_info_t info;
        if (db_artifact_stat(app->db, r->arena, job.bundle_id, &info, &r->err) != 0)
            return -1;
        code = json_object_new_object();
        json_object_object_add(code, "bundle_id", json_object_new_string(info.id));
        json_object_object_add(code, "sha256", json_object_new_string(info.sha256));
        json_object_object_add(code, "size", json_object_new_int64((int64_t)info.size));
    }
    json_object_object_add(doc, "code", code);
    json_object *data = NULL;
    dataset_rec_t ds;
    if (m.dataset_id != NULL &&
        db_dataset_get(app->db, r->arena, r->auth.workspace_id, m.dataset_id, &ds, &r->err) == 0) {
        data = json_object_new_object();
        json_object_object_add(data, "dataset_id", json_object_new_string(ds.id));
        json_object_object_add(data, "name", json_object_new_string(ds.name ? ds.name : ""));
        json_object_object_add(data, "sha256", json_object_new_string(ds.sha256));
        json_object_object_add(data, "rows", json_object_new_int64(ds.rows));
        json_object_object_add(data, "size", json_object_new_int64((int64_t)ds.size));
    } else {
        if (r->err.status >= 500)
            return -1;
        err_clear(&r->err); /* the dataset was deleted since: provenance keeps its id */
        if (m.dataset_id != NULL) {
            data = json_object_new_object();
            json_object_object_add(data, "dataset_id", json_object_new_string(m.dataset_id));
            json_object_object_add(data, "deleted", json_object_new_boolean(1));
        }
    }
    json_object_object_add(doc, "data", data);
    json_object *best = NULL;
    if (m.candidates != NULL && json_object_array_length(m.candidates) > 0)
        json_object_object_get_ex(json_object_array_get_idx(m.candidates, 0), "params", &best);
    json_object_object_add(doc, "parameters", json_object_get(best));
    json_object_object_add(doc, "spec", json_object_get(job.spec));
    json_object_object_add(doc, "metrics", json_object_get(m.metrics));
    return kaos_reply(r, doc);
}

int ws_logs(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    job_t job;
    if (ws_job_load(r, r->params[1], &job) != 0)
        return -1;
    long long after, limit;
    if (support_query_int(r, "after", 0, 0, 1LL << 62, &after, &r->err) != 0 ||
        support_query_int(r, "limit", 1000, 1, 10000, &limit, &r->err) != 0)
        return -1;
    json_object *lines;
    if (db_job_logs(app_of(r)->db, r->arena, r->auth.workspace_id, job.id, after, (int)limit,
                    &lines, &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "job_id", json_object_new_string(job.id));
    json_object_object_add(doc, "state", json_object_new_string(job_state_name(job.state)));
    json_object_object_add(doc, "logs", json_object_get(lines));
    long long next = after;
    size_t n = json_object_array_length(lines);
    if (n > 0) {
        json_object *seq;
        if (json_object_object_get_ex(json_object_array_get_idx(lines, n - 1), "seq", &seq))
            next = json_object_get_int64(seq);
    }
    json_object_object_add(doc, "next_after", json_object_new_int64(next));
    /* KAOS's answer is the log as one bare string; ?format=lines keeps the
     * lines, wrapped as {"response": ...}. */
    const char *fmt = req_query(r, "format");
    if (fmt != NULL && strcmp(fmt, "lines") == 0)
        return kaos_reply(r, doc);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *l;
        if (json_object_object_get_ex(json_object_array_get_idx(lines, i), "line", &l))
            len += (size_t)json_object_get_string_len(l) + 1;
    }
    char *text = arena_alloc(r->arena, len + 1), *o = text;
    for (size_t i = 0; i < n; i++) {
        json_object *l;
        if (json_object_object_get_ex(json_object_array_get_idx(lines, i), "line", &l)) {
            size_t k = (size_t)json_object_get_string_len(l);
            memcpy(o, json_object_get_string(l), k);
            o += k;
            *o++ = '\n';
        }
    }
    *o = '\0';
    /* bare, as KAOS's backend answers it: its client writes r.json() to a
     * file (cli/kaos_cli/facades/train_facade.py, write_train_logs) */
    return kaos_reply_bare(r, support_own(r, json_object_new_string_len(text, (int)(o - text))));
}

int ws_kill(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    job_t job;
    if (ws_job_load(r, r->params[1], &job) != 0)
        return -1;
    job_state_t after;
    if (db_job_kill(app_of(r)->db, r->arena, r->auth.workspace_id, job.id, &after, &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "job_id", json_object_new_string(job.id));
    json_object_object_add(doc, "state", json_object_new_string(job_state_name(after)));
    json_object_object_add(doc, "message",
                           json_object_new_string(after == JOB_KILLED
                                                      ? "Job killed"
                                                      : "Kill requested; the trainer is stopping the job"));
    return kaos_reply(r, doc);
}

/* --- bundle download --------------------------------------------------- */

static int ws_spool_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    if (fwrite(buf, 1, n, ctx) != n)
        return err_set(e, 500, "internal", "could not spool the bundle");
    return 0;
}

/* Copies the entries of the job's own bundle into t: code entries when
 * include_code, the dataset entry when include_data. */
static int ws_copy_bundle(request_t *r, tarball_t *t, const job_t *job, int include_code,
                          int include_data, err_t *e)
{
    FILE *f = tmpfile();
    if (f == NULL)
        return err_set(e, 500, "internal", "could not create a spool file");
    arena_defer(r->arena, ws_fclose, f);
    if (db_artifact_read(app_of(r)->db, job->bundle_id, ws_spool_sink, f, e) != 0)
        return -1;
    rewind(f);
    json_object *dp = NULL;
    json_object_object_get_ex(job->spec, "dataset_path", &dp);
    const char *dataset_path = dp ? json_object_get_string(dp) : "";
    struct archive *a = archive_read_new();
    int rc = 0;
    if (a == NULL || bundle_archive_formats(a) != 0) {
        rc = err_set(e, 500, "internal", "bundle reader: libarchive lacks gzip, xz or tar");
        goto out;
    }
    if (archive_read_open_FILE(a, f) != ARCHIVE_OK) {
        rc = err_set(e, 500, "internal", "stored bundle unreadable: %s", archive_error_string(a));
        goto out;
    }
    struct archive_entry *entry;
    char *buf = arena_alloc(r->arena, WS_CHUNK);
    while (rc == 0 && archive_read_next_header(a, &entry) == ARCHIVE_OK) {
        if (archive_entry_filetype(entry) != AE_IFREG)
            continue;
        const char *path = archive_entry_pathname(entry);
        while (path[0] == '.' && path[1] == '/')
            path += 2;
        int is_data = strcmp(path, dataset_path) == 0;
        if (is_data ? !include_data : !include_code)
            continue;
        /* Sizes were verified at submission; the entry streams through. */
        size_t size = (size_t)archive_entry_size(entry);
        rc = tarball_add_header(t, path, size, e);
        size_t copied = 0;
        la_ssize_t n;
        while (rc == 0 && copied < size && (n = archive_read_data(a, buf, WS_CHUNK)) > 0) {
            size_t take = (size_t)n < size - copied ? (size_t)n : size - copied;
            rc = tarball_write(t, buf, take, e);
            copied += take;
        }
        if (rc == 0 && copied != size)
            rc = err_set(e, 500, "internal", "stored bundle entry %s is short", path);
    }
out:
    archive_read_free(a);
    return rc;
}

int ws_bundle(request_t *r)
{
    if (ws_check(r) != 0)
        return -1;
    job_t job;
    if (ws_job_load(r, r->params[1], &job) != 0)
        return -1;
    /* KAOS's client spells the flags include_code (True/False) and adds
     * model_id; the seed spells them include-code. KAOS jobs default to
     * code and model, as KAOS does; trainyard's own to code only. */
    int kaos = kaos_job_is(&job);
    int code, data, model;
    const char *model_id = req_query(r, "model_id");
    if (support_query_bool(r, req_query(r, "include_code") ? "include_code" : "include-code", 1,
                           &code, &r->err) != 0 ||
        support_query_bool(r, req_query(r, "include_data") ? "include_data" : "include-data", 0,
                           &data, &r->err) != 0 ||
        support_query_bool(r, req_query(r, "include_model") ? "include_model" : "include-model",
                           kaos || model_id != NULL, &model, &r->err) != 0)
        return -1;
    if (kaos)
        return kaos_bundle_zip(r, &job, code, data, model, model_id);
    app_t *app = app_of(r);
    model_rec_t *models = NULL;
    size_t n_models = 0;
    if (model && db_model_list_for_job(app->db, r->arena, r->auth.workspace_id, job.id, &models,
                                       &n_models, &r->err) != 0)
        return -1;
    if (model && n_models == 0)
        return err_set(&r->err, 400, "MODEL_NOT_AVAILABLE",
                       "Job %s has no trained model (state %s)", job.id,
                       job_state_name(job.state));
    dataset_rec_t ds;
    int have_ds = 0;
    if (data && job.bundle_id == NULL) {
        if (job.dataset_id == NULL ||
            db_dataset_get(app->db, r->arena, r->auth.workspace_id, job.dataset_id, &ds,
                           &r->err) != 0) {
            if (r->err.status >= 500)
                return -1;
            err_clear(&r->err);
            return err_set(&r->err, 400, "DATA_NOT_AVAILABLE", "The job's dataset was deleted");
        }
        have_ds = 1;
    }
    tarball_t *t = tarball_begin(r, arena_sprintf(r->arena, "bundle-%s.tar.gz", job.id), &r->err);
    if (t == NULL)
        return -1;
    err_t e;
    err_clear(&e);
    int rc = 0;
    if (job.bundle_id != NULL && (code || data)) {
        rc = ws_copy_bundle(r, t, &job, code, data, &e);
    } else if (code) {
        const char *spec = json_object_to_json_string_ext(job.spec, JSON_C_TO_STRING_PRETTY);
        rc = tarball_add_bytes(t, "trainyard.json", spec, strlen(spec), &e);
    }
    if (rc == 0 && have_ds)
        rc = tarball_add_artifact(t, app->db, "data/dataset.csv", ds.artifact_id, &e);
    for (size_t i = 0; rc == 0 && i < n_models; i++) {
        /* A column name is user text: never a path of its own. */
        const char *dir = arena_sprintf(r->arena, "model/%s",
                                        tarball_safe_name(r->arena, models[i].predict_field));
        const char *pre = json_object_to_json_string_ext(models[i].preprocess,
                                                         JSON_C_TO_STRING_PRETTY);
        rc = tarball_add_artifact(t, app->db, arena_sprintf(r->arena, "%s/model.ubj", dir),
                                  models[i].artifact_id, &e);
        if (rc == 0)
            rc = tarball_add_bytes(t, arena_sprintf(r->arena, "%s/preprocess.json", dir), pre,
                                   strlen(pre), &e);
    }
    tarball_end(t, &e);
    return 0;
}
