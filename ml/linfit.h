/*
 * linfit.h — the linear candidate's solver: L2-regularised logistic
 * regression (binary, multinomial) and ridge regression, fit by L-BFGS on
 * the expanded linear input (encode.h: numbers standardised, categories
 * one-hot).
 *
 * Why not XGBoost's gblinear: its coordinate descent needs hundreds of
 * rounds on correlated inputs (digits: 64 pixels) and did not converge in
 * its share of a 10 s budget; a quasi-Newton solver converges in tens of
 * milliseconds on the same data. The fitted coefficients are handed to
 * XGBoost as a gblinear model (xgb_linear_with_weights), so the exported
 * model is still a plain XGBoost booster.
 *
 * Coefficients use gblinear's layout: (w + 1) x g doubles, feature-major,
 * bias last row; g = k for multiclass, else 1. The objective is sklearn's
 * with C = 1 / lambda: sum of (weighted) row losses + lambda/2 |beta|^2,
 * the bias unpenalised.
 */
#ifndef TRAINYARD_ML_LINFIT_H
#define TRAINYARD_ML_LINFIT_H

#include <stddef.h>

#include "ml/scoring.h"

typedef struct linfit_problem {
    const float *X;            /* n x w, row-major */
    size_t n, w;
    const float *y;            /* class index or value per row */
    const float *wt;           /* row weights or NULL */
    size_t skip_begin, skip_end; /* rows [skip_begin, skip_end) are left out */
    ml_task_t task;
    size_t k;                  /* classes (1 for regression) */
} linfit_problem_t;

/* Coefficient groups: k for multiclass, 1 otherwise. */
size_t linfit_groups(ml_task_t task, size_t k);

/* Minimises the objective from the start point in coef (zeros, or a warm
 * start), in place. Stops when converged, after max_iter iterations or at
 * monotonic time end. Returns the iterations run (>= 0), or -1 out of
 * memory. *converged (may be NULL) says whether it converged. */
int linfit_fit(const linfit_problem_t *p, double lambda, double *coef, int max_iter, double end,
               int *converged);

/* out: n x k class probabilities (binary: 1 - p, p) or n values. */
void linfit_predict(const double *coef, const float *X, size_t n, size_t w, ml_task_t task,
                    size_t k, float *out);

#endif
