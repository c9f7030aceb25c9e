/*  logreg.h: L2-regularised logistic regression, scikit-learn's
    LogisticRegression(penalty="l2", C=1.0) objective:

        min  sum_i log(1 + exp(-s_i (w.x_i + b)))  +  ||w||^2 / (2 C)

    with the intercept b not penalised. Solved by Newton's method (IRLS) with
    a backtracking line search: the feature count is small (tens), so one
    (p+1)x(p+1) Cholesky per iteration costs nothing next to the pass over
    the data, and a handful of iterations reaches the optimum to ~1e-10,
    tighter than sklearn's lbfgs stops.

    The same struct holds the linear model of the other task types (the
    "logreg" family is the linear family):
    - multiclass: multinomial logistic regression, sklearn's
      LogisticRegression(C=1.0) on 3+ classes (softmax, L2 on the weights,
      intercepts free). Newton would need a (K(p+1))^2 Hessian, so this is
      L-BFGS (10 pairs, Armijo backtracking) from zero, to a gradient below
      1e-8 per row; the intercepts are centred (sum 0) as sklearn's are. A
      class absent from the training rows (a rare class in a CV fold) gets
      zero weights and an intercept of LOGREG_ABSENT_INTERCEPT: probability 0.
    - regression: ridge, sklearn's Ridge(alpha=1.0): min ||y - Xw - b||^2 +
      alpha ||w||^2, b free, solved in closed form on centred data
      (one p x p Cholesky).

    Input is a row-major n x p matrix of already preprocessed features.
*/
#ifndef MLOPS_LOGREG_H
#define MLOPS_LOGREG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "task.h"

#define LOGREG_MAX_FEATURES 4096 //  Newton needs p^2 memory; refuse wider
#define LOGREG_ABSENT_INTERCEPT (-1000.0) //  a class with no training row: exp() is 0

typedef struct {
    double C;        //  inverse regularisation strength, > 0 (sklearn's C; 0 = 1.0)
    double tol;      //  stop when the largest Newton step is below this (0 = 1e-10)
    int max_iter;    //  Newton iterations before MLOPS_ECONVERGE (0 = 100;
                     //  multiclass: L-BFGS iterations, 0 = 1000)
    double alpha;    //  regression: ridge L2 strength, sklearn's alpha (0 = 1.0)
} logreg_params_t;

typedef struct {
    size_t n_features; //  p
    double *coef;      //  p weights, owned
    double intercept;  //  b
    int n_iter;        //  Newton iterations used (0 when built from stored values)
    task_t task;  //  BINARY: sigmoid; MULTICLASS: softmax; REGRESSION: w.x + b
    size_t n_classes;  //  MULTICLASS: rows of coef (n_classes x p) and intercepts; else 1
    double *intercepts; //  MULTICLASS: n_classes, owned; else NULL
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

//  Multinomial fit on labels y in 0..k-1 (3 <= k <= 255, or 2 when asked).
//  Returns a new model or NULL with err: MLOPS_EINVAL (as logreg_fit, a
//  label not below k), MLOPS_ECONVERGE (max_iter reached), MLOPS_ENOMEM.
logreg_t *logreg_fit_multi(const double *X, const uint8_t *y, size_t n, size_t p, size_t k,
                           const logreg_params_t *params, mlops_err_t *err);

//  Ridge fit on targets y. Returns a new model (task REGRESSION) or NULL
//  with err: MLOPS_EINVAL (no rows, too wide, a non-finite value, alpha not
//  > 0), MLOPS_ECONVERGE (a singular system), MLOPS_ENOMEM.
logreg_t *logreg_fit_ridge(const double *X, const double *y, size_t n, size_t p,
                           const logreg_params_t *params, mlops_err_t *err);

//  A model of any task from stored values (copied): coef holds
//  n_classes x p weights and intercepts n_classes values for MULTICLASS,
//  else p weights and one intercept. NULL on ENOMEM.
logreg_t *logreg_new_task(task_t task, size_t p, size_t n_classes, const double *coef,
                          const double *intercepts);

//  Values per row of logreg_predict_outputs: n_classes for MULTICLASS, else 1.
size_t logreg_outputs(const logreg_t *self);

//  One row's outputs: P(class 1) (BINARY), the class probabilities
//  (MULTICLASS), the prediction (REGRESSION).
void logreg_predict_outputs(const logreg_t *self, const double *x, double *out);

//  Frees; ignores NULL; sets *p to NULL.
void logreg_destroy(logreg_t **p);

//  Probability of class 1 for one row of p features.
double logreg_predict_one(const logreg_t *self, const double *x);

#endif
