/*
 * search.h — AutoML search for one predict field: candidates (a linear model
 * and XGBoost hist with sampled hyperparameters), early stopping on the
 * validation split, ranking, and the final refit, all inside a time window.
 *
 * Rows arrive already laid out by the caller: validation blocks are
 * contiguous. Holdout: n_folds = 1, block [fold_start[1], n) validates, the
 * rest trains. k-fold: fold f validates on [fold_start[f], fold_start[f+1])
 * and trains on the rest; predictions of every fold form the out-of-fold
 * validation set over all rows.
 */
#ifndef TRAINYARD_ML_SEARCH_H
#define TRAINYARD_ML_SEARCH_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/encode.h"
#include "ml/linpart.h"
#include "ml/scoring.h"
#include "ml/train.h"

typedef struct search_in {
    const enc_plan_t *plan;    /* tree plan (linear = 0) */
    const float *F;            /* n x plan->n field rows, layout order, or NULL: */
    /* then fill gives rows [first, first + n) on demand (big data; no
     * linear candidate then: its one-hot rows would be bigger still). */
    void (*fill)(void *ctx, size_t first, size_t n, float *out);
    void *fill_ctx;
    const float *y;            /* class index or target value per row */
    const float *w;            /* sample weights or NULL */
    size_t n;
    size_t n_folds;            /* 1 = holdout */
    const size_t *fold_start;  /* holdout: {0, n_train, n}; k-fold: k + 1 bounds */
    ml_task_t task;
    size_t k;                  /* classes (1 for regression) */
    double end;                /* monotonic time by which search + refit are done */
    double reserve;            /* seconds the caller needs after the search */
    double job_start, job_end; /* for progress fractions */
    unsigned long long seed;
    int max_models;            /* 0 = as many as time allows */
    const ml_callbacks_t *cb;
    const char *field;         /* for log lines */
} search_in_t;

typedef struct search_out {
    void *booster;             /* the final model (XGBoost handle) */
    void *bytes;               /* its UBJ bytes (malloc'd) */
    size_t len;
    enc_plan_t linear_plan;    /* if the winner is linear: its plan (owned) */
    int linear;
    size_t valid_begin;        /* validation rows: [valid_begin, n) of the layout */
    float *valid_pred;         /* (n - valid_begin) x k probabilities / values */
    json_object *candidates;   /* ranked */
    const char *metric;        /* "auc" | "accuracy" | "rmse" */
    double value;              /* the winner's validation metric */
    int rounds;                /* rounds of the final model */
    int truncated;             /* the clock cut something: not reproducible */
    int refit;                 /* final model was refit on all rows */
    char reason[320];          /* why the final model was chosen, for the result */
    const char *stopped;       /* why the search ended: "converged", "time budget",
                                * "max_models", "candidate cap" */
    char stopped_detail[200];  /* "converged": the evidence */
    int log1p;                 /* regression: the booster predicts log1p(target)
                                * (valid_pred and value are on the target) */
    json_object *ensemble;     /* NULL, or the blend's recipe (preprocess.json's
                                * "ensemble"): the booster is a weighted blend of
                                * tree candidates (ml/ensemble.h) */
    linpart_t *linpart;        /* NULL, or the blend's linear member, served
                                * beside the booster (ml/linpart.h; owned) */
} search_out_t;

int search_run(const search_in_t *in, search_out_t *out, err_t *e);
void search_out_free(search_out_t *o);

/* A hist tree candidate's hyperparameters. */
typedef struct search_tree {
    double eta, mcw, subsample, colsample, lambda;
    int depth;
} search_tree_t;

/* The booster parameters every candidate sets (threads, objective, eval
 * metric, seed, classes, a regression's base score) and, when tree is not
 * NULL, a hist tree's: one writer for the search and ml/extmem.c. */
int search_params_set(void *b, ml_task_t task, size_t k, unsigned long long seed,
                      const char *nthread, double base, const search_tree_t *tree, err_t *e);
/* The same tree's entries of a candidate's "params" in the result. */
void search_params_json(json_object *p, const search_tree_t *tree);
/* The rest of a candidate's entry in the result's list, one schema for
 * both writers (the console and the CLI read it): its params object (o
 * takes it) and figures; trained < 0 leaves "trained_rounds" out (a
 * linear model has no boosting rounds). */
void search_cand_figures(json_object *o, json_object *params, const char *metric, double value,
                         int trees, int rounds, int trained, double seconds, int truncated);

#endif
