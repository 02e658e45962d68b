/*
 * train.c — ml_train (train.h): one model per predict field and the
 * result document.
 *
 * Per field: detect the task (task.c), choose and encode the features
 * (encode.c), lay the rows out so that validation blocks are contiguous
 * (stratified holdout of 10-20% above LAYOUT_KFOLD_MAX rows, stratified
 * 5-fold below, 10-fold on a long budget), run the search (search.c),
 * then compute the validation stats, the importances and the data story
 * (explain.c) and the preprocess JSON the model is served with. The time
 * left is shared equally between the fields still to train; each field
 * keeps a small reserve for its explanations.
 *
 * Memory (the bar: trainer peak RSS <= 3x the float matrix + 64 MB): the
 * columns stay (the caller owns them); index arrays are freed as soon as
 * used; above FIELD_ROWS_MAX cells the field rows are never materialised
 * but encoded in batches straight into XGBoost's quantised matrices.
 *
 * Other predict fields are never inputs: they are unknown when predicting.
 */
#include "ml/train.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ml/data.h"
#include "ml/encode.h"
#include "ml/explain.h"
#include "ml/extmem.h"
#include "ml/metrics.h"
#include "ml/search.h"
#include "ml/task.h"
#include "ml/xgb.h"

#define LAYOUT_KFOLD_MAX 5000
#define KFOLD 5
/* A long budget on small data validates on 10 folds instead of 5
 * (kfold_count): each out-of-fold prediction then comes from a model fit
 * on 90% of the rows instead of 80%, closer to the model refit on all of
 * them, so the choices made on those predictions (the linear path's
 * penalty, a blend's weights, blend or pair against a single model) are
 * made on figures more like what is served. A candidate costs ~2.25x as
 * much (twice the folds, 9/8 the rows each), which a short budget cannot
 * pay (it keeps 5, and early finish its few seconds). Measured at 60 s,
 * seeds 0-3, load ~1: digits test accuracy 0.9694 0.9722 0.9778 0.9722 on
 * 5 folds, 0.9722 0.9806 0.9806 0.9806 on 10; credit_data test AUC 0.8496
 * 0.8511 0.8529 0.8547 on 5, 0.8532 0.8510 0.8531 0.8550 on 10; the
 * linear model stays at C = 1 on breast_cancer. */
#define KFOLD_LONG 10
#define KFOLD_LONG_BUDGET 30.0
/* ...and only when a default tree's search on 10 folds (~300 rounds, what
 * the default trees of digits and credit_data run to) takes at most a
 * quarter of the budget, at the hist round's measured cost per training
 * cell x class (digits: 2.3 ms a round on 1,150 rows x 60 inputs x 10
 * classes, ~3.5 ns), so that the search still has room for its families. */
#define KFOLD_LONG_ROUNDS 300.0
#define ROUND_SECONDS_PER_CELL 3.5e-9
/* ...and only while the five more fold matrices (each about the rows x
 * inputs, ~8 bytes a cell as XGBoost's sparse rows) stay within the
 * memory bar's fixed 64 MB (see the top of this file). */
#define KFOLD_LONG_MAX_CELLS 1.6e6
/* Holdout: 20% of the rows, but no more than HOLDOUT_ENOUGH rows unless
 * that is under 10%: past a few thousand rows a bigger validation set
 * adds little to early stopping, while every row moved to training helps
 * (letter, 26 classes: 12.5% held out instead of 20%). */
#define HOLDOUT_FRACTION 0.2
#define HOLDOUT_MIN_FRACTION 0.1
#define HOLDOUT_ENOUGH 2000.0
#define EXPLAIN_SAMPLE 100
/* Field rows are materialised as one float matrix up to this many cells;
 * past it they are encoded batch by batch from the columns whenever
 * XGBoost reads them (the peak-memory bar: 3x the float matrix). */
#define FIELD_ROWS_MAX 8000000.0

typedef struct row_source {
    const enc_plan_t *plan;
    const ml_data_t *d;
    uint32_t *rows;            /* layout row -> dataset row (half a size_t) */
} row_source_t;

static void rows_fill(void *ctx, size_t first, size_t n, float *out)
{
    const row_source_t *rs = ctx;
    size_t idx[1024];
    for (size_t a = 0; a < n; a += 1024) {
        size_t k = n - a < 1024 ? n - a : 1024;
        for (size_t i = 0; i < k; i++)
            idx[i] = rs->rows[first + a + i];
        enc_fill_rows(rs->plan, rs->d, idx, k, out + a * rs->plan->n);
    }
}

typedef struct spec {
    json_object *predict;      /* array of strings */
    json_object *ignore;       /* array of strings or NULL */
    int extra_attention;
    unsigned long long seed;
    int seeded;
    int max_models;
    const char *task;
} spec_t;

void ml_log(const ml_callbacks_t *cb, const char *fmt, ...)
{
    if (cb == NULL || cb->log == NULL)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cb->log(cb->ctx, line);
}

/* Progress between the steps after the search (stats, importance, story):
 * the trainer expects a sign of life at least once a second. */
static void tick(const ml_callbacks_t *cb, double job_start, double job_end)
{
    if (cb == NULL || cb->progress == NULL)
        return;
    double now = util_now_monotonic(), span = job_end - job_start;
    double f = span > 0 ? (now - job_start) / span : 1.0;
    cb->progress(cb->ctx, f < 0 ? 0 : f > 1 ? 1 : f, job_end - now);
}

static int spec_read(json_object *js, const ml_data_t *d, spec_t *s, err_t *e)
{
    memset(s, 0, sizeof(*s));
    json_object *v;
    if (!json_object_is_type(js, json_type_object))
        return err_set(e, 400, "training_invalid", "spec must be an object");
    if (!json_object_object_get_ex(js, "predict_fields", &v) ||
        !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return err_add(e, 400, "missing", "predict_fields", "predict_fields must name a field");
    s->predict = v;
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *f = json_object_array_get_idx(v, i);
        if (!json_object_is_type(f, json_type_string))
            return err_add(e, 400, "string_type", "predict_fields", "field names are strings");
        if (ml_data_find(d, json_object_get_string(f)) < 0)
            return err_set(e, 400, "training_invalid", "predict field \"%s\" is not in the dataset",
                           json_object_get_string(f));
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_object_get_string(f),
                       json_object_get_string(json_object_array_get_idx(v, j))) == 0)
                return err_set(e, 400, "training_invalid", "predict field \"%s\" is listed twice",
                               json_object_get_string(f));
    }
    if (json_object_object_get_ex(js, "ignore_fields", &v) && v != NULL) {
        if (!json_object_is_type(v, json_type_array))
            return err_add(e, 400, "list_type", "ignore_fields", "ignore_fields must be a list");
        s->ignore = v;
    }
    if (json_object_object_get_ex(js, "extra_attention", &v))
        s->extra_attention = json_object_get_boolean(v);
    if (json_object_object_get_ex(js, "seed", &v) && v != NULL) {
        s->seed = (unsigned long long)json_object_get_int64(v);
        s->seeded = 1;
    }
    if (json_object_object_get_ex(js, "max_models", &v) && v != NULL) {
        s->max_models = json_object_get_int(v);
        if (s->max_models < 0)
            s->max_models = 0;
    }
    if (json_object_object_get_ex(js, "task", &v) && v != NULL)
        s->task = json_object_get_string(v);
    return 0;
}

/* --- layout ------------------------------------------------------------- */

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Folds for k-fold data (see KFOLD_LONG): 5, or 10 on a budget longer
 * than KFOLD_LONG_BUDGET seconds that pays for them. A capped run
 * (max_models) keeps 5: its model must not depend on the budget it was
 * given. */
static size_t kfold_count(const task_info_t *t, size_t inputs, double budget, int max_models)
{
    if (max_models > 0 || budget <= KFOLD_LONG_BUDGET ||
        (double)t->n * (double)inputs > KFOLD_LONG_MAX_CELLS)
        return KFOLD;
    double kk = t->task == TASK_MULTICLASS ? (double)t->k : 1.0;
    double est = KFOLD_LONG_ROUNDS * KFOLD_LONG * ((KFOLD_LONG - 1.0) / KFOLD_LONG) *
                 (double)t->n * (double)inputs * kk * ROUND_SECONDS_PER_CELL;
    return est <= budget / 4 ? KFOLD_LONG : KFOLD;
}

/* Fills order (indices into t->rows) and fold bounds (folds of them when
 * the rows are few enough for k-fold). */
static int layout(const task_info_t *t, uint64_t seed, size_t folds, size_t *order,
                  size_t *n_folds, size_t *fold_start, err_t *e)
{
    size_t n = t->n, groups = t->task == TASK_REGRESSION ? 1 : t->k;
    size_t *cnt = calloc(groups + 1, sizeof(*cnt));
    size_t *pos = calloc(groups + 1, sizeof(*pos));
    size_t *by = malloc((n + 1) * sizeof(*by));
    unsigned char *fold = malloc(n + 1);
    if (cnt == NULL || pos == NULL || by == NULL || fold == NULL) {
        free(cnt);
        free(pos);
        free(by);
        free(fold);
        return err_set(e, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        cnt[groups == 1 ? 0 : (size_t)t->y[i]]++;
    for (size_t g = 1; g < groups; g++)
        pos[g] = pos[g - 1] + cnt[g - 1];
    for (size_t i = 0; i < n; i++)
        by[pos[groups == 1 ? 0 : (size_t)t->y[i]]++] = i;
    uint64_t rng = seed ^ 0x5851f42d4c957f2dULL;
    size_t start = 0;
    size_t kfold = n <= LAYOUT_KFOLD_MAX;
    size_t k = kfold ? (n < folds ? n : folds) : 1;
    size_t counter = 0;
    double frac = HOLDOUT_ENOUGH / (double)(n ? n : 1);
    frac = frac > HOLDOUT_FRACTION ? HOLDOUT_FRACTION
                                   : frac < HOLDOUT_MIN_FRACTION ? HOLDOUT_MIN_FRACTION : frac;
    for (size_t g = 0; g < groups; g++) {
        size_t *a = by + start;
        for (size_t i = cnt[g]; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(mix(&rng) % i);
            size_t tmp = a[i - 1];
            a[i - 1] = a[j];
            a[j] = tmp;
        }
        size_t nvalid = (size_t)llround((double)cnt[g] * frac);
        for (size_t i = 0; i < cnt[g]; i++)
            fold[a[i]] = kfold ? (unsigned char)(counter++ % k) : (i < nvalid ? 1 : 0);
        start += cnt[g];
    }
    /* Order by fold, stable in the shuffled order. */
    size_t blocks = kfold ? k : 2, o = 0;
    for (size_t b = 0; b < blocks; b++) {
        fold_start[b] = o;
        for (size_t i = 0; i < n; i++)
            if (fold[by[i]] == b)
                order[o++] = by[i];
    }
    fold_start[blocks] = n;
    *n_folds = kfold ? k : 1;
    free(cnt);
    free(pos);
    free(by);
    free(fold);
    return 0;
}

/* --- one field ---------------------------------------------------------- */

static json_object *str_array_with(json_object *base, json_object *more, const char *except)
{
    json_object *a = json_object_new_array();
    json_object *src[2] = {base, more};
    for (int s = 0; s < 2; s++) {
        size_t n = src[s] ? json_object_array_length(src[s]) : 0;
        for (size_t i = 0; i < n; i++) {
            const char *x = json_object_get_string(json_object_array_get_idx(src[s], i));
            if (x && strcmp(x, except) != 0)
                json_object_array_add(a, json_object_new_string(x));
        }
    }
    return a;
}

typedef struct field_result {
    json_object *stats, *importance, *story, *task, *dropped, *summary;
    json_object *charts; /* the console's chart data (metric_*_charts) */
    int reproducible;
} field_result_t;

static json_object *validation_metrics(const search_out_t *so, const task_info_t *t,
                                       const float *yv, size_t nv)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "metric", json_object_new_string(so->metric));
    json_object_object_add(m, "value", json_object_new_double(so->value));
    if (t->task == TASK_REGRESSION) {
        json_object_object_add(m, "rmse", json_object_new_double(metric_rmse(so->valid_pred, yv, nv)));
        json_object_object_add(m, "mae", json_object_new_double(metric_mae(so->valid_pred, yv, nv)));
        json_object_object_add(m, "r2", json_object_new_double(metric_r2(so->valid_pred, yv, nv)));
        return m;
    }
    int *yi = malloc((nv + 1) * sizeof(*yi));
    if (yi == NULL)
        return m;
    for (size_t i = 0; i < nv; i++)
        yi[i] = (int)yv[i];
    json_object_object_add(m, "accuracy",
                           json_object_new_double(metric_accuracy(so->valid_pred, yi, nv, t->k)));
    json_object_object_add(m, "macro_f1",
                           json_object_new_double(metric_macro_f1(so->valid_pred, yi, nv, t->k)));
    json_object_object_add(m, "logloss",
                           json_object_new_double(metric_logloss(so->valid_pred, yi, nv, t->k)));
    free(yi);
    return m;
}

/* Version 2 when some input goes through a transform ("transform":
 * "log1p", the model's or the ensemble's linear member's): a version-1
 * reader would ignore it and score silently wrong, and must refuse. */
static json_object *preprocess_json(const enc_plan_t *p, const linpart_t *lp,
                                    const task_info_t *t, const char *target,
                                    json_object *dropped)
{
    json_object *o = json_object_new_object();
    int transforms = enc_plan_transforms(p) || (lp != NULL && enc_plan_transforms(&lp->plan));
    json_object_object_add(o, "version", json_object_new_int(transforms ? 2 : 1));
    json_object_object_add(o, "task", json_object_new_string(ml_task_name(t->task)));
    json_object_object_add(o, "target", json_object_new_string(target));
    if (t->task != TASK_REGRESSION) {
        json_object *c = json_object_new_array();
        for (size_t i = 0; i < t->k; i++)
            json_object_array_add(c, json_object_new_string(t->classes[i]));
        json_object_object_add(o, "classes", c);
    }
    json_object_object_add(o, "model", json_object_new_string(p->linear ? "linear" : "tree"));
    json_object_object_add(o, "n_inputs",
                           json_object_new_int64((int64_t)(p->linear ? enc_linear_width(p) : p->n)));
    json_object_object_add(o, "features", enc_plan_to_json(p));
    /* The training table's columns the model does not read: a prediction
     * row that still carries them is not warned about them (model.h). */
    if (json_object_array_length(dropped) > 0)
        json_object_object_add(o, "dropped_fields", json_object_get(dropped));
    /* The booster predicts log1p(target): invert with expm1 (model.h). */
    if (p->target_log1p)
        json_object_object_add(o, "target_transform", json_object_new_string("log1p"));
    return o;
}

static int train_field(const ml_data_t *d, const spec_t *s, size_t fi, double end, double job_start,
                       double job_end, const ml_callbacks_t *cb, ml_model_out_t *mo,
                       field_result_t *fr, err_t *e)
{
    const char *target = json_object_get_string(json_object_array_get_idx(s->predict, fi));
    long col = ml_data_find(d, target);
    task_info_t t;
    enc_plan_t plan;
    search_out_t so;
    memset(&plan, 0, sizeof(plan));
    memset(&so, 0, sizeof(so));
    float *F = NULL, *y = NULL, *w = NULL, *share = NULL, *sample = NULL;
    size_t *order = NULL, *rows = NULL;
    row_source_t rs = {.rows = NULL};
    json_object *ignore = NULL, *extmem = NULL;
    int rc = -1;
    double t0 = util_now_monotonic();
    if (d->spill != NULL ? extmem_task_detect(d, (size_t)col, s->task, &t, e) < 0
                         : task_detect(d, (size_t)col, s->task, &t, e) < 0)
        goto out;
    ml_log(cb, "%s: %s (%s); %zu rows with a value", target, ml_task_name(t.task), t.reason, t.n);
    fr->dropped = json_object_new_array();
    ignore = str_array_with(s->ignore, s->predict, target);
    if (enc_plan_build(&plan, d, (size_t)col, ignore, fr->dropped, e) < 0)
        goto out;
    for (size_t i = 0; i < json_object_array_length(fr->dropped); i++) {
        json_object *o = json_object_array_get_idx(fr->dropped, i), *f, *r;
        json_object_object_get_ex(o, "field", &f);
        json_object_object_get_ex(o, "reason", &r);
        ml_log(cb, "%s: dropped input \"%s\": %s", target, json_object_get_string(f),
            json_object_get_string(r));
    }
    if (plan.n == 0) {
        err_set(e, 400, "training_invalid", "no usable input field to predict \"%s\" from", target);
        goto out;
    }
    size_t n = t.n, p = plan.n, n_folds = 0, fold_start[KFOLD_LONG + 2];
    if (d->spill != NULL) {
        /* Larger than memory (ml/extmem.h): its own search over the pages;
         * the holdout it hands back (F, y: n rows) is what follows reads. */
        double xbudget = end - t0;
        extmem_in_t xin = {
            .d = d, .target = (size_t)col, .t = &t, .plan = &plan, .end = end,
            .reserve = 0.2 + 0.07 * (xbudget > 0 ? xbudget : 0), .job_start = job_start,
            .job_end = job_end, .seed = s->seeded ? s->seed : 0, .max_models = s->max_models,
            .cb = cb, .field = target, .field_index = fi,
        };
        if (extmem_search(&xin, &so, &F, &y, &n, &extmem, e) < 0)
            goto out;
        n_folds = 1;
        goto searched;
    }
    /* Peak memory matters on big data (3x the float matrix is the bar):
     * every index array is freed as soon as the next step has what it
     * needs, and the field rows are allocated last. */
    order = malloc((n + 1) * sizeof(*order));
    if (order == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    uint64_t seed = s->seeded ? s->seed : 0;
    if (layout(&t, seed + fi, kfold_count(&t, p, end - t0, s->max_models), order, &n_folds,
               fold_start, e) < 0)
        goto out;
    /* Field rows read batch by batch from the columns (below) stream them
     * when each block's rows come in dataset order, where the shuffled
     * order gathers at random from columns bigger than the caches (10^6 x
     * 100: the quantised matrices took 15.0 s against XGBoost's 9.9 s from
     * a pandas frame). Which rows validate stays random; only their order
     * within a block changes, which hist training does not read. */
    if ((double)n * (double)p > FIELD_ROWS_MAX)
        for (size_t b = 0; b < (n_folds == 1 ? 2 : n_folds); b++)
            qsort(order + fold_start[b], fold_start[b + 1] - fold_start[b], sizeof(*order),
                  cmp_size);
    rows = malloc((n + 1) * sizeof(*rows));
    y = malloc((n + 1) * sizeof(*y));
    if (rows == NULL || y == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rows[i] = t.rows[order[i]];
        y[i] = t.y[order[i]];
    }
    free(order);
    order = NULL;
    free(t.rows); /* the layout's rows and labels replace them */
    free(t.y);
    t.rows = NULL;
    t.y = NULL;
    rs.plan = &plan;
    rs.d = d;
    if ((double)n * (double)p > FIELD_ROWS_MAX && n <= UINT32_MAX) {
        rs.rows = malloc((n + 1) * sizeof(*rs.rows));
        if (rs.rows == NULL) {
            err_set(e, 500, "internal", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            rs.rows[i] = (uint32_t)rows[i];
        free(rows);
        rows = NULL;
    } else {
        F = malloc((n * p + 1) * sizeof(*F));
        if (F == NULL) {
            err_set(e, 500, "internal", "out of memory");
            goto out;
        }
        enc_fill_rows(&plan, d, rows, n, F);
        free(rows);
        rows = NULL;
    }
    ml_log(cb, "%s: %zu rows x %zu inputs laid out in %.2fs", target, n, p,
        util_now_monotonic() - t0);
    if (s->extra_attention && t.task != TASK_REGRESSION) {
        size_t *cnt = calloc(t.k, sizeof(*cnt));
        w = malloc((n + 1) * sizeof(*w));
        if (cnt == NULL || w == NULL) {
            free(cnt);
            err_set(e, 500, "internal", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            cnt[(size_t)y[i]]++;
        for (size_t i = 0; i < n; i++)
            w[i] = (float)((double)n / ((double)t.k * (double)cnt[(size_t)y[i]]));
        free(cnt);
        ml_log(cb, "%s: extra attention: rare classes weighted up", target);
    }
    double budget = end - t0;
    search_in_t in = {
        .plan = &plan, .F = F, .fill = F ? NULL : rows_fill, .fill_ctx = &rs, .y = y, .w = w, .n = n, .n_folds = n_folds,
        .fold_start = fold_start, .task = t.task, .k = t.k, .end = end,
        /* After the search: the ensemble's merge, stats, importance and the
         * story (over all of a blend's trees); a loaded box stretches them
         * (0.05 x budget overran by 2 s at load 20). */
        .reserve = 0.2 + 0.07 * (budget > 0 ? budget : 0), .job_start = job_start,
        .job_end = job_end, .seed = seed, .max_models = s->max_models, .cb = cb,
        .field = target,
    };
    if (search_run(&in, &so, e) < 0)
        goto out;
searched:
    plan.target_log1p = so.log1p; /* predictions and the story on the target's scale */
    const enc_plan_t *fp = so.linear ? &so.linear_plan : &plan;
    size_t nv = n - so.valid_begin, kk = t.task == TASK_REGRESSION ? 1 : t.k;
    const float *yv = y + so.valid_begin;
    /* Stats on the validation rows. */
    if (t.task == TASK_REGRESSION) {
        fr->stats = metric_regression_stats(col, target, so.valid_pred, yv, nv);
        fr->charts = metric_regression_charts(so.valid_pred, yv, nv);
    } else {
        int *yi = malloc((nv + 1) * sizeof(*yi));
        if (yi == NULL) {
            err_set(e, 500, "internal", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nv; i++)
            yi[i] = (int)yv[i];
        fr->stats = metric_class_stats(col, target, csv_type_akkio_name(d->types[col]),
                                       (const char *const *)t.classes, so.valid_pred, yi, nv, t.k);
        fr->charts = metric_class_charts((const char *const *)t.classes, so.valid_pred, yi, nv,
                                         t.k);
        free(yi);
    }
    tick(cb, job_start, job_end);
    if (explain_importance(fp, so.booster, so.linpart, t.k, &share, &fr->importance, e) < 0)
        goto out;
    tick(cb, job_start, job_end);
    /* The story predicts fields x values x sample rows: with thousands of
     * trees (letter: 26 a round) a smaller sample keeps it inside the
     * reserve. */
    double trees = so.linear ? 1.0 : (double)so.rounds * (double)kk;
    size_t m_cap = trees > 1000 ? (size_t)fmax(20.0, EXPLAIN_SAMPLE * 1000.0 / trees)
                                : EXPLAIN_SAMPLE;
    size_t m = nv < m_cap ? nv : m_cap;
    sample = malloc((m * p + 1) * sizeof(*sample));
    if (sample == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m; i++)
        if (F)
            memcpy(sample + i * p, F + (so.valid_begin + i * nv / m) * p, p * sizeof(*sample));
        else
            rows_fill(&rs, so.valid_begin + i * nv / m, 1, sample + i * p);
    free(F);
    F = NULL;
    tick(cb, job_start, job_end);
    if (explain_story(fp, so.booster, so.linpart, t.task, t.k, (const char *const *)t.classes, target, sample,
                      m, share, &fr->story, e) < 0)
        goto out;
    fr->task = json_object_new_object();
    json_object_object_add(fr->task, "field", json_object_new_string(target));
    json_object_object_add(fr->task, "task", json_object_new_string(ml_task_name(t.task)));
    json_object_object_add(fr->task, "reason", json_object_new_string(t.reason));
    mo->predict_field = strdup(target);
    mo->task = strdup(ml_task_name(t.task));
    mo->booster = so.bytes;
    mo->booster_len = so.len;
    so.bytes = NULL;
    mo->preprocess = preprocess_json(fp, so.linpart, &t, target, fr->dropped);
    if (so.ensemble)
        json_object_object_add(mo->preprocess, "ensemble", json_object_get(so.ensemble));
    mo->metrics = validation_metrics(&so, &t, yv, nv);
    mo->candidates = json_object_get(so.candidates);
    fr->summary = json_object_new_object();
    json_object_object_add(fr->summary, "predict_field", json_object_new_string(target));
    json_object_object_add(fr->summary, "task", json_object_new_string(ml_task_name(t.task)));
    json_object_object_add(fr->summary, "reason", json_object_new_string(t.reason));
    json_object_object_add(fr->summary, "model",
                           json_object_new_string(so.ensemble ? "ensemble"
                                                  : so.linear ? "linear" : "tree"));
    if (so.ensemble)
        json_object_object_add(fr->summary, "ensemble", json_object_get(so.ensemble));
    json_object_object_add(fr->summary, "metric", json_object_new_string(so.metric));
    json_object_object_add(fr->summary, "value", json_object_new_double(so.value));
    json_object_object_add(fr->summary, "rounds", json_object_new_int(so.rounds));
    json_object_object_add(fr->summary, "refit", json_object_new_boolean(so.refit));
    /* Why this model: the leaderboard's first is not always the one kept. */
    json_object_object_add(fr->summary, "selection", json_object_new_string(so.reason));
    json_object *stop = json_object_new_object();
    json_object_object_add(stop, "reason", json_object_new_string(so.stopped ? so.stopped
                                                                             : "time budget"));
    if (so.stopped_detail[0])
        json_object_object_add(stop, "detail", json_object_new_string(so.stopped_detail));
    json_object_object_add(fr->summary, "stopped", stop);
    if (so.log1p)
        json_object_object_add(fr->summary, "target_transform", json_object_new_string("log1p"));
    char vbuf[64];
    if (n_folds == 1)
        snprintf(vbuf, sizeof(vbuf), "stratified holdout (%zu rows)", nv);
    else
        snprintf(vbuf, sizeof(vbuf), "stratified %zu-fold (out-of-fold)", n_folds);
    json_object_object_add(fr->summary, "validation", json_object_new_string(vbuf));
    json_object_object_add(fr->summary, "rows", json_object_new_int64((int64_t)t.n));
    if (extmem != NULL) /* the result says the external path was taken */
        json_object_object_add(fr->summary, "external_memory", json_object_get(extmem));
    json_object_object_add(fr->summary, "validation_metrics", json_object_get(mo->metrics));
    json_object_object_add(fr->summary, "candidates", json_object_get(so.candidates));
    json_object_object_add(fr->summary, "field_importance", json_object_get(fr->importance));
    json_object_object_add(fr->summary, "dropped_fields", json_object_get(fr->dropped));
    json_object_object_add(fr->summary, "charts", json_object_get(fr->charts));
    fr->reproducible = s->max_models > 0 && !so.truncated;
    ml_log(cb, "%s: best %s model, %s=%.5f, %d rounds, %.2fs", target,
        so.ensemble ? "ensemble" : so.linear ? "linear" : "tree",
        so.metric, so.value, so.rounds, util_now_monotonic() - t0);
    rc = 0;
out:
    json_object_put(ignore);
    json_object_put(extmem);
    search_out_free(&so);
    enc_plan_free(&plan);
    task_info_free(&t);
    free(F);
    free(y);
    free(w);
    free(order);
    free(rows);
    free(rs.rows);
    free(share);
    free(sample);
    return rc;
}

static void field_result_free(field_result_t *fr)
{
    json_object_put(fr->stats);
    json_object_put(fr->importance);
    json_object_put(fr->story);
    json_object_put(fr->task);
    json_object_put(fr->dropped);
    json_object_put(fr->summary);
    json_object_put(fr->charts);
}

int ml_train(const ml_data_t *d, json_object *spec, double deadline, const ml_callbacks_t *cb,
             ml_result_t *out, err_t *e)
{
    memset(out, 0, sizeof(*out));
    spec_t s;
    if (d == NULL || !d->finished)
        return err_set(e, 500, "internal", "dataset not finished");
    if (spec_read(spec, d, &s, e) < 0)
        return -1;
    size_t nf = json_object_array_length(s.predict);
    field_result_t *fr = calloc(nf, sizeof(*fr));
    out->models = calloc(nf, sizeof(*out->models));
    if (fr == NULL || out->models == NULL) {
        free(fr);
        return err_set(e, 500, "internal", "out of memory");
    }
    double job_start = util_now_monotonic();
    int rc = -1, reproducible = 1;
    for (size_t i = 0; i < nf; i++) {
        double now = util_now_monotonic();
        double end = now + (deadline - now) / (double)(nf - i);
        if (train_field(d, &s, i, end, job_start, deadline, cb, &out->models[i], &fr[i], e) < 0)
            goto out;
        out->n_models++;
        reproducible &= fr[i].reproducible;
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "status", json_object_new_string("success"));
    json_object *stats = json_object_new_array(), *story = json_object_new_array(),
                *task = json_object_new_array(), *models = json_object_new_array();
    for (size_t i = 0; i < nf; i++) {
        json_object_array_add(stats, json_object_get(fr[i].stats));
        json_object_array_add(story, json_object_get(fr[i].story));
        json_object_array_add(task, json_object_get(fr[i].task));
        json_object_array_add(models, json_object_get(fr[i].summary));
    }
    json_object_object_add(r, "stats", stats);
    json_object_object_add(r, "field_importance", json_object_get(fr[0].importance));
    json_object_object_add(r, "data_story", story);
    json_object_object_add(r, "task", task);
    json_object_object_add(r, "dropped_fields", json_object_get(fr[0].dropped));
    json_object *metric = NULL;
    json_object_object_get_ex(fr[0].summary, "metric", &metric);
    json_object_object_add(r, "metric", json_object_get(metric));
    json_object *stopped = NULL;
    json_object_object_get_ex(fr[0].summary, "stopped", &stopped);
    json_object_object_add(r, "stopped", json_object_get(stopped));
    json_object *cands = NULL;
    json_object_object_get_ex(fr[0].summary, "candidates", &cands);
    json_object_object_add(r, "candidates", json_object_get(cands));
    json_object *why = NULL;
    json_object_object_get_ex(fr[0].summary, "selection", &why);
    json_object_object_add(r, "selection", json_object_get(why));
    json_object *xm = NULL;
    if (json_object_object_get_ex(fr[0].summary, "external_memory", &xm))
        json_object_object_add(r, "external_memory", json_object_get(xm));
    json_object_object_add(r, "models", models);
    json_object_object_add(r, "reproducible", json_object_new_boolean(reproducible));
    json_object_object_add(r, "seconds",
                           json_object_new_double(util_now_monotonic() - job_start));
    out->result = r;
    rc = 0;
out:
    for (size_t i = 0; i < nf; i++)
        field_result_free(&fr[i]);
    free(fr);
    if (rc < 0)
        ml_result_free(out);
    return rc;
}

void ml_result_free(ml_result_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_models; i++) {
        ml_model_out_t *m = &r->models[i];
        free(m->predict_field);
        free(m->task);
        free(m->booster);
        json_object_put(m->preprocess);
        json_object_put(m->metrics);
        json_object_put(m->candidates);
    }
    free(r->models);
    json_object_put(r->result);
    memset(r, 0, sizeof(*r));
}
