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

#endif
