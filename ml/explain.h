/*
 * explain.h — field importance and the data story of a trained model.
 *
 * Importance: total split gain per field for trees (a categorical field is
 * one feature), summed |weight| over a field's standardised / one-hot
 * inputs for linear models; normalised to sum to 1 over all input fields.
 *
 * Data story (per outcome = class, or the predicted value for regression):
 * the most important fields, each with top_value / bottom_value, the value
 * whose substitution into a sample of validation rows gives the highest /
 * lowest mean predicted chance of the outcome (a partial dependence over
 * the field's levels, or its quantiles for numbers); and top_case /
 * avg_case / bottom_case, the max / mean / min prediction over the sample.
 */
#ifndef TRAINYARD_ML_EXPLAIN_H
#define TRAINYARD_ML_EXPLAIN_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/encode.h"
#include "ml/scoring.h"

#define EXPLAIN_TOP_FIELDS 5

/* Fills *share (malloc'd, plan->n) and returns the JSON object
 * {field: share} in *out. lp: NULL, or a blend's linear member beside the
 * booster's trees: the shares are then the weighted sum of the trees'
 * (by gain) and the linear member's (by its coefficients), each summing
 * to its members' weight. */
int explain_importance(const enc_plan_t *p, void *booster, const struct linpart *lp, size_t k,
                       float **share, json_object **out, err_t *e);

/* F: m x p->n field rows (a sample of validation rows). */
int explain_story(const enc_plan_t *p, void *booster, const struct linpart *lp, ml_task_t task,
                  size_t k,
                  const char *const *classes, const char *target, const float *F, size_t m,
                  const float *share, json_object **out, err_t *e);

#endif
