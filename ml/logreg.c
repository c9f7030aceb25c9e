/*  logreg.c: Newton / IRLS for L2 logistic regression (see logreg.h).

    Each iteration forms the gradient and the Hessian X'WX + I/C over the
    design matrix augmented with a column of ones (the intercept, whose
    diagonal gets no penalty), solves H d = -g by Cholesky and halves the
    step until the objective decreases.

    Memory: the rows are read where they are (row-major, often a mapped
    file), BLOCK_ROWS at a time; only a block is copied column-major and
    scaled, so that the Hessian is a set of contiguous dot products over
    it, summed block by block. The solver keeps three doubles a row
    (margins, residuals, weights), not two column-major copies of the
    data: at 10 M rows of 16 features that was 2.7 GB.
*/
#include "logreg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK_ROWS = 2048 }; //  rows scaled column-major at a time (a multiple of 4)

typedef struct {
    size_t n, q;       //  rows; parameters = features + 1
    const double *X;   //  n x (q - 1), row-major, borrowed
    const uint8_t *y;  //  labels
    double inv_c;      //  1 / C
    double *z, *r, *s; //  n scratch: margins, P(y = 1) then p - y, sqrt weights
    double *zs;        //  BLOCK_ROWS x q scratch: sqrt(w) * column, column-major
} s_problem_t;

typedef double s_v2_t __attribute__((vector_size(16))); //  two doubles, SSE2 or NEON

//  Dot product, two lanes by two accumulators: the reduction is not
//  vectorised at -O2 without this, and it is the whole cost of a fit.
static double s_dot(const double *a, const double *b, size_t n)
{
    s_v2_t s0 = {0, 0}, s1 = {0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s_v2_t a0, a1, b0, b1;
        memcpy(&a0, a + i, sizeof a0), memcpy(&a1, a + i + 2, sizeof a1);
        memcpy(&b0, b + i, sizeof b0), memcpy(&b1, b + i + 2, sizeof b1);
        s0 += a0 * b0;
        s1 += a1 * b1;
    }
    s0 += s1;
    double s = s0[0] + s0[1];
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

//  Four dot products of a with b[0..3] in one pass: a is loaded once for
//  four products, which is what bounds the Hessian loop.
static void s_dot4(const double *a, const double *const b[4], size_t n, double out[4])
{
    s_v2_t s0 = {0, 0}, s1 = {0, 0}, s2 = {0, 0}, s3 = {0, 0};
    const double *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        s_v2_t x, v0, v1, v2, v3;
        memcpy(&x, a + i, sizeof x);
        memcpy(&v0, b0 + i, sizeof v0), memcpy(&v1, b1 + i, sizeof v1);
        memcpy(&v2, b2 + i, sizeof v2), memcpy(&v3, b3 + i, sizeof v3);
        s0 += x * v0, s1 += x * v1, s2 += x * v2, s3 += x * v3;
    }
    out[0] = s0[0] + s0[1], out[1] = s1[0] + s1[1];
    out[2] = s2[0] + s2[1], out[3] = s3[0] + s3[1];
    for (; i < n; i++)
        out[0] += a[i] * b0[i], out[1] += a[i] * b1[i], out[2] += a[i] * b2[i],
            out[3] += a[i] * b3[i];
}

//  At theta: margins, probabilities (kept for the derivatives) and the
//  objective, with one exp and one log1p per row.
static double s_objective(s_problem_t *pb, const double *theta)
{
    size_t n = pb->n, q = pb->q, p = q - 1;
    double *z = pb->z;
    for (size_t i = 0; i < n; i++) {
        const double *x = pb->X + i * p;
        double zi = theta[p];
        for (size_t j = 0; j < p; j++)
            zi += theta[j] * x[j];
        z[i] = zi;
    }
    double f = 0;
    for (size_t i = 0; i < n; i++) {
        double e = exp(-fabs(z[i]));
        pb->r[i] = z[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e); //  P(y = 1)
        //  log(1 + exp(-s z)) with s = +-1 for y = 1 / 0
        double sz = pb->y[i] ? -z[i] : z[i];
        f += (sz > 0 ? sz : 0) + log1p(e);
    }
    double pen = 0;
    for (size_t j = 0; j + 1 < q; j++)
        pen += theta[j] * theta[j];
    return f + 0.5 * pb->inv_c * pen;
}

//  Gradient g at the point s_objective last saw; keeps the row weights
//  for s_hessian.
static void s_gradient(s_problem_t *pb, const double *theta, double *g)
{
    size_t n = pb->n, q = pb->q, p = q - 1;
    for (size_t j = 0; j < q; j++)
        g[j] = 0;
    for (size_t i = 0; i < n; i++) {
        double pr = pb->r[i], r = pr - pb->y[i];
        const double *x = pb->X + i * p;
        pb->s[i] = sqrt(pr * (1 - pr));
        pb->r[i] = r;
        for (size_t j = 0; j < p; j++)
            g[j] += r * x[j];
        g[p] += r;
    }
    for (size_t j = 0; j < p; j++)
        g[j] += pb->inv_c * theta[j];
}

//  Adds the m rows from row i0 to the upper triangle of H: their columns
//  scaled by sqrt(w), column-major into pb->zs, then dot products.
static void s_hessian_block(s_problem_t *pb, size_t i0, size_t m, double *H)
{
    size_t q = pb->q, p = q - 1;
    double *zs = pb->zs;
    for (size_t t = 0; t < m; t++) {
        const double *x = pb->X + (i0 + t) * p;
        double w = pb->s[i0 + t];
        for (size_t j = 0; j < p; j++)
            zs[j * m + t] = w * x[j];
        zs[p * m + t] = w; //  the intercept's column of ones
    }
    for (size_t j = 0; j < q; j++) {
        size_t k = j;
        for (; k + 4 <= q; k += 4) {
            const double *b[4] = {zs + k * m, zs + (k + 1) * m, zs + (k + 2) * m, zs + (k + 3) * m};
            double h[4];
            s_dot4(zs + j * m, b, m, h);
            for (int t = 0; t < 4; t++)
                H[j * q + k + t] += h[t];
        }
        for (; k < q; k++)
            H[j * q + k] += s_dot(zs + j * m, zs + k * m, m);
    }
}

//  Hessian H (q x q, full) at the point s_gradient last saw.
static void s_hessian(s_problem_t *pb, double *H)
{
    size_t n = pb->n, q = pb->q;
    memset(H, 0, q * q * sizeof *H);
    for (size_t i0 = 0; i0 < n; i0 += BLOCK_ROWS)
        s_hessian_block(pb, i0, n - i0 < BLOCK_ROWS ? n - i0 : BLOCK_ROWS, H);
    for (size_t j = 0; j < q; j++) {
        for (size_t k = j + 1; k < q; k++)
            H[k * q + j] = H[j * q + k];
        if (j + 1 < q)
            H[j * q + j] += pb->inv_c; //  the intercept is not penalised
    }
}

//  Replaces H by its Cholesky factor L (lower triangle). Returns 0, or -1
//  when H is not positive definite.
static int s_cholesky(double *H, size_t q)
{
    for (size_t j = 0; j < q; j++) {
        double s = H[j * q + j];
        for (size_t k = 0; k < j; k++)
            s -= H[j * q + k] * H[j * q + k];
        if (!(s > 0))
            return -1;
        double l = sqrt(s);
        H[j * q + j] = l;
        for (size_t i = j + 1; i < q; i++) {
            double t = H[i * q + j];
            for (size_t k = 0; k < j; k++)
                t -= H[i * q + k] * H[j * q + k];
            H[i * q + j] = t / l;
        }
    }
    return 0;
}

//  Solves L L' d = b in place (d = b on entry).
static void s_cholesky_apply(const double *L, double *d, size_t q)
{
    for (size_t i = 0; i < q; i++) {
        double t = d[i];
        for (size_t k = 0; k < i; k++)
            t -= L[i * q + k] * d[k];
        d[i] = t / L[i * q + i];
    }
    for (size_t i = q; i-- > 0;) {
        double t = d[i];
        for (size_t k = i + 1; k < q; k++)
            t -= L[k * q + i] * d[k];
        d[i] = t / L[i * q + i];
    }
}

static int s_check_input(const double *X, const uint8_t *y, size_t n, size_t p,
                         const logreg_params_t *pr, mlops_err_t *err)
{
    if (n == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "logreg: no training rows");
    if (p > LOGREG_MAX_FEATURES)
        return mlops_err_set(err, MLOPS_EINVAL, "logreg: %zu features exceed the limit of %d",
                             p, LOGREG_MAX_FEATURES);
    if (!(pr->C > 0) || !isfinite(pr->C) || !(pr->tol > 0) || pr->max_iter < 1)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "logreg: C must be > 0, tol > 0 and max_iter >= 1");
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return mlops_err_set(err, MLOPS_EINVAL, "logreg: label %u in row %zu is not 0/1",
                                 y[i], i);
        for (size_t j = 0; j < p; j++)
            if (!isfinite(X[i * p + j]))
                return mlops_err_set(err, MLOPS_EINVAL,
                                     "logreg: feature %zu of row %zu is not finite", j, i);
    }
    return 0;
}

static void s_problem_free(s_problem_t *pb)
{
    free(pb->z);
    free(pb->r);
    free(pb->s);
    free(pb->zs);
}

static int s_problem_init(s_problem_t *pb, const double *X, const uint8_t *y, size_t n,
                          size_t p, double C)
{
    memset(pb, 0, sizeof *pb);
    static const double no_rows = 0; //  X may be NULL with no features: X + i * 0 must point
    pb->n = n, pb->q = p + 1, pb->X = X ? X : &no_rows, pb->y = y, pb->inv_c = 1.0 / C;
    pb->zs = malloc((n < BLOCK_ROWS ? n : BLOCK_ROWS) * pb->q * sizeof(double));
    pb->z = malloc(n * sizeof(double));
    pb->r = malloc(n * sizeof(double));
    pb->s = malloc(n * sizeof(double));
    if (!pb->zs || !pb->z || !pb->r || !pb->s)
        return MLOPS_ENOMEM;
    return 0;
}

//  Newton iterations from theta = 0. Returns iterations used, or a code.
static int s_newton(s_problem_t *pb, const logreg_params_t *pr, double *theta,
                    mlops_err_t *err)
{
    size_t q = pb->q;
    double *g = malloc(q * sizeof *g), *d = malloc(q * sizeof *d);
    double *H = malloc(q * q * sizeof *H), *t = malloc(q * sizeof *t);
    int rc = MLOPS_ENOMEM;
    if (!g || !d || !H || !t)
        goto done;
    double f = s_objective(pb, theta), tiny = sqrt(pr->tol);
    int factored = 0;
    for (int it = 1; it <= pr->max_iter; it++) {
        s_gradient(pb, theta, g);
        for (size_t j = 0; j < q; j++)
            d[j] = -g[j];
        //  Near the optimum the Hessian barely moves: when the previous
        //  one already gives a step below sqrt(tol), that step is the last
        //  one and the new Hessian (most of an iteration's cost) is skipped.
        double step_max = 0;
        if (factored) {
            s_cholesky_apply(H, d, q);
            for (size_t j = 0; j < q; j++)
                step_max = fmax(step_max, fabs(d[j]));
        }
        int last = factored && step_max < tiny;
        if (!last) {
            s_hessian(pb, H);
            if (s_cholesky(H, q) != 0) {
                rc = mlops_err_set(err, MLOPS_ECONVERGE,
                                   "logreg: Hessian not positive definite at iteration %d", it);
                goto done;
            }
            factored = 1;
            for (size_t j = 0; j < q; j++)
                d[j] = -g[j];
            s_cholesky_apply(H, d, q);
            step_max = 0;
            for (size_t j = 0; j < q; j++)
                step_max = fmax(step_max, fabs(d[j]));
        }
        //  Backtracking: full Newton steps are taken near the optimum, so
        //  this only ever halves in the first iterations.
        double a = 1.0, ft = 0;
        for (int k = 0; k < 40; k++, a *= 0.5) {
            for (size_t j = 0; j < q; j++)
                t[j] = theta[j] + a * d[j];
            ft = s_objective(pb, t);
            if (ft <= f)
                break;
        }
        memcpy(theta, t, q * sizeof *t);
        //  Near the optimum Newton's error squares at each full step, so a
        //  full step below sqrt(tol) leaves an error of about tol.
        if ((a == 1.0 && step_max < tiny) || step_max * a < pr->tol ||
            (ft == f && step_max < 1e-6)) {
            rc = it;
            goto done;
        }
        f = ft;
    }
    rc = mlops_err_set(err, MLOPS_ECONVERGE,
                       "logreg: no convergence in %d Newton iterations (tol %g); "
                       "scale the features or lower C", pr->max_iter, pr->tol);
done:
    free(g);
    free(d);
    free(H);
    free(t);
    return rc;
}

logreg_t *logreg_fit(const double *X, const uint8_t *y, size_t n, size_t p,
                     const logreg_params_t *params, mlops_err_t *err)
{
    logreg_params_t pr = params ? *params : (logreg_params_t){0};
    pr.C = pr.C == 0 ? 1.0 : pr.C;
    pr.tol = pr.tol == 0 ? 1e-10 : pr.tol;
    pr.max_iter = pr.max_iter == 0 ? 100 : pr.max_iter;
    if (s_check_input(X, y, n, p, &pr, err) != 0)
        return NULL;
    s_problem_t pb;
    double *theta = calloc(p + 1, sizeof *theta);
    //  Start from the intercept-only optimum: saves a Newton step.
    double pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += y[i] == 1;
    if (theta && pos > 0 && pos < (double)n)
        theta[p] = log(pos / ((double)n - pos));
    if (!theta || s_problem_init(&pb, X, y, n, p, pr.C) != 0) {
        if (theta)
            s_problem_free(&pb);
        free(theta);
        mlops_err_set(err, MLOPS_ENOMEM, "logreg: out of memory for %zu x %zu", n, p);
        return NULL;
    }
    int iters = s_newton(&pb, &pr, theta, err);
    s_problem_free(&pb);
    logreg_t *self = NULL;
    if (iters > 0) {
        self = logreg_new(p, theta, theta[p]);
        if (self)
            self->n_iter = iters;
        else
            mlops_err_set(err, MLOPS_ENOMEM, "logreg: out of memory");
    } else if (iters == MLOPS_ENOMEM) {
        mlops_err_set(err, MLOPS_ENOMEM, "logreg: out of memory");
    }
    free(theta);
    return self;
}

logreg_t *logreg_new(size_t p, const double *coef, double intercept)
{
    logreg_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->coef = malloc((p ? p : 1) * sizeof(double));
    if (!self->coef) {
        free(self);
        return NULL;
    }
    if (p)
        memcpy(self->coef, coef, p * sizeof(double));
    self->n_features = p;
    self->intercept = intercept;
    self->n_classes = 1;
    return self;
}

void logreg_destroy(logreg_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->coef);
    free((*p)->intercepts);
    free(*p);
    *p = NULL;
}

static double s_sigmoid(double z)
{
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

double logreg_predict_one(const logreg_t *self, const double *x)
{
    double z = self->intercept;
    for (size_t j = 0; j < self->n_features; j++)
        z += self->coef[j] * x[j];
    return s_sigmoid(z);
}

/* --- multinomial (L-BFGS) ------------------------------------------------------ */

#define LBFGS_PAIRS 10

typedef struct {
    const double *X;     //  n x p
    const uint8_t *y;    //  compact labels 0..k-1
    size_t n, p, k;      //  rows, features, classes fitted
    double inv_c;        //  1 / C
    double *z;           //  n x k scratch: scores, then P - Y
} s_multi_t;

//  Objective at theta (k rows of p weights then the intercept) and its
//  gradient into g.
static double s_multi_eval(s_multi_t *m, const double *theta, double *g)
{
    size_t n = m->n, p = m->p, k = m->k, q = p + 1;
    double f = 0;
    memset(g, 0, k * q * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        const double *x = m->X + i * p;
        double *z = m->z + i * k, top = -INFINITY, sum = 0;
        for (size_t c = 0; c < k; c++) {
            const double *w = theta + c * q;
            z[c] = w[p] + s_dot(w, x, p);
            top = z[c] > top ? z[c] : top;
        }
        for (size_t c = 0; c < k; c++)
            sum += exp(z[c] - top);
        f += top + log(sum) - z[m->y[i]];
        for (size_t c = 0; c < k; c++) {
            double r = exp(z[c] - top) / sum - (c == m->y[i]);
            double *gc = g + c * q;
            for (size_t j = 0; j < p; j++)
                gc[j] += r * x[j];
            gc[p] += r;
        }
    }
    for (size_t c = 0; c < k; c++)
        for (size_t j = 0; j < p; j++) {
            f += 0.5 * m->inv_c * theta[c * q + j] * theta[c * q + j];
            g[c * q + j] += m->inv_c * theta[c * q + j];
        }
    return f;
}

static double s_max_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

//  L-BFGS two-loop recursion: d = -H g from the stored pairs.
static void s_lbfgs_direction(const double *g, const double *S, const double *Y,
                              const double *rho, size_t used, size_t newest, size_t d_len,
                              double *d)
{
    double alpha[LBFGS_PAIRS];
    for (size_t j = 0; j < d_len; j++)
        d[j] = -g[j];
    for (size_t t = 0; t < used; t++) {
        size_t h = (newest + LBFGS_PAIRS - t) % LBFGS_PAIRS;
        alpha[h] = rho[h] * s_dot(S + h * d_len, d, d_len);
        for (size_t j = 0; j < d_len; j++)
            d[j] -= alpha[h] * Y[h * d_len + j];
    }
    if (used) {
        const double *s = S + newest * d_len, *y = Y + newest * d_len;
        double gamma = s_dot(s, y, d_len) / s_dot(y, y, d_len);
        for (size_t j = 0; j < d_len; j++)
            d[j] *= gamma;
    }
    for (size_t t = used; t-- > 0;) {
        size_t h = (newest + LBFGS_PAIRS - t) % LBFGS_PAIRS;
        double b = rho[h] * s_dot(Y + h * d_len, d, d_len);
        for (size_t j = 0; j < d_len; j++)
            d[j] += (alpha[h] - b) * S[h * d_len + j];
    }
}

//  Minimises from theta = 0. Returns iterations used, or a code.
static int s_lbfgs(s_multi_t *m, int max_iter, double *theta, mlops_err_t *err)
{
    size_t d_len = m->k * (m->p + 1), used = 0, newest = 0;
    double *buf = malloc((2 * LBFGS_PAIRS + 4) * d_len * sizeof *buf);
    if (!buf)
        return MLOPS_ENOMEM;
    double *S = buf, *Y = S + LBFGS_PAIRS * d_len, *g = Y + LBFGS_PAIRS * d_len;
    double *d = g + d_len, *t = d + d_len, *gt = t + d_len, rho[LBFGS_PAIRS];
    double f = s_multi_eval(m, theta, g), tol = 1e-8 * (double)m->n;
    int rc = MLOPS_ECONVERGE;
    for (int it = 1; it <= max_iter; it++) {
        if (s_max_abs(g, d_len) < tol) {
            rc = it;
            break;
        }
        s_lbfgs_direction(g, S, Y, rho, used, newest, d_len, d);
        double slope = s_dot(g, d, d_len), a = used ? 1.0 : 1.0 / fmax(1.0, s_max_abs(g, d_len));
        double ft = f;
        int k = 0;
        for (; k < 50; k++, a *= 0.5) {
            for (size_t j = 0; j < d_len; j++)
                t[j] = theta[j] + a * d[j];
            ft = s_multi_eval(m, t, gt);
            if (ft <= f + 1e-4 * a * slope)
                break;
        }
        if (k == 50 || slope >= 0) { //  no descent left: the optimum to double precision
            rc = it;
            break;
        }
        size_t h = used ? (newest + 1) % LBFGS_PAIRS : 0;
        double sy = 0;
        for (size_t j = 0; j < d_len; j++) {
            S[h * d_len + j] = t[j] - theta[j];
            Y[h * d_len + j] = gt[j] - g[j];
            sy += S[h * d_len + j] * Y[h * d_len + j];
        }
        if (sy > 0) { //  keeps the inverse Hessian estimate positive definite
            rho[h] = 1.0 / sy, newest = h;
            used = used < LBFGS_PAIRS ? used + 1 : LBFGS_PAIRS;
        }
        memcpy(theta, t, d_len * sizeof *t);
        memcpy(g, gt, d_len * sizeof *g);
        f = ft;
    }
    if (rc == MLOPS_ECONVERGE)
        mlops_err_set(err, rc, "logreg: no convergence in %d L-BFGS iterations; scale the "
                               "features or lower C", max_iter);
    free(buf);
    return rc;
}

//  Spreads the fitted classes' rows (theta, compact) over all k classes.
static logreg_t *s_multi_model(const double *theta, const int *compact, size_t p, size_t k)
{
    double *coef = calloc(k * p, sizeof *coef), *b = malloc(k * sizeof *b);
    logreg_t *self = NULL;
    if (coef && b) {
        double mean = 0;
        size_t fitted = 0;
        for (size_t c = 0; c < k; c++)
            if (compact[c] >= 0)
                mean += theta[(size_t)compact[c] * (p + 1) + p], fitted++;
        mean /= (double)fitted;
        for (size_t c = 0; c < k; c++) {
            if (compact[c] < 0) {
                b[c] = LOGREG_ABSENT_INTERCEPT;
                continue;
            }
            const double *w = theta + (size_t)compact[c] * (p + 1);
            memcpy(coef + c * p, w, p * sizeof *coef);
            b[c] = w[p] - mean;
        }
        self = logreg_new_task(TASK_MULTICLASS, p, k, coef, b);
    }
    free(coef);
    free(b);
    return self;
}

static int s_check_multi(const double *X, const uint8_t *y, size_t n, size_t p, size_t k,
                         const logreg_params_t *pr, mlops_err_t *err)
{
    if (n == 0 || k < 2 || k > 255)
        return mlops_err_set(err, MLOPS_EINVAL, "logreg: no training rows or %zu classes", k);
    if (p > LOGREG_MAX_FEATURES)
        return mlops_err_set(err, MLOPS_EINVAL, "logreg: %zu features exceed the limit of %d",
                             p, LOGREG_MAX_FEATURES);
    if (!(pr->C > 0) || !isfinite(pr->C) || pr->max_iter < 1)
        return mlops_err_set(err, MLOPS_EINVAL, "logreg: C must be > 0 and max_iter >= 1");
    for (size_t i = 0; i < n; i++) {
        if (y[i] >= k)
            return mlops_err_set(err, MLOPS_EINVAL,
                                 "logreg: label %u in row %zu is not below %zu", y[i], i, k);
        for (size_t j = 0; j < p; j++)
            if (!isfinite(X[i * p + j]))
                return mlops_err_set(err, MLOPS_EINVAL,
                                     "logreg: feature %zu of row %zu is not finite", j, i);
    }
    return 0;
}

logreg_t *logreg_fit_multi(const double *X, const uint8_t *y, size_t n, size_t p, size_t k,
                           const logreg_params_t *params, mlops_err_t *err)
{
    logreg_params_t pr = params ? *params : (logreg_params_t){0};
    pr.C = pr.C == 0 ? 1.0 : pr.C;
    pr.max_iter = pr.max_iter == 0 ? 1000 : pr.max_iter;
    if (s_check_multi(X, y, n, p, k, &pr, err) != 0)
        return NULL;
    int compact[256];
    size_t fitted = 0;
    for (size_t c = 0; c < k; c++)
        compact[c] = -1;
    for (size_t i = 0; i < n; i++)
        compact[y[i]] = 0;
    for (size_t c = 0; c < k; c++)
        if (compact[c] == 0)
            compact[c] = (int)fitted++;
    s_multi_t m = {X, NULL, n, p, fitted, 1.0 / pr.C, malloc(n * k * sizeof(double))};
    uint8_t *yc = malloc(n);
    double *theta = calloc(fitted * (p + 1), sizeof *theta);
    logreg_t *self = NULL;
    int iters = MLOPS_ENOMEM;
    if (m.z && yc && theta) {
        for (size_t i = 0; i < n; i++)
            yc[i] = (uint8_t)compact[y[i]];
        m.y = yc;
        //  one class only: nothing to fit, the intercepts decide
        iters = fitted < 2 ? 1 : s_lbfgs(&m, pr.max_iter, theta, err);
    }
    if (iters > 0 && !(self = s_multi_model(theta, compact, p, k)))
        iters = MLOPS_ENOMEM;
    if (iters == MLOPS_ENOMEM)
        mlops_err_set(err, MLOPS_ENOMEM, "logreg: out of memory for %zu x %zu", n, p);
    if (self)
        self->n_iter = iters;
    free(m.z);
    free(yc);
    free(theta);
    return self;
}

/* --- ridge ------------------------------------------------------------------- */

logreg_t *logreg_fit_ridge(const double *X, const double *y, size_t n, size_t p,
                           const logreg_params_t *params, mlops_err_t *err)
{
    double alpha = params && params->alpha > 0 ? params->alpha : 1.0;
    if (n == 0 || p > LOGREG_MAX_FEATURES || (params && params->alpha < 0)) {
        mlops_err_set(err, MLOPS_EINVAL, "ridge: no rows, more than %d features or alpha < 0",
                      LOGREG_MAX_FEATURES);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= p; j++)
            if (!isfinite(j < p ? X[i * p + j] : y[i])) {
                mlops_err_set(err, MLOPS_EINVAL, "ridge: a value of row %zu is not finite", i);
                return NULL;
            }
    double *mx = calloc(p + 1, sizeof *mx), *A = calloc(p * p + 1, sizeof *A);
    double *w = calloc(p + 1, sizeof *w), my = 0;
    logreg_t *self = NULL;
    if (!mx || !A || !w) {
        mlops_err_set(err, MLOPS_ENOMEM, "ridge: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        my += y[i];
        for (size_t j = 0; j < p; j++)
            mx[j] += X[i * p + j];
    }
    my /= (double)n;
    for (size_t j = 0; j < p; j++)
        mx[j] /= (double)n;
    //  (Xc'Xc + alpha I) w = Xc'(y - my), Xc the centred columns
    for (size_t i = 0; i < n; i++) {
        const double *x = X + i * p;
        for (size_t j = 0; j < p; j++) {
            double a = x[j] - mx[j];
            w[j] += a * (y[i] - my);
            for (size_t l = 0; l <= j; l++)
                A[j * p + l] += a * (x[l] - mx[l]);
        }
    }
    for (size_t j = 0; j < p; j++) {
        A[j * p + j] += alpha;
        for (size_t l = 0; l < j; l++)
            A[l * p + j] = A[j * p + l];
    }
    if (s_cholesky(A, p) != 0) {
        mlops_err_set(err, MLOPS_ECONVERGE, "ridge: the system is not positive definite");
        goto done;
    }
    s_cholesky_apply(A, w, p);
    double b = my - s_dot(mx, w, p);
    if (!(self = logreg_new_task(TASK_REGRESSION, p, 1, w, &b)))
        mlops_err_set(err, MLOPS_ENOMEM, "ridge: out of memory");
done:
    free(mx), free(A), free(w);
    return self;
}

/* --- any task ------------------------------------------------------------------ */

logreg_t *logreg_new_task(task_t task, size_t p, size_t n_classes, const double *coef,
                          const double *intercepts)
{
    size_t k = task == TASK_MULTICLASS ? n_classes : 1;
    logreg_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->coef = malloc((k * p > 0 ? k * p : 1) * sizeof(double));
    self->intercepts = task == TASK_MULTICLASS ? malloc(k * sizeof(double)) : NULL;
    if (!self->coef || (task == TASK_MULTICLASS && !self->intercepts)) {
        logreg_destroy(&self);
        return NULL;
    }
    if (k * p > 0)
        memcpy(self->coef, coef, k * p * sizeof(double));
    if (self->intercepts)
        memcpy(self->intercepts, intercepts, k * sizeof(double));
    self->intercept = task == TASK_MULTICLASS ? 0 : intercepts[0];
    self->task = task, self->n_features = p, self->n_classes = k;
    return self;
}

size_t logreg_outputs(const logreg_t *self)
{
    return self->task == TASK_MULTICLASS ? self->n_classes : 1;
}

void logreg_predict_outputs(const logreg_t *self, const double *x, double *out)
{
    size_t p = self->n_features;
    if (self->task == TASK_BINARY) {
        out[0] = logreg_predict_one(self, x);
        return;
    }
    if (self->task == TASK_REGRESSION) {
        out[0] = self->intercept + s_dot(self->coef, x, p);
        return;
    }
    double top = -INFINITY, sum = 0;
    for (size_t c = 0; c < self->n_classes; c++) {
        out[c] = self->intercepts[c] + s_dot(self->coef + c * p, x, p);
        top = out[c] > top ? out[c] : top;
    }
    for (size_t c = 0; c < self->n_classes; c++)
        sum += out[c] = exp(out[c] - top);
    for (size_t c = 0; c < self->n_classes; c++)
        out[c] /= sum;
}
