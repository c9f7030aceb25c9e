/*  test_drift.c: the broker's drift monitor (broker/drift.c) on the
    synthetic Titanic table: rows sampled from the training rows never
    trigger; shifted numeric and categorical fields do, named in the
    reason; min_rows, the cooldown and the window's length are respected;
    reports of another shape or version are refused; and the flags' values
    are checked with their messages. The clock is an argument: no sleeps. */
#include "drift.h"
#include "ml_fixtures.h"
#include "profile_fit.h"
#include "rng.h"
#include "synth.h"
#include "testing.h"

#define TRAIN_ROWS 712
#define MIN_ROWS 1000
#define MIN_MS 60000

//  The training table, its recipe and reference, other draws of the same
//  population shifted (s_shifted), and a monitor of version 1.
typedef struct {
    table_t *train, *shifted;
    prep_recipe_t *r;
    profile_t *ref;
    drift_t *d;
    rng_t rng;
} s_fx_t;

static table_t *s_shifted(const table_t *t);
static drift_t *s_monitor(s_fx_t *fx, double threshold, int64_t cooldown_ms);

//  The fixture, its monitor with threshold and cooldown (min_rows MIN_ROWS).
static int s_setup(s_fx_t *fx, double threshold, int64_t cooldown_ms)
{
    *fx = (s_fx_t){.train = synth_generate(891, 42, NULL)};
    rng_seed(&fx->rng, 99, 0);
    table_t *other = synth_generate(5000, 7, NULL);
    size_t *rows = fx_all_rows(TRAIN_ROWS);
    if (fx->train && other && rows && (fx->r = fx_fit(fx->train, NULL)))
        fx->ref = profile_fit(fx->r, fx->train, rows, TRAIN_ROWS, NULL);
    free(rows);
    fx->shifted = other ? s_shifted(other) : NULL;
    table_destroy(&other);
    if (fx->ref)
        fx->d = s_monitor(fx, threshold, cooldown_ms);
    return fx->d && fx->shifted ? 0 : -1;
}

static void s_teardown(s_fx_t *fx)
{
    drift_destroy(&fx->d);
    profile_destroy(&fx->ref);
    prep_destroy(&fx->r);
    table_destroy(&fx->shifted);
    table_destroy(&fx->train);
}

//  A live profile of n rows drawn with replacement from the first `pool`
//  rows of t.
static profile_t *s_sample(s_fx_t *fx, const table_t *t, size_t pool, size_t n)
{
    profile_t *live = profile_new_like(fx->ref);
    size_t *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; rows && i < n; i++)
        rows[i] = rng_below(&fx->rng, pool);
    if (!rows || !live || profile_fit_add_rows(live, fx->r, t, rows, n, NULL) != 0)
        profile_destroy(&live);
    free(rows);
    return live;
}

//  A monitor watching version 1 against a copy of the reference.
static drift_t *s_monitor(s_fx_t *fx, double threshold, int64_t cooldown_ms)
{
    drift_config_t cfg;
    drift_config_default(&cfg);
    cfg.threshold = threshold;
    cfg.min_rows = MIN_ROWS;
    cfg.cooldown_ms = cooldown_ms;
    drift_t *d = drift_new(&cfg);
    profile_t *copy = profile_new_like(fx->ref);
    if (!d || !copy || profile_merge(copy, fx->ref, NULL) || drift_set_reference(d, 1, &copy, NULL))
        drift_destroy(&d);
    profile_destroy(&copy);
    return d;
}

//  Adds n rows sampled from the training rows (shifted: from the shifted
//  table) to version 1 at now.
static int s_add(s_fx_t *fx, bool shifted, size_t n, int64_t now)
{
    profile_t *live = shifted ? s_sample(fx, fx->shifted, fx->shifted->n_rows, n)
                              : s_sample(fx, fx->train, TRAIN_ROWS, n);
    int rc = live ? drift_add(fx->d, 1, live, now, NULL) : MLOPS_ENOMEM;
    profile_destroy(&live);
    return rc;
}

//  The other draws with Fare x3 and every Embarked "Q".
static table_t *s_shifted(const table_t *t)
{
    size_t *rows = fx_all_rows(t->n_rows);
    table_t *s = rows ? table_take(t, rows, t->n_rows) : NULL;
    free(rows);
    int fare = s ? table_find(s, "Fare") : -1, emb = s ? table_find(s, "Embarked") : -1;
    if (fare < 0 || emb < 0) {
        table_destroy(&s);
        return NULL;
    }
    table_col_t *e = &s->cols[emb];
    uint32_t q = 0;
    while (q < e->n_levels && strcmp(e->levels[q], "Q") != 0)
        q++;
    for (size_t i = 0; i < s->n_rows; i++) {
        s->cols[fare].num[i] *= 3;
        e->missing[i] = 0;
        e->codes[i] = q;
    }
    return q < e->n_levels ? s : (table_destroy(&s), NULL);
}

/* --- the decision --------------------------------------------------------------- */

static void test_training_rows_never_trigger(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, 1) == 0);
    int64_t step = (DRIFT_BUCKETS + 1) * (int64_t)DRIFT_BUCKET_MSEC_DEFAULT;   //  a fresh window each
    int fired = 0;
    double top = 0;
    for (int w = 0; w < 40; w++) {
        drift_report_t rep;
        CHECK_INT(s_add(&fx, false, MIN_ROWS, w * step), 0);
        CHECK_INT(drift_check(fx.d, 1, w * step, &rep), 0);
        CHECK(rep.measured);
        CHECK_INT(rep.rows, MIN_ROWS);
        fired += rep.trigger;
        for (size_t k = 0; k < rep.n_fields; k++)
            top = rep.fields[k].js > top ? rep.fields[k].js : top;
    }
    s_teardown(&fx);
    CHECK_INT(fired, 0);
    CHECK(top < DRIFT_THRESHOLD_DEFAULT);
}

static void test_shifted_fields_trigger_and_are_named(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, 1) == 0);
    drift_report_t rep;
    CHECK_INT(s_add(&fx, true, MIN_ROWS, 0), 0);
    CHECK_INT(drift_check(fx.d, 1, 0, &rep), 0);
    CHECK(rep.trigger);
    CHECK_INT(rep.n_drifted, 2);
    CHECK(rep.fields[6].drifted && rep.fields[5].drifted);   //  Embarked, Fare
    CHECK(rep.fields[6].js > rep.fields[5].js);               //  all "Q" moves more
    CHECK(rep.fields[5].psi > 0.5);
    //  most drifted first, two decimals
    char want[RECORD_TEXT_MAX];
    snprintf(want, sizeof want, "drift: Embarked %.2f, Fare %.2f", rep.fields[6].js, rep.fields[5].js);
    CHECK_STR(rep.reason, want);
    s_teardown(&fx);
}

static void test_min_rows_respected(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, 1) == 0);
    drift_report_t rep;
    //  999 shifted rows in two reports: measured (for the gauges) but no decision
    CHECK_INT(s_add(&fx, true, 500, 0), 0);
    CHECK_INT(s_add(&fx, true, 499, MIN_MS), 0);
    CHECK_INT(drift_check(fx.d, 1, MIN_MS, &rep), 0);
    CHECK_INT(rep.rows, 999);
    CHECK(!rep.measured && !rep.trigger && rep.n_drifted == 0);
    CHECK(rep.fields[5].js > DRIFT_THRESHOLD_DEFAULT);   //  distances are still there
    CHECK_STR(rep.reason, "");
    //  the thousandth row decides
    CHECK_INT(s_add(&fx, true, 1, 2 * MIN_MS), 0);
    CHECK_INT(drift_check(fx.d, 1, 2 * MIN_MS, &rep), 0);
    CHECK(rep.measured && rep.trigger);
    s_teardown(&fx);
}

static void test_cooldown_respected(void)
{
    s_fx_t fx;
    int64_t cooldown = 30 * MIN_MS;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, cooldown) == 0);
    drift_report_t rep;
    CHECK_INT(s_add(&fx, true, MIN_ROWS, 0), 0);
    CHECK_INT(drift_check(fx.d, 1, 0, &rep), 0);
    CHECK(rep.trigger);
    //  still drifted all through the cooldown, and no second trigger
    for (int64_t t = MIN_MS; t < cooldown; t += 5 * MIN_MS) {
        CHECK_INT(s_add(&fx, true, 100, t), 0);
        CHECK_INT(drift_check(fx.d, 1, t, &rep), 0);
        CHECK(rep.n_drifted == 2 && !rep.trigger);
        CHECK_STR(rep.reason, "");
    }
    CHECK_INT(drift_check(fx.d, 1, cooldown - 1, &rep), 0);
    CHECK(!rep.trigger);
    CHECK_INT(drift_check(fx.d, 1, cooldown, &rep), 0);
    CHECK(rep.trigger);
    s_teardown(&fx);
}

static void test_window_forgets_old_rows(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, 1) == 0);
    int64_t window = DRIFT_BUCKETS * (int64_t)DRIFT_BUCKET_MSEC_DEFAULT;
    drift_report_t rep;
    CHECK_INT(s_add(&fx, true, MIN_ROWS, 0), 0);
    CHECK_INT(drift_check(fx.d, 1, window - 1, &rep), 0);   //  the last moment inside
    CHECK_INT(rep.rows, MIN_ROWS);
    CHECK_INT(drift_check(fx.d, 1, window, &rep), 0);       //  its bucket left the window
    CHECK_INT(rep.rows, 0);
    CHECK(!rep.measured && !rep.trigger);
    CHECK_NEAR(rep.fields[5].js, 0, 0);
    //  in-distribution rows after the shift ended: no trigger
    CHECK_INT(s_add(&fx, false, MIN_ROWS, window + 1), 0);
    CHECK_INT(drift_check(fx.d, 1, window + 1, &rep), 0);
    CHECK(rep.measured && !rep.trigger);
    s_teardown(&fx);
}

static void test_off_never_triggers(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, 0, 1) == 0);   //  threshold 0: monitoring only
    drift_report_t rep;
    CHECK_INT(s_add(&fx, true, MIN_ROWS, 0), 0);
    CHECK_INT(drift_check(fx.d, 1, 0, &rep), 0);
    CHECK(rep.measured && !rep.trigger && rep.n_drifted == 0);
    CHECK(rep.fields[5].js > 0.3);
    s_teardown(&fx);
}

/* --- versions and reports ---------------------------------------------------------- */

static void test_reports_of_unknown_versions_and_shapes(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, 1) == 0);
    profile_t *live = s_sample(&fx, fx.train, TRAIN_ROWS, 10);
    CHECK(live != NULL);
    mlops_err_t err;
    CHECK_INT(drift_add(fx.d, 2, live, 0, &err), MLOPS_ENOTFOUND);
    CHECK_STR(err.msg, "drift: no reference profile for version 2");
    drift_report_t rep;
    CHECK_INT(drift_check(fx.d, 2, 0, &rep), MLOPS_ENOTFOUND);
    profile_t *other = profile_new(1);
    double e = 1;
    CHECK(other && profile_set_number(other, 0, "Fare", &e, 1, NULL) == 0);
    CHECK_INT(drift_add(fx.d, 1, other, 0, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "profile: 1 fields, the reference has 7");
    CHECK_INT(drift_check(fx.d, 1, 0, &rep), 0);
    CHECK_INT(rep.rows, 0);   //  nothing refused was counted
    profile_destroy(&other);
    profile_destroy(&live);
    s_teardown(&fx);
}

static void test_oldest_version_is_dropped(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, 1) == 0);   //  version 1
    for (uint64_t v = 2; v <= DRIFT_VERSIONS_MAX + 1; v++) {
        profile_t *ref = profile_new_like(fx.ref);
        CHECK(ref != NULL);
        CHECK_INT(drift_set_reference(fx.d, v, &ref, NULL), 0);
        CHECK(ref == NULL);
    }
    drift_report_t rep;
    CHECK_INT(drift_check(fx.d, 1, 0, &rep), MLOPS_ENOTFOUND);
    for (uint64_t v = 2; v <= DRIFT_VERSIONS_MAX + 1; v++)
        CHECK_INT(drift_check(fx.d, v, 0, &rep), 0);
    //  setting a watched version again empties its window
    profile_t *live = s_sample(&fx, fx.train, TRAIN_ROWS, 5);
    CHECK(live && drift_add(fx.d, 2, live, 0, NULL) == 0);
    profile_destroy(&live);
    profile_t *ref = profile_new_like(fx.ref);
    CHECK(ref && drift_set_reference(fx.d, 2, &ref, NULL) == 0);
    CHECK_INT(drift_check(fx.d, 2, 0, &rep), 0);
    CHECK_INT(rep.rows, 0);
    CHECK_INT(drift_check(fx.d, 3, 0, &rep), 0);
    s_teardown(&fx);
    CHECK(fx.d == NULL);
}

//  drift_measure reports what drift_check would see but decides nothing:
//  a later check still triggers; drift_versions lists references in the
//  order they were set.
static void test_measure_decides_nothing(void)
{
    s_fx_t fx;
    CHECK(s_setup(&fx, DRIFT_THRESHOLD_DEFAULT, MIN_MS) == 0);
    CHECK_INT(s_add(&fx, true, MIN_ROWS, 0), 0);
    drift_report_t rep;
    for (int i = 0; i < 2; i++) {
        CHECK_INT(drift_measure(fx.d, 1, 0, &rep), 0);
        CHECK(rep.measured && rep.n_drifted == 2 && !rep.trigger && rep.reason[0] == '\0');
    }
    CHECK_INT(drift_check(fx.d, 1, 0, &rep), 0);
    CHECK(rep.trigger);
    CHECK_INT(drift_measure(fx.d, 9, 0, &rep), MLOPS_ENOTFOUND);
    profile_t *ref = profile_new_like(fx.ref);
    CHECK(ref && drift_set_reference(fx.d, 7, &ref, NULL) == 0);
    uint64_t ids[DRIFT_VERSIONS_MAX];
    CHECK_INT(drift_versions(fx.d, ids, DRIFT_VERSIONS_MAX), 2);
    CHECK(ids[0] == 1 && ids[1] == 7);
    CHECK_INT(drift_versions(fx.d, ids, 1), 1);
    s_teardown(&fx);
}

/* --- flags ---------------------------------------------------------------------------- */

static void test_flags(void)
{
    drift_config_t cfg;
    mlops_err_t err;
    CHECK_INT(drift_config_parse(&cfg, NULL, NULL, NULL, &err), 0);
    CHECK(cfg.threshold == 0);   //  off by default
    CHECK_INT(drift_config_parse(&cfg, "0.2", "500", "10m", &err), 0);
    CHECK_NEAR(cfg.threshold, 0.2, 0);
    CHECK_INT(cfg.min_rows, 500);
    CHECK_INT(cfg.cooldown_ms, 600000);
    CHECK_INT(drift_config_parse(&cfg, "1", NULL, NULL, &err), 0);
    CHECK_INT(cfg.min_rows, DRIFT_MIN_ROWS_DEFAULT);
    CHECK_INT(cfg.cooldown_ms, DRIFT_COOLDOWN_MSEC_DEFAULT);
    static const struct {
        const char *threshold, *min_rows, *cooldown, *msg;
    } bad[] = {
        {"0", NULL, NULL,
         "--drift-threshold wants a distance in (0, 1] (0 would call every field drifted), not '0'"},
        {"1.5", NULL, NULL, "--drift-threshold wants a number in 0..1, not '1.5'"},
        {"-0.1", NULL, NULL, "--drift-threshold wants a number in 0..1, not '-0.1'"},
        {"high", NULL, NULL, "--drift-threshold wants a number in 0..1, not 'high'"},
        {"0.1", "0", NULL, "--drift-min-rows wants a whole number in 1..100000000, not '0'"},
        {"0.1", "1e3", NULL, "--drift-min-rows wants a whole number in 1..100000000, not '1e3'"},
        {"0.1", NULL, "10", "--drift-cooldown: "},
        {"0.1", NULL, "10ms", "--drift-cooldown: '10ms' is out of range 1s..30d"},
        {NULL, "100", NULL, "--drift-min-rows needs --drift-threshold"},
        {NULL, NULL, "1h", "--drift-cooldown needs --drift-threshold"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mlops_err_clear(&err);
        CHECK_INT(drift_config_parse(&cfg, bad[i].threshold, bad[i].min_rows, bad[i].cooldown, &err),
                  MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK(cfg.threshold == 0);   //  a refusal leaves the defaults
    }
}

int main(void)
{
    RUN(test_training_rows_never_trigger);
    RUN(test_shifted_fields_trigger_and_are_named);
    RUN(test_min_rows_respected);
    RUN(test_cooldown_respected);
    RUN(test_window_forgets_old_rows);
    RUN(test_off_never_triggers);
    RUN(test_reports_of_unknown_versions_and_shapes);
    RUN(test_oldest_version_is_dropped);
    RUN(test_measure_decides_nothing);
    RUN(test_flags);
    return TEST_REPORT("test_drift");
}
