/*  test_broker.c: the broker's construction (broker/broker.c): a config it
    refuses names the setting at fault; a second broker on the endpoints of
    a first fails with the bind's errno and leaves the first working; a
    detached broker (no sockets) starts, flushes and stops. The broker's
    parts have tests of their own: test_batch, test_engine, test_stages,
    test_control, test_dag, test_dispatch, test_registry, test_store.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "broker_fixtures.h"
#include "testing.h"

//  The config of case i, spoiled one way; its expected error in *error.
static void s_bad_config(broker_config_t *cfg, size_t i, const char **error)
{
    static const char *families[] = {"logreg", "logreg"};
    switch (i) {
    case 0: cfg->heartbeat_msec = 0; *error = "heartbeat interval and liveness must be positive"; break;
    case 1: cfg->liveness = 0; *error = "heartbeat interval and liveness must be positive"; break;
    case 2: cfg->policy.max_attempts = 0; *error = "--max-attempts must be at least 1"; break;
    case 3: cfg->load_wait_msec = -1; *error = "--load-wait must be 0 or more"; break;
    case 4: snprintf(cfg->rule.metric, sizeof cfg->rule.metric, "speed"); *error = "unknown metric 'speed'"; break;
    case 5: cfg->n_families = 0; *error = "between 1 and"; break;
    case 6: cfg->n_families = DAG_FAMILIES_MAX + 1; *error = "between 1 and"; break;
    default:
        memcpy(cfg->families, families, sizeof families);
        *error = "model family 'logreg' given twice";
    }
}

//  Each bad setting is refused with MLOPS_EINVAL before the store is
//  opened (the directory stays empty).
static void test_broker_refuses_bad_config(void)
{
    char dir[64];
    CHECK_INT(fx_tmpdir(dir, "broker"), 0);
    char store_dir[96];
    snprintf(store_dir, sizeof store_dir, "%s/store", dir);
    for (size_t i = 0; i < 8; i++) {
        broker_config_t cfg;
        broker_config_defaults(&cfg);
        cfg.store_dir = store_dir;
        const char *error = NULL;
        s_bad_config(&cfg, i, &error);
        mlops_err_t err;
        mlops_err_clear(&err);
        broker_t *b = broker_new_detached(&cfg, &err);
        CHECK(b == NULL);
        CHECK_INT(err.code, MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, error);
        CHECK(access(store_dir, F_OK) != 0);
    }
    fx_rmdir(dir);
}

//  Endpoints a first broker holds: the second fails with EADDRINUSE and
//  says which; the first one is untouched and a detached one needs none.
static void test_broker_bind_conflict(void)
{
    char dir1[64], dir2[64];
    CHECK(fx_tmpdir(dir1, "broker") == 0 && fx_tmpdir(dir2, "broker") == 0);
    broker_config_t cfg;
    broker_config_defaults(&cfg);
    cfg.work_endpoint = "inproc://test-broker-work";
    cfg.control_endpoint = "inproc://test-broker-control";
    cfg.events_endpoint = "inproc://test-broker-events";
    cfg.store_dir = dir1;
    cfg.no_sync = true;
    mlops_err_t err;
    mlops_err_clear(&err);
    broker_t *first = broker_new(&cfg, &err);
    CHECK(first != NULL);
    cfg.store_dir = dir2;
    broker_t *second = broker_new(&cfg, &err);
    CHECK(second == NULL);
    CHECK_INT(err.code, EADDRINUSE);
    CHECK_CONTAINS(err.msg, "cannot bind inproc://test-broker-work");
    broker_t *detached = broker_new_detached(&cfg, &err);
    CHECK(detached != NULL);
    CHECK_INT(broker_flush(detached), 0);            //  nothing to commit or send
    broker_destroy(&detached);
    CHECK(detached == NULL);
    broker_destroy(&detached);                       //  NULL is fine
    CHECK_INT(broker_flush(first), 0);
    broker_destroy(&first);
    fx_rmdir(dir1);
    fx_rmdir(dir2);
}

int main(void)
{
    RUN(test_broker_refuses_bad_config);
    RUN(test_broker_bind_conflict);
    return TEST_REPORT("test_broker");
}
