/*  rollout.c: the gateway's side of a shadow or canary rollout (see
    rollout.h): the broker's word applied, routing by hash, the shadow
    copies' slots and their comparison, and each side's counters.

    Everything the hot path touches is allocated in rollout_new (the
    histograms, the slot table, the feedback buffer); only a shadow copy's
    kept answer is malloc'd, while it waits for the other one.
*/
#include "rollout.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define LATENCY_BASE_US 50.0    //  the first bucket's upper edge
#define LATENCY_GROWTH 1.1      //  each next bucket's edge, times this
#define REGRESSION_AGREE 1e-6   //  two values agree within this, relative

typedef struct {
    uint64_t requests, errors;                   //  answered, of them errors
    uint32_t buckets[ROLLOUT_LATENCY_BUCKETS];   //  latency histogram
} s_side_t;

typedef struct {
    int64_t version;        //  the version the baseline is of, 0 = none taken
    uint64_t labelled;      //  its feedback figures at the rollout's start
    uint64_t correct;
    double abs_error_sum;
    bool regression;        //  its live metric is MAE (else accuracy)
} s_baseline_t;

typedef struct {
    bool used;              //  slot holds a copy
    uint32_t gen;           //  bumped on reuse: the wire id's high half
    int worker;             //  the router slot holding the copy, -1 once answered
    int64_t started_us;     //  the production request's first byte
    int64_t deadline_ms;    //  expired after this
    bool prod_failed;       //  production failed: nothing to compare
    bool kept_prod;         //  kept holds production's answer (else the copy's)
    double *kept;           //  the first answer's per-record predictions, NULL = none yet
    size_t n_kept;          //  their count
    bool kept_values;       //  kept are regression values (else class indexes)
    bool warm;              //  a warm-up copy: neither counted nor compared
    uint64_t epoch;         //  the rollout it was sent for (rollout_t.epoch)
} s_shadow_t;

struct rollout {
    char gateway_id[ROLLOUT_GATEWAY_ID_MAX + 1]; //  "gw-" + 16 hex digits
    rollout_state_t state;                       //  the broker's word
    s_side_t sides[3];                           //  by rollout_target_t (NONE unused)
    s_baseline_t baselines[3];                   //  feedback at the start, by side
    uint64_t compared, agreed, skipped;          //  shadow
    bool warming;                                //  the candidate is loading: no canary request yet
    bool warm_sent;                              //  the warm-up copies went out
    size_t warm_out;                             //  warm-up copies not back yet
    s_shadow_t shadows[ROLLOUT_SHADOWS_MAX];     //  copies in flight
    size_t n_shadows;                            //  slots used
    uint64_t epoch;                              //  bumped when the rollout changes: a copy
                                                 //  of an earlier one is not counted
    feedback_version_t *fb_buf;                  //  FEEDBACK_VERSIONS_MAX, for feedback_versions
};

/* --- lifecycle ------------------------------------------------------------ */

rollout_t *rollout_new(uint64_t seed)
{
    rollout_t *self = calloc(1, sizeof *self);
    if (self)
        self->fb_buf = calloc(FEEDBACK_VERSIONS_MAX, sizeof *self->fb_buf);
    if (!self || !self->fb_buf) {
        rollout_destroy(&self);
        return NULL;
    }
    if (seed == 0 && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)(uintptr_t)self ^ 0x9E3779B97F4A7C15ull;   //  unique enough in a host
    snprintf(self->gateway_id, sizeof self->gateway_id, "gw-%016" PRIx64, seed);
    for (size_t i = 0; i < ROLLOUT_SHADOWS_MAX; i++)
        self->shadows[i].worker = -1;
    return self;
}

static void s_shadow_free(rollout_t *self, s_shadow_t *s)
{
    if (s->warm && --self->warm_out == 0 && self->warm_sent)
        self->warming = false;
    free(s->kept);
    uint32_t gen = s->gen + 1;
    *s = (s_shadow_t){.gen = gen, .worker = -1};
    self->n_shadows--;
}

void rollout_destroy(rollout_t **p)
{
    if (!p || !*p)
        return;
    rollout_t *self = *p;
    for (size_t i = 0; i < ROLLOUT_SHADOWS_MAX; i++)
        free(self->shadows[i].kept);
    free(self->fb_buf);
    free(self);
    *p = NULL;
}

const char *rollout_gateway_id(const rollout_t *self)
{
    return self->gateway_id;
}

/* --- the broker's word ------------------------------------------------------ */

//  The feedback figures of version, zero when it has no labels (or fb is NULL).
static s_baseline_t s_feedback_of(rollout_t *self, const feedback_t *fb, int64_t version)
{
    s_baseline_t b = {.version = version};
    size_t n = fb && version > 0 ? feedback_versions(fb, self->fb_buf) : 0;
    for (size_t i = 0; i < n; i++)
        if (self->fb_buf[i].version == version) {
            b.labelled = self->fb_buf[i].labelled;
            b.correct = self->fb_buf[i].correct;
            b.abs_error_sum = self->fb_buf[i].abs_error_sum;
            b.regression = self->fb_buf[i].task == FEEDBACK_REGRESSION;
        }
    return b;
}

//  A state that cannot be routed is none.
static rollout_state_t s_sane(const rollout_state_t *in)
{
    rollout_state_t s = *in;
    bool ok = (s.rollout == ROLLOUT_SHADOW || s.rollout == ROLLOUT_CANARY) && s.version > 0
           && (s.rollout == ROLLOUT_SHADOW || (s.percent > 0 && s.percent <= 100));
    if (!ok)
        s = (rollout_state_t){.rollout = ROLLOUT_NONE, .production = in->production};
    if (s.rollout == ROLLOUT_SHADOW)
        s.percent = 0;
    return s;
}

bool rollout_apply(rollout_t *self, const rollout_state_t *state, const feedback_t *fb)
{
    rollout_state_t s = s_sane(state);
    bool changed = s.rollout != self->state.rollout || s.version != self->state.version
                || s.started_ms != self->state.started_ms;
    if (changed) {
        self->epoch++;
        memset(self->sides, 0, sizeof self->sides);
        self->compared = self->agreed = self->skipped = 0;
        self->warming = s.rollout != ROLLOUT_NONE;
        self->warm_sent = false;
        self->baselines[ROLLOUT_TO_CAND] = s_feedback_of(self, fb, s.version);
    }
    if (changed || s.production != self->baselines[ROLLOUT_TO_PROD].version)
        self->baselines[ROLLOUT_TO_PROD] = s_feedback_of(self, fb, s.production);
    self->state = s;
    return changed;
}

const rollout_state_t *rollout_state(const rollout_t *self)
{
    return &self->state;
}

/* --- routing ------------------------------------------------------------------ */

uint32_t rollout_bucket(int64_t version, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;   //  FNV-1a, then splitmix64's finalizer to spread it
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)key[i]) * 0x100000001b3ull;
    h ^= (uint64_t)version * 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    return (uint32_t)(h % ROLLOUT_BUCKETS);
}

rollout_target_t rollout_route(const rollout_t *self, const char *key, size_t len)
{
    if (self->state.rollout == ROLLOUT_NONE)
        return ROLLOUT_TO_NONE;
    if (self->state.rollout == ROLLOUT_SHADOW || self->warming)
        return ROLLOUT_TO_PROD;
    //  percent x 100 buckets, rounded: 0.01 % is the finest share
    uint32_t below = (uint32_t)llround(self->state.percent * (ROLLOUT_BUCKETS / 100));
    return rollout_bucket(self->state.version, key, len) < below ? ROLLOUT_TO_CAND : ROLLOUT_TO_PROD;
}

/* --- counting ------------------------------------------------------------------- */

static size_t s_bucket_of(int64_t latency_us)
{
    if (latency_us <= LATENCY_BASE_US)
        return 0;
    double b = ceil(log((double)latency_us / LATENCY_BASE_US) / log(LATENCY_GROWTH));
    return b >= ROLLOUT_LATENCY_BUCKETS - 1 ? ROLLOUT_LATENCY_BUCKETS - 1 : (size_t)b;
}

void rollout_count(rollout_t *self, rollout_target_t side, int status, int64_t latency_us)
{
    if (side != ROLLOUT_TO_PROD && side != ROLLOUT_TO_CAND)
        return;
    s_side_t *s = &self->sides[side];
    s->requests++;
    if (status >= 500 || (side == ROLLOUT_TO_CAND && status == 404))
        s->errors++;
    s->buckets[s_bucket_of(latency_us)]++;
}

void rollout_skip(rollout_t *self)
{
    self->skipped++;
}

//  The upper edge of the bucket holding the 99th percentile, in ms; 0 when empty.
static double s_p99_ms(const s_side_t *s)
{
    if (s->requests == 0)
        return 0;
    uint64_t rank = (s->requests * 99 + 99) / 100, seen = 0;   //  ceil(0.99 n)
    size_t b = 0;
    while (b < ROLLOUT_LATENCY_BUCKETS - 1 && (seen += s->buckets[b]) < rank)
        b++;
    return LATENCY_BASE_US * pow(LATENCY_GROWTH, (double)b) / 1000.0;
}

static rollout_side_t s_side_report(rollout_t *self, const feedback_t *fb, rollout_target_t side)
{
    const s_side_t *s = &self->sides[side];
    rollout_side_t r = {.requests = (int64_t)s->requests, .errors = (int64_t)s->errors,
                        .p99_ms = s_p99_ms(s)};
    const s_baseline_t *base = &self->baselines[side];
    s_baseline_t now = s_feedback_of(self, fb, base->version);
    if (now.labelled <= base->labelled)
        return r;
    r.labelled = (int64_t)(now.labelled - base->labelled);
    r.metric = now.regression ? (now.abs_error_sum - base->abs_error_sum) / (double)r.labelled
                          : (double)(now.correct - base->correct) / (double)r.labelled;
    return r;
}

rollout_report_t rollout_report(rollout_t *self, const feedback_t *fb)
{
    return (rollout_report_t){.version = self->state.version,
                              .prod = s_side_report(self, fb, ROLLOUT_TO_PROD),
                              .cand = s_side_report(self, fb, ROLLOUT_TO_CAND),
                              .compared = (int64_t)self->compared, .agreed = (int64_t)self->agreed,
                              .skipped = (int64_t)self->skipped};
}

/* --- shadow copies ---------------------------------------------------------------- */

bool rollout_shadow_is(uint64_t wire_id)
{
    return (uint32_t)wire_id >= ROLLOUT_SHADOW_ID_BASE;
}

//  The slot wire_id names while it lives, or NULL.
static s_shadow_t *s_find(const rollout_t *self, uint64_t wire_id)
{
    if (!rollout_shadow_is(wire_id))
        return NULL;
    size_t i = (uint32_t)wire_id - ROLLOUT_SHADOW_ID_BASE;
    const s_shadow_t *s = &self->shadows[i];
    return s->used && s->gen == (uint32_t)(wire_id >> 32) ? (s_shadow_t *)s : NULL;
}

//  A free slot made a copy's; its wire id, or 0 when every slot is taken.
static uint64_t s_open(rollout_t *self, int worker, int64_t started_us, int64_t deadline_ms, bool warm)
{
    for (size_t i = 0; i < ROLLOUT_SHADOWS_MAX; i++) {
        s_shadow_t *s = &self->shadows[i];
        if (s->used)
            continue;
        *s = (s_shadow_t){.used = true, .gen = s->gen, .worker = worker, .started_us = started_us,
                          .deadline_ms = deadline_ms, .warm = warm, .epoch = self->epoch};
        self->n_shadows++;
        self->warm_out += warm;
        return (uint64_t)s->gen << 32 | (ROLLOUT_SHADOW_ID_BASE + (uint32_t)i);
    }
    return 0;
}

uint64_t rollout_shadow_open(rollout_t *self, int worker, int64_t started_us, int64_t deadline_ms)
{
    uint64_t id = s_open(self, worker, started_us, deadline_ms, false);
    self->skipped += id == 0;
    return id;
}

bool rollout_warming(const rollout_t *self)
{
    return self->warming;
}

uint64_t rollout_warm_open(rollout_t *self, int worker, int64_t deadline_ms)
{
    return self->warming && !self->warm_sent ? s_open(self, worker, 0, deadline_ms, true) : 0;
}

void rollout_warm_sent(rollout_t *self)
{
    self->warm_sent = true;
    if (self->warm_out == 0)
        self->warming = false;
}

int rollout_shadow_worker(const rollout_t *self, uint64_t wire_id)
{
    const s_shadow_t *s = s_find(self, wire_id);
    return s ? s->worker : -1;
}

//  An answer's predictions as doubles (class indexes are exact), malloc'd; NULL when out of memory.
static double *s_values_of(const rollout_answer_t *a)
{
    double *v = malloc((a->n ? a->n : 1) * sizeof *v);
    for (size_t i = 0; v && i < a->n; i++)
        v[i] = a->values ? a->values[i] : (double)a->predictions[i];
    return v;
}

static bool s_agree(double a, double b, bool values)
{
    if (!values)
        return a == b;
    double scale = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= REGRESSION_AGREE * scale;
}

//  Compares the kept answer with the other side's, per record.
static void s_compare(rollout_t *self, const s_shadow_t *s, const rollout_answer_t *other)
{
    bool values = other->values != NULL;
    size_t n = s->n_kept < other->n ? s->n_kept : other->n;
    self->compared += s->n_kept > other->n ? s->n_kept : other->n;
    if (values != s->kept_values)
        return;   //  a classifier against a regression (a schema change): none agree
    for (size_t i = 0; i < n; i++) {
        double v = values ? other->values[i] : (double)other->predictions[i];
        self->agreed += s_agree(s->kept[i], v, values);
    }
}

//  One side's answer for slot s: compared with the other's when that is
//  kept, else kept (then mine says whose it is). True when the slot is done.
static bool s_meet(rollout_t *self, s_shadow_t *s, const rollout_answer_t *a, bool prod)
{
    if (s->kept) {
        s_compare(self, s, a);
        return true;
    }
    s->kept = s_values_of(a);
    s->n_kept = a->n;
    s->kept_values = a->values != NULL;
    s->kept_prod = prod;
    return s->kept == NULL;   //  out of memory: nothing to compare, give up
}

void rollout_shadow_answered(rollout_t *self, uint64_t wire_id, int status,
                             const rollout_answer_t *answer, int64_t now_us)
{
    s_shadow_t *s = s_find(self, wire_id);
    if (!s || s->worker < 0)
        return;
    s->worker = -1;
    //  a warm-up copy: the candidate is loaded (or failed to), the canary
    //  may begin; a copy of an earlier rollout: its counters were reset
    if (s->warm || s->epoch != self->epoch) {
        s_shadow_free(self, s);
        return;
    }
    rollout_count(self, ROLLOUT_TO_CAND, status, now_us - s->started_us);
    if (status != 200 || s->prod_failed || s_meet(self, s, answer, false))
        s_shadow_free(self, s);
}

void rollout_shadow_production(rollout_t *self, uint64_t wire_id, bool ok, const rollout_answer_t *answer)
{
    s_shadow_t *s = s_find(self, wire_id);
    if (!s || s->prod_failed || (s->kept && s->kept_prod))
        return;
    if (!ok) {
        s->prod_failed = true;
        if (s->worker < 0)   //  the copy came back already: nothing will meet it
            s_shadow_free(self, s);
        return;
    }
    if (s_meet(self, s, answer, true))
        s_shadow_free(self, s);
}

void rollout_shadow_cancel(rollout_t *self, uint64_t wire_id)
{
    s_shadow_t *s = s_find(self, wire_id);
    if (!s)
        return;
    s_shadow_free(self, s);
    self->skipped++;
}

size_t rollout_shadow_lost(rollout_t *self, int worker)
{
    size_t n = 0;
    for (size_t i = 0; i < ROLLOUT_SHADOWS_MAX; i++)
        if (self->shadows[i].used && self->shadows[i].worker == worker) {
            s_shadow_free(self, &self->shadows[i]);
            n++;
        }
    return n;
}

uint64_t rollout_shadow_expire(rollout_t *self, int64_t now_ms, int *worker)
{
    *worker = -1;
    for (size_t i = 0; self->n_shadows && i < ROLLOUT_SHADOWS_MAX; i++) {
        s_shadow_t *s = &self->shadows[i];
        if (!s->used || s->deadline_ms > now_ms)
            continue;
        uint64_t id = (uint64_t)s->gen << 32 | (ROLLOUT_SHADOW_ID_BASE + (uint32_t)i);
        if (s->worker >= 0 && !s->warm) {   //  the candidate never answered: as a 504
            rollout_count(self, ROLLOUT_TO_CAND, 504, (now_ms * 1000) - s->started_us);
        }
        *worker = s->worker;
        s_shadow_free(self, s);
        return id;
    }
    return 0;
}

size_t rollout_shadows(const rollout_t *self)
{
    return self->n_shadows;
}

/* --- /metrics ----------------------------------------------------------------------- */

static const char *S_KIND[] = {"none", "shadow", "canary"};

//  Appends printf-style text at *n (nothing past cap; *n counts what would be written).
__attribute__((format(printf, 4, 5)))
static void s_append(char *text, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(text + (*n < cap ? *n : cap), *n < cap ? cap - *n : 0, fmt, ap);
    va_end(ap);
    *n += k > 0 ? (size_t)k : 0;
}

static void s_side_metrics(char *text, size_t cap, size_t *n, const char *side,
                           const rollout_side_t *r)
{
    s_append(text, cap, n, "mlops_rollout_requests_total{side=\"%s\"} %" PRId64 "\n"
             "mlops_rollout_errors_total{side=\"%s\"} %" PRId64 "\n"
             "mlops_rollout_labelled{side=\"%s\"} %" PRId64 "\n",
             side, r->requests, side, r->errors, side, r->labelled);
    if (r->requests > 0)
        s_append(text, cap, n, "mlops_rollout_p99_seconds{side=\"%s\"} %.17g\n", side, r->p99_ms / 1000);
    if (r->labelled > 0)
        s_append(text, cap, n, "mlops_rollout_metric{side=\"%s\"} %.17g\n", side, r->metric);
}

char *rollout_metrics(rollout_t *self, const feedback_t *fb, size_t *len)
{
    size_t cap = 2048, n = 0;   //  the lines are a fixed set: well under cap
    char *text = malloc(cap);
    if (!text)
        return NULL;
    rollout_report_t r = rollout_report(self, fb);
    s_append(text, cap, &n, "# TYPE mlops_rollout_info gauge\nmlops_rollout_info{rollout=\"%s\","
             "version=\"%" PRId64 "\",percent=\"%g\"} 1\n"
             "# TYPE mlops_rollout_requests_total counter\n# TYPE mlops_rollout_errors_total counter\n"
             "# TYPE mlops_rollout_labelled gauge\n# TYPE mlops_rollout_p99_seconds gauge\n"
             "# TYPE mlops_rollout_metric gauge\n"
             "# TYPE mlops_rollout_warming gauge\nmlops_rollout_warming %d\n",
             S_KIND[self->state.rollout], self->state.version, self->state.percent, self->warming);
    s_side_metrics(text, cap, &n, "prod", &r.prod);
    s_side_metrics(text, cap, &n, "cand", &r.cand);
    s_append(text, cap, &n, "# TYPE mlops_rollout_shadow_total counter\n"
             "mlops_rollout_shadow_total{result=\"compared\"} %" PRId64 "\n"
             "mlops_rollout_shadow_total{result=\"agreed\"} %" PRId64 "\n"
             "mlops_rollout_shadow_total{result=\"skipped\"} %" PRId64 "\n",
             r.compared, r.agreed, r.skipped);
    *len = n < cap ? n : cap - 1;
    return text;
}
