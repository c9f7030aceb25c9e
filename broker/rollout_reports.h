/*  rollout_reports.h: the broker's side of a canary or shadow rollout, the pure
    part (PROTOCOL.md, CANARY): the gateways' latest reports and their sum,
    when a canary's period is over, and the decision to promote or roll
    back. No store, no clock of its own: rollout_watch.c feeds it the
    rollout the store holds and the wall clock, so it is unit-tested apart.

    Reports: every gateway sends its counters for the current rollout once a
    second, cumulative since it began it; the broker keeps each gateway's
    latest (by its instance id) and sums them. A restarted gateway has a new
    id, so the old id's last report stays counted until the rollout ends:
    its answers were given and still count. Reports live in memory only: a
    restarted broker counts them again from the gateways' next reports
    (within a second) and decides nothing before ROLLOUT_GRACE_MSEC.

    The decision (rollout_decide), on the summed figures when the period
    ends; the margins are PROTOCOL.md's:
    - fewer than ROLLOUT_MIN_REQUESTS candidate requests: roll back ("too
      little evidence: N requests");
    - candidate error rate <= production's + ROLLOUT_ERROR_POINTS points
      (production with no requests counts as 0 %);
    - candidate p99 <= ROLLOUT_P99_FACTOR x production p99 +
      ROLLOUT_P99_SLACK_MS (not compared when production answered nothing);
    - when both sides have >= ROLLOUT_MIN_LABELLED labelled answers: the
      candidate's accuracy not below production's by more than
      ROLLOUT_METRIC_MARGIN, or (regression) its MAE not above
      ROLLOUT_MAE_FACTOR x production's.
    Promote when all hold, else roll back naming the first that failed.
*/
#ifndef MLOPS_ROLLOUT_H
#define MLOPS_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"
#include "records.h"
#include "rollout_io.h"

#define ROLLOUT_GATEWAYS_MAX 256      //  gateways' reports kept for one rollout
#define ROLLOUT_GRACE_MSEC 3000       //  after a broker start, for the gateways to report again
#define ROLLOUT_MIN_REQUESTS 20       //  candidate requests below which a canary rolls back
#define ROLLOUT_ERROR_POINTS 1.0      //  error rate margin, percentage points
#define ROLLOUT_P99_FACTOR 1.5        //  p99 margin: factor of production's ...
#define ROLLOUT_P99_SLACK_MS 5.0      //  ... plus this
#define ROLLOUT_MIN_LABELLED 30       //  labelled answers on each side to compare the metric
#define ROLLOUT_METRIC_MARGIN 0.02    //  accuracy may be this much lower
#define ROLLOUT_MAE_FACTOR 1.10       //  MAE may be 10 % higher

typedef struct rollout_reports rollout_reports_t;

//  A new, empty report table; NULL when memory is short.
rollout_reports_t *rollout_reports_new(void);

//  Frees it; ignores NULL; sets *p to NULL.
void rollout_reports_destroy(rollout_reports_t **p);

//  Checks PROMOTE's rollout keys (msg.h promote) before anything is read
//  from the store: at most one of shadow and canary_percent, a percentage
//  that is a number in (0, 100], canary_for_ms and canary_requests only
//  with canary_percent and not both. Returns 0, or MLOPS_EINVAL with err
//  naming the key.
int rollout_check_promote(const proto_msg_t *promote, mlops_err_t *err);

//  True when promote asks for a rollout (shadow or canary_percent set).
bool rollout_requested(const proto_msg_t *promote);

//  Keeps gateway's report for the rollout def (the store's). A report for
//  another version is ignored (0). The table is emptied first when def is
//  another rollout than the one it held (version, started_ms). Returns 0,
//  MLOPS_EINVAL (no gateway id) or MLOPS_ETOOBIG (ROLLOUT_GATEWAYS_MAX
//  gateways reported already) with err.
int rollout_reports_add(rollout_reports_t *self, const rollout_state_t *def, const char *gateway,
                   const rollout_report_t *report, mlops_err_t *err);

//  The sum of the reports kept for def into *sum: counts added, p99 the
//  largest, metric the mean weighted by labelled; version = def's. Zero
//  when the table holds another rollout.
void rollout_reports_sum(const rollout_reports_t *self, const rollout_state_t *def, rollout_report_t *sum);

//  Copies sum's figures into the state answered to CANARY.
void rollout_fill(rollout_state_t *state, const rollout_report_t *sum);

//  True when def is a canary whose period is over at now_ms: past ends_ms,
//  or sum's candidate requests reached requests_target.
bool rollout_due(const rollout_state_t *def, const rollout_report_t *sum, int64_t now_ms);

//  Decides a canary from its sum: true to promote. why gets the figures
//  (promote: "errors 0.1% vs 0.2%, p99 3.1 vs 2.9 ms[, accuracy 0.81 vs
//  0.80]"; roll back: the first rule that failed, "error rate 12% > 0.2% +
//  1 point"). regression: the metric is an MAE (lower is better).
bool rollout_decide(const rollout_report_t *sum, bool regression, char *why, size_t size);

//  A canary's share and span, for `last` and audit reasons: "10% for
//  60s", "2.5% for 500 requests", "10%"; "" for a shadow.
void rollout_describe(const rollout_state_t *def, char *out, size_t size);

#endif
