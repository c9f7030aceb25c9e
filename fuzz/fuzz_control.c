/*  fuzz_control.c: libFuzzer target for the broker's control socket,
    driven in process through broker_control_handle on a detached broker
    (no sockets) over a temporary store made at start.

    The store starts with two registered versions (v1 in production, v2
    archived) so PROMOTE, ROLLBACK and GET_MODEL reach their success paths,
    and RETRAIN starts and queues runs that no worker ever takes. State
    carries over between inputs, as it does in a live broker.

    Input: byte 0 picks the envelope (bits 0-1: [id, payload], [id, "",
    payload], [id] alone, [id, non-empty delimiter, payload, extra]) and the
    form (bit 2). Raw form: the rest is the payload. Structured form: byte 1
    picks a command (every control command, and some that are not), and the
    payload is the array [V, COMMAND, <rest>], V 2 when bit 3 is set (CANARY
    and PROMOTE's rollout keys are MLOPS/2) else 1, so the rest is fuzzed as
    the body. Every input must be answered (a REPLY with the identity
    echoed, except when there is no identity), a refusal must say why, and
    nothing may crash or leak.

    After each input the rollout tick runs as the broker's loop runs it
    (without its pacing), so a canary that the inputs started and reported
    enough requests for is decided (promoted or rolled back) in the store
    the next inputs see.
*/
#include <czmq.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker_internal.h"
#include "hash.h"
#include "log.h"
#include "msg.h"
#include "registry.h"
#include "store.h"

static broker_t *s_broker;

static void s_die(const char *what, const mlops_err_t *err)
{
    fprintf(stderr, "fuzz_control: %s: %s\n", what, err ? err->msg : "");
    abort();
}
static char s_dir[] = "/tmp/fuzz_control.XXXXXX";

static const char *const s_commands[] = {
    "RETRAIN", "STATUS", "RUNS", "MODELS", "PROMOTE", "ROLLBACK", "GET_MODEL",
    "READY", "HEARTBEAT", "REPLY", "EVENT", "NOPE", "SERVING",
    "CANARY",   //  last: the seeds' command bytes keep their meaning
};

//  Two versions of a made-up artifact; v1 promoted.
static void s_seed_store(void)
{
    mlops_err_t err;
    store_options_t opts = {.no_sync = true};
    store_t *store = store_open(s_dir, &opts, &err);
    if (!store)
        s_die("store_open", &err);
    static const uint8_t artifact[] = "not a real model, only bytes";
    stage_train_out_t cand = {.family = "logreg", .artifact = {.size = sizeof artifact}};
    if (store_object_put(store, NULL, artifact, sizeof artifact, cand.artifact.hash, &err) != 0)
        s_die("store_object_put", &err);
    metrics_t m = {0};
    version_t v;
    uint64_t previous;
    //  one transaction each: the store reads only what is committed
    for (uint64_t id = 1; id <= 2; id++) {
        run_t run = {.id = id};
        store_txn_t *txn = store_begin(store, &err);
        if (!txn || registry_register(store, txn, &run, &cand, &m, id == 1, "seed", 0, &v, &err) != 0 ||
            store_commit(&txn, &err) != 0)
            s_die("registry_register", &err);
    }
    store_txn_t *txn = store_begin(store, &err);
    if (!txn || registry_promote(store, txn, 1, "promote", "seed", 0, &previous, &err) != 0 ||
        store_commit(&txn, &err) != 0)
        s_die("promote", &err);
    store_destroy(&store);
}

//  libFuzzer ends with exit(): the temporary store goes with it.
static void s_cleanup(void)
{
    broker_destroy(&s_broker);
    zdir_t *dir = zdir_new(s_dir, NULL);
    if (dir)
        zdir_remove(dir, true);
    zdir_destroy(&dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_init("broker");
    log_set_level(LOG_ERROR);   //  a warning per bad input would be most of the time spent
    zsys_init();
    if (!mkdtemp(s_dir))
        s_die("mkdtemp", NULL);
    s_seed_store();
    broker_config_t cfg;
    broker_config_defaults(&cfg);
    cfg.store_dir = s_dir;
    cfg.no_sync = true;
    cfg.default_source = "synthetic:100:1";
    mlops_err_t err;
    s_broker = broker_new_detached(&cfg, &err);
    if (!s_broker)
        s_die("broker_new_detached", &err);
    atexit(s_cleanup);
    return 0;
}

static zframe_t *s_payload(const uint8_t *data, size_t size, bool structured, uint8_t version)
{
    if (!structured || size < 1)
        return zframe_new(data, size);
    const char *cmd = s_commands[data[0] % (sizeof s_commands / sizeof s_commands[0])];
    size_t n = strlen(cmd);
    zframe_t *f = zframe_new(NULL, 3 + n + size - 1);
    uint8_t *p = zframe_data(f);
    p[0] = 0x93;                 //  array of 3
    p[1] = version;              //  positive fixint
    p[2] = (uint8_t)(0xa0 | n);  //  fixstr
    memcpy(p + 3, cmd, n);
    memcpy(p + 3 + n, data + 1, size - 1);
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int shape = data[0] & 3;
    zmsg_t *in = zmsg_new();
    zmsg_addstr(in, "fuzz-client");
    if (shape == 1)
        zmsg_addmem(in, "", 0);
    if (shape == 3)
        zmsg_addstr(in, "x");
    if (shape != 2) {
        zframe_t *payload = s_payload(data + 1, size - 1, data[0] & 4, data[0] & 8 ? 2 : 1);
        zmsg_append(in, &payload);
    }
    if (shape == 3)
        zmsg_addstr(in, "extra");
    zmsg_t *reply = broker_control_handle(s_broker, &in);
    if (in || !reply || broker_flush(s_broker) != 0)
        abort();   //  the request is taken; every request with an identity is answered
    zframe_t *id = zmsg_pop(reply);
    if (!zframe_streq(id, "fuzz-client") || zmsg_size(reply) != (shape == 1 ? 2 : 1))
        abort();
    zframe_t *last = zmsg_last(reply);
    mlops_err_t err;
    proto_msg_t *msg = proto_msg_decode(zframe_data(last), zframe_size(last), &err);
    if (!msg || msg->cmd != PROTO_REPLY || (!msg->reply.ok && !*msg->reply.error))
        abort();   //  an answer we cannot read, or a refusal without a reason
    proto_msg_destroy(&msg);
    zframe_destroy(&id);
    zmsg_destroy(&reply);
    //  at every input, not every 250 ms nor after the start's grace: a
    //  canary and the report that ends it are rarely 250 ms of inputs apart
    s_broker->rollout_check_mono = 0;
    broker_rollout_tick(s_broker);
    return 0;
}
