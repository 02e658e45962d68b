/*
 * contrib.h — per-row, per-field contributions (XGBoost's TreeSHAP) of a
 * prediction, mapped back from the booster's encoded inputs to the user's
 * fields.
 *
 * XGBoost returns, per row and per output group (1 for binary and
 * regression, k for multiclass), one contribution per booster input plus a
 * bias, in margin units (log-odds for binary, the value for regression,
 * the class's raw score for multiclass); they sum to the row's margin. A
 * tree model reads one input per field, so fields map one to one; a linear
 * model reads one-hot columns for a category: the contributions of all
 * columns of one field are summed, so the per-field figures still sum to
 * the margin.
 */
#ifndef TRAINYARD_ML_CONTRIB_H
#define TRAINYARD_ML_CONTRIB_H

#include <stddef.h>

#include "common/err.h"
#include "ml/encode.h"

/* What a model keeps between explanations (its forest in the form
 * ml/treeshap.c walks, the bias): built by the first contrib_fields call
 * and owned by the model (ml/model.c), so by the model cache. */
typedef struct contrib_cache contrib_cache_t;
void contrib_cache_free(contrib_cache_t *c);
size_t contrib_cache_bytes(const contrib_cache_t *c);
/* 1 when the cache explains through ml/treeshap.c, 0 when through XGBoost. */
int contrib_cache_fast(const contrib_cache_t *c);

/* F: n field rows (n x p->n floats, encode.h). groups: 1, or k for a
 * multiclass model. cache: the model's (*cache NULL: built now from the
 * first rows of F), or NULL for none. Fills *out (malloc'd, caller frees)
 * with n x groups x (p->n + 1) floats: per row, per group, one
 * contribution per plan feature in plan order, then the bias. */
int contrib_fields(const enc_plan_t *p, void *booster, size_t groups, contrib_cache_t **cache,
                   const float *F, size_t n, float **out, err_t *e);

/* Folds one row-group of booster-input contributions (width + 1 values,
 * bias last) into plan fields (p->n + 1 values, bias last). Pure: the
 * unit tests call it directly. */
void contrib_fold(const enc_plan_t *p, const float *raw, size_t width, float *out);

#endif
