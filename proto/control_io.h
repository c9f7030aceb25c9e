/*  control_io.h: the `data` of the REPLY to each control command (see
    proto/PROTOCOL.md, section 5.2), as typed structs with msgpack codecs.
    The broker encodes them; the CLI and other C clients decode them.

    Ownership: encoders write a malloc'd buffer the caller frees. Decoded
    structs own their arrays (workers, runs, versions): free them with the
    matching *_clear. GET_MODEL's artifact is BORROWED from the decoded buffer.
    Decoders are strict like every decoder in proto/ and return 0 or
    MLOPS_EPROTO / MLOPS_ETOOBIG / MLOPS_ENOMEM with err.
*/
#ifndef MLOPS_CONTROL_IO_H
#define MLOPS_CONTROL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "msg.h"
#include "records.h"

#define CONTROL_WORKERS_MAX 4096   //  worker entries in one STATUS
#define CONTROL_LIST_MAX 100000    //  runs or versions in one reply

typedef struct {
    int64_t run_id;                //  the run this trigger started or joined
    bool coalesced;                //  joined a queued run
    char state[RECORD_NAME_MAX];   //  run state name
} control_retrain_t;

typedef struct {
    char stage[RECORD_NAME_MAX];   //  the stage it serves
    char host[64];                 //  as announced
    int64_t pid;                   //  as announced
    char state[RECORD_NAME_MAX];   //  idle | busy
    char task_id[48];              //  "" when idle
    int64_t last_seen_ms;          //  wall clock of its last message
    char name[64];                 //  its instance name (MLOPS/2; an older broker's
                                   //  answer decodes as "": show host:pid)
    char progress[96];             //  its task's progress and estimate, "" = none
                                   //  (omitted then; the broker's progress_table_text)
} control_worker_t;

typedef struct {
    char host[64];                 //  as reported in SERVING
    int64_t pid;                   //  as reported
    int64_t model_version;         //  version it serves, 0 = none
    int64_t last_seen_ms;          //  wall clock of its last SERVING
    char name[64];                 //  as control_worker_t.name
} control_infer_t;                 //  one live inference worker in STATUS

typedef struct {
    int64_t active_run;            //  0 = none
    int64_t queued;                //  queued run id, 0 = none
    int64_t next_schedule_ms;      //  0 = no schedule
    int64_t production_version;    //  0 = none
    control_worker_t *workers;     //  owned when decoded
    size_t n_workers;
    char waiting[RECORD_TEXT_MAX]; //  why the active run cannot go on, "" = it can
    control_infer_t *serving;      //  live inference workers, owned when decoded; a
    size_t n_serving;              //  STATUS without the key (older broker) decodes as none
} control_status_t;

typedef struct {
    run_t *runs;                   //  owned (and each run's tasks)
    size_t n_runs;
} control_runs_t;

typedef struct {
    int64_t production;            //  0 = none
    version_t *versions;           //  owned
    size_t n_versions;
} control_models_t;

typedef struct {
    audit_t *audit;                //  owned, oldest first (by seq)
    size_t n_audit;
} control_audit_t;                 //  AUDIT (MLOPS/2)

typedef struct {
    int64_t version;               //  now in production; for a started rollout its candidate
    int64_t previous;              //  before, 0 = none; for a started rollout production (unchanged)
    char rollout[RECORD_NAME_MAX]; //  "shadow" or "canary" when PROMOTE started a rollout or
                                   //  ROLLBACK ended one (version production, previous the
                                   //  candidate), else "" (omitted then: the bytes as before)
} control_promote_t;               //  PROMOTE and ROLLBACK

typedef struct {
    int64_t version;
    char sha256[HASH_HEX_LEN + 1];
    char family[RECORD_NAME_MAX];
    const uint8_t *artifact;       //  borrowed from the decoded buffer
    size_t artifact_len;
} control_model_t;                 //  GET_MODEL

typedef struct {
    int64_t version;
    char sha256[HASH_HEX_LEN + 1]; //  the registry's: the blob's name in the data service
    char family[RECORD_NAME_MAX];
    int64_t size;                  //  bytes of the artifact
} control_model_ref_t;             //  GET_MODEL with by_hash, when the data service has it

typedef struct {
    int64_t production_version;    //  0 = none
} control_serving_t;               //  SERVING

#define CONTROL_LOGS_MAX 1024      //  attempts' logs in one LOGS answer

typedef struct {
    char task_id[48];              //  the task
    int64_t attempt;               //  1 for the first dispatch, ...
    char worker[64];               //  name of the worker that ran it
    int64_t bytes_dropped;         //  older lines dropped to keep the last PROTO_LOG_MAX_BYTES
    char text[PROTO_LOG_MAX_BYTES + 1]; //  the lines, each ending in '\n', UTF-8 with no
                                   //  other control byte (proto_log_sanitize)
} control_log_t;                   //  one attempt's log

typedef struct {
    control_log_t *logs;           //  by task order, then attempt; owned when decoded
    size_t n_logs;
} control_logs_t;                  //  LOGS

int control_retrain_encode(const control_retrain_t *p, uint8_t **out, size_t *out_len);
int control_retrain_decode(const uint8_t *data, size_t len, control_retrain_t *p, mlops_err_t *err);
int control_status_encode(const control_status_t *p, uint8_t **out, size_t *out_len);
int control_status_decode(const uint8_t *data, size_t len, control_status_t *p, mlops_err_t *err);
void control_status_clear(control_status_t *p);
int control_runs_encode(const control_runs_t *p, uint8_t **out, size_t *out_len);
int control_runs_decode(const uint8_t *data, size_t len, control_runs_t *p, mlops_err_t *err);
void control_runs_clear(control_runs_t *p);
int control_models_encode(const control_models_t *p, uint8_t **out, size_t *out_len);
int control_models_decode(const uint8_t *data, size_t len, control_models_t *p, mlops_err_t *err);
void control_models_clear(control_models_t *p);
int control_audit_encode(const control_audit_t *p, uint8_t **out, size_t *out_len);
int control_audit_decode(const uint8_t *data, size_t len, control_audit_t *p, mlops_err_t *err);
void control_audit_clear(control_audit_t *p);
int control_promote_encode(const control_promote_t *p, uint8_t **out, size_t *out_len);
int control_promote_decode(const uint8_t *data, size_t len, control_promote_t *p, mlops_err_t *err);
int control_model_encode(const control_model_t *p, uint8_t **out, size_t *out_len);
int control_model_decode(const uint8_t *data, size_t len, control_model_t *p, mlops_err_t *err);
//  A GET_MODEL answer by_hash is one of the two: a client tries this first
//  (its keys differ from control_model_t's, so neither decodes the other).
int control_model_ref_encode(const control_model_ref_t *p, uint8_t **out, size_t *out_len);
int control_model_ref_decode(const uint8_t *data, size_t len, control_model_ref_t *p, mlops_err_t *err);
int control_serving_encode(const control_serving_t *p, uint8_t **out, size_t *out_len);
int control_serving_decode(const uint8_t *data, size_t len, control_serving_t *p, mlops_err_t *err);
//  One attempt's log alone: what the broker keeps in its store per attempt
//  (the bytes of one entry of LOGS' list).
int control_log_encode(const control_log_t *p, uint8_t **out, size_t *out_len);
int control_log_decode(const uint8_t *data, size_t len, control_log_t *p, mlops_err_t *err);
int control_logs_encode(const control_logs_t *p, uint8_t **out, size_t *out_len);
int control_logs_decode(const uint8_t *data, size_t len, control_logs_t *p, mlops_err_t *err);
void control_logs_clear(control_logs_t *p);

#endif
