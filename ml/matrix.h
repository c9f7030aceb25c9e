/*  matrix.h: the encoded feature matrix preprocess uploads once (PROTOCOL.md
    section 15, "The feature matrix blob") so that train never holds the raw
    table: the recipe's features of the train and test rows, their targets,
    and the training rows' reference profile (what the artifact carries for
    drift), in the exact form training consumes.

    Why float64 and not float32 or ml/bins' u8 codes: every family takes
    double features (logreg directly; forest and gbdt bin them with edges
    found from the values), and the artifact must be the one training on the
    raw table made, byte for byte. float32 would round the standardised
    features (other coefficients, other bin edges); u8 codes would fix one
    family's bins and leave logreg nothing. So the matrix is the doubles
    training would compute, stored once and used in place: matrix_decode
    points into the fetched buffer (no copy), so a train worker holds one
    copy of the features and no table.

    Layout (little-endian, the only byte order the workers run on; a decoded
    view is the buffer itself):

        off  size  field
          0     4  magic "MXF1"
          4     4  version (MATRIX_VERSION)
          8     4  task: 0 binary, 1 multiclass, 2 regression (task.h)
         12     4  n_features (1..PREP_MAX_FEATURES)
         16     8  n_train (>= 1)
         24     8  n_test; n_train + n_test <= TABLE_MAX_ROWS
         32     8  profile_len (bytes of the profile at the end)
         40     8  reserved, 0
         48        X_train   n_train x n_features float64, row-major
                   X_test    n_test x n_features float64
                   targets   regression: n_train + n_test float64;
                             else n_train + n_test uint8 class indexes
                   profile   profile_len bytes (proto/profile.h encoding)

    The blob's length must be exactly what the header implies.
*/
#ifndef MLOPS_MATRIX_H
#define MLOPS_MATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "task.h"

#define MATRIX_MAGIC "MXF1"
#define MATRIX_VERSION 1
#define MATRIX_HEAD_BYTES 48

//  A matrix blob's shape and its arrays. From matrix_decode the arrays point
//  into the decoded buffer (borrowed: valid while it lives, unchanged);
//  from matrix_alloc into the new blob, to be filled.
typedef struct {
    task_t task;              //  how the targets are stored
    size_t n_features;        //  columns of X
    size_t n_train, n_test;   //  rows of each part
    size_t profile_len;       //  bytes of profile
    double *X_train;          //  n_train x n_features
    double *X_test;           //  n_test x n_features
    uint8_t *y_train, *y_test; //  classes (BINARY, MULTICLASS), else NULL
    double *v_train, *v_test; //  targets (REGRESSION), else NULL
    uint8_t *profile;         //  the training rows' profile (profile_encode bytes)
} matrix_t;

//  A new zeroed blob (*blob, malloc'd, the caller frees; *len its bytes)
//  for m's shape (task, n_features, n_train, n_test, profile_len), its
//  header written, and m's arrays pointed into it to be filled. Returns 0,
//  MLOPS_EINVAL (a shape matrix_decode would refuse) or MLOPS_ENOMEM.
int matrix_alloc(matrix_t *m, uint8_t **blob, size_t *len, mlops_err_t *err);

//  The view of a matrix blob: m's arrays point into data (aligned as
//  malloc aligns; data must outlive m). Returns 0, or with err:
//  MLOPS_EFOREIGN (no "MXF1" magic), MLOPS_EVERSION (another version),
//  MLOPS_EPROTO (truncated header, a task, a dimension or the reserved word
//  out of range), MLOPS_ECORRUPT (a length other than the header implies).
int matrix_decode(uint8_t *data, size_t len, matrix_t *m, mlops_err_t *err);

#endif
