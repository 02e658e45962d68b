/*
 * search.c — the AutoML search for one field (see search.h).
 *
 * Candidates, in order: a linear model (gblinear, coordinate descent, on
 * one-hot + standardised inputs: it wins on small or weak-signal data), a
 * tree model with sensible defaults, a second, more regularised linear
 * model, then XGBoost hist with hyperparameters drawn from a seeded
 * generator (eta, max_depth, min_child_weight, subsample, colsample_bytree,
 * lambda). Each candidate trains with early stopping on the validation
 * loss; candidates are ranked by the task's metric on the validation rows
 * (AUC, accuracy with log loss breaking ties, RMSE).
 *
 * Time: a boosting round cannot be interrupted, so every round is preceded
 * by a check that the measured time of one round still fits; k-fold gives
 * each remaining fold an equal share of what is left. New candidates stop
 * when what is left would not pay for refitting the best one. The refit on
 * all rows runs only when its estimate (rounds x measured round time x row
 * ratio) fits; otherwise the best candidate's first-fold model is the
 * final model. Any cut by the clock marks the run as not reproducible.
 * Everything else is deterministic: the parameter generator and XGBoost
 * are seeded, and nthread is fixed per dataset size (see search_run).
 */
#include "ml/search.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ml/metrics.h"
#include "ml/xgb.h"

#define MAX_FOLDS 10

typedef struct cand {
    int linear;
    double eta, mcw, subsample, colsample, lambda;
    int depth;
    int max_rounds, patience;
    double tol;                /* relative improvement that resets patience */
    double share;              /* most of the remaining window it may use */
} cand_t;

typedef struct mats {
    int ready;
    const enc_plan_t *plan;
    size_t width;
    const float *X;            /* n x width, layout order */
    float *X_owned;            /* linear: expanded rows */
    char **names, **types;
    size_t nf;
    void *dtr[MAX_FOLDS], *dva[MAX_FOLDS];
    double base[MAX_FOLDS];    /* regression: mean label of each training set */
} mats_t;

typedef struct cand_res {
    cand_t c;
    double score;              /* higher is better */
    double value;              /* the metric as reported */
    double logloss;
    int rounds;                /* rounds for the final model */
    double seconds;
    double round_seconds;      /* per round, per fold */
    int truncated;
    float *oof;
    void *fallback;            /* fold-0 model cut at its best round */
} cand_res_t;

typedef struct ctx {
    const search_in_t *in;
    size_t kk;                 /* output columns: k for classes, 1 for regression */
    size_t valid_begin;
    const char *nthread;       /* "1" for small data: see search_run */
    double last_progress;
    mats_t tree, lin;
    enc_plan_t lin_plan;
} ctx_t;

/* --- random parameters (splitmix64) ------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static double rng_log(uint64_t *s, double lo, double hi)
{
    return exp(log(lo) + rng_unit(s) * (log(hi) - log(lo)));
}

static cand_t cand_make(int idx, uint64_t *rng, const search_in_t *in)
{
    cand_t c = {.eta = 0.1, .depth = 6, .mcw = 1, .subsample = 0.8, .colsample = 0.8,
                .lambda = 1, .max_rounds = 3000, .patience = 30, .tol = 1e-7, .share = 0.4};
    double n = (double)in->n;
    if (idx == 0 || idx == 2) {
        /* gblinear scales lambda by the sum of weights: lambda * n = 1 is
         * sklearn's C = 1 on the same loss. */
        c.linear = 1;
        c.lambda = (idx == 0 ? 1.0 : 10.0) / n;
        c.eta = 1.0;
        c.max_rounds = 300;
        c.patience = 3;
        c.tol = 1e-4;
        c.share = 0.15;
        return c;
    }
    if (idx == 1) {
        c.eta = in->n * in->k > 50000 ? 0.3 : 0.1;
        c.patience = 30;
        c.share = in->n_folds == 1 ? 0.8 : 0.6;
        return c;
    }
    c.eta = rng_log(rng, 0.02, 0.3);
    c.depth = 2 + (int)(rng_unit(rng) * 9);
    c.mcw = rng_log(rng, 0.5, 20);
    c.subsample = 0.5 + 0.5 * rng_unit(rng);
    c.colsample = 0.4 + 0.6 * rng_unit(rng);
    c.lambda = rng_log(rng, 0.1, 10);
    c.patience = c.eta < 0.05 ? 60 : 30;
    return c;
}

/* --- matrices ------------------------------------------------------------ */

static void mats_free(mats_t *m)
{
    for (size_t f = 0; f < MAX_FOLDS; f++) {
        xgb_dmatrix_free(m->dtr[f]);
        xgb_dmatrix_free(m->dva[f]);
        m->dtr[f] = m->dva[f] = NULL;
    }
    enc_names_free(m->names, m->nf);
    enc_names_free(m->types, m->nf);
    free(m->X_owned);
    memset(m, 0, sizeof(*m));
}

/* Mean of y over [a, b) without [sa, sb). */
static double mean_of(const float *y, size_t a, size_t b, size_t sa, size_t sb)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = a; i < b; i++) {
        if (i >= sa && i < sb)
            continue;
        s += y[i];
        k++;
    }
    return k ? s / (double)k : 0.0;
}

static int mats_build(ctx_t *cx, mats_t *m, const enc_plan_t *plan, err_t *e)
{
    const search_in_t *in = cx->in;
    m->plan = plan;
    if (enc_feature_info(plan, &m->names, &m->types, &m->nf) < 0)
        return err_set(e, 500, "internal", "out of memory");
    m->width = m->nf;
    if (plan->linear) {
        m->X_owned = malloc((in->n * m->width + 1) * sizeof(float));
        if (m->X_owned == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < in->n; i++)
            enc_expand_linear(plan, in->F + i * plan->n, m->X_owned + i * m->width);
        m->X = m->X_owned;
    } else {
        m->X = in->F;
    }
    size_t w = m->width;
    for (size_t f = 0; f < in->n_folds; f++) {
        size_t a = in->n_folds == 1 ? in->fold_start[1] : in->fold_start[f];
        size_t b = in->n_folds == 1 ? in->n : in->fold_start[f + 1];
        if (xgb_dmatrix_new(m->X + a * w, b - a, w, m->names, m->types, in->y + a,
                            in->w ? in->w + a : NULL, &m->dva[f], e) < 0)
            return -1;
        m->base[f] = mean_of(in->y, 0, in->n, a, b);
        if (in->n_folds == 1) {
            if (xgb_dmatrix_new(m->X, a, w, m->names, m->types, in->y, in->w, &m->dtr[f], e) < 0)
                return -1;
            continue;
        }
        /* k-fold (small data only): copy the rows outside the block. */
        size_t nt = in->n - (b - a);
        float *X = malloc((nt * w + 1) * sizeof(float));
        float *y = malloc((nt ? nt : 1) * sizeof(float));
        float *wt = in->w ? malloc((nt ? nt : 1) * sizeof(float)) : NULL;
        if (X == NULL || y == NULL || (in->w && wt == NULL)) {
            free(X);
            free(y);
            free(wt);
            return err_set(e, 500, "internal", "out of memory");
        }
        size_t o = 0;
        for (size_t i = 0; i < in->n; i++) {
            if (i >= a && i < b)
                continue;
            memcpy(X + o * w, m->X + i * w, w * sizeof(float));
            y[o] = in->y[i];
            if (wt)
                wt[o] = in->w[i];
            o++;
        }
        int rc = xgb_dmatrix_new(X, nt, w, m->names, m->types, y, wt, &m->dtr[f], e);
        free(X);
        free(y);
        free(wt);
        if (rc < 0)
            return -1;
    }
    m->ready = 1;
    return 0;
}

/* --- one candidate ------------------------------------------------------- */

static const char *eval_metric(ml_task_t t)
{
    return t == TASK_BINARY ? "logloss" : t == TASK_MULTICLASS ? "mlogloss" : "rmse";
}

static int set_params(ctx_t *cx, void *b, const cand_t *c, double base, err_t *e)
{
    const search_in_t *in = cx->in;
    char buf[64];
    const char *obj = in->task == TASK_BINARY       ? "binary:logistic"
                      : in->task == TASK_MULTICLASS ? "multi:softprob"
                                                    : "reg:squarederror";
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
    P("nthread", cx->nthread);
    P("objective", obj);
    P("eval_metric", eval_metric(in->task));
    PF("seed", "%llu", in->seed);
    P("verbosity", "0");
    if (in->task == TASK_MULTICLASS)
        PF("num_class", "%zu", in->k);
    if (in->task == TASK_REGRESSION)
        PF("base_score", "%.9g", base);
    if (c->linear) {
        P("booster", "gblinear");
        P("updater", "coord_descent");
        P("feature_selector", "cyclic");
        PF("eta", "%.9g", c->eta);
        PF("lambda", "%.9g", c->lambda);
        P("alpha", "0");
        return 0;
    }
    P("booster", "gbtree");
    P("tree_method", "hist");
    PF("eta", "%.9g", c->eta);
    PF("max_depth", "%d", c->depth);
    PF("min_child_weight", "%.9g", c->mcw);
    PF("subsample", "%.9g", c->subsample);
    PF("colsample_bytree", "%.9g", c->colsample);
    PF("lambda", "%.9g", c->lambda);
    P("max_cat_to_onehot", "4");
#undef P
#undef PF
    return 0;
}

static void progress(ctx_t *cx, double now)
{
    const search_in_t *in = cx->in;
    if (in->cb == NULL || in->cb->progress == NULL || now - cx->last_progress < 0.5)
        return;
    cx->last_progress = now;
    double span = in->job_end - in->job_start;
    double frac = span > 0 ? (now - in->job_start) / span : 1.0;
    in->cb->progress(in->cb->ctx, frac < 0 ? 0 : frac > 1 ? 1 : frac, in->job_end - now);
}

static int stop_requested(const search_in_t *in, err_t *e)
{
    if (in->cb && in->cb->should_stop && in->cb->should_stop(in->cb->ctx))
        return err_set(e, 500, "stopped", "training stopped on request");
    return 0;
}

/* Trains one fold until early stopping, max_rounds or slice_end. */
static int train_fold(ctx_t *cx, mats_t *m, size_t f, const cand_t *c, double slice_end,
                      double *round_est, void **out, int *best_rounds, int *truncated, err_t *e)
{
    void *b = NULL;
    void *cache[2] = {m->dtr[f], m->dva[f]};
    if (xgb_booster_new(cache, 2, &b, e) < 0)
        return -1;
    if (set_params(cx, b, c, m->base[f], e) < 0 || xgb_booster_features(b, m->names, m->types,
                                                                         m->nf, e) < 0)
        goto fail;
    double best = INFINITY;
    int best_it = -1, since = 0, it;
    for (it = 0; it < c->max_rounds; it++) {
        if (stop_requested(cx->in, e) < 0)
            goto fail;
        double t0 = util_now_monotonic();
        if (it > 0 && t0 + *round_est > slice_end) {
            *truncated = 1;
            break;
        }
        double v;
        if (xgb_booster_update(b, it, m->dtr[f], e) < 0 || xgb_booster_eval(b, it, m->dva[f], &v,
                                                                             e) < 0)
            goto fail;
        double t1 = util_now_monotonic();
        double dt = t1 - t0;
        *round_est = it == 0 ? dt : (0.8 * *round_est + 0.2 * dt > dt ? 0.8 * *round_est + 0.2 * dt
                                                                      : dt);
        progress(cx, t1);
        if (best_it < 0 || v < best - c->tol * fabs(best)) {
            best = v;
            best_it = it;
            since = 0;
        } else if (++since >= c->patience) {
            it++;
            break;
        }
    }
    if (best_it < 0)
        best_it = 0;
    *best_rounds = c->linear ? it : best_it + 1;
    *out = b;
    return 0;
fail:
    xgb_booster_free(b);
    return -1;
}

static void rank_score(ctx_t *cx, const float *pred, const float *y, size_t n, cand_res_t *r)
{
    const search_in_t *in = cx->in;
    if (in->task == TASK_REGRESSION) {
        r->value = metric_rmse(pred, y, n);
        r->score = -r->value;
        r->logloss = r->value;
        return;
    }
    int *yi = malloc((n ? n : 1) * sizeof(*yi));
    if (yi == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        yi[i] = (int)y[i];
    r->logloss = metric_logloss(pred, yi, n, in->k);
    if (in->task == TASK_BINARY) {
        float *s = malloc((n ? n : 1) * sizeof(*s));
        for (size_t i = 0; s && i < n; i++)
            s[i] = pred[2 * i + 1];
        r->value = s ? metric_auc(s, yi, n) : 0.5;
        free(s);
    } else {
        r->value = metric_accuracy(pred, yi, n, in->k);
    }
    r->score = r->value;
    free(yi);
}

static int run_candidate(ctx_t *cx, const cand_t *c, double search_end, cand_res_t *r, err_t *e)
{
    const search_in_t *in = cx->in;
    mats_t *m = c->linear ? &cx->lin : &cx->tree;
    double t0 = util_now_monotonic();
    if (!m->ready && mats_build(cx, m, c->linear ? &cx->lin_plan : in->plan, e) < 0)
        return -1;
    size_t nv = in->n - cx->valid_begin;
    r->c = *c;
    r->oof = malloc((nv * cx->kk + 1) * sizeof(float));
    if (r->oof == NULL)
        return err_set(e, 500, "internal", "out of memory");
    double round_est = 0, rounds_sum = 0, round_time = 0;
    size_t rounds_n = 0;
    for (size_t f = 0; f < in->n_folds; f++) {
        double now = util_now_monotonic();
        double slice_end = now + (search_end - now) / (double)(in->n_folds - f);
        void *b = NULL;
        int best_rounds = 0;
        if (train_fold(cx, m, f, c, slice_end, &round_est, &b, &best_rounds, &r->truncated, e) < 0)
            return -1;
        round_time += round_est;
        rounds_sum += best_rounds;
        rounds_n++;
        float *raw = NULL;
        size_t len = 0;
        if (xgb_predict_dmatrix(b, m->dva[f], c->linear ? 0 : best_rounds, &raw, &len, e) < 0) {
            xgb_booster_free(b);
            return -1;
        }
        float *p = scoring_normalise(raw, len / (in->task == TASK_MULTICLASS ? in->k : 1),
                                     in->task, in->k);
        size_t a = in->n_folds == 1 ? in->fold_start[1] : in->fold_start[f];
        size_t bnd = in->n_folds == 1 ? in->n : in->fold_start[f + 1];
        if (p == NULL) {
            xgb_booster_free(b);
            return err_set(e, 500, "internal", "out of memory");
        }
        memcpy(r->oof + (a - cx->valid_begin) * cx->kk, p, (bnd - a) * cx->kk * sizeof(float));
        free(p);
        if (f == 0) {
            if (c->linear) {
                r->fallback = b;
                b = NULL;
            } else if (xgb_booster_slice(b, best_rounds, &r->fallback, e) < 0) {
                xgb_booster_free(b);
                return -1;
            }
        }
        xgb_booster_free(b);
    }
    r->rounds = (int)lround(rounds_sum / (double)rounds_n);
    if (r->rounds < 1)
        r->rounds = 1;
    r->round_seconds = round_time / (double)rounds_n;
    r->seconds = util_now_monotonic() - t0;
    rank_score(cx, r->oof, in->y + cx->valid_begin, nv, r);
    return 0;
}

/* --- refit and bookkeeping ---------------------------------------------- */

static int refit(ctx_t *cx, const cand_res_t *best, double end, void **out, int *rounds, err_t *e)
{
    const search_in_t *in = cx->in;
    mats_t *m = best->c.linear ? &cx->lin : &cx->tree;
    size_t n_train = in->n_folds == 1 ? in->fold_start[1] : in->n - in->n / in->n_folds;
    int R = best->c.linear ? best->rounds : (int)ceil(best->rounds * 1.1);
    double round_est = best->round_seconds * (double)in->n / (double)(n_train ? n_train : 1);
    if (util_now_monotonic() + round_est * R * 1.1 > end)
        return 1;
    /* Free the fold matrices first: the refit matrix replaces them. */
    for (size_t f = 0; f < MAX_FOLDS; f++) {
        xgb_dmatrix_free(m->dtr[f]);
        xgb_dmatrix_free(m->dva[f]);
        m->dtr[f] = m->dva[f] = NULL;
    }
    void *dall = NULL, *b = NULL;
    if (xgb_dmatrix_new(m->X, in->n, m->width, m->names, m->types, in->y, in->w, &dall, e) < 0)
        return -1;
    int rc = -1;
    if (xgb_booster_new(&dall, 1, &b, e) < 0)
        goto out;
    if (set_params(cx, b, &best->c, mean_of(in->y, 0, in->n, 0, 0), e) < 0 ||
        xgb_booster_features(b, m->names, m->types, m->nf, e) < 0)
        goto out;
    for (int it = 0; it < R; it++) {
        if (stop_requested(in, e) < 0)
            goto out;
        double t0 = util_now_monotonic();
        if (t0 + round_est > end) {
            rc = 1;
            goto out;
        }
        if (xgb_booster_update(b, it, dall, e) < 0)
            goto out;
        double dt = util_now_monotonic() - t0;
        round_est = 0.8 * round_est + 0.2 * dt > dt ? 0.8 * round_est + 0.2 * dt : dt;
        progress(cx, t0 + dt);
    }
    *out = b;
    *rounds = R;
    b = NULL;
    rc = 0;
out:
    xgb_booster_free(b);
    xgb_dmatrix_free(dall);
    return rc;
}

static json_object *cand_json(const cand_res_t *r, const char *metric)
{
    json_object *o = json_object_new_object();
    json_object *p = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(r->c.linear ? "linear" : "tree"));
    if (r->c.linear) {
        json_object_object_add(p, "booster", json_object_new_string("gblinear"));
        json_object_object_add(p, "lambda", json_object_new_double(r->c.lambda));
    } else {
        json_object_object_add(p, "booster", json_object_new_string("gbtree"));
        json_object_object_add(p, "tree_method", json_object_new_string("hist"));
        json_object_object_add(p, "eta", json_object_new_double(r->c.eta));
        json_object_object_add(p, "max_depth", json_object_new_int(r->c.depth));
        json_object_object_add(p, "min_child_weight", json_object_new_double(r->c.mcw));
        json_object_object_add(p, "subsample", json_object_new_double(r->c.subsample));
        json_object_object_add(p, "colsample_bytree", json_object_new_double(r->c.colsample));
        json_object_object_add(p, "lambda", json_object_new_double(r->c.lambda));
    }
    json_object_object_add(o, "params", p);
    json_object_object_add(o, "metric", json_object_new_string(metric));
    json_object_object_add(o, "value", json_object_new_double(r->value));
    json_object_object_add(o, "trees", json_object_new_int(r->c.linear ? 0 : r->rounds));
    json_object_object_add(o, "rounds", json_object_new_int(r->rounds));
    json_object_object_add(o, "seconds", json_object_new_double(r->seconds));
    json_object_object_add(o, "truncated", json_object_new_boolean(r->truncated));
    return o;
}

static void log_cand(ctx_t *cx, int idx, const cand_res_t *r, const char *metric)
{
    const search_in_t *in = cx->in;
    if (in->cb == NULL || in->cb->log == NULL)
        return;
    char line[400];
    if (r->c.linear)
        snprintf(line, sizeof(line),
                 "%s: candidate %d linear lambda=%.3g: %s=%.5f rounds=%d %.2fs%s", in->field, idx,
                 r->c.lambda, metric, r->value, r->rounds, r->seconds,
                 r->truncated ? " (cut by the clock)" : "");
    else
        snprintf(line, sizeof(line),
                 "%s: candidate %d tree eta=%.3g max_depth=%d min_child_weight=%.3g "
                 "subsample=%.2f colsample_bytree=%.2f lambda=%.3g: %s=%.5f trees=%d %.2fs%s",
                 in->field, idx, r->c.eta, r->c.depth, r->c.mcw, r->c.subsample, r->c.colsample,
                 r->c.lambda, metric, r->value, r->rounds, r->seconds,
                 r->truncated ? " (cut by the clock)" : "");
    in->cb->log(in->cb->ctx, line);
}

static int better(const cand_res_t *a, const cand_res_t *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    return a->logloss < b->logloss;
}

static int cmp_rank(const void *x, const void *y)
{
    const cand_res_t *a = *(cand_res_t *const *)x, *b = *(cand_res_t *const *)y;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

void search_out_free(search_out_t *o)
{
    xgb_booster_free(o->booster);
    free(o->bytes);
    free(o->valid_pred);
    json_object_put(o->candidates);
    enc_plan_free(&o->linear_plan);
    memset(o, 0, sizeof(*o));
}

static int linear_plan_copy(const enc_plan_t *src, enc_plan_t *dst, const float *F, size_t n_fit,
                            err_t *e)
{
    json_object *j = enc_plan_to_json(src);
    int rc = enc_plan_from_json(dst, j, 1, e);
    json_object_put(j);
    if (rc < 0)
        return -1;
    enc_fit_linear(dst, F, n_fit);
    return 0;
}

int search_run(const search_in_t *in, search_out_t *out, err_t *e)
{
    memset(out, 0, sizeof(*out));
    ctx_t cx = {.in = in, .kk = in->task == TASK_REGRESSION ? 1 : in->k};
    cx.valid_begin = in->n_folds == 1 ? in->fold_start[1] : 0;
    /* Two threads only pay on enough work per round: on small data the
     * OpenMP barriers cost more than the round, and far more when the
     * other core is busy (libgomp spins; OMP_WAIT_POLICY=passive helps). */
    cx.nthread = (double)in->n * (double)in->plan->n * (double)cx.kk > 1e6 ? "2" : "1";
    out->metric = in->task == TASK_BINARY ? "auc" : in->task == TASK_MULTICLASS ? "accuracy"
                                                                                 : "rmse";
    if (in->n_folds < 1 || in->n_folds > MAX_FOLDS)
        return err_set(e, 500, "internal", "bad fold count");
    /* Linear only when its one-hot matrix stays modest. */
    size_t lw = enc_linear_width(in->plan);
    int allow_linear = lw > 0 && (double)lw * (double)in->n <= 2.5e7;
    if (allow_linear && linear_plan_copy(in->plan, &cx.lin_plan, in->F, in->n, e) < 0)
        return -1;
    uint64_t rng = in->seed * 0x2545F4914F6CDD1DULL + 1;
    size_t cap = 16, nres = 0;
    cand_res_t *res = calloc(cap, sizeof(*res));
    int rc = -1, best = -1;
    if (res == NULL)
        return err_set(e, 500, "internal", "out of memory");
    double start = util_now_monotonic();
    for (int idx = 0;; idx++) {
        if (in->max_models > 0 && idx >= in->max_models)
            break;
        cand_t c = cand_make(idx, &rng, in);
        if (c.linear && !allow_linear)
            continue;
        double now = util_now_monotonic();
        double refit_est = 0;
        /* Holdout means large data: there the time goes to the search and
         * the refit happens only if time is left over. */
        if (best >= 0 && in->n_folds > 1) {
            const cand_res_t *b = &res[best];
            refit_est = b->round_seconds * b->rounds * 1.3 * (in->n_folds == 1 ? 1.25 : 1.0);
        }
        double search_end = in->end - in->reserve - refit_est;
        if (in->max_models == 0 && nres > 0) {
            double avg = (now - start) / (double)nres;
            if (search_end - now < 0.5 * avg || search_end - now < 0.05)
                break;
        }
        if (search_end <= now && nres > 0) {
            out->truncated = 1;
            break;
        }
        if (nres == cap) {
            cand_res_t *nr = realloc(res, 2 * cap * sizeof(*res));
            if (nr == NULL) {
                err_set(e, 500, "internal", "out of memory");
                goto done;
            }
            memset(nr + cap, 0, cap * sizeof(*nr));
            res = nr;
            cap *= 2;
        }
        cand_res_t *r = &res[nres];
        double cand_end = search_end;
        if (in->max_models == 0 && now + c.share * (search_end - now) < cand_end)
            cand_end = now + c.share * (search_end - now);
        if (run_candidate(&cx, &c, cand_end, r, e) < 0) {
            nres++;
            goto done;
        }
        nres++;
        if (r->truncated)
            out->truncated = 1;
        log_cand(&cx, idx, r, out->metric);
        if (best < 0 || better(r, &res[best]))
            best = (int)(r - res);
        if (idx > 200 && in->max_models == 0)
            break;
    }
    if (best < 0) {
        err_set(e, 500, "training_failed", "no candidate model could be trained in time");
        goto done;
    }
    /* One-standard-error style rule: the linear model is simpler and the
     * many tree candidates carry a winner's curse on small validation
     * sets, so a tree must beat the best linear model by a margin that
     * shrinks with the validation size. */
    int best_lin = -1;
    for (size_t i = 0; i < nres; i++)
        if (res[i].c.linear && (best_lin < 0 || better(&res[i], &res[best_lin])))
            best_lin = (int)i;
    if (best_lin >= 0 && !res[best].c.linear) {
        double nv = (double)(in->n - cx.valid_begin);
        double margin = 0.25 / sqrt(nv > 1 ? nv : 1);
        if (in->task == TASK_REGRESSION)
            margin *= res[best_lin].value;
        if (res[best].score - res[best_lin].score < margin) {
            best = best_lin;
            if (in->cb && in->cb->log) {
                char line[200];
                snprintf(line, sizeof(line), "%s: the linear model is within %.4g of the best "
                         "tree: keeping the simpler model", in->field, margin);
                in->cb->log(in->cb->ctx, line);
            }
        }
    }
    cand_res_t *b = &res[best];
    out->linear = b->c.linear;
    int r_rounds = 0;
    int fr = refit(&cx, b, in->end - in->reserve, &out->booster, &r_rounds, e);
    if (fr < 0)
        goto done;
    if (fr == 0) {
        out->refit = 1;
        out->rounds = r_rounds;
    } else {
        out->truncated = 1;
        out->booster = b->fallback;
        b->fallback = NULL;
        out->rounds = b->rounds;
        if (in->cb && in->cb->log) {
            char line[200];
            snprintf(line, sizeof(line), "%s: no time to refit on all rows; keeping the "
                     "first-fold model", in->field);
            in->cb->log(in->cb->ctx, line);
        }
    }
    if (xgb_booster_save(out->booster, &out->bytes, &out->len, e) < 0)
        goto done;
    out->value = b->value;
    out->valid_begin = cx.valid_begin;
    out->valid_pred = b->oof;
    b->oof = NULL;
    if (out->linear) {
        out->linear_plan = cx.lin_plan;
        memset(&cx.lin_plan, 0, sizeof(cx.lin_plan));
    }
    cand_res_t **order = malloc(nres * sizeof(*order));
    if (order == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nres; i++)
        order[i] = &res[i];
    qsort(order, nres, sizeof(*order), cmp_rank);
    out->candidates = json_object_new_array();
    for (size_t i = 0; i < nres; i++) {
        json_object *o = cand_json(order[i], out->metric);
        json_object_object_add(o, "rank", json_object_new_int((int)i + 1));
        json_object_array_add(out->candidates, o);
    }
    free(order);
    rc = 0;
done:
    for (size_t i = 0; i < nres; i++) {
        free(res[i].oof);
        xgb_booster_free(res[i].fallback);
    }
    free(res);
    mats_free(&cx.tree);
    mats_free(&cx.lin);
    enc_plan_free(&cx.lin_plan);
    return rc;
}
