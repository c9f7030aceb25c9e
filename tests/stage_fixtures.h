/*  stage_fixtures.h: the stage handlers' inputs, made by running the stages
    before them in-process (no broker, no worker): extract on a synthetic
    source, preprocess, train, with their blobs in a real data service on
    loopback (tests/data_fixtures.h) that the handlers reach through a
    client, as a worker does. Used by tests/test_stage_*.c.

    sf_up starts the service once per test process (SF_RUN and sf_chain
    need it); sf_down stops it. Each sf_* runner encodes an input payload,
    calls the handler, and decodes its output into the chain. */
#ifndef MLOPS_STAGE_FIXTURES_H
#define MLOPS_STAGE_FIXTURES_H

#include "stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_fixtures.h"

#define SF_SOURCE "synthetic:300:5"   //  small, so each test trains in milliseconds

static dfx_t sf_fx;                   //  store, data service, client
static stage_data_t sf_data;          //  what the handlers get (no cache)

//  Starts the data service the handlers use; 0 or -1.
static inline int sf_up(const char *name)
{
    if (dfx_up(&sf_fx, name) != 0)
        return -1;
    sf_data.client = sf_fx.client;
    return 0;
}

static inline void sf_down(void)
{
    dfx_down(&sf_fx);
    memset(&sf_data, 0, sizeof sf_data);
}

typedef struct {
    stage_extract_out_t x;            //  the table
    stage_preprocess_out_t p;         //  recipe and split
    stage_split_t split;              //  the split, fetched (owned rows)
    stage_train_out_t t;              //  the artifact
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
            (rc) = handler(&sf_data, _in, _in_len, (out), (out_len), (err));     \
        free(_in);                                                               \
    } while (0)

//  Runs handler on raw bytes (a payload that is not one) and returns its code.
static inline int sf_run_bytes(agent_handler_fn *handler, const void *bytes, size_t len,
                               mlops_err_t *err)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    mlops_err_clear(err);
    int rc = handler(&sf_data, bytes, len, &out, &out_len, err);
    free(out);
    return rc;
}

//  Uploads bytes to the service: their ref in *ref. 0 or the client's code.
static inline int sf_put(const void *bytes, size_t len, stage_ref_t *ref)
{
    mlops_err_t err;
    ref->size = (int64_t)len;
    return data_client_put(sf_fx.client, bytes, len, ref->hash, &err);
}

//  Uploads a split of these rows; its ref in *ref. 0 or a code.
static inline int sf_put_split(size_t *train, size_t n_train, size_t *test, size_t n_test,
                               stage_ref_t *ref)
{
    stage_split_t split = {.train_rows = train, .n_train = n_train, .test_rows = test,
                           .n_test = n_test};
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = stage_split_encode(&split, &bytes, &len);
    if (rc == 0)
        rc = sf_put(bytes, len, ref);
    free(bytes);
    return rc;
}

//  The bytes of a ref from the service (malloc'd). 0 or the client's code.
static inline int sf_get(const stage_ref_t *ref, uint8_t **bytes, size_t *len)
{
    mlops_err_t err;
    return data_client_fetch(sf_fx.client, ref->hash, bytes, len, &err);
}

//  Runs handler on the payload in, decoding its output with decode into
//  out. Returns the first failing code.
#define SF_STEP(rc, handler, encode, in, decode, out)                            \
    do {                                                                         \
        uint8_t *_buf = NULL;                                                    \
        size_t _len = 0;                                                         \
        mlops_err_t _err;                                                        \
        SF_RUN(rc, handler, encode, in, &_buf, &_len, &_err);                    \
        if ((rc) == 0)                                                           \
            (rc) = decode(_buf, _len, out, &_err);                               \
        free(_buf);                                                              \
    } while (0)

//  Runs extract, then preprocess for target and task ("" = the defaults:
//  Survived, binary), then (when family is not NULL) a train of family on
//  SF_SOURCE, passing preprocess's task and matrix on, as the broker does.
//  Returns 0 or the first failing stage's code.
static inline int sf_chain_task(sf_chain_t *c, const char *target, const char *task,
                                const char *family)
{
    memset(c, 0, sizeof *c);
    stage_extract_in_t xin = {.source = SF_SOURCE};
    int rc;
    SF_STEP(rc, stage_extract_run, stage_extract_in_encode, &xin, stage_extract_out_decode, &c->x);
    if (rc)
        return rc;
    stage_preprocess_in_t pin = {.table = c->x.table, .seed = 1};
    snprintf(pin.target, sizeof pin.target, "%s", target);
    snprintf(pin.task, sizeof pin.task, "%s", task);
    SF_STEP(rc, stage_preprocess_run, stage_preprocess_in_encode, &pin, stage_preprocess_out_decode,
            &c->p);
    uint8_t *split = NULL;
    size_t split_len = 0;
    mlops_err_t err;
    if (rc == 0 && (rc = sf_get(&c->p.split, &split, &split_len)) == 0)
        rc = stage_split_decode(split, split_len, &c->split, &err);
    free(split);
    if (rc || !family)
        return rc;
    stage_train_in_t tin = {.table = c->x.table, .recipe = c->p.recipe, .split = c->p.split,
                            .seed = 2, .matrix = c->p.matrix};
    snprintf(tin.family, sizeof tin.family, "%s", family);
    snprintf(tin.task, sizeof tin.task, "%s", c->p.task);
    SF_STEP(rc, stage_train_run, stage_train_in_encode, &tin, stage_train_out_decode, &c->t);
    return rc;
}

//  sf_chain_task for Survived, binary, and (when train) logreg.
static inline int sf_chain(sf_chain_t *c, bool train)
{
    return sf_chain_task(c, "", "", train ? "logreg" : NULL);
}

static inline void sf_chain_clear(sf_chain_t *c)
{
    stage_split_clear(&c->split);
    memset(c, 0, sizeof *c);
}

#endif
