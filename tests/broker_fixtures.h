/*  broker_fixtures.h: what the broker's tests share: a fresh directory for
    a store, removed after the test, and a broker without sockets over it
    (broker_new_detached), as the control, engine and stage tests use. */
#ifndef MLOPS_BROKER_FIXTURES_H
#define MLOPS_BROKER_FIXTURES_H

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"

//  Makes a fresh directory /tmp/mlops-test-<name>-XXXXXX, its path in dir.
//  Returns 0, or -1 when mkdtemp fails.
static inline int fx_tmpdir(char dir[64], const char *name)
{
    snprintf(dir, 64, "/tmp/mlops-test-%s-XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

//  Removes dir and everything in it.
static inline void fx_rmdir(const char *dir)
{
    zdir_t *d = zdir_new(dir, NULL);
    zdir_remove(d, true);
    zdir_destroy(&d);
}

//  A broker without sockets, default config (commits without fsync), its
//  store in a fresh directory whose path goes in dir. NULL when either
//  could not be made.
static inline broker_t *fx_broker(char dir[64], const char *name)
{
    if (fx_tmpdir(dir, name) != 0)
        return NULL;
    broker_config_t cfg;
    broker_config_defaults(&cfg);
    cfg.store_dir = dir;
    cfg.no_sync = true;
    mlops_err_t err;
    return broker_new_detached(&cfg, &err);
}

#endif
