/*
 * explain.c — importance and data story (see explain.h).
 *
 * The story substitutes one field at a time into the sample and predicts
 * through scoring_predict, the same path the API uses, so what it says is
 * what the served model does. Cost: fields x values x sample rows
 * predictions, bounded by EXPLAIN_TOP_FIELDS, 20 values and the caller's
 * sample size.
 */
#include "ml/explain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/linpart.h"
#include "ml/num.h"
#include "ml/xgb.h"

#define MAX_VALUES 20

int explain_importance(const enc_plan_t *p, void *booster, const linpart_t *lp, size_t k,
                       float **share, json_object **out, err_t *e)
{
    float *s = calloc(p->n + 1, sizeof(*s));
    if (s == NULL)
        return err_set(e, 500, "internal", "out of memory");
    if (p->linear) {
        size_t w = enc_linear_width(p), g = k > 2 ? k : 1;
        float *wt = NULL;
        if (xgb_linear_weights(booster, w, g, &wt, e) < 0) {
            free(s);
            return -1;
        }
        size_t o = 0;
        for (size_t j = 0; j < p->n; j++) {
            const enc_feature_t *f = &p->f[j];
            size_t cols = f->kind == ENC_CATEGORY ? f->n_levels + (f->other ? 1 : 0) : 1;
            for (size_t c = 0; c < cols; c++, o++)
                for (size_t gi = 0; gi < g; gi++)
                    s[j] += fabsf(wt[o * g + gi]);
        }
        free(wt);
    } else {
        char **names = NULL;
        float *sc = NULL;
        size_t n = 0;
        if (xgb_booster_gain(booster, &names, &sc, &n, e) < 0) {
            free(s);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < p->n; j++)
                if (strcmp(names[i], p->f[j].name) == 0)
                    s[j] += sc[i];
        enc_names_free(names, n);
        free(sc);
    }
    double total = 0;
    for (size_t j = 0; j < p->n; j++)
        total += s[j];
    if (lp != NULL) { /* the trees' shares scaled to their weight, then the linear member's */
        double tw = 1.0 - lp->weight;
        for (size_t j = 0; j < p->n; j++)
            s[j] = (float)(total > 0 ? tw * s[j] / total : tw / (double)p->n);
        total = 1.0;
        if (linpart_add_importance(lp, s) < 0) {
            free(s);
            return err_set(e, 500, "internal", "out of memory");
        }
    }
    json_object *o = json_object_new_object();
    for (size_t j = 0; j < p->n; j++) {
        s[j] = total > 0 ? (float)(s[j] / total) : (float)(1.0 / (double)p->n);
        json_object_object_add(o, p->f[j].name, json_object_new_double(s[j]));
    }
    *share = s;
    *out = o;
    return 0;
}

/* Values to try for feature j, with their display texts. */
static size_t candidate_values(const enc_feature_t *f, size_t j, size_t np, const float *F,
                               size_t m, float *vals, char texts[][64])
{
    size_t n = 0;
    if (f->kind == ENC_BOOLEAN) {
        vals[0] = 0;
        vals[1] = 1;
        snprintf(texts[0], 64, "false");
        snprintf(texts[1], 64, "true");
        return 2;
    }
    if (f->kind == ENC_CATEGORY) {
        for (size_t l = 0; l < f->n_levels && n < MAX_VALUES; l++) {
            vals[n] = (float)l;
            snprintf(texts[n++], 64, "%s", f->levels[l]);
        }
        return n;
    }
    float *v = malloc((m + 1) * sizeof(*v));
    if (v == NULL)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(F[i * np + j]))
            v[k++] = F[i * np + j];
    qsort(v, k, sizeof(*v), num_cmp_float);
    static const double q[] = {0.05, 0.25, 0.5, 0.75, 0.95};
    for (size_t t = 0; t < 5 && k > 0; t++) {
        float x = v[(size_t)(q[t] * (double)(k - 1))];
        if (n > 0 && vals[n - 1] == x)
            continue;
        vals[n] = x;
        num_format_float(x, texts[n++], 64);
    }
    free(v);
    return n;
}

int explain_story(const enc_plan_t *p, void *booster, const linpart_t *lp, ml_task_t task,
                  size_t k,
                  const char *const *classes, const char *target, const float *F, size_t m,
                  const float *share, json_object **out, err_t *e)
{
    size_t kk = task == TASK_REGRESSION ? 1 : k;
    size_t np = p->n;
    *out = NULL;
    float *base = NULL;
    if (m == 0 || scoring_predict(p, booster, lp, task, k, F, m, &base, e) < 0)
        return m == 0 ? err_set(e, 500, "internal", "no rows to explain") : -1;
    /* Top fields by importance. */
    size_t order[EXPLAIN_TOP_FIELDS], nt = 0;
    for (size_t t = 0; t < EXPLAIN_TOP_FIELDS; t++) {
        long bi = -1;
        for (size_t j = 0; j < np; j++) {
            int used = 0;
            for (size_t u = 0; u < nt; u++)
                used |= order[u] == j;
            if (!used && share[j] > 0 && (bi < 0 || share[j] > share[bi]))
                bi = (long)j;
        }
        if (bi < 0)
            break;
        order[nt++] = (size_t)bi;
    }
    /* For each top field and value: mean prediction per outcome. */
    float *X = malloc((m * np + 1) * sizeof(*X));
    float *mean = calloc(EXPLAIN_TOP_FIELDS * MAX_VALUES * kk + 1, sizeof(*mean));
    float *vals = malloc(EXPLAIN_TOP_FIELDS * MAX_VALUES * sizeof(*vals));
    char(*texts)[64] = malloc(EXPLAIN_TOP_FIELDS * MAX_VALUES * sizeof(*texts));
    size_t nv[EXPLAIN_TOP_FIELDS] = {0};
    int rc = -1;
    if (X == NULL || mean == NULL || vals == NULL || texts == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t t = 0; t < nt; t++) {
        size_t j = order[t];
        nv[t] = candidate_values(&p->f[j], j, np, F, m, vals + t * MAX_VALUES,
                                 texts + t * MAX_VALUES);
        for (size_t v = 0; v < nv[t]; v++) {
            memcpy(X, F, m * np * sizeof(*X));
            for (size_t i = 0; i < m; i++)
                X[i * np + j] = vals[t * MAX_VALUES + v];
            float *pr = NULL;
            if (scoring_predict(p, booster, lp, task, k, X, m, &pr, e) < 0)
                goto out;
            float *mv = mean + (t * MAX_VALUES + v) * kk;
            for (size_t i = 0; i < m; i++)
                for (size_t c = 0; c < kk; c++)
                    mv[c] += pr[i * kk + c] / (float)m;
            free(pr);
        }
    }
    json_object *story = json_object_new_object();
    json_object_object_add(story, "name", json_object_new_string(target));
    json_object_object_add(story, "type",
                           json_object_new_string(task == TASK_REGRESSION ? "number" : "category"));
    json_object *outcomes = json_object_new_array();
    for (size_t c = 0; c < kk; c++) {
        json_object *oc = json_object_new_object();
        json_object_object_add(oc, "outcome",
                               json_object_new_string(task == TASK_REGRESSION ? target : classes[c]));
        json_object *causes = json_object_new_array();
        for (size_t t = 0; t < nt; t++) {
            if (nv[t] == 0)
                continue;
            size_t hi = 0, lo = 0;
            for (size_t v = 1; v < nv[t]; v++) {
                float x = mean[(t * MAX_VALUES + v) * kk + c];
                if (x > mean[(t * MAX_VALUES + hi) * kk + c])
                    hi = v;
                if (x < mean[(t * MAX_VALUES + lo) * kk + c])
                    lo = v;
            }
            json_object *cause = json_object_new_object();
            json_object_object_add(cause, "field", json_object_new_string(p->f[order[t]].name));
            json_object_object_add(cause, "top_value",
                                   json_object_new_string(texts[t * MAX_VALUES + hi]));
            json_object_object_add(cause, "bottom_value",
                                   json_object_new_string(texts[t * MAX_VALUES + lo]));
            json_object_array_add(causes, cause);
        }
        json_object_object_add(oc, "causes", causes);
        double top = -INFINITY, bot = INFINITY, avg = 0;
        for (size_t i = 0; i < m; i++) {
            double x = base[i * kk + c];
            top = x > top ? x : top;
            bot = x < bot ? x : bot;
            avg += x / (double)m;
        }
        json_object_object_add(oc, "top_case", json_object_new_double(top));
        json_object_object_add(oc, "avg_case", json_object_new_double(avg));
        json_object_object_add(oc, "bottom_case", json_object_new_double(bot));
        json_object_array_add(outcomes, oc);
    }
    json_object_object_add(story, "outcomes", outcomes);
    *out = story;
    rc = 0;
out:
    free(base);
    free(X);
    free(mean);
    free(vals);
    free(texts);
    return rc;
}
