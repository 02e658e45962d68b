/*
 * metrics.c — metrics computed from predictions held in memory (see
 * metrics.h). Computed here rather than parsed from XGBoost's evaluation
 * text so that every candidate (tree or linear, holdout or k-fold) is
 * ranked by one implementation.
 */
#include "ml/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct scored {
    float s;
    int y;
} scored_t;

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const scored_t *)a)->s, y = ((const scored_t *)b)->s;
    return (x > y) - (x < y);
}

double metric_auc(const float *score, const int *y, size_t n)
{
    scored_t *v = malloc((n ? n : 1) * sizeof(*v));
    if (v == NULL)
        return 0.5;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = (scored_t){score[i], y[i]};
        pos += y[i] == 1;
    }
    size_t neg = n - pos;
    if (pos == 0 || neg == 0) {
        free(v);
        return 0.5;
    }
    qsort(v, n, sizeof(*v), cmp_scored);
    double rank_sum = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j + 1 < n && v[j + 1].s == v[i].s)
            j++;
        double avg = (double)(i + j) / 2.0 + 1.0;
        for (size_t t = i; t <= j; t++)
            if (v[t].y == 1)
                rank_sum += avg;
        i = j + 1;
    }
    free(v);
    return (rank_sum - (double)pos * (double)(pos + 1) / 2.0) / ((double)pos * (double)neg);
}

size_t metric_argmax(const float *row, size_t k)
{
    size_t best = 0;
    for (size_t c = 1; c < k; c++)
        if (row[c] > row[best])
            best = c;
    return best;
}

double metric_accuracy(const float *prob, const int *y, size_t n, size_t k)
{
    if (n == 0)
        return 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += metric_argmax(prob + i * k, k) == (size_t)y[i];
    return (double)ok / (double)n;
}

double metric_logloss(const float *prob, const int *y, size_t n, size_t k)
{
    if (n == 0)
        return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double p = prob[i * k + (size_t)y[i]];
        s -= log(p < 1e-15 ? 1e-15 : p);
    }
    return s / (double)n;
}

typedef struct confusion {
    size_t tp, fp, fn, count;
} confusion_t;

static confusion_t *confusions(const float *prob, const int *y, size_t n, size_t k)
{
    confusion_t *c = calloc(k ? k : 1, sizeof(*c));
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t p = metric_argmax(prob + i * k, k), t = (size_t)y[i];
        c[t].count++;
        if (p == t) {
            c[t].tp++;
        } else {
            c[p].fp++;
            c[t].fn++;
        }
    }
    return c;
}

static double safe_div(double a, double b)
{
    return b > 0 ? a / b : 0.0;
}

double metric_macro_f1(const float *prob, const int *y, size_t n, size_t k)
{
    confusion_t *c = confusions(prob, y, n, k);
    if (c == NULL || k == 0) {
        free(c);
        return 0;
    }
    double s = 0;
    for (size_t j = 0; j < k; j++) {
        double pr = safe_div((double)c[j].tp, (double)(c[j].tp + c[j].fp));
        double re = safe_div((double)c[j].tp, (double)(c[j].tp + c[j].fn));
        s += safe_div(2 * pr * re, pr + re);
    }
    free(c);
    return s / (double)k;
}

double metric_rmse(const float *pred, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - y[i];
        s += d * d;
    }
    return n ? sqrt(s / (double)n) : 0;
}

double metric_mae(const float *pred, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)pred[i] - y[i]);
    return n ? s / (double)n : 0;
}

double metric_r2(const float *pred, const float *y, size_t n)
{
    if (n == 0)
        return 0;
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += y[i];
    mean /= (double)n;
    double ss_res = 0, ss_tot = 0;
    for (size_t i = 0; i < n; i++) {
        ss_res += ((double)y[i] - pred[i]) * ((double)y[i] - pred[i]);
        ss_tot += ((double)y[i] - mean) * ((double)y[i] - mean);
    }
    return ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
}

json_object *metric_class_stats(long field, const char *field_name, const char *field_type,
                                const char *const *class_names, const float *prob, const int *y,
                                size_t n, size_t k)
{
    json_object *arr = json_object_new_array();
    confusion_t *c = confusions(prob, y, n, k);
    if (c == NULL)
        return arr;
    for (size_t j = 0; j < k; j++) {
        double pr = safe_div((double)c[j].tp, (double)(c[j].tp + c[j].fp));
        double re = safe_div((double)c[j].tp, (double)(c[j].tp + c[j].fn));
        json_object *o = json_object_new_object();
        json_object_object_add(o, "field", json_object_new_int64(field));
        json_object_object_add(o, "field_name", json_object_new_string(field_name));
        json_object_object_add(o, "field_type", json_object_new_string(field_type));
        json_object_object_add(o, "class", json_object_new_int64((int64_t)j));
        json_object_object_add(o, "class_name", json_object_new_string(class_names[j]));
        json_object_object_add(o, "count", json_object_new_int64((int64_t)c[j].count));
        json_object_object_add(o, "true positives", json_object_new_int64((int64_t)c[j].tp));
        json_object_object_add(o, "false positives", json_object_new_int64((int64_t)c[j].fp));
        json_object_object_add(o, "false negatives", json_object_new_int64((int64_t)c[j].fn));
        json_object_object_add(o, "precision", json_object_new_double(pr));
        json_object_object_add(o, "recall", json_object_new_double(re));
        json_object_object_add(o, "f1", json_object_new_double(safe_div(2 * pr * re, pr + re)));
        json_object_object_add(o, "frequency",
                               json_object_new_double(safe_div((double)c[j].count, (double)n)));
        json_object_array_add(arr, o);
    }
    free(c);
    return arr;
}

json_object *metric_regression_stats(long field, const char *field_name, const float *pred,
                                     const float *y, size_t n)
{
    json_object *arr = json_object_new_array();
    json_object *o = json_object_new_object();
    json_object_object_add(o, "field", json_object_new_int64(field));
    json_object_object_add(o, "field_name", json_object_new_string(field_name));
    json_object_object_add(o, "field_type", json_object_new_string("number"));
    json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
    json_object_object_add(o, "mae", json_object_new_double(metric_mae(pred, y, n)));
    json_object_object_add(o, "rmse", json_object_new_double(metric_rmse(pred, y, n)));
    json_object_object_add(o, "r2", json_object_new_double(metric_r2(pred, y, n)));
    json_object_array_add(arr, o);
    return arr;
}

/* --- chart data ----------------------------------------------------------
 * The console draws its charts from the result document alone (a model's
 * page must not need the validation rows), so the points are computed here
 * once, while the predictions are still in memory, and thinned to a size a
 * browser plots at once: curves keep at most METRIC_CURVE_POINTS points, the
 * residual plot an even sample of rows. */

/* A number written with `digits` significant digits: json-c writes every
 * double with 17, which would make the chart data most of a result
 * document; rates need 5 to be drawn exactly, float inputs carry 7
 * (%.*g's text parses back to the same value everywhere). */
static json_object *json_num(double v, int digits)
{
    char buf[32];
    if (!isfinite(v))
        return json_object_new_double(v);
    snprintf(buf, sizeof(buf), "%.*g", digits, v);
    return json_object_new_double_s(strtod(buf, NULL), buf);
}

static json_object *json_point3(double a, double b, double c)
{
    json_object *p = json_object_new_array_ext(3);
    json_object_array_add(p, json_num(a, 5));
    json_object_array_add(p, json_num(b, 5));
    json_object_array_add(p, json_num(c, 5));
    return p;
}

/* Thresholds at each distinct score, highest first: one (fpr, tpr) and one
 * (recall, precision) per distinct score, so ties never draw a staircase
 * that no threshold produces. The point lists are thinned by index, always
 * keeping the last point (everything predicted positive). */
static void binary_curves(const float *prob, const int *y, size_t n, json_object *charts,
                          const char *positive)
{
    scored_t *v = malloc((n ? n : 1) * sizeof(*v));
    if (v == NULL)
        return;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = (scored_t){prob[i * 2 + 1], y[i] == 1};
        pos += y[i] == 1;
    }
    size_t neg = n - pos;
    qsort(v, n, sizeof(*v), cmp_scored); /* ascending: walk from the end */
    /* Count the distinct thresholds first to know the thinning step. */
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || v[i].s != v[i - 1].s;
    size_t step = distinct > METRIC_CURVE_POINTS - 1
                      ? (distinct + METRIC_CURVE_POINTS - 2) / (METRIC_CURVE_POINTS - 1)
                      : 1;
    json_object *roc = json_object_new_array(), *pr = json_object_new_array();
    json_object_array_add(roc, json_point3(0, 0, 1));
    size_t tp = 0, fp = 0, seen = 0;
    double ap = 0, auc = 0, prev_recall = 0, prev_fpr = 0;
    size_t i = n;
    while (i > 0) {
        float s = v[i - 1].s;
        while (i > 0 && v[i - 1].s == s) {
            tp += (size_t)v[i - 1].y;
            fp += (size_t)!v[i - 1].y;
            i--;
        }
        seen++;
        double tpr = safe_div((double)tp, (double)pos), fpr = safe_div((double)fp, (double)neg);
        double precision = safe_div((double)tp, (double)(tp + fp));
        /* Average precision as scikit-learn defines it: the sum of
         * precision times the recall gained at each threshold. */
        ap += (tpr - prev_recall) * precision;
        /* The trapezoid under each step equals the rank AUC with ties
         * averaged (metric_auc). */
        auc += (fpr - prev_fpr) * (tpr + prev_recall) / 2.0;
        prev_recall = tpr;
        prev_fpr = fpr;
        if (seen % step == 0 || i == 0) {
            json_object_array_add(roc, json_point3(fpr, tpr, s));
            json_object_array_add(pr, json_point3(tpr, precision, s));
        }
    }
    free(v);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "positive", json_object_new_string(positive));
    json_object_object_add(o, "auc", json_object_new_double(pos && neg ? auc : 0.5));
    json_object_object_add(o, "points", roc);
    json_object_object_add(charts, "roc", o);
    o = json_object_new_object();
    json_object_object_add(o, "positive", json_object_new_string(positive));
    json_object_object_add(o, "average_precision", json_object_new_double(ap));
    json_object_object_add(o, "points", pr);
    json_object_object_add(charts, "pr", o);
}

json_object *metric_class_charts(const char *const *class_names, const float *prob,
                                 const int *y, size_t n, size_t k)
{
    json_object *charts = json_object_new_object();
    size_t *m = calloc(k * k + 1, sizeof(*m));
    if (m == NULL)
        return charts;
    for (size_t i = 0; i < n; i++)
        m[(size_t)y[i] * k + metric_argmax(prob + i * k, k)]++;
    json_object *labels = json_object_new_array_ext((int)k), *rows = json_object_new_array_ext((int)k);
    for (size_t a = 0; a < k; a++) {
        json_object_array_add(labels, json_object_new_string(class_names[a]));
        json_object *row = json_object_new_array_ext((int)k);
        for (size_t p = 0; p < k; p++)
            json_object_array_add(row, json_object_new_int64((int64_t)m[a * k + p]));
        json_object_array_add(rows, row);
    }
    free(m);
    json_object *cm = json_object_new_object();
    json_object_object_add(cm, "labels", labels);
    json_object_object_add(cm, "matrix", rows);
    json_object_object_add(charts, "confusion_matrix", cm);
    if (k == 2)
        binary_curves(prob, y, n, charts, class_names[1]);
    return charts;
}

json_object *metric_regression_charts(const float *pred, const float *y, size_t n)
{
    size_t m = n < METRIC_RESIDUAL_SAMPLE ? n : METRIC_RESIDUAL_SAMPLE;
    json_object *actual = json_object_new_array_ext((int)m),
                *predicted = json_object_new_array_ext((int)m);
    for (size_t j = 0; j < m; j++) {
        size_t i = j * n / m; /* even spacing over the validation rows */
        json_object_array_add(actual, json_num(y[i], 7));
        json_object_array_add(predicted, json_num(pred[i], 7));
    }
    json_object *res = json_object_new_object();
    json_object_object_add(res, "count", json_object_new_int64((int64_t)n));
    json_object_object_add(res, "actual", actual);
    json_object_object_add(res, "predicted", predicted);
    json_object *charts = json_object_new_object();
    json_object_object_add(charts, "residuals", res);
    return charts;
}
