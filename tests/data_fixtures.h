/*  data_fixtures.h: what the data service's tests share: a store in a
    fresh directory, the service on a loopback port the system picks, and
    a client connected to it; all removed after the test. */
#ifndef MLOPS_DATA_FIXTURES_H
#define MLOPS_DATA_FIXTURES_H

#include "broker_fixtures.h"
#include "data.h"
#include "data_client.h"

typedef struct {
    char dir[64];                 //  the test's directory
    char spool[96];               //  the service's spool in it
    store_t *store;
    curve_t *curve;               //  from the environment (off)
    data_t *data;                 //  the service
    data_client_t *client;        //  connected to it
} dfx_t;

//  Starts it all; 0, or -1 when something could not be made.
static inline int dfx_up(dfx_t *fx, const char *name)
{
    mlops_err_t err;
    if (fx_tmpdir(fx->dir, name) != 0)
        return -1;
    char store_dir[80];
    snprintf(store_dir, sizeof store_dir, "%s/store", fx->dir);
    snprintf(fx->spool, sizeof fx->spool, "%s/incoming", store_dir);
    store_options_t opts = {.no_sync = true};
    fx->store = store_open(store_dir, &opts, &err);
    fx->curve = fx->store ? curve_new_from_env(&err) : NULL;
    fx->data = fx->curve ? data_new(fx->store, fx->curve, "tcp://127.0.0.1:*", fx->spool, &err) : NULL;
    fx->client = fx->data ? data_client_new(data_endpoint(fx->data), &err) : NULL;
    return fx->client ? 0 : -1;
}

static inline void dfx_down(dfx_t *fx)
{
    data_client_destroy(&fx->client);
    data_destroy(&fx->data);
    curve_destroy(&fx->curve);
    store_destroy(&fx->store);
    fx_rmdir(fx->dir);
}

#endif
