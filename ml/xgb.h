/*
 * xgb.h — the thin wrapper over XGBoost's C API the engine and the model
 * loader use: error translation, copies of XGBoost-owned buffers, and the
 * JSON configs its calls expect.
 *
 * Every pointer XGBoost returns is only valid until the next call on the
 * same thread; these functions copy what they return (malloc'd, caller
 * frees). Handles are opaque void *. Never call in a process that forks
 * afterwards (libgomp).
 */
#ifndef TRAINYARD_ML_XGB_H
#define TRAINYARD_ML_XGB_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"

/* Dense row-major floats (NaN = missing), with feature names/types ("q"
 * or "c") and optional label / weight (NULL = none). */
int xgb_dmatrix_new(const float *X, size_t n, size_t w, char *const *names, char *const *types,
                    const float *label, const float *weight, void **out, err_t *e);
void xgb_dmatrix_free(void *d);
/* Replaces a matrix's labels (n of them, its rows' count). */
int xgb_dmatrix_set_label(void *d, const float *y, size_t n, err_t *e);

/* Rows for a quantised matrix: up to two row ranges of a dense row-major
 * X (the training rows around a validation block), with their labels and
 * weights taken at the same offsets. */
typedef struct xgb_rows {
    const float *X;                /* NULL: rows come from fill */
    /* Fills out with the n rows from row first (when X is NULL): big data
     * never holds its rows as one float matrix (see train.c). */
    void (*fill)(void *ctx, size_t first, size_t n, float *out);
    void *fill_ctx;
    size_t w;
    char *const *names, *const *types;
    const float *label, *weight;   /* may be NULL */
    size_t begin[2], end[2];
    size_t n_ranges;
} xgb_rows_t;

/* A QuantileDMatrix (hist only: 1 byte per cell instead of the 8 of a
 * DMatrix, and no copy of X: XGBoost reads it in batches). ref: NULL, or
 * the training matrix whose bins a validation matrix must share. */
int xgb_qmatrix_new(const xgb_rows_t *rows, void *ref, void **out, err_t *e);
/* The same rows as a plain DMatrix (two ranges are copied together first):
 * quicker to build than a QuantileDMatrix, so the choice for small data. */
int xgb_rows_dmatrix_new(const xgb_rows_t *rows, void **out, err_t *e);

/* Batches of dense rows for an external-memory matrix: next fills *X
 * (n x w floats, NaN missing) and *label, valid until the following call,
 * and returns 1, or 0 at the end, or -1 after a failure (kept by the
 * caller: XGBoost only sees the end). reset starts over. */
typedef struct xgb_batches {
    int (*next)(void *ctx, const float **X, const float **label, size_t *n);
    void (*reset)(void *ctx);
    void *ctx;
    size_t w;
    char *const *names, *const *types;
} xgb_batches_t;

/* An external-memory DMatrix (XGDMatrixCreateFromCallback): XGBoost reads
 * the batches once and keeps its pages in files named cache_prefix.* (the
 * directory must exist; the caller removes the files). Training reads the
 * pages from there, a batch at a time: memory holds per-row state (labels,
 * gradients, predictions) and a page, not the matrix. hist and approx
 * only. */
int xgb_extmem_new(const xgb_batches_t *b, const char *cache_prefix, void **out, err_t *e);

/* A QuantileDMatrix in memory from the same batches (read twice: the
 * sketch, then the bins): a byte or two a cell, no float matrix held. For
 * a block of a table larger than memory (ml/extmem.c). The booster that
 * trains on it must say the same max_bin. */
int xgb_qmatrix_from_batches(const xgb_batches_t *b, int max_bin, void *ref, void **out,
                             err_t *e);

int xgb_booster_new(void *const *dmats, size_t nd, void **out, err_t *e);
void xgb_booster_free(void *b);
int xgb_booster_param(void *b, const char *name, const char *value, err_t *e);
int xgb_booster_features(void *b, char *const *names, char *const *types, size_t n, err_t *e);
int xgb_booster_update(void *b, int iter, void *dtrain, err_t *e);
/* Value of the (first) eval metric on d, from EvalOneIter's text. */
int xgb_booster_eval(void *b, int iter, void *d, double *value, err_t *e);
/* Predictions on d using trees [0, iter_end) (0 = all). */
int xgb_predict_dmatrix(void *b, void *d, int iter_end, float **out, size_t *len, err_t *e);
/* Per-input contributions on d (XGBoost's pred_contribs): rows x
 * (groups x) (inputs + 1) floats, the bias last; they sum to the margin. */
int xgb_predict_contribs(void *b, void *d, float **out, size_t *len, err_t *e);
/* In-place prediction from dense rows. */
int xgb_predict_dense(void *b, const float *X, size_t n, size_t w, float **out, size_t *len,
                      err_t *e);
/* The same as margins (before the objective's link). */
int xgb_predict_dense_margin(void *b, const float *X, size_t n, size_t w, float **out,
                             size_t *len, err_t *e);
int xgb_booster_save(void *b, void **buf, size_t *len, err_t *e);
/* The same in another of XGBoost's formats ("json" or "ubj"). */
int xgb_booster_save_as(void *b, const char *format, void **buf, size_t *len, err_t *e);
int xgb_booster_load(const void *buf, size_t len, void **out, err_t *e);
/* A new booster holding rounds [0, end). */
int xgb_booster_slice(void *b, int end, void **out, err_t *e);
/* A new booster holding rounds [begin, end). */
int xgb_booster_slice_range(void *b, int begin, int end, void **out, err_t *e);
/* Trees per boosting round (the class count of a multiclass model, else 1). */
int xgb_booster_trees_per_round(void *b, size_t *out, err_t *e);
/* Total gain per feature name; features never split on are absent. Fills
 * *names (malloc'd array of malloc'd strings) and *scores. */
int xgb_booster_gain(void *b, char ***names, float **scores, size_t *n, err_t *e);
/* gblinear weights: (n_features + 1) x n_groups floats, bias last row. */
int xgb_linear_weights(void *b, size_t n_features, size_t n_groups, float **w, err_t *e);
/* A new booster: gblinear booster b with its weights replaced by w (same
 * layout as above, the bias row as output margins: base_score is taken
 * out). How the engine's own linear solver (linfit.h) becomes a model. */
int xgb_linear_with_weights(void *b, const double *w, size_t n_features, size_t n_groups,
                            void **out, err_t *e);
/* The model's JSON form, parsed (caller puts it): what ml/treeshap.c reads
 * the trees from. */
int xgb_booster_json(void *b, json_object **out, err_t *e);

#endif
