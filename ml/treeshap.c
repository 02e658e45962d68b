/*
 * treeshap.c — exact TreeSHAP in one pass per tree (see treeshap.h).
 *
 * Walking down, each node carries G(t), the product over the features on
 * its path of (t o_j + (1-t) z_j), as values at the m quadrature nodes;
 * walking back up, each child returns S(t), the sum over the leaves below
 * it of the leaf value times the factors added below it. A split on
 * feature i then owes i, per child c, (o_c - z_c) * integral G S_c. When i
 * was already split on higher up the path, the factors of i combine (o
 * multiplied, z multiplied) and the split adds the combined term while
 * taking back the term the earlier split counted for the same leaves;
 * both are computed from the same values at the same nodes, so the
 * non-polynomial parts cancel and only exact integrals remain.
 *
 * Degree: a leaf's polynomial has one factor per distinct feature on its
 * path, so m = D/2 + 1 nodes integrate it exactly (D: the most distinct
 * features on any path). Numbers are doubles; XGBoost's own are floats.
 *
 * Small trees are cheaper still: a row's contributions from one tree
 * depend only on which way it goes at each of the tree's K splits, so a
 * tree with K <= TABLE_MAX_SPLITS gets a table of the 2^K outcomes
 * (computed with the same walk, the directions given instead of read from
 * a row), and a row costs K comparisons and one lookup, about what
 * predicting costs. The 10-second searches pick many shallow trees, so
 * this is the common case. Tables stop at TABLE_BUDGET bytes per model;
 * the trees past it are walked.
 */
#include "ml/treeshap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ml/xgb.h"

#define TS_MAXQ 16 /* quadrature nodes: paths of up to 30 distinct features */
#define TS_MAXDEPTH 64 /* deeper trees (lossguide) are left to XGBoost */
#define TABLE_MAX_SPLITS 8
#define TABLE_BUDGET (16u << 20)

typedef struct ts_node {
    int32_t left, right;      /* absolute indices; left < 0: a leaf */
    int32_t feature;
    float cond;               /* numeric split: x < cond goes left */
    uint8_t default_left;     /* where a missing value goes */
    uint8_t categorical;      /* categories in the set go right */
    uint32_t cat_off, cat_words;
    double zl, zr;            /* cover fractions of the children */
    double value;             /* leaf value */
} ts_node_t;

/* One split of a table, compact: what deciding a row's way needs. */
typedef struct ts_split {
    float cond;
    int32_t feature;
    uint8_t categorical, default_right;
    uint32_t cat_off, cat_words;
} ts_split_t;

/* A tree's outcome table: splits[k] (node index) going right sets bit k
 * of the row's pattern; vals[pattern * n_feats + j] is the contribution to
 * feats[j]. */
typedef struct ts_table {
    ts_split_t *sp;           /* the same splits, compact */
    int32_t *splits;
    uint32_t n_splits;
    int32_t *feats;
    uint32_t n_feats;
    float *vals;
} ts_table_t;

struct treeshap {
    ts_node_t *nodes;
    size_t n_nodes;
    int32_t *roots;           /* per tree */
    uint32_t *group;          /* per tree: its output group */
    ts_table_t *tables;       /* per tree; vals NULL: walked */
    size_t table_bytes;
    size_t n_trees;
    uint32_t *cats;           /* category bitsets */
    size_t n_cats;
    size_t w, groups, m;
    double tq[TS_MAXQ], wq[TS_MAXQ];
    float base_margin;        /* the objective's margin of base_score */
    float *lin_w;             /* a walker of a gblinear model: its (w + 1) x groups
                               * weights, feature-major, the bias row last; no
                               * trees then */
};

/* Per feature, while a row walks a tree: its combined factor on the path. */
typedef struct fstate {
    double o, z;
    int on;
} fstate_t;

void treeshap_free(treeshap_t *t)
{
    if (t == NULL)
        return;
    for (size_t k = 0; t->tables != NULL && k < t->n_trees; k++) {
        free(t->tables[k].splits);
        free(t->tables[k].sp);
        free(t->tables[k].feats);
        free(t->tables[k].vals);
    }
    free(t->tables);
    free(t->nodes);
    free(t->roots);
    free(t->group);
    free(t->cats);
    free(t->lin_w);
    free(t);
}

size_t treeshap_bytes(const treeshap_t *t)
{
    return t == NULL ? 0
                     : sizeof(*t) + t->n_nodes * sizeof(ts_node_t) +
                           t->n_trees * (sizeof(int32_t) + sizeof(uint32_t) +
                                         sizeof(ts_table_t)) +
                           t->n_cats * sizeof(uint32_t) + t->table_bytes +
                           (t->lin_w ? (t->w + 1) * t->groups * sizeof(float) : 0);
    /* table_bytes counts the values and the compact splits */
}

/* Gauss-Legendre nodes and weights on [0, 1] (Newton on P_m). */
static void gauss_legendre(size_t m, double *t, double *w)
{
    for (size_t i = 0; i < m; i++) {
        double x = cos(M_PI * ((double)i + 0.75) / ((double)m + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = x;
            for (size_t k = 2; k <= m; k++) {
                double p2 = ((2.0 * (double)k - 1) * x * p1 - ((double)k - 1) * p0) / (double)k;
                p0 = p1;
                p1 = p2;
            }
            dp = (double)m * (x * p1 - p0) / (x * x - 1);
            double dx = p1 / dp;
            x -= dx;
            if (fabs(dx) < 1e-15)
                break;
        }
        t[i] = (1 - x) / 2;
        w[i] = 1 / ((1 - x * x) * dp * dp);
    }
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static size_t alen(json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static double at_d(json_object *a, size_t i)
{
    return json_object_get_double(json_object_array_get_idx(a, i));
}

static long at_i(json_object *a, size_t i)
{
    return (long)json_object_get_int64(json_object_array_get_idx(a, i));
}

/* Most distinct features on a path from node n down (seen: per feature,
 * whether it is on the path above). */
static size_t max_distinct(const ts_node_t *nd, int32_t n, uint8_t *seen, size_t above)
{
    if (nd[n].left < 0)
        return above;
    int32_t f = nd[n].feature;
    int was = seen[f];
    seen[f] = 1;
    size_t a = max_distinct(nd, nd[n].left, seen, above + !was);
    size_t b = max_distinct(nd, nd[n].right, seen, above + !was);
    seen[f] = (uint8_t)was;
    return a > b ? a : b;
}

/* Appends one tree; 1 if it has something this module does not handle. */
static int add_tree(treeshap_t *t, json_object *tr, size_t *cap_nodes, size_t *cap_cats,
                    err_t *e)
{
    json_object *lc = get(tr, "left_children"), *rc = get(tr, "right_children");
    json_object *si = get(tr, "split_indices"), *sc = get(tr, "split_conditions");
    json_object *dl = get(tr, "default_left"), *hs = get(tr, "sum_hessian");
    json_object *st = get(tr, "split_type"), *cn = get(tr, "categories_nodes");
    json_object *cs = get(tr, "categories_segments"), *cz = get(tr, "categories_sizes");
    json_object *cv = get(tr, "categories");
    size_t n = alen(lc);
    if (n == 0 || alen(rc) != n || alen(si) != n || alen(sc) != n || alen(dl) != n ||
        alen(hs) != n)
        return err_set(e, 500, "model_invalid", "a tree of the model has inconsistent arrays");
    if (*cap_nodes < t->n_nodes + n) {
        size_t cap = (t->n_nodes + n) * 2;
        ts_node_t *p = realloc(t->nodes, cap * sizeof(*p));
        if (p == NULL)
            return err_set(e, 500, "internal", "out of memory");
        t->nodes = p;
        *cap_nodes = cap;
    }
    ts_node_t *nd = t->nodes + t->n_nodes;
    int32_t base = (int32_t)t->n_nodes;
    for (size_t i = 0; i < n; i++) {
        long l = at_i(lc, i), r = at_i(rc, i), f = at_i(si, i);
        memset(&nd[i], 0, sizeof(nd[i]));
        if (l < 0) {
            nd[i].left = nd[i].right = -1;
            nd[i].value = at_d(sc, i);
            continue;
        }
        /* XGBoost numbers a node's children after it: requiring that keeps
         * every walk finite whatever the model holds. */
        if (l <= (long)i || l >= (long)n || r <= (long)i || r >= (long)n || l == r || f < 0 ||
            (size_t)f >= t->w)
            return err_set(e, 500, "model_invalid", "a tree of the model has a bad node");
        double h = at_d(hs, i), hl = at_d(hs, (size_t)l), hr = at_d(hs, (size_t)r);
        if (!(h > 0) || !(hl > 0) || !(hr > 0))
            return 1; /* a zero-cover child: its fraction divides below */
        nd[i].left = base + (int32_t)l;
        nd[i].right = base + (int32_t)r;
        nd[i].feature = (int32_t)f;
        nd[i].cond = (float)at_d(sc, i);
        nd[i].default_left = at_i(dl, i) != 0;
        nd[i].categorical = alen(st) == n && at_i(st, i) == 1;
        nd[i].zl = hl / h;
        nd[i].zr = hr / h;
    }
    /* One parent per node, and depths (children come later, so one pass):
     * the walks recurse, so a tree deeper than TS_MAXDEPTH goes to XGBoost. */
    uint8_t *parents = calloc(n, 1);
    uint16_t *depth = calloc(n, sizeof(*depth));
    if (parents == NULL || depth == NULL) {
        free(parents);
        free(depth);
        return err_set(e, 500, "internal", "out of memory");
    }
    int shared = 0, deep = 0;
    for (size_t i = 0; i < n; i++)
        if (nd[i].left >= 0) {
            int32_t a = nd[i].left - base, b = nd[i].right - base;
            shared |= parents[a]++ > 0;
            shared |= parents[b]++ > 0;
            depth[a] = depth[b] = (uint16_t)(depth[i] + 1);
            deep |= depth[i] + 1 > TS_MAXDEPTH;
        }
    free(parents);
    free(depth);
    if (shared)
        return err_set(e, 500, "model_invalid", "a node of a tree of the model has two parents");
    if (deep)
        return 1;
    /* Category sets: categories_nodes[k] splits on the values
     * categories[segments[k] .. + sizes[k]]; kept as bitsets. */
    size_t nc = alen(cn);
    if (alen(cs) != nc || alen(cz) != nc)
        return err_set(e, 500, "model_invalid", "a tree of the model has bad category sets");
    for (size_t k = 0; k < nc; k++) {
        long node = at_i(cn, k), seg = at_i(cs, k), size = at_i(cz, k);
        if (node < 0 || (size_t)node >= n || seg < 0 || size < 0 ||
            (size_t)(seg + size) > alen(cv))
            return err_set(e, 500, "model_invalid", "a tree of the model has bad category sets");
        long maxc = -1;
        for (long c = 0; c < size; c++) {
            long v = at_i(cv, (size_t)(seg + c));
            if (v < 0 || v > 1 << 20)
                return 1;
            maxc = v > maxc ? v : maxc;
        }
        size_t words = (size_t)(maxc + 32) / 32;
        if (*cap_cats < t->n_cats + words) {
            size_t cap = (t->n_cats + words) * 2;
            uint32_t *p = realloc(t->cats, cap * sizeof(*p));
            if (p == NULL)
                return err_set(e, 500, "internal", "out of memory");
            t->cats = p;
            *cap_cats = cap;
        }
        uint32_t *bits = t->cats + t->n_cats;
        memset(bits, 0, words * sizeof(*bits));
        for (long c = 0; c < size; c++) {
            long v = at_i(cv, (size_t)(seg + c));
            bits[v / 32] |= 1u << (v % 32);
        }
        nd[node].cat_off = (uint32_t)t->n_cats;
        nd[node].cat_words = (uint32_t)words;
        t->n_cats += words;
    }
    t->n_nodes += n;
    return 0;
}

static int table_build(treeshap_t *t, size_t k, size_t n_nodes_k, err_t *e);

static int forest_read(json_object *root, size_t w, size_t groups, int shap, treeshap_t **out,
                       err_t *e);

/* forest_read of the booster's JSON form. */
static int booster_forest(void *booster, size_t w, size_t groups, int shap, treeshap_t **out,
                          err_t *e)
{
    *out = NULL;
    json_object *root = NULL;
    if (xgb_booster_json(booster, &root, e) < 0)
        return -1;
    int rc = forest_read(root, w, groups, shap, out, e);
    json_object_put(root);
    return rc;
}

int treeshap_build(void *booster, size_t w, size_t groups, treeshap_t **out, err_t *e)
{
    return booster_forest(booster, w, groups, 1, out, e);
}

int treeshap_from_json(json_object *root, size_t w, size_t groups, treeshap_t **out, err_t *e)
{
    return forest_read(root, w, groups, 1, out, e);
}

/* XGBoost's margin of its base_score (ObjFunction::ProbToMargin, in
 * float as it computes it): 1 for an objective this module does not
 * know, or a base_score that is not a number or has no finite margin
 * (a logistic one outside (0, 1)). */
static int base_margin_of(json_object *lrn, float *out)
{
    json_object *obj = get(lrn, "objective"), *name = obj ? get(obj, "name") : NULL;
    json_object *mp = get(lrn, "learner_model_param"), *bs = mp ? get(mp, "base_score") : NULL;
    if (name == NULL || bs == NULL)
        return 1;
    const char *o = json_object_get_string(name), *text = json_object_get_string(bs);
    char *end;
    float b = strtof(text, &end), margin;
    if (end == text)
        return 1;
    if (strcmp(o, "binary:logistic") == 0)
        margin = -logf(1.0f / b - 1.0f);
    else if (strcmp(o, "reg:squarederror") == 0 || strcmp(o, "multi:softprob") == 0)
        margin = b;
    else
        return 1;
    if (!isfinite(margin))
        return 1;
    *out = margin;
    return 0;
}

/* A gblinear model's weights, to predict with: 1 when they are not
 * (w + 1) x groups finite numbers, or the base_score is one the walker
 * declines. */
static int linear_read(json_object *lrn, json_object *model, size_t w, size_t groups,
                       treeshap_t **out, err_t *e)
{
    json_object *wt = get(model, "weights");
    size_t n = (w + 1) * groups;
    if (groups == 0 || alen(wt) != n)
        return 1;
    treeshap_t *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->lin_w = malloc(n * sizeof(float))) == NULL) {
        free(t);
        return err_set(e, 500, "internal", "out of memory");
    }
    t->w = w;
    t->groups = groups;
    for (size_t i = 0; i < n; i++) {
        t->lin_w[i] = (float)at_d(wt, i);
        if (!isfinite(t->lin_w[i])) {
            treeshap_free(t);
            return 1;
        }
    }
    if (base_margin_of(lrn, &t->base_margin) != 0) {
        treeshap_free(t);
        return 1;
    }
    *out = t;
    return 0;
}

int treeshap_walker_build(void *booster, size_t w, size_t groups, treeshap_t **out, err_t *e)
{
    return booster_forest(booster, w, groups, 0, out, e);
}

int treeshap_walker_from_json(json_object *root, size_t w, size_t groups, treeshap_t **out,
                              err_t *e)
{
    return forest_read(root, w, groups, 0, out, e);
}

/* The trees of root; with shap, also what the contributions need (paths
 * short enough to integrate, the outcome tables). */
static int forest_read(json_object *root, size_t w, size_t groups, int shap, treeshap_t **out,
                       err_t *e)
{
    *out = NULL;
    json_object *lrn = get(root, "learner"), *gb = lrn ? get(lrn, "gradient_booster") : NULL;
    json_object *name = gb ? get(gb, "name") : NULL, *model = gb ? get(gb, "model") : NULL;
    if (!shap && name != NULL && model != NULL &&
        strcmp(json_object_get_string(name), "gblinear") == 0)
        return linear_read(lrn, model, w, groups, out, e);
    if (name == NULL || strcmp(json_object_get_string(name), "gbtree") != 0 || model == NULL)
        return 1; /* gblinear's contributions (XGBoost's are exact and cheap) or dart */
    json_object *trees = get(model, "trees"), *info = get(model, "tree_info");
    size_t nt = alen(trees);
    treeshap_t *t = calloc(1, sizeof(*t));
    int rc = -1;
    if (t == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    t->w = w;
    t->groups = groups;
    if (base_margin_of(lrn, &t->base_margin) != 0 && !shap) {
        rc = 1;
        goto out;
    }
    t->roots = calloc(nt + 1, sizeof(*t->roots));
    t->group = calloc(nt + 1, sizeof(*t->group));
    if (t->roots == NULL || t->group == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    if (alen(info) != nt) {
        err_set(e, 500, "model_invalid", "the model's tree_info does not match its trees");
        goto out;
    }
    size_t cap_nodes = 0, cap_cats = 0;
    for (size_t k = 0; k < nt; k++) {
        long g = at_i(info, k);
        if (g < 0 || (size_t)g >= groups) {
            err_set(e, 500, "model_invalid", "a tree of the model has group %ld of %zu", g,
                    groups);
            goto out;
        }
        t->roots[k] = (int32_t)t->n_nodes;
        t->group[k] = (uint32_t)g;
        int r = add_tree(t, json_object_array_get_idx(trees, k), &cap_nodes, &cap_cats, e);
        if (r != 0) {
            rc = r;
            goto out;
        }
    }
    t->n_trees = nt;
    if (!shap) {
        *out = t;
        return 0;
    }
    uint8_t *seen = calloc(w + 1, 1);
    if (seen == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    size_t depth = 0;
    for (size_t k = 0; k < nt; k++) {
        size_t d = max_distinct(t->nodes, t->roots[k], seen, 0);
        depth = d > depth ? d : depth;
    }
    free(seen);
    t->m = depth / 2 + 1;
    if (t->m > TS_MAXQ) {
        rc = 1;
        goto out;
    }
    gauss_legendre(t->m, t->tq, t->wq);
    t->tables = calloc(nt + 1, sizeof(*t->tables));
    if (t->tables == NULL) {
        err_set(e, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t k = 0; k < nt; k++) {
        size_t end = k + 1 < nt ? (size_t)t->roots[k + 1] : t->n_nodes;
        if (table_build(t, k, end - (size_t)t->roots[k], e) < 0)
            goto out;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    treeshap_free(t);
    return rc;
}

/* The child row x goes to at node nd (XGBoost's GetNextNode). */
static int32_t next_node(const treeshap_t *t, const ts_node_t *nd, const float *x)
{
    float v = x[nd->feature];
    if (isnan(v))
        return nd->default_left ? nd->left : nd->right;
    if (!nd->categorical)
        return v < nd->cond ? nd->left : nd->right;
    /* In the set: right; not in it (or not a category code): left. */
    if (v < 0 || v >= (float)(nd->cat_words * 32))
        return nd->left;
    uint32_t c = (uint32_t)v;
    return (t->cats[nd->cat_off + c / 32] >> (c % 32)) & 1u ? nd->right : nd->left;
}

/* gblinear's prediction (GBLinear::Pred), in float as it computes it:
 * the bias plus the base margin, then input x weight added feature by
 * feature in order; a missing input (never in the linear model's
 * expanded rows) is skipped, as its sparse row leaves it out. */
static void linear_margins(const treeshap_t *t, const float *X, size_t n, float *out)
{
    const float *bias = t->lin_w + t->w * t->groups;
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * t->w;
        for (size_t g = 0; g < t->groups; g++) {
            float psum = bias[g] + t->base_margin;
            for (size_t j = 0; j < t->w; j++)
                if (!isnan(x[j]))
                    psum += x[j] * t->lin_w[j * t->groups + g];
            out[i * t->groups + g] = psum;
        }
    }
}

void treeshap_margins(const treeshap_t *t, const float *X, size_t n, float *out)
{
    if (t->lin_w != NULL) {
        linear_margins(t, X, n, out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * t->w;
        float *o = out + i * t->groups;
        for (size_t g = 0; g < t->groups; g++)
            o[g] = t->base_margin;
        /* Tree by tree, in float, as XGBoost's predictor adds them. */
        for (size_t k = 0; k < t->n_trees; k++) {
            const ts_node_t *nd = t->nodes + t->roots[k];
            while (nd->left >= 0)
                nd = t->nodes + next_node(t, nd, x);
            o[t->group[k]] += (float)nd->value;
        }
    }
}

/* Where the walk gets its directions: a row (x), or given ones (dir,
 * indexed by node - base: 1 = right) when a table is built. */
typedef struct walk {
    const float *x;
    const uint8_t *dir;
    int32_t base;
} walk_t;

/* G: the path's product at node n (m values); fills S (m values). */
static void visit(const treeshap_t *t, int32_t n, const walk_t *wk, const double *G, double *S,
                  double *phi, fstate_t *fs)
{
    const ts_node_t *nd = &t->nodes[n];
    size_t m = t->m;
    if (nd->left < 0) {
        for (size_t q = 0; q < m; q++)
            S[q] = nd->value;
        return;
    }
    int32_t hot = wk->dir == NULL ? next_node(t, nd, wk->x)
                                  : wk->dir[n - wk->base] ? nd->right : nd->left;
    int32_t feat = nd->feature;
    fstate_t prev = fs[feat];
    double fp[TS_MAXQ], Gwo[TS_MAXQ];
    for (size_t q = 0; q < m; q++) {
        fp[q] = prev.on ? prev.o * t->tq[q] + prev.z * (1 - t->tq[q]) : 1;
        Gwo[q] = prev.on ? G[q] / fp[q] : G[q];
        S[q] = 0;
    }
    double acc = 0;
    for (int side = 0; side < 2; side++) {
        int32_t c = side == 0 ? nd->left : nd->right;
        double oe = c == hot, ze = side == 0 ? nd->zl : nd->zr;
        double ocb = prev.on ? prev.o * oe : oe, zcb = prev.on ? prev.z * ze : ze;
        double f[TS_MAXQ], Gc[TS_MAXQ], Sc[TS_MAXQ];
        for (size_t q = 0; q < m; q++) {
            f[q] = ocb * t->tq[q] + zcb * (1 - t->tq[q]);
            Gc[q] = Gwo[q] * f[q];
        }
        fs[feat] = (fstate_t){ocb, zcb, 1};
        visit(t, c, wk, Gc, Sc, phi, fs);
        double s = 0;
        if (!prev.on) {
            for (size_t q = 0; q < m; q++) {
                S[q] += f[q] * Sc[q];
                s += t->wq[q] * G[q] * Sc[q];
            }
            acc += (ocb - zcb) * s;
        } else {
            /* Add the combined factor's term, take back the earlier one. */
            for (size_t q = 0; q < m; q++) {
                double r = f[q] / fp[q];
                S[q] += r * Sc[q];
                s += t->wq[q] * Gwo[q] * Sc[q] * ((ocb - zcb) - (prev.o - prev.z) * r);
            }
            acc += s;
        }
    }
    fs[feat] = prev;
    phi[feat] += acc;
}

/* Tree k's table, if it is small enough and the budget allows; 0 if
 * built or skipped, -1 out of memory. */
static int table_build(treeshap_t *t, size_t k, size_t n_nodes_k, err_t *e)
{
    ts_table_t *tb = &t->tables[k];
    int32_t base = t->roots[k];
    uint32_t ns = 0, nf = 0;
    for (size_t i = 0; i < n_nodes_k; i++)
        ns += t->nodes[base + (int32_t)i].left >= 0;
    if (ns > TABLE_MAX_SPLITS)
        return 0;
    size_t patterns = (size_t)1 << ns;
    tb->splits = malloc((ns + 1) * sizeof(*tb->splits));
    tb->feats = malloc((ns + 1) * sizeof(*tb->feats));
    uint8_t *dir = calloc(n_nodes_k + 1, 1);
    double *phi = calloc(t->w + 1, sizeof(*phi));
    fstate_t *fs = calloc(t->w + 1, sizeof(*fs));
    if (tb->splits == NULL || tb->feats == NULL || dir == NULL || phi == NULL || fs == NULL)
        goto oom;
    for (size_t i = 0; i < n_nodes_k; i++) {
        const ts_node_t *nd = &t->nodes[base + (int32_t)i];
        if (nd->left < 0)
            continue;
        tb->splits[tb->n_splits++] = base + (int32_t)i;
        uint32_t j = 0;
        while (j < nf && tb->feats[j] != nd->feature)
            j++;
        if (j == nf)
            tb->feats[nf++] = nd->feature;
    }
    tb->n_feats = nf;
    size_t bytes = patterns * nf * sizeof(float);
    if (t->table_bytes + bytes > TABLE_BUDGET) {
        free(dir);
        free(phi);
        free(fs);
        return 0; /* walked; splits and feats stay unused */
    }
    tb->vals = malloc(bytes + sizeof(float));
    if (tb->vals == NULL)
        goto oom;
    double one[TS_MAXQ], S[TS_MAXQ];
    for (size_t q = 0; q < TS_MAXQ; q++)
        one[q] = 1;
    walk_t wk = {NULL, dir, base};
    for (size_t pat = 0; pat < patterns; pat++) {
        for (uint32_t s = 0; s < ns; s++)
            dir[tb->splits[s] - base] = (uint8_t)((pat >> s) & 1);
        visit(t, base, &wk, one, S, phi, fs);
        for (uint32_t j = 0; j < nf; j++) {
            tb->vals[pat * nf + j] = (float)phi[tb->feats[j]];
            phi[tb->feats[j]] = 0;
        }
    }
    tb->sp = malloc((ns + 1) * sizeof(*tb->sp));
    if (tb->sp == NULL)
        goto oom;
    for (uint32_t s = 0; s < ns; s++) {
        const ts_node_t *nd = &t->nodes[tb->splits[s]];
        tb->sp[s] = (ts_split_t){nd->cond, nd->feature, nd->categorical, !nd->default_left,
                                 nd->cat_off, nd->cat_words};
    }
    t->table_bytes += bytes + ns * sizeof(*tb->sp);
    free(dir);
    free(phi);
    free(fs);
    return 0;
oom:
    free(dir);
    free(phi);
    free(fs);
    return err_set(e, 500, "internal", "out of memory");
}

/* 1 when row x goes right at sp (next_node's rules). */
static inline uint32_t goes_right(const treeshap_t *t, const ts_split_t *sp, const float *x)
{
    float v = x[sp->feature];
    if (isnan(v))
        return sp->default_right;
    if (!sp->categorical)
        return !(v < sp->cond);
    if (v < 0 || v >= (float)(sp->cat_words * 32))
        return 0;
    uint32_t c = (uint32_t)v;
    return (t->cats[sp->cat_off + c / 32] >> (c % 32)) & 1u;
}

/* Rows go through in blocks, each tree over a whole block (its table or
 * nodes stay in cache), sums in doubles. */
#define ROW_BLOCK 256

void treeshap_rows(const treeshap_t *t, const float *X, size_t n, float *out)
{
    size_t stride = t->w + 1, per_row = t->groups * stride;
    fstate_t *fs = calloc(t->w + 1, sizeof(*fs));
    double *acc = calloc(ROW_BLOCK * per_row + 1, sizeof(*acc));
    if (fs == NULL || acc == NULL)
        abort(); /* a few hundred kilobytes */
    double one[TS_MAXQ], S[TS_MAXQ];
    for (size_t q = 0; q < TS_MAXQ; q++)
        one[q] = 1;
    for (size_t b0 = 0; b0 < n; b0 += ROW_BLOCK) {
        size_t nb = n - b0 < ROW_BLOCK ? n - b0 : ROW_BLOCK;
        const float *Xb = X + b0 * t->w;
        memset(acc, 0, nb * per_row * sizeof(*acc));
        for (size_t k = 0; k < t->n_trees; k++) {
            double *ak = acc + t->group[k] * stride;
            const ts_table_t *tb = &t->tables[k];
            if (tb->vals == NULL) {
                for (size_t i = 0; i < nb; i++) {
                    walk_t wk = {Xb + i * t->w, NULL, 0};
                    visit(t, t->roots[k], &wk, one, S, ak + i * per_row, fs);
                }
                continue;
            }
            for (size_t i = 0; i < nb; i++) {
                const float *x = Xb + i * t->w;
                uint32_t pat = 0;
                for (uint32_t s = 0; s < tb->n_splits; s++)
                    pat |= goes_right(t, &tb->sp[s], x) << s;
                const float *v = tb->vals + (size_t)pat * tb->n_feats;
                double *a = ak + i * per_row;
                for (uint32_t j = 0; j < tb->n_feats; j++)
                    a[tb->feats[j]] += v[j];
            }
        }
        float *o = out + b0 * per_row;
        for (size_t j = 0; j < nb * per_row; j++)
            o[j] += (float)acc[j];
    }
    free(fs);
    free(acc);
}
