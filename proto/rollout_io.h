/*  rollout_io.h: the bodies of a canary or shadow rollout on the control
    socket (PROTOCOL.md, "CANARY"): the counters a gateway reports in a
    CANARY request (its `report` key) and the state the broker answers in
    the REPLY's data, as typed structs with their codecs; and the grammar
    of a canary's share and of --promote-via, which the CLI parses too.

        report: {"version": int, "prod": SIDE, "cand": SIDE,
                 "compared": int, "agreed": int, "skipped": int}
        SIDE:   {"requests": int, "errors": int, "p99_ms": f64,
                 "labelled": int, "metric": f64 (absent: 0, read only
                 when labelled > 0)}
        state:  {"rollout": "none"|"shadow"|"canary", "version", "production",
                 "percent": f64, "started_ms", "ends_ms", "requests_target",
                 "cand_requests", "cand_errors", "prod_requests",
                 "prod_errors", "cand_p99_ms": f64, "prod_p99_ms": f64,
                 "compared", "agreed", "last": str}

    Keys in that order (fields.h's canonical encoding); ints are >= 0.
    Decoders are strict like every decoder in proto/ and return 0 or
    MLOPS_EPROTO / MLOPS_ETOOBIG / MLOPS_ENOMEM with err naming the key.
    The structs own nothing.
*/
#ifndef MLOPS_ROLLOUT_IO_H
#define MLOPS_ROLLOUT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "records.h"

typedef enum {
    ROLLOUT_NONE = 0,
    ROLLOUT_SHADOW,
    ROLLOUT_CANARY,
} rollout_kind_t;

//  One side's counters (production or candidate) during a rollout,
//  cumulative since the gateway began it.
typedef struct {
    int64_t requests;   //  answers given
    int64_t errors;     //  of them failed (5xx, timeouts)
    double p99_ms;      //  99th percentile latency
    int64_t labelled;   //  answers with feedback
    double metric;      //  binary / multiclass accuracy, regression MAE; meaningless when labelled == 0
} rollout_side_t;

typedef struct {
    int64_t version;    //  the candidate these counters are for
    rollout_side_t prod;
    rollout_side_t cand;
    int64_t compared;   //  shadow: answers compared with production's
    int64_t agreed;     //  shadow: of them the same
    int64_t skipped;    //  shadow: copies not sent (no spare credit)
} rollout_report_t;     //  a CANARY request's `report`

typedef struct {
    rollout_kind_t rollout;         //  none, shadow or canary
    int64_t version;                //  the candidate, 0 with none
    int64_t production;             //  production's version now, 0 = none
    double percent;                 //  canary share, 0 for shadow / none
    int64_t started_ms;             //  wall clock the rollout started
    int64_t ends_ms;                //  wall clock it ends, 0 = by requests / not timed
    int64_t requests_target;        //  candidate requests that end it, 0 = by time
    int64_t cand_requests;          //  summed over gateways' latest reports
    int64_t cand_errors;
    int64_t prod_requests;
    int64_t prod_errors;
    double cand_p99_ms;             //  max over gateways' reports
    double prod_p99_ms;
    int64_t compared;               //  summed
    int64_t agreed;
    char last[RECORD_TEXT_MAX];     //  how the previous rollout ended, "" = none yet
} rollout_state_t;                  //  a CANARY REPLY's data

//  "none", "shadow", "canary"; NULL for anything else.
const char *rollout_kind_name(rollout_kind_t kind);

//  Parses a canary's share as a person writes it ("10%", "2.5", "100%")
//  into *percent: a decimal number in (0, 100], the % sign optional.
//  Returns 0, or MLOPS_EINVAL with err quoting the text (not a number,
//  NaN, out of range).
int rollout_percent_parse(const char *text, double *percent, mlops_err_t *err);

//  mlops-broker --promote-via: how a run's version that beats production
//  goes there. Here, not in the broker, so that `mlops up` refuses a bad
//  one before it starts a broker that would.
typedef struct {
    double percent;           //  0 = direct (promoted at once), else a canary at this share ...
    int64_t for_ms;           //  ... ending this long after it started
} rollout_via_t;

//  Parses "direct" or "canary:P%:DURATION" (P in (0, 100], the % optional;
//  DURATION as duration_parse, > 0) into *out. Returns 0 or MLOPS_EINVAL
//  with err saying what is expected.
int rollout_via_parse(const char *text, rollout_via_t *out, mlops_err_t *err);

int rollout_report_encode(const rollout_report_t *p, uint8_t **out, size_t *out_len);
int rollout_report_decode(const uint8_t *data, size_t len, rollout_report_t *p, mlops_err_t *err);
int rollout_state_encode(const rollout_state_t *p, uint8_t **out, size_t *out_len);
int rollout_state_decode(const uint8_t *data, size_t len, rollout_state_t *p, mlops_err_t *err);

#endif
