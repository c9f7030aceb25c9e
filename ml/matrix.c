/*  matrix.c: the feature matrix blob's codec (see matrix.h). The header is
    read field by field with explicit byte order; the arrays are used in
    place, which needs a little-endian host (checked at compile time). */
#include "matrix.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "prep.h"
#include "table.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "matrix.c uses float64 arrays in place: little-endian hosts only"
#endif

static uint64_t s_get(const uint8_t *p, size_t width)
{
    uint64_t v = 0;
    for (size_t i = width; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static void s_put(uint8_t *p, uint64_t v, size_t width)
{
    for (size_t i = 0; i < width; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

//  Checks the shape in m and writes the bytes a blob of it has into *len.
//  0 or MLOPS_EPROTO naming what is out of range.
static int s_shape(const matrix_t *m, size_t *len, mlops_err_t *err)
{
    if ((int)m->task < TASK_BINARY || m->task > TASK_REGRESSION)
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: unknown task %d", (int)m->task);
    if (m->n_features < 1 || m->n_features > PREP_MAX_FEATURES)
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: %zu features (1..%d)", m->n_features,
                             PREP_MAX_FEATURES);
    if (m->n_train < 1 || m->n_train > TABLE_MAX_ROWS || m->n_test > TABLE_MAX_ROWS - m->n_train)
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: %zu train and %zu test rows (1..%llu in all)",
                             m->n_train, m->n_test, (unsigned long long)TABLE_MAX_ROWS);
    if (m->profile_len > ((size_t)1 << 32))
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: a profile of %zu bytes", m->profile_len);
    //  at most 1e8 rows x 4096 features x 8 bytes: no overflow in 64 bits
    size_t rows = m->n_train + m->n_test;
    size_t target = m->task == TASK_REGRESSION ? sizeof(double) : 1;
    *len = MATRIX_HEAD_BYTES + rows * m->n_features * sizeof(double) + rows * target +
           m->profile_len;
    return 0;
}

//  Points m's arrays into blob, as the layout in matrix.h places them.
static void s_place(matrix_t *m, uint8_t *blob)
{
    double *x = (double *)(void *)(blob + MATRIX_HEAD_BYTES);
    m->X_train = x;
    m->X_test = x + m->n_train * m->n_features;
    uint8_t *t = (uint8_t *)(m->X_test + m->n_test * m->n_features);
    size_t rows = m->n_train + m->n_test;
    m->y_train = m->y_test = NULL;
    m->v_train = m->v_test = NULL;
    if (m->task == TASK_REGRESSION) {
        m->v_train = (double *)(void *)t;
        m->v_test = m->v_train + m->n_train;
        t += rows * sizeof(double);
    } else {
        m->y_train = t;
        m->y_test = t + m->n_train;
        t += rows;
    }
    m->profile = t;
}

int matrix_alloc(matrix_t *m, uint8_t **blob, size_t *len, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (s_shape(m, len, &sub) != 0)   //  our caller's bug or its data's: not a peer's bytes
        return mlops_err_set(err, MLOPS_EINVAL, "%s", sub.msg);
    if (!(*blob = calloc(1, *len)))
        return mlops_err_set(err, MLOPS_ENOMEM, "matrix: out of memory for %zu bytes", *len);
    memcpy(*blob, MATRIX_MAGIC, 4);
    s_put(*blob + 4, MATRIX_VERSION, 4);
    s_put(*blob + 8, (uint64_t)m->task, 4);
    s_put(*blob + 12, m->n_features, 4);
    s_put(*blob + 16, m->n_train, 8);
    s_put(*blob + 24, m->n_test, 8);
    s_put(*blob + 32, m->profile_len, 8);
    s_place(m, *blob);
    return 0;
}

int matrix_decode(uint8_t *data, size_t len, matrix_t *m, mlops_err_t *err)
{
    memset(m, 0, sizeof *m);
    assert(((uintptr_t)data & 7) == 0);   //  a malloc'd buffer: float64 arrays in place
    if (len < 4 || memcmp(data, MATRIX_MAGIC, 4) != 0)
        return mlops_err_set(err, MLOPS_EFOREIGN, "matrix: not a feature matrix (no %s magic)",
                             MATRIX_MAGIC);
    if (len < MATRIX_HEAD_BYTES)
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: truncated header (%zu of %d bytes)", len,
                             MATRIX_HEAD_BYTES);
    uint64_t version = s_get(data + 4, 4), task = s_get(data + 8, 4);
    if (version != MATRIX_VERSION)
        return mlops_err_set(err, MLOPS_EVERSION, "matrix: version %llu; this peer reads %d",
                             (unsigned long long)version, MATRIX_VERSION);
    if (s_get(data + 40, 8) != 0)
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: reserved header word is not 0");
    uint64_t n_train = s_get(data + 16, 8), n_test = s_get(data + 24, 8);
    uint64_t profile_len = s_get(data + 32, 8);
    if (task > TASK_REGRESSION)
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: unknown task %llu", (unsigned long long)task);
    if (n_train > TABLE_MAX_ROWS || n_test > TABLE_MAX_ROWS)   //  before they become size_t
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: %llu train and %llu test rows (1..%llu in all)",
                             (unsigned long long)n_train, (unsigned long long)n_test,
                             (unsigned long long)TABLE_MAX_ROWS);
    if (profile_len > ((uint64_t)1 << 32))
        return mlops_err_set(err, MLOPS_EPROTO, "matrix: a profile of %llu bytes",
                             (unsigned long long)profile_len);
    m->task = (task_t)task, m->n_features = (size_t)s_get(data + 12, 4);
    m->n_train = (size_t)n_train, m->n_test = (size_t)n_test, m->profile_len = (size_t)profile_len;
    size_t want = 0;
    int rc = s_shape(m, &want, err);
    if (rc == 0 && want != len)
        rc = mlops_err_set(err, MLOPS_ECORRUPT, "matrix: %zu bytes, its header says %zu", len, want);
    if (rc == 0)
        s_place(m, data);
    else
        memset(m, 0, sizeof *m);
    return rc;
}
