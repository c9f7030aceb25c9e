/*  stage_main.c: `mlops-worker --stage extract|preprocess|train|evaluate|load_model`:
    flags, then an agent (agent.h) running the stage's handler (stages.h)
    with a data client (the broker's data service) and a blob cache. */
#include <czmq.h>

#include "stages.h"
#include "worker.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "endpoint.h"
#include "flags.h"
#include "heartbeat.h"
#include "log.h"

agent_handler_fn *stage_handler(stage_t stage)
{
    switch (stage) {
    case STAGE_EXTRACT: return stage_extract_run;
    case STAGE_PREPROCESS: return stage_preprocess_run;
    case STAGE_TRAIN: return stage_train_run;
    case STAGE_EVALUATE: return stage_evaluate_run;
    case STAGE_LOAD_MODEL: return stage_load_model_run;
    default: return NULL;
    }
}

static void s_usage(FILE *out)
{
    char heartbeat[32];
    fprintf(out,
            "usage: mlops-worker --stage extract|preprocess|train|evaluate|load_model [options]\n"
            "       mlops-worker --stage infer ...   (see mlops-worker --stage infer --help)\n\n"
            "Connects to the broker, takes one task at a time, heartbeats while it computes and\n"
            "reconnects by itself when the broker goes away.\n\n"
            "  --broker HOST|ENDPOINT  broker's work socket (default tcp://127.0.0.1:5555;\n"
            "                          HOST means tcp://HOST:5555)\n"
            "  --data ENDPOINT         broker's data service (default: the work endpoint's\n"
            "                          port plus 4, e.g. tcp://127.0.0.1:5559; WORK-data for ipc)\n"
            "  --cache-dir DIR         blobs fetched are kept here (default\n"
            "                          $XDG_CACHE_HOME/mlops-blobs, else $TMPDIR/mlops-blobs-UID)\n"
            "  --cache-size SIZE       the cache's bound, least recently used go first\n"
            "                          (default 2G; K, M, G, T; 0 = no cache)\n"
            "  --heartbeat DURATION    heartbeat interval, 10ms..10m (default %s)\n"
            "  --liveness N            silent intervals before the broker is dead, 1..%d\n"
            "                          (default %d)\n"
            "  --data-root DIR         extract: read CSV files only under DIR (repeatable;\n"
            "                          default none: only synthetic and stored datasets)\n"
            "  --max-source-bytes SIZE extract: refuse larger files (default 1G; K, M, G)\n"
            "  --name NAME             this worker's instance name, unique among live workers:\n"
            "                          letters, digits, . _ - : @, at most %d bytes (default:\n"
            "                          the host name and six random hex digits, vm-3fa9c2)\n"
            "  --help                  this text\n\n"
            DURATION_HELP,
            duration_format(HEARTBEAT_IVL_MSEC, heartbeat, sizeof heartbeat), HEARTBEAT_LIVENESS_MAX,
            HEARTBEAT_LIVENESS, PROTO_NAME_MAX);
}

//  --heartbeat and --liveness; 0 or -1 with a message.
static int s_value(agent_config_t *cfg, int c, const char *text)
{
    mlops_err_t err;
    long long v = 0;
    int rc;
    if (c == 'H')
        rc = flags_duration("--heartbeat", text, DURATION_INTERVAL_MIN_MSEC,
                            DURATION_INTERVAL_MAX_MSEC, &cfg->heartbeat_msec, &err);
    else if ((rc = flags_int("--liveness", text, 1, HEARTBEAT_LIVENESS_MAX, &v, &err)) == 0)
        cfg->liveness = (int)v;
    return flags_report("mlops-worker", rc, &err);
}

//  What the flags give besides the agent's config.
typedef struct {
    const char *stage, *broker, *data, *cache_dir;
    size_t cache_bytes;           //  0 = no cache
    const char *roots[STAGE_EXTRACT_ROOTS_MAX + 1]; //  --data-root, one more to say "too many"
    size_t n_roots;
    size_t max_source;            //  --max-source-bytes, 0 = the default
} s_opts_t;

//  The default cache directory: $XDG_CACHE_HOME/mlops-blobs, else one per
//  user under $TMPDIR (or /tmp), so workers of one user on a host share it.
static void s_cache_default(char *out, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *tmp = getenv("TMPDIR");
    if (xdg && *xdg)
        snprintf(out, size, "%s/mlops-blobs", xdg);
    else
        snprintf(out, size, "%s/mlops-blobs-%d", tmp && *tmp ? tmp : "/tmp", (int)getuid());
}

//  Parses argv into opts and cfg; 0, 1 (--help done) or 2 (bad flags, said).
static int s_parse(int argc, char **argv, s_opts_t *o, agent_config_t *cfg)
{
    static const struct option opts[] = {
        {"stage", 1, 0, 's'}, {"broker", 1, 0, 'b'}, {"heartbeat", 1, 0, 'H'},
        {"liveness", 1, 0, 'L'}, {"data", 1, 0, 'd'}, {"cache-dir", 1, 0, 'C'},
        {"cache-size", 1, 0, 'Z'}, {"help", 0, 0, 'h'}, {"data-root", 1, 0, 'R'},
        {"max-source-bytes", 1, 0, 'm'}, {"name", 1, 0, 'n'}, {0, 0, 0, 0},
    };
    mlops_err_t err;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->stage = optarg; break;
        case 'b': o->broker = optarg; break;
        case 'd': o->data = optarg; break;
        case 'C': o->cache_dir = optarg; break;
        case 'Z':
            if (flags_report("mlops-worker", flags_size("--cache-size", optarg, 0, &o->cache_bytes, &err), &err))
                return 2;
            break;
        case 'H':
        case 'L':
            if (s_value(cfg, c, optarg))
                return 2;
            break;
        case 'n':
            if (proto_name_check(optarg, &err)) {
                fprintf(stderr, "mlops-worker: --name '%s': %s\n", optarg, err.msg);
                return 2;
            }
            cfg->name = optarg;
            break;
        case 'R':
            if (o->n_roots <= STAGE_EXTRACT_ROOTS_MAX)
                o->roots[o->n_roots++] = optarg;
            break;
        case 'm':
            if (flags_report("mlops-worker", flags_size("--max-source-bytes", optarg, 1, &o->max_source, &err), &err))
                return 2;
            break;
        case 'h': s_usage(stdout); return 1;
        default: s_usage(stderr); return 2;
        }
    }
    if (!o->stage || stage_from_name(o->stage) < 0) {
        fprintf(stderr, "mlops-worker: %s\n", !o->stage ? "--stage is required"
                                              : "unknown --stage (extract, preprocess, train, evaluate, load_model, infer)");
        s_usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "mlops-worker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (stage_extract_configure(o->roots, o->n_roots, o->max_source, &err) != 0) {
        fprintf(stderr, "mlops-worker: %s\n", err.msg);
        return 2;
    }
    return 0;
}

//  The work and data endpoints from --broker and --data; 0 or 2 (said).
static int s_endpoints(const s_opts_t *o, char work[ENDPOINT_MAX], char data[ENDPOINT_MAX])
{
    mlops_err_t err;
    if (endpoint_resolve(o->broker, ENDPOINT_WORK_PORT, 0, work, ENDPOINT_MAX, &err)) {
        fprintf(stderr, "mlops-worker: --broker: %s\n", err.msg);
        return 2;
    }
    if (o->data ? snprintf(data, ENDPOINT_MAX, "%s", o->data) >= ENDPOINT_MAX
                : endpoint_data(work, data, ENDPOINT_MAX, &err) != 0) {
        fprintf(stderr, "mlops-worker: --data: %s\n", o->data ? "too long" : err.msg);
        return 2;
    }
    if (strstr(data, ":*")) {
        fprintf(stderr, "mlops-worker: --data: the broker picks that port: give it (see its "
                        "'listening' line)\n");
        return 2;
    }
    return 0;
}

//  The data client and the cache; 0 or 1 (logged).
static int s_data_open(const s_opts_t *o, const char *endpoint, stage_data_t *d)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    char dir[PATH_MAX];
    if (o->cache_dir)
        snprintf(dir, sizeof dir, "%s", o->cache_dir);
    else
        s_cache_default(dir, sizeof dir);
    d->client = data_client_new(endpoint, &err);
    if (d->client && o->cache_bytes)
        d->cache = blob_cache_new(dir, o->cache_bytes, &err);
    if (!d->client || (o->cache_bytes && !d->cache)) {
        log_error("cannot start: %s", mlops_err_text(&err, err.code));
        return 1;
    }
    log_info("data=%s cache=%s cache_bytes=%zu", endpoint, o->cache_bytes ? dir : "none",
             o->cache_bytes);
    return 0;
}

//  A stop (SIGTERM, SIGINT) while a task computes: waiting for it could
//  take an hour and outlast any grace period, so the process ends at once
//  and the attempt is abandoned; the broker has had our DISCONNECT and
//  sends the task again. Nothing is left half-visible: an upload cut short
//  is discarded by the data service, a cache file cut short fails its hash.
static void s_abandon_if_busy(const agent_t *agent, int rc)
{
    const char *task = agent ? agent_task_in_progress(agent) : NULL;
    if (!task)
        return;
    log_warning("stopped with task %s in progress: abandoned (the broker sends it again)", task);
    fflush(NULL);
    _exit(rc ? 1 : 0);
}

int worker_stage_main(int argc, char **argv)
{
    s_opts_t o = {.broker = "127.0.0.1", .cache_bytes = BLOB_CACHE_BYTES_DEFAULT};
    agent_config_t cfg = {0};
    char endpoint[ENDPOINT_MAX], data[ENDPOINT_MAX];
    int rc = s_parse(argc, argv, &o, &cfg);
    if (rc == 0)
        rc = s_endpoints(&o, endpoint, data);
    if (rc)
        return rc == 1 ? 0 : rc;
    char identity[64];
    snprintf(identity, sizeof identity, "worker[%s]", o.stage);
    log_init(identity);
    stage_data_t d = {0};
    agent_t *agent = NULL;
    mlops_err_t err;
    mlops_err_clear(&err);
    cfg.endpoint = endpoint;
    cfg.stage = o.stage;
    cfg.handler = stage_handler((stage_t)stage_from_name(o.stage));
    cfg.handler_arg = &d;
    rc = s_data_open(&o, data, &d);
    if (rc == 0 && !(agent = agent_new(&cfg, &err))) {
        log_error("cannot start: %s", mlops_err_text(&err, err.code));
        rc = 1;
    }
    if (rc == 0)
        rc = agent_run(agent);
    s_abandon_if_busy(agent, rc);
    agent_destroy(&agent);   //  no task in progress: nothing uses d any more
    blob_cache_destroy(&d.cache);
    data_client_destroy(&d.client);
    return rc ? 1 : 0;   //  refused by the broker (agent_run logged why), or could not start
}
