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
    log loss and AUC; multiclass: accuracy and log loss, the label one of
    the version's classes; regression: mean absolute error). A row also
    keeps its record (the PREDICT's msgpack map, when it fits
    FEEDBACK_ROW_BYTES) so that a labelled row can be stored and trained on.

    Labelled rows wait in an outbox (bytes the caller encoded) for the
    broker, which keeps them (http_feedback.c sends them, FEEDBACK).

    Caveats: the log lives in the gateway's memory only: a restart forgets
    the unlabelled rows and the live metrics (labelled rows already sent
    are the broker's), and with several gateways a label must reach the
    one that answered. A row overwritten by newer ones is expired: its id is then
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
#define FEEDBACK_ROW_BYTES 512             //  per row: a multiclass row's k float probabilities, then the record
#define FEEDBACK_OUTBOX_ROWS 10000         //  labelled rows waiting for the broker (the oldest dropped past it)

typedef struct feedback feedback_t;

typedef enum {
    FEEDBACK_BINARY = 0,     //  predicted 0/1, value the probability of 1
    FEEDBACK_MULTICLASS,     //  predicted a class index, value its probability
    FEEDBACK_REGRESSION,     //  value the predicted number
} feedback_task_t;

//  A label as the client sent it (the HTTP layer decodes the JSON).
typedef enum {
    FEEDBACK_LABEL_NUMBER = 0,   //  number (an integer or a fraction)
    FEEDBACK_LABEL_BOOL,         //  true / false (a binary label)
    FEEDBACK_LABEL_OTHER,        //  null, a list or an object (or a string not given as text)
    FEEDBACK_LABEL_STRING,       //  a string, in text (a multiclass label)
} feedback_label_kind_t;

typedef struct {
    feedback_label_kind_t kind;  //  see above
    double number;               //  the number, or 1 / 0 for true / false
    const char *text;            //  STRING: the label, NUL-terminated (borrowed)
} feedback_label_t;

//  One logged row as given to feedback_log_row and handed back by
//  feedback_label_row (then its pointers are the ring's, valid until the
//  next feedback_log*).
typedef struct {
    const char *id;              //  request id
    uint32_t index;              //  record within the request
    int64_t version;             //  model version that predicted
    feedback_task_t task;        //  see feedback_task_t
    int64_t predicted;           //  binary class, multiclass class index, regression 0
    double value;                //  binary p(1), multiclass p(predicted), regression value
    int64_t time_ms;             //  when predicted (wall clock)
    const double *class_probabilities; //  multiclass: k of them (in; not handed back)
    size_t k;                    //  their count
    const uint8_t *record;       //  the record's msgpack map, NULL = not kept
    size_t record_len;           //  its bytes
} feedback_row_t;

//  Live metrics of one version from its labelled rows.
typedef struct {
    int64_t version;             //  registry version
    feedback_task_t task;        //  of its first labelled row
    uint64_t labelled;           //  rows with a label
    uint64_t correct;            //  binary, multiclass: labelled rows predicted right
    double log_loss_sum;         //  binary, multiclass: sum of -log p(label), p clamped to [1e-15, 1-1e-15]
    uint64_t log_loss_rows;      //  rows in log_loss_sum (a multiclass row whose k probabilities did not fit is not)
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
    uint64_t unkept;             //  rows logged without their record (over FEEDBACK_ROW_BYTES)
    uint64_t forwarded;          //  labelled rows sent to the broker
    uint64_t forward_dropped;    //  labelled rows dropped from a full outbox (the broker away)
    uint64_t outbox;             //  labelled rows waiting for the broker now
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

//  Logs a row (feedback_log's, plus a multiclass row's k class
//  probabilities, kept as floats when they fit FEEDBACK_ROW_BYTES, and
//  the record's msgpack map, kept when it fits what is left); copies,
//  allocates nothing.
void feedback_log_row(feedback_t *self, const feedback_row_t *row);

//  Tells the log a multiclass version's class labels (classes_json: a
//  JSON list of strings or numbers, as PREDICTION.classes), once per
//  version (a known version returns 0 at once). Returns 0, MLOPS_EINVAL
//  (not such a list) or MLOPS_ENOMEM. The 16 newest versions are kept.
int feedback_classes(feedback_t *self, int64_t version, const char *classes_json);

//  Joins label to row index of id. Returns 0, MLOPS_ENOTFOUND (unknown or
//  expired: 404), MLOPS_ESTATE (labelled before: 409) or MLOPS_ECHECK (the
//  label does not fit the row's task: 422), with *why a fixed sentence.
//  A multiclass label must be one of the version's classes (a string
//  label matches a string class, a number a number class); *why then
//  names the label and may point into self until the next call.
int feedback_label(feedback_t *self, const char *id, uint32_t index, const feedback_label_t *label,
                   const char **why);

//  feedback_label that also hands back the row it labelled into *row
//  (when not NULL and it returns 0): borrowed, see feedback_row_t.
int feedback_label_row(feedback_t *self, const char *id, uint32_t index,
                       const feedback_label_t *label, const char **why, feedback_row_t *row);

//  The outbox: labelled rows (bytes in whatever encoding the caller uses:
//  proto/feedback_io.h) waiting to go to the broker, oldest first, at most
//  FEEDBACK_OUTBOX_ROWS (a put past it drops the oldest, counted). put
//  takes the malloc'd bytes; peek borrows row i (0 = oldest) until the
//  next put or pop; pop frees the n oldest, counted as forwarded.
void feedback_outbox_put(feedback_t *self, uint8_t *bytes, size_t len);
size_t feedback_outbox_len(const feedback_t *self);
const uint8_t *feedback_outbox_peek(const feedback_t *self, size_t i, size_t *len);
void feedback_outbox_pop(feedback_t *self, size_t n);
//  The n oldest rows are at the broker, unanswered (0: none): they stay
//  in the outbox until its answer pops them.
void feedback_outbox_mark(feedback_t *self, size_t n);
size_t feedback_outbox_marked(const feedback_t *self);

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
