/*  cli.h: the subcommands of the `mlops` command line. Each takes the
    arguments after its name (argv[0] is the subcommand) and returns the
    process exit code: 0 success, 1 the operation failed, 2 bad usage. */
#ifndef MLOPS_CLI_H
#define MLOPS_CLI_H

int cli_up(int argc, char **argv);        //  start a whole local stack
int cli_retrain(int argc, char **argv);   //  trigger a run, optionally follow it
int cli_status(int argc, char **argv);    //  broker, runs in flight, live workers
int cli_runs(int argc, char **argv);      //  recent runs
int cli_models(int argc, char **argv);    //  registry versions
int cli_audit(int argc, char **argv);     //  the registry's audit log
int cli_logs(int argc, char **argv);      //  a run's task logs
int cli_drift(int argc, char **argv);     //  drift windows per version
int cli_feedback(int argc, char **argv);  //  the feedback set's counts
int cli_promote(int argc, char **argv);   //  put a version in production
int cli_rollback(int argc, char **argv);  //  restore the previous production version
int cli_train(int argc, char **argv);     //  the ML stages in one process, no broker
int cli_keygen(int argc, char **argv);    //  CURVE key pairs
int cli_canary(int argc, char **argv);    //  the canary or shadow rollout's state

#include <stdbool.h>

#include "msg.h"

//  The rollout flags of `mlops promote` as typed (NULL = not given).
typedef struct {
    bool shadow;                  //  --shadow
    const char *canary;           //  --canary P%
    const char *for_;             //  --for DURATION
    const char *requests;         //  --requests N
} cli_rollout_flags_t;

//  Checks f and sets req's (a PROMOTE) rollout keys from it: --shadow or
//  --canary, not both; --for or --requests, only with --canary, not both;
//  a percentage in (0, 100]. Returns 0, or 2 (bad usage) with the reason
//  printed. (rollout.c)
int cli_rollout_flags(const cli_rollout_flags_t *f, proto_msg_t *req);

#endif
