/*  feedback.h: the gateway's prediction log and the labels joined to it
    (POST /feedback), and the live metrics per model version they give.

    Every prediction answer carries a request id (X-Request-Id, and
    "request_id" / V2's "id" in the body): the client's, when it sent a
    valid one, else one made here (a counter, unique in this process, and
    64 random bits from a generator seeded from getrandom, so ids are not
    guessable from one another; not a cryptographic secret). A sampled
    share of predictions is kept in a ring of the last N rows (one row per
    record: a batch's rows are (id, index)), with a hash index on the id,
    all allocated once: logging a prediction copies into the ring and
    allocates nothing. A label posted later is joined to its row by id and
    index and counted into its version's live metrics (binary: accuracy
    log loss and AUC; regression: mean absolute error; multiclass rows are
    logged but their labels refused until they are scored: see the README).

    Caveats: the log lives in the gateway's memory only: a restart forgets
    it, and with several gateways a label must reach the one that
    answered. A row overwritten by newer ones is expired: its id is then
    unknown (both answer 404, as nothing tells them apart). A client that
    reuses an id gets its newest prediction joined.
*/
#ifndef MLOPS_FEEDBACK_H
#define MLOPS_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEEDBACK_ID_MAX 64                 //  bytes of a request id
#define FEEDBACK_LOG_ROWS 100000           //  --feedback-log default (about 11 MB)
#define FEEDBACK_LOG_ROWS_MAX 10000000     //  --feedback-log limit
#define FEEDBACK_VERSIONS_MAX 16           //  versions with live metrics (the oldest goes first)
#define FEEDBACK_AUC_BINS 1000             //  probability buckets of the live AUC (0.001 wide)

typedef struct feedback feedback_t;

typedef enum {
    FEEDBACK_BINARY = 0,     //  predicted 0/1, value the probability of 1
    FEEDBACK_MULTICLASS,     //  predicted a class index (labels not scored yet)
    FEEDBACK_REGRESSION,     //  value the predicted number
} feedback_task_t;

//  A label as the client sent it (the HTTP layer decodes the JSON).
typedef enum {
    FEEDBACK_LABEL_NUMBER = 0,   //  number (an integer or a fraction)
    FEEDBACK_LABEL_BOOL,         //  true / false (a binary label)
    FEEDBACK_LABEL_OTHER,        //  a string, null, a list or an object
} feedback_label_kind_t;

typedef struct {
    feedback_label_kind_t kind;  //  see above
    double number;               //  the number, or 1 / 0 for true / false
} feedback_label_t;

//  Live metrics of one version from its labelled rows.
typedef struct {
    int64_t version;             //  registry version
    feedback_task_t task;        //  of its first labelled row
    uint64_t labelled;           //  rows with a label
    uint64_t correct;            //  binary: labelled rows predicted right
    double log_loss_sum;         //  binary: sum of -log p(label), p clamped to [1e-15, 1-1e-15]
    double abs_error_sum;        //  regression: sum of |label - predicted|
    uint32_t positives[FEEDBACK_AUC_BINS]; //  binary: labelled 1, by the bucket of p(1)
    uint32_t negatives[FEEDBACK_AUC_BINS]; //  binary: labelled 0, by the bucket of p(1)
} feedback_version_t;

//  Counts since start (for /metrics and GET /api/feedback).
typedef struct {
    uint64_t logged;             //  rows written to the ring
    uint64_t unsampled;          //  predictions left out by the sample rate
    uint64_t accepted;           //  labels joined
    uint64_t unknown;            //  labels for an unknown or expired id
    uint64_t duplicate;          //  labels for a row labelled before
    uint64_t invalid;            //  labels of the wrong type for the row's task
} feedback_counts_t;

//  A ring of rows rows (1..FEEDBACK_LOG_ROWS_MAX) keeping a share sample
//  (0..1) of predictions; seed 0 seeds from getrandom. NULL when out of
//  memory or an argument is out of range.
feedback_t *feedback_new(size_t rows, double sample, uint64_t seed);

//  Frees it; ignores NULL; sets *p to NULL.
void feedback_destroy(feedback_t **p);

//  True when id is 1..FEEDBACK_ID_MAX bytes of letters, digits and
//  . _ - : (safe to echo in a header, JSON and a log line).
bool feedback_id_valid(const char *id, size_t len);

//  Writes a new id into out (FEEDBACK_ID_MAX + 1 bytes), NUL-terminated.
void feedback_id_new(feedback_t *self, char *out);

//  Draws whether the next prediction is logged (counts it when not).
bool feedback_sampled(feedback_t *self);

//  Logs row index of the prediction id (version, task, predicted class or
//  0, value: binary probability of 1 / regression value), at now_ms (wall
//  clock), overwriting the oldest row when the ring is full.
void feedback_log(feedback_t *self, const char *id, uint32_t index, int64_t version,
                  feedback_task_t task, int64_t predicted, double value, int64_t now_ms);

//  Joins label to row index of id. Returns 0, MLOPS_ENOTFOUND (unknown or
//  expired: 404), MLOPS_ESTATE (labelled before: 409) or MLOPS_ECHECK (the
//  label does not fit the row's task: 422), with *why a fixed sentence.
int feedback_label(feedback_t *self, const char *id, uint32_t index, const feedback_label_t *label,
                   const char **why);

//  The counts, and the live metrics of up to FEEDBACK_VERSIONS_MAX versions
//  (oldest first) into out; returns how many.
feedback_counts_t feedback_counts(const feedback_t *self);
size_t feedback_versions(const feedback_t *self, feedback_version_t *out);

//  A binary version's live AUC from its buckets (pairs in one bucket count
//  half, so it is exact when no two scores share a 0.001 bucket); NAN
//  without both a positive and a negative label.
double feedback_auc(const feedback_version_t *v);

//  Ring size and sample rate, as configured.
size_t feedback_rows(const feedback_t *self);
double feedback_sample(const feedback_t *self);

//  The Prometheus lines (mlops_feedback_*, mlops_live_*): malloc'd,
//  NUL-terminated, length in *len; NULL when out of memory.
char *feedback_metrics(const feedback_t *self, size_t *len);

//  GET /api/feedback's body: {"log_rows":..,"sample":..,"logged":..,
//  "accepted":..,"unknown":..,"duplicate":..,"invalid":..,"versions":[{"version":3,
//  "labelled":..,"accuracy":..,"log_loss":..,"auc":..,"mae":..}]}; NULL when out of memory.
char *feedback_summary(const feedback_t *self, size_t *len);

#endif
