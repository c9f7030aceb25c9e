/*  feedback.c: the prediction log and live metrics (see feedback.h).

    The ring is an array of rows written round-robin; a chained hash on
    the request id finds a request's run of rows: heads[] holds the first
    linked row of each bucket, row.next the following one (-1 ends a
    chain). Only the first row of a run is linked (a request's records are
    logged one after the other, index 0, 1, ...); record i of it is i rows
    further on, checked by id and index. One hash insert a request, not one
    a record: a batch of 100 records touched 100 random buckets, the
    gateway's largest cost in /predict/batch (perf). A linked row is
    unlinked when the ring overwrites it, so chains only hold live rows;
    the rest of its run can no longer be found then (it is the next to be
    overwritten: the whole request expires at once).
    Everything is allocated in feedback_new; nothing on the hot path
    (feedback_id_new, feedback_sampled, feedback_log) allocates. A row's
    extra bytes hold a multiclass row's class probabilities (as floats:
    log loss needs no more than their 7 digits) and then its record; the
    class labels of a multiclass version are parsed once per version
    (feedback_classes), not per row.
*/
#include "feedback.h"

#include "err.h"

#include <jansson.h>

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PROB_EPS 1e-15   //  log loss clamps probabilities away from 0 and 1 (as sklearn)

typedef struct {
    char id[FEEDBACK_ID_MAX + 1];     //  request id, "" = row unused
    uint32_t index;                   //  record within the request
    uint32_t hash;                    //  of the id
    int32_t next;                     //  linked: next row in the bucket, -1 = none
    bool linked;                      //  the first of its run: in a bucket's chain
    uint8_t task;                     //  feedback_task_t
    bool labelled;                    //  a label was joined
    int64_t version;                  //  model version that predicted
    int64_t predicted;                //  binary class (0/1)
    double value;                     //  binary probability of 1, regression value
    int64_t time_ms;                  //  when it was logged (wall clock)
    uint16_t k;                       //  multiclass: class probabilities kept in extra (0 = none)
    uint16_t record_len;              //  record bytes after them in extra (0 = not kept)
    uint8_t extra[FEEDBACK_ROW_BYTES]; //  k floats, then the record's msgpack map
} s_row_t;

typedef struct {
    uint8_t *bytes;                   //  malloc'd
    size_t len;
} s_outbox_row_t;

typedef struct {
    int64_t version;                  //  0 = slot unused
    json_t *labels;                   //  the JSON list of class labels, owned
} s_classes_t;

struct feedback {
    s_row_t *rows;                    //  the ring
    size_t n_rows;                    //  its size
    size_t next_row;                  //  where the next row goes
    int32_t *heads;                   //  bucket heads, -1 = empty
    uint32_t mask;                    //  buckets - 1 (a power of two)
    double sample;                    //  share of predictions logged
    uint64_t rng;                     //  splitmix64 state
    uint64_t counter;                 //  ids made
    feedback_counts_t counts;         //  since start
    feedback_version_t versions[FEEDBACK_VERSIONS_MAX]; //  live metrics, oldest first
    size_t n_versions;                //  used
    s_classes_t classes[FEEDBACK_VERSIONS_MAX]; //  multiclass versions' labels
    size_t next_classes;              //  slot the next new version takes (round robin)
    char why[320];                    //  a refusal that names the label
    s_outbox_row_t *outbox;           //  labelled rows for the broker, a ring
    size_t outbox_head, outbox_n;     //  its oldest row, and its length
    size_t outbox_marked;             //  its oldest rows sent, not answered yet
};

static uint64_t s_next(feedback_t *self)
{
    uint64_t z = (self->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

feedback_t *feedback_new(size_t rows, double sample, uint64_t seed)
{
    if (rows == 0 || rows > FEEDBACK_LOG_ROWS_MAX || !(sample >= 0 && sample <= 1))
        return NULL;
    feedback_t *self = calloc(1, sizeof *self);
    uint32_t buckets = 1;
    while (buckets < rows)
        buckets <<= 1;
    if (self) {
        self->rows = calloc(rows, sizeof *self->rows);
        self->heads = malloc(buckets * sizeof *self->heads);
        self->outbox = calloc(FEEDBACK_OUTBOX_ROWS, sizeof *self->outbox);
    }
    if (!self || !self->rows || !self->heads || !self->outbox) {
        feedback_destroy(&self);
        return NULL;
    }
    memset(self->heads, 0xff, buckets * sizeof *self->heads);   //  every head -1
    self->n_rows = rows;
    self->mask = buckets - 1;
    self->sample = sample;
    if (seed == 0 && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)(uintptr_t)self ^ (uint64_t)time(NULL);
    self->rng = seed;
    return self;
}

void feedback_destroy(feedback_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < FEEDBACK_VERSIONS_MAX; i++)
        json_decref((*p)->classes[i].labels);
    if ((*p)->outbox)
        feedback_outbox_pop(*p, (*p)->outbox_n);
    free((*p)->outbox);
    free((*p)->heads);
    free((*p)->rows);
    free(*p);
    *p = NULL;
}

bool feedback_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > FEEDBACK_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '.' || c == '_' || c == '-' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

//  Writes the low `digits` hex digits of v at out (zero-padded); returns digits.
static size_t s_hex(uint64_t v, char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = digits; i-- > 0; v >>= 4)
        out[i] = hex[v & 15];
    return digits;
}

void feedback_id_new(feedback_t *self, char *out)
{
    //  16 random hex digits, then the counter: unique, and one id says
    //  nothing of the next
    size_t n = s_hex(s_next(self), out, 16);
    out[n++] = '-';
    n += s_hex(++self->counter, out + n, 12);
    out[n] = '\0';
}

bool feedback_sampled(feedback_t *self)
{
    if (self->sample >= 1)
        return true;
    bool in = (double)(s_next(self) >> 11) * 0x1.0p-53 < self->sample;
    if (!in)
        self->counts.unsampled++;
    return in;
}

static uint32_t s_hash(const char *id)
{
    uint32_t h = 2166136261u;   //  FNV-1a
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

//  Takes row r off its bucket's chain.
static void s_unlink(feedback_t *self, int32_t r)
{
    int32_t *link = &self->heads[self->rows[r].hash & self->mask];
    while (*link != -1 && *link != r)
        link = &self->rows[*link].next;
    if (*link == r)
        *link = self->rows[r].next;
}

void feedback_log(feedback_t *self, const char *id, uint32_t index, int64_t version,
                  feedback_task_t task, int64_t predicted, double value, int64_t now_ms)
{
    feedback_row_t row = {.id = id, .index = index, .version = version, .task = task,
                          .predicted = predicted, .value = value, .time_ms = now_ms};
    feedback_log_row(self, &row);
}

//  Copies a row's class probabilities and record into its extra bytes,
//  each when it fits (the probabilities first: the live metrics need them).
static void s_keep_extra(feedback_t *self, s_row_t *row, const feedback_row_t *in)
{
    size_t probs = in->task == FEEDBACK_MULTICLASS && in->class_probabilities ? in->k : 0;
    row->k = probs * sizeof(float) <= FEEDBACK_ROW_BYTES ? (uint16_t)probs : 0;
    for (size_t c = 0; c < row->k; c++) {
        float p = (float)in->class_probabilities[c];
        memcpy(row->extra + c * sizeof p, &p, sizeof p);
    }
    size_t at = row->k * sizeof(float);
    bool fits = in->record && in->record_len <= FEEDBACK_ROW_BYTES - at;
    row->record_len = fits ? (uint16_t)in->record_len : 0;
    if (fits)
        memcpy(row->extra + at, in->record, in->record_len);
    else
        self->counts.unkept++;
}

void feedback_log_row(feedback_t *self, const feedback_row_t *in)
{
    int32_t r = (int32_t)self->next_row;
    self->next_row = (self->next_row + 1) % self->n_rows;
    s_row_t *row = &self->rows[r];
    if (row->id[0] && row->linked)
        s_unlink(self, r);
    size_t len = strnlen(in->id, FEEDBACK_ID_MAX);
    memcpy(row->id, in->id, len);
    row->id[len] = '\0';
    row->index = in->index;
    const s_row_t *prev = &self->rows[r == 0 ? self->n_rows - 1 : (size_t)r - 1];
    row->linked = !(in->index > 0 && prev->index == in->index - 1 && strcmp(prev->id, row->id) == 0);
    row->task = (uint8_t)in->task;
    row->labelled = false;
    row->version = in->version;
    row->predicted = in->predicted;
    row->value = in->value;
    row->time_ms = in->time_ms;
    s_keep_extra(self, row, in);
    self->counts.logged++;
    if (!row->linked)
        return;   //  found from the first row of its run
    row->hash = s_hash(row->id);
    int32_t *head = &self->heads[row->hash & self->mask];
    row->next = *head;   //  at the head: a reused id finds its newest row first
    *head = r;
}

//  The class labels of version, NULL when not told.
static const json_t *s_labels(const feedback_t *self, int64_t version)
{
    for (size_t i = 0; i < FEEDBACK_VERSIONS_MAX; i++)
        if (self->classes[i].labels && self->classes[i].version == version)
            return self->classes[i].labels;
    return NULL;
}

int feedback_classes(feedback_t *self, int64_t version, const char *classes_json)
{
    if (s_labels(self, version))
        return 0;
    json_error_t jerr;
    json_t *labels = json_loads(classes_json ? classes_json : "", 0, &jerr);
    bool ok = json_is_array(labels) && json_array_size(labels) > 0;
    for (size_t c = 0; ok && c < json_array_size(labels); c++) {
        const json_t *e = json_array_get(labels, c);
        ok = json_is_string(e) || json_is_number(e);
    }
    if (!ok) {
        json_decref(labels);
        return MLOPS_EINVAL;
    }
    s_classes_t *slot = &self->classes[self->next_classes];
    self->next_classes = (self->next_classes + 1) % FEEDBACK_VERSIONS_MAX;
    json_decref(slot->labels);
    *slot = (s_classes_t){.version = version, .labels = labels};
    return 0;
}

static s_row_t *s_find(feedback_t *self, const char *id, uint32_t index)
{
    uint32_t h = s_hash(id);
    for (int32_t r = self->heads[h & self->mask]; r != -1; r = self->rows[r].next) {
        const s_row_t *first = &self->rows[r];
        if (first->hash != h || first->index > index || strcmp(first->id, id) != 0)
            continue;
        size_t at = (size_t)r + (index - first->index);   //  record index is that many rows on
        if (index - first->index >= self->n_rows)
            continue;
        s_row_t *row = &self->rows[at % self->n_rows];
        if (row->index == index && strcmp(row->id, id) == 0)
            return row;
    }
    return NULL;
}

//  The live metrics of version, made (evicting the oldest) when new.
static feedback_version_t *s_version(feedback_t *self, int64_t version, feedback_task_t task)
{
    for (size_t i = 0; i < self->n_versions; i++)
        if (self->versions[i].version == version)
            return &self->versions[i];
    if (self->n_versions == FEEDBACK_VERSIONS_MAX) {
        memmove(self->versions, self->versions + 1, (FEEDBACK_VERSIONS_MAX - 1) * sizeof *self->versions);
        self->n_versions--;
    }
    feedback_version_t *v = &self->versions[self->n_versions++];
    *v = (feedback_version_t){.version = version, .task = task};
    return v;
}

//  The index of label among labels, -1 when it is none of them (a string
//  matches a string class, a number a number class).
static int s_class_of(const json_t *labels, const feedback_label_t *label)
{
    for (size_t c = 0; c < json_array_size(labels); c++) {
        const json_t *e = json_array_get(labels, c);
        if (label->kind == FEEDBACK_LABEL_STRING && json_is_string(e)
            && strcmp(json_string_value(e), label->text) == 0)
            return (int)c;
        if (label->kind == FEEDBACK_LABEL_NUMBER && json_is_number(e)
            && json_number_value(e) == label->number)
            return (int)c;
    }
    return -1;
}

//  A multiclass label: its class index into *cls, or MLOPS_ECHECK with why
//  (in self->why) naming the label and the classes.
static int s_check_class(feedback_t *self, const s_row_t *row, const feedback_label_t *label,
                         int *cls, const char **why)
{
    const json_t *labels = s_labels(self, row->version);
    *cls = labels ? s_class_of(labels, label) : -1;
    if (*cls >= 0)
        return 0;
    char given[80];
    if (label->kind == FEEDBACK_LABEL_STRING)
        snprintf(given, sizeof given, "\"%.64s\"", label->text);
    else if (label->kind == FEEDBACK_LABEL_NUMBER)
        snprintf(given, sizeof given, "%.17g", label->number);
    else
        snprintf(given, sizeof given, "%s", label->kind == FEEDBACK_LABEL_BOOL ? "a boolean" : "a non-label");
    char *classes = labels ? json_dumps(labels, JSON_COMPACT) : NULL;
    snprintf(self->why, sizeof self->why, "label %s is not one of the model's classes: %.160s",
             given, classes ? classes : "(not known to this gateway)");
    free(classes);
    *why = self->why;
    return MLOPS_ECHECK;
}

//  Checks label against row's task: 0 (a multiclass label's class into
//  *cls) or MLOPS_ECHECK with why.
static int s_check(feedback_t *self, const s_row_t *row, const feedback_label_t *label, int *cls,
                   const char **why)
{
    if (row->task == FEEDBACK_MULTICLASS)
        return s_check_class(self, row, label, cls, why);
    else if (row->task == FEEDBACK_REGRESSION
             && (label->kind != FEEDBACK_LABEL_NUMBER || !isfinite(label->number)))
        *why = "label must be a number for a regression model";
    else if (row->task == FEEDBACK_BINARY
             && ((label->kind != FEEDBACK_LABEL_NUMBER && label->kind != FEEDBACK_LABEL_BOOL)
                 || (label->number != 0 && label->number != 1)))
        *why = "label must be 0, 1, true or false for a binary model";
    else
        return 0;
    return MLOPS_ECHECK;
}

//  -log p, p clamped away from 0 and 1 (as sklearn).
static double s_loss(double p)
{
    return -log(fmin(fmax(p, PROB_EPS), 1 - PROB_EPS));
}

//  Counts a multiclass row of class cls: accuracy always, log loss from
//  its kept probabilities.
static void s_score_class(const s_row_t *row, int cls, feedback_version_t *v)
{
    v->labelled++;
    v->correct += row->predicted == cls;
    if (row->k == 0 || (size_t)cls >= row->k)
        return;
    float p;
    memcpy(&p, row->extra + (size_t)cls * sizeof p, sizeof p);
    v->log_loss_sum += s_loss(p);
    v->log_loss_rows++;
}

//  Counts a checked label into its version's metrics.
static void s_score(const s_row_t *row, const feedback_label_t *label, int cls, feedback_version_t *v)
{
    if (row->task == FEEDBACK_MULTICLASS) {
        s_score_class(row, cls, v);
        return;
    }
    if (row->task == FEEDBACK_REGRESSION) {
        v->labelled++;
        v->abs_error_sum += fabs(label->number - row->value);
        return;
    }
    int truth = label->number == 1;
    v->labelled++;
    v->correct += row->predicted == truth;
    v->log_loss_sum += s_loss(truth ? row->value : 1 - row->value);
    v->log_loss_rows++;
    double score = isfinite(row->value) ? fmin(fmax(row->value, 0), 1) : 0;
    size_t bin = (size_t)(score * FEEDBACK_AUC_BINS);
    (truth ? v->positives : v->negatives)[bin < FEEDBACK_AUC_BINS ? bin : FEEDBACK_AUC_BINS - 1]++;
}

//  The ring's row as a feedback_row_t (borrowed).
static void s_row_out(const s_row_t *row, feedback_row_t *out)
{
    *out = (feedback_row_t){.id = row->id, .index = row->index, .version = row->version,
                            .task = (feedback_task_t)row->task, .predicted = row->predicted,
                            .value = row->value, .time_ms = row->time_ms,
                            .record = row->record_len ? row->extra + row->k * sizeof(float) : NULL,
                            .record_len = row->record_len};
}

int feedback_label(feedback_t *self, const char *id, uint32_t index, const feedback_label_t *label,
                   const char **why)
{
    return feedback_label_row(self, id, index, label, why, NULL);
}

int feedback_label_row(feedback_t *self, const char *id, uint32_t index,
                       const feedback_label_t *label, const char **why, feedback_row_t *out)
{
    s_row_t *row = s_find(self, id, index);
    if (!row) {
        self->counts.unknown++;
        *why = "unknown or expired request id (not logged, sampled out, or overwritten by newer "
               "predictions: see --feedback-log)";
        return MLOPS_ENOTFOUND;
    }
    if (row->labelled) {
        self->counts.duplicate++;
        *why = "this prediction has a label already";
        return MLOPS_ESTATE;
    }
    int cls = -1;
    int rc = s_check(self, row, label, &cls, why);
    if (rc != 0) {
        self->counts.invalid++;
        return rc;
    }
    s_score(row, label, cls, s_version(self, row->version, (feedback_task_t)row->task));
    row->labelled = true;
    self->counts.accepted++;
    if (out)
        s_row_out(row, out);
    *why = NULL;
    return 0;
}

/* --- the outbox ----------------------------------------------------------- */

void feedback_outbox_put(feedback_t *self, uint8_t *bytes, size_t len)
{
    if (self->outbox_n == FEEDBACK_OUTBOX_ROWS) {   //  the oldest goes, answered or not
        self->outbox_marked -= self->outbox_marked > 0;
        free(self->outbox[self->outbox_head].bytes);
        self->outbox_head = (self->outbox_head + 1) % FEEDBACK_OUTBOX_ROWS;
        self->outbox_n--;
        self->counts.forward_dropped++;
    }
    size_t tail = (self->outbox_head + self->outbox_n++) % FEEDBACK_OUTBOX_ROWS;
    self->outbox[tail] = (s_outbox_row_t){bytes, len};
}

size_t feedback_outbox_len(const feedback_t *self)
{
    return self->outbox_n;
}

const uint8_t *feedback_outbox_peek(const feedback_t *self, size_t i, size_t *len)
{
    assert(i < self->outbox_n);
    const s_outbox_row_t *row = &self->outbox[(self->outbox_head + i) % FEEDBACK_OUTBOX_ROWS];
    *len = row->len;
    return row->bytes;
}

//  Frees the n oldest (destroy too, uncounted there as it does not matter).
void feedback_outbox_pop(feedback_t *self, size_t n)
{
    for (size_t i = 0; i < n && self->outbox_n; i++) {
        free(self->outbox[self->outbox_head].bytes);
        self->outbox[self->outbox_head] = (s_outbox_row_t){0};
        self->outbox_head = (self->outbox_head + 1) % FEEDBACK_OUTBOX_ROWS;
        self->outbox_n--;
        self->outbox_marked -= self->outbox_marked > 0;
        self->counts.forwarded++;
    }
}

void feedback_outbox_mark(feedback_t *self, size_t n)
{
    self->outbox_marked = n < self->outbox_n ? n : self->outbox_n;
}

size_t feedback_outbox_marked(const feedback_t *self)
{
    return self->outbox_marked;
}

feedback_counts_t feedback_counts(const feedback_t *self)
{
    feedback_counts_t c = self->counts;
    c.outbox = self->outbox_n;
    return c;
}

size_t feedback_versions(const feedback_t *self, feedback_version_t *out)
{
    memcpy(out, self->versions, self->n_versions * sizeof *out);
    return self->n_versions;
}

double feedback_auc(const feedback_version_t *v)
{
    double pairs = 0, below = 0, positives = 0;
    for (size_t b = 0; b < FEEDBACK_AUC_BINS; b++) {
        pairs += v->positives[b] * (below + 0.5 * v->negatives[b]);
        below += v->negatives[b];
        positives += v->positives[b];
    }
    return positives > 0 && below > 0 ? pairs / (positives * below) : NAN;
}

size_t feedback_rows(const feedback_t *self)
{
    return self->n_rows;
}

double feedback_sample(const feedback_t *self)
{
    return self->sample;
}

//  A version's live metrics by its task; NAN where none.
static void s_rates(const feedback_version_t *v, double *accuracy, double *log_loss, double *mae)
{
    bool any = v->labelled > 0, regression = v->task == FEEDBACK_REGRESSION;
    *accuracy = any && !regression ? (double)v->correct / (double)v->labelled : NAN;
    *log_loss = v->log_loss_rows > 0 ? v->log_loss_sum / (double)v->log_loss_rows : NAN;
    *mae = any && regression ? v->abs_error_sum / (double)v->labelled : NAN;
}

//  Appends mlops_live_NAME{version="V"} x at text + *n, unless x is NaN.
static void s_gauge(char *text, size_t cap, size_t *n, const char *name, int64_t version, double x)
{
    if (!isnan(x) && *n < cap)
        *n += (size_t)snprintf(text + *n, cap - *n, "mlops_live_%s{version=\"%" PRId64 "\"} %.17g\n",
                               name, version, x);
}

char *feedback_metrics(const feedback_t *self, size_t *len)
{
    size_t cap = 1024 + self->n_versions * 512;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    feedback_counts_t counts = feedback_counts(self);
    const feedback_counts_t *c = &counts;
    size_t n = (size_t)snprintf(text, cap,
        "# TYPE mlops_feedback_logged_total counter\nmlops_feedback_logged_total %" PRIu64 "\n"
        "# TYPE mlops_feedback_total counter\n"
        "mlops_feedback_total{result=\"accepted\"} %" PRIu64 "\n"
        "mlops_feedback_total{result=\"unknown\"} %" PRIu64 "\n"
        "mlops_feedback_total{result=\"duplicate\"} %" PRIu64 "\n"
        "mlops_feedback_total{result=\"invalid\"} %" PRIu64 "\n"
        "# TYPE mlops_feedback_unkept_total counter\nmlops_feedback_unkept_total %" PRIu64 "\n"
        "# TYPE mlops_feedback_forwarded_total counter\nmlops_feedback_forwarded_total %" PRIu64 "\n"
        "# TYPE mlops_feedback_forward_dropped_total counter\nmlops_feedback_forward_dropped_total %"
        PRIu64 "\n# TYPE mlops_feedback_outbox gauge\nmlops_feedback_outbox %" PRIu64 "\n"
        "# TYPE mlops_live_labelled gauge\n# TYPE mlops_live_accuracy gauge\n"
        "# TYPE mlops_live_log_loss gauge\n# TYPE mlops_live_auc gauge\n# TYPE mlops_live_mae gauge\n",
        c->logged, c->accepted, c->unknown, c->duplicate, c->invalid, c->unkept, c->forwarded,
        c->forward_dropped, c->outbox);
    for (size_t i = 0; i < self->n_versions && n < cap; i++) {
        const feedback_version_t *v = &self->versions[i];
        double acc, loss, mae;
        s_rates(v, &acc, &loss, &mae);
        s_gauge(text, cap, &n, "labelled", v->version, (double)v->labelled);
        s_gauge(text, cap, &n, "accuracy", v->version, acc);
        s_gauge(text, cap, &n, "log_loss", v->version, loss);
        s_gauge(text, cap, &n, "auc", v->version, v->task == FEEDBACK_BINARY ? feedback_auc(v) : NAN);
        s_gauge(text, cap, &n, "mae", v->version, mae);
    }
    *len = n < cap ? n : cap - 1;
    return text;
}

//  Sets key to x, or to null when x is NaN.
static void s_set_number(json_t *o, const char *key, double x)
{
    json_object_set_new(o, key, isnan(x) ? json_null() : json_real(x));
}

char *feedback_summary(const feedback_t *self, size_t *len)
{
    feedback_counts_t counts = feedback_counts(self);
    const feedback_counts_t *c = &counts;
    json_t *versions = json_array();
    for (size_t i = 0; i < self->n_versions; i++) {
        const feedback_version_t *v = &self->versions[i];
        double acc, loss, mae;
        s_rates(v, &acc, &loss, &mae);
        json_t *o = json_pack("{sIsI}", "version", (json_int_t)v->version,
                              "labelled", (json_int_t)v->labelled);
        s_set_number(o, "accuracy", acc);
        s_set_number(o, "log_loss", loss);
        s_set_number(o, "auc", v->task == FEEDBACK_BINARY ? feedback_auc(v) : NAN);
        s_set_number(o, "mae", mae);
        json_array_append_new(versions, o);
    }
    json_t *root = json_pack("{sIsfsIsIsIsIsIsIsIso}", "log_rows", (json_int_t)self->n_rows,
                             "sample", self->sample, "logged", (json_int_t)c->logged,
                             "unsampled", (json_int_t)c->unsampled,
                             "accepted", (json_int_t)c->accepted, "unknown", (json_int_t)c->unknown,
                             "duplicate", (json_int_t)c->duplicate,
                             "invalid", (json_int_t)c->invalid, "unkept", (json_int_t)c->unkept,
                             "versions", versions);
    json_object_set_new(root, "forwarded", json_integer((json_int_t)c->forwarded));
    json_object_set_new(root, "forward_dropped", json_integer((json_int_t)c->forward_dropped));
    json_object_set_new(root, "outbox", json_integer((json_int_t)c->outbox));
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (text)
        *len = strlen(text);
    return text;
}
