/*
 * lintree.h — the linear model compiled into one-feature trees over the
 * tree plan's field rows, so that it can be a member of a blend (ensemble.h).
 *
 * The linear model reads the expanded input (encode.h: numbers and
 * booleans standardised, missing -> 0; categories one-hot over levels +
 * other, missing -> all zero). Every expanded column depends on exactly one
 * field of the field row, so the margin is
 *     b_c + sum over fields f of g_fc(F_f)
 * and one tree on field f alone (per class group c) gives g_fc: exactly for
 * categories and for numbers with at most LINTREE_MAX_BINS distinct training
 * values (one leaf per value), and as a piecewise-constant function on
 * quantile bins otherwise (leaf = g at the bin's mean training value, which
 * is exact on average since g is linear). A missing value reaches a leaf of
 * its own holding the contribution the linear encoding gives it: 0.
 * The result is an ordinary XGBoost gbtree booster on the tree plan's
 * inputs: it merges with tree members (ensemble_merge), TreeSHAP of a
 * one-feature tree is that field's exact additive contribution, and stock
 * XGBoost loads it.
 */
#ifndef TRAINYARD_ML_LINTREE_H
#define TRAINYARD_ML_LINTREE_H

#include <stddef.h>

#include "common/err.h"
#include "ml/encode.h"
#include "ml/scoring.h"

/* Numbers with more distinct training values than this are binned at
 * quantiles into about this many bins. */
#define LINTREE_MAX_BINS 256

typedef struct lintree_in {
    const enc_plan_t *plan;    /* the linear plan (mean / scale fitted); its
                                * features are the field rows' columns */
    const double *coef;        /* linfit.h layout: (enc_linear_width + 1) x g */
    const float *F;            /* n x plan->n training field rows: distinct
                                * values, bins, covers and the visit count */
    size_t n;
    ml_task_t task;
    size_t k;                  /* classes (1 for regression) */
} lintree_in_t;

typedef struct lintree_stats {
    double visits;             /* node visits one prediction makes on average
                                * over the training rows, all trees: the
                                * serving cost a blend counts */
    size_t rounds;             /* rounds (a tree per class group each): one per
                                * field with a weight, at least one */
    size_t exact_fields;       /* fields compiled exactly (categories, numbers
                                * with few distinct values); the rest binned */
} lintree_stats_t;

/* Builds the booster (*out, a new XGBoost handle) and, with st non-NULL,
 * its figures. The trees come in whole rounds (one tree per class group
 * and field, fields in plan order), as ensemble_member expects. */
int lintree_compile(const lintree_in_t *in, void **out, lintree_stats_t *st, err_t *e);

#endif
