/*  broker.c: the mlops-broker reactor (see broker.h): construction and the
    sockets, the work socket (READY, HEARTBEAT, RESULT, DISCONNECT, one
    function each), the timers (heartbeats, expiry, timeouts, backoff,
    schedule), and the helpers the broker's other files share to send,
    publish and write into the batch. broker_internal.h says which file
    holds what.
*/
#include "broker.h"

#include <assert.h>
#include <czmq.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "endpoint.h"
#include "log.h"

#define TICK_MSEC 50              //  timers: backoff, timeouts, schedule
#define STALL_GAP_MSEC (4 * TICK_MSEC) //  a longer gap between ticks is a stall of ours
#define DRAIN_MAX 1000            //  messages read from the work socket before expiring anyone
#define BIG_BYTES (1 << 20)       //  a payload this big may stall the loop: heartbeat first

/* --- shared helpers: logs, sending, events, the batch -------------------- */

int64_t broker_wall(void)
{
    return (int64_t)zclock_time();
}

char *broker_sample(const void *data, size_t len, char *out, size_t size)
{
    return log_sanitize(data, len < SAMPLE_BYTES ? len : SAMPLE_BYTES, out, size);
}

//  text that came from a peer, made safe for one log line
char *broker_clean(const char *text, char *out, size_t size)
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
zframe_t *broker_frame_of(const proto_msg_t *msg)
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

void broker_send_to(broker_t *self, zsock_t *sock, const uint8_t *id, size_t id_len,
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
    batch_send_payload(self->batch, sock, &out, &bytes, len);
}

void broker_send_worker(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg)
{
    broker_send_to(self, self->work, w->id, w->id_len, msg);
    w->last_sent_mono = zclock_mono();
}

//  Heartbeats every worker not written to for half an interval, at once
//  rather than through the outbox (a heartbeat announces nothing): called
//  before work that may keep the loop busy, so the workers hear from us
//  right before the pause and do not take it for a dead broker.
void broker_heartbeat_now(broker_t *self)
{
    if (!self->work)
        return;
    proto_msg_t hb = {.cmd = PROTO_HEARTBEAT};
    hb.heartbeat.task_id = "";
    int64_t now = zclock_mono();
    for (size_t i = 0; i < dispatch_worker_count(self->dispatch); i++) {
        dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        zframe_t *payload = now - w->last_sent_mono >= self->cfg.heartbeat_msec / 2 ? broker_frame_of(&hb) : NULL;
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

void broker_publish(broker_t *self, const char *kind, uint64_t run_id, const char *stage,
                    const char *state, uint64_t version, const char *message)
{
    proto_msg_t ev = {.cmd = PROTO_EVENT};
    ev.event.kind = kind;
    ev.event.run_id = (int64_t)run_id;
    ev.event.stage = stage ? stage : "";
    ev.event.state = state ? state : "";
    ev.event.version = (int64_t)version;
    ev.event.message = message ? message : "";
    ev.event.ts_ms = broker_wall();
    zframe_t *payload = broker_frame_of(&ev);
    if (!payload)
        return;
    zmsg_t *out = zmsg_new();
    zmsg_addstr(out, kind);
    zmsg_append(out, &payload);
    batch_send(self->batch, self->events, &out);
    log_debug("event kind=%s run=%llu stage=%s state=%s", kind, (unsigned long long)run_id,
              stage ? stage : "", state ? state : "");
}

//  A task event's message starts with the task id ("3-train-forest: ..."),
//  which tells fanned-out tasks of one stage apart.
void broker_publish_task(broker_t *self, const run_task_t *task, const char *detail)
{
    char message[RECORD_ERROR_MAX + 128];
    snprintf(message, sizeof message, "%s%s%s", task->task_id, detail ? ": " : "", detail ? detail : "");
    broker_publish(self, "task", self->active.id, task->stage, task_state_name(task->state), 0, message);
}

void broker_publish_run(broker_t *self, const run_t *run)
{
    const char *message = run->state == RUN_FAILED ? run->error : run->outcome;
    broker_publish(self, "run", run->id, "", run_state_name(run->state), run->version,
                   *message ? message : run->reason);
}

//  The batch transaction, begun on first use. NULL on failure (logged).
store_txn_t *broker_txn(broker_t *self)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    store_txn_t *txn = batch_txn(self->batch, &err);
    if (!txn)
        log_error("cannot begin a store transaction: %s", mlops_err_text(&err, err.code));
    return txn;
}

//  Writes run into the batch. Returns 0 or a store error (logged).
int broker_put_run(broker_t *self, const run_t *run)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    store_txn_t *txn = broker_txn(self);
    int rc = txn ? store_run_put(self->store, txn, run, &err) : MLOPS_ESTORE;
    if (rc && !store_fault(self->store, NULL))   //  a refusal is the outage's to log
        log_error("cannot store run %llu: %s", (unsigned long long)run->id, mlops_err_text(&err, rc));
    return rc;
}

//  Commits the batch, then sends the outbox. When the commit fails nothing
//  of the batch happened: the outbox is dropped, memory is reloaded from
//  the store, and the engine deals with the refusal (engine_store_refused).
//  A commit that wrote something ends a store outage. Returns 0 or the
//  store's error.
int broker_flush(broker_t *self)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    bool writes = batch_current_txn(self->batch) != NULL;
    int rc = batch_commit(self->batch, &err);
    if (rc == 0 && writes)
        outage_end(&self->outage);
    if (rc) {
        engine_reload(self);
        engine_store_refused(self, rc, &err);
    }
    return rc;
}

//  Forgets the open batch and what waits for it, and reloads from the store.
void broker_abort_batch(broker_t *self)
{
    batch_abort(self->batch);
    engine_reload(self);
}

//  Renders the exporter's page with the gauges of now (exporter.h).
void broker_metrics_publish(broker_t *self)
{
    if (!self->exporter)
        return;
    exporter_gauges_t g = {.serving = fleet_count(self->fleet), .active_run = self->active.id,
                           .store_map_bytes = store_map_bytes(self->store),
                           .store_used_bytes = store_used_bytes(self->store),
                           .store_max_bytes = store_max_bytes(self->store)};
    for (int s = 0; s < STAGE_COUNT; s++)
        g.queued[s] = dispatch_queue_len(self->dispatch, (stage_t)s);
    for (size_t i = 0; i < dispatch_worker_count(self->dispatch); i++) {
        const dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        if (w->busy)
            g.busy[w->stage]++;
        else
            g.idle[w->stage]++;
    }
    exporter_drift_t *drift = NULL;
    g.n_drift = broker_drift_gauges(self, &drift);
    g.drift = drift;
    broker_feedback_gauges(self, &g);
    if (exporter_publish(self->exporter, &g) != 0)
        log_warning("metrics page not rendered: out of memory");
    free(drift);
    self->next_publish_mono = zclock_mono() + EXPORTER_PUBLISH_MSEC;
}

/* --- construction -------------------------------------------------------- */

void broker_config_defaults(broker_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->work_endpoint = "tcp://127.0.0.1:5555";
    cfg->control_endpoint = "tcp://127.0.0.1:5556";
    cfg->events_endpoint = "tcp://127.0.0.1:5557";
    cfg->store_dir = "mlops-store";
    cfg->heartbeat_msec = HEARTBEAT_IVL_MSEC;
    cfg->liveness = HEARTBEAT_LIVENESS;
    cfg->policy = (dag_policy_t){.max_attempts = 3, .backoff_msec = 1000, .backoff_max_msec = 60000};
    for (int s = 0; s < STAGE_COUNT; s++)
        cfg->timeout_msec[s] = BROKER_STAGE_TIMEOUT_MSEC;
    cfg->timeout_max_msec = BROKER_TASK_TIMEOUT_MAX_MSEC;
    cfg->rule.metric[0] = 0;   //  the task type's default (registry_default_metric)
    snprintf(cfg->task, sizeof cfg->task, "auto");
    cfg->rule.margin = 0;
    cfg->load_wait_msec = BROKER_LOAD_WAIT_MSEC;
    cfg->default_source = "synthetic";
    drift_config_default(&cfg->drift);
    cfg->target = "";
    cfg->seed = 42;
    cfg->families[0] = "logreg";
    cfg->families[1] = "forest";
    cfg->n_families = 2;
}

static int s_work_fn(zloop_t *loop, zsock_t *sock, void *arg);
static int s_control_fn(zloop_t *loop, zsock_t *sock, void *arg);
static int s_tick_fn(zloop_t *loop, int timer_id, void *arg);

//  Binds a socket; max_bytes (0 = none) is its ZMQ_MAXMSGSIZE: a peer
//  sending a larger frame is disconnected before the frame is read whole.
static zsock_t *s_bind(broker_t *self, int type, const char *endpoint, int64_t max_bytes,
                       mlops_err_t *err)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        mlops_err_set(err, MLOPS_ENOMEM, "cannot create a socket");
        return NULL;
    }
    zsock_set_linger(sock, 0);
    zsock_set_maxmsgsize(sock, (int)(max_bytes < INT_MAX ? max_bytes : INT_MAX));
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

//  The data service, on --data or beside the work endpoint (its port plus
//  4, where workers look for it: endpoint_data); its spool is
//  STORE/incoming. 0 or an error with err.
static int s_start_data(broker_t *self, mlops_err_t *err)
{
    char endpoint[ENDPOINT_MAX], spool[PATH_MAX];
    if (self->cfg.data_endpoint)
        snprintf(endpoint, sizeof endpoint, "%s", self->cfg.data_endpoint);
    else if (endpoint_data(self->cfg.work_endpoint, endpoint, sizeof endpoint, err) != 0)
        return err->code;
    snprintf(spool, sizeof spool, "%s/incoming", self->cfg.store_dir);
    self->data = data_new(self->store, self->curve, endpoint, spool, err);
    return self->data ? 0 : err->code;
}

//  True for a --task word.
static bool s_task_word(const char *task)
{
    static const char *const s_tasks[] = {"auto", "binary", "multiclass", "regression"};
    for (size_t i = 0; i < sizeof s_tasks / sizeof s_tasks[0]; i++)
        if (strcmp(task, s_tasks[i]) == 0)
            return true;
    return false;
}

static int s_check_config(const broker_config_t *cfg, mlops_err_t *err)
{
    if (cfg->heartbeat_msec <= 0 || cfg->liveness < 1)
        return mlops_err_set(err, MLOPS_EINVAL, "heartbeat interval and liveness must be positive");
    if (cfg->policy.max_attempts < 1 || cfg->policy.backoff_msec < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "--max-attempts must be at least 1");
    if (cfg->load_wait_msec < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "--load-wait must be 0 or more");
    if (cfg->rule.metric[0] && !registry_metric_known(cfg->rule.metric))
        return mlops_err_set(err, MLOPS_EINVAL,
                             "unknown metric '%s' (binary: auc, accuracy, precision, recall, f1, "
                             "log_loss; multiclass: accuracy, macro_f1, log_loss; regression: r2, "
                             "rmse, mae)", cfg->rule.metric);
    if (!s_task_word(cfg->task))
        return mlops_err_set(err, MLOPS_EINVAL,
                             "unknown task '%s' (auto, binary, multiclass, regression)", cfg->task);
    if (cfg->n_families == 0 || cfg->n_families > DAG_FAMILIES_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "between 1 and %d model families", DAG_FAMILIES_MAX);
    for (size_t i = 0; i < cfg->n_families; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfg->families[i], cfg->families[k]) == 0)
                return mlops_err_set(err, MLOPS_EINVAL, "model family '%s' given twice", cfg->families[i]);
    return 0;
}

//  Starts the exporter when --metrics is given. Returns 0 or an error with
//  err naming the flag (exporter_serve).
static int s_serve_metrics(broker_t *self, mlops_err_t *err)
{
    if (!self->cfg.metrics_listen)
        return 0;
    self->exporter = exporter_new();
    if (!self->exporter)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    return exporter_serve(self->exporter, self->cfg.metrics_listen, err);
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
    if (cfg->data_endpoint)
        self->cfg.data_endpoint = s_copy(self, 8, cfg->data_endpoint);
    if (cfg->metrics_listen)
        self->cfg.metrics_listen = s_copy(self, 6, cfg->metrics_listen);
    store_options_t store_opts = {.no_sync = self->cfg.no_sync,
                                  .max_bytes = self->cfg.store_max_bytes};
    //  A limit below the default initial map is also the initial map.
    if (store_opts.max_bytes && store_opts.max_bytes < STORE_MAP_BYTES_DEFAULT)
        store_opts.map_bytes = store_opts.max_bytes;
    self->store = store_open(self->cfg.store_dir, &store_opts, err);
    self->batch = self->store ? batch_new(self->store) : NULL;
    self->curve = self->store ? curve_new_from_env(err) : NULL;
    self->dispatch = dispatch_new();
    self->fleet = fleet_new(self->cfg.liveness);
    if (self->cfg.drift.threshold > 0)   //  the watch costs an artifact read per version: only when asked
        self->drift = drift_new(&self->cfg.drift);
    bool drift_ok = self->cfg.drift.threshold <= 0 || self->drift;
    self->progress = progress_table_new();
    self->rollout = rollout_reports_new();
    self->rollout_check_mono = zclock_mono() + ROLLOUT_GRACE_MSEC;
    if (!self->store || !self->batch || !self->curve || !self->dispatch || !self->fleet || !drift_ok
        || !self->progress || !self->rollout) {
        broker_destroy(&self);
        return NULL;
    }
    if (!detached) {
        self->work = s_bind(self, ZMQ_ROUTER, self->cfg.work_endpoint, BROKER_WORK_MSG_MAX_BYTES, err);
        self->control = self->work ? s_bind(self, ZMQ_ROUTER, self->cfg.control_endpoint,
                                            BROKER_CONTROL_MSG_MAX_BYTES, err) : NULL;
        self->events = self->control ? s_bind(self, ZMQ_PUB, self->cfg.events_endpoint,
                                              BROKER_EVENTS_MSG_MAX_BYTES, err) : NULL;
    }
    if (!detached && self->events && s_start_data(self, err) != 0)
        zsock_destroy(&self->events);
    if ((!detached && (!self->events || s_serve_metrics(self, err))) || engine_resume(self, err)) {
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
        self->next_schedule_ms = broker_wall() + self->cfg.schedule_msec;
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
    uint64_t n_commits;
    int64_t commit_usec;
    if (self->batch)
        batch_figures(self->batch, &n_commits, &commit_usec);
    if (self->n_messages)
        log_info("figures messages=%llu handler_mean_us=%.1f commits=%llu commit_mean_us=%.1f "
                 "overhead_mean_us=%.1f",
                 (unsigned long long)self->n_messages, (double)self->handler_usec / self->n_messages,
                 (unsigned long long)n_commits, n_commits ? (double)commit_usec / n_commits : 0.0,
                 (double)(self->handler_usec - commit_usec) / self->n_messages);
    exporter_destroy(&self->exporter);
    drift_destroy(&self->drift);
    batch_destroy(&self->batch);
    data_destroy(&self->data);   //  before the store it reads
    zloop_destroy(&self->loop);
    zsock_destroy(&self->events);
    zsock_destroy(&self->control);
    zsock_destroy(&self->work);
    curve_destroy(&self->curve);
    dispatch_destroy(&self->dispatch);
    fleet_destroy(&self->fleet);
    progress_table_destroy(&self->progress);
    rollout_reports_destroy(&self->rollout);
    run_clear(&self->active);
    store_destroy(&self->store);
    for (size_t i = 0; i < sizeof self->strings / sizeof self->strings[0]; i++)
        free(self->strings[i]);
    free(self);
    *p = NULL;
}

int broker_run(broker_t *self)
{
    log_info("listening work=%s control=%s events=%s data=%s metrics=%s store=%s curve=%s",
             self->cfg.work_endpoint, self->cfg.control_endpoint, self->cfg.events_endpoint,
             data_endpoint(self->data), self->cfg.metrics_listen ? self->cfg.metrics_listen : "off",
             self->cfg.store_dir,
             curve_server_enabled(self->curve) ? "on" : "off (any client may connect)");
    broker_metrics_publish(self);
    engine_pump(self);
    int rc = zloop_start(self->loop);
    return rc == 0 || zsys_interrupted ? 0 : -1;
}

/* --- the work socket ----------------------------------------------------- */

static void s_disconnect_peer(broker_t *self, const uint8_t *id, size_t id_len, const char *reason)
{
    proto_msg_t msg = {.cmd = PROTO_DISCONNECT};
    msg.disconnect.reason = reason;
    broker_send_to(self, self->work, id, id_len, &msg);
}

//  Refuses a worker for good: DISCONNECT with a code, so it does not come
//  back (proto/PROTOCOL.md, DISCONNECT) but exits saying why.
static void s_refuse_peer(broker_t *self, const uint8_t *id, size_t id_len, const char *reason,
                          const char *code)
{
    proto_msg_t msg = {.cmd = PROTO_DISCONNECT};
    msg.disconnect.reason = reason;
    msg.disconnect.code = code;
    broker_send_to(self, self->work, id, id_len, &msg);
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
    snprintf(error, sizeof error, "worker %.63s %s", w->name, why);
    log_warning("%s stage=%s host=%s pid=%lld task=%s", error, stage_name(w->stage), w->host,
                (long long)w->pid, w->task_id[0] ? w->task_id : "-");
    run_task_t *t = s_task_of(self, w);
    dispatch_worker_remove(self->dispatch, w);
    if (t)
        engine_task_failed(self, t, error);
}

static void s_touch(broker_t *self, dispatch_worker_t *w)
{
    w->expires_mono = liveness_expiry(zclock_mono(), self->cfg.heartbeat_msec, self->cfg.liveness);
    w->last_seen_ms = broker_wall();
}

int broker_peer_name(const char *sent, const char *host, int64_t pid, char *out, size_t size,
                     mlops_err_t *err)
{
    if (!*sent) {   //  a worker older than names: host:pid, as before
        snprintf(out, size, "%.40s:%lld", host, (long long)pid);
        return 0;
    }
    int rc = proto_name_check(sent, err);
    if (rc == 0)
        snprintf(out, size, "%s", sent);
    return rc;
}

bool broker_name_taken(broker_t *self, const char *name, const char *host, int64_t pid,
                       const uint8_t *id, size_t id_len, char *who, size_t size)
{
    dispatch_worker_t *w = dispatch_worker_named(self->dispatch, name);
    const fleet_worker_t *f = fleet_find(self->fleet, name);
    //  the same process again (a new connection, a new report) is not another
    if (w && !(id && w->id_len == id_len && memcmp(w->id, id, id_len) == 0)
        && !(w->pid == pid && strcmp(w->host, host) == 0)) {
        snprintf(who, size, "the %s worker '%s' on host %s pid %lld, last heard %.1f s ago",
                 stage_name(w->stage), w->name, w->host, (long long)w->pid,
                 (double)(broker_wall() - w->last_seen_ms) / 1000);
        return true;
    }
    if (f && !(f->pid == pid && strcmp(f->host, host) == 0)) {
        snprintf(who, size, "the inference worker '%s' on host %s pid %lld, last heard %.1f s ago",
                 f->name, f->host, (long long)f->pid, (double)(broker_wall() - f->last_seen_ms) / 1000);
        return true;
    }
    return false;
}

//  A READY's name, checked: the name to use, or false when the worker was
//  refused (a bad name, a name a live worker has).
static bool s_ready_name(broker_t *self, const uint8_t *id, size_t id_len, const proto_msg_t *msg,
                         const char *host, char *name, size_t size)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    char reason[320], shown[96], who[224];
    if (broker_peer_name(msg->ready.name, host, msg->ready.pid, name, size, &err)) {
        snprintf(reason, sizeof reason, "READY: %.200s", err.msg);
        log_warning("READY refused: %s name=%s host=%s", reason,
                    broker_clean(msg->ready.name, shown, sizeof shown), host);
        s_refuse_peer(self, id, id_len, reason, PROTO_REPLY_INVALID);
        return false;
    }
    //  an MLOPS/1 worker (no name) is told apart by its connection, as before
    if (!*msg->ready.name || !broker_name_taken(self, name, host, msg->ready.pid, id, id_len, who, sizeof who))
        return true;
    snprintf(reason, sizeof reason, "the name '%s' is taken by %s", name, who);
    log_warning("READY refused: %s host=%s pid=%lld", reason, host, (long long)msg->ready.pid);
    s_refuse_peer(self, id, id_len, reason, PROTO_REPLY_CONFLICT);
    return false;
}

static void s_handle_ready(broker_t *self, const uint8_t *id, size_t id_len, const proto_msg_t *msg)
{
    //  the host goes into logs and status: no control bytes from a peer
    char host[64], stage_text[48], name[PROTO_NAME_MAX + 1];
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
    if (!s_ready_name(self, id, id_len, msg, host, name, sizeof name))
        return;
    dispatch_worker_t *old = dispatch_worker_find(self->dispatch, id, id_len);
    if (old && old->task_id[0])
        s_worker_lost(self, old, "sent READY again (restarted)");
    dispatch_worker_t *earlier = *msg->ready.name ? dispatch_worker_named(self->dispatch, name) : NULL;
    if (earlier && (earlier->id_len != id_len || memcmp(earlier->id, id, id_len) != 0))
        s_worker_lost(self, earlier, "came back on a new connection");
    dispatch_worker_t *w = dispatch_worker_add(self->dispatch, id, id_len, (stage_t)stage, host,
                                               msg->ready.pid, zclock_mono());
    if (!w) {
        log_warning("READY refused: too many workers host=%s", host);
        s_disconnect_peer(self, id, id_len, "too many workers");
        return;
    }
    snprintf(w->name, sizeof w->name, "%s", name);
    s_touch(self, w);
    w->last_sent_mono = zclock_mono();
    log_info("worker joined stage=%s name=%s host=%s pid=%lld", stage_name((stage_t)stage), w->name,
             w->host, (long long)w->pid);
    engine_pump(self);
}

//  A heartbeat's progress for the task in the worker's hand: kept for
//  STATUS, published as a `progress` event at most once a second per task.
static void s_progress(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg)
{
    run_task_t *t = s_task_of(self, w);
    if (!t || !progress_table_update(self->progress, t->task_id, msg->heartbeat.done,
                                     msg->heartbeat.total, msg->heartbeat.unit, zclock_mono()))
        return;
    char text[PROGRESS_TABLE_TEXT_MAX], message[PROGRESS_TABLE_TEXT_MAX + 64];
    snprintf(message, sizeof message, "%s: %s", t->task_id,
             progress_table_text(self->progress, t->task_id, text, sizeof text));
    broker_publish(self, "progress", self->active.id, t->stage, task_state_name(t->state), 0, message);
}

//  Tells a worker to stop computing an attempt the broker gave up on
//  (PROTOCOL.md 5.1, CANCEL): it frees its core and memory, and answers
//  with a RESULT the broker ignores, or says it is idle.
static void s_cancel(broker_t *self, dispatch_worker_t *w, const char *task_id)
{
    proto_msg_t msg = {.cmd = PROTO_CANCEL};
    msg.cancel.task_id = task_id;
    log_debug("cancel task=%s worker=%s", task_id, w->name);   //  the timeout said why
    broker_send_worker(self, w, &msg);
}

static void s_handle_heartbeat(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg)
{
    bool in_hand = strcmp(msg->heartbeat.task_id, w->task_id) == 0;
    //  the lines its task logged so far (a worker that dies keeps these)
    run_task_t *t = *msg->heartbeat.log && in_hand ? s_task_of(self, w) : NULL;
    if (t)
        runlogs_append(self, t, w->name, msg->heartbeat.log);
    if (*msg->heartbeat.unit && in_hand) {
        dispatch_worker_progress(w, msg->heartbeat.done, msg->heartbeat.unit, zclock_mono());
        s_progress(self, w, msg);
    }
    //  still computing an attempt we gave up on (our CANCEL was lost, or
    //  went before it took the task): say it again, once a heartbeat
    if (*msg->heartbeat.task_id && !in_hand)
        s_cancel(self, w, msg->heartbeat.task_id);
    //  a worker we gave up on (timeout) says it is idle again: it may work
    if (w->busy && !w->task_id[0] && !msg->heartbeat.task_id[0]) {
        dispatch_worker_release(w, zclock_mono());
        engine_pump(self);
    }
}

static void s_handle_result(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg)
{
    const char *task_id = msg->result.task_id;
    if (!w->task_id[0] || strcmp(w->task_id, task_id) != 0) {
        char sample[64];
        log_warning("RESULT ignored: task %s is not in hand by worker %s (late or duplicate)",
                    broker_sample(task_id, strlen(task_id), sample, sizeof sample), w->name);
        if (w->busy && !w->task_id[0]) {   //  the late answer of a timed-out task: free again
            dispatch_worker_release(w, zclock_mono());
            engine_pump(self);
        }
        return;
    }
    run_task_t *t = s_task_of(self, w);
    dispatch_worker_release(w, zclock_mono());
    progress_table_forget(self->progress, task_id);
    if (t)
        runlogs_append(self, t, w->name, msg->result.log);
    char wrong[160];
    if (t && msg->result.run_id != (int64_t)self->active.id) {
        //  the right task with another run's id: a confused worker, whose
        //  output may be another run's; the attempt fails (PROTOCOL.md 6.1)
        snprintf(wrong, sizeof wrong, "RESULT refused: it names run %lld, task %s belongs to run %llu",
                 (long long)msg->result.run_id, t->task_id, (unsigned long long)self->active.id);
        log_warning("%s (worker %s)", wrong, w->name);
        engine_task_failed(self, t, wrong);
    } else if (!t) {
        log_warning("RESULT ignored: task %s is settled", task_id);
    } else if (msg->result.ok) {
        engine_task_succeeded(self, t, msg->result.output, msg->result.output_len);
    } else {
        engine_task_failed(self, t, *msg->result.error ? msg->result.error : "failed (no reason given)");
    }
    engine_pump(self);
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
        broker_heartbeat_now(self);
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
                        w ? w->name : "unknown peer",
                        broker_clean(mlops_err_text(&err, err.code), why, sizeof why),
                        broker_sample(zframe_data(payload), zframe_size(payload), sample, sizeof sample));
        } else if (msg->cmd == PROTO_READY && !curve_peer_has_role(self->curve, payload, msg->ready.stage)) {
            //  roles (curve.h): this key was not issued for that stage
            log_warning("READY refused: key not allowed for stage %s",
                        broker_clean(msg->ready.stage, sample, sizeof sample));
            s_disconnect_peer(self, zframe_data(id), zframe_size(id), "this key may not serve that stage");
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
            case PROTO_DISCONNECT: s_worker_lost(self, w, "disconnected"); engine_pump(self); break;
            default:
                log_warning("work: unexpected %s from worker %s, dropped",
                            proto_cmd_name(msg->cmd), w->name);
            }
        }
        proto_msg_destroy(&msg);
    }
    zframe_destroy(&id);
    zframe_destroy(&payload);
    zmsg_destroy(&in);
    broker_flush(self);
    self->handler_usec += zclock_usecs() - t0;
    self->n_messages++;
    return 0;
}

/* --- the control socket (its commands: control.c) ------------------------ */

static int s_control_fn(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    broker_t *self = arg;
    zmsg_t *in = s_recv_waiting(sock);
    if (!in)
        return 0;
    int64_t t0 = zclock_usecs();
    zmsg_t *reply = broker_control_handle(self, &in);
    //  the reply reports a change already committed (control.c): it goes
    //  out even when what the command set going after it is refused
    broker_flush(self);
    if (reply)
        zmsg_send(&reply, sock);
    zmsg_destroy(&reply);   //  left when the send failed
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
    if (stall > 0 && self->exporter)
        exporter_stall(self->exporter, (double)stall / 1000);
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
    log_warning("inference worker lost name=%s host=%s pid=%lld version=%lld (silent for %lld ms)",
                w->name, w->host, (long long)w->pid, (long long)w->version, (long long)(w->interval_ms * self->cfg.liveness));
}

//  Gives up on the attempt of t when its progress stalled for the stage's
//  --timeout, or it ran for --timeout-max (PROTOCOL.md 7, "Task
//  timeouts"); the worker is told to cancel it and stays busy until it
//  answers or says it is idle.
static void s_check_timeout(broker_t *self, dispatch_worker_t *w, run_task_t *t, int64_t now)
{
    int64_t limit = self->cfg.timeout_msec[w->stage], cap = self->cfg.timeout_max_msec;
    dispatch_overdue_t overdue = dispatch_worker_overdue(w, now, limit, cap);
    if (overdue == DISPATCH_IN_TIME)
        return;
    char why[160];
    if (overdue == DISPATCH_STALLED)
        snprintf(why, sizeof why, "timed out: no progress for %lld ms on worker %.63s",
                 (long long)limit, w->name);
    else
        snprintf(why, sizeof why, "timed out: ran past --timeout-max %lld ms on worker %.63s",
                 (long long)cap, w->name);
    s_cancel(self, w, w->task_id);
    w->task_id[0] = '\0';   //  still busy until it answers or says it is idle
    if (self->exporter)
        exporter_task_timed_out(self->exporter, w->stage);
    engine_task_failed(self, t, why);
}

static void s_check_workers(broker_t *self)
{
    s_expire_workers(self);
    fleet_expire(self->fleet, zclock_mono(), s_infer_gone_fn, self);
    engine_load_wait_check(self);
    int64_t now = zclock_mono();
    for (size_t i = dispatch_worker_count(self->dispatch); i-- > 0;) {
        dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        run_task_t *t = s_task_of(self, w);
        if (t)
            s_check_timeout(self, w, t, now);
        if (now - w->last_sent_mono >= self->cfg.heartbeat_msec) {
            proto_msg_t hb = {.cmd = PROTO_HEARTBEAT};
            hb.heartbeat.task_id = "";
            broker_send_worker(self, w, &hb);
        }
    }
}

static int s_tick_fn(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop, (void)timer_id;
    broker_t *self = arg;
    s_check_workers(self);
    if (self->next_schedule_ms && broker_wall() >= self->next_schedule_ms) {
        control_retrain_t answer = {0};
        mlops_err_t err;
        mlops_err_clear(&err);
        self->next_schedule_ms = broker_wall() + self->cfg.schedule_msec;
        if (engine_trigger(self, "", "schedule", &answer, &err) != 0)
            log_error("scheduled trigger failed: %s", mlops_err_text(&err, err.code));
    }
    engine_pump(self);
    broker_flush(self);
    broker_rollout_tick(self);
    if (self->exporter && zclock_mono() >= self->next_publish_mono)
        broker_metrics_publish(self);
    return 0;
}
