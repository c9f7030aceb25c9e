/*  agent.c: see agent.h. One zpoller loop over the DEALER and the pipe from
    the compute thread; the thread only runs the handler and signals. */
#include <czmq.h>

#include "agent.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "curve.h"
#include "liveness.h"
#include "log.h"
#include "msg.h"
#include "progress.h"
#include "tasklog.h"

#define RECONNECT_MIN_MSEC 1000
#define RECONNECT_MAX_MSEC 5000    //  a broker back after a restart is found within this
#define STALL_SLACK_MSEC 200        //  a loop turn later than the heartbeat plus this was a stall of ours
#define BUSY_REPORT_MSEC 100        //  the busy knob reports its progress this often
#define BUSY_ATTEMPTS_MAX 8         //  values of MLOPS_TASK_BUSY_MS, one per attempt

typedef struct {
    proto_msg_t *task;            //  the TASK being worked (owns the input)
    agent_handler_fn *handler;
    void *arg;                    //  the handler's
    zsock_t *signal;              //  thread end of the pipe
    uint8_t *output;              //  handler's output
    size_t output_len;
    int rc;                       //  handler's code
    mlops_err_t err;              //  handler's message
    int64_t started_ms, ended_ms; //  wall clock
    int64_t delay_msec;           //  MLOPS_TASK_DELAY_MS, see agent.h
    int64_t busy_msec;            //  MLOPS_TASK_BUSY_MS, see agent.h
} s_job_t;

struct agent {
    agent_config_t cfg;           //  copy; strings below
    char *endpoint, *stage;       //  owned
    char host[256];               //  gethostname
    char name[PROTO_NAME_MAX + 1];//  instance name, in READY
    char refused[512];            //  the broker's reason when it refused us for good
    curve_t *curve;               //  CURVE client side (maybe off)
    zsock_t *dealer;              //  to the broker, NULL while away
    zsock_t *pipe;                //  our end of the pipe from the job thread
    zsock_t *pipe_thread;         //  the thread's end
    zpoller_t *poller;            //  rebuilt with each dealer
    pthread_t thread;             //  the job thread, when busy
    s_job_t job;                  //  the job in progress
    bool busy;                    //  a job thread is running
    bool announced;               //  READY sent on this dealer
    bool stale_job;               //  the job began on an earlier connection
    int64_t broker_expires;       //  monotonic: broker dead after this
    int64_t next_heartbeat;       //  monotonic
    int64_t reconnect_msec;       //  back-off for the next reconnect
    int64_t delay_msec;           //  MLOPS_TASK_DELAY_MS
    int64_t busy_msec[BUSY_ATTEMPTS_MAX]; //  MLOPS_TASK_BUSY_MS, per attempt
    int n_busy;                   //  values given
    liveness_t awake;             //  turns of the loop
    tasklog_t *tasklog;           //  the lines logged while a task runs (the log tap)
};

//  MLOPS_TASK_BUSY_MS=N[,M...] (agent.h): the i-th value for attempt i,
//  the last for later ones.
static void s_busy_parse(agent_t *self, const char *text)
{
    for (char *end = NULL; text && *text && self->n_busy < BUSY_ATTEMPTS_MAX; text = end + 1) {
        self->busy_msec[self->n_busy++] = strtoll(text, &end, 10);
        if (*end != ',')
            break;
    }
}

//  The busy knob's time for attempt (1, 2, ...), 0 when not set.
static int64_t s_busy_for(const agent_t *self, int64_t attempt)
{
    if (self->n_busy == 0)
        return 0;
    int64_t i = attempt < 1 ? 0 : attempt > self->n_busy ? self->n_busy - 1 : attempt - 1;
    return self->busy_msec[i];
}

agent_t *agent_new(const agent_config_t *cfg, mlops_err_t *err)
{
    if (!cfg->endpoint || !cfg->stage || !cfg->handler) {
        mlops_err_set(err, MLOPS_EINVAL, "agent needs an endpoint, a stage and a handler");
        return NULL;
    }
    agent_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->endpoint = strdup(cfg->endpoint);
    self->stage = strdup(cfg->stage);
    if (self->cfg.heartbeat_msec <= 0)
        self->cfg.heartbeat_msec = HEARTBEAT_IVL_MSEC;
    if (self->cfg.liveness <= 0)
        self->cfg.liveness = HEARTBEAT_LIVENESS;
    if (gethostname(self->host, sizeof self->host - 1) != 0)
        snprintf(self->host, sizeof self->host, "unknown");
    if (cfg->name && proto_name_check(cfg->name, err)) {
        agent_destroy(&self);
        return NULL;
    }
    if (cfg->name)
        snprintf(self->name, sizeof self->name, "%s", cfg->name);
    else
        agent_name_make(self->name, sizeof self->name);
    self->reconnect_msec = RECONNECT_MIN_MSEC;
    const char *delay = getenv("MLOPS_TASK_DELAY_MS");
    self->delay_msec = delay ? atoll(delay) : 0;
    s_busy_parse(self, getenv("MLOPS_TASK_BUSY_MS"));
    self->curve = curve_new_from_env(err);
    self->pipe = zsys_create_pipe(&self->pipe_thread);
    self->tasklog = tasklog_new(0);
    if (!self->curve || !self->pipe || !self->endpoint || !self->stage || !self->tasklog) {
        agent_destroy(&self);
        return NULL;
    }
    log_set_tap(tasklog_tap_fn, self->tasklog);
    return self;
}

static void s_join(agent_t *self)
{
    if (!self->busy)
        return;
    pthread_join(self->thread, NULL);
    self->busy = false;
}

void agent_destroy(agent_t **p)
{
    if (!p || !*p)
        return;
    agent_t *self = *p;
    s_join(self);
    if (self->tasklog)
        log_set_tap(NULL, NULL);
    tasklog_destroy(&self->tasklog);
    proto_msg_destroy(&self->job.task);
    free(self->job.output);
    zpoller_destroy(&self->poller);
    zsock_destroy(&self->dealer);
    zsock_destroy(&self->pipe);
    zsock_destroy(&self->pipe_thread);
    curve_destroy(&self->curve);
    free(self->endpoint);
    free(self->stage);
    free(self);
    *p = NULL;
}

static void s_send(agent_t *self, const proto_msg_t *msg)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(msg, &bytes, &len);
    if (rc) {
        log_error("cannot encode %s: %s", proto_cmd_name(msg->cmd), mlops_strerror(rc));
        return;
    }
    zframe_t *frame = zframe_new(bytes, len);
    free(bytes);
    //  never blocks: a DEALER whose connection failed its handshake (a CURVE
    //  key the broker refuses) has no pipe, and a blocking send would hang
    //  the agent for good; what is dropped here the broker's silence repairs
    if (zframe_send(&frame, self->dealer, ZFRAME_DONTWAIT) != 0) {
        log_debug("%s not sent: %s", proto_cmd_name(msg->cmd), zmq_strerror(zmq_errno()));
        zframe_destroy(&frame);
    }
    self->next_heartbeat = zclock_mono() + self->cfg.heartbeat_msec;
}

static void s_send_ready(agent_t *self)
{
    proto_msg_t msg = {.cmd = PROTO_READY};
    msg.ready.stage = self->stage;
    msg.ready.host = self->host;
    msg.ready.pid = (int64_t)getpid();
    msg.ready.name = self->name;
    s_send(self, &msg);
    self->announced = true;
}

//  The broker spoke (or a connection began): its silence counts from now.
static void s_broker_heard(agent_t *self)
{
    int64_t now = zclock_mono();
    self->broker_expires = liveness_expiry(now, self->cfg.heartbeat_msec, self->cfg.liveness);
}

//  Opens a fresh DEALER (dropping what the old one had queued) and says READY
//  unless a job from the old connection is still computing.
static void s_connect(agent_t *self)
{
    zpoller_destroy(&self->poller);
    zsock_destroy(&self->dealer);
    self->dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(self->dealer, 0);
    curve_apply_client(self->curve, self->dealer);
    if (zsock_connect(self->dealer, "%s", self->endpoint) < 0)
        log_error("cannot connect to %s: %s", self->endpoint, zmq_strerror(zmq_errno()));
    self->poller = zpoller_new(self->dealer, self->pipe, NULL);
    self->announced = false;
    liveness_rest(&self->awake);   //  the back-off was a wait, not a stall
    self->stale_job = self->busy;
    s_broker_heard(self);
    if (!self->busy)
        s_send_ready(self);
}

//  MLOPS_TASK_BUSY_MS: computes (spins) for msec, not waiting (agent.h),
//  and reports how far it is in "ms", as a real stage reports rows.
static void s_busy(int64_t msec)
{
    int64_t start = zclock_mono(), end = start + msec, next = start;
    for (int64_t now = start; now < end && !progress_cancelled(); now = zclock_mono())
        if (now >= next) {
            progress_report(now - start, msec, "ms");
            next = now + BUSY_REPORT_MSEC;
        }
}

static void *s_job_fn(void *arg)
{
    s_job_t *job = arg;
    job->started_ms = (int64_t)zclock_time();
    for (int64_t until = zclock_mono() + job->delay_msec; zclock_mono() < until && !progress_cancelled();)
        zclock_sleep(10);
    s_busy(job->busy_msec);
    mlops_err_clear(&job->err);
    if (progress_cancelled())
        job->rc = mlops_err_set(&job->err, MLOPS_ECANCELED, "cancelled before the stage ran");
    else
        job->rc = job->handler(job->arg, job->task->task.input, job->task->task.input_len,
                               &job->output, &job->output_len, &job->err);
    job->ended_ms = (int64_t)zclock_time();
    zsock_signal(job->signal, 0);
    return NULL;
}

static void s_handle_task(agent_t *self, proto_msg_t **msg)
{
    proto_msg_t *task = *msg;
    if (self->busy || strcmp(task->task.stage, self->stage) != 0) {
        proto_msg_t res = {.cmd = PROTO_RESULT};
        res.result.task_id = task->task.task_id;
        res.result.run_id = task->task.run_id;
        res.result.error = self->busy ? "worker is busy with another task" : "wrong stage for this worker";
        res.result.started_ms = res.result.ended_ms = (int64_t)zclock_time();
        log_warning("refused task=%s: %s", task->task.task_id, res.result.error);
        s_send(self, &res);
        return;
    }
    tasklog_begin(self->tasklog);   //  from this line on, the task's log
    progress_begin();
    log_info("task started task=%s attempt=%lld bytes=%zu", task->task.task_id,
             (long long)task->task.attempt, task->task.input_len);
    memset(&self->job, 0, sizeof self->job);
    self->job.task = task;
    *msg = NULL;
    self->job.handler = self->cfg.handler;
    self->job.arg = self->cfg.handler_arg;
    self->job.signal = self->pipe_thread;
    self->job.delay_msec = self->delay_msec;
    self->job.busy_msec = s_busy_for(self, task->task.attempt);
    if (pthread_create(&self->thread, NULL, s_job_fn, &self->job) != 0) {
        //  no thread: run it here; heartbeats pause but the task is not lost
        s_job_fn(&self->job);
    } else {
        self->busy = true;
    }
}

//  The job thread signalled: send its RESULT (unless it began on an older
//  connection), then become available.
static void s_job_done(agent_t *self)
{
    zsock_wait(self->pipe);
    s_join(self);
    s_job_t *job = &self->job;
    proto_msg_t res = {.cmd = PROTO_RESULT};
    res.result.task_id = job->task->task.task_id;
    res.result.run_id = job->task->task.run_id;
    res.result.ok = job->rc == 0;
    res.result.error = job->rc ? mlops_err_text(&job->err, job->rc) : "";
    res.result.output = job->rc ? NULL : job->output;
    res.result.output_len = job->rc ? 0 : job->output_len;
    res.result.started_ms = job->started_ms;
    res.result.ended_ms = job->ended_ms;
    if (job->rc && progress_cancelled())
        log_info("task cancelled task=%s ms=%lld: %s", res.result.task_id,
                 (long long)(job->ended_ms - job->started_ms), res.result.error);
    else if (job->rc)
        log_warning("task failed task=%s error=%s", res.result.task_id, res.result.error);
    else
        log_info("task done task=%s ms=%lld bytes=%zu", res.result.task_id,
                 (long long)(job->ended_ms - job->started_ms), job->output_len);
    if (self->stale_job)
        log_warning("result of task=%s dropped: the connection was renewed meanwhile",
                    res.result.task_id);
    char *lines = tasklog_take(self->tasklog);
    tasklog_end(self->tasklog);
    progress_end();
    res.result.log = lines;
    if (!self->stale_job)
        s_send(self, &res);
    free(lines);
    proto_msg_destroy(&job->task);
    free(job->output);
    memset(job, 0, sizeof *job);
    self->stale_job = false;
    if (!self->announced)
        s_send_ready(self);
}

static void s_reconnect_later(agent_t *self, const char *why)
{
    log_warning("broker %s: reconnecting to %s in %lld ms", why, self->endpoint,
                (long long)self->reconnect_msec);
    zpoller_destroy(&self->poller);
    zsock_destroy(&self->dealer);
    if (self->busy && !progress_cancelled()) {   //  its RESULT could not be delivered
        log_warning("task=%s cancelled: the connection was renewed while it computed",
                    self->job.task->task.task_id);
        progress_cancel();
    }
    //  wait, but still collect a job that ends meanwhile
    int64_t until = zclock_mono() + self->reconnect_msec;
    while (!zsys_interrupted && zclock_mono() < until) {
        zpoller_t *p = zpoller_new(self->pipe, NULL);
        void *which = zpoller_wait(p, (int)(until - zclock_mono() > 0 ? until - zclock_mono() : 0));
        zpoller_destroy(&p);
        if (which) {
            self->stale_job = true;
            //  the result cannot be delivered: collect the thread
            zsock_wait(self->pipe);
            s_join(self);
            log_info("task %s task=%s: its result dropped (no connection)",
                     progress_cancelled() ? "cancelled" : "done", self->job.task->task.task_id);
            tasklog_end(self->tasklog);
            progress_end();
            proto_msg_destroy(&self->job.task);
            free(self->job.output);
            memset(&self->job, 0, sizeof self->job);
            self->stale_job = false;
        }
    }
    if (self->reconnect_msec < RECONNECT_MAX_MSEC)
        self->reconnect_msec *= 2;
    s_connect(self);
}

//  CANCEL: the broker gave up on the attempt (a timeout): the job thread
//  stops at its next progress check (progress.h) and the RESULT it then
//  sends (ok=false, "cancelled") frees this worker at the broker. A CANCEL
//  for another task (one already finished) is stale and ignored.
static void s_handle_cancel(agent_t *self, const proto_msg_t *msg)
{
    const char *task = agent_task_in_progress(self);
    if (!task || strcmp(task, msg->cancel.task_id) != 0) {
        log_debug("CANCEL for task %s not in progress: ignored", msg->cancel.task_id);
        return;
    }
    if (!progress_cancelled())
        log_warning("task=%s cancelled by the broker: stopping it", task);
    progress_cancel();
}

static void s_handle_broker(agent_t *self)
{
    zframe_t *frame = zframe_recv(self->dealer);
    if (!frame)
        return;
    mlops_err_t err;
    mlops_err_clear(&err);
    proto_msg_t *msg = proto_msg_decode(zframe_data(frame), zframe_size(frame), &err);
    s_broker_heard(self);
    if (!msg) {
        char sample[64];
        log_warning("dropped a bad frame from the broker: %s sample=%s", mlops_err_text(&err, err.code),
                    log_sanitize(zframe_data(frame), zframe_size(frame) > 32 ? 32 : zframe_size(frame),
                                 sample, sizeof sample));
    } else if (msg->cmd == PROTO_TASK) {
        self->reconnect_msec = RECONNECT_MIN_MSEC;
        s_handle_task(self, &msg);
    } else if (msg->cmd == PROTO_HEARTBEAT) {
        self->reconnect_msec = RECONNECT_MIN_MSEC;
    } else if (msg->cmd == PROTO_CANCEL) {
        s_handle_cancel(self, msg);
    } else if (msg->cmd == PROTO_DISCONNECT && *msg->disconnect.code) {
        //  refused for good: coming back would be refused again
        log_sanitize(msg->disconnect.reason, strlen(msg->disconnect.reason), self->refused,
                     sizeof self->refused);
        log_error("broker refused this worker (%s): %s", msg->disconnect.code, self->refused);
    } else if (msg->cmd == PROTO_DISCONNECT) {
        char reason[128];
        log_warning("broker says disconnect: %s",
                    log_sanitize(msg->disconnect.reason, strlen(msg->disconnect.reason), reason,
                                 sizeof reason));
        zframe_destroy(&frame);
        proto_msg_destroy(&msg);
        s_reconnect_later(self, "asked us to reconnect");
        return;
    } else {
        log_warning("unexpected %s from the broker, dropped", proto_cmd_name(msg->cmd));
    }
    proto_msg_destroy(&msg);
    zframe_destroy(&frame);
}

//  A turn of the loop came later than the loop ever waits: the agent itself
//  was busy (decoding a big TASK, encoding a big RESULT) or starved of CPU,
//  and what the broker sent meanwhile sits unread. That pause does not count
//  as the broker's silence (liveness.h).
static void s_awake(agent_t *self)
{
    int64_t gap = self->cfg.heartbeat_msec + STALL_SLACK_MSEC;   //  longest wait, and slack
    int64_t stall = liveness_awake(&self->awake, zclock_mono(), gap);
    if (stall > 0) {
        self->broker_expires += stall;
        log_debug("loop stalled ms=%lld: broker expiry extended", (long long)stall);
    }
}

int agent_run(agent_t *self)
{
    log_info("connecting stage=%s name=%s broker=%s host=%s pid=%d curve=%s", self->stage, self->name,
             self->endpoint, self->host, (int)getpid(), curve_client_enabled(self->curve) ? "on" : "off");
    s_connect(self);
    while (!zsys_interrupted && !self->refused[0]) {
        int64_t wait = self->next_heartbeat - zclock_mono();
        void *which = zpoller_wait(self->poller, (int)(wait > 0 ? wait : 0));
        if (zpoller_terminated(self->poller))
            break;
        if (which == self->dealer)
            s_handle_broker(self);
        else if (which == self->pipe)
            s_job_done(self);
        if (!self->dealer)
            continue;
        s_awake(self);
        if (liveness_expired(self->broker_expires, zclock_mono())
            && !(zsock_events(self->dealer) & ZMQ_POLLIN)) {
            s_reconnect_later(self, "silent");
            continue;
        }
        if (zclock_mono() >= self->next_heartbeat && self->announced) {
            proto_msg_t hb = {.cmd = PROTO_HEARTBEAT};
            bool working = self->busy && !self->stale_job;
            hb.heartbeat.task_id = working ? self->job.task->task.task_id : "";
            char *lines = working ? tasklog_take(self->tasklog) : NULL;   //  so far (tasklog.h)
            hb.heartbeat.log = lines;
            char unit[PROTO_UNIT_MAX + 1];
            if (working && progress_read(&hb.heartbeat.done, &hb.heartbeat.total, unit))
                hb.heartbeat.unit = unit;
            s_send(self, &hb);
            free(lines);
        } else if (zclock_mono() >= self->next_heartbeat) {
            self->next_heartbeat = zclock_mono() + self->cfg.heartbeat_msec;
        }
    }
    if (self->dealer && self->announced && !self->refused[0]) {
        proto_msg_t bye = {.cmd = PROTO_DISCONNECT};
        bye.disconnect.reason = "worker stopping";
        s_send(self, &bye);
    }
    log_info("stopping");
    return self->refused[0] ? MLOPS_ESTATE : 0;
}

const char *agent_task_in_progress(const agent_t *self)
{
    return self->busy && self->job.task ? self->job.task->task.task_id : NULL;
}

const char *agent_name(const agent_t *self)
{
    return self->name;
}

void agent_name_make(char *out, size_t size)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "worker");
    host[48] = '\0';
    for (char *p = host; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || strchr("._-:@", *p)))
            *p = '-';
    uint32_t bits = 0;
    if (getrandom(&bits, sizeof bits, 0) != (ssize_t)sizeof bits)
        bits = (uint32_t)zclock_usecs() ^ (uint32_t)getpid() << 8;
    snprintf(out, size, "%s-%06x", host, (unsigned)(bits & 0xffffff));
}
