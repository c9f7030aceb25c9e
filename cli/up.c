/*  up.c: `mlops up`, one foreground supervisor for a whole local stack, in
    the manner of `docker compose up`.

    It starts the broker, one worker per pipeline stage (N train workers),
    N inference workers and the gateway as child processes, prefixes each
    child's output lines with its name, restarts a child that dies (with a
    backoff that resets once the child has stayed up for a while), triggers
    the first retrain itself when the store is new, prints the URLs and a
    curl line once /health answers 200, and on Ctrl-C / SIGTERM stops every
    child (SIGTERM, then SIGKILL after a grace period). Children also get
    PR_SET_PDEATHSIG so that even a SIGKILLed supervisor leaves nothing
    running.

    It is one poll() loop over the children's output pipes and a self-pipe
    for signals; no threads.

    Nothing it starts is reachable from another host or another local user
    (README, Security): the ZeroMQ sockets are ipc:// files inside the
    store directory, which is made 0700 first; HTTP binds 127.0.0.1. With
    --base-port the ZeroMQ sockets are tcp on 127.0.0.1 instead. The
    extract worker reads files only under the directory of --source.
*/
#include "cli.h"
#include "clock.h"
#include "endpoint.h"
#include "feedback_io.h"
#include "flags.h"
#include "rollout_io.h"
#include "source.h"
#include "task_name.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UP_CHILDREN_MAX 64
#define UP_ARGS_MAX 32
#define UP_LINE_MAX 4096              //  longer output lines are split
#define UP_BACKOFF_MIN_MSEC 500       //  first restart delay
#define UP_BACKOFF_MAX_MSEC 30000     //  restart delay ceiling
#define UP_STABLE_MSEC 30000          //  up this long: backoff resets
#define UP_STOP_GRACE_MSEC 5000       //  SIGTERM to SIGKILL
#define UP_HEALTH_IVL_MSEC 250        //  /health polling while waiting for a model
#define UP_IPC_PATH_MAX 100           //  of an ipc socket's path: sun_path holds 107 bytes

typedef struct {
    char name[32];                 //  shown before each line: "broker", "train.2"
    char *argv[UP_ARGS_MAX];       //  argv to exec, owned strings
    pid_t pid;                     //  0 when not running
    int out_fd;                    //  read end of its stdout+stderr pipe, -1 when none
    char line[UP_LINE_MAX];        //  partial line buffer
    size_t line_len;               //  bytes in line
    int64_t started_ms;            //  when last started
    int64_t restart_at_ms;         //  when to start again, 0 = not scheduled
    int backoff_msec;              //  next restart delay
    int restarts;                  //  how often it was restarted
    bool oneshot;                  //  run once, never restart (the first retrain)
} s_child_t;

typedef struct {
    char bin_dir[PATH_MAX];        //  where mlops-broker & co live
    char store[PATH_MAX];          //  --store
    int port;                      //  --port (HTTP)
    int base_port;                 //  --base-port: work, control, events, backend, data; 0 = ipc
    char ipc_dir[PATH_MAX];        //  the store's absolute path, for ipc:// endpoints
    char data_root[PATH_MAX];      //  directory of --source when it is a file, "" = none
    int metrics_port;              //  --metrics-port: the broker's /metrics on loopback, 0 = any free one
    const char *source;            //  --source for the first retrain
    const char *target;            //  --target, passed to the broker
    const char *task;              //  --task, passed to the broker
    const char *drift[3];          //  --drift-threshold, -min-rows, -cooldown: to the broker, NULL = not given
    const char *promote_via;       //  --promote-via, checked here, to the broker; NULL = not given
    const char *feedback_max;      //  --feedback-max-bytes: to the broker (checked), NULL = not given
    int train_workers;             //  --train-workers
    int infer_workers;             //  --infer-workers
    s_child_t children[UP_CHILDREN_MAX];
    size_t n_children;
    bool store_was_new;            //  no data.mdb when we started
    bool announced;                //  the ready banner was printed
    bool stopping;                 //  a stop signal arrived
    char control[ENDPOINT_MAX];    //  broker control endpoint, for the first retrain
    char events[ENDPOINT_MAX];     //  broker events endpoint
    char broker_arg[ENDPOINT_MAX]; //  what `mlops retrain --broker` takes, for the banner
    int64_t next_health_ms;        //  next /health probe while not announced
} s_up_t;

static int s_signal_pipe[2] = {-1, -1};

static void s_signal_fn(int sig)
{
    unsigned char byte = (unsigned char)sig;
    int saved = errno;
    if (write(s_signal_pipe[1], &byte, 1) < 0) {
        //  the pipe is full: a stop is already pending
    }
    errno = saved;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: mlops up [options]\n"
            "Start broker, stage workers, inference workers and gateway in the foreground.\n"
            "Ctrl-C stops them all.\n\n"
            "  --store DIR          store directory (default ./mlops-store)\n"
            "  --port N             HTTP port of the gateway (default 8000)\n"
            "  --source SPEC        data for the first retrain on a new store:\n"
            "                       a CSV path or synthetic[:rows[:seed]] (default synthetic)\n"
            "  --target COL         label column of the data (default Survived)\n"
            "  --task TYPE          auto, binary, multiclass or regression (default auto:\n"
            "                       from the target column)\n"
            "  --train-workers N    train workers (default 2)\n"
            "  --infer-workers N    inference workers (default 2)\n"
            "  --base-port N        broker work/control/events on tcp://127.0.0.1:N, N+1,\n"
            "                       N+2, the gateway backend on N+3 and the broker's data\n"
            "                       service on N+4 (default: ipc sockets in the store\n"
            "                       directory)\n"
            "  --drift-threshold X, --drift-min-rows N, --drift-cooldown DURATION\n"
            "                       passed to the broker: retrain when live requests drift\n"
            "                       (mlops-broker --help; default off)\n"
            "  --promote-via HOW    passed to the broker: direct, or canary:P%%:DURATION to\n"
            "                       start a canary of a run's better version instead of\n"
            "                       promoting it (default direct)\n"
            "  --feedback-max-bytes SIZE  passed to the broker: the feedback set's cap\n"
            "                       (default 64M; mlops feedback shows the set)\n"
            "  --metrics-port N     the broker's Prometheus metrics on 127.0.0.1:N/metrics\n"
            "                       (default: a free port, printed in the banner)\n"
            "  --bin DIR            where the mlops-* binaries are (default: beside mlops)\n"
            "  -h, --help           this text\n\n"
            "Everything stays on this host and this user: the broker and the gateway\n"
            "backend bind ipc://STORE/{work,control,events,backend}.sock (the store is\n"
            "made 0700), HTTP binds 127.0.0.1, and the extract worker reads files only\n"
            "under the directory of --source. `mlops retrain --broker ipc://STORE` talks\n"
            "to it. To open up, run the binaries themselves (README, Security).\n"
            "The environment (MLOPS_CURVE_*, MLOPS_LOG_LEVEL, ...) passes to every child.\n");
}

//  Directory of the running executable, so `bin/mlops up` finds bin/mlops-broker.
static int s_exe_dir(char *out, size_t size)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n < 0)
        return errno;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, size, "%s", path);
    return 0;
}

//  Returns 0 when a TCP port can be bound on all interfaces, else errno.
static int s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return errno;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_ANY)};
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

//  A port free on loopback now (the kernel's pick), for the broker's
//  metrics when --metrics-port is not given. Returns 0 or 1 (said on stderr).
static int s_free_loopback_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int rc = fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0
             || getsockname(fd, (struct sockaddr *)&addr, &len) != 0 ? errno : 0;
    if (fd >= 0)
        close(fd);
    if (rc) {
        fprintf(stderr, "mlops up: cannot find a free port for the broker's metrics: %s\n", strerror(rc));
        return 1;
    }
    *port = ntohs(addr.sin_port);
    return 0;
}

//  Adds a child running bin_dir/program with the NULL-terminated arguments.
//  Returns NULL when the table is full (our bug: sizes are checked by flags).
static s_child_t *s_child_add(s_up_t *self, const char *name, const char *program, ...)
{
    if (self->n_children >= UP_CHILDREN_MAX)
        return NULL;
    s_child_t *child = &self->children[self->n_children++];
    memset(child, 0, sizeof *child);
    snprintf(child->name, sizeof child->name, "%s", name);
    child->out_fd = -1;
    child->backoff_msec = UP_BACKOFF_MIN_MSEC;

    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", self->bin_dir, program);
    size_t argc = 0;
    child->argv[argc++] = strdup(path);
    va_list ap;
    va_start(ap, program);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) && argc < UP_ARGS_MAX - 1)
        child->argv[argc++] = strdup(arg);
    va_end(ap);
    child->argv[argc] = NULL;
    return child;
}

//  Appends flag and value to child's argv (room is kept for the NULL).
static void s_child_arg(s_child_t *child, const char *flag, const char *value)
{
    size_t argc = 0;
    while (child->argv[argc])
        argc++;
    if (argc + 2 < UP_ARGS_MAX) {
        child->argv[argc++] = strdup(flag);
        child->argv[argc++] = strdup(value);
        child->argv[argc] = NULL;
    }
}

//  Forks and execs child with its output on a pipe. Returns 0 or errno.
static int s_child_start(s_child_t *child)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int rc = errno;
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if (pid == 0) {
        //  Own process group: a terminal's Ctrl-C reaches only the supervisor,
        //  which then stops children in order. PDEATHSIG covers a killed supervisor.
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        signal(SIGPIPE, SIG_DFL);
        execv(child->argv[0], child->argv);
        fprintf(stderr, "cannot run %s: %s\n", child->argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    //  Our end never blocks: the stop sequence polls children that may be
    //  alive and silent, and must still reach its SIGKILL deadline.
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    child->pid = pid;
    child->out_fd = fds[0];
    child->line_len = 0;
    child->started_ms = clock_mono_ms();
    child->restart_at_ms = 0;
    return 0;
}

static void s_emit(const s_child_t *child, const char *text, size_t len)
{
    printf("%-10s | %.*s\n", child->name, (int)len, text);
    fflush(stdout);
}

typedef enum { S_READ_DATA, S_READ_EMPTY, S_READ_EOF } s_read_t;

//  Reads what the child wrote, printing whole lines. S_READ_EMPTY when
//  nothing is waiting (the pipe never blocks), S_READ_EOF when the child
//  closed it (the pipe is closed here too).
static s_read_t s_child_read(s_child_t *child)
{
    char buf[4096];
    ssize_t n = read(child->out_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return S_READ_EMPTY;
    if (n <= 0) {
        if (child->line_len)
            s_emit(child, child->line, child->line_len);
        child->line_len = 0;
        close(child->out_fd);
        child->out_fd = -1;
        return S_READ_EOF;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || child->line_len == sizeof child->line) {
            s_emit(child, child->line, child->line_len);
            child->line_len = 0;
            if (buf[i] == '\n')
                continue;
        }
        child->line[child->line_len++] = buf[i];
    }
    return S_READ_DATA;
}

static s_child_t *s_child_by_pid(s_up_t *self, pid_t pid)
{
    for (size_t i = 0; i < self->n_children; i++)
        if (self->children[i].pid == pid)
            return &self->children[i];
    return NULL;
}

static void s_describe_exit(int status, char *out, size_t size)
{
    if (WIFEXITED(status))
        snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, size, "stopped (status 0x%x)", status);
}

//  Reaps dead children and schedules restarts with backoff.
static void s_reap(s_up_t *self)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        s_child_t *child = s_child_by_pid(self, pid);
        if (!child)
            continue;
        child->pid = 0;
        char why[96];
        s_describe_exit(status, why, sizeof why);
        if (self->stopping)
            continue;
        if (child->oneshot) {
            printf("mlops up: %s %s\n", child->name, why);
            continue;
        }
        int64_t now = clock_mono_ms();
        if (now - child->started_ms >= UP_STABLE_MSEC)
            child->backoff_msec = UP_BACKOFF_MIN_MSEC;
        child->restart_at_ms = now + child->backoff_msec;
        printf("mlops up: %s %s; restarting in %.1f s\n", child->name, why,
               child->backoff_msec / 1000.0);
        fflush(stdout);
        child->backoff_msec *= 2;
        if (child->backoff_msec > UP_BACKOFF_MAX_MSEC)
            child->backoff_msec = UP_BACKOFF_MAX_MSEC;
    }
}

static void s_restart_due(s_up_t *self)
{
    int64_t now = clock_mono_ms();
    for (size_t i = 0; i < self->n_children; i++) {
        s_child_t *child = &self->children[i];
        if (child->pid || !child->restart_at_ms || child->restart_at_ms > now)
            continue;
        child->restarts++;
        int rc = s_child_start(child);
        if (rc) {
            printf("mlops up: cannot restart %s: %s\n", child->name, strerror(rc));
            child->restart_at_ms = now + child->backoff_msec;
        } else {
            printf("mlops up: %s restarted (pid %d, restart %d)\n", child->name,
                   (int)child->pid, child->restarts);
        }
        fflush(stdout);
    }
}

//  True when GET /health on the gateway answers 200.
static bool s_health_ok(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        const char req[] = "GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n";
        char answer[64] = "";
        if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
            ssize_t n = read(fd, answer, sizeof answer - 1);
            if (n > 0) {
                answer[n] = '\0';
                ok = strncmp(answer, "HTTP/1.1 200", 12) == 0 ||
                     strncmp(answer, "HTTP/1.0 200", 12) == 0;
            }
        }
    }
    close(fd);
    return ok;
}

static void s_announce(const s_up_t *self)
{
    int p = self->port;
    printf("\nmlops up: ready, a model is being served.\n"
           "  dashboard  http://localhost:%d/\n"
           "  health     http://localhost:%d/health\n"
           "  metrics    http://localhost:%d/metrics\n"
           "  broker     http://127.0.0.1:%d/metrics (Prometheus: queue depth, workers, runs)\n"
           "  try it:\n"
           "    curl -s -X POST http://localhost:%d/predict -H 'Content-Type: application/json' "
           "-d '{\"Pclass\":3,\"Sex\":\"male\",\"Age\":22,\"SibSp\":1,\"Parch\":0,"
           "\"Fare\":7.25,\"Embarked\":\"S\",\"Name\":\"Braund, Mr. Owen Harris\"}'\n"
           "  retrain:    %s/mlops retrain --broker %s --wait\n"
           "  reachable:  HTTP on 127.0.0.1:%d only; broker and backend %s\n"
           "  stop:       Ctrl-C\n\n",
           p, p, p, self->metrics_port, p, self->bin_dir, self->broker_arg, p,
           self->base_port ? "on 127.0.0.1 only" : "as ipc sockets in the store (0700)");
    fflush(stdout);
}

//  SIGTERM to every child, SIGKILL to what is left after the grace period.
static void s_stop_all(s_up_t *self)
{
    self->stopping = true;
    for (size_t i = 0; i < self->n_children; i++)
        if (self->children[i].pid)
            kill(self->children[i].pid, SIGTERM);
    int64_t deadline = clock_mono_ms() + UP_STOP_GRACE_MSEC;
    for (;;) {
        s_reap(self);
        size_t alive = 0;
        for (size_t i = 0; i < self->n_children; i++) {
            s_child_t *child = &self->children[i];
            //  Bounded: a dead child's pipe ends in EOF, a live one's in EAGAIN.
            for (int reads = 0; child->out_fd >= 0 && reads < 64; reads++)
                if (s_child_read(child) != S_READ_DATA)
                    break;
            if (child->pid)
                alive++;
        }
        if (!alive)
            break;
        if (clock_mono_ms() >= deadline) {
            for (size_t i = 0; i < self->n_children; i++)
                if (self->children[i].pid) {
                    printf("mlops up: %s did not stop in time, killing it\n",
                           self->children[i].name);
                    kill(self->children[i].pid, SIGKILL);
                }
            deadline = clock_mono_ms() + 1000;
        }
        usleep(20000);
    }
    for (size_t i = 0; i < self->n_children; i++)
        if (self->children[i].out_fd >= 0) {
            close(self->children[i].out_fd);
            self->children[i].out_fd = -1;
        }
    printf("mlops up: all processes stopped\n");
    fflush(stdout);
}

static void s_up_free(s_up_t *self)
{
    for (size_t i = 0; i < self->n_children; i++)
        for (size_t a = 0; a < UP_ARGS_MAX && self->children[i].argv[a]; a++)
            free(self->children[i].argv[a]);
}

//  The endpoint of one socket: ipc://STORE/NAME.sock, or tcp on loopback
//  at base_port + k (default_port - ENDPOINT_WORK_PORT).
static void s_endpoint(const s_up_t *self, int default_port, char *out, size_t size)
{
    if (self->base_port)
        snprintf(out, size, "tcp://127.0.0.1:%d", self->base_port + default_port - ENDPOINT_WORK_PORT);
    else if (snprintf(out, size, "ipc://%s/%s", self->ipc_dir, endpoint_ipc_name(default_port))
             >= (int)size)
        out[0] = '\0';   //  s_prepare_dirs keeps the path short enough
}

//  Builds the child table from the options.
static int s_plan(s_up_t *self)
{
    char port[16], name[32], work[ENDPOINT_MAX], control[ENDPOINT_MAX], events[ENDPOINT_MAX],
        backend[ENDPOINT_MAX];
    char metrics[32];
    snprintf(port, sizeof port, "%d", self->port);
    s_endpoint(self, ENDPOINT_WORK_PORT, work, sizeof work);
    s_endpoint(self, ENDPOINT_CONTROL_PORT, control, sizeof control);
    s_endpoint(self, ENDPOINT_EVENTS_PORT, events, sizeof events);
    s_endpoint(self, ENDPOINT_BACKEND_PORT, backend, sizeof backend);
    snprintf(self->control, sizeof self->control, "%s", control);
    snprintf(self->events, sizeof self->events, "%s", events);
    if (self->base_port)
        snprintf(self->broker_arg, sizeof self->broker_arg, "127.0.0.1:%d", self->base_port + 1);
    else if (snprintf(self->broker_arg, sizeof self->broker_arg, "ipc://%s", self->ipc_dir)
             >= (int)sizeof self->broker_arg)
        self->broker_arg[0] = '\0';

    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", self->metrics_port);

    s_child_t *broker = s_child_add(self, "broker", "mlops-broker", "--store", self->store, "--work",
                                    work, "--control", control, "--events", events, "--target",
                                    self->target, "--task", self->task, "--source", self->source,
                                    "--metrics", metrics, NULL);
    static const char *const drift_flags[3] = {"--drift-threshold", "--drift-min-rows",
                                               "--drift-cooldown"};
    for (size_t i = 0; i < 3; i++)
        if (self->drift[i])
            s_child_arg(broker, drift_flags[i], self->drift[i]);
    if (self->promote_via)
        s_child_arg(broker, "--promote-via", self->promote_via);
    if (self->feedback_max)
        s_child_arg(broker, "--feedback-max-bytes", self->feedback_max);
    if (self->data_root[0])
        s_child_add(self, "extract", "mlops-worker", "--stage", "extract", "--broker", work,
                    "--data-root", self->data_root, NULL);
    else
        s_child_add(self, "extract", "mlops-worker", "--stage", "extract", "--broker", work, NULL);
    s_child_add(self, "preprocess", "mlops-worker", "--stage", "preprocess", "--broker", work, NULL);
    for (int i = 1; i <= self->train_workers; i++) {
        snprintf(name, sizeof name, "train.%d", i);
        s_child_add(self, name, "mlops-worker", "--stage", "train", "--broker", work, NULL);
    }
    s_child_add(self, "evaluate", "mlops-worker", "--stage", "evaluate", "--broker", work, NULL);
    s_child_add(self, "load_model", "mlops-worker", "--stage", "load_model", "--broker", work, NULL);
    s_child_add(self, "gateway", "mlops-gateway", "--port", port, "--bind", ENDPOINT_LOOPBACK,
                "--backend", backend, "--broker", control, NULL);
    for (int i = 1; i <= self->infer_workers; i++) {
        snprintf(name, sizeof name, "infer.%d", i);
        s_child_add(self, name, "mlops-worker", "--stage", "infer", "--gateway", backend,
                    "--broker", control, "--events", events, NULL);
    }
    return 0;
}

//  Makes the store directory (0700) and notes its absolute path for the
//  ipc sockets; and the directory of --source when it names a file, which
//  the extract worker may read under. 0, or 1 with a message.
static int s_prepare_dirs(s_up_t *self)
{
    if (mkdir(self->store, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mlops up: cannot create %s: %s\n", self->store, strerror(errno));
        return 1;
    }
    if (!realpath(self->store, self->ipc_dir)) {
        fprintf(stderr, "mlops up: %s: %s\n", self->store, strerror(errno));
        return 1;
    }
    if (!self->base_port && strlen(self->ipc_dir) + sizeof "/work.sock-data" > UP_IPC_PATH_MAX) {
        fprintf(stderr, "mlops up: the store path %s is too long for ipc sockets (at most %zu "
                        "bytes): use a shorter --store, or --base-port for tcp on 127.0.0.1\n",
                self->ipc_dir, UP_IPC_PATH_MAX - sizeof "/work.sock-data");
        return 1;
    }
    char source[PATH_MAX];
    source_t spec;   //  the file of PATH, csv:PATH and PATH+feedback alike
    mlops_err_t err;
    if (source_parse(self->source, &spec, &err) != 0 || spec.kind != SOURCE_PATH
        || !realpath(spec.base, source))
        return 0;   //  not a file here: the broker or the extract worker says why
    char *slash = strrchr(source, '/');
    *slash = '\0';
    snprintf(self->data_root, sizeof self->data_root, "%s", slash == source ? "/" : source);
    return 0;
}

static int s_parse(s_up_t *self, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'p'},
        {"source", required_argument, NULL, 'S'},
        {"target", required_argument, NULL, 'T'},
        {"task", required_argument, NULL, 'Y'},
        {"train-workers", required_argument, NULL, 't'},
        {"infer-workers", required_argument, NULL, 'i'},
        {"bin", required_argument, NULL, 'b'},
        {"base-port", required_argument, NULL, 'B'},
        {"metrics-port", required_argument, NULL, 'm'},
        {"drift-threshold", required_argument, NULL, 'D'},
        {"drift-min-rows", required_argument, NULL, 'R'},
        {"drift-cooldown", required_argument, NULL, 'C'},
        {"promote-via", required_argument, NULL, 'P'},
        {"feedback-max-bytes", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    snprintf(self->store, sizeof self->store, "mlops-store");
    self->port = 8000;
    self->base_port = 0;
    self->source = "synthetic";
    self->target = FEEDBACK_IO_TARGET_DEFAULT;
    self->task = "auto";
    self->train_workers = 2;
    self->infer_workers = 2;
    if (s_exe_dir(self->bin_dir, sizeof self->bin_dir) != 0)
        snprintf(self->bin_dir, sizeof self->bin_dir, "bin");
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        long long value = 0;
        //  any whole number here (flags.h), then each flag's range in its own
        //  words, which tests/test_up.py reads
        if (opt == 'p' || opt == 't' || opt == 'i' || opt == 'B' || opt == 'm') {
            if (flags_int("", optarg, LLONG_MIN, LLONG_MAX, &value, NULL)) {
                fprintf(stderr, "mlops up: --%s wants a number, got '%s'\n",
                        opt == 'p'   ? "port"
                        : opt == 'B' ? "base-port"
                        : opt == 'm' ? "metrics-port"
                        : opt == 't' ? "train-workers"
                                     : "infer-workers",
                        optarg);
                return 2;
            }
        }
        switch (opt) {
        case 's': snprintf(self->store, sizeof self->store, "%s", optarg); break;
        case 'S': self->source = optarg; break;
        case 'T': self->target = optarg; break;
        case 'Y': {
            int task;
            if (task_parse(optarg, &task) != 0) {
                fprintf(stderr, "mlops up: --task '%s' is not auto, binary, multiclass or "
                        "regression\n", optarg);
                return 2;
            }
            self->task = optarg;
            break;
        }
        case 'D': self->drift[0] = optarg; break;
        case 'R': self->drift[1] = optarg; break;
        case 'C': self->drift[2] = optarg; break;
        case 'P': {
            rollout_via_t via;
            mlops_err_t err;
            if (rollout_via_parse(optarg, &via, &err) != 0) {
                fprintf(stderr, "mlops up: %s\n", err.msg);
                return 2;
            }
            self->promote_via = optarg;
            break;
        }
        case 'F': {
            size_t bytes;   //  the broker's own check, so a typo stops nothing running
            mlops_err_t err;
            if (flags_report("mlops up", flags_size("--feedback-max-bytes", optarg,
                                                    FEEDBACK_IO_MAX_BYTES_MIN, &bytes, &err), &err))
                return 2;
            self->feedback_max = optarg;
            break;
        }
        case 'b': snprintf(self->bin_dir, sizeof self->bin_dir, "%s", optarg); break;
        case 'p':
            if (value < 1 || value > 65535) {
                fprintf(stderr, "mlops up: --port %lld is not a TCP port (1..65535)\n", value);
                return 2;
            }
            self->port = (int)value;
            break;
        case 'm':
            if (value < 1 || value > 65535) {
                fprintf(stderr, "mlops up: --metrics-port %lld is not a TCP port (1..65535)\n", value);
                return 2;
            }
            self->metrics_port = (int)value;
            break;
        case 'B':
            if (value < 1 || value > 65531) {
                fprintf(stderr, "mlops up: --base-port %lld leaves no room for 5 ports\n", value);
                return 2;
            }
            self->base_port = (int)value;
            break;
        case 't':
        case 'i':
            if (value < 1 || value > 16) {
                fprintf(stderr, "mlops up: --%s must be 1..16, got %lld\n",
                        opt == 't' ? "train-workers" : "infer-workers", value);
                return 2;
            }
            if (opt == 't')
                self->train_workers = (int)value;
            else
                self->infer_workers = (int)value;
            break;
        case 'h': s_usage(stdout); return -1;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mlops up: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

//  Checks every port the stack binds; prints one line naming a busy one.
static int s_check_ports(const s_up_t *self)
{
    const int b = self->base_port;
    const int ports[] = {self->port, self->metrics_port, b, b + 1, b + 2, b + 3, b + 4};
    const char *what[] = {"HTTP", "broker metrics", "broker work", "broker control", "broker events",
                          "gateway backend", "broker data"};
    const char *flag[] = {"--port", "--metrics-port", "--base-port", "--base-port", "--base-port",
                          "--base-port", "--base-port"};
    //  ipc: only HTTP and the metrics port are ports; a metrics port of 0
    //  is picked free after this check
    size_t n = b ? sizeof ports / sizeof ports[0] : 2;
    for (size_t i = 0; i < n; i++) {
        if (ports[i] == 0)
            continue;
        int rc = s_port_free(ports[i]);
        if (rc == EADDRINUSE) {
            fprintf(stderr,
                    "mlops up: port %d (%s) is already in use: stop what holds it "
                    "(another mlops up? `ss -ltnp | grep %d` shows it) or pick another with %s\n",
                    ports[i], what[i], ports[i], flag[i]);
            return 1;
        }
        if (rc) {
            fprintf(stderr, "mlops up: cannot bind port %d (%s): %s\n", ports[i], what[i],
                    strerror(rc));
            return 1;
        }
    }
    return 0;
}

static void s_loop(s_up_t *self)
{
    struct pollfd fds[UP_CHILDREN_MAX + 1];
    s_child_t *owner[UP_CHILDREN_MAX + 1];
    while (!self->stopping) {
        size_t n = 0;
        fds[n] = (struct pollfd){.fd = s_signal_pipe[0], .events = POLLIN};
        owner[n++] = NULL;
        for (size_t i = 0; i < self->n_children; i++)
            if (self->children[i].out_fd >= 0) {
                fds[n] = (struct pollfd){.fd = self->children[i].out_fd, .events = POLLIN};
                owner[n++] = &self->children[i];
            }
        if (poll(fds, n, 100) < 0 && errno != EINTR)
            break;
        for (size_t i = 1; i < n; i++)
            if (fds[i].revents)
                s_child_read(owner[i]);
        if (fds[0].revents & POLLIN) {
            unsigned char sig[16];
            ssize_t got = read(s_signal_pipe[0], sig, sizeof sig);
            for (ssize_t k = 0; k < got; k++)
                if (sig[k] == SIGINT || sig[k] == SIGTERM) {
                    printf("\nmlops up: stopping (signal %d)\n", sig[k]);
                    fflush(stdout);
                    self->stopping = true;
                }
        }
        if (self->stopping)
            break;
        s_reap(self);
        s_restart_due(self);
        if (!self->announced && clock_mono_ms() >= self->next_health_ms) {
            self->next_health_ms = clock_mono_ms() + UP_HEALTH_IVL_MSEC;
            if (s_health_ok(self->port)) {
                self->announced = true;
                s_announce(self);
            }
        }
    }
}

int cli_up(int argc, char **argv)
{
    s_up_t *self = calloc(1, sizeof *self);
    if (!self)
        return 1;
    int rc = s_parse(self, argc, argv);
    if (rc) {
        free(self);
        return rc < 0 ? 0 : rc;
    }
    char data_file[PATH_MAX + 16];
    snprintf(data_file, sizeof data_file, "%s/data.mdb", self->store);
    struct stat st;
    self->store_was_new = stat(data_file, &st) != 0;
    if (s_check_ports(self) != 0 || s_prepare_dirs(self) != 0 ||
        (!self->metrics_port && s_free_loopback_port(&self->metrics_port))) {
        free(self);
        return 1;
    }
    if (pipe2(s_signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        perror("mlops up: pipe");
        free(self);
        return 1;
    }
    struct sigaction sa = {.sa_handler = s_signal_fn};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    s_plan(self);
    printf("mlops up: store %s, HTTP port %d, %d train and %d inference workers, binaries in %s\n",
           self->store, self->port, self->train_workers, self->infer_workers, self->bin_dir);
    for (size_t i = 0; i < self->n_children; i++) {
        rc = s_child_start(&self->children[i]);
        if (rc)
            printf("mlops up: cannot start %s: %s\n", self->children[i].name, strerror(rc));
        else if (i == 0)
            usleep(200000); //  let the broker bind before workers connect (they retry anyway)
    }
    if (self->store_was_new) {
        printf("mlops up: new store: triggering the first retrain on %s\n", self->source);
        s_child_t *retrain = s_child_add(self, "retrain", "mlops", "retrain", "--source",
                                         self->source, "--reason", "first start of mlops up",
                                         "--control", self->control, "--events", self->events,
                                         "--timeout", "30s", "--wait", NULL);
        if (retrain) {
            retrain->oneshot = true;
            s_child_start(retrain);
        }
    } else {
        printf("mlops up: existing store: serving its production model "
               "(`mlops retrain` starts a new run)\n");
    }
    fflush(stdout);
    s_loop(self);
    s_stop_all(self);
    s_up_free(self);
    free(self);
    return 0;
}
