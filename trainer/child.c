/*
 * child.c — runs one claimed job in a forked child (see child.h).
 *
 * Steps: connect; for a bundle job read trainyard.json from the bundle (the
 * spec) and, while the job is still building, extract the named CSV once,
 * streaming it at the same time into a new dataset artifact, into the type
 * inference that summarises it, and into the training data; otherwise
 * stream the dataset artifact into the training data. Then train until the
 * deadline and store every model plus the job's result in one transaction.
 *
 * The child never holds the whole CSV as text: the artifact arrives in
 * 1 MiB chunks and only the typed columns stay in memory.
 */
#include "trainer/child.h"

#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"
#include "db/artifacts.h"
#include "db/datasets.h"
#include "db/models.h"
#include "db/trainings.h"
#include "ml/csv.h"
#include "ml/train.h"
#include "trainer/proto.h"

static volatile sig_atomic_t child_stop;

static void child_on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

typedef struct child {
    const child_args_t *a;
    db_t *db;                    /* the child's connection (writes) */
    arena_t *arena;              /* job scope */
    ml_data_t *data;             /* training data being filled */
    artifact_writer_t *writer;   /* bundle build: the new dataset artifact */
    csv_infer_t *infer;          /* bundle build: the dataset summary */
} child_t;

static void child_send(const child_t *c, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = write(c->a->proto_fd, buf, n);
        if (k <= 0)
            return; /* the parent is gone; PDEATHSIG ends us */
        buf += k;
        n -= (size_t)k;
    }
}

static void cb_progress(void *ctx, double fraction, double estimate)
{
    char line[64];
    child_send(ctx, line, proto_format_progress(line, sizeof(line), fraction, estimate));
}

static void cb_log(void *ctx, const char *text)
{
    char line[PROTO_LINE_MAX];
    child_send(ctx, line, proto_format_log(line, sizeof(line), text));
}

static int cb_should_stop(void *ctx)
{
    (void)ctx;
    return child_stop != 0;
}

static int stopped(err_t *e)
{
    return err_set(e, 499, "killed", "killed");
}

static int sink_train(void *ctx, const void *buf, size_t n, err_t *e)
{
    child_t *c = ctx;
    if (child_stop)
        return stopped(e);
    return ml_data_feed(c->data, buf, n, e);
}

static int sink_build(void *ctx, const void *buf, size_t n, err_t *e)
{
    child_t *c = ctx;
    if (child_stop)
        return stopped(e);
    if (db_artifact_write(c->writer, buf, n, e) != 0 || csv_infer_feed(c->infer, buf, n, e) != 0)
        return -1;
    return ml_data_feed(c->data, buf, n, e);
}

static ssize_t bundle_pull(void *ctx, void *buf, size_t n, err_t *e)
{
    return (ssize_t)db_artifact_pull(ctx, buf, n, e);
}

static void json_put(void *p)
{
    json_object_put(p);
}

/* The metrics a Strapi training document shows: the model's validation
 * metrics, plus "precision" (macro average over the first field's classes,
 * from the Akkio stats) for classification, which the seed's document has
 * a field for (spelled "precission"). Arena-owned. */
static json_object *child_document_metrics(arena_t *arena, json_object *metrics,
                                           json_object *result)
{
    json_object *out = json_object_new_object();
    arena_defer(arena, json_put, out);
    if (metrics != NULL) {
        json_object_object_foreach(metrics, key, val) {
            json_object_object_add(out, key, json_object_get(val));
        }
    }
    json_object *stats, *classes;
    if (json_object_object_get_ex(out, "precision", NULL) || result == NULL ||
        !json_object_object_get_ex(result, "stats", &stats) ||
        (classes = json_object_array_get_idx(stats, 0)) == NULL)
        return out;
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(classes); i++) {
        json_object *p;
        if (json_object_object_get_ex(json_object_array_get_idx(classes, i), "precision", &p)) {
            sum += json_object_get_double(p);
            n++;
        }
    }
    if (n > 0)
        json_object_object_add(out, "precision", json_object_new_double(sum / (double)n));
    return out;
}

static void data_free(void *p)
{
    ml_data_free(p);
}

static void db_free(void *p)
{
    db_close(p);
}

/* The job spec with the bundle's trainyard.json keys laid over it (the
 * bundle is the workspace dialect's source of truth). Arena-owned. */
static json_object *spec_merge(arena_t *arena, json_object *job_spec, json_object *bundle_spec)
{
    json_object *out = json_object_new_object();
    arena_defer(arena, json_put, out);
    if (json_object_is_type(job_spec, json_type_object)) {
        json_object_object_foreach(job_spec, k, v)
            json_object_object_add(out, k, json_object_get(v));
    }
    if (json_object_is_type(bundle_spec, json_type_object)) {
        json_object_object_foreach(bundle_spec, k, v)
            json_object_object_add(out, k, json_object_get(v));
    }
    return out;
}

/* Reads trainyard.json from the bundle (a full validating pass). */
static int child_bundle_inspect(child_t *c, db_t *rdb, bundle_info_t *info, err_t *e)
{
    artifact_reader_t *r = db_artifact_open(rdb, c->a->job->bundle_id, e);
    if (r == NULL)
        return -1;
    memset(info, 0, sizeof(*info));
    int rc = bundle_inspect(bundle_pull, r, &bundle_limits_default, info, e);
    db_artifact_close(r);
    if (rc == 0)
        arena_defer(c->arena, json_put, info->spec);
    return rc;
}

/* building -> running: the bundle's CSV becomes a dataset, and the
 * training data at the same time. */
static int child_build(child_t *c, db_t *rdb, const bundle_info_t *info, char *dataset_id,
                       err_t *e)
{
    const job_t *job = c->a->job;
    if (db_begin(c->db, e) != 0)
        return -1;
    c->writer = db_artifact_begin(c->db, job->workspace_id, "dataset", e);
    if (c->writer == NULL)
        goto fail;
    c->infer = csv_infer_new(&csv_limits_default);
    artifact_reader_t *r = db_artifact_open(rdb, job->bundle_id, e);
    int rc = r ? bundle_extract(bundle_pull, r, &bundle_limits_default, info->dataset_path,
                                sink_build, c, e)
               : -1;
    db_artifact_close(r);
    if (rc != 0) {
        db_artifact_abort(c->writer);
        c->writer = NULL;
        goto fail;
    }
    artifact_info_t ai;
    rc = db_artifact_finish(c->writer, &ai, e);
    c->writer = NULL;
    if (rc != 0)
        goto fail;
    json_object *summary = NULL;
    if (csv_infer_finish(c->infer, &summary, e) != 0)
        goto fail;
    arena_defer(c->arena, json_put, summary);
    char path[sizeof(info->dataset_path)];
    snprintf(path, sizeof(path), "%s", info->dataset_path);
    dataset_rec_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.workspace_id = job->workspace_id;
    rec.name = arena_strdup(c->arena, basename(path));
    json_object *v;
    rec.rows = json_object_object_get_ex(summary, "rows", &v) ? json_object_get_int64(v) : 0;
    rec.fields = json_object_object_get_ex(summary, "fields", &v) ? v : NULL;
    memcpy(rec.artifact_id, ai.id, sizeof(rec.artifact_id));
    rec.size = ai.size;
    memcpy(rec.sha256, ai.sha256, sizeof(rec.sha256));
    if (db_dataset_insert(c->db, c->arena, &rec, e) != 0 ||
        db_job_built(c->db, c->arena, job->id, c->a->trainer_id, job->attempts, rec.id, e) != 0 ||
        db_commit(c->db, e) != 0)
        goto fail;
    memcpy(dataset_id, rec.id, UUID_STR_LEN + 1);
    char line[sizeof(info->dataset_path) + 128];
    snprintf(line, sizeof(line), "built dataset %s from %s (%lld rows)", rec.id,
             info->dataset_path, rec.rows);
    cb_log(c, line);
    return 0;
fail:
    db_rollback(c->db);
    return -1;
}

/* Stores the models and finishes the job, all in one transaction. */
static int child_store(child_t *c, const char *dataset_id, ml_result_t *res, int *lost,
                       err_t *e)
{
    const job_t *job = c->a->job;
    *lost = 0;
    if (db_begin(c->db, e) != 0)
        return -1;
    json_object *ids = json_object_new_array();
    const char *first = NULL;
    json_object *first_metrics = NULL;
    for (size_t i = 0; i < res->n_models; i++) {
        ml_model_out_t *m = &res->models[i];
        artifact_writer_t *w = db_artifact_begin(c->db, job->workspace_id, "model", e);
        if (w == NULL)
            goto fail;
        if (db_artifact_write(w, m->booster, m->booster_len, e) != 0) {
            db_artifact_abort(w);
            goto fail;
        }
        artifact_info_t ai;
        if (db_artifact_finish(w, &ai, e) != 0)
            goto fail;
        model_rec_t rec;
        memset(&rec, 0, sizeof(rec));
        rec.workspace_id = job->workspace_id;
        memcpy(rec.job_id, job->id, sizeof(rec.job_id));
        rec.dataset_id = dataset_id;
        rec.predict_field = m->predict_field;
        rec.task = m->task;
        rec.metrics = m->metrics;
        rec.candidates = m->candidates;
        rec.preprocess = m->preprocess;
        memcpy(rec.artifact_id, ai.id, sizeof(rec.artifact_id));
        if (db_model_insert(c->db, c->arena, &rec, e) != 0)
            goto fail;
        json_object_array_add(ids, json_object_new_string(rec.id));
        if (first == NULL) {
            first = arena_strdup(c->arena, rec.id);
            first_metrics = m->metrics;
        }
    }
    if (res->result == NULL)
        res->result = json_object_new_object();
    if (first != NULL)
        json_object_object_add(res->result, "model_id", json_object_new_string(first));
    json_object_object_add(res->result, "model_ids", ids);
    ids = NULL;
    const char *path =
        first ? arena_sprintf(c->arena, "/api/v1/models/%s/download", first) : NULL;
    if (db_training_job_finished(c->db, c->arena, job->id,
                                 child_document_metrics(c->arena, first_metrics, res->result),
                                 path, "1", e) != 0)
        goto fail;
    if (db_job_finish(c->db, c->arena, job->id, c->a->trainer_id, job->attempts, JOB_SUCCEEDED,
                      NULL, res->result, lost, e) != 0)
        goto fail;
    if (*lost) {
        db_rollback(c->db);
        return 0;
    }
    return db_commit(c->db, e);
fail:
    json_object_put(ids);
    db_rollback(c->db);
    return -1;
}

/* Seconds the child waits for PostgreSQL to come back before it gives the
 * job back to the queue (a little longer than a PostgreSQL restart). */
#define CHILD_STORE_WAIT 60.0

/* Budget: the spec's duration counted from the job's start, less the
 * margin for storing; a retry (started long ago) gets a fresh budget. */
static double child_deadline(const child_args_t *a, json_object *spec)
{
    json_object *v;
    double duration = 10;
    if (json_object_object_get_ex(spec, "duration", &v) &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        duration = json_object_get_double(v);
    if (duration <= 0)
        duration = 10;
    double now_wall = util_now_wall();
    double end_wall = a->job->started_at + duration;
    if (a->job->started_at <= 0 || end_wall < now_wall + duration / 2)
        end_wall = now_wall + duration;
    double left = end_wall - now_wall - a->store_margin;
    if (left < 1)
        left = 1;
    return util_now_monotonic() + left;
}

static int child_work(child_t *c, int *lost, err_t *e)
{
    const job_t *job = c->a->job;
    c->db = db_open(c->a->conninfo, e);
    if (c->db == NULL)
        return -1;
    arena_defer(c->arena, db_free, c->db);
    c->data = ml_data_new(&csv_limits_default);
    arena_defer(c->arena, data_free, c->data);
    json_object *spec = job->spec;
    char dataset_id[UUID_STR_LEN + 1] = "";
    if (job->dataset_id != NULL)
        snprintf(dataset_id, sizeof(dataset_id), "%s", job->dataset_id);

    if (job->bundle_id != NULL) {
        db_t *rdb = db_open(c->a->conninfo, e);
        if (rdb == NULL)
            return -1;
        arena_defer(c->arena, db_free, rdb);
        bundle_info_t info;
        if (child_bundle_inspect(c, rdb, &info, e) != 0)
            return -1;
        spec = spec_merge(c->arena, job->spec, info.spec);
        if (job->state == JOB_BUILDING && child_build(c, rdb, &info, dataset_id, e) != 0)
            return -1;
    }
    if (job->state != JOB_BUILDING || job->bundle_id == NULL) {
        dataset_rec_t ds;
        if (dataset_id[0] == '\0')
            return err_set(e, 400, "training_invalid", "the job names no dataset");
        if (db_dataset_get(c->db, c->arena, job->workspace_id, dataset_id, &ds, e) != 0)
            return -1;
        if (db_artifact_read(c->db, ds.artifact_id, sink_train, c, e) != 0)
            return -1;
    }
    if (ml_data_finish(c->data, e) != 0)
        return -1;
    char line[160];
    snprintf(line, sizeof(line), "dataset loaded: %zu rows, %zu columns", ml_data_rows(c->data),
             ml_data_columns(c->data));
    cb_log(c, line);

    ml_callbacks_t cb = {cb_progress, cb_log, cb_should_stop, c};
    ml_result_t res;
    memset(&res, 0, sizeof(res));
    if (ml_train(c->data, spec, child_deadline(c->a, spec), &cb, &res, e) != 0) {
        ml_result_free(&res);
        return -1;
    }
    if (child_stop) {
        ml_result_free(&res);
        return stopped(e);
    }
    /* The models exist only in this process: while PostgreSQL is away
     * (a restart, a failover), wait for it rather than throw the work away.
     * The finish is fenced by the claim, so storing late is safe: if the
     * job was handed to someone else meanwhile, nothing is written. */
    int rc;
    double give_up = util_now_monotonic() + CHILD_STORE_WAIT, pause = 0.25;
    while ((rc = child_store(c, dataset_id, &res, lost, e)) != 0 && e->status == 503 &&
           !child_stop && util_now_monotonic() + pause < give_up) {
        log_warn("storing the result: %s; trying again in %.2g s", err_message(e), pause);
        err_clear(e);
        usleep((useconds_t)(pause * 1e6));
        pause = pause * 2 > 4 ? 4 : pause * 2;
    }
    ml_result_free(&res);
    return rc;
}

int trainer_child_run(const child_args_t *a)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = child_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    child_t c;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.arena = arena_create(1 << 16);
    err_t e;
    err_clear(&e);
    int lost = 0;
    int rc = child_work(&c, &lost, &e);
    arena_destroy(c.arena);
    if (rc != 0) {
        char line[PROTO_LINE_MAX];
        child_send(&c, line, proto_format_error(line, sizeof(line), e.status, err_message(&e)));
        /* The database went away under us: not the job's fault. */
        return e.status == 503 ? CHILD_EXIT_RETRY : CHILD_EXIT_FAILED;
    }
    return lost ? CHILD_EXIT_LOST : CHILD_EXIT_DONE;
}
