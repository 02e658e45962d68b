/*
 * metrics.h — validation metrics and Akkio's per-class "stats".
 *
 * Class probabilities are always n x k row-major (binary included: k = 2),
 * labels are class indices 0..k-1.
 */
#ifndef TRAINYARD_ML_METRICS_H
#define TRAINYARD_ML_METRICS_H

#include <stddef.h>

#include <json-c/json.h>

/* ROC AUC of scores for label 1 (ties averaged); 0.5 if one class only. */
double metric_auc(const float *score, const int *y, size_t n);
double metric_accuracy(const float *prob, const int *y, size_t n, size_t k);
double metric_logloss(const float *prob, const int *y, size_t n, size_t k);
double metric_macro_f1(const float *prob, const int *y, size_t n, size_t k);
double metric_rmse(const float *pred, const float *y, size_t n);
double metric_mae(const float *pred, const float *y, size_t n);
double metric_r2(const float *pred, const float *y, size_t n);
size_t metric_argmax(const float *row, size_t k);

/* Akkio's stats list for one predict field: one object per class with
 * field, field_name, field_type, class, class_name, count, "true positives",
 * "false positives", "false negatives", precision, recall, f1, frequency. */
json_object *metric_class_stats(long field, const char *field_name, const char *field_type,
                                const char *const *class_names, const float *prob, const int *y,
                                size_t n, size_t k);
/* Regression: [{field, field_name, field_type, count, mae, rmse, r2}]. */
json_object *metric_regression_stats(long field, const char *field_name, const float *pred,
                                     const float *y, size_t n);

/* Chart data for the console (the result's "charts", beside Akkio's keys),
 * computed on the same validation rows as the stats.
 * Classification: {"confusion_matrix":{"labels":[…],"matrix":[[…]]}} with
 * matrix[actual][predicted]; for k = 2 also "roc" {"positive","auc",
 * "points":[[fpr,tpr,threshold],…]} and "pr" {"positive","average_precision",
 * "points":[[recall,precision,threshold],…]}, each at most
 * METRIC_CURVE_POINTS points from (0,0) / recall 0 to the end. */
#define METRIC_CURVE_POINTS 201
json_object *metric_class_charts(const char *const *class_names, const float *prob,
                                 const int *y, size_t n, size_t k);
/* Regression: {"residuals":{"count","actual":[…],"predicted":[…]}}, an
 * evenly spaced sample of at most METRIC_RESIDUAL_SAMPLE rows (actual and
 * predicted in the same order; residual = actual - predicted). */
#define METRIC_RESIDUAL_SAMPLE 500
json_object *metric_regression_charts(const float *pred, const float *y, size_t n);

#endif
