/*
 * extmem.c — task detection and search over a spilled dataset (see
 * extmem.h).
 *
 * One reader walks page groups (reader_next): all of them in order, or a
 * block's list of them. It reads the target's and every input's values of
 * a group, turns targets into labels and inputs into field rows exactly as
 * enc_fill_rows does, and splits the rows into the holdout (a hash of the
 * row number, so every pass agrees) and the batch XGBoost gets. The first
 * pass (reader_scan) only copies the holdout out and counts the training
 * rows of each group; the blocks are planned from those counts and the
 * time every later step may take is guessed from what the steps before it
 * took, because a round once started cannot be stopped.
 */
#include "ml/extmem.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
            float *hit = bsearch(&v, vals, *nd, sizeof(*vals), num_cmp_float);
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
    if (task_check_override(override, e) < 0)
        return -1;
    const column_t *c = &d->cols[col];
    if (d->types[col] == CSV_NUMBER) {
        float vals[TASK_MAX_CLASSES + 2];
        size_t nd = 0, n = 0;
        int all_int = 1;
        if (numeric_classes(d, col, vals, TASK_MAX_CLASSES, &nd, &n, &all_int, e) < 0)
            return -1;
        t->n = n;
        /* Counting stopped past TASK_MAX_CLASSES: task.c's rule says "over". */
        if (task_numeric_rule(d->names[col], vals, nd, nd <= TASK_MAX_CLASSES, all_int, override,
                              t, e) < 0)
            return -1;
    } else {
        size_t *map = malloc((c->dict.n + 1) * sizeof(*map));
        if (map == NULL)
            return err_set(e, 500, "internal", "out of memory");
        int rc = task_text_classes(d, col, override, t, map, e);
        free(map);
        if (rc < 0)
            return -1;
        t->n = d->n_rows - c->n_missing;
    }
    return task_finish(d, col, override, t, e);
}

/* --- the page reader ----------------------------------------------------- */

typedef struct reader {
    const extmem_in_t *in;
    size_t p;                  /* field row width */
    const size_t *order;       /* the groups a pass reads, in order (NULL: all) */
    size_t n_order;
    size_t pos;                /* next entry of order */
    size_t *row0;              /* per group: its first dataset row */
    void **colbuf;             /* per input: one group's values (float or uint32) */
    void *tbuf;                /* the target's */
    float *X, *label;          /* the batch handed to XGBoost */
    float *class_vals;         /* numeric classification: class values, sorted */
    uint32_t *class_of_code;   /* text classes: dict id -> class */
    uint64_t valid_cut;        /* row is held out when its hash is below this */
    uint64_t salt;
    int scanning;              /* the first pass: copy the holdout out, count,
                                * hand nothing on */
    float *F, *y;              /* the holdout (cap rows) */
    size_t nv, cap;
    size_t n_train;            /* training rows (counted by the first pass) */
    size_t *group_train;       /* per group: its training rows (first pass) */
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
    r->pos = 0;
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
        float *hit = bsearch(&v, r->class_vals, in->t->k, sizeof(float), num_cmp_float);
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

/* xgb_batches_t.next: the training rows of the next group of the pass
 * that has any. */
static int reader_next(void *ctx, const float **X, const float **label, size_t *n)
{
    reader_t *r = ctx;
    const extmem_in_t *in = r->in;
    const spill_t *s = in->d->spill;
    size_t n_order = r->order ? r->n_order : spill_groups(s);
    while (r->pos < n_order) {
        if (stop_asked(in)) {
            r->failed = 1;
            err_set(r->e, 499, "killed", "killed");
            return 0;
        }
        size_t g = r->order ? r->order[r->pos] : r->pos, m = spill_group_size(s, g);
        r->pos++;
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
            if (mix64(r->salt ^ (uint64_t)(r->row0[g] + i)) < r->valid_cut) {
                if (r->scanning && r->nv < r->cap) {
                    reader_field_row(r, i, r->F + r->nv * r->p);
                    r->y[r->nv++] = lab;
                }
                continue; /* held out (past the cap: in neither set) */
            }
            if (r->scanning) {
                r->n_train++;
                r->group_train[g]++;
                r->ysum += lab;
                continue;
            }
            reader_field_row(r, i, r->X + k * r->p);
            r->label[k++] = lab;
        }
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
    return 0;
}

/* The first pass over every group: the holdout copied out, the training
 * rows counted (per group: the blocks are sized from them). */
static int reader_scan(reader_t *r)
{
    const float *X, *label;
    size_t n;
    r->scanning = 1;
    r->order = NULL;
    reader_reset(r);
    while (reader_next(r, &X, &label, &n) == 1)
        ;
    r->scanning = 0;
    return r->failed ? -1 : 0;
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
    free(r->row0);
    free(r->group_train);
}

static int reader_init(reader_t *r, const extmem_in_t *in, err_t *e)
{
    memset(r, 0, sizeof(*r));
    r->in = in;
    r->e = e;
    r->p = in->plan->n;
    r->salt = mix64(in->seed ^ 0x243f6a8885a308d3ULL);
    const spill_t *s = in->d->spill;
    size_t gmax = 1, ng = spill_groups(s);
    r->row0 = malloc((ng + 1) * sizeof(*r->row0));
    r->group_train = calloc(ng + 1, sizeof(*r->group_train));
    if (r->row0 == NULL || r->group_train == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t g = 0, row = 0; g < ng; g++) {
        r->row0[g] = row;
        row += spill_group_size(s, g);
        gmax = spill_group_size(s, g) > gmax ? spill_group_size(s, g) : gmax;
    }
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

/* The block candidate: boosted on blocks of training rows that fit in
 * memory, a block at a time (see run_blocks). Its rounds are cheap (an
 * in-memory hist round) and every row is used, so it is set for many
 * rounds: a lower eta than the page-reading candidates. (A lower
 * subsample buys no speed: XGBoost 1.7.4's hist zeroes the gradients of
 * sampled-out rows and still walks them, measured 1.0 s a round on
 * 340,000 rows at 0.8, 0.44 and 0.18 alike.) */
static const cand_t block_cand = {0.12, 7, 5.0, 0.8, 0.8};
#define BLOCK_PATIENCE 40      /* rounds: a new block can bump the loss */

typedef struct cand_res {
    void *booster;             /* sliced to its best round */
    double value;              /* reported metric on the holdout */
    int rounds, trained;
    double seconds;
    int truncated, stopped_early;
    int blocks;                /* block candidate: blocks of the table (0: pages) */
    size_t block_rows;         /* training rows per block (at most) */
    int blocks_built;          /* blocks quantised (a block may come back) */
    double build_seconds;      /* the first block's quantising */
    double subsample;          /* block candidate: the one it used */
} cand_res_t;

static search_tree_t tree_of(const cand_t *c)
{
    search_tree_t t = {c->eta, c->mcw, c->subsample, c->colsample, 1.0, c->depth};
    return t;
}

static int set_params(const extmem_in_t *in, void *b, const cand_t *c, double base, err_t *e)
{
    search_tree_t t = tree_of(c);
    /* One thread on small tables (tests force them here): OpenMP's
     * hand-offs cost more than they save, as in ml/search.c. */
    const char *nthread = (double)in->t->n * (double)in->plan->n > 1e6 ? "2" : "1";
    if (search_params_set(b, in->t->task, in->t->k, in->seed, nthread, base, &t, e) < 0)
        return -1;
    /* Every round reads the pages (or a block): levels, not leaves. And
     * histograms are nodes x features x bins x 16 bytes per thread: at
     * depth 7 with 200 features and 256 bins that is 200 MB of a 1 GB
     * cap; 128 bins halve it. The blocks' QuantileDMatrix says 128 too. */
    if (xgb_booster_param(b, "grow_policy", "depthwise", e) < 0 ||
        xgb_booster_param(b, "max_bin", "128", e) < 0)
        return -1;
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
    if (scoring_predict(in->plan, r->booster, NULL, in->t->task, in->t->k, F, nv, &pred, e) < 0)
        goto out;
    r->value = holdout_metric(in->t->task, in->t->k, pred, y, nv);
    free(pred);
    rc = 0;
out:
    xgb_booster_free(b);
    r->seconds = util_now_monotonic() - t0;
    return rc;
}

/* --- blocks ------------------------------------------------------------------ */

/* Bytes of memory one block's rows may take. The process's address-space
 * cap (the trainer's TRAINYARD_CHILD_MEMORY) is the bound when there is
 * one; else a quarter of the machine. What the rest needs was measured
 * with XGBoost 1.7.4 (200 features, depth 7, 2 threads): ~380 MB of
 * address space for the libraries, threads, malloc arenas, histograms and
 * the holdout, whatever the rows. */
static double block_budget(void)
{
    struct rlimit rl;
    double cap = INFINITY;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        cap = (double)rl.rlim_cur;
    if (isinf(cap)) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        return pages > 0 && psz > 0 ? (double)pages * (double)psz / 4 : 256e6;
    }
    double room = cap - 384.0 * 1024 * 1024;
    return room > 16e6 ? room * 0.55 : 8e6;
}

/* A quantised row in memory: 1 byte a cell for the bins and ~1 for
 * XGBoost's column index (1.7 keeps both), plus per-row state: label,
 * gradient pairs and predictions per class, row partition. */
static double block_row_bytes(size_t p, size_t k)
{
    return 2.0 * (double)p + 24.0 + 12.0 * (double)(k > 2 ? k : 1);
}

/* The groups in a seeded random order, cut into blocks of at most
 * block_rows training rows each: a block is a random set of groups from
 * the whole file (a table sorted by some column still gives every block
 * its range). *starts: n_blocks + 1 offsets into *order. */
static int blocks_plan(const reader_t *r, size_t block_rows, uint64_t seed, size_t **order,
                       size_t **starts, size_t *n_blocks, err_t *e)
{
    size_t ng = spill_groups(r->in->d->spill);
    *order = malloc((ng + 1) * sizeof(**order));
    *starts = malloc((ng + 2) * sizeof(**starts));
    if (*order == NULL || *starts == NULL)
        return err_set(e, 500, "internal", "out of memory");
    size_t n = 0;
    for (size_t g = 0; g < ng; g++)
        if (r->group_train[g] > 0)
            (*order)[n++] = g;
    uint64_t st = mix64(seed ^ 0x13198a2e03707344ULL);
    for (size_t i = n; i > 1; i--) {
        st = mix64(st);
        size_t j = (size_t)(st % i), t = (*order)[i - 1];
        (*order)[i - 1] = (*order)[j];
        (*order)[j] = t;
    }
    size_t nb = 0, rows = 0;
    (*starts)[nb++] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t gr = r->group_train[(*order)[i]];
        if (rows > 0 && rows + gr > block_rows) {
            (*starts)[nb++] = i;
            rows = 0;
        }
        rows += gr;
    }
    (*starts)[nb] = n;
    *n_blocks = nb;
    return 0;
}

/* The holdout as one batch: the blocks' bin edges are drawn from it (see
 * run_blocks). */
typedef struct one_batch {
    const float *X, *label;
    size_t n;
    int done;
} one_batch_t;

static int one_batch_next(void *ctx, const float **X, const float **label, size_t *n)
{
    one_batch_t *o = ctx;
    if (o->done)
        return 0;
    o->done = 1;
    *X = o->X;
    *label = o->label;
    *n = o->n;
    return 1;
}

static void one_batch_reset(void *ctx)
{
    ((one_batch_t *)ctx)->done = 0;
}

/* The block candidate. The training rows are cut into blocks that fit in
 * memory (block_budget); one booster boosts on a block's QuantileDMatrix
 * for a few rounds, then on the next block's, and so on around the table:
 * each tree is fit on fresh rows (as subsampling does, by blocks), the
 * model sees every row, and a round costs what an in-memory round on one
 * block costs, where a round over XGBoost's page cache reads the pages
 * some 2 x depth + 1 times. When the table fits one block this is plain
 * in-memory training on every training row. Early-stopped on the holdout;
 * the time is checked before every step from what the last one took (a
 * block's first round also predicts every tree so far on its rows). */
static int run_blocks(const extmem_in_t *in, reader_t *r, const xgb_batches_t *batches,
                      void *dvalid, double base, double until_one, double until_many,
                      double scan_seconds, cand_res_t *res, err_t *e)
{
    double until = until_many;
    cand_t bc = block_cand;
    const cand_t *c = &bc;
    double t0 = util_now_monotonic();
    memset(res, 0, sizeof(*res));
    res->value = NAN;
    size_t *order = NULL, *starts = NULL, nb = 0;
    void *b = NULL, *dblock = NULL, *dref = NULL;
    int rc = -1, best = -1, it = 0;
    /* Rows a block may hold: what memory allows, and what the time allows
     * (quantising reads the block's pages twice; at the scan's pace, a
     * block may take a quarter of the time left). */
    double mem_rows = (in->block_bytes > 0 ? in->block_bytes : block_budget()) /
                      block_row_bytes(r->p, in->t->k);
    double left = until - t0;
    double rate = scan_seconds > 0 ? (double)r->n_train / scan_seconds : INFINITY;
    double time_rows = rate * left * 0.25 / 2;
    double rows = fmax(1000.0, fmin(mem_rows, time_rows));
    size_t block_rows = rows >= (double)r->n_train ? r->n_train : (size_t)rows;
    if (blocks_plan(r, block_rows, in->seed, &order, &starts, &nb, e) < 0)
        goto out;
    if (nb == 1)
        until = until_one;
    res->subsample = bc.subsample;
    res->blocks = (int)nb;
    res->block_rows = block_rows;
    if (xgb_booster_new(&dvalid, 1, &b, e) < 0 || set_params(in, b, c, base, e) < 0)
        goto out;
    /* Every block is binned at the same edges, drawn once from the
     * holdout's features (no labels: nothing of the validation leaks):
     * quantising a block then skips XGBoost's sketch, its costliest part,
     * and the reference costs a few MB where keeping the first block as
     * one would cost a block. */
    one_batch_t hold = {r->F, r->y, r->nv, 0};
    xgb_batches_t hb = {one_batch_next, one_batch_reset, &hold, r->p, batches->names,
                        batches->types};
    if (nb > 1 && xgb_qmatrix_from_batches(&hb, 128, NULL, &dref, e) < 0)
        goto out;
    ml_log(in->cb, "%s: external memory: %zu blocks of at most %zu training rows (memory allows "
        "%.0f, time %.0f)", in->field, nb, block_rows, mem_rows, time_rows);
    double best_loss = 0, last = 0, build = 0, first = 0;
    int first_trees = 1, per_block = 0;
    for (size_t k = 0;; k = (k + 1) % nb) {
        double now = util_now_monotonic();
        if (dblock == NULL || nb > 1) {
            /* The next block: its quantising, then a first round that
             * predicts the trees so far on it. */
            double guess = build + first * (double)(it + 1) / first_trees + last;
            if (it > 0 && now + guess > until) {
                res->truncated = 1;
                break;
            }
            xgb_dmatrix_free(dblock);
            dblock = NULL;
            r->order = order + starts[k];
            r->n_order = starts[k + 1] - starts[k];
            double b0 = util_now_monotonic();
            if (xgb_qmatrix_from_batches(batches, 128, dref, &dblock, e) < 0 || r->failed) {
                if (r->failed && e->count == 0)
                    err_set(e, 500, "internal", "reading the pages failed");
                goto out;
            }
            build = util_now_monotonic() - b0;
            if (res->blocks_built++ == 0)
                res->build_seconds = build;
            if (nb > 1)
                ml_log(in->cb, "%s: block %zu of %zu quantised in %.1fs; %d rounds so far, best "
                    "holdout loss %.5f at %d", in->field, k + 1, nb, build, it, best_loss,
                    best + 1);
        }
        /* Rounds on this block: on one block, until done; else enough
         * that quantising it is at most a fifth of its turn (10 to 200).
         * Not fewer so that every block has a turn: on a 2-core machine
         * an 1800 s budget buys a few hundred rounds over a million rows,
         * rounds are what the time is short of (measured: 10 rounds a
         * turn spent half the time quantising, 100 rounds in 1228 s over
         * 9 M rows, AUC 0.84). */
        int stop = 0, fresh = 1;
        for (int j = 0; nb == 1 || j < (per_block ? per_block : 10); j++) {
            double r0 = util_now_monotonic();
            double guess = fresh && it > 0 ? first * (double)(it + 1) / first_trees : last;
            if (it > 0 && r0 + guess > until) {
                res->truncated = 1;
                stop = 1;
                break;
            }
            if (stop_asked(in)) {
                err_set(e, 499, "killed", "killed");
                goto out;
            }
            double loss;
            if (xgb_booster_update(b, it, dblock, e) < 0 ||
                xgb_booster_eval(b, it, dvalid, &loss, e) < 0)
                goto out;
            double t = util_now_monotonic() - r0;
            if (fresh) {
                first = t;
                first_trees = it + 1;
            } else {
                last = t;
            }
            if (last == 0)
                last = t;
            if (per_block == 0 && nb > 1 && !fresh) {
                double want = ceil(4 * build / last);
                per_block = (int)fmin(200, fmax(10, want));
                ml_log(in->cb, "%s: %d rounds a block (a round %.2fs, a block's quantising "
                    "%.1fs)", in->field, per_block, last, build);
            }
            fresh = 0;
            res->trained = ++it;
            if (best < 0 || loss < best_loss - 1e-6 * fabs(best_loss)) {
                best_loss = loss;
                best = it - 1;
            } else if (it - 1 - best >= BLOCK_PATIENCE) {
                res->stopped_early = 1;
                stop = 1;
                break;
            }
            progress(in, util_now_monotonic());
        }
        if (stop)
            break;
    }
    if (best < 0) {
        err_set(e, 500, "internal", "no boosting round finished in the time");
        goto out;
    }
    res->rounds = best + 1;
    if (xgb_booster_slice(b, res->rounds, &res->booster, e) < 0)
        goto out;
    float *pred = NULL;
    if (scoring_predict(in->plan, res->booster, NULL, in->t->task, in->t->k, r->F, r->nv, &pred, e) < 0)
        goto out;
    res->value = holdout_metric(in->t->task, in->t->k, pred, r->y, r->nv);
    free(pred);
    rc = 0;
out:
    r->order = NULL;
    xgb_dmatrix_free(dblock);
    xgb_dmatrix_free(dref);
    xgb_booster_free(b);
    free(order);
    free(starts);
    res->seconds = util_now_monotonic() - t0;
    return rc;
}

static json_object *cand_json(const cand_t *c, const cand_res_t *r, const char *metric)
{
    json_object *o = json_object_new_object(), *p = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string("tree"));
    search_tree_t t = tree_of(c);
    if (r->blocks > 0)
        t.subsample = r->subsample;
    search_params_json(p, &t);
    json_object_object_add(p, "grow_policy", json_object_new_string("depthwise"));
    json_object_object_add(p, "max_bin", json_object_new_int(128));
    json_object_object_add(p, "external_memory", json_object_new_boolean(1));
    if (r->blocks > 0) {
        json_object_object_add(p, "blocks", json_object_new_int(r->blocks));
        json_object_object_add(p, "block_rows", json_object_new_int64((int64_t)r->block_rows));
    }
    search_cand_figures(o, p, metric, r->value, r->rounds, r->rounds, r->trained, r->seconds,
                        r->truncated);
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
    /* res[0]: the block candidate; res[1 + i]: extmem_cands[i]. */
    cand_res_t res[N_CANDS + 1];
    const cand_t *cands[N_CANDS + 1];
    size_t nres = 0;
    int rc = -1;
    char prefix[64];
    /* XGBoost appends "-<address>.<kind>.page": the trailing "-" keeps
     * field 1's prefix from matching field 10's files. */
    snprintf(prefix, sizeof(prefix), "xgb-%zu-", in->field_index);
    char cache[4096];
    snprintf(cache, sizeof(cache), "%s/%s", in->d->spill_dir, prefix);
    memset(res, 0, sizeof(res));
    cands[0] = &block_cand;
    for (size_t i = 0; i < N_CANDS; i++)
        cands[1 + i] = &extmem_cands[i];
    double t0 = util_now_monotonic(), t_pages = 0;
    unsigned long long cache_bytes = 0;
    char skipped[200] = "";
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
     * codes. The blocks say the same, so that every candidate reads the
     * codes alike. */
    for (size_t j = 0; j < w; j++)
        types[j][0] = 'q';
    xgb_batches_t batches = {reader_next, reader_reset, &r, w, names, types};
    ml_log(in->cb, "%s: external memory: %zu rows on disk (%.1f MB of pages), reading them once "
        "for the holdout", in->field, in->d->n_rows, (double)spill_bytes(in->d->spill) / 1e6);
    /* The first pass: the holdout, the counts, and the pace of a pass
     * over the pages, from which every later step is guessed. */
    if (reader_scan(&r) < 0) {
        if (e->count == 0)
            err_set(e, 500, "internal", "reading the pages failed");
        goto out;
    }
    double scan = util_now_monotonic() - t0;
    if (r.nv < 2 || r.n_train < 2) {
        err_set(e, 400, "training_invalid", "predict field \"%s\": too few rows to train and "
                "validate on", in->field);
        goto out;
    }
    ml_log(in->cb, "%s: external memory: %zu training rows, %zu held out; a pass over the pages "
        "took %.1fs", in->field, r.n_train, r.nv, scan);
    if (xgb_dmatrix_new(r.F, r.nv, w, names, types, r.y, NULL, &dvalid, e) < 0)
        goto out;
    double base = r.n_train ? r.ysum / (double)r.n_train : 0;
    size_t limit = N_CANDS + 1;
    if (in->max_models > 0 && (size_t)in->max_models < limit)
        limit = (size_t)in->max_models;
    int best = -1, all_early = 1;
    for (size_t i = 0; i < limit; i++) {
        double now = util_now_monotonic(), left = in->end - in->reserve - now;
        if (i > 0 && left < 1) {
            if (dtrain == NULL)
                snprintf(skipped, sizeof(skipped), "XGBoost's page cache not built: the blocks "
                         "took the time");
            break;
        }
        if (i == 0) {
            /* The blocks first: they may take 70% of the time when the
             * table is one block (the page-reading candidates then have a
             * chance), all of it when it is not (a round over the pages
             * would cost a block's round times the blocks, and more). */
            double share = limit == 1 ? 1.0 : 0.7;
            if (run_blocks(in, &r, &batches, dvalid, base, now + left * share, now + left, scan,
                           &res[0], e) < 0)
                goto out;
        } else {
            if (dtrain == NULL) {
                /* XGBoost's own page cache: a pass to sketch, a pass to
                 * write, and its first round builds the bin pages: some
                 * four times what quantising the first block took, per
                 * block (measured with 1.7.4), and skipped when that does
                 * not fit. */
                double guess = 4 * res[0].build_seconds * (double)r.n_train /
                               (double)(res[0].block_rows ? res[0].block_rows : 1);
                if (now + guess > in->end - in->reserve) {
                    snprintf(skipped, sizeof(skipped), "XGBoost's page cache not built: about "
                             "%.0fs needed, %.0fs left", guess, left);
                    ml_log(in->cb, "%s: %s", in->field, skipped);
                    break;
                }
                double p0 = util_now_monotonic();
                r.order = NULL;
                if (xgb_extmem_new(&batches, cache, &dtrain, e) < 0 || r.failed) {
                    if (r.failed && e->count == 0)
                        err_set(e, 500, "internal", "reading the pages failed");
                    goto out;
                }
                t_pages = util_now_monotonic() - p0;
                cache_bytes = cache_files(in->d->spill_dir, prefix, 0);
                ml_log(in->cb, "%s: external memory: XGBoost's page cache %.1f MB, built in %.1fs",
                    in->field, (double)cache_bytes / 1e6, t_pages);
                now = util_now_monotonic();
                left = in->end - in->reserve - now;
            }
            /* Each later one takes an equal part of what is left. */
            double share = 1.0 / (double)(limit - i);
            if (run_cand(in, cands[i], dtrain, dvalid, base, now + left * share, r.F, r.y, r.nv,
                         &res[i], e) < 0) {
                xgb_booster_free(res[i].booster);
                res[i].booster = NULL;
                goto out;
            }
        }
        nres = i + 1;
        all_early &= res[i].stopped_early;
        out->truncated |= res[i].truncated;
        if (i == 0)
            ml_log(in->cb, "%s: candidate 1 (blocks) depth %d eta %.2g: %s=%.5f, %d rounds of %d "
                "over %d blocks, %.1fs%s", in->field, block_cand.depth, block_cand.eta,
                out->metric, res[0].value, res[0].rounds, res[0].trained, res[0].blocks,
                res[0].seconds, res[0].stopped_early ? " (stopped improving)" : "");
        else
            ml_log(in->cb, "%s: candidate %zu (external memory) depth %d eta %.2g: %s=%.5f, %d "
                "rounds of %d, %.1fs%s", in->field, i + 1, cands[i]->depth, cands[i]->eta,
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
        scoring_predict(in->plan, out->booster, NULL, task, in->t->k, r.F, r.nv, &out->valid_pred,
                        e) < 0)
        goto out;
    /* Ranked by the holdout metric (a handful: insertion sort). */
    size_t order[N_CANDS + 1];
    for (size_t i = 0; i < nres; i++) {
        size_t at = i;
        while (at > 0 && better(task, res[i].value, res[order[at - 1]].value)) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    out->candidates = json_object_new_array();
    char why[96];
    snprintf(why, sizeof(why), "best holdout %s of the %zu external-memory candidates tried",
             out->metric, nres);
    for (size_t rank = 0; rank < nres; rank++) {
        size_t i = order[rank];
        json_object *o = cand_json(cands[i], &res[i], out->metric);
        json_object_object_add(o, "rank", json_object_new_int((int)rank + 1));
        json_object_object_add(o, "chosen", json_object_new_boolean(i == (size_t)best));
        if (i == (size_t)best)
            json_object_object_add(o, "why", json_object_new_string(why));
        json_object_array_add(out->candidates, o);
    }
    snprintf(out->reason, sizeof(out->reason), "%s (data larger than memory: blocks that fit in "
             "memory in turn, or XGBoost's page cache; fewer candidates)%s%.80s", why,
             skipped[0] ? "; " : "", skipped);
    if (in->max_models > 0 && nres == limit)
        out->stopped = "max_models";
    else if (all_early && nres == limit)
        out->stopped = "converged";
    else
        out->stopped = "time budget";
    if (out->stopped[0] == 'c')
        snprintf(out->stopped_detail, sizeof(out->stopped_detail),
                 "every candidate stopped improving on the holdout for %d rounds (%d for the "
                 "blocks)", PATIENCE, BLOCK_PATIENCE);
    *info = json_object_new_object();
    json_object_object_add(*info, "rows", json_object_new_int64((int64_t)in->d->n_rows));
    json_object_object_add(*info, "training_rows", json_object_new_int64((int64_t)r.n_train));
    json_object_object_add(*info, "validation_rows", json_object_new_int64((int64_t)r.nv));
    json_object_object_add(*info, "page_bytes",
                           json_object_new_int64((int64_t)spill_bytes(in->d->spill)));
    json_object_object_add(*info, "cache_bytes", json_object_new_int64((int64_t)cache_bytes));
    json_object_object_add(*info, "batches", json_object_new_int64((int64_t)r.batches));
    json_object_object_add(*info, "seconds_to_pages", json_object_new_double(t_pages));
    json_object_object_add(*info, "seconds_first_pass", json_object_new_double(scan));
    json_object_object_add(*info, "blocks", json_object_new_int(res[0].blocks));
    json_object_object_add(*info, "block_rows", json_object_new_int64((int64_t)res[0].block_rows));
    json_object_object_add(*info, "blocks_quantised", json_object_new_int(res[0].blocks_built));
    if (skipped[0])
        json_object_object_add(*info, "skipped", json_object_new_string(skipped));
    *F = r.F;
    *y = r.y;
    *nv = r.nv;
    r.F = NULL;
    r.y = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < N_CANDS + 1; i++)
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
