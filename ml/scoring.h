/*
 * scoring.h — predictions from field rows through a plan and a booster.
 *
 * The one path from "field rows" (encode.h) to outputs, shared by the
 * search (validation stats), the explanations and the API's model: the
 * linear model's rows are expanded first; a blend's linear member adds
 * its margin to the trees' (linpart.h); the output is normalised to
 * n x k class probabilities (binary included, k = 2) or n values.
 */
#ifndef TRAINYARD_ML_SCORING_H
#define TRAINYARD_ML_SCORING_H

#include <stddef.h>

#include "common/err.h"
#include "ml/encode.h"

typedef enum ml_task { TASK_BINARY, TASK_MULTICLASS, TASK_REGRESSION } ml_task_t;

const char *ml_task_name(ml_task_t t);

struct linpart;

/* out: malloc'd n x k floats (k = 1 for regression). lp: NULL, or a
 * blend's linear member (linpart.h), whose margin adds to the booster's
 * before the objective's link. */
int scoring_predict(const enc_plan_t *p, void *booster, const struct linpart *lp, ml_task_t task,
                    size_t k, const float *F, size_t n, float **out, err_t *e);

/* The same from a booster's trees (or a linear model's weights) walked
 * here (treeshap_walker_build), without XGBoost's fixed cost per call (a
 * small batch's most of it): XGBoost's margins and transforms, in its
 * order and precision. */
struct treeshap;
int scoring_predict_walked(const enc_plan_t *p, const struct treeshap *walker,
                           const struct linpart *lp, ml_task_t task, size_t k, const float *F,
                           size_t n, float **out, err_t *e);

/* expm1 of a log1p model's output: computed in double and rounded once,
 * the float nearest the true value, which a scorer elsewhere gets the same
 * way (numpy's float32 expm1 and glibc's expm1f disagree by an ulp on
 * about one value in ten). */
float scoring_expm1(float v);

/* out[c] = softmax(z)[c] over g margins, in double (the largest taken
 * out first). */
void scoring_softmax(const double *z, size_t g, float *out);

/* Turns raw booster output (n for binary / regression, n x k otherwise)
 * into n x k (binary: 1 - p, p). Frees raw. */
float *scoring_normalise(float *raw, size_t n, ml_task_t task, size_t k);

#endif
