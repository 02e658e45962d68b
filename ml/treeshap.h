/*
 * treeshap.h — exact TreeSHAP contributions of a tree ensemble, computed
 * in one pass over each tree's nodes per row instead of XGBoost's one
 * path unwinding per leaf and feature.
 *
 * The same values as XGBoost's pred_contribs (path-dependent TreeSHAP,
 * node covers as the background), up to float rounding: for a leaf l with
 * value v and, per feature j on its path, the cover fraction z_j of the
 * path and o_j = 1 when the row follows the path at every split on j,
 *     phi_i += v (o_i - z_i) * integral_0^1 prod_{j != i} (t o_j + (1-t) z_j) dt
 * (the Shapley weights |S|!(d-|S|-1)!/d! are that Beta integral). Sums of
 * such polynomials are carried up the tree at the nodes of a
 * Gauss-Legendre rule that integrates them exactly (Linear TreeSHAP, Yu
 * et al., NeurIPS 2022), so a row costs O(nodes x depth/2) per tree.
 *
 * The forest is read once from the booster's JSON form and kept with the
 * model (handlers/model_cache.c holds it as long as the model).
 *
 * The same reading, without what the contributions need, also serves to
 * predict (treeshap_walker_build, treeshap_margins): small batches walk
 * the trees here instead of paying XGBoost's fixed cost per call
 * (ml/model.c); a gblinear model's walker holds its weights instead, and
 * its margins are the same dot product XGBoost computes.
 */
#ifndef TRAINYARD_ML_TREESHAP_H
#define TRAINYARD_ML_TREESHAP_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"

typedef struct treeshap treeshap_t;

/* Reads the trees of booster (a gbtree model with w inputs and `groups`
 * output groups). Returns 1 (and *out NULL) when the model is not one this
 * module can explain (gblinear, dart, a zero-cover child, a path deeper
 * than it integrates): the caller falls back to XGBoost. */
int treeshap_build(void *booster, size_t w, size_t groups, treeshap_t **out, err_t *e);
/* The same from the model's JSON form (what XGBoost saves: learner,
 * gradient_booster, model.trees, tree_info); the fuzz target's entry. */
int treeshap_from_json(json_object *root, size_t w, size_t groups, treeshap_t **out, err_t *e);
/* The trees alone, to predict with (treeshap_margins; treeshap_rows is
 * not for it): declines (1) what treeshap_build declines but deep paths,
 * objectives other than binary:logistic, multi:softprob and
 * reg:squarederror, and a base_score without a finite margin. A gblinear
 * model (w inputs: its expanded rows) is taken: its weights. */
int treeshap_walker_build(void *booster, size_t w, size_t groups, treeshap_t **out, err_t *e);
/* The same from the model's JSON form (the fuzz target's entry). */
int treeshap_walker_from_json(json_object *root, size_t w, size_t groups, treeshap_t **out,
                              err_t *e);
void treeshap_free(treeshap_t *t);
size_t treeshap_bytes(const treeshap_t *t);

/* X: n x w rows (NaN = missing). Adds into out (n x groups x (w + 1),
 * zeroed by the caller) each row's per-input contributions; the bias
 * column (last of each group) is left to the caller. */
void treeshap_rows(const treeshap_t *t, const float *X, size_t n, float *out);

/* X: n x w rows (NaN = missing). Writes out (n x groups) each row's
 * margin: the base margin plus every tree's leaf, added in float in tree
 * order, as XGBoost's CPU predictor adds them (gblinear: bias + base
 * margin, then each input x weight in input order, in float). */
void treeshap_margins(const treeshap_t *t, const float *X, size_t n, float *out);

#endif
