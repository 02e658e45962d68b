/*
 * ml_bench.c — drive the training engine on one CSV and score a test CSV.
 *
 *   ml_bench train.csv target duration [seed [test.csv [max_models]]]
 *   ml_bench --ingest file.csv      (parse + type only; prints MB/s)
 *
 * Trains as the trainer child would (stream the file into ml_data, then
 * ml_train with a deadline of now + duration), predicts the test CSV
 * through the API's path (ml_model_load + ml_model_predict on JSON rows of
 * strings), writes model.ubj (and member-<i>.ubj of an ensemble), preprocess.json, result.json and
 * predictions.csv into $ML_BENCH_OUT (default /tmp/ml_bench), and prints
 * one line: dataset, task, test metric, seconds, peak RSS. It runs with
 * OMP_WAIT_POLICY=passive as the trainer does (re-executing itself to set
 * it when absent; an explicit value in the environment is kept). The test file
 * defaults to the train path with "_train" replaced by "_test".
 * ML_BENCH_SPILL=dir trains from page files in dir (data larger than
 * memory, ml/extmem.h), as the trainer's worker does past its cap.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "ml/csv.h"
#include "ml/metrics.h"
#include "ml/model.h"
#include "ml/train.h"

static int quiet;

/* CPU seconds of this process: on a shared box the wall clock measures
 * the neighbours too. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    if (!quiet)
        fprintf(stderr, "  %s\n", line);
}

static void on_progress(void *ctx, double f, double left)
{
    (void)ctx;
    (void)f;
    (void)left;
}

typedef struct test_rows {
    char **names;
    size_t n_cols;
    json_object *rows;
    json_object *truth;        /* target texts */
    long target;
    const char *target_name;
} test_rows_t;

static int test_record(void *ctx, const csv_cell_t *c, size_t n, unsigned long long line, err_t *e)
{
    test_rows_t *t = ctx;
    (void)line;
    (void)e;
    if (t->names == NULL) {
        t->names = calloc(n, sizeof(*t->names));
        t->n_cols = n;
        for (size_t i = 0; i < n; i++) {
            t->names[i] = strndup(c[i].ptr, c[i].len);
            if (strcmp(t->names[i], t->target_name) == 0)
                t->target = (long)i;
        }
        return 0;
    }
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        if ((long)i == t->target) {
            json_object_array_add(t->truth, json_object_new_string_len(c[i].ptr, (int)c[i].len));
            continue;
        }
        json_object_object_add(o, t->names[i], json_object_new_string_len(c[i].ptr, (int)c[i].len));
    }
    json_object_array_add(t->rows, o);
    return 0;
}

static int feed_file(const char *path, int (*feed)(void *, const char *, size_t, err_t *),
                     void *obj, err_t *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(e, 400, "io", "cannot open %s", path);
    static char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
        if (feed(obj, buf, k, e) < 0) {
            fclose(f);
            return -1;
        }
    fclose(f);
    return 0;
}

static int data_feed(void *d, const char *b, size_t n, err_t *e)
{
    return ml_data_feed(d, b, n, e);
}

static int reader_feed(void *r, const char *b, size_t n, err_t *e)
{
    return csv_reader_feed(r, b, n, e);
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* --ingest file.csv: parse + type only, print MB/s. */
static int ingest_only(const char *path)
{
    err_t e;
    err_clear(&e);
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "cannot stat %s\n", path);
        return 1;
    }
    double t0 = util_now_monotonic();
    ml_data_t *d = ml_data_new(NULL);
    if (feed_file(path, data_feed, d, &e) < 0 || ml_data_finish(d, &e) < 0) {
        fprintf(stderr, "ingest: %s\n", err_message(&e));
        return 1;
    }
    double dt = util_now_monotonic() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mb = (double)st.st_size / 1e6;
    printf("ingest %.1f MB in %.2f s = %.1f MB/s, %zu rows x %zu columns, float matrix %.1f MB, "
           "peak_rss=%ldMB\n", mb, dt, mb / dt, ml_data_rows(d), ml_data_columns(d),
           (double)ml_data_rows(d) * (double)ml_data_columns(d) * 4 / 1e6, ru.ru_maxrss / 1024);
    ml_data_free(d);
    return 0;
}

int main(int argc, char **argv)
{
    /* libgomp reads OMP_WAIT_POLICY once, when it loads: set it and start
     * again, so that the figures are those of the trainer, which runs with
     * passive waiting (spinning threads starve a busy 2-core box). */
    if (getenv("OMP_WAIT_POLICY") == NULL) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
        perror("ml_bench: re-exec with OMP_WAIT_POLICY=passive"); /* run on without it */
    }
    if (argc == 3 && strcmp(argv[1], "--ingest") == 0)
        return ingest_only(argv[2]);
    if (argc < 4) {
        fprintf(stderr, "usage: %s train.csv target duration [seed [test.csv [max_models]]]\n",
                argv[0]);
        return 2;
    }
    quiet = getenv("ML_BENCH_QUIET") != NULL;
    const char *train = argv[1], *target = argv[2];
    double duration = atof(argv[3]);
    const char *outdir = getenv("ML_BENCH_OUT") ? getenv("ML_BENCH_OUT") : "/tmp/ml_bench";
    mkdir(outdir, 0755);
    char test[1024];
    if (argc > 5 && *argv[5]) {
        snprintf(test, sizeof(test), "%s", argv[5]);
    } else {
        snprintf(test, sizeof(test), "%s", train);
        char *p = strstr(test, "_train");
        if (p)
            memmove(p + 5, p + 6, strlen(p + 6) + 1), memcpy(p, "_test", 5);
    }
    err_t e;
    err_clear(&e);
    double t0 = util_now_monotonic();
    double deadline = t0 + duration;
    ml_data_t *d = ml_data_new(NULL);
    /* ML_BENCH_SPILL=dir: the external-memory path (ml/extmem.h), as the
     * trainer's worker takes it for data larger than its memory. */
    if (getenv("ML_BENCH_SPILL") && ml_data_spill(d, getenv("ML_BENCH_SPILL"),
                      getenv("ML_BENCH_GROUP_ROWS") ? (size_t)atol(getenv("ML_BENCH_GROUP_ROWS")) : 0,
                      &e) < 0) {
        fprintf(stderr, "spill: %s\n", err_message(&e));
        return 1;
    }
    if (feed_file(train, data_feed, d, &e) < 0 || ml_data_finish(d, &e) < 0) {
        fprintf(stderr, "ingest: %s\n", err_message(&e));
        return 1;
    }
    double t_ingest = util_now_monotonic() - t0;
    json_object *spec = json_object_new_object();
    json_object *pf = json_object_new_array();
    json_object_array_add(pf, json_object_new_string(target));
    json_object_object_add(spec, "predict_fields", pf);
    json_object_object_add(spec, "duration", json_object_new_double(duration));
    if (argc > 4 && *argv[4])
        json_object_object_add(spec, "seed", json_object_new_int64(atoll(argv[4])));
    if (argc > 6)
        json_object_object_add(spec, "max_models", json_object_new_int(atoi(argv[6])));
    if (getenv("ML_BENCH_EXTRA"))
        json_object_object_add(spec, "extra_attention", json_object_new_boolean(1));
    ml_callbacks_t cb = {.progress = on_progress, .log = on_log};
    ml_result_t res;
    if (ml_train(d, spec, deadline, &cb, &res, &e) < 0) {
        fprintf(stderr, "train: %s\n", err_message(&e));
        return 1;
    }
    double t_train = util_now_monotonic() - t0;
    struct rusage ru_train;
    getrusage(RUSAGE_SELF, &ru_train);
    ml_model_out_t *mo = &res.models[0];
    write_file(outdir, "model.ubj", mo->booster, mo->booster_len);
    const char *pp = json_object_to_json_string_ext(mo->preprocess, JSON_C_TO_STRING_PRETTY);
    write_file(outdir, "preprocess.json", pp, strlen(pp));
    json_object *ens = NULL, *members = NULL;
    if (json_object_object_get_ex(mo->preprocess, "ensemble", &ens) &&
        json_object_object_get_ex(ens, "members", &members))
        for (size_t i = 0; i < json_object_array_length(members); i++) {
            void *mb = NULL;
            size_t ml = 0;
            char name[32];
            snprintf(name, sizeof(name), "member-%zu.ubj", i);
            if (ml_model_member_file(mo->booster, mo->booster_len, mo->preprocess, i, &mb, &ml,
                                     &e) < 0) {
                fprintf(stderr, "%s: %s\n", name, err_message(&e));
                return 1;
            }
            write_file(outdir, name, mb, ml);
            free(mb);
        }
    const char *rj = json_object_to_json_string_ext(res.result, JSON_C_TO_STRING_PRETTY);
    write_file(outdir, "result.json", rj, strlen(rj));

    test_rows_t tr = {.rows = json_object_new_array(), .truth = json_object_new_array(),
                      .target = -1, .target_name = target};
    csv_reader_t *rd = csv_reader_new(NULL, test_record, &tr);
    if (feed_file(test, reader_feed, rd, &e) < 0 || csv_reader_finish(rd, &e) < 0) {
        fprintf(stderr, "test: %s\n", err_message(&e));
        return 1;
    }
    csv_reader_free(rd);
    ml_model_t *m = ml_model_load(mo->booster, mo->booster_len, mo->preprocess, &e);
    json_object *pred = NULL;
    /* ML_BENCH_PREDICT_REPEAT=N predicts N times (the figures are the
     * mean): long enough to profile. */
    int repeat = getenv("ML_BENCH_PREDICT_REPEAT") ? atoi(getenv("ML_BENCH_PREDICT_REPEAT")) : 1;
    repeat = repeat < 1 ? 1 : repeat;
    double tp0 = util_now_monotonic(), tc0 = cpu_seconds();
    for (int i = 0; i < repeat; i++) {
        json_object_put(pred);
        pred = NULL;
        if (m == NULL || ml_model_predict(m, tr.rows, &pred, &e) < 0) {
            fprintf(stderr, "predict: %s (%s)\n", err_message(&e),
                    e.count ? e.items[0].field : "");
            return 1;
        }
    }
    /* The API's path (model.c: one thread, or the cores for a batch of
     * 2,048 rows or more), JSON rows in and out: the figure beside the
     * 100 ms per 10,000 rows target. */
    double t_pred = (util_now_monotonic() - tp0) / repeat, c_pred = (cpu_seconds() - tc0) / repeat;
    size_t n = json_object_array_length(pred);
    json_object *classes = NULL;
    json_object_object_get_ex(mo->preprocess, "classes", &classes);
    size_t k = classes ? json_object_array_length(classes) : 1;
    float *prob = calloc(n * k + 1, sizeof(float));
    float *yv = calloc(n + 1, sizeof(float));
    int *yi = calloc(n + 1, sizeof(int));
    FILE *pf_out = NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/predictions.csv", outdir);
    pf_out = fopen(path, "w");
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(pred, i), *v;
        const char *truth = json_object_get_string(json_object_array_get_idx(tr.truth, i));
        if (classes == NULL) {
            json_object_object_get_ex(o, target, &v);
            prob[i] = (float)json_object_get_double(v);
            yv[i] = (float)atof(truth);
            if (pf_out)
                fprintf(pf_out, "%.9g\n", (double)prob[i]);
            continue;
        }
        yi[i] = -1;
        for (size_t c = 0; c < k; c++) {
            const char *cn = json_object_get_string(json_object_array_get_idx(classes, c));
            char key[512];
            snprintf(key, sizeof(key), "Probability %s is %s", target, cn);
            json_object_object_get_ex(o, key, &v);
            prob[i * k + c] = (float)json_object_get_double(v);
            char a[64], b[64];
            snprintf(a, sizeof(a), "%g", atof(truth));
            snprintf(b, sizeof(b), "%g", atof(cn));
            if (strcmp(truth, cn) == 0 || (strcmp(a, b) == 0 && strcmp(a, "0") != 0) ||
                (strcmp(a, b) == 0 && truth[0] == '0' && cn[0] == '0'))
                yi[i] = (int)c;
            if (pf_out)
                fprintf(pf_out, "%s%.9g", c ? "," : "", (double)prob[i * k + c]);
        }
        if (pf_out)
            fprintf(pf_out, "\n");
        if (yi[i] < 0)
            yi[i] = 0;
    }
    if (pf_out)
        fclose(pf_out);
    const char *metric;
    double value;
    if (classes == NULL) {
        metric = "rmse";
        value = metric_rmse(prob, yv, n);
    } else if (k == 2) {
        float *s = calloc(n + 1, sizeof(float));
        for (size_t i = 0; i < n; i++)
            s[i] = prob[2 * i + 1];
        metric = "auc";
        value = metric_auc(s, yi, n);
        free(s);
    } else {
        metric = "accuracy";
        value = metric_accuracy(prob, yi, n, k);
    }
    double macro_f1 = classes ? metric_macro_f1(prob, yi, n, k) : 0;
    json_object *rep = NULL, *model = NULL;
    json_object_object_get_ex(res.result, "models", &rep);
    model = json_object_array_get_idx(rep, 0);
    json_object *kind = NULL;
    json_object_object_get_ex(model, "model", &kind);
    printf("%s test_%s=%.6g macro_f1=%.4f model=%s ingest=%.2fs train=%.2fs rows=%zu "
           "train_peak_rss=%ldMB float_matrix=%.1fMB predict_10k=%.0fms(cpu %.0fms)\n", mo->task, metric,
           value, macro_f1, json_object_get_string(kind), t_ingest, t_train, ml_data_rows(d),
           ru_train.ru_maxrss / 1024,
           (double)ml_data_rows(d) * (double)ml_data_columns(d) * 4 / 1e6,
           n ? t_pred * 1e3 * 10000.0 / (double)n : 0.0,
           n ? c_pred * 1e3 * 10000.0 / (double)n : 0.0);
    free(prob);
    free(yv);
    free(yi);
    json_object_put(pred);
    ml_model_free(m);
    json_object_put(tr.rows);
    json_object_put(tr.truth);
    for (size_t i = 0; i < tr.n_cols; i++)
        free(tr.names[i]);
    free(tr.names);
    ml_result_free(&res);
    json_object_put(spec);
    ml_data_free(d);
    return 0;
}
