/*
 * ensemble.h — weighted blends of tree models: choosing the weights on
 * validation predictions, and turning the blend into one XGBoost booster.
 *
 * A blend is a weighted sum of the members' margins (log-odds for binary,
 * the per-class raw scores for multiclass, the value for regression):
 *     margin(x) = sum_i weight_i * margin_i(x),  weights sum to 1,
 * then the objective's link (sigmoid, softmax, identity). Because a tree
 * model's margin is base_score plus a sum of leaf values, the blend is
 * itself a tree model: every member's leaves scaled by its weight, all
 * trees in one booster. So the served model is one ordinary booster that
 * stock XGBoost loads, predicts, explains (TreeSHAP is linear in the
 * leaves: the blend's contributions are the weighted sum of the members')
 * and scores importance for; the members can be taken back out of it
 * (ensemble_member) for the documented recipe. The linear model's margin
 * adds to a blend's as a dot product beside the booster (ml/linpart.h):
 * the tree members' weights then sum to 1 less its weight.
 */
#ifndef TRAINYARD_ML_ENSEMBLE_H
#define TRAINYARD_ML_ENSEMBLE_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/scoring.h"

/* Greedy ensemble selection with replacement (Caruana et al., 2004) over
 * m candidates' validation predictions pred[j] (nv x kk normalised
 * outputs, as scoring.h gives them; kk = k for classes, 1 for
 * regression), against labels y (class index or value). Starts from the
 * candidate with the lowest loss (log loss, or squared error), then adds,
 * with replacement, whichever candidate lowers the blend's loss most,
 * until none does or max_steps members are in. Fills counts[m] (times
 * each was chosen), blend (nv x kk normalised outputs of the blend) and
 * *loss. With cost non-NULL, a candidate not yet in the blend is added only
 * while the distinct members' costs
 * stay within budget (cost[j]: e.g. the node visits a prediction makes):
 * the serving-time cap of a blend (the first pick
 * too, so a budget below every cost gives an empty blend, 0 steps).
 * Returns the number of steps, or -1 (out of memory). */
int ensemble_select(const float *const *pred, size_t m, size_t nv, ml_task_t task, size_t k,
                    const float *y, size_t max_steps, const long *cost, long budget,
                    int *counts, float *blend, double *loss);

/* The best blend of two candidates a and b (read as ensemble_select
 * reads them) with weights i / steps and (steps - i) / steps, 0 < i <
 * steps: the exact minimum of the validation loss on that grid, where
 * ensemble_select's greedy steps stop at the first split that one more
 * copy of either does not improve. Fills counts[2] (summing to steps),
 * blend and *loss; returns steps, or -1 (out of memory, or steps < 2). */
int ensemble_pair(const float *a, const float *b, size_t nv, ml_task_t task, size_t k,
                  const float *y, size_t steps, int *counts, float *blend, double *loss);

/* One booster from m tree boosters of one objective, class count and
 * feature set, blended with weights (summing to 1, or less when a linear
 * member takes the rest). Fills *out (a new
 * booster) and *members (a new JSON array, one object per member in order:
 * {"weight":w,"trees":[first,end),"base_score":b}: where its trees sit in
 * the blend and its own base_score). */
int ensemble_merge(void *const *boosters, const double *weights, size_t m, void **out,
                   json_object **members, err_t *e);

/* Member i of a blend (model bytes of any format XGBoost reads, and the
 * members array ensemble_merge wrote) as its own model: its trees with the
 * weight taken back out and its base_score. *out: malloc'd UBJ bytes. */
int ensemble_member(const void *blend, size_t len, json_object *members, size_t i, void **out,
                    size_t *out_len, err_t *e);

#endif
