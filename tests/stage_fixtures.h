/*  stage_fixtures.h: the stage handlers' inputs, made by running the stages
    before them in-process (no broker, no worker): extract on a synthetic
    source, preprocess, train. Used by tests/test_stage_*.c.

    Each sf_* runner encodes an input payload, calls the handler, and
    decodes its output into the chain; decoded byte fields borrow from the
    output buffers the chain keeps, so sf_chain_clear frees them last. */
#ifndef MLOPS_STAGE_FIXTURES_H
#define MLOPS_STAGE_FIXTURES_H

#include "stages.h"

#include <stdlib.h>
#include <string.h>

#define SF_SOURCE "synthetic:300:5"   //  small, so each test trains in milliseconds

typedef struct {
    uint8_t *x_buf, *p_buf, *t_buf;   //  extract, preprocess, train outputs
    size_t x_len, p_len, t_len;
    stage_extract_out_t x;            //  the table, borrowed from x_buf
    stage_preprocess_out_t p;         //  recipe borrowed, rows owned
    stage_train_out_t t;              //  artifact borrowed from t_buf
} sf_chain_t;

//  Encodes in with encode and runs handler on it: rc gets the code, *out
//  the output (the caller frees), err the handler's message.
#define SF_RUN(rc, handler, encode, in, out, out_len, err)                       \
    do {                                                                         \
        uint8_t *_in = NULL;                                                     \
        size_t _in_len = 0;                                                      \
        mlops_err_clear(err);                                                    \
        (rc) = encode((in), &_in, &_in_len);                                     \
        if ((rc) == 0)                                                           \
            (rc) = handler(_in, _in_len, (out), (out_len), (err));               \
        free(_in);                                                               \
    } while (0)

//  Runs handler on raw bytes (a payload that is not one) and returns its code.
static inline int sf_run_bytes(agent_handler_fn *handler, const void *bytes, size_t len,
                               mlops_err_t *err)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    mlops_err_clear(err);
    int rc = handler(bytes, len, &out, &out_len, err);
    free(out);
    return rc;
}

//  Runs extract, then preprocess, then (when train) a logreg train on
//  SF_SOURCE. Returns 0 or the first failing stage's code.
static inline int sf_chain(sf_chain_t *c, bool train)
{
    memset(c, 0, sizeof *c);
    mlops_err_t err;
    stage_extract_in_t xin = {.source = SF_SOURCE};
    int rc;
    SF_RUN(rc, stage_extract_run, stage_extract_in_encode, &xin, &c->x_buf, &c->x_len, &err);
    if (rc || (rc = stage_extract_out_decode(c->x_buf, c->x_len, &c->x, &err)))
        return rc;
    stage_preprocess_in_t pin = {.table = c->x.table, .table_len = c->x.table_len, .seed = 1};
    SF_RUN(rc, stage_preprocess_run, stage_preprocess_in_encode, &pin, &c->p_buf, &c->p_len, &err);
    if (rc || (rc = stage_preprocess_out_decode(c->p_buf, c->p_len, &c->p, &err)) || !train)
        return rc;
    stage_train_in_t tin = {.table = c->x.table, .table_len = c->x.table_len,
                            .recipe = c->p.recipe, .recipe_len = c->p.recipe_len,
                            .train_rows = c->p.train_rows, .n_train = c->p.n_train,
                            .test_rows = c->p.test_rows, .n_test = c->p.n_test,
                            .family = "logreg", .seed = 2};
    SF_RUN(rc, stage_train_run, stage_train_in_encode, &tin, &c->t_buf, &c->t_len, &err);
    if (rc == 0)
        rc = stage_train_out_decode(c->t_buf, c->t_len, &c->t, &err);
    return rc;
}

static inline void sf_chain_clear(sf_chain_t *c)
{
    stage_preprocess_out_clear(&c->p);
    free(c->x_buf);
    free(c->p_buf);
    free(c->t_buf);
    memset(c, 0, sizeof *c);
}

#endif
