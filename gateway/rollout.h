/*  rollout.h: the gateway's side of a shadow or canary rollout
    (proto/PROTOCOL.md, CANARY), without sockets, so every rule is tested
    alone (tests/test_rollout_gw.c).

    The broker holds the truth about a rollout; the gateway polls it once a
    second (rollout_link.c) and applies its word here: none, a shadow of
    version V, or a canary of V at P % of requests. From that this class
    decides where each request that the client did not pin goes, keeps the
    shadow copies in flight and compares their answers with production's,
    and counts each side (requests, errors, a latency histogram for p99),
    which the next poll reports.

    Routing a canary: a request goes to the candidate when
    hash(version, key) mod 10000 < P x 100, key being the client's
    X-Client-Key header when it sent one (sticky per client for the whole
    rollout) or else the request id. The version is in the hash so that
    one canary's guinea pigs are not every canary's.

    A shadow copy is the production PREDICT pinned to the candidate, sent
    after production's and only to a worker with spare credit (the caller
    checks; else it is counted skipped). Its wire id is outside the request
    table's range (rollout_shadow_is): the backend hands its answer here,
    never to a client. A copy and its production answer meet in a slot of
    a fixed table; the first to come is kept (its per-record predictions),
    the second is compared with it and the slot freed.

    What is counted: a side's request is answered when its client got an
    answer (production, canary) or its copy came back (shadow); an error is
    an answer of status >= 500, or 404 on the candidate's side (its version
    did not load); latency runs from the production request's first byte,
    for the copy too, so both sides measure the same span. Statuses 4xx
    other than that are the client's mistakes and count as answered.

    Warming up: a worker loads a version the first time a PREDICT pinned
    to it comes (PROTOCOL.md, PREDICT), and that request waits, which would
    put the load in the candidate's p99. So when a rollout begins, the
    first production request after it is also copied, pinned, to every
    worker that pins (uncounted, not compared), and the canary sends
    nothing to the candidate until those copies are back (answered, failed
    or expired). A worker that joins later loads on its first candidate
    request, which then counts.

    The histogram has fixed log-spaced buckets (10% wide, 50 us to about
    10 minutes): counting allocates nothing and p99 is the upper edge of
    the bucket the 99th percentile falls in (at most 10% high).

    Caveats: counters are cumulative since this gateway began the rollout
    (its (rollout, version, started_ms) changed) and are reset then; labelled
    rows and the live metric are the feedback log's for the version since
    that moment (a label arriving then for an older prediction counts).
*/
#ifndef MLOPS_ROLLOUT_H
#define MLOPS_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedback.h"
#include "rollout_io.h"

#define ROLLOUT_GATEWAY_ID_MAX 64          //  bytes of the gateway's instance id
#define ROLLOUT_LATENCY_BUCKETS 160        //  histogram buckets (10% wide from 50 us)
#define ROLLOUT_SHADOWS_MAX 256            //  shadow copies in flight at once
#define ROLLOUT_SHADOW_ID_BASE 0xffffff00u //  low 32 bits of a copy's wire id: BASE + slot
#define ROLLOUT_BUCKETS 10000              //  the canary's hash buckets (0.01 % each)

//  Where a request goes (rollout_kind_t, rollout_state_t, rollout_side_t
//  and rollout_report_t are the wire's: proto/rollout_io.h).
typedef enum {
    ROLLOUT_TO_NONE = 0,    //  not counted (pinned by its client, or no rollout)
    ROLLOUT_TO_PROD,        //  production's answers
    ROLLOUT_TO_CAND,        //  the candidate's (canary answers, shadow copies)
} rollout_target_t;

//  One answer's per-record predictions, as the shadow compares them: the
//  class index of each record (binary, multiclass), or its value
//  (regression: values, predictions unused).
typedef struct {
    const int64_t *predictions;      //  n class indexes, NULL for a regression
    const double *values;            //  n values, NULL for a classifier
    size_t n;                        //  records
} rollout_answer_t;

typedef struct rollout rollout_t;

//  A new rollout state (none) with a random instance id ("gw-" and 16 hex
//  digits, from seed, or getrandom when seed is 0). NULL when out of memory.
rollout_t *rollout_new(uint64_t seed);

//  Frees it and any copy's kept answer; ignores NULL; sets *p to NULL.
//  Copies in flight are forgotten (the caller gives their credit back first).
void rollout_destroy(rollout_t **p);

//  This gateway's instance id. Borrowed for the object's life.
const char *rollout_gateway_id(const rollout_t *self);

//  Applies the broker's word (CANARY's REPLY; only rollout, version,
//  production, percent and started_ms matter here). When (rollout, version,
//  started_ms) changed the counters restart and the feedback baselines are
//  taken from fb (may be NULL: no labels). Returns true when it changed.
//  A state the gateway cannot route (an unknown rollout, a version <= 0, a
//  canary percent outside (0, 100]) is taken as none.
bool rollout_apply(rollout_t *self, const rollout_state_t *state, const feedback_t *fb);

//  The state applied last. Borrowed until the next rollout_apply.
const rollout_state_t *rollout_state(const rollout_t *self);

//  Which of ROLLOUT_BUCKETS buckets key falls in for version (the canary
//  sends buckets below percent x 100 to the candidate).
uint32_t rollout_bucket(int64_t version, const char *key, size_t len);

//  Where a request its client did not pin goes: ROLLOUT_TO_CAND for a canary
//  whose hash picked key, else ROLLOUT_TO_PROD (ROLLOUT_TO_NONE with no
//  rollout). key is X-Client-Key when sent, else the request id.
rollout_target_t rollout_route(const rollout_t *self, const char *key, size_t len);

//  Counts an answer on side (ROLLOUT_TO_NONE: nothing) of status, which
//  took latency_us. Allocates nothing.
void rollout_count(rollout_t *self, rollout_target_t side, int status, int64_t latency_us);

//  A shadow copy was not sent (no worker with spare credit).
void rollout_skip(rollout_t *self);

//  The report for the current rollout, with labelled rows and metrics from
//  fb (may be NULL). A report of version 0 when there is none; p99_ms 0
//  without requests, metric 0 without labels.
rollout_report_t rollout_report(rollout_t *self, const feedback_t *fb);

/* --- shadow copies --------------------------------------------------------- */

//  True when a wire id names a shadow copy (not a request of the table).
bool rollout_shadow_is(uint64_t wire_id);

//  Opens a slot for a copy of a production request (started at
//  started_us, monotonic) about to go to worker, which must be answered by
//  deadline_ms. Returns the copy's wire id, or 0 when every slot is taken
//  (then counted skipped).
uint64_t rollout_shadow_open(rollout_t *self, int worker, int64_t started_us, int64_t deadline_ms);

//  The worker holding the copy wire_id, or -1 when no slot holds it
//  (settled, expired or from before: a late answer).
int rollout_shadow_worker(const rollout_t *self, uint64_t wire_id);

//  The copy wire_id was answered at now_us with status (200: answer holds
//  its predictions; else answer is ignored): counted on the candidate's
//  side and compared with production's answer when that came first.
//  Nothing happens for an unknown id.
void rollout_shadow_answered(rollout_t *self, uint64_t wire_id, int status,
                             const rollout_answer_t *answer, int64_t now_us);

//  Production answered the request whose copy is wire_id (ok false: it
//  failed, so nothing is compared). Nothing happens for an unknown id.
void rollout_shadow_production(rollout_t *self, uint64_t wire_id, bool ok,
                               const rollout_answer_t *answer);

//  True while a new rollout's warm-up copies are not all back (the
//  canary routes nothing to the candidate meanwhile).
bool rollout_warming(const rollout_t *self);

//  Opens a slot for a warm-up copy to worker (answered by deadline_ms):
//  its wire id; 0 when not warming, when the warm-ups went out already,
//  or every slot is taken. Its answer is neither counted nor compared.
uint64_t rollout_warm_open(rollout_t *self, int worker, int64_t deadline_ms);

//  The warm-up copies went out (none, maybe): warming ends once all are back.
void rollout_warm_sent(rollout_t *self);

//  The copy wire_id could not be sent: its slot is freed, counted skipped.
void rollout_shadow_cancel(rollout_t *self, uint64_t wire_id);

//  The worker of slot is gone: its copies are forgotten (not counted: the
//  candidate did nothing wrong). Returns how many.
size_t rollout_shadow_lost(rollout_t *self, int worker);

//  The next copy whose deadline passed at now_ms (counted a candidate
//  error unless a warm-up), its slot freed and its worker in *worker (to
//  give its credit back) when it still held it, else -1; 0 when none.
uint64_t rollout_shadow_expire(rollout_t *self, int64_t now_ms, int *worker);

//  Copies in flight now.
size_t rollout_shadows(const rollout_t *self);

/* --- /metrics ---------------------------------------------------------------- */

//  The Prometheus lines (mlops_rollout_*): malloc'd, NUL-terminated,
//  length in *len; NULL when out of memory. fb as for rollout_report.
char *rollout_metrics(rollout_t *self, const feedback_t *fb, size_t *len);

#endif
