/*
 * lintree.c — the linear model as one-feature trees (see lintree.h).
 *
 * Per field: the training values (an even sample of at most LT_SAMPLE rows:
 * a million-row table must not pay a full sort per field at the end of its
 * budget) give the bins — the distinct values, or quantile groups of them
 * no wider than LT_SPREAD of margin, plus bins of their own for wide gaps
 * between training values — and cuts at the midpoints between neighbouring
 * bins. Category codes are categorical splits (XGBoost 1.7 refuses to dump
 * a numeric split on a categorical feature). The tree over the
 * bins is weight-balanced: each split divides the rows reaching it as
 * evenly as the bins allow, so that frequent values are reached in few
 * steps (digits' pixels are mostly 0) and a prediction walks about the
 * entropy of the field's values rather than log2 of their count; that walk
 * is what a blend pays per row (ENSEMBLE_MAX_VISITS in search.c). Bins get
 * a small prior weight so that rare values stay within a bounded depth.
 *
 * Missing values: XGBoost sends a missing value along each node's default
 * direction, so the default path must end at a leaf no real value reaches.
 * It runs to the rarer of the two end bins, where a guard node splits at
 * -LT_GUARD (lower end: only missing goes left) or +LT_GUARD (upper end:
 * only missing goes right); values beyond +-LT_GUARD (3e38: no real data)
 * would read as missing. For categories it runs to the rarest code, whose
 * guard splits that code off (missing and unknown codes go the other way).
 *
 * Every class group gets its own tree of the same shape (XGBoost 1.7 trees
 * have one output each), the bias goes into the first field's trees, and
 * the model is written as XGBoost 1.7 JSON and loaded back: the format
 * ensemble.c reads and writes. Covers (sum_hessian) are the training rows
 * reaching each node, plus half a row so that none is zero (TreeSHAP
 * divides by them); loss_changes are the Newton gain the split's leaf
 * values would have earned (hessian 0.25 per row for the classifiers'
 * logistic losses at p = 1/2, 1 for squared error), so that gain
 * importance weighs fields comparably with the trees of a blend.
 */
#include "ml/lintree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ml/linfit.h"
#include "ml/textbuf.h"
#include "ml/xgb.h"

#define LT_SAMPLE 200000
#define LT_GUARD 3e38f
/* Binned numbers: the most a bin's values may differ in contribution
 * (margin units), unless that would take more than LT_SPREAD_BINS bins. */
#define LT_SPREAD 0.02
#define LT_SPREAD_BINS 1024
#define LT_ROOT_PARENT 2147483647

/* --- text ---------------------------------------------------------------- */

/* A float as XGBoost's JSON reader wants it: a number with a point or an
 * exponent ("1" is an integer there, and refused where a float is due). */
static void sb_num(textbuf_t *b, double v)
{
    char buf[40];
    snprintf(buf, sizeof(buf), "%.9g", v);
    tb_printf(b, strpbrk(buf, ".eEn") ? "%s" : "%s.0", buf);
}

/* A JSON string literal of s (the user's field names). */
static void sb_str(textbuf_t *b, const char *s)
{
    json_object *o = json_object_new_string(s);
    if (o == NULL)
        b->oom = 1;
    else
        tb_json(b, o);
    json_object_put(o);
}

/* --- one field's bins ---------------------------------------------------- */

typedef struct bins {
    size_t n;                  /* bins */
    double *v;                 /* the value whose contribution a bin holds */
    double *count;             /* sampled training rows in it */
    float *cut;                /* cut[b]: lowest value of bin b (b >= 1) */
    int exact;                 /* v are the distinct values themselves */
    double missing;            /* sampled rows with the field missing */
} bins_t;

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* A split value c with a < c <= b (XGBoost: value < c goes left). */
static float cut_between(float a, float b)
{
    float c = (float)(((double)a + (double)b) / 2.0);
    return c > a ? c : b;
}

/* The bins of field j from the sample rows (every stride-th); tmp holds
 * at least the sample's size. slope: the largest change of the field's
 * contribution (any class) per unit of its value. */
static void field_bins(const lintree_in_t *in, size_t j, size_t stride, double slope, float *tmp,
                       bins_t *bn)
{
    const enc_feature_t *f = &in->plan->f[j];
    size_t p = in->plan->n, m = 0;
    bn->n = 0;
    bn->missing = 0;
    bn->exact = 1;
    if (f->kind == ENC_CATEGORY) {
        size_t K = f->n_levels + (f->other ? 1 : 0);
        for (size_t b = 0; b < K; b++) {
            bn->v[b] = (double)b;
            bn->count[b] = 0;
            bn->cut[b] = (float)b - 0.5f;
        }
        bn->n = K;
        for (size_t i = 0; i < in->n; i += stride) {
            float x = in->F[i * p + j];
            if (isnan(x))
                bn->missing++;
            else if (x >= 0 && (size_t)x < K)
                bn->count[(size_t)x]++;
        }
        return;
    }
    for (size_t i = 0; i < in->n; i += stride) {
        float x = in->F[i * p + j];
        if (isnan(x))
            bn->missing++;
        else
            tmp[m++] = x;
    }
    if (m == 0)
        return;
    qsort(tmp, m, sizeof(*tmp), cmp_float);
    size_t distinct = 1;
    int integers = 1;
    for (size_t i = 0; i < m; i++) {
        distinct += i > 0 && tmp[i] != tmp[i - 1];
        integers &= tmp[i] == floorf(tmp[i]);
    }
    bn->exact = distinct <= LINTREE_MAX_BINS;
    /* Quantile groups: a bin closes once it holds its share of the rows,
     * or once its values span more than LT_SPREAD of contribution (sparse
     * tails: a quantile bin there can span a wide range, and the leaf is
     * off by the slope times the distance to the bin's mean), with at most
     * LT_SPREAD_BINS bins of that kind. A value is never split between
     * two bins. */
    double share = bn->exact ? 0 : (double)m / LINTREE_MAX_BINS, sum = 0;
    double width = slope * ((double)tmp[m - 1] - (double)tmp[0]) / LT_SPREAD_BINS;
    width = width > LT_SPREAD ? width : LT_SPREAD;
    float first = tmp[0];
    for (size_t i = 0; i < m; i++) {
        int starts = i == 0 || (tmp[i] != tmp[i - 1] &&
                                (bn->exact || bn->count[bn->n - 1] >= share ||
                                 slope * ((double)tmp[i] - (double)first) > width));
        if (starts) {
            first = tmp[i];
            float cut = i == 0 ? 0.0f : cut_between(tmp[i - 1], tmp[i]);
            if (bn->n > 0) {
                bn->v[bn->n - 1] = bn->exact ? (double)tmp[i - 1] : sum / bn->count[bn->n - 1];
                /* A gap between training values wider than a bin may
                 * span: empty bins of about that width cover it, each
                 * holding g at its middle, so that a value there is not
                 * read as the nearest training value (credit_data: an
                 * Assets value of 250000 between training values of
                 * 150000 and 300000). Integers one apart keep the
                 * midpoint: no value of theirs lies between (digits). */
                double a = tmp[i - 1], gap = (double)tmp[i] - a;
                size_t q = integers && gap <= 1 ? 0 : (size_t)ceil(slope * gap / width);
                if (q >= 3) {
                    double step = gap / (double)q;
                    for (size_t t = 1; t + 1 < q; t++) {
                        float c = (float)(a + step * (double)t);
                        if (!(c > a && (bn->n == 1 || c > bn->cut[bn->n - 1]) && c < tmp[i]))
                            continue;
                        bn->cut[bn->n] = c;
                        bn->v[bn->n] = a + step * ((double)t + 0.5);
                        bn->count[bn->n++] = 0;
                    }
                    float c = (float)(a + step * (double)(q - 1));
                    cut = c > a && (bn->n == 1 || c > bn->cut[bn->n - 1]) && c < tmp[i] ? c : cut;
                }
            }
            bn->cut[bn->n] = cut;
            bn->count[bn->n++] = 0;
            sum = 0;
        }
        bn->count[bn->n - 1]++;
        sum += tmp[i];
    }
    bn->v[bn->n - 1] = bn->exact ? (double)tmp[m - 1] : sum / bn->count[bn->n - 1];
}

/* Contribution of bin b (or missing: b < 0) of field j to class group c:
 * what the linear model adds for it, computed as enc_expand_linear
 * computes the input (a float), so that a distinct value is exact. */
static double contribution(const lintree_in_t *in, size_t j, size_t off, const bins_t *bn,
                           long b, size_t c, size_t g)
{
    const enc_feature_t *f = &in->plan->f[j];
    if (b < 0)
        return 0.0;
    if (f->kind == ENC_CATEGORY)
        return in->coef[(off + (size_t)b) * g + c];
    double x = bn->exact ? (double)(float)((bn->v[b] - f->mean) / f->scale)
                         : (bn->v[b] - f->mean) / f->scale;
    return in->coef[off * g + c] * x;
}

/* --- one field's tree shape ---------------------------------------------- */

typedef struct tnode {
    int left, right, parent;   /* the children are adjacent: right = left + 1,
                                * which XGBoost's predictor assumes */
    float cond;                /* numbers: value < cond goes left */
    size_t set_lo, set_hi;     /* categories: codes [set_lo, set_hi) go right
                                * (a categorical split; the rest goes left) */
    int default_left;
    long bin;                  /* leaf: its bin, -1 the missing leaf; inner: -2 */
    int depth;
    double cover;
} tnode_t;

typedef struct shape {
    tnode_t *nd;
    size_t n, cap;
    int categorical;           /* splits on category codes */
} shape_t;

static int node_new(shape_t *s, int parent, int depth)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        tnode_t *q = realloc(s->nd, cap * sizeof(*q));
        if (q == NULL)
            return -1;
        s->nd = q;
        s->cap = cap;
    }
    s->nd[s->n] = (tnode_t){.left = -1, .right = -1, .parent = parent, .bin = -2,
                            .depth = depth};
    return (int)s->n++;
}

/* Makes node id the subtree over bins [lo, hi). The missing path leads to
 * bin guard, whose leaf becomes a guard node: numbers split at -LT_GUARD
 * (guard_low: the lower end bin, missing left) or +LT_GUARD (the upper end,
 * missing right); categories split off the guard's own code, missing left.
 * Returns 0, or -1 out of memory. */
static int build(shape_t *s, const bins_t *bn, const double *wt, size_t lo, size_t hi, int id,
                 size_t guard, int guard_low)
{
    if (hi - lo == 1 && lo != guard) {
        s->nd[id].bin = (long)lo;
        return 0;
    }
    int depth = s->nd[id].depth;
    int l = node_new(s, id, depth + 1), r = l < 0 ? -1 : node_new(s, id, depth + 1);
    if (r < 0)
        return -1;
    tnode_t *d = &s->nd[id];
    d->left = l;
    d->right = r;
    if (hi - lo == 1) { /* the guard: only a missing value goes its way */
        d->cond = guard_low ? -LT_GUARD : LT_GUARD;
        d->set_lo = lo;
        d->set_hi = lo + 1;
        d->default_left = guard_low;
        s->nd[l].bin = guard_low ? -1 : (long)lo;
        s->nd[r].bin = guard_low ? (long)lo : -1;
        return 0;
    }
    double tot = 0, acc = 0, bd = INFINITY;
    size_t mid = lo + 1;
    for (size_t b = lo; b < hi; b++)
        tot += wt[b];
    for (size_t b = lo + 1; b < hi; b++) {
        acc += wt[b - 1];
        if (fabs(acc - tot / 2) < bd) {
            bd = fabs(acc - tot / 2);
            mid = b;
        }
    }
    d->cond = bn->cut[mid];
    d->set_lo = mid;
    d->set_hi = hi;
    d->default_left = guard < mid;
    if (build(s, bn, wt, lo, mid, l, guard, guard_low) < 0)
        return -1;
    return build(s, bn, wt, mid, hi, r, guard, guard_low);
}

/* --- the model ----------------------------------------------------------- */

/* One tree of shape s for class group c into trees (its values: val per
 * node, leaves' filled, the rest computed here). */
static void write_tree(textbuf_t *t, const shape_t *s, double *val, size_t feature, int id,
                       size_t p, double h)
{
    size_t n = s->n;
    /* Children come after parents: one backward pass gives the inner
     * nodes' cover-weighted means. */
    for (size_t i = n; i-- > 0;) {
        const tnode_t *d = &s->nd[i];
        if (d->left >= 0)
            val[i] = (s->nd[d->left].cover * val[d->left] +
                      s->nd[d->right].cover * val[d->right]) / d->cover;
    }
#define ARRAY(key, fmt, expr)                                                                      \
    do {                                                                                           \
        tb_printf(t, "\"" key "\":[");                                                              \
        for (size_t i = 0; i < n; i++)                                                             \
            tb_printf(t, i ? "," fmt : fmt, expr);                                                    \
        tb_printf(t, "],");                                                                           \
    } while (0)
#define NUMBERS(key, expr)                                                                         \
    do {                                                                                           \
        tb_printf(t, "\"" key "\":[");                                                              \
        for (size_t i = 0; i < n; i++) {                                                           \
            tb_printf(t, i ? "," : "");                                                               \
            sb_num(t, expr);                                                                       \
        }                                                                                          \
        tb_printf(t, "],");                                                                           \
    } while (0)
    tb_printf(t, "{");
    NUMBERS("base_weights", val[i]);
    /* Category sets: the codes of each categorical split, node by node. */
    int cat = s->categorical;
    tb_printf(t, "\"categories\":[");
    for (size_t i = 0, k = 0; cat && i < n; i++)
        for (size_t v = s->nd[i].set_lo; s->nd[i].left >= 0 && v < s->nd[i].set_hi; v++)
            tb_printf(t, k++ ? ",%zu" : "%zu", v);
    tb_printf(t, "],");
    const char *keys[3] = {"categories_nodes", "categories_segments", "categories_sizes"};
    for (int a = 0; a < 3; a++) {
        tb_printf(t, "\"%s\":[", keys[a]);
        for (size_t i = 0, k = 0, seg = 0; cat && i < n; i++) {
            const tnode_t *d = &s->nd[i];
            if (d->left < 0)
                continue;
            tb_printf(t, k++ ? ",%zu" : "%zu", a == 0 ? i : a == 1 ? seg : d->set_hi - d->set_lo);
            seg += d->set_hi - d->set_lo;
        }
        tb_printf(t, "],");
    }
    ARRAY("default_left", "%d", s->nd[i].default_left);
    tb_printf(t, "\"id\":%d,", id);
    ARRAY("left_children", "%d", s->nd[i].left);
    NUMBERS("loss_changes",
          s->nd[i].left < 0 ? 0.0
                            : h * (s->nd[s->nd[i].left].cover * val[s->nd[i].left] *
                                       val[s->nd[i].left] +
                                   s->nd[s->nd[i].right].cover * val[s->nd[i].right] *
                                       val[s->nd[i].right] -
                                   s->nd[i].cover * val[i] * val[i]));
    ARRAY("parents", "%d", s->nd[i].parent);
    ARRAY("right_children", "%d", s->nd[i].right);
    NUMBERS("split_conditions", s->nd[i].left < 0 ? val[i] : cat ? 0.0 : (double)s->nd[i].cond);
    ARRAY("split_indices", "%zu", s->nd[i].left < 0 ? (size_t)0 : feature);
    ARRAY("split_type", "%d", cat && s->nd[i].left >= 0);
    NUMBERS("sum_hessian", s->nd[i].cover);
#undef ARRAY
#undef NUMBERS
    tb_printf(t, "\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"%zu\",\"num_nodes\":"
              "\"%zu\",\"size_leaf_vector\":\"0\"}}", p, n);
}

int lintree_compile(const lintree_in_t *in, void **out, lintree_stats_t *st, err_t *e)
{
    const enc_plan_t *pl = in->plan;
    size_t p = pl->n, g = linfit_groups(in->task, in->k), w = enc_linear_width(pl);
    size_t stride = in->n > LT_SAMPLE ? (in->n + LT_SAMPLE - 1) / LT_SAMPLE : 1;
    size_t ns = in->n ? (in->n - 1) / stride + 1 : 0;
    /* Bins: the distinct values at most, gap bins besides (field_bins). */
    size_t cap = (ns > ENC_MAX_LEVELS + 1 ? ns : ENC_MAX_LEVELS + 1) + LT_SPREAD_BINS + 2;
    *out = NULL;
    for (size_t i = 0; i < (w + 1) * g; i++)
        if (!isfinite(in->coef[i]))
            return err_set(e, 500, "internal", "linear coefficients are not finite");
    /* Base margin: binary 0 (base_score 1/2), multiclass 1/2 in every
     * class (softprob adds base_score as a margin), regression the bias
     * itself; the rest of the bias goes into the first trees. */
    double base_score = in->task == TASK_REGRESSION ? in->coef[w * g] : 0.5;
    double base_margin = in->task == TASK_BINARY ? 0.0 : base_score;
    double h = in->task == TASK_REGRESSION ? 1.0 : 0.25;
    bins_t bn = {.v = malloc(cap * sizeof(double)), .count = malloc(cap * sizeof(double)),
                 .cut = malloc(cap * sizeof(float))};
    float *tmp = malloc((ns + 1) * sizeof(float));
    double *wt = malloc(cap * sizeof(double)), *val = NULL;
    shape_t s = {0};
    textbuf_t trees = {0}, info = {0}, doc = {0};
    int rc = -1, count = 0, bias_done = 0;
    double walk = 0;
    size_t exact = 0;
    if (bn.v == NULL || bn.count == NULL || bn.cut == NULL || tmp == NULL || wt == NULL)
        goto oom;
    size_t off = 0;
    for (size_t j = 0; j <= p; j++) {
        const enc_feature_t *f = j < p ? &pl->f[j] : NULL;
        size_t width = f == NULL ? 0 : f->kind == ENC_CATEGORY ? f->n_levels + (f->other ? 1 : 0)
                                                               : 1;
        s.n = 0;
        if (f != NULL) {
            double slope = 0;
            for (size_t c = 0; c < g && f->kind != ENC_CATEGORY; c++)
                slope = fabs(in->coef[off * g + c]) > slope ? fabs(in->coef[off * g + c]) : slope;
            field_bins(in, j, stride, slope / f->scale, tmp, &bn);
            /* A field the model gives no weight adds nothing: no trees
             * (nor for one the sample never saw: it has no bins). */
            int used = 0;
            for (size_t i = off * g; i < (off + width) * g && bn.n > 0; i++)
                used |= in->coef[i] != 0.0;
            if (used) {
                exact += bn.exact;
                double tot = bn.missing, prior;
                for (size_t b = 0; b < bn.n; b++)
                    tot += bn.count[b];
                prior = tot / (4.0 * (double)bn.n) + 1e-9;
                for (size_t b = 0; b < bn.n; b++)
                    wt[b] = bn.count[b] + prior;
                /* The missing path ends at the rarest bin a guard can
                 * hold: an end bin for numbers, any code for categories. */
                s.categorical = f->kind == ENC_CATEGORY;
                size_t guard = bn.count[0] <= bn.count[bn.n - 1] ? 0 : bn.n - 1;
                for (size_t b = 0; s.categorical && b < bn.n; b++)
                    guard = bn.count[b] < bn.count[guard] ? b : guard;
                int low = s.categorical || guard == 0;
                if (node_new(&s, LT_ROOT_PARENT, 0) < 0 ||
                    build(&s, &bn, wt, 0, bn.n, 0, guard, low) < 0)
                    goto oom;
            }
        } else if (!bias_done) {
            /* No field carries weight: one round of single leaves holds
             * the bias. */
            if (node_new(&s, LT_ROOT_PARENT, 0) < 0)
                goto oom;
            s.categorical = 0;
            s.nd[0].bin = -1;
            bn.missing = 1;
        }
        off += width;
        if (s.n == 0)
            continue;
        free(val);
        val = malloc(s.n * sizeof(*val));
        if (val == NULL)
            goto oom;
        for (size_t i = s.n; i-- > 0;) {
            tnode_t *d = &s.nd[i];
            if (d->left >= 0) {
                d->cover = s.nd[d->left].cover + s.nd[d->right].cover;
                continue;
            }
            double rows = d->bin < 0 ? bn.missing : bn.count[d->bin];
            d->cover = rows + 0.5;
            walk += (double)g * d->depth * rows / (double)(ns ? ns : 1);
        }
        for (size_t c = 0; c < g; c++) {
            double bias = bias_done ? 0.0 : in->coef[w * g + c] - base_margin;
            for (size_t i = 0; i < s.n; i++)
                if (s.nd[i].left < 0)
                    val[i] = bias + (f ? contribution(in, j, off - width, &bn, s.nd[i].bin, c, g)
                                       : 0.0);
            tb_printf(&trees, count ? "," : "");
            write_tree(&trees, &s, val, f ? j : 0, count, p, h);
            tb_printf(&info, count ? ",%zu" : "%zu", c);
            count++;
        }
        bias_done = 1;
    }
    tb_printf(&doc, "{\"learner\":{\"attributes\":{},\"feature_names\":[");
    for (size_t j = 0; j < p; j++) {
        tb_printf(&doc, j ? "," : "");
        sb_str(&doc, pl->f[j].name);
    }
    tb_printf(&doc, "],\"feature_types\":[");
    for (size_t j = 0; j < p; j++)
        tb_printf(&doc, "%s\"%s\"", j ? "," : "", pl->f[j].kind == ENC_CATEGORY ? "c" : "q");
    tb_printf(&doc, "],\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{"
                 "\"num_parallel_tree\":\"1\",\"num_trees\":\"%d\",\"size_leaf_vector\":\"0\"},"
                 "\"tree_info\":[%s],\"trees\":[%s]},\"name\":\"gbtree\"},",
           count, info.p ? info.p : "", trees.p ? trees.p : "");
    tb_printf(&doc, "\"learner_model_param\":{\"base_score\":\"%.9g\",\"boost_from_average\":\"1\","
                 "\"num_class\":\"%zu\",\"num_feature\":\"%zu\",\"num_target\":\"1\"},",
           base_score, in->task == TASK_MULTICLASS ? in->k : (size_t)0, p);
    if (in->task == TASK_MULTICLASS)
        tb_printf(&doc, "\"objective\":{\"name\":\"multi:softprob\",\"softmax_multiclass_param\":"
                     "{\"num_class\":\"%zu\"}}", in->k);
    else
        tb_printf(&doc, "\"objective\":{\"name\":\"%s\",\"reg_loss_param\":{\"scale_pos_weight\":"
                     "\"1\"}}", in->task == TASK_BINARY ? "binary:logistic" : "reg:squarederror");
    tb_printf(&doc, "},\"version\":[1,7,4]}");
    if (trees.oom || info.oom || doc.oom)
        goto oom;
    rc = xgb_booster_load(doc.p, doc.n, out, e);
    if (rc == 0 && st)
        *st = (lintree_stats_t){.visits = walk, .rounds = (size_t)count / g,
                                .exact_fields = exact};
    goto done;
oom:
    err_set(e, 500, "internal", "out of memory");
done:
    free(bn.v);
    free(bn.count);
    free(bn.cut);
    free(tmp);
    free(wt);
    free(val);
    free(s.nd);
    free(trees.p);
    free(info.p);
    free(doc.p);
    return rc;
}
