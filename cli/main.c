/*  main.c: `mlops`, the command line. Thin: finds the subcommand and hands
    it the rest of argv. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;                  //  as typed
    int (*run)(int argc, char **argv); //  implementation
    const char *summary;               //  one line for --help
} s_command_t;

static const s_command_t s_commands[] = {
    {"up", cli_up, "start broker, workers and gateway in the foreground"},
    {"retrain", cli_retrain, "trigger a retrain [--source SPEC] [--reason TEXT] [--wait]"},
    {"status", cli_status, "broker state, active run, live workers [--json]"},
    {"runs", cli_runs, "recent runs [--limit N] [--json]"},
    {"models", cli_models, "registered model versions [--json]"},
    {"audit", cli_audit, "the registry's audit log: promotions, rollbacks [--json]"},
    {"logs", cli_logs, "the log lines of a run's tasks: RUN [TASK] [--json]"},
    {"drift", cli_drift, "live requests against the training data, per field [--json]"},
    {"feedback", cli_feedback, "the broker's feedback set: rows, bytes, cap, rotated [--json]"},
    {"promote", cli_promote, "promote VERSION [--reason TEXT] [--schema-change] [--shadow | "
                             "--canary P% [--for DURATION | --requests N]]"},
    {"rollback", cli_rollback, "restore the previous production version, or end a canary or shadow "
                               "[--reason TEXT]"},
    {"canary", cli_canary, "the canary or shadow rollout: share, period, figures [--json]"},
    {"train", cli_train, "run the ML stages in one process: --source CSV|synthetic[:rows[:seed]]"},
    {"keygen", cli_keygen, "write a CURVE key pair"},
};

static void s_usage(FILE *out)
{
    fprintf(out, "usage: mlops COMMAND [options]   (mlops COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(out, "  %-9s %s\n", s_commands[i].name, s_commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mlops: unknown command '%s'\n", argv[1]);
    s_usage(stderr);
    return 2;
}
