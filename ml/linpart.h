/*
 * linpart.h — a blend's linear member, served as a dot product beside the
 * tree booster (ensemble.h).
 *
 * A blend's margin is the weighted sum of its members' margins. The tree
 * members merge into one booster; the linear member (linfit.h) stays what
 * it is, coefficients over its own expanded input (encode.h: numbers and
 * booleans standardised, a missing number -> its training median (encode.h),
 * a missing boolean -> 0; categories one-hot over levels +
 * other, missing -> all zero), and adds weight x its margin to the trees'
 * before the objective's link. That costs width x groups multiply-adds a
 * row, where the same model as trees walks one tree per field and class
 * (digits: 650 multiply-adds against 1,751 node visits).
 *
 * Its form in preprocess.json is the member's "linear" object:
 *   {"inputs": [the linear plan's features, enc_plan_to_json],
 *    "columns": [expanded column names..., "(bias)"],
 *    "coefficients": [[c per group], ...]  (width + 1 rows, the bias last),
 *    "means": [training mean of each expanded column] (the explanations'
 *             baseline), ...}
 * written by linpart_to_json and read back by linpart_from_json, exactly
 * (coefficients are written with the digits that read back the same).
 */
#ifndef TRAINYARD_ML_LINPART_H
#define TRAINYARD_ML_LINPART_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/encode.h"
#include "ml/scoring.h"

typedef struct linpart {
    enc_plan_t plan;    /* the linear plan (owned): its features are the
                         * served field rows' features, in their order */
    size_t width, g;    /* expanded columns; coefficient groups (linfit.h) */
    double weight;      /* the member's blend weight */
    double *coef;       /* (width + 1) x g as fit, the bias row last */
    double *mean;       /* width: each expanded column's training mean */
} linpart_t;

/* A new linear part from a fit: the plan is copied, coef ((width + 1) x g)
 * too, and the means are taken over the n expanded training rows X
 * (n x width). */
int linpart_new(const enc_plan_t *plan, const double *coef, size_t g, double weight,
                const float *X, size_t n, linpart_t **out, err_t *e);
void linpart_free(linpart_t *l);

/* The recipe object described above; NULL when out of memory. */
json_object *linpart_to_json(const linpart_t *l);
/* Reads a member's "linear" object back (weight from the member), checking
 * that its inputs are the fields of the served plan fields (same names, in
 * order) and that the coefficient table has groups g. */
int linpart_from_json(json_object *o, double weight, const enc_plan_t *fields, size_t g,
                      linpart_t **out, err_t *e);

/* Adds weight x the linear margin of n field rows F (n x plan.n) into
 * margin (n x g). Out of memory: -1. */
int linpart_add_margin(const linpart_t *l, const float *F, size_t n, double *margin);

/* Adds weight x its exact additive explanation into ct (n x g x
 * (fields + 1), contrib.h's layout, the bias last): field f gets the sum
 * over its columns c of coef_c x (x_c - mean_c), the bias the margin at the
 * means. Out of memory: -1. */
int linpart_add_contrib(const linpart_t *l, const float *F, size_t n, float *ct);

/* Adds weight x each field's share of the coefficients' absolute sum (the
 * linear model's importance) into share (plan.n). Out of memory: -1. */
int linpart_add_importance(const linpart_t *l, float *share);

/* The member alone as a stock XGBoost gblinear booster (UBJ bytes,
 * malloc'd) on the expanded input, unweighted: its download file. */
int linpart_member_file(const linpart_t *l, ml_task_t task, size_t k, void **out, size_t *len,
                        err_t *e);

#endif
