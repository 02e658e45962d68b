/*
 * extmem.c — task detection and search over a spilled dataset (see
 * extmem.h).
 *
 * One reader walks the page groups in order (reader_next): it reads the
 * target's and every input's values of a group, turns targets into labels
 * and inputs into field rows exactly as enc_fill_rows does, and splits the
 * rows into the holdout and the batch XGBoost gets. The first full pass
 * also copies the holdout rows out; later passes (XGBoost may reset the
 * iterator) only skip them.
 */
#include "ml/extmem.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "ml/metrics.h"
#include "ml/num.h"
#include "ml/xgb.h"

static void progress(const extmem_in_t *in, double now)
{
    const ml_callbacks_t *cb = in->cb;
    if (cb == NULL || cb->progress == NULL)
        return;
    double span = in->job_end - in->job_start, f = span > 0 ? (now - in->job_start) / span : 1;
    cb->progress(cb->ctx, f < 0 ? 0 : f > 1 ? 1 : f, in->job_end - now);
}

static int stop_asked(const extmem_in_t *in)
{
    return in->cb && in->cb->should_stop && in->cb->should_stop(in->cb->ctx);
}

/* --- task ------------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int cmp_class(const void *a, const void *b, void *bools)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    if (*(const int *)bools) {
        int bx = num_bool_word(x, strlen(x)), by = num_bool_word(y, strlen(y));
        if (bx != by)
            return bx - by;
    }
    return strcmp(x, y);
}

/* Distinct values of a number column, up to cap + 1 of them (sorted). */
static int numeric_classes(const ml_data_t *d, size_t col, float *vals, size_t cap, size_t *nd,
                           size_t *n, int *all_int, err_t *e)
{
    const spill_t *s = d->spill;
    size_t gmax = 0;
    for (size_t g = 0; g < spill_groups(s); g++)
        gmax = spill_group_size(s, g) > gmax ? spill_group_size(s, g) : gmax;
    float *buf = malloc((gmax + 1) * sizeof(*buf));
    if (buf == NULL)
        return err_set(e, 500, "internal", "out of memory");
    *nd = 0;
    *n = 0;
    *all_int = 1;
    for (size_t g = 0; g < spill_groups(s); g++) {
        size_t m = spill_group_size(s, g);
        if (spill_read(s, &d->cols[col], col, g, buf, e) < 0) {
            free(buf);
            return -1;
        }
        for (size_t i = 0; i < m; i++) {
            float v = buf[i];
            if (isnan(v))
                continue;
            (*n)++;
            if (v != floorf(v))
                *all_int = 0;
            if (*nd > cap)
                continue;
            float *hit = bsearch(&v, vals, *nd, sizeof(*vals), cmp_float);
            if (hit != NULL)
                continue;
            size_t at = *nd;
            while (at > 0 && vals[at - 1] > v) {
                vals[at] = vals[at - 1];
                at--;
            }
            vals[at] = v;
            (*nd)++;
        }
    }
    free(buf);
    return 0;
}

int extmem_task_detect(const ml_data_t *d, size_t col, const char *override, task_info_t *t,
                       err_t *e)
{
    memset(t, 0, sizeof(*t));
    if (override && strcmp(override, "binary") != 0 && strcmp(override, "multiclass") != 0 &&
        strcmp(override, "regression") != 0)
        return err_add(e, 400, "literal_error", "task",
                       "task must be binary, multiclass or regression");
    const column_t *c = &d->cols[col];
    csv_type_t type = d->types[col];
    if (type == CSV_NUMBER) {
        float vals[TASK_MAX_CLASSES + 2];
        size_t nd = 0, n = 0;
        int all_int = 1;
        if (numeric_classes(d, col, vals, TASK_MAX_CLASSES, &nd, &n, &all_int, e) < 0)
            return -1;
        t->n = n;
        int many = nd > TASK_MAX_CLASSES;
        int classify;
        if (override && strcmp(override, "regression") == 0) {
            classify = 0;
            snprintf(t->reason, sizeof(t->reason), "regression: set by the spec");
        } else if (override) {
            classify = 1;
            snprintf(t->reason, sizeof(t->reason), "%s: set by the spec", override);
        } else if (all_int && nd <= TASK_MAX_INT_CLASSES) {
            classify = 1;
            snprintf(t->reason, sizeof(t->reason),
                     "numeric field with %zu distinct integer values: treated as class labels",
                     nd);
        } else {
            classify = 0;
            snprintf(t->reason, sizeof(t->reason), "numeric field with %s%zu distinct %svalues: "
                     "regression", many ? "over " : "", many ? (size_t)TASK_MAX_CLASSES : nd,
                     all_int ? "integer " : "");
        }
        if (!classify) {
            if (nd < 2)
                return err_set(e, 400, "training_invalid",
                               "predict field \"%s\" has fewer than 2 distinct values",
                               d->names[col]);
            t->task = TASK_REGRESSION;
            t->k = 1;
        } else {
            if (many || nd < 2)
                return err_set(e, 400, "training_invalid",
                               "predict field \"%s\" has %s%zu distinct values: cannot classify",
                               d->names[col], many ? "over " : "",
                               many ? (size_t)TASK_MAX_CLASSES : nd);
            t->k = nd;
            t->classes = calloc(nd, sizeof(*t->classes));
            if (t->classes == NULL)
                return err_set(e, 500, "internal", "out of memory");
            for (size_t j = 0; j < nd; j++) {
                char buf[32];
                num_format_float(vals[j], buf, sizeof(buf));
                if ((t->classes[j] = strdup(buf)) == NULL)
                    return err_set(e, 500, "internal", "out of memory");
            }
        }
    } else {
        if (override && strcmp(override, "regression") == 0)
            return err_set(e, 400, "training_invalid",
                           "predict field \"%s\" is a %s: regression needs numbers",
                           d->names[col], csv_type_name(type));
        if (c->n_overflow > 0 || c->dict.n > TASK_MAX_CLASSES || c->dict.n < 2)
            return err_set(e, 400, "training_invalid",
                           "predict field \"%s\" has %zu distinct values: cannot classify",
                           d->names[col], c->dict.n + (c->n_overflow > 0));
        size_t nd = c->dict.n;
        t->classes = calloc(nd, sizeof(*t->classes));
        if (t->classes == NULL)
            return err_set(e, 500, "internal", "out of memory");
        t->k = nd;
        for (size_t i = 0; i < nd; i++)
            if ((t->classes[i] = strdup(dict_text(&c->dict, i))) == NULL)
                return err_set(e, 500, "internal", "out of memory");
        int bools = type == CSV_BOOLEAN;
        qsort_r(t->classes, nd, sizeof(*t->classes), cmp_class, &bools);
        t->n = d->n_rows - c->n_missing;
        snprintf(t->reason, sizeof(t->reason), "%s field with %zu values: %s",
                 csv_type_name(type), nd, override ? "set by the spec" : "class labels");
    }
    if (t->task != TASK_REGRESSION || t->k != 1)
        t->task = t->k == 2 ? TASK_BINARY : TASK_MULTICLASS;
    if (override && strcmp(override, "binary") == 0 && t->k != 2)
        return err_set(e, 400, "training_invalid",
                       "predict field \"%s\" has %zu classes: not binary", d->names[col], t->k);
    if (t->n < 2)
        return err_set(e, 400, "training_invalid",
                       "predict field \"%s\" has fewer than 2 rows with a value", d->names[col]);
    return 0;
}

/* --- the page reader ----------------------------------------------------- */

typedef struct reader {
    const extmem_in_t *in;
    size_t p;                  /* field row width */
    size_t g;                  /* next group */
    size_t row0;               /* first dataset row of group g */
    void **colbuf;             /* per input: one group's values (float or uint32) */
    void *tbuf;                /* the target's */
    float *X, *label;          /* the batch handed to XGBoost */
    float *class_vals;         /* numeric classification: class values, sorted */
    uint32_t *class_of_code;   /* text classes: dict id -> class */
    uint64_t valid_cut;        /* row is held out when its hash is below this */
    uint64_t salt;
    int collecting;            /* first pass: copy the holdout out */
    float *F, *y;              /* the holdout (cap rows) */
    size_t nv, cap;
    size_t n_train;            /* training rows of the first pass */
    double ysum;               /* training labels' sum (regression base score) */
    size_t batches;
    double last_tick;
    err_t *e;
    int failed;
} reader_t;

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void reader_reset(void *ctx)
{
    reader_t *r = ctx;
    if (r->collecting && r->g > 0)
        r->collecting = 0; /* an interrupted first pass: the holdout so far stands */
    r->g = 0;
    r->row0 = 0;
}

/* Label of the target value at i of the group buffer, or NaN (missing). */
static float reader_label(const reader_t *r, size_t i)
{
    const extmem_in_t *in = r->in;
    const column_t *c = &in->d->cols[in->target];
    if (!c->is_codes) {
        float v = ((const float *)r->tbuf)[i];
        if (isnan(v) || in->t->task == TASK_REGRESSION)
            return v;
        float *hit = bsearch(&v, r->class_vals, in->t->k, sizeof(float), cmp_float);
        return hit ? (float)(hit - r->class_vals) : NAN;
    }
    uint32_t code = ((const uint32_t *)r->tbuf)[i];
    return code < COL_OVERFLOW ? (float)r->class_of_code[code] : NAN;
}

static void reader_field_row(const reader_t *r, size_t i, float *out)
{
    const enc_plan_t *p = r->in->plan;
    for (size_t j = 0; j < p->n; j++) {
        const enc_feature_t *f = &p->f[j];
        const column_t *c = &r->in->d->cols[f->col];
        if (!c->is_codes) {
            out[j] = ((const float *)r->colbuf[j])[i];
            continue;
        }
        uint32_t code = ((const uint32_t *)r->colbuf[j])[i];
        out[j] = code == COL_MISSING    ? NAN
                 : code == COL_OVERFLOW ? (f->kind == ENC_CATEGORY && f->other
                                               ? (float)f->n_levels : NAN)
                                        : (float)f->map[code];
    }
}

/* xgb_batches_t.next: the training rows of the next group that has any. */
static int reader_next(void *ctx, const float **X, const float **label, size_t *n)
{
    reader_t *r = ctx;
    const extmem_in_t *in = r->in;
    const spill_t *s = in->d->spill;
    while (r->g < spill_groups(s)) {
        if (stop_asked(in)) {
            r->failed = 1;
            err_set(r->e, 499, "killed", "killed");
            return 0;
        }
        size_t g = r->g, m = spill_group_size(s, g);
        if (spill_read(s, &in->d->cols[in->target], in->target, g, r->tbuf, r->e) < 0) {
            r->failed = 1;
            return 0;
        }
        for (size_t j = 0; j < r->p; j++) {
            size_t col = in->plan->f[j].col;
            if (spill_read(s, &in->d->cols[col], col, g, r->colbuf[j], r->e) < 0) {
                r->failed = 1;
                return 0;
            }
        }
        size_t k = 0;
        for (size_t i = 0; i < m; i++) {
            float lab = reader_label(r, i);
            if (isnan(lab))
                continue;
            if (mix64(r->salt ^ (uint64_t)(r->row0 + i)) < r->valid_cut) {
                if (r->collecting && r->nv < r->cap) {
                    reader_field_row(r, i, r->F + r->nv * r->p);
                    r->y[r->nv++] = lab;
                }
                continue; /* held out (past the cap: in neither set) */
            }
            reader_field_row(r, i, r->X + k * r->p);
            r->label[k++] = lab;
            if (r->collecting) {
                r->n_train++;
                r->ysum += lab;
            }
        }
        r->g++;
        r->row0 += m;
        if (r->collecting && r->g == spill_groups(s))
            r->collecting = 0;
        double now = util_now_monotonic();
        if (now - r->last_tick > 0.5) {
            progress(in, now);
            r->last_tick = now;
        }
        if (k == 0)
            continue;
        r->batches++;
        *X = r->X;
        *label = r->label;
        *n = k;
        return 1;
    }
    if (r->collecting)
        r->collecting = 0;
    return 0;
}

static void reader_free(reader_t *r)
{
    if (r->colbuf)
        for (size_t j = 0; j < r->p; j++)
            free(r->colbuf[j]);
    free(r->colbuf);
    free(r->tbuf);
    free(r->X);
    free(r->label);
    free(r->class_vals);
    free(r->class_of_code);
    free(r->F);
    free(r->y);
}

static int reader_init(reader_t *r, const extmem_in_t *in, err_t *e)
{
    memset(r, 0, sizeof(*r));
    r->in = in;
    r->e = e;
    r->p = in->plan->n;
    r->collecting = 1;
    r->salt = mix64(in->seed ^ 0x243f6a8885a308d3ULL);
    const spill_t *s = in->d->spill;
    size_t gmax = 1;
    for (size_t g = 0; g < spill_groups(s); g++)
        gmax = spill_group_size(s, g) > gmax ? spill_group_size(s, g) : gmax;
    r->colbuf = calloc(r->p, sizeof(*r->colbuf));
    r->tbuf = malloc(gmax * 4);
    r->X = malloc(gmax * r->p * sizeof(float));
    r->label = malloc(gmax * sizeof(float));
    if (r->colbuf == NULL || r->tbuf == NULL || r->X == NULL || r->label == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t j = 0; j < r->p; j++)
        if ((r->colbuf[j] = malloc(gmax * 4)) == NULL)
            return err_set(e, 500, "internal", "out of memory");
    /* Labels as task detection numbered them. */
    const task_info_t *t = in->t;
    const column_t *c = &in->d->cols[in->target];
    if (t->task != TASK_REGRESSION && !c->is_codes) {
        if ((r->class_vals = malloc(t->k * sizeof(float))) == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t j = 0; j < t->k; j++)
            num_parse_float(t->classes[j], strlen(t->classes[j]), &r->class_vals[j]);
    } else if (c->is_codes) {
        if ((r->class_of_code = malloc((c->dict.n + 1) * sizeof(uint32_t))) == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < c->dict.n; i++)
            for (size_t j = 0; j < t->k; j++)
                if (strcmp(dict_text(&c->dict, i), t->classes[j]) == 0)
                    r->class_of_code[i] = (uint32_t)j;
    }
    /* The holdout: a fifth of the rows, bounded in cells (it stays in
     * memory), at least 2000 rows where there are that many. */
    double n = (double)t->n, want = EXTMEM_VALID_CELLS / (double)(r->p ? r->p : 1);
    want = fmin(fmax(want, 2000.0), 200000.0);
    double frac = fmin(0.2, want / fmax(n, 1.0));
    r->cap = (size_t)(want * 1.1) + 16;
    r->valid_cut = (uint64_t)(frac * 18446744073709551615.0);
    r->F = malloc(r->cap * r->p * sizeof(float) + 1);
    r->y = malloc(r->cap * sizeof(float));
    if (r->F == NULL || r->y == NULL)
        return err_set(e, 500, "internal", "out of memory");
    return 0;
}

/* --- candidates ------------------------------------------------------------ */

typedef struct cand {
    double eta;
    int depth;
    double mcw, subsample, colsample;
} cand_t;

/* Few and cheap: every round reads the pages several times (a pass per
 * tree level), some 4x the time of an in-memory round (measured with
 * XGBoost 1.7.4), and a big table gets few rounds in its budget. So the
 * first candidate learns fast per round (high eta, deep trees) and halves
 * the cells each round touches (rows and columns sampled); the others are
 * tried only with the time it leaves. Tried in order; each early-stops on
 * the holdout. */
static const cand_t extmem_cands[] = {
    {0.3, 7, 5.0, 0.5, 0.5},
    {0.15, 6, 1.0, 0.8, 0.8},
    {0.3, 4, 1.0, 1.0, 1.0},
};
#define N_CANDS (sizeof(extmem_cands) / sizeof(extmem_cands[0]))
#define PATIENCE 20

typedef struct cand_res {
    void *booster;             /* sliced to its best round */
    double value;              /* reported metric on the holdout */
    int rounds, trained;
    double seconds;
    int truncated, stopped_early;
} cand_res_t;

static int set_params(const extmem_in_t *in, void *b, const cand_t *c, double base, err_t *e)
{
    char buf[64];
    const ml_task_t task = in->t->task;
#define P(k, v)                                                                                    \
    do {                                                                                           \
        if (xgb_booster_param(b, k, v, e) < 0)                                                     \
            return -1;                                                                             \
    } while (0)
#define PF(k, fmt, v)                                                                              \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), fmt, v);                                                        \
        P(k, buf);                                                                                 \
    } while (0)
    /* One thread on small tables (tests force them here): OpenMP's
     * hand-offs cost more than they save, as in ml/search.c. */
    P("nthread", (double)in->t->n * (double)in->plan->n > 1e6 ? "2" : "1");
    P("objective", task == TASK_BINARY ? "binary:logistic"
                   : task == TASK_MULTICLASS ? "multi:softprob" : "reg:squarederror");
    P("eval_metric", task == TASK_BINARY ? "logloss" : task == TASK_MULTICLASS ? "mlogloss"
                                                                                : "rmse");
    PF("seed", "%llu", in->seed);
    P("verbosity", "0");
    if (task == TASK_MULTICLASS)
        PF("num_class", "%zu", in->t->k);
    if (task == TASK_REGRESSION)
        PF("base_score", "%.9g", base);
    P("booster", "gbtree");
    P("tree_method", "hist");
    P("grow_policy", "depthwise");
    /* Histograms are nodes x features x bins x 16 bytes per thread: at
     * depth 7 with 200 features and 256 bins that is 200 MB of a 1 GB cap.
     * 128 bins halve it. */
    P("max_bin", "128");
    PF("eta", "%.9g", c->eta);
    PF("max_depth", "%d", c->depth);
    PF("min_child_weight", "%.9g", c->mcw);
    PF("subsample", "%.9g", c->subsample);
    PF("colsample_bytree", "%.9g", c->colsample);
    P("max_cat_to_onehot", "4");
#undef P
#undef PF
    return 0;
}

/* The reported metric (search.h's: auc, accuracy, rmse) of pred on the
 * holdout. */
static double holdout_metric(ml_task_t task, size_t k, const float *pred, const float *y,
                             size_t nv)
{
    if (task == TASK_REGRESSION)
        return metric_rmse(pred, y, nv);
    int *yi = malloc((nv + 1) * sizeof(*yi));
    float *s = malloc((nv + 1) * sizeof(*s));
    double v = NAN;
    if (yi != NULL && s != NULL) {
        for (size_t i = 0; i < nv; i++) {
            yi[i] = (int)y[i];
            s[i] = task == TASK_BINARY ? pred[i * 2 + 1] : 0;
        }
        v = task == TASK_BINARY ? metric_auc(s, yi, nv) : metric_accuracy(pred, yi, nv, k);
    }
    free(yi);
    free(s);
    return v;
}

static int better(ml_task_t task, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    return task == TASK_REGRESSION ? a < b : a > b;
}

/* Trains one candidate until it stops improving, its time is out or a
 * stop is asked; r->booster is the model cut at its best round. */
static int run_cand(const extmem_in_t *in, const cand_t *c, void *dtrain, void *dvalid,
                    double base, double until, const float *F, const float *y, size_t nv,
                    cand_res_t *r, err_t *e)
{
    void *mats[2] = {dtrain, dvalid};
    void *b = NULL;
    double t0 = util_now_monotonic();
    memset(r, 0, sizeof(*r));
    r->value = NAN;
    if (xgb_booster_new(mats, 2, &b, e) < 0)
        return -1;
    int rc = -1, best = -1;
    /* The next round is guessed from the last one: the first also builds
     * XGBoost's quantile sketch and gradient-index pages (one-off, often
     * the longest by far). */
    double best_loss = 0, last = 0;
    if (set_params(in, b, c, base, e) < 0)
        goto out;
    for (int it = 0;; it++) {
        double r0 = util_now_monotonic();
        if (it > 0 && r0 + last > until) {
            r->truncated = 1;
            break;
        }
        if (stop_asked(in)) {
            err_set(e, 499, "killed", "killed");
            goto out;
        }
        double loss;
        if (xgb_booster_update(b, it, dtrain, e) < 0 || xgb_booster_eval(b, it, dvalid, &loss, e) < 0)
            goto out;
        r->trained = it + 1;
        double now = util_now_monotonic();
        last = now - r0;
        if (best < 0 || loss < best_loss - 1e-6 * fabs(best_loss)) {
            best_loss = loss;
            best = it;
        } else if (it - best >= PATIENCE) {
            r->stopped_early = 1;
            break;
        }
        progress(in, now);
    }
    r->rounds = best + 1;
    if (xgb_booster_slice(b, r->rounds, &r->booster, e) < 0)
        goto out;
    float *pred = NULL;
    if (scoring_predict(in->plan, r->booster, in->t->task, in->t->k, F, nv, &pred, e) < 0)
        goto out;
    r->value = holdout_metric(in->t->task, in->t->k, pred, y, nv);
    free(pred);
    rc = 0;
out:
    xgb_booster_free(b);
    r->seconds = util_now_monotonic() - t0;
    return rc;
}

static json_object *cand_json(const cand_t *c, const cand_res_t *r, const char *metric)
{
    json_object *o = json_object_new_object(), *p = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string("tree"));
    json_object_object_add(p, "booster", json_object_new_string("gbtree"));
    json_object_object_add(p, "tree_method", json_object_new_string("hist"));
    json_object_object_add(p, "grow_policy", json_object_new_string("depthwise"));
    json_object_object_add(p, "max_bin", json_object_new_int(128));
    json_object_object_add(p, "external_memory", json_object_new_boolean(1));
    json_object_object_add(p, "eta", json_object_new_double(c->eta));
    json_object_object_add(p, "max_depth", json_object_new_int(c->depth));
    json_object_object_add(p, "min_child_weight", json_object_new_double(c->mcw));
    json_object_object_add(p, "subsample", json_object_new_double(c->subsample));
    json_object_object_add(p, "colsample_bytree", json_object_new_double(c->colsample));
    json_object_object_add(p, "max_cat_to_onehot", json_object_new_int(4));
    json_object_object_add(o, "params", p);
    json_object_object_add(o, "metric", json_object_new_string(metric));
    json_object_object_add(o, "value", json_object_new_double(r->value));
    json_object_object_add(o, "trees", json_object_new_int(r->rounds));
    json_object_object_add(o, "rounds", json_object_new_int(r->rounds));
    json_object_object_add(o, "trained_rounds", json_object_new_int(r->trained));
    json_object_object_add(o, "seconds", json_object_new_double(r->seconds));
    json_object_object_add(o, "truncated", json_object_new_boolean(r->truncated));
    return o;
}

/* Bytes of the files named prefix* in dir; with drop, removes them too. */
static unsigned long long cache_files(const char *dir, const char *prefix, int drop)
{
    unsigned long long total = 0;
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return 0;
    struct dirent *de;
    size_t pl = strlen(prefix);
    while ((de = readdir(dp)) != NULL) {
        if (strncmp(de->d_name, prefix, pl) != 0)
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0)
            total += (unsigned long long)st.st_size;
        if (drop)
            unlink(path);
    }
    closedir(dp);
    return total;
}

int extmem_search(const extmem_in_t *in, search_out_t *out, float **F, float **y, size_t *nv,
                  json_object **info, err_t *e)
{
    memset(out, 0, sizeof(*out));
    *F = NULL;
    *y = NULL;
    *nv = 0;
    *info = NULL;
    const ml_task_t task = in->t->task;
    out->metric = task == TASK_BINARY ? "auc" : task == TASK_MULTICLASS ? "accuracy" : "rmse";
    reader_t r;
    char **names = NULL, **types = NULL;
    size_t w = 0;
    void *dtrain = NULL, *dvalid = NULL;
    cand_res_t res[N_CANDS];
    size_t nres = 0;
    int rc = -1;
    char prefix[64];
    /* XGBoost appends "-<address>.<kind>.page": the trailing "-" keeps
     * field 1's prefix from matching field 10's files. */
    snprintf(prefix, sizeof(prefix), "xgb-%zu-", in->field_index);
    char cache[4096];
    snprintf(cache, sizeof(cache), "%s/%s", in->d->spill_dir, prefix);
    memset(res, 0, sizeof(res));
    double t0 = util_now_monotonic();
    if (reader_init(&r, in, e) < 0)
        goto out;
    if (enc_feature_info(in->plan, &names, &types, &w) < 0) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    /* XGBoost 1.7's external memory mistrains categorical features
     * (dmlc/xgboost#10036, fixed in 2.1): levels go in as their codes,
     * numbers ordered by frequency, split like any number. The model and
     * its preprocess JSON are unchanged in form: predictions send the same
     * codes. */
    for (size_t j = 0; j < w; j++)
        types[j][0] = 'q';
    xgb_batches_t batches = {reader_next, reader_reset, &r, w, names, types};
    ml_log(in->cb, "%s: external memory: %zu rows on disk (%.1f MB of pages), building XGBoost's "
        "page cache", in->field, in->d->n_rows, (double)spill_bytes(in->d->spill) / 1e6);
    if (xgb_extmem_new(&batches, cache, &dtrain, e) < 0 || r.failed) {
        if (r.failed && e->count == 0)
            err_set(e, 500, "internal", "reading the pages failed");
        goto out;
    }
    double t_pages = util_now_monotonic() - t0;
    unsigned long long cache_bytes = cache_files(in->d->spill_dir, prefix, 0);
    if (r.nv < 2 || r.n_train < 2) {
        err_set(e, 400, "training_invalid", "predict field \"%s\": too few rows to train and "
                "validate on", in->field);
        goto out;
    }
    ml_log(in->cb, "%s: external memory: %zu training rows in %zu batches, %zu held out; page "
        "cache %.1f MB, built in %.1fs", in->field, r.n_train, r.batches, r.nv,
        (double)cache_bytes / 1e6, t_pages);
    if (xgb_dmatrix_new(r.F, r.nv, w, names, types, r.y, NULL, &dvalid, e) < 0)
        goto out;
    double base = r.n_train ? r.ysum / (double)r.n_train : 0;
    size_t limit = in->max_models > 0 && (size_t)in->max_models < N_CANDS
                       ? (size_t)in->max_models : N_CANDS;
    int best = -1, all_early = 1;
    for (size_t i = 0; i < limit; i++) {
        double now = util_now_monotonic(), left = in->end - in->reserve - now;
        if (i > 0 && left < 1)
            break;
        /* The first candidate may take 70% of the time, each later one
         * an equal part of what is left. */
        double share = i == 0 && limit > 1 ? 0.7 : 1.0 / (double)(limit - i);
        if (in->max_models > 0)
            share = 1.0 / (double)(limit - i);
        if (run_cand(in, &extmem_cands[i], dtrain, dvalid, base, now + left * share, r.F, r.y,
                     r.nv, &res[i], e) < 0) {
            xgb_booster_free(res[i].booster);
            res[i].booster = NULL;
            goto out;
        }
        nres = i + 1;
        all_early &= res[i].stopped_early;
        out->truncated |= res[i].truncated;
        ml_log(in->cb, "%s: candidate %zu (external memory) depth %d eta %.2g: %s=%.5f, %d rounds "
            "of %d, %.1fs%s", in->field, i + 1, extmem_cands[i].depth, extmem_cands[i].eta,
            out->metric, res[i].value, res[i].rounds, res[i].trained, res[i].seconds,
            res[i].stopped_early ? " (stopped improving)" : "");
        if (best < 0 || better(task, res[i].value, res[best].value))
            best = (int)i;
    }
    if (best < 0) {
        err_set(e, 500, "internal", "no candidate trained");
        goto out;
    }
    out->booster = res[best].booster;
    res[best].booster = NULL;
    out->rounds = res[best].rounds;
    out->value = res[best].value;
    if (xgb_booster_features(out->booster, names, types, w, e) < 0 ||
        xgb_booster_save(out->booster, &out->bytes, &out->len, e) < 0 ||
        scoring_predict(in->plan, out->booster, task, in->t->k, r.F, r.nv, &out->valid_pred,
                        e) < 0)
        goto out;
    /* Ranked by the holdout metric (a handful: insertion sort). */
    size_t order[N_CANDS];
    for (size_t i = 0; i < nres; i++) {
        size_t at = i;
        while (at > 0 && better(task, res[i].value, res[order[at - 1]].value)) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    out->candidates = json_object_new_array();
    char why[160];
    snprintf(why, sizeof(why), "best holdout %s of the %zu external-memory candidates tried",
             out->metric, nres);
    for (size_t rank = 0; rank < nres; rank++) {
        size_t i = order[rank];
        json_object *o = cand_json(&extmem_cands[i], &res[i], out->metric);
        json_object_object_add(o, "rank", json_object_new_int((int)rank + 1));
        json_object_object_add(o, "chosen", json_object_new_boolean(i == (size_t)best));
        if (i == (size_t)best)
            json_object_object_add(o, "why", json_object_new_string(why));
        json_object_array_add(out->candidates, o);
    }
    snprintf(out->reason, sizeof(out->reason), "%s (data larger than memory: fewer candidates, "
             "each pass reads the pages from disk)", why);
    if (in->max_models > 0 && nres == limit)
        out->stopped = "max_models";
    else if (all_early && nres == limit)
        out->stopped = "converged";
    else
        out->stopped = "time budget";
    if (out->stopped[0] == 'c')
        snprintf(out->stopped_detail, sizeof(out->stopped_detail),
                 "every candidate stopped improving on the holdout for %d rounds", PATIENCE);
    *info = json_object_new_object();
    json_object_object_add(*info, "rows", json_object_new_int64((int64_t)in->d->n_rows));
    json_object_object_add(*info, "training_rows", json_object_new_int64((int64_t)r.n_train));
    json_object_object_add(*info, "validation_rows", json_object_new_int64((int64_t)r.nv));
    json_object_object_add(*info, "page_bytes",
                           json_object_new_int64((int64_t)spill_bytes(in->d->spill)));
    json_object_object_add(*info, "cache_bytes", json_object_new_int64((int64_t)cache_bytes));
    json_object_object_add(*info, "batches", json_object_new_int64((int64_t)r.batches));
    json_object_object_add(*info, "seconds_to_pages", json_object_new_double(t_pages));
    *F = r.F;
    *y = r.y;
    *nv = r.nv;
    r.F = NULL;
    r.y = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < N_CANDS; i++)
        xgb_booster_free(res[i].booster);
    xgb_dmatrix_free(dvalid);
    xgb_dmatrix_free(dtrain);
    cache_files(in->d->spill_dir, prefix, 1);
    enc_names_free(names, w);
    enc_names_free(types, w);
    reader_free(&r);
    if (rc < 0)
        search_out_free(out);
    return rc;
}
