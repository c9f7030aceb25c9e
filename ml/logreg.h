/*  logreg.h: L2-regularised logistic regression, scikit-learn's
    LogisticRegression(penalty="l2", C=1.0) objective:

        min  sum_i log(1 + exp(-s_i (w.x_i + b)))  +  ||w||^2 / (2 C)

    with the intercept b not penalised. Solved by Newton's method (IRLS) with
    a backtracking line search: the feature count is small (tens), so one
    (p+1)x(p+1) Cholesky per iteration costs nothing next to the pass over
    the data, and a handful of iterations reaches the optimum to ~1e-10,
    tighter than sklearn's lbfgs stops.

    Input is a row-major n x p matrix of already preprocessed features.
*/
#ifndef MLOPS_LOGREG_H
#define MLOPS_LOGREG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LOGREG_MAX_FEATURES 4096 //  Newton needs p^2 memory; refuse wider

typedef struct {
    double C;        //  inverse regularisation strength, > 0 (sklearn's C; 0 = 1.0)
    double tol;      //  stop when the largest Newton step is below this (0 = 1e-10)
    int max_iter;    //  Newton iterations before MLOPS_ECONVERGE (0 = 100)
} logreg_params_t;

typedef struct {
    size_t n_features; //  p
    double *coef;      //  p weights, owned
    double intercept;  //  b
    int n_iter;        //  Newton iterations used (0 when built from stored values)
} logreg_t;

//  Fits on n rows of X (row-major, n x p) with labels y in {0, 1}. params may
//  be NULL for the defaults. Returns a new model or NULL with err:
//  MLOPS_EINVAL (n == 0, p over LOGREG_MAX_FEATURES, a label not 0/1, a
//  non-finite feature, bad params), MLOPS_ECONVERGE (no convergence within
//  max_iter, or a Hessian that is not positive definite), MLOPS_ENOMEM.
logreg_t *logreg_fit(const double *X, const uint8_t *y, size_t n, size_t p,
                     const logreg_params_t *params, mlops_err_t *err);

//  Builds a model from stored coefficients (copied). NULL on ENOMEM.
logreg_t *logreg_new(size_t p, const double *coef, double intercept);

//  Frees; ignores NULL; sets *p to NULL.
void logreg_destroy(logreg_t **p);

//  Probability of class 1 for one row of p features.
double logreg_predict_one(const logreg_t *self, const double *x);

#endif
