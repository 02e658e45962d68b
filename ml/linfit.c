/*
 * linfit.c — L-BFGS for the linear candidate (see linfit.h).
 *
 * The objective is divided by the total row weight so that one gradient
 * tolerance fits every data size. Regression standardises the target
 * inside (coefficients go in and out in the target's units) for the same
 * reason. The line search is plain Armijo backtracking from the full
 * quasi-Newton step, which is accepted almost always on these smooth
 * convex losses.
 */
#include "ml/linfit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define HISTORY 8
#define GRAD_TOL 1e-6
#define ARMIJO 1e-4

typedef struct fctx {
    const linfit_problem_t *p;
    size_t g, dim;
    double lambda, norm;       /* norm = 1 / total row weight */
    double ymu, ysd;           /* regression: target standardisation */
    double *z;                 /* g scratch */
} fctx_t;

size_t linfit_groups(ml_task_t task, size_t k)
{
    return task == TASK_MULTICLASS ? k : 1;
}

static void margins(const double *x, const float *xi, size_t w, size_t g, double *z)
{
    const double *bias = x + w * g;
    if (g == 1) {
        double a = bias[0];
        for (size_t j = 0; j < w; j++)
            a += (double)xi[j] * x[j];
        z[0] = a;
        return;
    }
    memcpy(z, bias, g * sizeof(*z));
    for (size_t j = 0; j < w; j++) {
        double v = xi[j];
        if (v == 0.0) /* one-hot and missing inputs are mostly zero */
            continue;
        const double *xr = x + j * g;
        for (size_t c = 0; c < g; c++)
            z[c] += v * xr[c];
    }
}

static double sigmoid(double z)
{
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* Objective at x; its gradient into grad. */
static double objective(const fctx_t *c, const double *x, double *grad)
{
    const linfit_problem_t *p = c->p;
    size_t w = p->w, g = c->g;
    double *z = c->z, f = 0;
    memset(grad, 0, c->dim * sizeof(*grad));
    double *gb = grad + w * g;
    for (size_t i = 0; i < p->n; i++) {
        if (i >= p->skip_begin && i < p->skip_end)
            continue;
        const float *xi = p->X + i * w;
        double s = p->wt ? p->wt[i] : 1.0;
        margins(x, xi, w, g, z);
        if (p->task == TASK_BINARY) {
            double y = p->y[i], m = z[0];
            f += s * (log1p(exp(-fabs(m))) + (m > 0 ? m : 0) - y * m);
            z[0] = s * (sigmoid(m) - y);
        } else if (p->task == TASK_MULTICLASS) {
            size_t yc = (size_t)p->y[i];
            double mx = z[0], sum = 0;
            for (size_t k = 1; k < g; k++)
                mx = z[k] > mx ? z[k] : mx;
            for (size_t k = 0; k < g; k++)
                sum += exp(z[k] - mx);
            double lse = mx + log(sum);
            f += s * (lse - z[yc < g ? yc : 0]);
            for (size_t k = 0; k < g; k++)
                z[k] = s * (exp(z[k] - lse) - (k == yc ? 1.0 : 0.0));
        } else {
            double r = z[0] - ((double)p->y[i] - c->ymu) / c->ysd;
            f += s * 0.5 * r * r;
            z[0] = s * r;
        }
        for (size_t k = 0; k < g; k++)
            gb[k] += z[k];
        if (g == 1) {
            for (size_t j = 0; j < w; j++)
                grad[j] += (double)xi[j] * z[0];
            continue;
        }
        for (size_t j = 0; j < w; j++) {
            double v = xi[j];
            if (v == 0.0)
                continue;
            double *gr = grad + j * g;
            for (size_t k = 0; k < g; k++)
                gr[k] += v * z[k];
        }
    }
    double pen = 0, lam = c->lambda;
    for (size_t j = 0; j < w * g; j++) {
        pen += x[j] * x[j];
        grad[j] += lam * x[j];
    }
    f += 0.5 * lam * pen;
    for (size_t j = 0; j < c->dim; j++)
        grad[j] *= c->norm;
    return f * c->norm;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Coefficients between the caller's units and the standardised target. */
static void target_units(fctx_t *c, double *x, int to_internal)
{
    if (c->p->task != TASK_REGRESSION)
        return;
    size_t w = c->p->w;
    for (size_t j = 0; j < w; j++)
        x[j] = to_internal ? x[j] / c->ysd : x[j] * c->ysd;
    x[w] = to_internal ? (x[w] - c->ymu) / c->ysd : x[w] * c->ysd + c->ymu;
}

/* The L-BFGS direction -H g into d from the history (two-loop recursion). */
static void direction(const double *S, const double *Y, const double *rho, size_t hn,
                      size_t head, const double *gr, double *d, size_t dim, double *alpha)
{
    for (size_t i = 0; i < dim; i++)
        d[i] = -gr[i];
    for (size_t t = 0; t < hn; t++) { /* newest first */
        size_t h = (head + HISTORY - 1 - t) % HISTORY;
        alpha[h] = rho[h] * dot(S + h * dim, d, dim);
        const double *y = Y + h * dim;
        for (size_t i = 0; i < dim; i++)
            d[i] -= alpha[h] * y[i];
    }
    double gamma;
    if (hn > 0) {
        size_t h = (head + HISTORY - 1) % HISTORY;
        gamma = 1.0 / (rho[h] * dot(Y + h * dim, Y + h * dim, dim));
    } else {
        double gn = sqrt(dot(gr, gr, dim));
        gamma = gn > 1.0 ? 1.0 / gn : 1.0;
    }
    for (size_t i = 0; i < dim; i++)
        d[i] *= gamma;
    for (size_t t = hn; t-- > 0;) { /* oldest first */
        size_t h = (head + HISTORY - 1 - t) % HISTORY;
        double b = rho[h] * dot(Y + h * dim, d, dim);
        const double *s = S + h * dim;
        for (size_t i = 0; i < dim; i++)
            d[i] += s[i] * (alpha[h] - b);
    }
}

int linfit_fit(const linfit_problem_t *p, double lambda, double *coef, int max_iter, double end,
               int *converged)
{
    fctx_t c = {.p = p, .g = linfit_groups(p->task, p->k), .lambda = lambda, .ymu = 0,
                .ysd = 1};
    c.dim = (p->w + 1) * c.g;
    size_t dim = c.dim;
    double total = 0, s1 = 0, s2 = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (i >= p->skip_begin && i < p->skip_end)
            continue;
        double s = p->wt ? p->wt[i] : 1.0;
        total += s;
        s1 += s * p->y[i];
        s2 += s * (double)p->y[i] * p->y[i];
    }
    if (converged)
        *converged = 0;
    if (total <= 0)
        return 0;
    c.norm = 1.0 / total;
    if (p->task == TASK_REGRESSION) {
        c.ymu = s1 / total;
        double var = s2 / total - c.ymu * c.ymu;
        c.ysd = var > 1e-24 ? sqrt(var) : 1.0;
    }
    double *mem = malloc((size_t)(2 * HISTORY + 5) * dim * sizeof(double) + c.g * sizeof(double));
    if (mem == NULL)
        return -1;
    double *S = mem, *Y = S + HISTORY * dim, *x = Y + HISTORY * dim, *gr = x + dim,
           *d = gr + dim, *xn = d + dim, *gn = xn + dim;
    c.z = gn + dim;
    double rho[HISTORY], alpha[HISTORY];
    size_t hn = 0, head = 0;
    memcpy(x, coef, dim * sizeof(*x));
    target_units(&c, x, 1);
    double f = objective(&c, x, gr);
    int it = 0, done = max_abs(gr, dim) < GRAD_TOL;
    for (; it < max_iter && !done; it++) {
        if (util_now_monotonic() > end)
            break;
        direction(S, Y, rho, hn, head, gr, d, dim, alpha);
        double gd = dot(gr, d, dim);
        if (!(gd < 0)) { /* not a descent direction: restart from steepest descent */
            hn = 0;
            direction(S, Y, rho, 0, head, gr, d, dim, alpha);
            gd = dot(gr, d, dim);
        }
        double step = 1.0, fn = f;
        int ok = 0;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t i = 0; i < dim; i++)
                xn[i] = x[i] + step * d[i];
            fn = objective(&c, xn, gn);
            if (fn <= f + ARMIJO * step * gd) {
                ok = 1;
                break;
            }
            step *= 0.5;
        }
        if (!ok) { /* no progress possible at float precision: as good as converged */
            done = 1;
            break;
        }
        double *sh = S + head * dim, *yh = Y + head * dim;
        for (size_t i = 0; i < dim; i++) {
            sh[i] = xn[i] - x[i];
            yh[i] = gn[i] - gr[i];
        }
        double sy = dot(sh, yh, dim);
        if (sy > 1e-16) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % HISTORY;
            hn = hn < HISTORY ? hn + 1 : HISTORY;
        }
        double df = f - fn;
        memcpy(x, xn, dim * sizeof(*x));
        memcpy(gr, gn, dim * sizeof(*gr));
        f = fn;
        if (max_abs(gr, dim) < GRAD_TOL || df <= 1e-12 * (fabs(f) > 1 ? fabs(f) : 1))
            done = 1;
    }
    target_units(&c, x, 0);
    memcpy(coef, x, dim * sizeof(*x));
    free(mem);
    if (converged)
        *converged = done;
    return it;
}

void linfit_predict(const double *coef, const float *X, size_t n, size_t w, ml_task_t task,
                    size_t k, float *out)
{
    size_t g = linfit_groups(task, k);
    double one[1];
    double *zz = g == 1 ? one : malloc(g * sizeof(*zz));
    if (zz == NULL) {
        memset(out, 0, n * (task == TASK_REGRESSION ? 1 : k) * sizeof(*out));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        margins(coef, X + i * w, w, g, zz);
        if (task == TASK_REGRESSION) {
            out[i] = (float)zz[0];
        } else if (task == TASK_BINARY) {
            double pr = sigmoid(zz[0]);
            out[2 * i] = (float)(1.0 - pr);
            out[2 * i + 1] = (float)pr;
        } else {
            scoring_softmax(zz, g, out + i * k);
        }
    }
    if (zz != one)
        free(zz);
}
