/*
 * worker.c — trains one job from descriptors (see worker.h).
 *
 * The input's first line is the job (spec, budget end, a description of the
 * limits for the log); the rest is CSV, fed to the training data as it
 * arrives, so the worker never holds the file as text. Training stops
 * between boosting rounds on SIGTERM. The result is written once, at the
 * end, in one frame; a failure writes no frame and reports on the protocol
 * pipe instead.
 *
 * Test mode: when the job's description carries "test_mode" (the runner
 * passes it only from a trainer started with TRAINYARD_TEST_MODE=1), the
 * worker misbehaves as asked once its data is loaded: sleeps (reporting
 * progress, stopping on SIGTERM), then dies by a signal, exits with a code,
 * or takes address space until the memory limit refuses it and aborts, as
 * an allocation failure in the engine would. That is how the suite proves
 * the crash, retry and limit paths without relying on the engine's timing.
 */
#include "trainer/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bundle/bundle.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "ml/csv.h"
#include "ml/train.h"
#include "trainer/child.h"
#include "trainer/proto.h"

#define WORKER_HEADER_MAX (1 << 20)

static volatile sig_atomic_t worker_stop;

static void worker_on_term(int sig)
{
    (void)sig;
    worker_stop = 1;
}

static void cb_progress(void *ctx, double fraction, double estimate)
{
    (void)ctx;
    char line[64];
    util_write_all(WORKER_FD_PROTO, line,
                     proto_format_progress(line, sizeof(line), fraction, estimate));
}

static void cb_log(void *ctx, const char *text)
{
    (void)ctx;
    char line[PROTO_LINE_MAX];
    util_write_all(WORKER_FD_PROTO, line, proto_format_log(line, sizeof(line), text));
}

static int cb_should_stop(void *ctx)
{
    (void)ctx;
    return worker_stop != 0;
}

/* Reads the header line; what followed it in the same read is fed to d. */
static json_object *worker_read_header(ml_data_t *d, err_t *e)
{
    char *buf = malloc(WORKER_HEADER_MAX);
    if (buf == NULL)
        abort();
    size_t used = 0;
    json_object *job = NULL;
    for (;;) {
        ssize_t k = read(WORKER_FD_INPUT, buf + used, WORKER_HEADER_MAX - used);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            err_set(e, 500, "internal", "the job's input ended before its description");
            break;
        }
        char *nl = memchr(buf + used, '\n', (size_t)k);
        used += (size_t)k;
        if (nl == NULL) {
            if (used == WORKER_HEADER_MAX) {
                err_set(e, 500, "internal", "the job's description is too long");
                break;
            }
            continue;
        }
        *nl = '\0';
        job = json_tokener_parse(buf);
        if (job == NULL || !json_object_is_type(job, json_type_object)) {
            json_object_put(job);
            job = NULL;
            err_set(e, 500, "internal", "the job's description is not JSON");
            break;
        }
        size_t rest = used - (size_t)(nl + 1 - buf);
        /* Data larger than memory (the runner measured it): the columns go
         * to page files in the directory it made, from the first row. */
        json_object *x, *dir;
        if (json_object_object_get_ex(job, "external_memory", &x) &&
            json_object_object_get_ex(x, "dir", &dir) &&
            ml_data_spill(d, json_object_get_string(dir), 0, e) != 0) {
            json_object_put(job);
            job = NULL;
            break;
        }
        if (rest > 0 && ml_data_feed(d, nl + 1, rest, e) != 0) {
            json_object_put(job);
            job = NULL;
        }
        break;
    }
    free(buf);
    return job;
}

static int worker_load(ml_data_t *d, err_t *e)
{
    char *buf = malloc(1 << 20);
    if (buf == NULL)
        abort();
    int rc = 0;
    for (;;) {
        if (worker_stop) {
            rc = err_set(e, 499, "killed", "killed");
            break;
        }
        ssize_t k = read(WORKER_FD_INPUT, buf, 1 << 20);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = err_set(e, 500, "internal", "reading the dataset: %s", strerror(errno));
            break;
        }
        if (k == 0)
            break;
        if ((rc = ml_data_feed(d, buf, (size_t)k, e)) != 0)
            break;
    }
    free(buf);
    close(WORKER_FD_INPUT);
    return rc;
}

/* --- bundles --------------------------------------------------------------- */

static ssize_t worker_bundle_pull(void *ctx, void *buf, size_t n, err_t *e)
{
    (void)ctx;
    for (;;) {
        ssize_t k = read(WORKER_FD_BUNDLE, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return err_set(e, 500, "internal", "reading the bundle: %s", strerror(errno));
        return k;
    }
}

static int worker_frame(const void *buf, size_t n)
{
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    return util_write_all(WORKER_FD_FOUND, len, 4) != 0 ||
                   (n > 0 && util_write_all(WORKER_FD_FOUND, buf, n) != 0)
               ? -1
               : 0;
}

/* The bundle's CSV: into the training data and back to the runner, which
 * stores it as the job's dataset. */
static int worker_sink_build(void *ctx, const void *buf, size_t n, err_t *e)
{
    if (worker_stop)
        return err_set(e, 499, "killed", "killed");
    if (ml_data_feed(ctx, buf, n, e) != 0)
        return -1;
    const char *p = buf;
    while (n > 0) {
        size_t k = n > WORKER_FRAME_MAX ? WORKER_FRAME_MAX : n;
        if (worker_frame(p, k) != 0)
            return err_set(e, 500, "internal", "handing the dataset back: %s", strerror(errno));
        p += k;
        n -= k;
    }
    return 0;
}

/* Inspects the bundle (a full validating pass), tells the runner the merged
 * spec and the dataset's path, and when building extracts the dataset into
 * d and back to the runner. *spec becomes the merged spec (owned). */
static int worker_bundle(ml_data_t *d, int building, json_object **spec, err_t *e)
{
    bundle_info_t info;
    memset(&info, 0, sizeof(info));
    if (lseek(WORKER_FD_BUNDLE, 0, SEEK_SET) != 0)
        return err_set(e, 500, "internal", "rewinding the bundle: %s", strerror(errno));
    if (bundle_inspect(worker_bundle_pull, NULL, &bundle_limits_default, &info, e) != 0)
        return -1;
    /* The job spec with the bundle's trainyard.json keys laid over it (the
     * bundle is the workspace dialect's source of truth). */
    json_object *merged = json_object_new_object();
    if (json_object_is_type(*spec, json_type_object)) {
        json_object_object_foreach(*spec, k, v)
            json_object_object_add(merged, k, json_object_get(v));
    }
    if (json_object_is_type(info.spec, json_type_object)) {
        json_object_object_foreach(info.spec, k2, v2)
            json_object_object_add(merged, k2, json_object_get(v2));
    }
    json_object_put(info.spec);
    *spec = merged;
    json_object *head = json_object_new_object();
    json_object_object_add(head, "spec", json_object_get(merged));
    json_object_object_add(head, "dataset_path", json_object_new_string(info.dataset_path));
    size_t len = 0;
    const char *text = json_object_to_json_string_length(head, JSON_C_TO_STRING_PLAIN, &len);
    int rc = worker_frame(text, len);
    json_object_put(head);
    if (rc != 0)
        return err_set(e, 500, "internal", "handing the bundle's spec back: %s", strerror(errno));
    if (building) {
        if (lseek(WORKER_FD_BUNDLE, 0, SEEK_SET) != 0)
            return err_set(e, 500, "internal", "rewinding the bundle: %s", strerror(errno));
        if (bundle_extract(worker_bundle_pull, NULL, &bundle_limits_default, info.dataset_path,
                           worker_sink_build, d, e) != 0)
            return -1;
        if (worker_frame(NULL, 0) != 0)
            return err_set(e, 500, "internal", "handing the dataset back: %s", strerror(errno));
    }
    close(WORKER_FD_FOUND);
    close(WORKER_FD_BUNDLE);
    return 0;
}

/* One frame: the JSON description of every model, then the boosters. */
static int worker_send_result(ml_result_t *res, err_t *e)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "result", json_object_get(res->result));
    json_object *models = json_object_new_array();
    for (size_t i = 0; i < res->n_models; i++) {
        const ml_model_out_t *m = &res->models[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "predict_field", json_object_new_string(m->predict_field));
        json_object_object_add(o, "task", json_object_new_string(m->task));
        json_object_object_add(o, "preprocess", json_object_get(m->preprocess));
        json_object_object_add(o, "metrics", json_object_get(m->metrics));
        json_object_object_add(o, "candidates", json_object_get(m->candidates));
        json_object_object_add(o, "booster_len", json_object_new_int64((int64_t)m->booster_len));
        json_object_array_add(models, o);
    }
    json_object_object_add(doc, "models", models);
    size_t len = 0;
    const char *text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
    char head[32];
    int hl = snprintf(head, sizeof(head), "%zu\n", len);
    int rc = util_write_all(WORKER_FD_RESULT, head, (size_t)hl) != 0 ||
             util_write_all(WORKER_FD_RESULT, text, len) != 0;
    for (size_t i = 0; rc == 0 && i < res->n_models; i++)
        rc = util_write_all(WORKER_FD_RESULT, res->models[i].booster,
                              res->models[i].booster_len);
    json_object_put(doc);
    if (rc != 0)
        return err_set(e, 500, "internal", "handing the result back: %s", strerror(errno));
    return 0;
}

/* Test mode (see the top). Returns 0 to go on training; the faults do not
 * return. */
static int worker_test_mode(json_object *t, err_t *e)
{
    json_object *v;
    double sleep_s = json_object_object_get_ex(t, "sleep", &v) ? json_object_get_double(v) : 0;
    char line[256];
    snprintf(line, sizeof(line), "test mode (pid %d): %s", (int)getpid(),
             json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
    cb_log(NULL, line);
    double end = util_now_monotonic() + sleep_s;
    while (util_now_monotonic() < end) {
        if (worker_stop)
            return err_set(e, 499, "killed", "killed");
        double left = end - util_now_monotonic();
        cb_progress(NULL, 1 - left / (sleep_s > 0 ? sleep_s : 1), left);
        usleep(100 * 1000);
    }
    if (json_object_object_get_ex(t, "crash_signal", &v)) {
        int sig = json_object_get_int(v);
        signal(sig, SIG_DFL);
        raise(sig);
    }
    if (json_object_object_get_ex(t, "exit_code", &v))
        _exit(json_object_get_int(v));
    if (json_object_object_get_ex(t, "memory_bomb", &v) && json_object_get_boolean(v)) {
        /* Address space, one page touched per chunk: RLIMIT_AS stops it
         * long before the machine's memory does. */
        for (size_t taken = 0; taken < ((size_t)1 << 40); taken += (size_t)64 << 20) {
            volatile char *p = malloc((size_t)64 << 20);
            if (p == NULL)
                abort();
            p[0] = 1;
        }
        abort();
    }
    return 0;
}

static int worker_run(err_t *e)
{
    ml_data_t *d = ml_data_new(&csv_limits_default);
    json_object *job = worker_read_header(d, e);
    int rc = -1;
    ml_result_t res;
    memset(&res, 0, sizeof(res));
    if (job == NULL)
        goto out;
    json_object *v;
    char line[512];
    snprintf(line, sizeof(line), "training process: uid %d, %s", (int)getuid(),
             json_object_object_get_ex(job, "limits", &v) ? json_object_get_string(v) : "");
    cb_log(NULL, line);
    json_object *spec = json_object_object_get_ex(job, "spec", &v) ? json_object_get(v) : NULL;
    int bundle = json_object_object_get_ex(job, "bundle", &v) && json_object_get_boolean(v);
    int building = bundle && json_object_object_get_ex(job, "building", &v) &&
                   json_object_get_boolean(v);
    if (bundle && worker_bundle(d, building, &spec, e) != 0) {
        json_object_put(spec);
        goto out;
    }
    json_object_object_add(job, "spec", spec); /* job owns it from here */
    if ((!building && worker_load(d, e) != 0) || ml_data_finish(d, e) != 0)
        goto out;
    /* Field types the client set on the dataset (trainer/child.c). */
    if (json_object_object_get_ex(spec, "field_types", &v) && ml_data_retype(d, v, e) != 0)
        goto out;
    snprintf(line, sizeof(line), "dataset loaded: %zu rows, %zu columns%s", ml_data_rows(d),
             ml_data_columns(d),
             ml_data_spilled(d) ? " (larger than memory: its columns are in page files on "
                                  "local disk, training reads them from there)" : "");
    cb_log(NULL, line);
    if (json_object_object_get_ex(job, "test_mode", &v) && worker_test_mode(v, e) != 0)
        goto out;
    double started_at = json_object_object_get_ex(job, "started_at", &v)
                            ? json_object_get_double(v) : 0;
    double margin = json_object_object_get_ex(job, "store_margin", &v)
                        ? json_object_get_double(v) : 1;
    double left = trainer_budget_end(started_at, margin, spec) - util_now_wall();
    if (left < 1)
        left = 1;
    ml_callbacks_t cb = {cb_progress, cb_log, cb_should_stop, NULL};
    if (ml_train(d, spec, util_now_monotonic() + left, &cb, &res, e) != 0)
        goto out;
    if (worker_stop) {
        err_set(e, 499, "killed", "killed");
        goto out;
    }
    rc = worker_send_result(&res, e);
out:
    ml_result_free(&res);
    json_object_put(job);
    ml_data_free(d);
    return rc;
}

int trainer_worker_main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = worker_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    log_init("trainyard-job", LOG_INFO);
    json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);
    err_t e;
    err_clear(&e);
    if (worker_run(&e) != 0) {
        char line[PROTO_LINE_MAX];
        util_write_all(WORKER_FD_PROTO, line,
                         proto_format_error(line, sizeof(line), e.status, err_message(&e)));
        return CHILD_EXIT_FAILED;
    }
    return CHILD_EXIT_DONE;
}
