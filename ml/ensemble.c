/*
 * ensemble.c — blends of tree models (see ensemble.h).
 *
 * Selection works in margin space, as the blend itself does: each
 * candidate's normalised outputs are turned back into margins once (logit
 * of p for binary, log p per class for multiclass: softmax does not care
 * about a per-row constant), a running sum of the chosen members' margins
 * is kept, and each step tries every candidate on top of it. The work is
 * steps x candidates x validation cells: milliseconds on the validation
 * sets the search keeps.
 *
 * Merging goes through XGBoost's JSON model format, the only way the C
 * API offers to reach the trees: a leaf's value sits in split_conditions
 * (left_children == -1 marks a leaf), base_weights holds every node's
 * weight (TreeSHAP reads leaves and covers; base_weights is scaled too so
 * that the model stays self-consistent) and loss_changes the split gains
 * (scaled so that gain importance weighs each member by its weight).
 * Trees are renumbered, tree_info (the output group of each tree) and
 * num_trees follow, and base_score becomes the weighted blend of the
 * members' base margins through the objective's link.
 */
#include "ml/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/textbuf.h"
#include "ml/xgb.h"

/* --- selection ----------------------------------------------------------- */

static size_t groups_of(ml_task_t task, size_t k)
{
    return task == TASK_MULTICLASS ? k : 1;
}

static float clampp(float p)
{
    return p < 1e-7f ? 1e-7f : p > 1 - 1e-7f ? 1 - 1e-7f : p;
}

/* Normalised outputs -> margins (nv x g). */
static void to_margin(const float *p, size_t nv, ml_task_t task, size_t k, float *m)
{
    for (size_t i = 0; i < nv; i++) {
        if (task == TASK_BINARY) {
            float q = clampp(p[2 * i + 1]);
            m[i] = logf(q / (1 - q));
        } else if (task == TASK_MULTICLASS) {
            for (size_t c = 0; c < k; c++)
                m[i * k + c] = logf(clampp(p[i * k + c]));
        } else {
            m[i] = p[i];
        }
    }
}

/* Loss of margin row-set S / t against y; with out, also the outputs. */
static double blend_loss(const float *S, double t, size_t nv, ml_task_t task, size_t k,
                         const float *y, float *out)
{
    double loss = 0;
    for (size_t i = 0; i < nv; i++) {
        if (task == TASK_REGRESSION) {
            double v = S[i] / t, d = v - y[i];
            loss += d * d;
            if (out)
                out[i] = (float)v;
        } else if (task == TASK_BINARY) {
            double z = S[i] / t, p = 1 / (1 + exp(-z));
            p = p < 1e-15 ? 1e-15 : p > 1 - 1e-15 ? 1 - 1e-15 : p;
            loss -= y[i] > 0.5f ? log(p) : log(1 - p);
            if (out) {
                out[2 * i] = (float)(1 - p);
                out[2 * i + 1] = (float)p;
            }
        } else {
            const float *s = S + i * k;
            double mx = -INFINITY, sum = 0;
            for (size_t c = 0; c < k; c++)
                mx = s[c] / t > mx ? s[c] / t : mx;
            for (size_t c = 0; c < k; c++)
                sum += exp(s[c] / t - mx);
            size_t yc = (size_t)y[i];
            double lp = s[yc] / t - mx - log(sum);
            loss -= lp < -34.5 ? -34.5 : lp;
            if (out)
                for (size_t c = 0; c < k; c++)
                    out[i * k + c] = (float)(exp(s[c] / t - mx) / sum);
        }
    }
    return nv ? loss / (double)nv : 0;
}

int ensemble_select(const float *const *pred, size_t m, size_t nv, ml_task_t task, size_t k,
                    const float *y, size_t max_steps, const long *cost, long budget,
                    int *counts, float *blend, double *loss)
{
    long spent = 0; /* serving cost of the distinct members chosen */
    size_t g = groups_of(task, k), cells = nv * g;
    float *M = malloc((m * cells + 1) * sizeof(*M));
    float *S = calloc(cells + 1, sizeof(*S));
    float *T = malloc((cells + 1) * sizeof(*T));
    if (M == NULL || S == NULL || T == NULL) {
        free(M);
        free(S);
        free(T);
        return -1;
    }
    for (size_t j = 0; j < m; j++) {
        to_margin(pred[j], nv, task, k, M + j * cells);
        counts[j] = 0;
    }
    double cur = INFINITY;
    size_t steps = 0;
    for (; steps < max_steps; steps++) {
        double best = cur;
        size_t pick = m;
        for (size_t j = 0; j < m; j++) {
            /* A new member adds its trees to every prediction; another
             * copy of one already in only changes the weights. */
            if (cost && counts[j] == 0 && spent + cost[j] > budget)
                continue;
            const float *mj = M + j * cells;
            for (size_t c = 0; c < cells; c++)
                T[c] = S[c] + mj[c];
            double l = blend_loss(T, (double)(steps + 1), nv, task, k, y, NULL);
            /* A step must gain beyond float noise, or the blend would
             * keep adding copies for nothing. */
            if (isinf(best) ? l < best : l < best - 1e-9 * fabs(best)) {
                best = l;
                pick = j;
            }
        }
        if (pick == m)
            break;
        const float *mp = M + pick * cells;
        for (size_t c = 0; c < cells; c++)
            S[c] += mp[c];
        if (cost && counts[pick] == 0)
            spent += cost[pick];
        counts[pick]++;
        cur = best;
    }
    *loss = blend_loss(S, (double)(steps ? steps : 1), nv, task, k, y, blend);
    free(M);
    free(S);
    free(T);
    return (int)steps;
}

int ensemble_pair(const float *a, const float *b, size_t nv, ml_task_t task, size_t k,
                  const float *y, size_t steps, int *counts, float *blend, double *loss)
{
    size_t g = groups_of(task, k), cells = nv * g;
    float *M = malloc((2 * cells + 1) * sizeof(*M));
    float *S = malloc((cells + 1) * sizeof(*S));
    if (M == NULL || S == NULL || steps < 2) {
        free(M);
        free(S);
        return -1;
    }
    to_margin(a, nv, task, k, M);
    to_margin(b, nv, task, k, M + cells);
    double best = INFINITY;
    for (size_t i = 1; i < steps; i++) {
        for (size_t c = 0; c < cells; c++)
            S[c] = (float)i * M[c] + (float)(steps - i) * M[cells + c];
        double l = blend_loss(S, (double)steps, nv, task, k, y, NULL);
        if (l < best) {
            best = l;
            counts[0] = (int)i;
            counts[1] = (int)(steps - i);
        }
    }
    for (size_t c = 0; c < cells; c++)
        S[c] = (float)counts[0] * M[c] + (float)counts[1] * M[cells + c];
    *loss = blend_loss(S, (double)steps, nv, task, k, y, blend);
    free(M);
    free(S);
    return (int)steps;
}

/* --- merging ------------------------------------------------------------- */

static json_object *model_json(void *b, err_t *e)
{
    void *buf = NULL;
    size_t len = 0;
    if (xgb_booster_save_as(b, "json", &buf, &len, e) < 0)
        return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
    json_tokener_free(tok);
    free(buf);
    if (root == NULL)
        err_set(e, 500, "xgboost", "model JSON does not parse");
    return root;
}

/* learner, its gbtree model object, and the model's trees. */
static int parts(json_object *root, json_object **lrn, json_object **model, json_object **trees,
                 err_t *e)
{
    json_object *gb, *name;
    if (!json_object_object_get_ex(root, "learner", lrn) ||
        !json_object_object_get_ex(*lrn, "gradient_booster", &gb) ||
        !json_object_object_get_ex(gb, "name", &name) ||
        strcmp(json_object_get_string(name), "gbtree") != 0 ||
        !json_object_object_get_ex(gb, "model", model) ||
        !json_object_object_get_ex(*model, "trees", trees) ||
        !json_object_is_type(*trees, json_type_array))
        return err_set(e, 500, "model_invalid", "not a tree model");
    return 0;
}

static int logistic(json_object *lrn)
{
    json_object *obj, *name;
    return json_object_object_get_ex(lrn, "objective", &obj) &&
           json_object_object_get_ex(obj, "name", &name) &&
           strcmp(json_object_get_string(name), "binary:logistic") == 0;
}

static json_object *base_score_obj(json_object *lrn)
{
    json_object *mp, *bs;
    if (json_object_object_get_ex(lrn, "learner_model_param", &mp) &&
        json_object_object_get_ex(mp, "base_score", &bs))
        return bs;
    return NULL;
}

static double base_score(json_object *lrn)
{
    json_object *bs = base_score_obj(lrn);
    return bs ? strtod(json_object_get_string(bs), NULL) : 0.5;
}

static void set_base_score(json_object *lrn, double v)
{
    json_object *mp;
    char buf[40];
    snprintf(buf, sizeof(buf), "%.9g", v);
    if (json_object_object_get_ex(lrn, "learner_model_param", &mp))
        json_object_object_add(mp, "base_score", json_object_new_string(buf));
}

static void scale_array(json_object *t, const char *key, const json_object *left, double f)
{
    json_object *a;
    if (!json_object_object_get_ex(t, key, &a) || !json_object_is_type(a, json_type_array))
        return;
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        if (left && json_object_get_int(json_object_array_get_idx(left, i)) != -1)
            continue; /* split_conditions of an inner node is its threshold */
        double v = json_object_get_double(json_object_array_get_idx(a, i));
        json_object_array_put_idx(a, i, json_object_new_double(v * f));
    }
}

/* Scales tree t's outputs by f and gives it id. */
static void scale_tree(json_object *t, double f, int id)
{
    json_object *left = NULL;
    json_object_object_get_ex(t, "left_children", &left);
    scale_array(t, "split_conditions", left, f);
    scale_array(t, "base_weights", NULL, f);
    scale_array(t, "loss_changes", NULL, f);
    json_object_object_add(t, "id", json_object_new_int(id));
}

static int load_json(json_object *root, void **out, err_t *e)
{
    size_t len = 0;
    const char *txt = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (txt == NULL)
        return err_set(e, 500, "internal", "out of memory");
    return xgb_booster_load(txt, len, out, e);
}

/* A placeholder no model text can hold by accident: feature names are the
 * user's, so the marker is checked to occur exactly once. */
#define TREES_MARK "@trainyard-ensemble-trees@"

int ensemble_merge(void *const *boosters, const double *weights, size_t m, void **out,
                   json_object **members, err_t *e)
{
    *out = NULL;
    *members = NULL;
    if (m == 0)
        return err_set(e, 500, "internal", "empty ensemble");
    /* Peak memory: one member's JSON tree at a time. Each member's trees
     * are scaled and written out as text at once; the first member's
     * document, with a marker for its trees, frames the blend. */
    json_object *root = NULL, *info = json_object_new_array(), *mem = json_object_new_array();
    json_object *lrn0 = NULL, *model0 = NULL;
    textbuf_t trees = {0}, doc = {0};
    double base = 0;
    int rc = -1, logit = 0;
    size_t count = 0;
    if (tb_addn(&trees, "[", 1) < 0)
        goto oom;
    for (size_t j = 0; j < m; j++) {
        json_object *r = model_json(boosters[j], e), *lrn, *model, *ts, *ti = NULL;
        if (r == NULL || parts(r, &lrn, &model, &ts, e) < 0) {
            json_object_put(r);
            goto out;
        }
        json_object_object_get_ex(model, "tree_info", &ti);
        if (j == 0) {
            logit = logistic(lrn);
        }
        double b = base_score(lrn);
        base += weights[j] * (logit ? log(b / (1 - b)) : b);
        size_t first = count, nt = json_object_array_length(ts);
        for (size_t i = 0; i < nt; i++) {
            json_object *t = json_object_array_get_idx(ts, i);
            scale_tree(t, weights[j], (int)count++);
            if ((count > 1 && tb_addn(&trees, ",", 1) < 0) || tb_json(&trees, t) < 0) {
                json_object_put(r);
                goto oom;
            }
            json_object_array_add(info, json_object_get(json_object_array_get_idx(ti, i)));
        }
        json_object *o = json_object_new_object(), *range = json_object_new_array();
        json_object_array_add(range, json_object_new_int64((int64_t)first));
        json_object_array_add(range, json_object_new_int64((int64_t)(first + nt)));
        json_object_object_add(o, "weight", json_object_new_double(weights[j]));
        json_object_object_add(o, "trees", range);
        json_object_object_add(o, "base_score", json_object_new_double(b));
        json_object_array_add(mem, o);
        if (j == 0) {
            root = r;
            lrn0 = lrn;
            model0 = model;
            json_object_object_add(model0, "trees", json_object_new_string(TREES_MARK));
        } else {
            json_object_put(r);
        }
    }
    if (tb_addn(&trees, "]", 1) < 0)
        goto oom;
    char buf[32];
    snprintf(buf, sizeof(buf), "%zu", count);
    json_object *mp;
    if (json_object_object_get_ex(model0, "gbtree_model_param", &mp))
        json_object_object_add(mp, "num_trees", json_object_new_string(buf));
    json_object_object_add(model0, "tree_info", info);
    info = NULL;
    set_base_score(lrn0, logit ? 1 / (1 + exp(-base)) : base);
    if (tb_json(&doc, root) < 0)
        goto oom;
    json_object_put(root);
    root = NULL;
    const char *mark = strstr(doc.p, "\"" TREES_MARK "\"");
    if (mark == NULL || strstr(mark + 1, "\"" TREES_MARK "\"") != NULL) {
        err_set(e, 500, "model_invalid", "ensemble: the model text holds the trees marker");
        goto out;
    }
    size_t at = (size_t)(mark - doc.p), mlen = strlen(TREES_MARK) + 2;
    textbuf_t all = {0};
    if (tb_addn(&all, doc.p, at) < 0 || tb_addn(&all, trees.p, trees.n) < 0 ||
        tb_addn(&all, doc.p + at + mlen, doc.n - at - mlen) < 0) {
        free(all.p);
        goto oom;
    }
    free(trees.p);
    trees.p = NULL;
    rc = xgb_booster_load(all.p, all.n, out, e);
    free(all.p);
    if (rc < 0)
        goto out;
    *members = mem;
    mem = NULL;
    goto out;
oom:
    err_set(e, 500, "internal", "out of memory");
out:
    free(trees.p);
    free(doc.p);
    json_object_put(root);
    json_object_put(info);
    json_object_put(mem);
    return rc;
}

int ensemble_member(const void *blend, size_t len, json_object *members, size_t i, void **out,
                    size_t *out_len, err_t *e)
{
    *out = NULL;
    json_object *o = json_object_array_get_idx(members, i), *range, *w, *bs;
    if (o == NULL || !json_object_object_get_ex(o, "trees", &range) ||
        !json_object_object_get_ex(o, "weight", &w) ||
        !json_object_object_get_ex(o, "base_score", &bs) ||
        json_object_array_length(range) != 2 || !(json_object_get_double(w) > 0))
        return err_set(e, 500, "model_invalid", "ensemble member %zu is not described", i);
    int64_t a = json_object_get_int64(json_object_array_get_idx(range, 0));
    int64_t z = json_object_get_int64(json_object_array_get_idx(range, 1));
    void *b = NULL, *sl = NULL, *mb = NULL;
    json_object *root = NULL, *lrn, *model, *ts;
    int rc = -1;
    if (xgb_booster_load(blend, len, &b, e) < 0)
        return -1;
    /* A member is whole boosting rounds (a tree per class each): slice
     * its rounds out first, so only its own trees are ever parsed. */
    size_t per = 0;
    if (xgb_booster_trees_per_round(b, &per, e) < 0)
        goto out;
    if (a < 0 || z <= a || per == 0 || a % (int64_t)per || z % (int64_t)per) {
        err_set(e, 500, "model_invalid", "ensemble member %zu has no whole rounds", i);
        goto out;
    }
    if (xgb_booster_slice_range(b, (int)(a / (int64_t)per), (int)(z / (int64_t)per), &sl, e) < 0)
        goto out;
    if ((root = model_json(sl, e)) == NULL || parts(root, &lrn, &model, &ts, e) < 0)
        goto out;
    if (json_object_array_length(ts) != (size_t)(z - a)) {
        err_set(e, 500, "model_invalid", "ensemble member %zu has no trees in the model", i);
        goto out;
    }
    double f = 1.0 / json_object_get_double(w);
    for (size_t t = 0; t < json_object_array_length(ts); t++)
        scale_tree(json_object_array_get_idx(ts, t), f, (int)t);
    set_base_score(lrn, json_object_get_double(bs));
    if (load_json(root, &mb, e) < 0 || xgb_booster_save(mb, out, out_len, e) < 0)
        goto out;
    rc = 0;
out:
    xgb_booster_free(b);
    xgb_booster_free(sl);
    xgb_booster_free(mb);
    json_object_put(root);
    return rc;
}
