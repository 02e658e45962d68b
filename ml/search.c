/*
 * search.c — the AutoML search for one field (see search.h).
 *
 * Candidates, in order: the linear model (linfit.h, on one-hot +
 * standardised inputs: it wins on small or weak-signal data) along a
 * regularisation path, on the fields as they are and with skewed
 * non-negative numbers through log1p, the step chosen by validation log
 * loss (the log1p input only when better on the metric too); a tree model
 * with sensible defaults; in a budgeted run where the linear model is near
 * the trees, its companion (a small tree sized to blend with it within the
 * serving budget, ENSEMBLE_MAX_VISITS); then XGBoost hist with
 * hyperparameters drawn from a seeded generator (eta, max_depth,
 * min_child_weight, subsample, colsample_bytree, lambda). Each tree trains with early stopping on the
 * validation loss; candidates are ranked by the task's metric on the
 * validation rows (AUC, accuracy with log loss breaking ties, RMSE).
 * Tree matrices are XGBoost QuantileDMatrix built from the caller's rows
 * in batches (xgb_qmatrix_new): no fold copies, 1 byte per cell.
 *
 * Time split between families, by measured progress rather than fixed
 * shares: after the linear path and the default tree, each random tree is
 * drawn from one of two families, shallow (depth 2-6) or deep (7-12),
 * chosen by a bandit (arm_pick): every family is tried once, then the one
 * whose candidates added the most validation score over the best so far
 * per unit of their boosting work (rounds x depth x sampling: their time,
 * without the load's noise) gets the next candidate, each family counting
 * a prior gain of one noise unit so that a family yet to pay keeps a
 * chance that shrinks with the work it has had. On data where deep trees
 * win (many classes) they take the time; where nothing gains, the families
 * share it, and early finish (below) ends the search. Boosting
 * the best tree further (extend_best) competes with new candidates the
 * same way: by what its rounds cost against the refit they must leave room
 * for. A capped run (max_models) alternates the families so that a seed
 * gives one model. On holdout, with the best tree cut by the clock, a new
 * tree is not started when its slice cannot buy half the best's rounds x
 * eta at the measured round time: it could only lose, cut short, and the
 * time is worth more to the final model, which boosts the best on.
 * Multiclass: min_child_weight and lambda are scaled to softprob's smaller
 * hessians (cand_make), so a leaf needs as many rows whatever k.
 *
 * Time: a boosting round cannot be interrupted, so every round is preceded
 * by a check that the measured time of one round still fits; k-fold gives
 * each remaining fold an equal share of what is left. New candidates stop
 * when what is left would not pay for refitting the best one. The refit on
 * all rows runs only when its estimate (rounds x measured round time x row
 * ratio) fits; otherwise the best candidate's first-fold model is the
 * final model. A best candidate cut by the clock refits with as many more
 * rounds (up to twice) as the time left pays for; on holdout, when no
 * refit fits at all, the best candidate's model boosts on with all rows
 * instead (boost_on_all). Without max_models only
 * the clock ends the search (SEARCH_SAFETY_CAP aside); the result lists
 * the best SEARCH_LISTED candidates and the final one. A best tree cut by the clock on holdout is boosted further
 * first (extend_best). Any cut by the clock marks the run as not
 * reproducible.
 * Everything else is deterministic: the parameter generator and XGBoost
 * are seeded, and nthread is fixed per dataset size when max_models caps
 * the run (a budgeted run times 2 threads against 1 and keeps the faster).
 */
#include "ml/search.h"

#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ml/ensemble.h"
#include "ml/linfit.h"
#include "ml/linpart.h"
#include "ml/metrics.h"
#include "ml/xgb.h"

#define MAX_FOLDS 10
/* Without max_models the clock bounds the search; this only keeps a run
 * on tiny data (wine: milliseconds a candidate) from piling up results. */
#define SEARCH_SAFETY_CAP 5000
/* Candidates listed in the result (the best ones): a 60 s run on small
 * data tries hundreds, and the list is stored with every job. */
#define SEARCH_LISTED 200
/* Tree candidates whose validation predictions and first-fold models are
 * kept for the ensemble (the best ones so far), and the most members a
 * blend takes (with replacement: weights are multiples of 1/steps). */
#define ENSEMBLE_POOL 8
#define ENSEMBLE_STEPS 25
/* Serving cost: a blend predicts through all its members' trees (rounds x
 * classes for multiclass), each walked from root to leaf, so the greedy
 * selection adds a member only while the members' node visits per row
 * (trees x max_depth) stay within this many, whatever the best single
 * model's size. Measured at load 10 on this box: a diamonds blend of 180
 * depth-6 and 106 depth-10 trees (2,140 visits) took 115-145 ms CPU per
 * 10,000 rows in XGBoost's in-place predict on one thread (~6 ns a
 * visit; about half that on a quiet box), 314 ms through the API's path
 * with JSON, which costs 40-100 ms per 10,000 rows by field count. 1,800
 * keeps a 10,000-row batch near the 100 ms target on a quiet server while
 * blends of shallow trees stay possible (credit_data: 182 depth-3 and 106
 * depth-2 trees, 758). A member's trees are counted as the most its final
 * model can have (member_visits): its refit's (1.1x its rounds, twice that
 * when the clock cut it: refit boosts on; a companion's exactly its
 * rounds) or its first-fold model's, whichever is more. Every blend keeps
 * to it, the best tree paired with the linear model too: that pair used
 * to be exempt, and on digits served 253 rounds x 10 classes x depth 6
 * (33,633 visits, ~335 ms per 10,000 rows); the companion (below) now
 * gives the linear model a partner within the budget. */
#define ENSEMBLE_MAX_VISITS 1800
/* The companion: a tree candidate sized for the serving budget beside the
 * linear model (shallow, high eta, rounds capped so that the pair fits
 * ENSEMBLE_MAX_VISITS), trained once the linear model and the default tree
 * have run, kept in the ensemble pool whatever its rank. The pool's big
 * trees rarely fit the budget on many classes, yet a cheap tree carries
 * most of what a tree adds to the linear model (digits, 5-fold out-of-fold
 * log loss of the pair, test accuracy; the linear model alone 0.9694, the
 * exempt pair 0.9778): eta 0.3 depth 4 x 25 rounds (1,000 visits) 0.1009,
 * 0.9778; eta 0.5 depth 3 x 25-50 rounds (750-1,500 visits) 0.0985-0.0961,
 * 0.9806; eta 0.1 depth 6 x 250 rounds (15,000 visits) 0.0923, 0.9778.
 * Through the engine at 10 s, digits seeds 0-3 (test accuracy of the
 * blend served, within the budget): depth 4 eta 0.3 (41 rounds) 0.975,
 * 0.9806, 0.9806, 0.9778; depth 3 eta 0.5 (54) 0.9722, 0.9778, 0.975,
 * 0.9778, and the same with both trained (the pair's validation loss
 * chose depth 3); depth 4 eta 0.5 0.9750 on average, depth 5 eta 0.3
 * 0.9764, depth 5 eta 0.5 0.9757, depth 6 eta 0.5 0.9736; without a
 * companion the linear model alone, 0.9694 (0.9611 on seed 2). On binary
 * data the cap is loose (credit_data: 224 rounds) and early stopping ends
 * it (13-43 rounds, 0.03-0.16 s). Its eta rises from 0.3 toward 0.5 when
 * the cap leaves fewer rounds than digits' 41, so that rounds x eta stays
 * about 12 (more classes, a wider linear model). */
#define COMPANION_DEPTH 4
#define COMPANION_ETA 0.3
#define COMPANION_ETA_MAX 0.5
#define COMPANION_LEARN 12.0
#define N_COMPANIONS 1
/* A companion only pays when the linear model is near the trees: how far
 * below the best tree's validation score (AUC, accuracy; relative for
 * RMSE) the linear model may be for one to be trained (letter: 0.69
 * against 0.88, no pair helps there; digits 0.962 against 0.969). */
#define COMPANION_GAP 0.05
/* Early finish: with every family tried, the search ends once this many
 * tree candidates in a row, and at least half of all tried, brought no
 * validation gain beyond noise (0.1 / sqrt(validation rows), relative for
 * RMSE): on small data more candidates only fit the validation set's
 * noise (a 500-row table: ~1 s instead of the whole budget), while a
 * search that is still finding gains goes on (wa_churn: a window of 6 at
 * 0.25 / sqrt(n) stopped it at 4 s and cost 0.002 of test AUC). */
#define CONVERGE_WINDOW 6

typedef struct cand {
    int linear;
    double eta, mcw, subsample, colsample, lambda;
    int depth;
    int max_rounds, patience;
    double tol;                /* relative improvement that resets patience */
    double share;              /* most of the remaining window it may use */
    int log1p;                 /* trees on a regression: fit log1p(target) */
    int arm;                   /* random trees: the family it was drawn from (ARM_*) */
    int companion;             /* sized for the serving budget beside the linear
                                * model: max_rounds is its cap, and its refit
                                * makes exactly its rounds (COMPANION_DEPTH) */
    int log_inputs;            /* linear: reads skewed numbers through log1p
                                * (ctx's lin[1] and lin_plan[1]) */
} cand_t;

/* The random trees' families, between which the search splits its time by
 * measured progress (arm_pick): shallow trees (depth 2-6: many rounds,
 * smooth or small data) and deep ones (depth 7-12: interactions, many
 * classes, where one round of deep trees buys more than several shallow
 * ones). ARM_NONE: the linear path and the default tree. */
enum { ARM_NONE = -1, ARM_SHALLOW, ARM_DEEP, N_ARMS };
static const char *const ARM_NAME[N_ARMS] = {"shallow", "deep"};

typedef struct arm_stat {
    int tries;                 /* candidates drawn from it */
    double work;               /* their boosting work, all folds: rounds x
                                * depth x row and column sampling rates,
                                * which tracks their time but not the
                                * machine's load (see arm_pick) */
    double gain;               /* validation score they added over the best
                                * before each of them (never negative) */
} arm_stat_t;

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
    double base_log[MAX_FOLDS]; /* the same of log1p(label) */
    int labels_log;            /* the matrices hold log1p(label) now */
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
    int fb_rounds;             /* trees: the rounds of fallback */
    double *coef;              /* linear: fold-0 coefficients (linfit.h layout) */
    int pruned;                /* a linear path step not chosen: never the winner */
    int extended;              /* went on boosting after its cut (extend_best) */
    const char *nthread;       /* trees: XGBoost threads at the end of its run */
    int trained;               /* trees: rounds run over all folds (early stopping's
                                * patience included) */
} cand_res_t;

/* The pool: the kept trees, the companion and the linear model (served
 * beside them as a dot product, ml/linpart.h). */
#define ENSEMBLE_CANDS (ENSEMBLE_POOL + N_COMPANIONS + 1)

typedef struct ens {
    size_t m;                  /* distinct members */
    int idx[ENSEMBLE_CANDS];   /* their candidates (indices), most weight first */
    double weight[ENSEMBLE_CANDS];
    double *lin_coef;          /* a linear member's final coefficients (linfit.h
                                * layout) */
    float *blend;              /* validation outputs of the blend */
    int log1p;                 /* members fit log1p(target) */
    cand_res_t score;          /* the blend's value, score and log loss */
} ens_t;

typedef struct ctx {
    const search_in_t *in;
    size_t kk;                 /* output columns: k for classes, 1 for regression */
    size_t valid_begin;
    const char *nthread;       /* "1" for small data: see search_run */
    int probe_threads;         /* time 2 vs 1 threads on the next rounds */
    double round_hint;         /* seconds of the last tree round (any candidate) */
    int trained;               /* rounds the last train_fold call ran */
    double probe_t[2];         /* summed round seconds with 2 and 1 threads */
    double last_progress;
    mats_t tree;
    /* The linear model's input, [0] as the fields are and [1] with skewed
     * non-negative numbers read through log1p (enc_fit_linear): the path
     * runs both, and validation chooses (run_linear_path). */
    mats_t lin[2];
    enc_plan_t lin_plan[2];
    int lin_variants;          /* 2 when the log1p input differs from the raw one */
    void *dall;                /* all rows, for refits (built once) */
    int dall_log;              /* its labels are log1p(target) */
    float *ylog;               /* log1p(y) per row: skewed positive targets only */
    int use_log;               /* later trees fit log1p(target) (chosen by validation) */
    arm_stat_t arms[N_ARMS];   /* measured progress of each tree family */
    /* The linear path, resumable: a path cut by the clock while its last
     * step was still its best goes on later (run_linear_path). */
    double *lin_coef;          /* lin_variants x n_folds x dim warm-start coefficients */
    size_t lin_next;           /* next fit: step lin_next / lin_variants of LIN_PATH,
                                * input lin_next % lin_variants */
    int lin_best;              /* the path's best fit so far (index in res), or -1 */
    int lin_worse;             /* steps since it improved */
    int lin_step_gain;         /* this step has improved on lin_best */
    int lin_resumable;         /* cut by the clock while still improving */
} ctx_t;

static void log_cand(ctx_t *cx, int idx, const cand_res_t *r, const char *metric);
static void progress(ctx_t *cx, double now);
static int better(const cand_res_t *a, const cand_res_t *b);

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

static cand_t cand_make(int idx, int arm, uint64_t *rng, const search_in_t *in)
{
    cand_t c = {.eta = 0.1, .depth = 6, .mcw = 1, .subsample = 0.8, .colsample = 0.8,
                .lambda = 1, .max_rounds = 3000, .patience = 30, .tol = 1e-7, .share = 0.4,
                .arm = ARM_NONE};
    double n = (double)in->n;
    /* min_child_weight and lambda are in units of the loss's hessian, which
     * multiclass softprob makes small: 2p(1-p) per class, 2(k-1)/k^2 at the
     * start against binary's 0.25. Scaled by that ratio, a leaf needs the
     * same number of rows whatever k (letter, 26 classes: at 1 a leaf
     * needed ~14 rows and lambda 1 shrank every leaf; at 0.3, test
     * accuracy after 100 rounds 0.9633 against 0.9627). */
    double hs = 1.0;
    if (in->task == TASK_MULTICLASS && in->k > 2) {
        double k = (double)in->k;
        hs = 8.0 * (k - 1) / (k * k);
        hs = hs < 1.0 ? hs : 1.0;
    }
    c.mcw *= hs;
    c.lambda *= hs;
    if (rng == NULL) /* the defaults alone, for a companion (companion_due) */
        return c;
    if (idx == 0) { /* the linear path (run_linear_path) */
        c.linear = 1;
        c.share = in->n_folds == 1 ? 0.12 : 0.25;
        return c;
    }
    if (idx == 1) {
        /* Much work per round (many rows x classes): few rounds fit, so
         * take bigger steps and deeper, subsampled trees (letter: 0.964
         * vs 0.959 for the defaults at the same time). */
        int big = n * (double)in->k > 50000;
        c.eta = big ? 0.3 : 0.1;
        c.depth = big && in->k > 2 ? 8 : 6;
        c.patience = 30;
        if (big && in->k > 2) {
            /* Many rows of many classes: the hessian-scaled leaf bound
             * still binds as the fit improves (a well-fit row's 2p(1-p)
             * tends to 0) and a scaled-down lambda barely shrinks, so
             * this candidate takes a tenth of the bound and lambda 1
             * (letter, 16,000 rows, all rows, mean of 3 seeds at 100 /
             * 150 rounds: 0.9616 / 0.9619 at 0.296 and 0.296; 0.9647 /
             * 0.9653 at 0.023 and 1). */
            c.mcw = 0.1 * hs;
            c.lambda = 1;
        }
        /* Holdout: the refit on all rows costs ~1.4x the candidate, and
         * is worth more than anything else the time buys when few rounds
         * fit (letter, test accuracy: 100 rounds on all rows 0.963, 135
         * on the holdout's 80% 0.954): leave it room for sure there. */
        c.share = in->n_folds == 1 ? (big && in->k > 2 ? 0.33 : 0.4) : 0.6;
        return c;
    }
    /* The same draws for either family (a seeded run stays the same
     * sequence); the family sets the depth's range. */
    c.arm = arm;
    c.eta = rng_log(rng, 0.02, 0.3);
    c.depth = arm == ARM_DEEP ? 7 + (int)(rng_unit(rng) * 6) : 2 + (int)(rng_unit(rng) * 5);
    c.mcw = hs * rng_log(rng, 0.5, 20);
    c.subsample = 0.5 + 0.5 * rng_unit(rng);
    c.colsample = 0.4 + 0.6 * rng_unit(rng);
    c.lambda = hs * rng_log(rng, 0.1, 10);
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

/* Past QUANTISE_CELLS the tree matrices are QuantileDMatrix (1 byte per
 * cell, no copies: the memory bar); below, plain DMatrix, which builds
 * faster (diamonds: 0.1 s less per candidate set-up). */
#define QUANTISE_CELLS 4e6

static int quantised(const search_in_t *in, size_t width)
{
    return in->F == NULL || (double)in->n * (double)width > QUANTISE_CELLS;
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
        m->ready = 1;
        return 0; /* linfit reads the rows directly: no XGBoost matrices */
    }
    m->X = in->F;
    double t0 = util_now_monotonic();
    int quantise = quantised(in, m->width);
    /* Quantised matrices read straight from the layout: the training
     * rows of a fold are the ranges around its validation block, so no
     * fold is ever copied, and XGBoost keeps 1 byte per cell. */
    for (size_t f = 0; f < in->n_folds; f++) {
        size_t a = in->n_folds == 1 ? in->fold_start[1] : in->fold_start[f];
        size_t b = in->n_folds == 1 ? in->n : in->fold_start[f + 1];
        xgb_rows_t tr = {.X = m->X, .fill = in->fill, .fill_ctx = in->fill_ctx,
                         .w = m->width, .names = m->names, .types = m->types,
                         .label = in->y, .weight = in->w, .begin = {0, b}, .end = {a, in->n},
                         .n_ranges = b < in->n ? 2 : 1};
        xgb_rows_t va = tr;
        va.begin[0] = a;
        va.end[0] = b;
        va.n_ranges = 1;
        if (quantise ? xgb_qmatrix_new(&tr, NULL, &m->dtr[f], e) < 0 ||
                           xgb_qmatrix_new(&va, m->dtr[f], &m->dva[f], e) < 0
                     : xgb_rows_dmatrix_new(&tr, &m->dtr[f], e) < 0 ||
                           xgb_rows_dmatrix_new(&va, &m->dva[f], e) < 0)
            return -1;
        m->base[f] = mean_of(in->y, 0, in->n, a, b);
        progress(cx, util_now_monotonic()); /* a loaded box makes even this slow */
        if (cx->ylog)
            m->base_log[f] = mean_of(cx->ylog, 0, in->n, a, b);
    }
    m->ready = 1;
    /* Quantising frees its sketches; glibc keeps freed memory in its
     * arenas (one per OpenMP thread) unless asked: hand it back before
     * training adds its own buffers on top (the peak-memory bar). */
    malloc_trim(0);
    if (in->cb && in->cb->log) {
        char line[160];
        snprintf(line, sizeof(line), "%s: %s built in %.2fs", in->field,
                 quantise ? "quantised matrices" : "matrices", util_now_monotonic() - t0);
        in->cb->log(in->cb->ctx, line);
    }
    return 0;
}

/* Points the tree matrices' labels at log1p(y) or y (a candidate's
 * choice): XGBoost keeps labels beside the quantised rows, so only the
 * labels are rewritten, never the matrices. */
static int mats_labels(ctx_t *cx, mats_t *m, int log, err_t *e)
{
    const search_in_t *in = cx->in;
    if (m->labels_log == log)
        return 0;
    const float *y = log ? cx->ylog : in->y;
    float *tmp = malloc((in->n + 1) * sizeof(*tmp));
    if (tmp == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t f = 0; f < in->n_folds && m->dtr[f]; f++) {
        size_t a = in->n_folds == 1 ? in->fold_start[1] : in->fold_start[f];
        size_t b = in->n_folds == 1 ? in->n : in->fold_start[f + 1];
        memcpy(tmp, y, a * sizeof(*tmp));
        memcpy(tmp + a, y + b, (in->n - b) * sizeof(*tmp));
        if (xgb_dmatrix_set_label(m->dtr[f], tmp, in->n - (b - a), e) < 0 ||
            xgb_dmatrix_set_label(m->dva[f], y + a, b - a, e) < 0) {
            free(tmp);
            return -1;
        }
    }
    free(tmp);
    m->labels_log = log;
    return 0;
}

/* A regression target worth fitting on the log scale: no value below 0
 * and a long right tail (skewness above 1: prices, counts, durations). */
static float *skewed_log1p(const search_in_t *in)
{
    if (in->task != TASK_REGRESSION || in->n < 20)
        return NULL;
    double s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (!(in->y[i] >= 0))
            return NULL;
        s1 += in->y[i];
    }
    double mu = s1 / (double)in->n;
    for (size_t i = 0; i < in->n; i++) {
        double d = in->y[i] - mu;
        s2 += d * d;
        s3 += d * d * d;
    }
    s2 /= (double)in->n;
    s3 /= (double)in->n;
    if (!(s2 > 0) || s3 / pow(s2, 1.5) <= 1.0)
        return NULL;
    float *l = malloc(in->n * sizeof(*l));
    for (size_t i = 0; l && i < in->n; i++)
        l[i] = log1pf(in->y[i]);
    return l;
}

/* Predictions of a log1p candidate back on the target's scale. */
static void unlog(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = scoring_expm1(p[i]);
}

/* --- one candidate ------------------------------------------------------- */

static const char *eval_metric(ml_task_t t)
{
    return t == TASK_BINARY ? "logloss" : t == TASK_MULTICLASS ? "mlogloss" : "rmse";
}

/* Booster parameters for the two writers below: b, buf and e in scope. */
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

int search_params_set(void *b, ml_task_t task, size_t k, unsigned long long seed,
                      const char *nthread, double base, const search_tree_t *tree, err_t *e)
{
    char buf[64];
    const char *obj = task == TASK_BINARY       ? "binary:logistic"
                      : task == TASK_MULTICLASS ? "multi:softprob"
                                                : "reg:squarederror";
    P("nthread", nthread);
    P("objective", obj);
    P("eval_metric", eval_metric(task));
    PF("seed", "%llu", seed);
    P("verbosity", "0");
    if (task == TASK_MULTICLASS)
        PF("num_class", "%zu", k);
    if (task == TASK_REGRESSION)
        PF("base_score", "%.9g", base);
    if (tree == NULL)
        return 0;
    P("booster", "gbtree");
    P("tree_method", "hist");
    PF("eta", "%.9g", tree->eta);
    PF("max_depth", "%d", tree->depth);
    PF("min_child_weight", "%.9g", tree->mcw);
    PF("subsample", "%.9g", tree->subsample);
    PF("colsample_bytree", "%.9g", tree->colsample);
    PF("lambda", "%.9g", tree->lambda);
    P("max_cat_to_onehot", "4");
    return 0;
}

void search_params_json(json_object *p, const search_tree_t *tree)
{
    json_object_object_add(p, "booster", json_object_new_string("gbtree"));
    json_object_object_add(p, "tree_method", json_object_new_string("hist"));
    json_object_object_add(p, "eta", json_object_new_double(tree->eta));
    json_object_object_add(p, "max_depth", json_object_new_int(tree->depth));
    json_object_object_add(p, "min_child_weight", json_object_new_double(tree->mcw));
    json_object_object_add(p, "subsample", json_object_new_double(tree->subsample));
    json_object_object_add(p, "colsample_bytree", json_object_new_double(tree->colsample));
    json_object_object_add(p, "lambda", json_object_new_double(tree->lambda));
    json_object_object_add(p, "max_cat_to_onehot", json_object_new_int(4));
}

void search_cand_figures(json_object *o, json_object *params, const char *metric, double value,
                         int trees, int rounds, int trained, double seconds, int truncated)
{
    json_object_object_add(o, "params", params);
    json_object_object_add(o, "metric", json_object_new_string(metric));
    json_object_object_add(o, "value", json_object_new_double(value));
    json_object_object_add(o, "trees", json_object_new_int(trees));
    json_object_object_add(o, "rounds", json_object_new_int(rounds));
    if (trained >= 0)
        json_object_object_add(o, "trained_rounds", json_object_new_int(trained));
    json_object_object_add(o, "seconds", json_object_new_double(seconds));
    json_object_object_add(o, "truncated", json_object_new_boolean(truncated));
}

static search_tree_t tree_of(const cand_t *c)
{
    search_tree_t t = {c->eta, c->mcw, c->subsample, c->colsample, c->lambda, c->depth};
    return t;
}

static int set_params(ctx_t *cx, void *b, const cand_t *c, double base, err_t *e)
{
    const search_in_t *in = cx->in;
    search_tree_t t = tree_of(c);
    if (search_params_set(b, in->task, in->k, in->seed, cx->nthread, base, c->linear ? NULL : &t,
                          e) < 0)
        return -1;
    if (!c->linear)
        return 0;
    char buf[64];
    P("booster", "gblinear");
    P("updater", "coord_descent");
    P("feature_selector", "cyclic");
    PF("eta", "%.9g", c->eta);
    PF("lambda", "%.9g", c->lambda);
    P("alpha", "0");
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

static void thread_log(const ctx_t *cx)
{
    const search_in_t *in = cx->in;
    if (in->cb == NULL || in->cb->log == NULL)
        return;
    char line[200];
    snprintf(line, sizeof(line), "%s: %s thread%s (a round took %.1f ms on 2, %.1f ms on 1)",
             in->field, cx->nthread, cx->nthread[0] == '2' ? "s" : "", cx->probe_t[0] / 3 * 1e3,
             cx->probe_t[1] / 3 * 1e3);
    in->cb->log(in->cb->ctx, line);
}

/* Trains one fold until early stopping, max_rounds or slice_end. With
 * *out non-NULL on entry, boosts that model further from round start (a
 * resumed booster is owned by the call: on failure it is freed). */
static int train_fold(ctx_t *cx, mats_t *m, size_t f, const cand_t *c, int start,
                      double slice_end, double *round_est, void **out, int *best_rounds,
                      int *truncated, err_t *e)
{
    void *b = *out;
    int resumed = b != NULL;
    void *cache[2] = {m->dtr[f], m->dva[f]};
    double best = INFINITY;
    int best_it = -1, since = 0, it;
    if (b == NULL) {
        if (xgb_booster_new(cache, 2, &b, e) < 0)
            return -1;
        if (set_params(cx, b, c, c->log1p ? m->base_log[f] : m->base[f], e) < 0 ||
            xgb_booster_features(b, m->names, m->types, m->nf, e) < 0)
            goto fail;
    } else {
        if (xgb_booster_param(b, "nthread", cx->nthread, e) < 0 ||
            xgb_booster_eval(b, start, m->dva[f], &best, e) < 0)
            goto fail;
        best_it = start - 1;
    }
    for (it = start; it < c->max_rounds; it++) {
        if (stop_requested(cx->in, e) < 0)
            goto fail;
        double t0 = util_now_monotonic();
        if (it > start && t0 + *round_est > slice_end) {
            *truncated = 1;
            break;
        }
        /* Probe: rounds 1-3 on 2 threads, 4-6 on 1, keep the faster (a
         * busy neighbour makes 2 threads slower than 1, even with
         * OMP_WAIT_POLICY=passive). Round 0 carries the setup: not timed. */
        int probing = cx->probe_threads && it >= 1 && it <= 6;
        if (cx->probe_threads && it == 4 && xgb_booster_param(b, "nthread", "1", e) < 0)
            goto fail;
        double v;
        if (xgb_booster_update(b, it, m->dtr[f], e) < 0 || xgb_booster_eval(b, it, m->dva[f], &v,
                                                                             e) < 0)
            goto fail;
        double t1 = util_now_monotonic();
        double dt = t1 - t0;
        if (probing) {
            cx->probe_t[it <= 3 ? 0 : 1] += dt;
            if (it == 6) {
                cx->probe_threads = 0;
                cx->nthread = cx->probe_t[0] < cx->probe_t[1] ? "2" : "1";
                if (xgb_booster_param(b, "nthread", cx->nthread, e) < 0)
                    goto fail;
                thread_log(cx);
            }
        }
        if (it == start && resumed && *round_est > 0) /* rebuilt its prediction cache */
            dt = *round_est;
        *round_est = it == start ? dt : (0.8 * *round_est + 0.2 * dt > dt ? 0.8 * *round_est + 0.2 * dt
                                                                      : dt);
        cx->round_hint = *round_est;
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
    cx->trained = it - start;
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
    int *yi = calloc(n ? n : 1, sizeof(*yi));
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
    mats_t *m = c->linear ? &cx->lin[c->log_inputs] : &cx->tree;
    double t0 = util_now_monotonic();
    const enc_plan_t *plan = c->linear ? &cx->lin_plan[c->log_inputs] : in->plan;
    if (!m->ready && mats_build(cx, m, plan, e) < 0)
        return -1;
    if (!c->linear && cx->ylog && mats_labels(cx, m, c->log1p, e) < 0)
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
        if (train_fold(cx, m, f, c, 0, slice_end, &round_est, &b, &best_rounds, &r->truncated,
                       e) < 0)
            return -1;
        r->trained += cx->trained;
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
        if (c->log1p)
            unlog(p, bnd - a);
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
            r->fb_rounds = best_rounds;
        }
        xgb_booster_free(b);
    }
    r->rounds = (int)lround(rounds_sum / (double)rounds_n);
    if (r->rounds < 1)
        r->rounds = 1;
    r->round_seconds = round_time / (double)rounds_n;
    r->seconds = util_now_monotonic() - t0;
    r->nthread = cx->nthread;
    rank_score(cx, r->oof, in->y + cx->valid_begin, nv, r);
    return 0;
}

/* The best tree was cut by the clock and no refit on all rows fits: its
 * holdout model keeps boosting from where it stopped, which is what the
 * time buys most (letter: 26 trees a round, still improving at the cut). */
static int extend_best(ctx_t *cx, cand_res_t *r, double end, err_t *e)
{
    const search_in_t *in = cx->in;
    mats_t *m = &cx->tree;
    void *b = r->fallback;
    int best_rounds = 0, truncated = 0;
    double round_est = r->round_seconds, t0 = util_now_monotonic();
    r->fallback = NULL;
    if (cx->ylog && mats_labels(cx, m, r->c.log1p, e) < 0) {
        xgb_booster_free(b);
        return -1;
    }
    if (train_fold(cx, m, 0, &r->c, r->rounds, end, &round_est, &b, &best_rounds, &truncated,
                   e) < 0)
        return -1;
    r->trained += cx->trained;
    float *raw = NULL;
    size_t len = 0;
    int rc = -1;
    if (xgb_predict_dmatrix(b, m->dva[0], best_rounds, &raw, &len, e) < 0)
        goto out;
    float *p = scoring_normalise(raw, len / (in->task == TASK_MULTICLASS ? in->k : 1), in->task,
                                 in->k);
    if (p == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    if (r->c.log1p)
        unlog(p, in->n - cx->valid_begin);
    memcpy(r->oof, p, (in->n - cx->valid_begin) * cx->kk * sizeof(float));
    free(p);
    if (xgb_booster_slice(b, best_rounds, &r->fallback, e) < 0)
        goto out;
    r->fb_rounds = best_rounds;
    rank_score(cx, r->oof, in->y + cx->valid_begin, in->n - cx->valid_begin, r);
    r->rounds = best_rounds;
    r->truncated = truncated;
    r->seconds += util_now_monotonic() - t0;
    rc = 0;
out:
    xgb_booster_free(b);
    return rc;
}

/* --- the linear path ----------------------------------------------------- */

/* Regularisation path, strong to weak (sklearn's C = 1 / lambda, C = 1 in
 * the middle): each fit warm-starts from the previous one of its fold.
 * Half-decade steps are fine enough: on a 1/8-decade grid the 5-fold log
 * loss's minimum is at most 1.1% below the best step of this path
 * (breast_cancer 0, wine 0.1%, digits 1.1%), and on breast_cancer no logit
 * blend of C = 1 with another step (itself a linear model) beat C = 1 on
 * validation. The slack toward C = 1 is relative, not one paired standard
 * error: neighbouring steps predict nearly alike, so that error is tiny
 * (credit_data, wa_churn: gains of 0.05% and 0.1% are 1.0 and 1.3 SE) and
 * such a rule would chase noise. */
static const double LIN_PATH[] = {100, 30, 10, 3, 1, 0.3, 0.1, 0.03, 0.01};
#define LIN_STEPS (sizeof(LIN_PATH) / sizeof(LIN_PATH[0]))
#define LIN_MAX_ITER 400
#define LIN_PATIENCE 2
#define LIN_DEFAULT_SLACK 1.02
/* The log1p input's matrix is built beside the raw one up to this many
 * cells (16 MB of floats), so that it adds little to the trainer's peak
 * memory (ml_memory's bar: 3 x the float matrix + 64 MB); the shared
 * datasets' linear inputs are at most 1.2 M cells (diamonds), and the
 * inputs where a linear model competes are smaller still. */
#define LIN_LOG_CELLS 4e6

static linfit_problem_t lin_problem(const ctx_t *cx, int log_inputs, size_t f)
{
    const search_in_t *in = cx->in;
    const mats_t *m = &cx->lin[log_inputs];
    linfit_problem_t p = {.X = m->X, .n = in->n, .w = m->width, .y = in->y,
                          .wt = in->w, .task = in->task, .k = in->k};
    p.skip_begin = in->n_folds == 1 ? in->fold_start[1] : in->fold_start[f];
    p.skip_end = in->n_folds == 1 ? in->n : in->fold_start[f + 1];
    return p;
}

/* One linear candidate per lambda of the path and input (lin_variants:
 * the fields as they are, then skewed numbers through log1p), appended to
 * res, while the window allows and the validation metric still improves.
 * Both inputs walk the path together, so the choice between them is made
 * at each one's chosen step (below) (breast_cancer, 10-fold, six fold
 * seeds: log1p inputs lower in log loss in all six; test AUC at C = 1
 * 0.99603 against 0.99570; wa_churn 0.8516 -> 0.8581, credit_data 0.8373
 * -> 0.8410 in a Python check of the same recipe). A path cut by the clock
 * while its last step was its best is left resumable: the next call goes
 * on from the next fit, warm-started from the coefficients where it
 * stopped (a loaded box or many classes can leave the first window at the
 * strong-penalty end: digits under load stopped at C = 0.03, 0.955 test
 * accuracy against 0.969 at C = 0.3). */
static int run_linear_path(ctx_t *cx, int idx, const cand_t *c, double path_end,
                           cand_res_t *res, size_t cap, size_t *nres, err_t *e)
{
    const search_in_t *in = cx->in;
    size_t nvar = (size_t)cx->lin_variants;
    for (size_t v = 0; v < nvar; v++)
        if (!cx->lin[v].ready && mats_build(cx, &cx->lin[v], &cx->lin_plan[v], e) < 0)
            return -1;
    size_t g = linfit_groups(in->task, in->k), dim = (cx->lin[0].width + 1) * g;
    size_t nv = in->n - cx->valid_begin, first = *nres, fits = LIN_STEPS * nvar;
    if (cx->lin_coef == NULL) {
        cx->lin_coef = calloc(nvar * in->n_folds * dim, sizeof(double));
        if (cx->lin_coef == NULL)
            return err_set(e, 500, "internal", "out of memory");
        /* Large (holdout) data rarely wants the strongest penalties and
         * each step costs more there: start at C = 0.1. */
        cx->lin_next = in->n_folds == 1 ? 2 * nvar : 0;
        cx->lin_best = -1;
    }
    int cut = 0;
    cx->lin_resumable = 0;
    for (; cx->lin_next < fits && *nres < cap; cx->lin_next++) {
        size_t s = cx->lin_next / nvar, v = cx->lin_next % nvar;
        double *coef = cx->lin_coef + v * in->n_folds * dim;
        double t0 = util_now_monotonic();
        if (stop_requested(in, e) < 0)
            return -1;
        /* Each fit costs about as much as the last one: skip it if it
         * would overrun the window. */
        if (*nres > first && t0 + res[*nres - 1].seconds > path_end) {
            res[*nres - 1].truncated = 1;
            cut = 1;
            break;
        }
        cand_res_t *r = &res[*nres];
        memset(r, 0, sizeof(*r));
        r->c = *c;
        r->c.lambda = LIN_PATH[s];
        r->c.log_inputs = (int)v;
        r->oof = malloc((nv * cx->kk + 1) * sizeof(float));
        r->coef = malloc(dim * sizeof(double));
        (*nres)++;
        if (r->oof == NULL || r->coef == NULL)
            return err_set(e, 500, "internal", "out of memory");
        int iters = 0;
        for (size_t f = 0; f < in->n_folds; f++) {
            linfit_problem_t p = lin_problem(cx, (int)v, f);
            int conv = 0;
            double now = util_now_monotonic();
            double slice_end = now + (path_end - now) / (double)(in->n_folds - f);
            int it = linfit_fit(&p, r->c.lambda, coef + f * dim, LIN_MAX_ITER, slice_end, &conv);
            if (it < 0)
                return err_set(e, 500, "internal", "out of memory");
            iters += it;
            if (!conv && util_now_monotonic() >= slice_end)
                r->truncated = 1;
            linfit_predict(coef + f * dim, p.X + p.skip_begin * p.w, p.skip_end - p.skip_begin,
                           p.w, in->task, in->k,
                           r->oof + (p.skip_begin - cx->valid_begin) * cx->kk);
            progress(cx, util_now_monotonic());
        }
        memcpy(r->coef, coef, dim * sizeof(double));
        r->rounds = iters / (int)in->n_folds;
        r->seconds = util_now_monotonic() - t0;
        r->round_seconds = r->seconds / (double)(iters > 0 ? iters : 1);
        rank_score(cx, r->oof, in->y + cx->valid_begin, nv, r);
        log_cand(cx, idx, r, in->task == TASK_BINARY ? "auc" : in->task == TASK_MULTICLASS
                                                                ? "accuracy" : "rmse");
        /* Along the path, the validation log loss chooses: AUC and
         * accuracy move in noisy steps between neighbouring lambdas (the
         * many ties of a small validation set), the log loss smoothly. */
        if (cx->lin_best < 0 || r->logloss < res[cx->lin_best].logloss) {
            cx->lin_best = (int)(r - res);
            cx->lin_step_gain = 1;
        }
        if (v == nvar - 1) { /* a step is done when every input has had it */
            int gained = cx->lin_step_gain;
            cx->lin_step_gain = 0;
            if (gained) {
                cx->lin_worse = 0;
            } else if (++cx->lin_worse >= LIN_PATIENCE) {
                cx->lin_next = fits; /* done for good */
                break;
            }
        }
        if (r->truncated) { /* a fit cut short is no evidence either way */
            cut = 1;
            cx->lin_next++;
            break;
        }
    }
    cx->lin_resumable = cut && cx->lin_worse == 0 && cx->lin_next < fits;
    /* Per input, the default (C = 1) unless another step is clearly
     * better: on small validation sets the path's minimum is itself noisy,
     * and C = 1 is the well-tried prior (sklearn's default). Over every
     * step run so far, this call's and earlier ones'. The log1p input then
     * replaces the raw one only when its step is better on both counts,
     * the log loss and the task's metric: the two can disagree between
     * inputs (vehicle, 4 classes: lower log loss at every step, lower
     * accuracy at most, 0.800 test accuracy against 0.829), and the
     * metric is what the client asked for. */
    int pick[2] = {-1, -1};
    for (size_t v = 0; v < nvar; v++) {
        int top = -1;
        for (size_t i = 0; i < *nres; i++)
            if (res[i].c.linear && res[i].c.log_inputs == (int)v &&
                (top < 0 || res[i].logloss < res[top].logloss))
                top = (int)i;
        pick[v] = top;
        for (size_t i = 0; i < *nres && top >= 0; i++)
            if (res[i].c.linear && res[i].c.log_inputs == (int)v && res[i].c.lambda == 1.0 &&
                res[i].logloss <= LIN_DEFAULT_SLACK * res[top].logloss)
                pick[v] = (int)i;
    }
    int best = pick[0];
    if (pick[1] >= 0 && (best < 0 || (res[pick[1]].logloss < res[best].logloss &&
                                      res[pick[1]].score >= res[best].score)))
        best = pick[1];
    for (size_t i = 0; i < *nres; i++)
        if (res[i].c.linear)
            res[i].pruned = (int)i != best;
    return 0;
}

/* The final linear model as an XGBoost gblinear booster: a one-round
 * booster on one row gives the model's shape and config, then its weights
 * are replaced by the solver's. */
static int linear_booster(ctx_t *cx, const cand_t *c, const double *coef, void **out, err_t *e)
{
    const search_in_t *in = cx->in;
    mats_t *m = &cx->lin[c->log_inputs];
    void *d = NULL, *b = NULL;
    int rc = -1;
    *out = NULL;
    if (xgb_dmatrix_new(m->X, 1, m->width, m->names, m->types, in->y, NULL, &d, e) < 0)
        return -1;
    if (xgb_booster_new(&d, 1, &b, e) < 0 || set_params(cx, b, c, in->y[0], e) < 0 ||
        xgb_booster_features(b, m->names, m->types, m->nf, e) < 0 ||
        xgb_booster_update(b, 0, d, e) < 0)
        goto out;
    rc = xgb_linear_with_weights(b, coef, m->width, linfit_groups(in->task, in->k), out, e);
out:
    xgb_booster_free(b);
    xgb_dmatrix_free(d);
    return rc;
}

/* The linear model's coefficients: (its expanded inputs + the intercept)
 * x its output groups (linfit.h layout). */
static size_t lin_coefs(const ctx_t *cx)
{
    return (cx->lin[0].width + 1) * linfit_groups(cx->in->task, cx->in->k);
}

/* The linear candidate's coefficients refit on all rows (warm start:
 * cheap) into *coef (malloc'd). */
static int refit_linear_coef(ctx_t *cx, const cand_res_t *best, double end, double **coef,
                             int *rounds, err_t *e)
{
    size_t dim = lin_coefs(cx);
    *coef = malloc(dim * sizeof(**coef));
    if (*coef == NULL)
        return err_set(e, 500, "internal", "out of memory");
    memcpy(*coef, best->coef, dim * sizeof(**coef));
    linfit_problem_t p = lin_problem(cx, best->c.log_inputs, 0);
    p.skip_begin = p.skip_end = 0;
    int it = linfit_fit(&p, best->c.lambda, *coef, LIN_MAX_ITER, end, NULL);
    if (it < 0) {
        free(*coef);
        *coef = NULL;
        return err_set(e, 500, "internal", "out of memory");
    }
    *rounds = it;
    return 0;
}

/* Refits the linear winner on all rows into a booster. */
static int refit_linear(ctx_t *cx, const cand_res_t *best, double end, void **out, int *rounds,
                        err_t *e)
{
    double *coef = NULL;
    if (refit_linear_coef(cx, best, end, &coef, rounds, e) < 0)
        return -1;
    int rc = linear_booster(cx, &best->c, coef, out, e);
    free(coef);
    return rc;
}

/* --- refit and bookkeeping ---------------------------------------------- */

/* The matrix of all rows for refits, built once, its labels on the scale
 * (log1p or not) the model to fit wants. The fold matrices are freed
 * first: this one replaces them (and serves every member of an ensemble). */
static int dall_ready(ctx_t *cx, int log, err_t *e)
{
    const search_in_t *in = cx->in;
    mats_t *m = &cx->tree;
    if (cx->dall == NULL) {
        for (size_t f = 0; f < MAX_FOLDS; f++) {
            xgb_dmatrix_free(m->dtr[f]);
            xgb_dmatrix_free(m->dva[f]);
            m->dtr[f] = m->dva[f] = NULL;
        }
        xgb_rows_t all = {.X = m->X, .fill = in->fill, .fill_ctx = in->fill_ctx,
                          .w = m->width, .names = m->names, .types = m->types,
                          .label = in->y, .weight = in->w, .begin = {0, 0}, .end = {in->n, 0},
                          .n_ranges = 1};
        if ((quantised(in, m->width) ? xgb_qmatrix_new(&all, NULL, &cx->dall, e)
                                     : xgb_rows_dmatrix_new(&all, &cx->dall, e)) < 0)
            return -1;
    }
    if (cx->ylog && cx->dall_log != log) {
        if (xgb_dmatrix_set_label(cx->dall, log ? cx->ylog : in->y, in->n, e) < 0)
            return -1;
        cx->dall_log = log;
    }
    return 0;
}

/* Holdout, and no time to refit the best tree on all rows: its first-fold
 * model (trained on the training part) boosts on with all rows for the time
 * left, so that the validation rows are not wasted (letter: 70 rounds on
 * 80% then 70 on all rows, 0.9563 test accuracy, against 0.9548 for 140
 * rounds on 80%, which is what extending it on the holdout gave). Takes
 * best->fallback. Returns 0
 * with *out set, 1 when not one round fits (fallback left), -1 on error. */
static int boost_on_all(ctx_t *cx, cand_res_t *best, double end, void **out, int *rounds,
                        err_t *e)
{
    const search_in_t *in = cx->in;
    size_t n_train = in->fold_start[1];
    double round_est = best->round_seconds * (double)in->n / (double)(n_train ? n_train : 1);
    if (best->c.linear || in->n_folds != 1 || best->fallback == NULL ||
        util_now_monotonic() + 2 * round_est > end)
        return 1;
    if (dall_ready(cx, best->c.log1p, e) < 0)
        return -1;
    void *b = best->fallback;
    best->fallback = NULL;
    if (xgb_booster_param(b, "nthread", cx->nthread, e) < 0)
        goto fail;
    /* Cut by the clock while still improving: up to twice its rounds;
     * stopped early: about as many more rounds as the extra rows ask (the
     * refit's 1.1x). */
    int it = best->rounds, last = best->truncated ? 2 * it : (int)ceil(it * 1.1) + 1;
    for (; it < last; it++) {
        if (stop_requested(in, e) < 0)
            goto fail;
        double t0 = util_now_monotonic();
        if (t0 + round_est > end)
            break;
        if (xgb_booster_update(b, it, cx->dall, e) < 0)
            goto fail;
        double dt = util_now_monotonic() - t0;
        /* The first round on the new matrix also predicts every tree so far
         * into its cache: not a round's cost. */
        if (it > best->rounds)
            round_est = 0.8 * round_est + 0.2 * dt > dt ? 0.8 * round_est + 0.2 * dt : dt;
        progress(cx, t0 + dt);
    }
    *out = b;
    *rounds = it;
    return 0;
fail:
    xgb_booster_free(b);
    return -1;
}

static int refit(ctx_t *cx, const cand_res_t *best, double end, void **out, int *rounds, err_t *e)
{
    const search_in_t *in = cx->in;
    if (best->c.linear)
        return refit_linear(cx, best, end, out, rounds, e);
    mats_t *m = &cx->tree;
    size_t n_train = in->n_folds == 1 ? in->fold_start[1] : in->n - in->n / in->n_folds;
    /* A companion's size is its serving cost: exactly its rounds. */
    int R0 = best->c.companion ? best->rounds : (int)ceil(best->rounds * 1.1), R = R0;
    double round_est = best->round_seconds * (double)in->n / (double)(n_train ? n_train : 1);
    double now = util_now_monotonic();
    if (now + round_est * R * 1.1 > end)
        return 1;
    /* Cut by the clock while still improving (letter: ~130 of the few
     * hundred rounds it wants): the time left buys more rounds, up to
     * twice as many; past R0 a cut by the clock keeps what is boosted. */
    if (best->truncated && !best->c.companion && round_est > 0) {
        double fit = (end - now) / (round_est * 1.15);
        R = fit > 2.0 * R0 ? 2 * R0 : fit > R0 ? (int)fit : R0;
    }
    if (dall_ready(cx, best->c.log1p, e) < 0)
        return -1;
    void *dall = cx->dall, *b = NULL;
    int rc = -1;
    if (xgb_booster_new(&dall, 1, &b, e) < 0)
        goto out;
    if (set_params(cx, b, &best->c,
                   mean_of(best->c.log1p ? cx->ylog : in->y, 0, in->n, 0, 0), e) < 0 ||
        xgb_booster_features(b, m->names, m->types, m->nf, e) < 0)
        goto out;
    int it;
    for (it = 0; it < R; it++) {
        if (stop_requested(in, e) < 0)
            goto out;
        double t0 = util_now_monotonic();
        if (t0 + round_est > end) {
            if (it >= R0)
                break;
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
    *rounds = it;
    b = NULL;
    rc = 0;
out:
    xgb_booster_free(b);
    return rc;
}

static json_object *cand_json(const cand_res_t *r, const char *metric)
{
    json_object *o = json_object_new_object();
    json_object *p = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(r->c.linear ? "linear" : "tree"));
    if (r->c.linear) {
        json_object_object_add(p, "booster", json_object_new_string("gblinear"));
        json_object_object_add(p, "solver", json_object_new_string("lbfgs"));
        json_object_object_add(p, "lambda", json_object_new_double(r->c.lambda));
        json_object_object_add(p, "C", json_object_new_double(1.0 / r->c.lambda));
        if (r->c.log_inputs) /* skewed non-negative numbers through log1p */
            json_object_object_add(p, "inputs", json_object_new_string("log1p"));
    } else {
        search_tree_t t = tree_of(&r->c);
        search_params_json(p, &t);
        if (r->c.log1p)
            json_object_object_add(p, "target_transform", json_object_new_string("log1p"));
        if (r->c.arm != ARM_NONE)
            json_object_object_add(p, "family", json_object_new_string(ARM_NAME[r->c.arm]));
        if (r->c.companion) /* sized for a blend with the linear model */
            json_object_object_add(p, "companion", json_object_new_boolean(1));
        if (r->nthread)
            json_object_object_add(p, "nthread", json_object_new_int(atoi(r->nthread)));
    }
    search_cand_figures(o, p, metric, r->value, r->c.linear ? 0 : r->rounds, r->rounds,
                        r->c.linear ? -1 : r->trained, r->seconds, r->truncated);
    return o;
}

static void log_cand(ctx_t *cx, int idx, const cand_res_t *r, const char *metric)
{
    const search_in_t *in = cx->in;
    if (in->cb == NULL || in->cb->log == NULL)
        return;
    char line[400], comp[80] = "";
    if (r->c.companion)
        snprintf(comp, sizeof(comp), ", companion of the linear model (at most %d rounds)",
                 r->c.max_rounds);
    if (r->c.linear)
        snprintf(line, sizeof(line),
                 "%s: candidate %d linear C=%.3g%s: %s=%.5f logloss=%.5f iterations=%d %.2fs%s",
                 in->field, idx, 1.0 / r->c.lambda,
                 r->c.log_inputs ? " on log1p of skewed numbers" : "", metric, r->value,
                 r->logloss, r->rounds, r->seconds, r->truncated ? " (cut by the clock)" : "");
    else
        snprintf(line, sizeof(line),
                 "%s: candidate %d tree eta=%.3g max_depth=%d min_child_weight=%.3g "
                 "subsample=%.2f colsample_bytree=%.2f lambda=%.3g%s%s%s%s: %s=%.5f trees=%d "
                 "%.2fs%s",
                 in->field, idx, r->c.eta, r->c.depth, r->c.mcw, r->c.subsample, r->c.colsample,
                 r->c.lambda, r->c.log1p ? " on log1p(target)" : "",
                 r->c.arm == ARM_NONE ? "" : ", family ", r->c.arm == ARM_NONE ? "" : ARM_NAME[r->c.arm],
                 comp,
                 metric, r->value, r->rounds,
                 r->seconds,
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
    if (a->pruned != b->pruned)
        return a->pruned - b->pruned;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

void search_out_free(search_out_t *o)
{
    xgb_booster_free(o->booster);
    free(o->bytes);
    free(o->valid_pred);
    json_object_put(o->candidates);
    json_object_put(o->ensemble);
    linpart_free(o->linpart);
    enc_plan_free(&o->linear_plan);
    memset(o, 0, sizeof(*o));
}

/* The linear plan fit on the rows; log_skewed: the log1p input, which is
 * kept only when it marks a feature (*marked). */
static int linear_plan_copy(const enc_plan_t *src, enc_plan_t *dst, const float *F, size_t n_fit,
                            int log_skewed, size_t *marked, err_t *e)
{
    if (enc_plan_copy(src, dst, 1, e) < 0)
        return -1;
    *marked = enc_fit_linear(dst, F, n_fit, log_skewed);
    if (log_skewed && *marked == 0)
        enc_plan_free(dst);
    return 0;
}

/* What a validation gain must exceed to count (a fraction of the
 * metric's standard error, ~0.5 / sqrt(n) for AUC and accuracy). */
static double noise_of(const ctx_t *cx, const cand_res_t *r)
{
    double nv = (double)(cx->in->n - cx->valid_begin);
    double m = 0.1 / sqrt(nv > 1 ? nv : 1);
    return cx->in->task == TASK_REGRESSION ? m * fabs(r->value) : m;
}

/* --- the ensemble -------------------------------------------------------- */

/* Keeps the validation predictions and first-fold models of the best cap
 * tree candidates (and of best), frees the others'. The companion is
 * kept beside them, whatever its rank: it is trained for the pool. */
static void pool_trim(cand_res_t *res, size_t nres, int best, size_t cap)
{
    for (;;) {
        size_t kept = 0;
        int worst = -1;
        for (size_t i = 0; i < nres; i++) {
            if (res[i].c.linear || res[i].c.companion || res[i].oof == NULL)
                continue;
            kept++;
            if ((int)i != best && (worst < 0 || better(&res[worst], &res[i])))
                worst = (int)i;
        }
        if (kept <= cap || worst < 0)
            return;
        free(res[worst].oof);
        res[worst].oof = NULL;
        xgb_booster_free(res[worst].fallback);
        res[worst].fallback = NULL;
    }
}

/* A linear member's coefficients go into preprocess.json, which the
 * served model reads them from: a blend takes it only with at most this
 * many (digits: 650; a wide one-hot model can have hundreds of
 * thousands, which belong in a booster file, not in the recipe). */
#define RECIPE_MAX_COEFS 20000
/* Multiply-adds of a linear member per node visit of a tree walk, for the
 * serving budget: a visit (a branch on a loaded feature, ~6-10 ns) costs
 * more than a multiply-add in a dependent chain (~1.5 ns) plus the
 * row's expansion; 4 is on the safe side. */
#define DOT_PER_VISIT 4

/* A pool member's serving cost in node visits a row (ENSEMBLE_MAX_VISITS):
 * the linear model's multiply-adds over DOT_PER_VISIT; a tree's trees x
 * max_depth, its trees the most its final model can have (ensemble_final
 * serves its refit, or its first-fold model when no refit fits). */
static long member_visits(const ctx_t *cx, const cand_res_t *r)
{
    if (r->c.linear) {
        size_t dim = lin_coefs(cx);
        return (long)((dim + DOT_PER_VISIT - 1) / DOT_PER_VISIT);
    }
    long refit = r->c.companion ? r->rounds
                                : (long)ceil(r->rounds * 1.1) * (r->truncated ? 2 : 1);
    long rounds = refit > r->fb_rounds ? refit : r->fb_rounds;
    return rounds * (long)cx->kk * (long)r->c.depth;
}

/* ensemble_select over m members' validation outputs pred, within the
 * serving budget of their costs, on the scale they add up on (log1p(target)
 * when log), the blend's outputs back on the target's. */
static int blend_select(const ctx_t *cx, const float *const *pred, size_t m, int log,
                        const long *cost, int *counts, float *blend, double *loss)
{
    const search_in_t *in = cx->in;
    size_t nv = in->n - cx->valid_begin;
    if (!log)
        return ensemble_select(pred, m, nv, in->task, in->k, in->y + cx->valid_begin,
                               ENSEMBLE_STEPS, cost, ENSEMBLE_MAX_VISITS, counts, blend, loss);
    float *lp = malloc((m * nv + 1) * sizeof(float));
    if (lp == NULL)
        return -1;
    const float *lpred[ENSEMBLE_CANDS];
    for (size_t j = 0; j < m; j++) {
        for (size_t i = 0; i < nv; i++)
            lp[j * nv + i] = log1pf(pred[j][i] > -1 ? pred[j][i] : 0);
        lpred[j] = lp + j * nv;
    }
    int steps = ensemble_select(lpred, m, nv, in->task, in->k, cx->ylog + cx->valid_begin,
                                ENSEMBLE_STEPS, cost, ENSEMBLE_MAX_VISITS, counts, blend, loss);
    free(lp);
    unlog(blend, nv);
    return steps;
}

/* Greedy selection over the kept trees and the linear model, then the
 * linear model paired with each tree that fits beside it, every blend
 * within the serving budget (ENSEMBLE_MAX_VISITS); 1 when the best
 * blend has two members or more and beats the chosen single model on
 * validation (a linear one by the simplicity rule's margin), 0 when not,
 * -1 on error. The linear model's margin adds to the trees' (it is served
 * beside them as a dot product over its own expanded input, linpart.h);
 * its serving cost is its multiply-adds in node visits (DOT_PER_VISIT).
 * It fits the raw target only: a blend on log1p(target) leaves it out. */
static int ensemble_choose(ctx_t *cx, cand_res_t *res, size_t nres, int best, ens_t *en,
                           err_t *e)
{
    const search_in_t *in = cx->in;
    const float *pred[ENSEMBLE_CANDS];
    int idx[ENSEMBLE_CANDS], counts[ENSEMBLE_CANDS];
    long cost[ENSEMBLE_CANDS];
    size_t m = 0, nv = in->n - cx->valid_begin;
    /* Members share one target scale (margins add up only on one): the
     * best kept tree's. */
    int lead = -1, lin = -1;
    for (size_t i = 0; i < nres; i++)
        if (!res[i].c.linear && res[i].oof && res[i].fallback &&
            (lead < 0 || better(&res[i], &res[lead])))
            lead = (int)i;
    if (lead < 0)
        return 0;
    int log = res[lead].c.log1p;
    size_t n_pool = 0, n_comp = 0;
    for (size_t i = 0; i < nres; i++)
        if (!res[i].c.linear && res[i].oof && res[i].fallback && res[i].c.log1p == log) {
            if (res[i].c.companion ? n_comp++ >= N_COMPANIONS : n_pool++ >= ENSEMBLE_POOL)
                continue;
            pred[m] = res[i].oof;
            cost[m] = member_visits(cx, &res[i]);
            idx[m++] = (int)i;
        }
    for (size_t i = 0; i < nres && !log; i++)
        if (res[i].c.linear && !res[i].pruned && res[i].oof && res[i].coef &&
            (lin < 0 || better(&res[i], &res[lin])))
            lin = (int)i;
    size_t dim = lin_coefs(cx);
    if (lin >= 0 && cx->lin[res[lin].c.log_inputs].ready && dim <= RECIPE_MAX_COEFS) {
        pred[m] = res[lin].oof;
        cost[m] = member_visits(cx, &res[lin]);
        idx[m++] = lin;
    } else {
        lin = -1;
    }
    if (m < 2)
        return 0;
    en->blend = malloc((nv * cx->kk + 1) * sizeof(float));
    if (en->blend == NULL)
        return err_set(e, 500, "internal", "out of memory");
    double loss = 0;
    int steps = blend_select(cx, pred, m, log, cost, counts, en->blend, &loss);
    /* The linear model paired with each tree of the pool whose cost fits
     * the budget beside it (the companion is trained for this), the one
     * of least validation loss kept when it beats the greedy blend. Its
     * weight is the exact best of the 1/25 grid (ensemble_pair): the
     * greedy steps stopped digits at a third linear, whose validation gain
     * then missed the simplicity margin by 0.0002 through the API. */
    size_t at_lin = m;
    for (size_t j = 0; j < m; j++)
        at_lin = idx[j] == lin ? j : at_lin;
    if (steps >= 0 && at_lin < m) {
        /* (the linear model is in the pool only on the raw target) */
        float *pair_blend = malloc((nv * cx->kk + 1) * sizeof(float));
        float *try_blend = malloc((nv * cx->kk + 1) * sizeof(float));
        int distinct = 0, best_pc[2] = {0, 0};
        size_t with = m;
        double best_pl = INFINITY;
        for (size_t j = 0; j < m; j++)
            distinct += counts[j] > 0;
        if (pair_blend == NULL || try_blend == NULL)
            steps = -1;
        for (size_t j = 0; j < m && steps >= 0; j++) {
            if (j == at_lin || cost[j] + cost[at_lin] > ENSEMBLE_MAX_VISITS)
                continue;
            int pc[2] = {0, 0};
            double pl = 0;
            if (ensemble_pair(pred[j], pred[at_lin], nv, in->task, in->k,
                              in->y + cx->valid_begin, ENSEMBLE_STEPS, pc, try_blend, &pl) < 0) {
                steps = -1;
                break;
            }
            if (pc[0] > 0 && pc[1] > 0 && pl < best_pl) {
                best_pl = pl;
                best_pc[0] = pc[0];
                best_pc[1] = pc[1];
                with = j;
                float *t = pair_blend;
                pair_blend = try_blend;
                try_blend = t;
            }
        }
        if (steps >= 0 && with < m && (distinct < 2 || best_pl < loss)) {
            memset(counts, 0, m * sizeof(*counts));
            counts[with] = best_pc[0];
            counts[at_lin] = best_pc[1];
            float *t = en->blend;
            en->blend = pair_blend;
            pair_blend = t;
            steps = ENSEMBLE_STEPS;
            loss = best_pl;
        }
        free(pair_blend);
        free(try_blend);
    }
    if (steps < 0)
        return err_set(e, 500, "internal", "out of memory");
    progress(cx, util_now_monotonic());
    en->log1p = log;
    en->m = 0;
    int with_lin = 0;
    long visits = 0;
    for (;;) { /* members by weight, most first */
        size_t top = m;
        for (size_t j = 0; j < m; j++)
            if (counts[j] > 0 && (top == m || counts[j] > counts[top]))
                top = j;
        if (top == m)
            break;
        with_lin |= idx[top] == lin;
        visits += cost[top];
        en->idx[en->m] = idx[top];
        en->weight[en->m++] = (double)counts[top] / (double)steps;
        counts[top] = 0;
    }
    if (en->m < 2) {
        /* Say so when the budget is what ruled every blend out (letter at
         * 60 s: each pooled tree alone costs thousands of visits). */
        long c1 = LONG_MAX, c2 = LONG_MAX; /* the two cheapest members */
        for (size_t j = 0; j < m; j++) {
            c2 = cost[j] < c1 ? c1 : cost[j] < c2 ? cost[j] : c2;
            c1 = cost[j] < c1 ? cost[j] : c1;
        }
        if (in->cb && in->cb->log && c1 + c2 > ENSEMBLE_MAX_VISITS) {
            char line[240];
            snprintf(line, sizeof(line), "%s: no blend fits the serving budget of %d node "
                     "visits a row (its two cheapest members cost %ld and %ld)", in->field,
                     ENSEMBLE_MAX_VISITS, c1, c2);
            in->cb->log(in->cb->ctx, line);
        }
        return 0;
    }
    const cand_res_t *b = &res[best];
    rank_score(cx, en->blend, in->y + cx->valid_begin, nv, &en->score);
    double margin = 0;
    if (b->c.linear) {
        double nvd = (double)(nv > 1 ? nv : 1);
        margin = 0.25 / sqrt(nvd) * (in->task == TASK_REGRESSION ? b->value : 1.0);
    }
    /* A blend that keeps the linear model at weight w swaps only 1 - w of
     * it for trees: the simplicity rule asks that share of its margin. */
    for (size_t j = 0; j < en->m; j++)
        if (en->idx[j] == lin)
            margin *= 1.0 - en->weight[j];
    int wins = better(&en->score, b) && en->score.score - b->score >= margin;
    if (in->cb && in->cb->log) {
        char line[300];
        snprintf(line, sizeof(line), "%s: ensemble of %zu members%s (%d steps, %ld node visits "
                 "a row): %s=%.5f logloss=%.5f against the best single model's %.5f and %.5f: %s",
                 in->field, en->m, with_lin ? ", the linear model among them" : "", steps,
                 visits, in->task == TASK_BINARY ? "auc" : in->task == TASK_MULTICLASS
                                                              ? "accuracy" : "rmse",
                 en->score.value, en->score.logloss, b->value, b->logloss,
                 wins ? "kept" : "not kept");
        in->cb->log(in->cb->ctx, line);
    }
    return wins;
}

/* The members' final models (refit on all rows when the time allows,
 * their first-fold model otherwise; the linear model always refit, which
 * is cheap): the trees merged into out->booster, the linear member into
 * out->linpart; *members describes them in order (ensemble_merge's entries,
 * and {"weight":w} for the linear one). */
static int ensemble_final(ctx_t *cx, cand_res_t *res, ens_t *en, search_out_t *out,
                          json_object **members, err_t *e)
{
    const search_in_t *in = cx->in;
    void *bs[ENSEMBLE_CANDS] = {0};
    double est[ENSEMBLE_CANDS], left = 0;
    size_t n_train = in->n_folds == 1 ? in->fold_start[1] : in->n - in->n / in->n_folds;
    double ratio = (double)in->n / (double)(n_train ? n_train : 1);
    int refits = 0, rounds = 0, rc = -1;
    for (size_t j = 0; j < en->m; j++) {
        const cand_res_t *r = &res[en->idx[j]];
        est[j] = r->round_seconds * r->rounds * 1.1 * ratio + 1e-3;
        left += est[j];
    }
    for (size_t j = 0; j < en->m; j++) {
        cand_res_t *r = &res[en->idx[j]];
        double now = util_now_monotonic(), end = in->end - in->reserve;
        /* Each member's refit gets its share of what is left, so that a
         * refit boosting on (cut by the clock) cannot starve the next. */
        double mine = now + (end - now) * est[j] / left;
        left -= est[j];
        int rr = 0, fr;
        if (r->c.linear) {
            fr = refit_linear_coef(cx, r, mine < end ? mine : end, &en->lin_coef, &rr, e) < 0 ||
                         linpart_new(&cx->lin_plan[r->c.log_inputs], en->lin_coef,
                                     linfit_groups(in->task, in->k), en->weight[j],
                                     cx->lin[r->c.log_inputs].X, in->n, &out->linpart, e) < 0
                     ? -1
                     : 0;
            if (fr < 0)
                goto out;
            refits++;
            progress(cx, util_now_monotonic());
            continue;
        } else {
            fr = refit(cx, r, mine < end ? mine : end, &bs[j], &rr, e);
        }
        if (fr < 0)
            goto out;
        if (fr == 0) {
            refits++;
        } else {
            bs[j] = r->fallback;
            r->fallback = NULL;
            rr = r->rounds;
        }
        rounds += rr;
        progress(cx, util_now_monotonic());
    }
    /* The trees alone, weights as in the blend (they sum to 1 less the
     * linear member's). */
    void *tb[ENSEMBLE_CANDS];
    double tw[ENSEMBLE_CANDS];
    size_t nt = 0;
    for (size_t j = 0; j < en->m; j++)
        if (bs[j] != NULL) {
            tb[nt] = bs[j];
            tw[nt++] = en->weight[j];
        }
    json_object *tm = NULL;
    if (ensemble_merge(tb, tw, nt, &out->booster, &tm, e) < 0)
        goto out;
    *members = json_object_new_array();
    for (size_t j = 0, t = 0; j < en->m; j++) {
        json_object *o;
        if (bs[j] != NULL) {
            o = json_object_get(json_object_array_get_idx(tm, t++));
        } else {
            o = json_object_new_object();
            json_object_object_add(o, "weight", json_object_new_double(en->weight[j]));
        }
        json_object_array_add(*members, o);
    }
    json_object_put(tm);
    progress(cx, util_now_monotonic());
    out->refit = refits == (int)en->m;
    out->truncated |= !out->refit;
    out->rounds = rounds;
    out->linear = 0;
    out->log1p = en->log1p;
    rc = 0;
out:
    for (size_t j = 0; j < en->m; j++)
        xgb_booster_free(bs[j]);
    return rc;
}

/* A linear member's form for the recipe: what it is, then its inputs (the
 * linear plan: standardisation and one-hot levels), coefficients and
 * column means (linpart.h). */
static json_object *linear_recipe(const search_out_t *out)
{
    json_object *o = linpart_to_json(out->linpart);
    if (o == NULL)
        return NULL;
    json_object_object_add(o, "form", json_object_new_string(
        "the linear model (L2-regularised logistic regression, multinomial for classes, or "
        "ridge regression; numbers and booleans standardised (a number with \"transform\": "
        "\"log1p\" read as log1p(max(x, 0)) first; a missing number -> its training "
        "median, read the same way; a missing boolean -> 0), categories "
        "one-hot over levels + other with missing -> all zero), served as a dot product "
        "beside the trees"));
    json_object_object_add(o, "layout", json_object_new_string(
        "coefficients[i][c]: column i of the expanded input (columns[i]; the last row is the "
        "bias), class c (one column for binary and regression); margin = sum over i of "
        "input_i * coefficients[i][c]; means[i]: column i's mean over the training rows (the "
        "baseline its explanations are taken from)"));
    return o;
}

/* preprocess.json's "ensemble": how the served booster was made and how
 * to rebuild it from the member files. */
static json_object *ensemble_recipe(const search_out_t *out, const ens_t *en,
                                    const cand_res_t *res, cand_res_t *const *order, size_t nres,
                                    json_object *members)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "method", json_object_new_string(
        "greedy ensemble selection with replacement (Caruana et al. 2004) on the validation "
        "predictions of the best tree candidates and the linear model"));
    json_object_object_add(o, "combine", json_object_new_string(
        "margin(x) = sum over members of weight * member margin(x) (XGBoost output_margin); "
        "binary: p = 1 / (1 + exp(-margin)); multiclass: p = softmax(margin); regression: "
        "value = margin. model.ubj holds the tree members as one booster (each member's "
        "leaves scaled by its weight, trees [first, end) of it); a linear member is not in "
        "it: its weight * margin, from its coefficients over its own expanded input "
        "(\"linear\"), adds to model.ubj's margin before the link. member-<i>.ubj is member "
        "i alone: a tree model on the field rows, or the linear member as a gblinear model "
        "on its expanded input"));
    json_object_object_add(o, "metric", json_object_new_string(out->metric));
    json_object_object_add(o, "value", json_object_new_double(en->score.value));
    json_object *arr = json_object_new_array();
    for (size_t j = 0; j < en->m; j++) {
        json_object *m = json_object_get(json_object_array_get_idx(members, j));
        char file[32];
        snprintf(file, sizeof(file), "member-%zu.ubj", j);
        json_object_object_add(m, "file", json_object_new_string(file));
        const cand_res_t *r = &res[en->idx[j]];
        json_object_object_add(m, "model", json_object_new_string(r->c.linear ? "linear"
                                                                              : "tree"));
        if (r->c.linear)
            json_object_object_add(m, "linear", linear_recipe(out));
        for (size_t i = 0; i < nres; i++)
            if (order[i] == r)
                json_object_object_add(m, "rank", json_object_new_int((int)i + 1));
        json_object_object_add(m, "value", json_object_new_double(r->value));
        json_object_array_add(arr, m);
    }
    json_object_object_add(o, "members", arr);
    return o;
}

/* The simplicity rule's margin (see search_run): how far below the best
 * a linear model may validate and still be kept. */
static double lin_margin(const ctx_t *cx, const cand_res_t *best)
{
    double nv = (double)(cx->in->n - cx->valid_begin);
    double m = 0.25 / sqrt(nv > 1 ? nv : 1);
    return cx->in->task == TASK_REGRESSION ? m * fabs(best->value) : m;
}

/* The linear path was cut by the clock while still improving and is in the
 * running: the best model, or within lin_margin of it. */
static int lin_wants_more(const ctx_t *cx, const cand_res_t *res, int best)
{
    return cx->lin_resumable && best >= 0 && cx->lin_best >= 0 &&
           res[cx->lin_best].score >= res[best].score - lin_margin(cx, &res[best]);
}

/* The family of the next random tree: each untried one first; then the
 * one whose candidates bought the most validation gain per unit of their
 * own boosting work (arm_stat_t: rounds x depth x sampling rates, a proxy
 * for their time). Each family counts a prior gain of one noise unit
 * (noise_of), so one that has not paid yet keeps a chance that shrinks as
 * its work grows (a bandit's optimism): families that gain nothing share
 * the work, and one that gains takes more of it. Work rather than measured
 * seconds: on a search that converges before its budget, the same data and
 * seed then draw the same families and give the same model whatever the
 * load (wa_churn at load 4 drew a deep tree where a quiet run drew the
 * shallow winner, test AUC 0.8511 against 0.8534). A capped run
 * (max_models) alternates, as it always has. */
static int arm_pick(const ctx_t *cx, int idx, double noise)
{
    for (int a = 0; a < N_ARMS; a++)
        if (cx->arms[a].tries == 0)
            return a;
    if (cx->in->max_models > 0)
        return idx % N_ARMS;
    int pick = 0;
    double top = -1;
    for (int a = 0; a < N_ARMS; a++) {
        double rate = (cx->arms[a].gain + noise) / (cx->arms[a].work + 1.0);
        if (rate > top) {
            top = rate;
            pick = a;
        }
    }
    return pick;
}

/* The companion (COMPANION_DEPTH) when it is due: a budgeted run (a
 * capped one stays the sequence it was), the linear model ready and able
 * to join a blend (the raw target, coefficients few enough for the
 * recipe), the default tree run, and the linear model within COMPANION_GAP
 * of the best tree. Its rounds are capped so that its trees x depth fit the serving
 * budget beside the linear member; 1 with *c filled, 0 when none is due. */
static int companion_due(const ctx_t *cx, const cand_res_t *res, size_t nres, int best,
                         size_t done, cand_t *c)
{
    const search_in_t *in = cx->in;
    if (in->max_models > 0 || done >= N_COMPANIONS || best < 0 || cx->lin_best < 0 ||
        cx->use_log || !cx->lin[0].ready)
        return 0;
    int tree = -1;
    for (size_t j = 0; j < nres; j++)
        if (!res[j].c.linear && !res[j].c.companion && (tree < 0 || better(&res[j], &res[tree])))
            tree = (int)j;
    const cand_res_t *lin = &res[cx->lin_best];
    size_t dim = lin_coefs(cx);
    if (tree < 0 || dim > RECIPE_MAX_COEFS)
        return 0;
    double gap = in->task == TASK_REGRESSION ? COMPANION_GAP * fabs(res[tree].score)
                                             : COMPANION_GAP;
    if (lin->score < res[tree].score - gap)
        return 0;
    long left = ENSEMBLE_MAX_VISITS - member_visits(cx, lin);
    long cap = left / ((long)cx->kk * COMPANION_DEPTH);
    if (cap < 5)
        return 0;
    double eta = COMPANION_LEARN / (double)cap;
    /* The default tree's settings (sampling, hessian-scaled leaf bounds),
     * the companion's shape. */
    *c = cand_make(-1, ARM_NONE, NULL, in);
    c->eta = eta < COMPANION_ETA       ? COMPANION_ETA
             : eta > COMPANION_ETA_MAX ? COMPANION_ETA_MAX
                                       : eta;
    c->depth = COMPANION_DEPTH;
    c->max_rounds = (int)(cap < c->max_rounds ? cap : c->max_rounds);
    c->companion = 1;
    return 1;
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
    /* A budgeted run measures instead; a capped (reproducible) run keeps
     * the fixed rule so that the same data gives the same model. */
    cx.probe_threads = in->max_models == 0 && cx.nthread[0] == '2';
    out->metric = in->task == TASK_BINARY ? "auc" : in->task == TASK_MULTICLASS ? "accuracy"
                                                                                 : "rmse";
    if (in->n_folds < 1 || in->n_folds > MAX_FOLDS)
        return err_set(e, 500, "internal", "bad fold count");
    /* Linear only when its one-hot matrix stays modest. */
    size_t lw = enc_linear_width(in->plan);
    int allow_linear = lw > 0 && (double)lw * (double)in->n <= 2.5e7 && in->F != NULL;
    size_t n_log = 0;
    if (allow_linear && linear_plan_copy(in->plan, &cx.lin_plan[0], in->F, in->n, 0, &n_log, e) < 0)
        return -1;
    /* The log1p input is a second matrix as big as the first: only while
     * both stay modest. */
    cx.lin_variants = 1;
    if (allow_linear && (double)lw * (double)in->n <= LIN_LOG_CELLS) {
        if (linear_plan_copy(in->plan, &cx.lin_plan[1], in->F, in->n, 1, &n_log, e) < 0) {
            enc_plan_free(&cx.lin_plan[0]);
            return -1;
        }
        cx.lin_variants = n_log > 0 ? 2 : 1;
    }
    uint64_t rng = in->seed * 0x2545F4914F6CDD1DULL + 1;
    size_t cap = 16, nres = 0;
    cand_res_t *res = calloc(cap, sizeof(*res));
    int rc = -1, best = -1, use_ens = 0, log_pending = 0, log_decided = 0;
    int linear_done = 0, trees_tried = 0, since_gain = 0;
    double gain_ref = -INFINITY;
    size_t raw_idx = 0, comps = 0;
    cand_t log_base;
    memset(&log_base, 0, sizeof(log_base));
    cx.ylog = skewed_log1p(in);
    ens_t en;
    json_object *ens_members = NULL;
    memset(&en, 0, sizeof(en));
    if (res == NULL)
        return err_set(e, 500, "internal", "out of memory");
    double start = util_now_monotonic();
    /* The linear path goes first unless it is costly (many rows x one-hot
     * width x classes: letter, where it is also hopeless); then the
     * default tree gets the fresh clock and the path runs after it. */
    int linear_later = (double)in->n * (double)lw * (double)linfit_groups(in->task, in->k) > 2e6;
    out->stopped = "time budget";
    for (int idx = 0;; idx++) {
        if (in->max_models > 0 && idx >= in->max_models) {
            out->stopped = "max_models";
            break;
        }
        cand_t c;
        int variant = log_pending;
        if (log_pending) {
            /* The same tree on log1p(target), with as many rounds as the
             * raw one ran: a fair match even when the clock cut that. */
            c = log_base;
            c.log1p = 1;
            int ran = res[raw_idx].trained / (int)in->n_folds;
            c.max_rounds = ran > 0 ? ran : c.max_rounds;
            log_pending = 0;
        } else if (idx >= 2 && (cx.ylog == NULL || log_decided) &&
                   companion_due(&cx, res, nres, best, comps, &c)) {
            /* A partner for the linear model within the serving budget
             * (COMPANION_DEPTH), before the linear path resumes: at 10 s on
             * digits a companion after it was cut by the clock at 33 of
             * its 54 rounds. It draws nothing from the generator, so the
             * random trees after it are the ones a run without it draws. */
            comps++;
        } else if (in->max_models == 0 && idx >= 2 && lin_wants_more(&cx, res, best)) {
            /* The linear path was cut by the clock while still improving,
             * and it is in the running (the best model, or within the
             * simplicity rule's margin of it): it goes on before new random
             * trees (a family still making progress keeps its turn; see
             * run_linear_path). A hopeless one (letter: 0.69 against the
             * trees' 0.88) is left where it is. */
            c = cand_make(0, ARM_NONE, &rng, in);
        } else {
            int ci = linear_later && idx < 2 ? 1 - idx : idx;
            c = cand_make(ci, ci >= 2 ? arm_pick(&cx, idx, best >= 0 ? noise_of(&cx, &res[best])
                                                                   : 0.0)
                                      : ARM_NONE,
                          &rng, in);
            c.log1p = !c.linear && cx.use_log;
        }
        if (c.linear && !allow_linear)
            continue;
        double now = util_now_monotonic();
        double refit_est = 0;
        /* Keep time to refit the best so far on all rows: on holdout that
         * adds a quarter more data, which beats one more candidate. */
        if (best >= 0) {
            const cand_res_t *b = &res[best];
            refit_est = b->round_seconds * b->rounds * 1.3 * (in->n_folds == 1 ? 1.25 : 1.0);
            /* The best tree was cut by the clock while still improving
             * (holdout, many rounds of many trees: letter): boosting it on
             * beats starting random candidates. Extend it as far as the
             * refit of the longer model still fits (x more rounds cost x
             * now and ~1.3 x ratio in the refit), or to the end when no
             * refit fits at all. */
            if (in->max_models == 0 && in->n_folds == 1 && !b->c.linear && b->truncated &&
                b->fallback && !b->extended && !variant && !c.companion) {
                double left = in->end - in->reserve - now, rho = b->round_seconds;
                double ratio = (double)in->n / (double)(cx.valid_begin ? cx.valid_begin : 1);
                double x = (left / (rho > 0 ? rho : 1e-3) - 1.3 * ratio * b->rounds) /
                           (1 + 1.3 * ratio);
                res[best].extended = 1;
                if (x < 0) {
                    /* No refit fits: the rest of the time boosts the best
                     * model on with all rows (boost_on_all), which beats
                     * boosting it on the training part alone. */
                    out->truncated = 1;
                    if (in->cb && in->cb->log) {
                        char line[200];
                        snprintf(line, sizeof(line), "%s: no time to refit the best tree (%d "
                                 "trees, cut by the clock): the rest goes to boosting it on "
                                 "with all rows", in->field, b->rounds);
                        in->cb->log(in->cb->ctx, line);
                    }
                    break;
                }
                if (x >= 10) {
                    int before = b->rounds;
                    double ext_end = now + x * rho;
                    if (extend_best(&cx, &res[best], ext_end, e) < 0)
                        goto done;
                    out->truncated = 1;
                    if (in->cb && in->cb->log) {
                        char line[200];
                        snprintf(line, sizeof(line), "%s: the best tree went on from %d to %d "
                                 "trees: %s=%.5f", in->field, before, res[best].rounds,
                                 out->metric, res[best].value);
                        in->cb->log(in->cb->ctx, line);
                    }
                    continue;
                }
            }
            /* A refit that cannot fit anyway must not idle the clock. */
            if (now + refit_est > in->end - in->reserve)
                refit_est = 0;
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
        if (cap - nres < 2 * LIN_STEPS) { /* room for a whole linear path */
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
        /* Holdout: a candidate that wins must still be refit on all rows,
         * which costs ~1.6x its own time (see refit_est): never give it
         * a slice whose refit could not follow (letter at 60 s: a late
         * winner of 287 rounds left no time to refit). */
        if (in->max_models == 0 && in->n_folds == 1 && !c.linear) {
            double own = (in->end - in->reserve - now) / 2.7;
            if (now + own < cand_end)
                cand_end = now + own;
        }
        if (c.linear) {
            size_t first = nres;
            if (run_linear_path(&cx, idx, &c, cand_end, res, cap, &nres, e) < 0)
                goto done;
            linear_done = 1;
            for (size_t i = first; i < nres; i++) {
                out->truncated |= res[i].truncated;
                if (!res[i].pruned && (isinf(gain_ref) || res[i].score > gain_ref))
                    gain_ref = res[i].score;
            }
            /* A resumed path may have pruned the step that was the best. */
            best = -1;
            for (size_t i = 0; i < nres; i++)
                if (!res[i].pruned && (best < 0 || better(&res[i], &res[best])))
                    best = (int)i;
            continue;
        }
        /* A candidate's first round always runs: on big data one round
         * can be a second, so do not start one that cannot finish it. */
        if (in->max_models == 0 && cx.round_hint > 0 && now + 1.5 * cx.round_hint > cand_end) {
            out->truncated = 1;
            break;
        }
        /* A new tree that cannot reach half the best tree's learning (its
         * rounds x eta) in its slice would be cut before it could compare
         * (letter at 10 s: four candidates of 1-9 rounds against a best of
         * 16 at eta 0.3 took 1.5 s): the time goes to the refit, which
         * boosts a best cut by the clock on with all rows. Only then (a
         * holdout best cut by the clock): elsewhere the final model would
         * not use the time, and the job would end early unconverged. */
        double need = best >= 0 ? 0.5 * res[best].rounds * res[best].c.eta / c.eta : 0;
        if (in->max_models == 0 && !variant && in->n_folds == 1 && best >= 0 &&
            !res[best].c.linear && res[best].truncated && cx.round_hint > 0 &&
            (cand_end - now) / cx.round_hint < need) {
            out->truncated = 1;
            if (in->cb && in->cb->log) {
                char line[200];
                snprintf(line, sizeof(line), "%s: a new candidate (eta %.3g) could not reach "
                         "half the best tree's %d rounds at eta %.3g in %.1fs: the rest goes to "
                         "the final model", in->field, c.eta, res[best].rounds, res[best].c.eta,
                         cand_end - now);
                in->cb->log(in->cb->ctx, line);
            }
            break;
        }
        if (run_candidate(&cx, &c, cand_end, r, e) < 0) {
            nres++;
            goto done;
        }
        nres++;
        malloc_trim(0); /* the candidate's booster buffers: see mats_build */
        if (c.arm != ARM_NONE) {
            arm_stat_t *a = &cx.arms[c.arm];
            a->tries++;
            a->work += (double)r->trained * c.depth * c.subsample * c.colsample;
            if (best >= 0 && r->score > res[best].score)
                a->gain += r->score - res[best].score;
        }
        if (r->truncated)
            out->truncated = 1;
        log_cand(&cx, idx, r, out->metric);
        /* Skewed positive target: the first tree runs again on log1p of
         * it, and whichever validates better (RMSE on the target itself)
         * sets the scale for every later tree. */
        if (cx.ylog && !log_decided) {
            if (!c.log1p) {
                log_pending = 1;
                log_base = c;
                raw_idx = (size_t)(r - res);
            } else {
                log_decided = 1;
                cx.use_log = better(r, &res[raw_idx]);
                if (in->cb && in->cb->log) {
                    char line[200];
                    snprintf(line, sizeof(line), "%s: skewed target: log1p %s (rmse %.5g vs %.5g "
                             "on the raw scale)", in->field, cx.use_log ? "kept" : "not kept",
                             r->value, res[raw_idx].value);
                    in->cb->log(in->cb->ctx, line);
                }
            }
        }
        if (best < 0 || better(r, &res[best]))
            best = (int)(r - res);
        /* Only the best trees' validation predictions and models can still
         * be needed, for the ensemble (linear ones are kept for the
         * simplicity rule): drop the rest now, they add up on big data. */
        pool_trim(res, nres, best, in->F ? ENSEMBLE_POOL : ENSEMBLE_POOL / 2);
        if (idx >= SEARCH_SAFETY_CAP && in->max_models == 0) {
            out->stopped = "candidate cap";
            break;
        }
        /* A candidate cut by the clock was starved, not beaten: it is no
         * evidence that the search has converged. A companion is no
         * evidence either way (built for the blend, not for the search),
         * beyond raising the bar when it is the best. */
        if (c.companion) {
            gain_ref = r->score > gain_ref ? r->score : gain_ref;
            continue;
        }
        trees_tried++;
        if (isinf(gain_ref) || r->score > gain_ref + noise_of(&cx, r)) {
            gain_ref = r->score > gain_ref ? r->score : gain_ref;
            since_gain = 0;
        } else if (!r->truncated) {
            since_gain++;
        }
        if (in->max_models == 0 && (linear_done || !allow_linear) &&
            !lin_wants_more(&cx, res, best) &&
            trees_tried >= 2 &&
            (cx.ylog == NULL || log_decided) && since_gain >= CONVERGE_WINDOW &&
            2 * since_gain >= trees_tried) {
            out->stopped = "converged";
            snprintf(out->stopped_detail, sizeof(out->stopped_detail),
                     "every model family tried and the last %d candidates gained no more than "
                     "noise (%.3g) on validation, %.1fs before the budget", since_gain,
                     noise_of(&cx, &res[best]), in->end - util_now_monotonic());
            if (in->cb && in->cb->log) {
                char line[300];
                snprintf(line, sizeof(line), "%s: converged: %s", in->field, out->stopped_detail);
                in->cb->log(in->cb->ctx, line);
            }
            break;
        }
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
    /* Why the final model was chosen, for the result's candidate list (the
     * console shows it beside the leaderboard). */
    char why[240];
    snprintf(why, sizeof(why), "best validation %s of the candidates tried", out->metric);
    for (size_t i = 0; i < nres; i++)
        if (res[i].c.linear && !res[i].pruned &&
            (best_lin < 0 || better(&res[i], &res[best_lin])))
            best_lin = (int)i;
    if (best_lin >= 0 && !res[best].c.linear) {
        double nv = (double)(in->n - cx.valid_begin);
        double margin = 0.25 / sqrt(nv > 1 ? nv : 1);
        if (in->task == TASK_REGRESSION)
            margin *= res[best_lin].value;
        if (res[best].score - res[best_lin].score < margin) {
            snprintf(why, sizeof(why), "the linear model's validation %s (%.4g) is within %.4g "
                     "of the best tree's (%.4g): the simpler model is kept", out->metric,
                     res[best_lin].value, margin, res[best].value);
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
    use_ens = in->max_models == 1 ? 0 : ensemble_choose(&cx, res, nres, best, &en, e);
    if (use_ens < 0)
        goto done;
    if (use_ens) {
        if (ensemble_final(&cx, res, &en, out, &ens_members, e) < 0)
            goto done;
        if (xgb_booster_save(out->booster, &out->bytes, &out->len, e) < 0)
            goto done;
        out->value = en.score.value;
        out->valid_begin = cx.valid_begin;
        out->valid_pred = en.blend;
        en.blend = NULL;
        goto rank;
    }
    out->linear = b->c.linear;
    out->log1p = b->c.log1p;
    int r_rounds = 0;
    int fr = refit(&cx, b, in->end - in->reserve, &out->booster, &r_rounds, e);
    if (fr < 0)
        goto done;
    if (fr == 0) {
        out->refit = 1;
        out->rounds = r_rounds;
    } else {
        out->truncated = 1;
        int bo = boost_on_all(&cx, b, in->end - in->reserve, &out->booster, &r_rounds, e);
        if (bo < 0)
            goto done;
        char line[200];
        if (bo == 0) {
            snprintf(line, sizeof(line), "%s: no time to refit on all rows; the first-fold "
                     "model boosted on with all rows from %d to %d trees", in->field, b->rounds,
                     r_rounds);
            out->rounds = r_rounds;
        } else {
            snprintf(line, sizeof(line), "%s: no time to refit on all rows; keeping the "
                     "first-fold model", in->field);
            out->booster = b->fallback;
            b->fallback = NULL;
            out->rounds = b->rounds;
        }
        if (in->cb && in->cb->log)
            in->cb->log(in->cb->ctx, line);
    }
    if (xgb_booster_save(out->booster, &out->bytes, &out->len, e) < 0)
        goto done;
    out->value = b->value;
    out->valid_begin = cx.valid_begin;
    out->valid_pred = b->oof;
    b->oof = NULL;
    if (out->linear) {
        out->linear_plan = cx.lin_plan[b->c.log_inputs];
        memset(&cx.lin_plan[b->c.log_inputs], 0, sizeof(cx.lin_plan[0]));
    }
rank:;
    cand_res_t **order = malloc(nres * sizeof(*order));
    if (order == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nres; i++)
        order[i] = &res[i];
    qsort(order, nres, sizeof(*order), cmp_rank);
    out->candidates = json_object_new_array();
    for (size_t i = 0; i < nres && !order[i]->pruned; i++) { /* path steps: logged only */
        if (i >= SEARCH_LISTED && order[i] != b)
            continue; /* the final model's candidate is always listed */
        json_object *o = cand_json(order[i], out->metric);
        json_object_object_add(o, "rank", json_object_new_int((int)i + 1));
        /* A blend is chosen as a whole: no single candidate is the model,
         * and its members carry their weight in it instead. */
        json_object_object_add(o, "chosen", json_object_new_boolean(!use_ens && order[i] == b));
        if (!use_ens && order[i] == b)
            json_object_object_add(o, "why", json_object_new_string(why));
        for (size_t j = 0; use_ens && j < en.m; j++)
            if (&res[en.idx[j]] == order[i])
                json_object_object_add(o, "blend_weight", json_object_new_double(en.weight[j]));
        json_object_array_add(out->candidates, o);
    }
    if (use_ens)
        out->ensemble = ensemble_recipe(out, &en, res, order, nres, ens_members);
    /* The same reason, whole, for the result's "selection". */
    snprintf(out->reason, sizeof(out->reason), "%s",
             use_ens ? en.lin_coef ? "a weighted blend of tree candidates and the linear model "
                                     "(an ensemble) validated better than the best single model"
                                   : "a weighted blend of tree candidates (an ensemble) "
                                     "validated better than the best single model"
                     : why);
    free(order);
    rc = 0;
done:
    free(en.blend);
    free(en.lin_coef);
    free(cx.ylog);
    free(cx.lin_coef);
    json_object_put(ens_members);
    xgb_dmatrix_free(cx.dall);
    for (size_t i = 0; i < nres; i++) {
        free(res[i].oof);
        free(res[i].coef);
        xgb_booster_free(res[i].fallback);
    }
    free(res);
    mats_free(&cx.tree);
    for (size_t v = 0; v < 2; v++) {
        mats_free(&cx.lin[v]);
        enc_plan_free(&cx.lin_plan[v]);
    }
    return rc;
}
