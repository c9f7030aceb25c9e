/*  broker.c: the mlops-broker reactor (see broker.h).

    Layout: construction and resume; the work socket (READY, HEARTBEAT,
    RESULT, DISCONNECT); the run engine (trigger, pump, dispatch, settle);
    the stage inputs built from the store; the control socket (one function
    per command); timers (heartbeats, expiry, timeouts, backoff, schedule).

    The engine keeps the active run in memory as a copy of what the store
    holds. Changes made while handling one message go into one store
    transaction (the batch) and everything the broker would send meanwhile
    (TASKs, events, REPLYs, heartbeats) waits in an outbox; s_flush commits
    the batch and only then sends the outbox. So nothing is announced or
    acted on before it is durable, and a run costs one commit per message
    instead of one per transition. If a commit fails, the outbox is dropped
    and the in-memory state is reloaded from the store.
*/
#include "broker.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_io.h"
#include "curve.h"
#include "dispatch.h"
#include "duration.h"
#include "fleet.h"
#include "log.h"
#include "msg.h"
#include "store.h"

#define TICK_MSEC 50              //  timers: backoff, timeouts, schedule
#define SAMPLE_BYTES 48           //  of a bad frame, in the log
#define RUNS_DEFAULT 20
#define STALL_GAP_MSEC (4 * TICK_MSEC) //  a longer gap between ticks is a stall of ours
#define DRAIN_MAX 1000            //  messages read from the work socket before expiring anyone
#define BIG_BYTES (1 << 20)       //  a payload this big may stall the loop: heartbeat first

typedef struct {
    zsock_t *sock;                //  where it goes
    zmsg_t *msg;                  //  what, owned (the envelope only when payload is set)
    uint8_t *payload;             //  last frame, owned, handed to ZeroMQ uncopied; NULL = none
    size_t payload_len;
} s_out_t;

//  A stage output written in the open batch: inputs built before the batch
//  commits must see it, and the store only shows committed data.
typedef struct {
    char key[96];                 //  blob key, or "dataset:<hash>"
    uint8_t *data;                //  owned copy
    size_t len;
} s_cached_t;

struct broker {
    broker_config_t cfg;          //  strings point into the copies below
    char *strings[8];             //  owned copies of config strings
    store_t *store;               //  the one durable place
    curve_t *curve;               //  CURVE configuration (maybe off)
    zsock_t *work;                //  ROUTER, stage workers
    zsock_t *control;             //  ROUTER, clients
    zsock_t *events;              //  PUB
    zloop_t *loop;
    store_txn_t *txn;             //  the batch of this message, NULL when none
    s_out_t *out;                 //  outbox: sent after the batch commits
    size_t n_out, cap_out;
    s_cached_t *cache;            //  outputs written in the batch
    size_t n_cache, cap_cache;
    version_t staged;             //  version registered in the batch (0 = none)
    dispatch_t *dispatch;         //  workers and per-stage queues
    fleet_t *fleet;               //  inference workers (SERVING) and the load_model wait
    int64_t resumed_mono;         //  when a run was resumed from the store, 0 = never
    run_t active;                 //  the running run; id 0 = none
    uint64_t queued_id;           //  the queued run, 0 = none
    int64_t next_schedule_ms;     //  wall clock, 0 = no schedule
    //  figures for the bench: time inside handlers, store commits
    uint64_t n_messages;          //  work + control messages handled
    int64_t handler_usec;         //  total time in their handlers
    uint64_t n_commits;           //  store commits
    int64_t commit_usec;          //  total time in commits
};

static void s_pump(broker_t *self);
static void s_run_ended(broker_t *self);
static void s_reload(broker_t *self);
static void s_load_wait_check(broker_t *self);

/* --- small helpers ------------------------------------------------------- */

static int64_t s_wall(void)
{
    return (int64_t)zclock_time();
}

static char *s_sample(const void *data, size_t len, char *out, size_t size)
{
    return log_sanitize(data, len < SAMPLE_BYTES ? len : SAMPLE_BYTES, out, size);
}

//  text that came from a peer, made safe for one log line
static char *s_clean(const char *text, char *out, size_t size)
{
    return log_sanitize(text, strlen(text), out, size);
}

static const char *s_copy(broker_t *self, int slot, const char *s)
{
    free(self->strings[slot]);
    self->strings[slot] = strdup(s ? s : "");
    return self->strings[slot];
}

//  Encodes msg into a frame; NULL on failure (logged: a bug of ours).
static zframe_t *s_frame_of(const proto_msg_t *msg)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(msg, &bytes, &len);
    if (rc) {
        log_error("cannot encode %s: %s", proto_cmd_name(msg->cmd), mlops_strerror(rc));
        return NULL;
    }
    zframe_t *frame = zframe_new(bytes, len);
    free(bytes);
    return frame;
}

//  Queues msg, then payload as its last frame when not NULL, for sending
//  after the batch commits (takes both).
static void s_out_push_payload(broker_t *self, zsock_t *sock, zmsg_t **msg, uint8_t **payload,
                               size_t payload_len)
{
    if (self->n_out == self->cap_out) {
        size_t cap = self->cap_out ? self->cap_out * 2 : 16;
        s_out_t *grown = realloc(self->out, cap * sizeof *grown);
        if (!grown) {
            log_error("out of memory: a message is dropped");
            zmsg_destroy(msg);
            free(payload ? *payload : NULL);
            return;
        }
        self->out = grown;
        self->cap_out = cap;
    }
    self->out[self->n_out++] = (s_out_t){sock, *msg, payload ? *payload : NULL, payload_len};
    *msg = NULL;
    if (payload)
        *payload = NULL;
}

static void s_out_push(broker_t *self, zsock_t *sock, zmsg_t **msg)
{
    s_out_push_payload(self, sock, msg, NULL, 0);
}

static void s_out_drop(broker_t *self)
{
    for (size_t i = 0; i < self->n_out; i++) {
        zmsg_destroy(&self->out[i].msg);
        free(self->out[i].payload);
    }
    self->n_out = 0;
}

static void s_payload_free_fn(void *data, void *hint)
{
    (void)hint;
    free(data);
}

//  Sends one outbox entry. A payload goes as a ZeroMQ message over our own
//  buffer: a TASK can be a hundred MB, and a copy of it is loop time in
//  which no heartbeat is read.
static void s_out_send(s_out_t *o)
{
    if (!o->payload) {
        zmsg_send(&o->msg, o->sock);
        return;
    }
    zframe_t *f;
    while ((f = zmsg_pop(o->msg)))
        zframe_send(&f, o->sock, ZFRAME_MORE);
    zmsg_destroy(&o->msg);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, o->payload, o->payload_len, s_payload_free_fn, NULL) != 0) {
        free(o->payload);
    } else if (zmq_msg_send(&m, zsock_resolve(o->sock), 0) < 0) {
        zmq_msg_close(&m);   //  frees the payload
    }
    o->payload = NULL;
}

static void s_cache_clear(broker_t *self)
{
    for (size_t i = 0; i < self->n_cache; i++)
        free(self->cache[i].data);
    self->n_cache = 0;
    self->staged.version = 0;
}

//  Remembers bytes written under key in this batch. Returns 0 or MLOPS_ENOMEM.
static int s_cache_put(broker_t *self, const char *key, const uint8_t *data, size_t len)
{
    if (self->n_cache == self->cap_cache) {
        size_t cap = self->cap_cache ? self->cap_cache * 2 : 8;
        s_cached_t *grown = realloc(self->cache, cap * sizeof *grown);
        if (!grown)
            return MLOPS_ENOMEM;
        self->cache = grown;
        self->cap_cache = cap;
    }
    s_cached_t *c = &self->cache[self->n_cache];
    c->data = malloc(len ? len : 1);
    if (!c->data)
        return MLOPS_ENOMEM;
    memcpy(c->data, data, len);
    c->len = len;
    snprintf(c->key, sizeof c->key, "%s", key);
    self->n_cache++;
    return 0;
}

//  A blob (or "dataset:<hash>") as of the open batch: a malloc'd copy.
static int s_get_bytes(broker_t *self, const char *key, uint8_t **data, size_t *len, mlops_err_t *err)
{
    for (size_t i = self->n_cache; i-- > 0;) {
        if (strcmp(self->cache[i].key, key) != 0)
            continue;
        *data = malloc(self->cache[i].len ? self->cache[i].len : 1);
        if (!*data)
            return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        memcpy(*data, self->cache[i].data, self->cache[i].len);
        *len = self->cache[i].len;
        return 0;
    }
    if (strncmp(key, "dataset:", 8) == 0)
        return store_dataset_get(self->store, key + 8, data, len, err);
    return store_blob_get(self->store, key, data, len, err);
}

static void s_send_to(broker_t *self, zsock_t *sock, const uint8_t *id, size_t id_len,
                      const proto_msg_t *msg)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(msg, &bytes, &len);
    if (rc) {
        log_error("cannot encode %s: %s", proto_cmd_name(msg->cmd), mlops_strerror(rc));
        return;
    }
    zmsg_t *out = zmsg_new();
    zmsg_addmem(out, id, id_len);
    s_out_push_payload(self, sock, &out, &bytes, len);
}

static void s_send_worker(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg)
{
    s_send_to(self, self->work, w->id, w->id_len, msg);
    w->last_sent_mono = zclock_mono();
}

//  Heartbeats every worker not written to for half an interval, at once
//  rather than through the outbox (a heartbeat announces nothing): called
//  before work that may keep the loop busy, so the workers hear from us
//  right before the pause and do not take it for a dead broker.
static void s_heartbeat_now(broker_t *self)
{
    if (!self->work)
        return;
    proto_msg_t hb = {.cmd = PROTO_HEARTBEAT};
    hb.heartbeat.task_id = "";
    int64_t now = zclock_mono();
    for (size_t i = 0; i < dispatch_worker_count(self->dispatch); i++) {
        dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        zframe_t *payload = now - w->last_sent_mono >= self->cfg.heartbeat_msec / 2 ? s_frame_of(&hb) : NULL;
        if (!payload)
            continue;
        zmsg_t *out = zmsg_new();
        zmsg_addmem(out, w->id, w->id_len);
        zmsg_append(out, &payload);
        zmsg_send(&out, self->work);
        zmsg_destroy(&out);
        w->last_sent_mono = now;
    }
}

static void s_publish(broker_t *self, const char *kind, uint64_t run_id, const char *stage,
                      const char *state, uint64_t version, const char *message)
{
    proto_msg_t ev = {.cmd = PROTO_EVENT};
    ev.event.kind = kind;
    ev.event.run_id = (int64_t)run_id;
    ev.event.stage = stage ? stage : "";
    ev.event.state = state ? state : "";
    ev.event.version = (int64_t)version;
    ev.event.message = message ? message : "";
    ev.event.ts_ms = s_wall();
    zframe_t *payload = s_frame_of(&ev);
    if (!payload)
        return;
    zmsg_t *out = zmsg_new();
    zmsg_addstr(out, kind);
    zmsg_append(out, &payload);
    s_out_push(self, self->events, &out);
    log_debug("event kind=%s run=%llu stage=%s state=%s", kind, (unsigned long long)run_id,
              stage ? stage : "", state ? state : "");
}

//  A task event's message starts with the task id ("3-train-forest: ..."),
//  which tells fanned-out tasks of one stage apart.
static void s_publish_task(broker_t *self, const run_task_t *task, const char *detail)
{
    char message[RECORD_ERROR_MAX + 128];
    snprintf(message, sizeof message, "%s%s%s", task->task_id, detail ? ": " : "", detail ? detail : "");
    s_publish(self, "task", self->active.id, task->stage, task_state_name(task->state), 0, message);
}

static void s_publish_run(broker_t *self, const run_t *run)
{
    const char *message = run->state == RUN_FAILED ? run->error : run->outcome;
    s_publish(self, "run", run->id, "", run_state_name(run->state), run->version,
              *message ? message : run->reason);
}

//  The batch transaction, begun on first use. NULL on failure (logged).
static store_txn_t *s_txn(broker_t *self)
{
    if (self->txn)
        return self->txn;
    mlops_err_t err;
    mlops_err_clear(&err);
    self->txn = store_begin(self->store, &err);
    if (!self->txn)
        log_error("cannot begin a store transaction: %s", mlops_err_text(&err, err.code));
    return self->txn;
}

//  Writes run into the batch. Returns 0 or a store error (logged).
static int s_put_run(broker_t *self, const run_t *run)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    store_txn_t *txn = s_txn(self);
    int rc = txn ? store_run_put(self->store, txn, run, &err) : MLOPS_ESTORE;
    if (rc)
        log_error("cannot store run %llu: %s", (unsigned long long)run->id, mlops_err_text(&err, rc));
    return rc;
}

//  Commits the batch, then sends the outbox. When the commit fails nothing
//  of the batch happened: the outbox is dropped and memory is reloaded from
//  the store. Returns 0 or the store's error.
static int s_flush(broker_t *self)
{
    int rc = 0;
    if (self->txn) {
        mlops_err_t err;
        mlops_err_clear(&err);
        int64_t t0 = zclock_usecs();
        rc = store_commit(&self->txn, &err);
        self->commit_usec += zclock_usecs() - t0;
        self->n_commits++;
        s_cache_clear(self);
        if (rc) {
            log_error("store commit failed, changes dropped: %s", mlops_err_text(&err, rc));
            s_out_drop(self);
            s_reload(self);
            return rc;
        }
    }
    for (size_t i = 0; i < self->n_out; i++) {
        if (self->out[i].sock)
            s_out_send(&self->out[i]);
        zmsg_destroy(&self->out[i].msg);   //  detached (no socket): dropped
        free(self->out[i].payload);
    }
    self->n_out = 0;
    return 0;
}

//  Forgets the open batch and what waits for it, and reloads from the store.
static void s_abort_batch(broker_t *self)
{
    store_abort(&self->txn);
    s_cache_clear(self);
    s_out_drop(self);
    s_reload(self);
}

//  Makes memory agree with the store again after a batch was lost: the
//  running run as stored; a task it says is running but that no worker holds
//  goes back to pending; a worker whose task is not running is idle.
static void s_reload(broker_t *self)
{
    run_clear(&self->active);
    self->queued_id = 0;
    mlops_err_t err;
    run_t *runs = NULL;
    size_t n = 0;
    if (store_run_list(self->store, 0, &runs, &n, &err) != 0) {
        log_error("cannot reload runs: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (runs[i].state == RUN_QUEUED)
            self->queued_id = runs[i].id;
        else if (runs[i].state == RUN_RUNNING && self->active.id == 0 &&
                 run_copy(&self->active, &runs[i]) != 0)
            log_error("out of memory reloading run %llu", (unsigned long long)runs[i].id);
    }
    store_runs_free(&runs, n);
    for (size_t i = 0; i < dispatch_worker_count(self->dispatch); i++) {
        dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        run_task_t *t = w->task_id[0] ? dag_task_find(&self->active, w->task_id) : NULL;
        if (w->task_id[0] && (!t || t->state != TASK_RUNNING))
            dispatch_worker_release(w, zclock_mono());
    }
    for (size_t i = 0; i < self->active.n_tasks; i++) {
        run_task_t *t = &self->active.tasks[i];
        bool held = false;
        for (size_t k = 0; k < dispatch_worker_count(self->dispatch); k++)
            held |= strcmp(dispatch_worker_at(self->dispatch, k)->task_id, t->task_id) == 0;
        if (t->state == TASK_RUNNING && !held) {
            t->state = TASK_PENDING;
            t->attempts = t->attempts > 0 ? t->attempts - 1 : 0;
        }
        dispatch_queue_remove(self->dispatch, t->task_id);
    }
    log_warning("state reloaded from the store: active run %llu, queued run %llu",
                (unsigned long long)self->active.id, (unsigned long long)self->queued_id);
}

/* --- construction -------------------------------------------------------- */

void broker_config_defaults(broker_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->work_endpoint = "tcp://*:5555";
    cfg->control_endpoint = "tcp://*:5556";
    cfg->events_endpoint = "tcp://*:5557";
    cfg->store_dir = "mlops-store";
    cfg->heartbeat_msec = HEARTBEAT_IVL_MSEC;
    cfg->liveness = HEARTBEAT_LIVENESS;
    cfg->policy = (dag_policy_t){.max_attempts = 3, .backoff_msec = 1000, .backoff_max_msec = 60000};
    for (int s = 0; s < STAGE_COUNT; s++)
        cfg->timeout_msec[s] = BROKER_STAGE_TIMEOUT_MSEC;
    snprintf(cfg->rule.metric, sizeof cfg->rule.metric, "auc");
    cfg->rule.margin = 0;
    cfg->load_wait_msec = BROKER_LOAD_WAIT_MSEC;
    cfg->default_source = "synthetic";
    cfg->target = "";
    cfg->seed = 42;
    cfg->families[0] = "logreg";
    cfg->families[1] = "forest";
    cfg->n_families = 2;
}

static int s_work_fn(zloop_t *loop, zsock_t *sock, void *arg);
static int s_control_fn(zloop_t *loop, zsock_t *sock, void *arg);
static int s_tick_fn(zloop_t *loop, int timer_id, void *arg);

static zsock_t *s_bind(broker_t *self, int type, const char *endpoint, mlops_err_t *err)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        mlops_err_set(err, MLOPS_ENOMEM, "cannot create a socket");
        return NULL;
    }
    zsock_set_linger(sock, 0);
    if (type == ZMQ_ROUTER)
        zsock_set_router_mandatory(sock, 0);
    if (type == ZMQ_PUB)
        zsock_set_sndhwm(sock, 100000);
    if (curve_apply_server(self->curve, sock) != 0 || zsock_bind(sock, "%s", endpoint) < 0) {
        mlops_err_set(err, zmq_errno() ? zmq_errno() : MLOPS_EINVAL, "cannot bind %s: %s", endpoint,
                      zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
    }
    return sock;
}

static int s_check_config(const broker_config_t *cfg, mlops_err_t *err)
{
    double v;
    metrics_t m = {0};
    if (cfg->heartbeat_msec <= 0 || cfg->liveness < 1)
        return mlops_err_set(err, MLOPS_EINVAL, "heartbeat interval and liveness must be positive");
    if (cfg->policy.max_attempts < 1 || cfg->policy.backoff_msec < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "--max-attempts must be at least 1");
    if (cfg->load_wait_msec < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "--load-wait must be 0 or more");
    if (registry_metric(&m, cfg->rule.metric, &v))
        return mlops_err_set(err, MLOPS_EINVAL,
                             "unknown metric '%s' (accuracy, precision, recall, f1, auc, log_loss)",
                             cfg->rule.metric);
    if (cfg->n_families == 0 || cfg->n_families > DAG_FAMILIES_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "between 1 and %d model families", DAG_FAMILIES_MAX);
    for (size_t i = 0; i < cfg->n_families; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfg->families[i], cfg->families[k]) == 0)
                return mlops_err_set(err, MLOPS_EINVAL, "model family '%s' given twice", cfg->families[i]);
    return 0;
}

//  Picks up the store's unfinished runs: the running one resumes (its
//  in-flight tasks go back to pending), the oldest queued one waits.
static int s_resume(broker_t *self, mlops_err_t *err)
{
    run_t *runs = NULL;
    size_t n = 0;
    int rc = store_run_list(self->store, 0, &runs, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {   //  newest first
        if (runs[i].state == RUN_QUEUED)
            self->queued_id = runs[i].id;
        else if (runs[i].state == RUN_RUNNING && self->active.id == 0)
            rc = run_copy(&self->active, &runs[i]);
    }
    store_runs_free(&runs, n);
    if (rc)
        return mlops_err_set(err, rc, "out of memory resuming runs");
    if (self->active.id) {
        size_t back = dag_resume(&self->active, s_wall());
        rc = s_put_run(self, &self->active);
        if (rc == 0)
            rc = s_flush(self);
        if (rc)
            return mlops_err_set(err, rc, "cannot store the resumed run");
        self->resumed_mono = zclock_mono();
        log_info("resumed run=%llu tasks_requeued=%zu", (unsigned long long)self->active.id, back);
    }
    return 0;
}

//  broker_new, without sockets when detached.
static broker_t *s_new(const broker_config_t *cfg, bool detached, mlops_err_t *err)
{
    if (s_check_config(cfg, err))
        return NULL;
    broker_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->cfg.work_endpoint = s_copy(self, 0, cfg->work_endpoint);
    self->cfg.control_endpoint = s_copy(self, 1, cfg->control_endpoint);
    self->cfg.events_endpoint = s_copy(self, 2, cfg->events_endpoint);
    self->cfg.store_dir = s_copy(self, 3, cfg->store_dir);
    self->cfg.default_source = s_copy(self, 4, cfg->default_source);
    self->cfg.target = s_copy(self, 5, cfg->target);
    store_options_t store_opts = {.no_sync = self->cfg.no_sync,
                                  .max_bytes = self->cfg.store_max_bytes};
    //  A limit below the default initial map is also the initial map.
    if (store_opts.max_bytes && store_opts.max_bytes < STORE_MAP_BYTES_DEFAULT)
        store_opts.map_bytes = store_opts.max_bytes;
    self->store = store_open(self->cfg.store_dir, &store_opts, err);
    self->curve = self->store ? curve_new_from_env(err) : NULL;
    self->dispatch = dispatch_new();
    self->fleet = fleet_new(self->cfg.liveness);
    if (!self->store || !self->curve || !self->dispatch || !self->fleet) {
        broker_destroy(&self);
        return NULL;
    }
    if (!detached) {
        self->work = s_bind(self, ZMQ_ROUTER, self->cfg.work_endpoint, err);
        self->control = self->work ? s_bind(self, ZMQ_ROUTER, self->cfg.control_endpoint, err) : NULL;
        self->events = self->control ? s_bind(self, ZMQ_PUB, self->cfg.events_endpoint, err) : NULL;
    }
    if ((!detached && !self->events) || s_resume(self, err)) {
        broker_destroy(&self);
        return NULL;
    }
    if (detached)
        return self;
    self->loop = zloop_new();
    zloop_reader(self->loop, self->work, s_work_fn, self);
    zloop_reader(self->loop, self->control, s_control_fn, self);
    zloop_timer(self->loop, TICK_MSEC, 0, s_tick_fn, self);
    if (self->cfg.schedule_msec > 0)
        self->next_schedule_ms = s_wall() + self->cfg.schedule_msec;
    return self;
}

broker_t *broker_new(const broker_config_t *cfg, mlops_err_t *err)
{
    return s_new(cfg, false, err);
}

broker_t *broker_new_detached(const broker_config_t *cfg, mlops_err_t *err)
{
    return s_new(cfg, true, err);
}

void broker_destroy(broker_t **p)
{
    if (!p || !*p)
        return;
    broker_t *self = *p;
    if (self->n_messages)
        log_info("figures messages=%llu handler_mean_us=%.1f commits=%llu commit_mean_us=%.1f "
                 "overhead_mean_us=%.1f",
                 (unsigned long long)self->n_messages, (double)self->handler_usec / self->n_messages,
                 (unsigned long long)self->n_commits,
                 self->n_commits ? (double)self->commit_usec / self->n_commits : 0.0,
                 (double)(self->handler_usec - self->commit_usec) / self->n_messages);
    store_abort(&self->txn);
    s_cache_clear(self);
    free(self->cache);
    s_out_drop(self);
    free(self->out);
    zloop_destroy(&self->loop);
    zsock_destroy(&self->events);
    zsock_destroy(&self->control);
    zsock_destroy(&self->work);
    curve_destroy(&self->curve);
    dispatch_destroy(&self->dispatch);
    fleet_destroy(&self->fleet);
    run_clear(&self->active);
    store_destroy(&self->store);
    for (size_t i = 0; i < sizeof self->strings / sizeof self->strings[0]; i++)
        free(self->strings[i]);
    free(self);
    *p = NULL;
}

int broker_run(broker_t *self)
{
    log_info("listening work=%s control=%s events=%s store=%s curve=%s", self->cfg.work_endpoint,
             self->cfg.control_endpoint, self->cfg.events_endpoint, self->cfg.store_dir,
             curve_server_enabled(self->curve) ? "on" : "off (any client may connect)");
    s_pump(self);
    int rc = zloop_start(self->loop);
    return rc == 0 || zsys_interrupted ? 0 : -1;
}

/* --- stage inputs, built from the store at each dispatch ----------------- */

//  What an input borrows from, freed after the TASK is encoded.
typedef struct {
    uint8_t *table;               //  dataset bytes
    size_t table_len;
    uint8_t *prep_blob;           //  preprocess output
    size_t prep_len;
    stage_preprocess_out_t prep;  //  decoded from prep_blob
    uint8_t *blobs[STAGE_CANDIDATES_MAX]; //  train outputs
    uint8_t *production;          //  production artifact
} s_inputs_t;

static void s_inputs_clear(s_inputs_t *in)
{
    free(in->table);
    free(in->prep_blob);
    stage_preprocess_out_clear(&in->prep);
    for (size_t i = 0; i < STAGE_CANDIDATES_MAX; i++)
        free(in->blobs[i]);
    free(in->production);
    memset(in, 0, sizeof *in);
}

static bool s_is_hash(const char *s)
{
    if (strlen(s) != HASH_HEX_LEN)
        return false;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789abcdef", *c))
            return false;
    return true;
}

static int s_load_table(broker_t *self, const char *hash, s_inputs_t *in, mlops_err_t *err)
{
    char key[96];
    snprintf(key, sizeof key, "dataset:%s", hash);
    int rc = s_get_bytes(self, key, &in->table, &in->table_len, err);
    if (rc == MLOPS_ENOTFOUND)
        mlops_err_set(err, rc, "dataset %.12s is not in the store", hash);
    return rc;
}

static int s_load_prep(broker_t *self, s_inputs_t *in, mlops_err_t *err)
{
    char key[64];
    snprintf(key, sizeof key, "%llu-preprocess", (unsigned long long)self->active.id);
    int rc = s_load_table(self, self->active.dataset_hash, in, err);
    if (rc == 0)
        rc = s_get_bytes(self, key, &in->prep_blob, &in->prep_len, err);
    if (rc == 0)
        rc = stage_preprocess_out_decode(in->prep_blob, in->prep_len, &in->prep, err);
    return rc;
}

static int s_input_extract(broker_t *self, uint8_t **out, size_t *len, s_inputs_t *in,
                           mlops_err_t *err)
{
    stage_extract_in_t p = {0};
    const char *source = self->active.source;
    if (strncmp(source, "dataset:", 8) == 0)
        source += 8;
    snprintf(p.source, sizeof p.source, "%s", self->active.source);
    if (s_is_hash(source)) {
        int rc = s_load_table(self, source, in, err);
        if (rc)
            return rc;
        p.table = in->table;
        p.table_len = in->table_len;
    }
    return stage_extract_in_encode(&p, out, len);
}

static int s_input_preprocess(broker_t *self, uint8_t **out, size_t *len, s_inputs_t *in,
                              mlops_err_t *err)
{
    int rc = s_load_table(self, self->active.dataset_hash, in, err);
    if (rc)
        return rc;
    stage_preprocess_in_t p = {.table = in->table, .table_len = in->table_len,
                               .test_fraction = self->cfg.test_fraction, .seed = self->cfg.seed};
    snprintf(p.target, sizeof p.target, "%s", self->cfg.target);
    return stage_preprocess_in_encode(&p, out, len);
}

static int s_input_train(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                         s_inputs_t *in, mlops_err_t *err)
{
    int rc = s_load_prep(self, in, err);
    if (rc)
        return rc;
    stage_train_in_t p = {.table = in->table, .table_len = in->table_len,
                          .recipe = in->prep.recipe, .recipe_len = in->prep.recipe_len,
                          .train_rows = in->prep.train_rows, .n_train = in->prep.n_train,
                          .test_rows = in->prep.test_rows, .n_test = in->prep.n_test,
                          .seed = self->cfg.seed};
    snprintf(p.family, sizeof p.family, "%s", task->family);
    return stage_train_in_encode(&p, out, len);
}

static int s_input_evaluate(broker_t *self, uint8_t **out, size_t *len, s_inputs_t *in,
                            mlops_err_t *err)
{
    int rc = s_load_prep(self, in, err);
    if (rc)
        return rc;
    stage_evaluate_in_t p = {.table = in->table, .table_len = in->table_len,
                             .test_rows = in->prep.test_rows, .n_test = in->prep.n_test};
    for (size_t i = 0; i < self->active.n_tasks && rc == 0; i++) {
        const run_task_t *t = &self->active.tasks[i];
        if (dag_task_stage(t) != STAGE_TRAIN || p.n_candidates == STAGE_CANDIDATES_MAX)
            continue;
        size_t k = p.n_candidates, blob_len = 0;
        stage_train_out_t train;
        rc = s_get_bytes(self, t->task_id, &in->blobs[k], &blob_len, err);
        if (rc == 0)
            rc = stage_train_out_decode(in->blobs[k], blob_len, &train, err);
        if (rc)
            break;
        snprintf(p.candidates[k].key, sizeof p.candidates[k].key, "%s", t->task_id);
        snprintf(p.candidates[k].family, sizeof p.candidates[k].family, "%s", train.family);
        p.candidates[k].artifact = train.artifact;
        p.candidates[k].artifact_len = train.artifact_len;
        p.n_candidates++;
    }
    version_t prod;
    if (rc == 0 && registry_production(self->store, &prod, err) == 0) {
        rc = store_artifact_get(self->store, prod.version, &in->production, &p.production_len, err);
        p.production = in->production;
        p.production_version = (int64_t)prod.version;
    }
    return rc ? rc : stage_evaluate_in_encode(&p, out, len);
}

static int s_input_load_model(broker_t *self, uint8_t **out, size_t *len, s_inputs_t *in,
                              mlops_err_t *err)
{
    version_t v;
    int rc = s_load_prep(self, in, err);
    if (rc == 0 && self->staged.version == self->active.version)
        v = self->staged;   //  registered in the open batch
    else if (rc == 0)
        rc = store_version_get(self->store, self->active.version, &v, err);
    stage_load_model_in_t p = {.version = (int64_t)self->active.version, .table = in->table,
                               .table_len = in->table_len, .test_rows = in->prep.test_rows,
                               .n_test = in->prep.n_test};
    //  the artifact is the output of the train task that made the version
    char key[96];
    size_t blob_len = 0;
    stage_train_out_t train;
    snprintf(key, sizeof key, "%llu-train-%s", (unsigned long long)self->active.id, v.family);
    if (rc == 0)
        rc = s_get_bytes(self, key, &in->blobs[0], &blob_len, err);
    if (rc == 0)
        rc = stage_train_out_decode(in->blobs[0], blob_len, &train, err);
    if (rc)
        return rc;
    p.artifact = train.artifact;
    p.artifact_len = train.artifact_len;
    p.expected = v.metrics;
    snprintf(p.sha256, sizeof p.sha256, "%s", v.sha256);
    return stage_load_model_in_encode(&p, out, len);
}

//  The TASK.input of task, as a malloc'd buffer. Returns 0 or an error.
static int s_build_input(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                         mlops_err_t *err)
{
    s_inputs_t in = {0};
    int rc;
    switch (dag_task_stage(task)) {
    case STAGE_EXTRACT: rc = s_input_extract(self, out, len, &in, err); break;
    case STAGE_PREPROCESS: rc = s_input_preprocess(self, out, len, &in, err); break;
    case STAGE_TRAIN: rc = s_input_train(self, task, out, len, &in, err); break;
    case STAGE_EVALUATE: rc = s_input_evaluate(self, out, len, &in, err); break;
    case STAGE_LOAD_MODEL: rc = s_input_load_model(self, out, len, &in, err); break;
    default: rc = mlops_err_set(err, MLOPS_EINVAL, "unknown stage '%s'", task->stage);
    }
    if (rc && !err->msg[0])
        mlops_err_set(err, rc, "cannot build the input of %s: %s", task->task_id, mlops_strerror(rc));
    s_inputs_clear(&in);
    return rc;
}

/* --- the run engine ------------------------------------------------------ */

//  Makes run (queued, no tasks yet) the active one: plans its tasks and
//  writes it in the batch. Takes what run owns.
static void s_start_run(broker_t *self, run_t *run)
{
    run->state = RUN_RUNNING;
    run->started_ms = s_wall();
    int rc = dag_plan(run, self->cfg.families, self->cfg.n_families);
    if (rc || s_put_run(self, run) != 0) {
        log_error("cannot start run %llu", (unsigned long long)run->id);
        run_clear(run);
        return;
    }
    self->active = *run;
    memset(run, 0, sizeof *run);
    char source[128], reason[128];
    log_info("run started run=%llu source=%s reason=%s", (unsigned long long)self->active.id,
             s_clean(self->active.source, source, sizeof source),
             s_clean(self->active.reason, reason, sizeof reason));
    s_publish_run(self, &self->active);
}

//  Starts the queued run (stored by an earlier batch) when no run is active.
static void s_start_queued(broker_t *self)
{
    if (self->active.id || !self->queued_id)
        return;
    mlops_err_t err;
    mlops_err_clear(&err);
    run_t run = {0};
    int rc = store_run_get(self->store, self->queued_id, &run, &err);
    self->queued_id = 0;
    if (rc || run.state != RUN_QUEUED) {
        if (rc)
            log_error("cannot load queued run: %s", mlops_err_text(&err, rc));
        run_clear(&run);
        return;
    }
    s_start_run(self, &run);
}

//  A trigger folded into the queued run keeps its reason: "a; b" (a reason
//  already there is not repeated; one that does not fit ends the text "...").
static void s_reason_append(run_t *run, const char *reason)
{
    size_t have = strlen(run->reason), add = strlen(reason);
    if (strstr(run->reason, reason) || strstr(run->reason, "..."))
        return;
    if (have + 2 + add < sizeof run->reason)
        snprintf(run->reason + have, sizeof run->reason - have, "; %s", reason);
    else if (have + 5 < sizeof run->reason)
        snprintf(run->reason + have, sizeof run->reason - have, "; ...");
}

//  RETRAIN: a new run (started at once when none is active, else queued),
//  or folded into the queued one. Returns 0 or an error with err.
static int s_trigger(broker_t *self, const char *source, const char *reason,
                     control_retrain_t *answer, mlops_err_t *err)
{
    run_t run = {0};
    //  start from an empty batch, so a failure here can abort just this
    int rc = s_flush(self);
    if (rc == 0 && self->queued_id) {
        rc = store_run_get(self->store, self->queued_id, &run, err);
        run.coalesced++;
        s_reason_append(&run, *reason ? reason : "manual");
        if (rc == 0)
            rc = s_put_run(self, &run);
        answer->coalesced = true;
    } else if (rc == 0) {
        store_txn_t *txn = s_txn(self);
        rc = txn ? store_run_next_id(self->store, txn, &run.id, err) : MLOPS_ESTORE;
        run.state = RUN_QUEUED;
        run.created_ms = s_wall();
        snprintf(run.source, sizeof run.source, "%s", *source ? source : self->cfg.default_source);
        snprintf(run.reason, sizeof run.reason, "%s", *reason ? reason : "manual");
        if (rc == 0)
            rc = s_put_run(self, &run);
    }
    if (rc) {
        store_abort(&self->txn);
        run_clear(&run);
        return err->msg[0] ? rc : mlops_err_set(err, rc, "store: %s", mlops_strerror(rc));
    }
    answer->run_id = (int64_t)run.id;
    char shown[128];
    log_info("trigger run=%llu coalesced=%d reason=%s", (unsigned long long)run.id,
             answer->coalesced, s_clean(*reason ? reason : "manual", shown, sizeof shown));
    if (!answer->coalesced)
        s_publish_run(self, &run);
    if (!answer->coalesced && !self->active.id)
        s_start_run(self, &run);   //  from memory: the store has it only in the batch
    else if (!answer->coalesced)
        self->queued_id = run.id;
    run_clear(&run);
    snprintf(answer->state, sizeof answer->state, "%s",
             self->active.id == (uint64_t)answer->run_id ? "running" : "queued");
    return 0;
}

//  A task's attempt failed: retry later or fail the run.
static void s_task_failed(broker_t *self, run_task_t *task, const char *error)
{
    dispatch_queue_remove(self->dispatch, task->task_id);
    dag_outcome_t outcome = dag_task_fail(&self->active, task, error, &self->cfg.policy, s_wall());
    char shown[256];   //  the error may come from a peer: sanitised for the log
    log_warning("task failed task=%s attempt=%d error=%s%s", task->task_id, task->attempts,
                log_sanitize(error, strlen(error), shown, sizeof shown),
                outcome == DAG_RETRY ? " (will retry)" : "");
    store_txn_t *txn = s_txn(self);
    if (txn && outcome == DAG_RUN_FAILED && self->active.version) {
        mlops_err_t err;
        char reason[RECORD_TEXT_MAX];
        snprintf(reason, sizeof reason, "run failed: %.200s", error);
        registry_archive(self->store, txn, self->active.version, reason, &err);
    }
    if (s_put_run(self, &self->active) != 0)
        return;
    char message[RECORD_ERROR_MAX + 64];
    snprintf(message, sizeof message, "attempt %d failed: %s", task->attempts, error);
    s_publish_task(self, task, message);
    if (outcome == DAG_RUN_FAILED)
        s_run_ended(self);
}

//  The active run reached succeeded or failed: announce, start the next.
static void s_run_ended(broker_t *self)
{
    char shown[256];
    log_info("run %s run=%llu %s", run_state_name(self->active.state),
             (unsigned long long)self->active.id,
             s_clean(self->active.state == RUN_FAILED ? self->active.error : self->active.outcome,
                     shown, sizeof shown));
    s_publish_run(self, &self->active);
    for (size_t i = 0; i < self->active.n_tasks; i++)
        dispatch_queue_remove(self->dispatch, self->active.tasks[i].task_id);
    run_clear(&self->active);
    s_start_queued(self);
}

static int s_store_blob(broker_t *self, store_txn_t *txn, const run_task_t *task,
                        const uint8_t *output, size_t len, mlops_err_t *err)
{
    int rc = store_blob_put(self->store, txn, task->task_id, output, len, err);
    return rc ? rc : s_cache_put(self, task->task_id, output, len);
}

static int s_settle_extract(broker_t *self, store_txn_t *txn, const uint8_t *output, size_t len,
                            mlops_err_t *err)
{
    stage_extract_out_t out;
    int rc = stage_extract_out_decode(output, len, &out, err);
    if (rc == 0 && !s_is_hash(out.dataset_hash))
        rc = mlops_err_set(err, MLOPS_EPROTO, "extract output: dataset_hash is not a sha256");
    char key[96];
    snprintf(key, sizeof key, "dataset:%s", out.dataset_hash);
    if (rc == 0)
        rc = store_dataset_put(self->store, txn, out.dataset_hash, out.table, out.table_len, err);
    if (rc == 0)
        rc = s_cache_put(self, key, out.table, out.table_len);
    if (rc == 0)
        snprintf(self->active.dataset_hash, sizeof self->active.dataset_hash, "%s", out.dataset_hash);
    return rc;
}

static int s_settle_evaluate(broker_t *self, store_txn_t *txn, const run_task_t *task,
                             const uint8_t *output, size_t len, mlops_err_t *err)
{
    stage_evaluate_out_t ev;
    registry_decision_t decision;
    int rc = stage_evaluate_out_decode(output, len, &ev, err);
    if (rc == 0 && registry_decide(&self->cfg.rule, &ev, &decision) != 0)
        rc = mlops_err_set(err, MLOPS_EPROTO, "evaluate output: no candidate scored");
    if (rc)
        return rc;
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    stage_train_out_t train;
    rc = s_get_bytes(self, ev.scored[decision.best].key, &blob, &blob_len, err);
    if (rc == 0)
        rc = stage_train_out_decode(blob, blob_len, &train, err);
    version_t v;
    if (rc == 0)
        rc = registry_register(self->store, txn, &self->active, &train,
                               &ev.scored[decision.best].metrics, decision.promote, decision.reason,
                               s_wall(), &v, err);
    if (rc == 0)
        rc = s_store_blob(self, txn, task, output, len, err);
    free(blob);
    if (rc)
        return rc;
    self->active.version = v.version;
    self->staged = v;
    snprintf(self->active.outcome, sizeof self->active.outcome, "%s v%llu: %.200s",
             decision.promote ? "validating" : "archived", (unsigned long long)v.version,
             decision.reason);
    return 0;
}

static int s_settle_load_model(broker_t *self, store_txn_t *txn, const uint8_t *output,
                               size_t len, bool *promoted, mlops_err_t *err)
{
    stage_load_model_out_t out;
    version_t v;
    int rc = stage_load_model_out_decode(output, len, &out, err);
    if (rc == 0 && out.version != (int64_t)self->active.version)
        rc = mlops_err_set(err, MLOPS_EPROTO, "load_model output: version %lld, expected %llu",
                           (long long)out.version, (unsigned long long)self->active.version);
    if (rc == 0)
        rc = store_version_get(self->store, self->active.version, &v, err);
    if (rc || v.stage != VERSION_STAGING)
        return rc;
    uint64_t previous = 0;
    rc = registry_promote(self->store, txn, v.version, "promote", v.reason, s_wall(), &previous, err);
    if (rc)
        return rc;
    *promoted = true;
    self->active.promoted = true;
    snprintf(self->active.outcome, sizeof self->active.outcome, "promoted v%llu: %.200s",
             (unsigned long long)v.version, v.reason);
    return 0;
}

//  Checks and stores a task's output in txn, by stage. Returns 0 or an error.
static int s_settle(broker_t *self, store_txn_t *txn, const run_task_t *task,
                    const uint8_t *output, size_t len, bool *promoted, mlops_err_t *err)
{
    switch (dag_task_stage(task)) {
    case STAGE_EXTRACT: return s_settle_extract(self, txn, output, len, err);
    case STAGE_EVALUATE: return s_settle_evaluate(self, txn, task, output, len, err);
    case STAGE_LOAD_MODEL: return s_settle_load_model(self, txn, output, len, promoted, err);
    case STAGE_PREPROCESS: {
        stage_preprocess_out_t p;
        int rc = stage_preprocess_out_decode(output, len, &p, err);
        stage_preprocess_out_clear(&p);
        return rc ? rc : s_store_blob(self, txn, task, output, len, err);
    }
    default: {
        stage_train_out_t t;
        int rc = stage_train_out_decode(output, len, &t, err);
        return rc ? rc : s_store_blob(self, txn, task, output, len, err);
    }
    }
}

//  The events of a settled task: the task, a registered version, a promotion.
static void s_announce_settled(broker_t *self, const run_task_t *task, bool promoted)
{
    s_publish_task(self, task, NULL);
    if (dag_task_stage(task) == STAGE_EVALUATE && self->staged.version == self->active.version)
        s_publish(self, "model", self->active.id, "", version_stage_name(self->staged.stage),
                  self->staged.version, self->staged.reason);
    if (promoted)
        s_publish(self, "model", self->active.id, "", "production", self->active.version,
                  self->active.outcome);
}

/* --- the load_model wait (fleet.h) --------------------------------------- */

//  The active run's load_model task, or NULL.
static run_task_t *s_load_model_task(broker_t *self)
{
    for (size_t i = 0; i < self->active.n_tasks; i++)
        if (dag_task_stage(&self->active.tasks[i]) == STAGE_LOAD_MODEL)
            return &self->active.tasks[i];
    return NULL;
}

//  Marks task done in the active run and stores the run; *finished tells
//  whether that ended the run. False when the store refused (the batch is
//  aborted and the caller announces nothing).
static bool s_commit_done(broker_t *self, run_task_t *task, bool *finished)
{
    *finished = dag_task_done(&self->active, task, s_wall());
    if (s_put_run(self, &self->active) != 0) {
        s_abort_batch(self);
        return false;
    }
    return true;
}

//  A validated load_model whose version is in production waits for the
//  inference workers instead of settling: the task stays running (no
//  worker holds it) and the run stays running. Returns false when there is
//  nothing to wait for (no promotion, --load-wait 0): settle as before.
static bool s_load_wait_begin(broker_t *self, run_task_t *task, bool promoted)
{
    if (!self->active.promoted || self->cfg.load_wait_msec <= 0)
        return false;
    fleet_wait_begin(self->fleet, (int64_t)self->active.version, zclock_mono(), self->cfg.load_wait_msec);
    if (s_put_run(self, &self->active) != 0) {
        fleet_wait_end(self->fleet);
        s_abort_batch(self);
        return true;
    }
    size_t n = fleet_count(self->fleet);
    log_info("load wait run=%llu version=%llu inference_workers=%zu wait_ms=%lld",
             (unsigned long long)self->active.id, (unsigned long long)self->active.version, n,
             (long long)self->cfg.load_wait_msec);
    if (promoted)
        s_publish(self, "model", self->active.id, "", "production", self->active.version,
                  self->active.outcome);
    s_load_wait_check(self);   //  no worker at all: over at once, nothing to announce
    if (fleet_wait_version(self->fleet)) {
        char detail[160], wait[32];
        snprintf(detail, sizeof detail, "v%llu validated; waiting up to %s for %zu inference worker%s to serve it",
                 (unsigned long long)self->active.version,
                 duration_format(self->cfg.load_wait_msec, wait, sizeof wait), n, n == 1 ? "" : "s");
        s_publish_task(self, task, detail);
    }
    return true;
}

//  The wait is over: load_model is done, the outcome says how it went.
static void s_load_wait_end(broker_t *self, run_task_t *task, fleet_verdict_t verdict, const char *note)
{
    fleet_wait_end(self->fleet);
    if (verdict == FLEET_TIMED_OUT)
        log_warning("load wait run=%llu over: %s", (unsigned long long)self->active.id, note);
    else
        log_info("load wait run=%llu over: %s", (unsigned long long)self->active.id, note);
    char outcome[RECORD_TEXT_MAX];
    size_t keep = strlen(self->active.outcome), room = sizeof outcome - strlen(note) - 3;
    snprintf(outcome, sizeof outcome, "%.*s; %s", (int)(keep < room ? keep : room), self->active.outcome, note);
    snprintf(self->active.outcome, sizeof self->active.outcome, "%s", outcome);
    bool finished;
    if (!s_commit_done(self, task, &finished))
        return;
    s_publish_task(self, task, note);
    if (finished)
        s_run_ended(self);
}

//  Ends the wait when every live inference worker serves the version, when
//  there is none, or at the deadline. A broker that has just resumed a run
//  has not heard from the workers yet: "none" counts only after one
//  liveness period of default report intervals.
static void s_load_wait_check(broker_t *self)
{
    if (!fleet_wait_version(self->fleet))
        return;
    run_task_t *task = s_load_model_task(self);
    if (!task || task->state != TASK_RUNNING || self->active.version != (uint64_t)fleet_wait_version(self->fleet)) {
        fleet_wait_end(self->fleet);   //  the run ended or was reloaded: nothing to settle here
        return;
    }
    char note[FLEET_NOTE_MAX];
    int64_t now = zclock_mono(), grace = (int64_t)self->cfg.liveness * HEARTBEAT_IVL_MSEC;
    if (grace > self->cfg.load_wait_msec)
        grace = self->cfg.load_wait_msec;
    fleet_verdict_t verdict = fleet_wait_check(self->fleet, now, note, sizeof note);
    if (verdict == FLEET_WAITING || (verdict == FLEET_NONE && self->resumed_mono && now - self->resumed_mono < grace))
        return;
    s_load_wait_end(self, task, verdict, note);
}

//  A manual promote or rollback put another version in production while a
//  run waited for its own: the inference workers now go to that one, so
//  waiting on would only time out; the run's load_model ends, saying why.
static void s_load_wait_superseded(broker_t *self, uint64_t production, const char *how)
{
    int64_t waited = fleet_wait_version(self->fleet);
    run_task_t *task = waited ? s_load_model_task(self) : NULL;
    if (!task || task->state != TASK_RUNNING || (uint64_t)waited == production
        || self->active.version != (uint64_t)waited)
        return;
    char note[FLEET_NOTE_MAX];
    snprintf(note, sizeof note, "a manual %s put v%llu in production while the inference workers took v%lld",
             how, (unsigned long long)production, (long long)waited);
    s_load_wait_end(self, task, FLEET_ALL_SERVE, note);   //  an operator's choice: logged as info
}

//  A RESULT ok=true for a task in hand: store its output, settle it, move on.
static void s_task_succeeded(broker_t *self, run_task_t *task, const uint8_t *output, size_t len)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    char task_id[sizeof task->task_id];
    snprintf(task_id, sizeof task_id, "%s", task->task_id);
    //  settle in a batch of its own, so a bad output aborts only this
    if (s_flush(self) != 0 || !(task = dag_task_find(&self->active, task_id)) ||
        task->state != TASK_RUNNING)
        return;
    store_txn_t *txn = s_txn(self);
    run_t before;
    if (!txn || run_copy(&before, &self->active) != 0) {
        store_abort(&self->txn);
        return;
    }
    bool promoted = false;
    int rc = s_settle(self, txn, task, output, len, &promoted, &err);
    if (rc) {
        store_abort(&self->txn);
        s_cache_clear(self);
        run_clear(&self->active);
        self->active = before;
        task = dag_task_find(&self->active, task_id);
        char message[RECORD_ERROR_MAX];
        snprintf(message, sizeof message, "bad %s output: %s", task->stage, mlops_err_text(&err, rc));
        s_task_failed(self, task, message);
        return;
    }
    run_clear(&before);
    if (dag_task_stage(task) == STAGE_LOAD_MODEL && s_load_wait_begin(self, task, promoted))
        return;
    bool finished;
    if (!s_commit_done(self, task, &finished))
        return;
    s_announce_settled(self, task, promoted);
    if (finished)
        s_run_ended(self);
}

//  Hands task to worker: commit the dispatch, announce it, send the TASK.
static void s_dispatch(broker_t *self, run_task_t *task, dispatch_worker_t *w)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    uint8_t *input = NULL;
    size_t input_len = 0;
    s_heartbeat_now(self);
    int64_t t0 = zclock_usecs();
    int rc = s_build_input(self, task, &input, &input_len, &err);
    int64_t build_usec = zclock_usecs() - t0;
    if (rc) {
        //  the task cannot even be described: fail this attempt, keep the worker
        dag_task_start(&self->active, task, "broker", s_wall());
        s_task_failed(self, task, mlops_err_text(&err, rc));
        return;
    }
    char who[96];
    snprintf(who, sizeof who, "%.63s:%lld", w->host, (long long)w->pid);
    dag_task_start(&self->active, task, who, s_wall());
    if (s_put_run(self, &self->active) != 0) {
        task->state = TASK_PENDING;   //  nothing was written: as if never dispatched
        task->attempts--;
        free(input);
        return;
    }
    dispatch_worker_assign(w, task->task_id, zclock_mono());
    s_publish_task(self, task, who);
    proto_msg_t msg = {.cmd = PROTO_TASK};
    msg.task.task_id = task->task_id;
    msg.task.run_id = (int64_t)self->active.id;
    msg.task.stage = task->stage;
    msg.task.attempt = task->attempts;
    msg.task.input = input;
    msg.task.input_len = input_len;
    s_send_worker(self, w, &msg);
    free(input);
    log_info("dispatch task=%s attempt=%d worker=%s bytes=%zu build_us=%lld", task->task_id,
             task->attempts, who, input_len, (long long)build_usec);
}

//  Queues the ready tasks and hands out what idle workers can take.
static void s_pump(broker_t *self)
{
    s_start_queued(self);
    if (!self->active.id)
        return;
    int64_t now = s_wall();
    for (size_t i = 0; i < self->active.n_tasks; i++) {
        run_task_t *t = &self->active.tasks[i];
        int stage = dag_task_stage(t);
        if (stage >= 0 && dag_task_ready(&self->active, t, now))
            dispatch_queue_push(self->dispatch, (stage_t)stage, t->task_id);
    }
    for (int s = 0; s < STAGE_COUNT && self->active.id; s++) {
        dispatch_worker_t *w;
        char task_id[48];
        while (self->active.id && (w = dispatch_idle_lru(self->dispatch, (stage_t)s)) &&
               dispatch_queue_pop(self->dispatch, (stage_t)s, task_id)) {
            run_task_t *t = dag_task_find(&self->active, task_id);
            if (t && t->state == TASK_PENDING)
                s_dispatch(self, t, w);
        }
    }
}

/* --- the work socket ----------------------------------------------------- */

static void s_disconnect_peer(broker_t *self, const uint8_t *id, size_t id_len, const char *reason)
{
    proto_msg_t msg = {.cmd = PROTO_DISCONNECT};
    msg.disconnect.reason = reason;
    s_send_to(self, self->work, id, id_len, &msg);
}

//  The worker's task in hand, if it is a running task of the active run.
static run_task_t *s_task_of(broker_t *self, dispatch_worker_t *w)
{
    run_task_t *t = w->task_id[0] ? dag_task_find(&self->active, w->task_id) : NULL;
    return t && t->state == TASK_RUNNING ? t : NULL;
}

//  A worker is gone (dead, left, restarted): its task goes back to its queue.
static void s_worker_lost(broker_t *self, dispatch_worker_t *w, const char *why)
{
    char error[256];
    snprintf(error, sizeof error, "worker %.63s:%lld %s", w->host, (long long)w->pid, why);
    log_warning("%s stage=%s task=%s", error, stage_name(w->stage), w->task_id[0] ? w->task_id : "-");
    run_task_t *t = s_task_of(self, w);
    dispatch_worker_remove(self->dispatch, w);
    if (t)
        s_task_failed(self, t, error);
}

static void s_touch(broker_t *self, dispatch_worker_t *w)
{
    w->expires_mono = liveness_expiry(zclock_mono(), self->cfg.heartbeat_msec, self->cfg.liveness);
    w->last_seen_ms = s_wall();
}

static void s_handle_ready(broker_t *self, const uint8_t *id, size_t id_len, const proto_msg_t *msg)
{
    //  the host goes into logs and status: no control bytes from a peer
    char host[64], stage_text[48];
    log_sanitize(msg->ready.host, strlen(msg->ready.host), host, sizeof host);
    log_sanitize(msg->ready.stage, strlen(msg->ready.stage), stage_text, sizeof stage_text);
    int stage = stage_from_name(msg->ready.stage);
    if (stage < 0) {
        char reason[96];
        snprintf(reason, sizeof reason, "stage '%s' is not run by this broker", stage_text);
        log_warning("READY refused: %s host=%s", reason, host);
        s_disconnect_peer(self, id, id_len, reason);
        return;
    }
    dispatch_worker_t *old = dispatch_worker_find(self->dispatch, id, id_len);
    if (old && old->task_id[0])
        s_worker_lost(self, old, "sent READY again (restarted)");
    dispatch_worker_t *w = dispatch_worker_add(self->dispatch, id, id_len, (stage_t)stage, host,
                                               msg->ready.pid, zclock_mono());
    if (!w) {
        log_warning("READY refused: too many workers host=%s", host);
        s_disconnect_peer(self, id, id_len, "too many workers");
        return;
    }
    s_touch(self, w);
    w->last_sent_mono = zclock_mono();
    log_info("worker joined stage=%s host=%s pid=%lld", stage_name((stage_t)stage), w->host,
             (long long)w->pid);
    s_pump(self);
}

static void s_handle_heartbeat(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg)
{
    //  a worker we gave up on (timeout) says it is idle again: it may work
    if (w->busy && !w->task_id[0] && !msg->heartbeat.task_id[0]) {
        dispatch_worker_release(w, zclock_mono());
        s_pump(self);
    }
}

static void s_handle_result(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg)
{
    const char *task_id = msg->result.task_id;
    if (!w->task_id[0] || strcmp(w->task_id, task_id) != 0) {
        char sample[64];
        log_warning("RESULT ignored: task %s is not in hand by worker %s:%lld (late or duplicate)",
                    s_sample(task_id, strlen(task_id), sample, sizeof sample), w->host,
                    (long long)w->pid);
        if (w->busy && !w->task_id[0]) {   //  the late answer of a timed-out task: free again
            dispatch_worker_release(w, zclock_mono());
            s_pump(self);
        }
        return;
    }
    run_task_t *t = s_task_of(self, w);
    dispatch_worker_release(w, zclock_mono());
    if (!t) {
        log_warning("RESULT ignored: task %s is settled", task_id);
    } else if (msg->result.ok) {
        s_task_succeeded(self, t, msg->result.output, msg->result.output_len);
    } else {
        s_task_failed(self, t, *msg->result.error ? msg->result.error : "failed (no reason given)");
    }
    s_pump(self);
}

//  True when a message waits on sock. zloop runs its timers before its
//  readers, and s_tick_fn drains the work socket (s_drain_work): a reader
//  woken by a message the timer already took must not block in recv, or the
//  whole loop (control requests, expiries) stalls until the peer's next
//  message, which a silent peer never sends.
static bool s_readable(zsock_t *sock)
{
    return (zsock_events(sock) & ZMQ_POLLIN) != 0;
}

//  The message waiting on sock, or NULL when none is (see s_readable).
static zmsg_t *s_recv_waiting(zsock_t *sock)
{
    return s_readable(sock) ? zmsg_recv(sock) : NULL;
}

static int s_work_fn(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    broker_t *self = arg;
    zmsg_t *in = s_recv_waiting(sock);
    if (!in)
        return 0;
    int64_t t0 = zclock_usecs();
    zframe_t *id = zmsg_pop(in);
    zframe_t *payload = zmsg_pop(in);
    char sample[SAMPLE_BYTES * 2];
    if (payload && zframe_size(payload) >= BIG_BYTES)
        s_heartbeat_now(self);
    if (!id || !payload || zmsg_size(in) != 0) {
        log_warning("work: dropped a message of %zu frames (expected identity + payload)",
                    zmsg_size(in) + (id != NULL) + (payload != NULL));
    } else {
        mlops_err_t err;
        mlops_err_clear(&err);
        proto_msg_t *msg = proto_msg_decode(zframe_data(payload), zframe_size(payload), &err);
        dispatch_worker_t *w = dispatch_worker_find(self->dispatch, zframe_data(id), zframe_size(id));
        if (!msg) {
            char why[256];
            log_warning("work: dropped a bad frame from %s: %s sample=%s",
                        w ? w->host : "unknown peer",
                        s_clean(mlops_err_text(&err, err.code), why, sizeof why),
                        s_sample(zframe_data(payload), zframe_size(payload), sample, sizeof sample));
        } else if (msg->cmd == PROTO_READY) {
            s_handle_ready(self, zframe_data(id), zframe_size(id), msg);
        } else if (!w) {
            //  it knew an earlier broker, or we declared it dead: make it start over
            log_warning("work: %s from an unknown worker: asking it to reconnect",
                        proto_cmd_name(msg->cmd));
            if (msg->cmd != PROTO_DISCONNECT)
                s_disconnect_peer(self, zframe_data(id), zframe_size(id), "unknown worker: send READY");
        } else {
            s_touch(self, w);
            switch (msg->cmd) {
            case PROTO_HEARTBEAT: s_handle_heartbeat(self, w, msg); break;
            case PROTO_RESULT: s_handle_result(self, w, msg); break;
            case PROTO_DISCONNECT: s_worker_lost(self, w, "disconnected"); s_pump(self); break;
            default:
                log_warning("work: unexpected %s from worker %s:%lld, dropped",
                            proto_cmd_name(msg->cmd), w->host, (long long)w->pid);
            }
        }
        proto_msg_destroy(&msg);
    }
    zframe_destroy(&id);
    zframe_destroy(&payload);
    zmsg_destroy(&in);
    s_flush(self);
    self->handler_usec += zclock_usecs() - t0;
    self->n_messages++;
    return 0;
}

/* --- the control socket -------------------------------------------------- */

typedef struct {
    bool ok;                      //  carried out
    mlops_err_t err;              //  why not
    uint8_t *data;                //  encoded answer, owned
    size_t data_len;
} s_reply_t;

static void s_reply_fail(s_reply_t *r, int rc, const char *what)
{
    r->ok = false;
    if (!r->err.msg[0])
        mlops_err_set(&r->err, rc, "%s: %s", what, mlops_strerror(rc));
}

static void s_reply_data(s_reply_t *r, int rc, const char *what)
{
    if (rc)
        s_reply_fail(r, rc, what);
    else
        r->ok = true;
}

static void s_cmd_retrain(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    control_retrain_t answer = {0};
    int rc = s_trigger(self, msg->retrain.source, msg->retrain.reason, &answer, &r->err);
    if (rc == 0)
        rc = control_retrain_encode(&answer, &r->data, &r->data_len);
    s_reply_data(r, rc, "RETRAIN");
    s_pump(self);
}

//  Inference workers by host and pid, for a readable status.
static int s_infer_order_fn(const void *a, const void *b)
{
    const control_infer_t *x = a, *y = b;
    int h = strcmp(x->host, y->host);
    return h ? h : (x->pid > y->pid) - (x->pid < y->pid);
}

//  Workers in DAG order, then by host and pid, for a readable status.
static int s_worker_order_fn(const void *a, const void *b)
{
    const control_worker_t *x = a, *y = b;
    int sx = stage_from_name(x->stage), sy = stage_from_name(y->stage);
    if (sx != sy)
        return sx - sy;
    int h = strcmp(x->host, y->host);
    return h ? h : (x->pid > y->pid) - (x->pid < y->pid);
}

//  Says which task of the active run is ready but has no worker of its
//  stage to go to (it would wait for ever, silently); "" when none.
static void s_waiting(broker_t *self, char *out, size_t size)
{
    out[0] = '\0';
    int64_t now = s_wall();
    int64_t version = fleet_wait_version(self->fleet);
    run_task_t *load = version ? s_load_model_task(self) : NULL;
    if (load) {
        size_t serving = 0, n = fleet_count(self->fleet);
        for (size_t i = 0; i < n; i++)
            serving += fleet_at(self->fleet, i)->version == version;
        snprintf(out, size, "%s waits: %zu of %zu inference workers serve v%lld", load->task_id, serving,
                 n, (long long)version);
        return;
    }
    for (size_t i = 0; i < self->active.n_tasks; i++) {
        const run_task_t *t = &self->active.tasks[i];
        int stage = dag_task_stage(t);
        if (stage < 0 || !(dispatch_queue_contains(self->dispatch, t->task_id) ||
                           dag_task_ready(&self->active, t, now)))
            continue;
        if (dispatch_stage_workers(self->dispatch, (stage_t)stage) == 0) {
            snprintf(out, size, "%s waits: no %s worker is connected", t->task_id, t->stage);
            return;
        }
    }
}

static void s_cmd_status(broker_t *self, s_reply_t *r)
{
    control_status_t st = {.active_run = (int64_t)self->active.id,
                           .queued = (int64_t)self->queued_id,
                           .next_schedule_ms = self->next_schedule_ms};
    version_t prod;
    mlops_err_t err;
    if (registry_production(self->store, &prod, &err) == 0)
        st.production_version = (int64_t)prod.version;
    size_t n = dispatch_worker_count(self->dispatch);
    st.workers = calloc(n ? n : 1, sizeof *st.workers);
    if (!st.workers) {
        s_reply_fail(r, MLOPS_ENOMEM, "STATUS");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        control_worker_t *cw = &st.workers[i];
        snprintf(cw->stage, sizeof cw->stage, "%s", stage_name(w->stage));
        snprintf(cw->host, sizeof cw->host, "%s", w->host);
        cw->pid = w->pid;
        snprintf(cw->state, sizeof cw->state, "%s", w->busy ? "busy" : "idle");
        snprintf(cw->task_id, sizeof cw->task_id, "%s", w->task_id);
        cw->last_seen_ms = w->last_seen_ms;
    }
    st.n_workers = n;
    qsort(st.workers, n, sizeof *st.workers, s_worker_order_fn);
    s_waiting(self, st.waiting, sizeof st.waiting);
    size_t n_infer = fleet_count(self->fleet);
    st.serving = calloc(n_infer ? n_infer : 1, sizeof *st.serving);
    if (!st.serving) {
        free(st.workers);
        s_reply_fail(r, MLOPS_ENOMEM, "STATUS");
        return;
    }
    for (size_t i = 0; i < n_infer; i++) {
        const fleet_worker_t *w = fleet_at(self->fleet, i);
        snprintf(st.serving[i].host, sizeof st.serving[i].host, "%s", w->host);
        st.serving[i].pid = w->pid;
        st.serving[i].model_version = w->version;
        st.serving[i].last_seen_ms = w->last_seen_ms;
    }
    st.n_serving = n_infer;
    qsort(st.serving, n_infer, sizeof *st.serving, s_infer_order_fn);
    s_reply_data(r, control_status_encode(&st, &r->data, &r->data_len), "STATUS");
    free(st.workers);
    free(st.serving);
}

//  SERVING: an inference worker says which version it serves. The answer
//  carries the production version, so a worker that missed a `model` event
//  (it joined late, the events socket dropped it) still catches up.
static void s_cmd_serving(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    char host[64];
    log_sanitize(msg->serving.host, strlen(msg->serving.host), host, sizeof host);
    const fleet_worker_t *old = fleet_find(self->fleet, host, msg->serving.pid);
    int64_t before = old ? old->version : -1;
    int rc = fleet_report(self->fleet, host, msg->serving.pid, msg->serving.model_version,
                          msg->serving.interval_ms, zclock_mono(), s_wall(), &r->err);
    if (rc) {
        char why[256];
        log_warning("control: refused a report: %s", s_clean(r->err.msg, why, sizeof why));
        s_reply_fail(r, rc, "SERVING");
        return;
    }
    if (before != msg->serving.model_version)
        log_info("inference worker %s host=%s pid=%lld version=%lld", before < 0 ? "joined" : "serves",
                 host, (long long)msg->serving.pid, (long long)msg->serving.model_version);
    control_serving_t answer = {0};
    version_t prod;
    mlops_err_t err;
    if (registry_production(self->store, &prod, &err) == 0)
        answer.production_version = (int64_t)prod.version;
    s_reply_data(r, control_serving_encode(&answer, &r->data, &r->data_len), "SERVING");
    s_load_wait_check(self);
}

static void s_cmd_runs(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    control_runs_t runs = {0};
    size_t limit = msg->runs.limit > 0 ? (size_t)msg->runs.limit : RUNS_DEFAULT;
    int rc = store_run_list(self->store, limit, &runs.runs, &runs.n_runs, &r->err);
    if (rc == 0)
        rc = control_runs_encode(&runs, &r->data, &r->data_len);
    store_runs_free(&runs.runs, runs.n_runs);
    s_reply_data(r, rc, "RUNS");
}

static void s_cmd_models(broker_t *self, s_reply_t *r)
{
    control_models_t models = {0};
    int rc = store_version_list(self->store, &models.versions, &models.n_versions, &r->err);
    for (size_t i = 0; rc == 0 && i < models.n_versions; i++)
        if (models.versions[i].stage == VERSION_PRODUCTION)
            models.production = (int64_t)models.versions[i].version;
    if (rc == 0)
        rc = control_models_encode(&models, &r->data, &r->data_len);
    free(models.versions);
    s_reply_data(r, rc, "MODELS");
}

//  PROMOTE and ROLLBACK: one transaction, then the "model" event.
static void s_cmd_production(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    control_promote_t answer = {0};
    uint64_t version = 0, previous = 0;
    int rc = s_flush(self);   //  an empty batch: a refusal aborts only this
    store_txn_t *txn = rc ? NULL : s_txn(self);
    rc = txn ? 0 : MLOPS_ESTORE;
    const char *reason = msg->cmd == PROTO_PROMOTE ? msg->promote.reason : msg->rollback.reason;
    if (rc == 0 && msg->cmd == PROTO_PROMOTE) {
        version = (uint64_t)msg->promote.version;
        rc = registry_promote(self->store, txn, version, "promote", reason, s_wall(), &previous, &r->err);
    } else if (rc == 0) {
        rc = registry_rollback(self->store, txn, reason, s_wall(), &version, &previous, &r->err);
    }
    if (rc)
        store_abort(&self->txn);
    const char *what = proto_cmd_name(msg->cmd);
    if (rc) {
        s_reply_fail(r, rc, what);
        return;
    }
    char message[RECORD_TEXT_MAX + 32];
    snprintf(message, sizeof message, "%s: %s", msg->cmd == PROTO_PROMOTE ? "promote" : "rollback",
             *reason ? reason : "manual");
    char shown[128];
    log_info("%s version=%llu previous=%llu reason=%s", what, (unsigned long long)version,
             (unsigned long long)previous, s_clean(*reason ? reason : "manual", shown, sizeof shown));
    s_publish(self, "model", 0, "", "production", version, message);
    s_load_wait_superseded(self, version, msg->cmd == PROTO_PROMOTE ? "promote" : "rollback");
    answer.version = (int64_t)version;
    answer.previous = (int64_t)previous;
    s_reply_data(r, control_promote_encode(&answer, &r->data, &r->data_len), what);
}

static void s_cmd_get_model(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    version_t v;
    int rc;
    if (msg->get_model.version > 0)
        rc = store_version_get(self->store, (uint64_t)msg->get_model.version, &v, &r->err);
    else if ((rc = registry_production(self->store, &v, &r->err)) == MLOPS_ENOTFOUND)
        rc = mlops_err_set(&r->err, MLOPS_ENOMODEL, "no version is in production yet");
    uint8_t *artifact = NULL;
    control_model_t answer = {0};
    if (rc == 0)
        rc = store_artifact_get(self->store, v.version, &artifact, &answer.artifact_len, &r->err);
    if (rc == 0) {
        answer.version = (int64_t)v.version;
        answer.artifact = artifact;
        snprintf(answer.sha256, sizeof answer.sha256, "%s", v.sha256);
        snprintf(answer.family, sizeof answer.family, "%s", v.family);
        rc = control_model_encode(&answer, &r->data, &r->data_len);
    }
    free(artifact);
    s_reply_data(r, rc, "GET_MODEL");
}

static void s_control_dispatch(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    switch (msg->cmd) {
    case PROTO_RETRAIN: s_cmd_retrain(self, msg, r); break;
    case PROTO_STATUS: s_cmd_status(self, r); break;
    case PROTO_RUNS: s_cmd_runs(self, msg, r); break;
    case PROTO_MODELS: s_cmd_models(self, r); break;
    case PROTO_PROMOTE:
    case PROTO_ROLLBACK: s_cmd_production(self, msg, r); break;
    case PROTO_GET_MODEL: s_cmd_get_model(self, msg, r); break;
    case PROTO_SERVING: s_cmd_serving(self, msg, r); break;
    default:
        mlops_err_set(&r->err, MLOPS_ECOMMAND, "%s is not a control command", proto_cmd_name(msg->cmd));
        r->ok = false;
    }
}

zmsg_t *broker_control_handle(broker_t *self, zmsg_t **in)
{
    assert(self && in && *in);
    size_t frames = zmsg_size(*in);
    zframe_t *id = zmsg_pop(*in);
    zframe_t *delim = frames == 3 ? zmsg_pop(*in) : NULL;
    zframe_t *payload = zmsg_pop(*in);
    s_reply_t r = {0};
    if (frames < 2 || frames > 3 || (delim && zframe_size(delim) != 0)) {
        mlops_err_set(&r.err, MLOPS_EPROTO,
                      "malformed envelope: %zu frames (expected [payload] or [\"\", payload])",
                      frames ? frames - 1 : 0);
    } else {
        proto_msg_t *msg = proto_msg_decode(zframe_data(payload), zframe_size(payload), &r.err);
        if (msg)
            s_control_dispatch(self, msg, &r);
        else {
            char sample[SAMPLE_BYTES * 2];
            char why[256];
            log_warning("control: refused a request: %s sample=%s",
                        s_clean(mlops_err_text(&r.err, r.err.code), why, sizeof why),
                        s_sample(zframe_data(payload), zframe_size(payload), sample, sizeof sample));
        }
        proto_msg_destroy(&msg);
    }
    zmsg_t *out = NULL;
    zframe_t *frame = NULL;
    if (id) {
        proto_msg_t reply = {.cmd = PROTO_REPLY};
        reply.reply.ok = r.ok;
        reply.reply.error = r.ok ? "" : mlops_err_text(&r.err, r.err.code);
        reply.reply.code = r.ok ? "" : proto_reply_code(r.err.code);
        reply.reply.data = r.ok ? r.data : NULL;
        reply.reply.data_len = r.ok ? r.data_len : 0;
        frame = s_frame_of(&reply);
    }
    if (frame) {
        out = zmsg_new();
        zmsg_addmem(out, zframe_data(id), zframe_size(id));
        if (delim)
            zmsg_addmem(out, "", 0);
        zmsg_append(out, &frame);
    }
    free(r.data);
    zframe_destroy(&id);
    zframe_destroy(&delim);
    zframe_destroy(&payload);
    zmsg_destroy(in);
    return out;
}

int broker_flush(broker_t *self)
{
    return s_flush(self);
}

static int s_control_fn(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    broker_t *self = arg;
    zmsg_t *in = s_recv_waiting(sock);
    if (!in)
        return 0;
    int64_t t0 = zclock_usecs();
    zmsg_t *reply = broker_control_handle(self, &in);
    if (reply)
        s_out_push(self, sock, &reply);   //  sent once the batch commits
    s_flush(self);
    self->handler_usec += zclock_usecs() - t0;
    self->n_messages++;
    return 0;
}

/* --- timers -------------------------------------------------------------- */

//  Notes a turn of the loop: a stall of ours since the last one is not
//  counted against the workers (dispatch.h).
static void s_awake(broker_t *self)
{
    int64_t stall = dispatch_awake(self->dispatch, zclock_mono(), STALL_GAP_MSEC);
    if (stall > 0)
        fleet_extend(self->fleet, stall);
    if (stall >= self->cfg.heartbeat_msec)
        log_info("loop stalled ms=%lld: worker expiries extended by as much", (long long)stall);
}

//  Reads what waits on the work socket, so heartbeats that arrived while the
//  loop was busy count before anyone is declared lost.
static void s_drain_work(broker_t *self)
{
    for (int i = 0; i < DRAIN_MAX && s_readable(self->work); i++)
        s_work_fn(self->loop, self->work, self);
}

static void s_expire_workers(broker_t *self)
{
    s_awake(self);
    s_drain_work(self);
    s_awake(self);
    dispatch_worker_t *w;
    while ((w = dispatch_expired(self->dispatch, zclock_mono()))) {
        char why[96];
        snprintf(why, sizeof why, "lost (silent for %lld ms)",
                 (long long)(self->cfg.heartbeat_msec * self->cfg.liveness));
        s_worker_lost(self, w, why);
    }
}

static void s_infer_gone_fn(const fleet_worker_t *w, void *arg)
{
    broker_t *self = arg;
    log_warning("inference worker lost host=%s pid=%lld version=%lld (silent for %lld ms)", w->host,
                (long long)w->pid, (long long)w->version, (long long)(w->interval_ms * self->cfg.liveness));
}

static void s_check_workers(broker_t *self)
{
    s_expire_workers(self);
    fleet_expire(self->fleet, zclock_mono(), s_infer_gone_fn, self);
    s_load_wait_check(self);
    int64_t now = zclock_mono();
    for (size_t i = dispatch_worker_count(self->dispatch); i-- > 0;) {
        dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        run_task_t *t = s_task_of(self, w);
        int64_t limit = self->cfg.timeout_msec[w->stage];
        if (t && now - w->task_since_mono > limit) {
            char why[128];
            snprintf(why, sizeof why, "timed out after %lld ms on worker %.63s:%lld",
                     (long long)limit, w->host, (long long)w->pid);
            w->task_id[0] = '\0';   //  still busy until it answers or says it is idle
            s_task_failed(self, t, why);
        }
        if (now - w->last_sent_mono >= self->cfg.heartbeat_msec) {
            proto_msg_t hb = {.cmd = PROTO_HEARTBEAT};
            hb.heartbeat.task_id = "";
            s_send_worker(self, w, &hb);
        }
    }
}

static int s_tick_fn(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    broker_t *self = arg;
    s_check_workers(self);
    if (self->next_schedule_ms && s_wall() >= self->next_schedule_ms) {
        control_retrain_t answer = {0};
        mlops_err_t err;
        mlops_err_clear(&err);
        self->next_schedule_ms = s_wall() + self->cfg.schedule_msec;
        if (s_trigger(self, "", "schedule", &answer, &err) != 0)
            log_error("scheduled trigger failed: %s", mlops_err_text(&err, err.code));
    }
    s_pump(self);
    s_flush(self);
    return 0;
}
