/*  stage_main.c: `mlops-worker --stage extract|preprocess|train|evaluate|load_model`:
    flags, then an agent (agent.h) running the stage's handler (stages.h). */
#include <czmq.h>

#include "stages.h"
#include "worker.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "endpoint.h"
#include "flags.h"
#include "heartbeat.h"
#include "log.h"
#include "msg.h"

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

int stage_check_rows(const char *field, const size_t *rows, size_t n, size_t n_rows,
                     mlops_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= n_rows)
            return mlops_err_set(err, MLOPS_EPROTO, "%s[%zu]: row %zu is past the table's %zu rows",
                                 field, i, rows[i], n_rows);
    return 0;
}

table_t *stage_table_decode(const char *stage, const uint8_t *bytes, size_t len, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    table_t *t = table_decode(bytes, len, &sub);
    if (!t)
        mlops_err_set(err, sub.code ? sub.code : MLOPS_EPROTO, "%s: the table does not decode: %s",
                      stage, mlops_err_text(&sub, sub.code));
    return t;
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

int worker_stage_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"stage", 1, 0, 's'}, {"broker", 1, 0, 'b'}, {"heartbeat", 1, 0, 'H'},
        {"liveness", 1, 0, 'L'}, {"help", 0, 0, 'h'}, {"data-root", 1, 0, 'd'},
        {"max-source-bytes", 1, 0, 'm'}, {"name", 1, 0, 'n'}, {0, 0, 0, 0},
    };
    const char *stage = NULL, *broker = "127.0.0.1";
    const char *roots[STAGE_EXTRACT_ROOTS_MAX + 1];
    size_t n_roots = 0, max_source = 0;
    agent_config_t cfg = {0};
    mlops_err_t err;
    mlops_err_clear(&err);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': stage = optarg; break;
        case 'b': broker = optarg; break;
        case 'n':
            if (proto_name_check(optarg, &err)) {
                fprintf(stderr, "mlops-worker: --name '%s': %s\n", optarg, err.msg);
                return 2;
            }
            cfg.name = optarg;
            break;
        case 'H':
        case 'L':
            if (s_value(&cfg, c, optarg))
                return 2;
            break;
        case 'd':
            if (n_roots <= STAGE_EXTRACT_ROOTS_MAX)
                roots[n_roots++] = optarg;
            break;
        case 'm':
            if (flags_report("mlops-worker", flags_size("--max-source-bytes", optarg, 1, &max_source, &err), &err))
                return 2;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (stage_extract_configure(roots, n_roots, max_source, &err) != 0) {
        fprintf(stderr, "mlops-worker: %s\n", err.msg);
        return 2;
    }
    int s = stage ? stage_from_name(stage) : -1;
    if (s < 0) {
        fprintf(stderr, "mlops-worker: %s\n", !stage ? "--stage is required"
                                              : "unknown --stage (extract, preprocess, train, evaluate, load_model, infer)");
        s_usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "mlops-worker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char endpoint[ENDPOINT_MAX];
    if (endpoint_resolve(broker, ENDPOINT_WORK_PORT, 0, endpoint, sizeof endpoint, &err)) {
        fprintf(stderr, "mlops-worker: --broker: %s\n", err.msg);
        return 2;
    }
    char identity[64];
    snprintf(identity, sizeof identity, "worker[%s]", stage);
    log_init(identity);
    cfg.endpoint = endpoint;
    cfg.stage = stage;
    cfg.handler = stage_handler((stage_t)s);
    agent_t *agent = agent_new(&cfg, &err);
    if (!agent) {
        log_error("cannot start: %s", mlops_err_text(&err, err.code));
        return 1;
    }
    int rc = agent_run(agent);
    agent_destroy(&agent);
    return rc ? 1 : 0;   //  refused by the broker: agent_run logged why
}
