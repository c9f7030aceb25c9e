/*  test_infer_profile.c: the inference worker's live profiles
    (workers/infer_profile.c) and the SERVING key that carries them:
    served records counted as profile_fit counts the same table rows, from
    the cells model_serve_cells kept, to the byte as counting each record
    mapped again (what the worker did before it kept them), a
    take hands each version's rows over once, a model without a reference
    profile is not profiled, slots are reused for new versions, and rows
    counted on one thread while another takes are neither lost nor counted
    twice.
*/
#include "artifact.h"
#include "infer_profile.h"
#include "ml_fixtures.h"
#include "model.h"
#include "profile_fit.h"
#include "signature.h"
#include "testing.h"

#include <pthread.h>

#define ROWS_MAX FX_TRAINED_ROWS
#define FIELDS_MAX 16

typedef struct {
    fx_trained_t s;
    model_t *model;
    proto_field_t fields[ROWS_MAX][FIELDS_MAX];
    proto_record_t recs[ROWS_MAX];
    prep_cell_t cells[ROWS_MAX * FIELDS_MAX];   //  the records' cells, as served
} s_fx_t;

//  The cells the worker's serving keeps of n records (all valid) into cells.
static void s_cells(const model_t *m, const proto_record_t *recs, size_t n, prep_cell_t *cells)
{
    static double out[ROWS_MAX];
    proto_problem_t pb[1];
    size_t bad = 1;
    if (model_recipe(m)->n_inputs > FIELDS_MAX
        || model_serve_cells(m, recs, n, pb, 1, &bad, out, cells, NULL) != 0 || bad != 0)
        abort();
}

static void s_fx_init(s_fx_t *fx)
{
    if (fx_train(&fx->s, 42) != 0 || !(fx->model = model_load(fx->s.blob[1], fx->s.len[1], NULL)))
        abort();
    for (size_t i = 0; i < fx->s.t->n_rows; i++)
        fx->recs[i] = fx_record(fx->s.t, i, fx->fields[i]);
    s_cells(fx->model, fx->recs, fx->s.t->n_rows, fx->cells);
}

static void s_fx_free(s_fx_t *fx)
{
    model_destroy(&fx->model);
    fx_trained_free(&fx->s);
}

//  The take's profile, decoded (NULL when there was none).
static profile_t *s_take(infer_profile_t *p, int64_t *version)
{
    uint8_t *b = NULL;
    size_t n = 0;
    if (infer_profile_take(p, version, &b, &n) != 0)
        abort();
    profile_t *got = b ? profile_decode(b, n, NULL) : NULL;
    free(b);
    return got;
}

static void test_counts_served_records_as_the_table_rows(void)
{
    s_fx_t fx;
    s_fx_init(&fx);
    infer_profile_t *p = infer_profile_new(0);
    CHECK(p != NULL);
    size_t n = fx.s.pr.n_test;
    const size_t *rows = fx.s.pr.test_rows;
    proto_record_t recs[ROWS_MAX];
    static prep_cell_t cells[ROWS_MAX * FIELDS_MAX];
    for (size_t i = 0; i < n; i++)
        recs[i] = fx.recs[rows[i]];
    s_cells(fx.model, recs, n, cells);
    size_t ni = model_recipe(fx.model)->n_inputs;
    infer_profile_add(p, 7, fx.model, cells, n / 2);
    infer_profile_add(p, 7, fx.model, cells + n / 2 * ni, n - n / 2);
    int64_t v = -1;
    profile_t *got = s_take(p, &v);
    CHECK(got != NULL);
    CHECK_INT(v, 7);
    profile_t *want = profile_new_like(model_profile(fx.model));
    CHECK_INT(profile_fit_add_rows(want, model_recipe(fx.model), fx.s.t, rows, n, NULL), 0);
    CHECK_INT(got->rows, n);
    CHECK_INT(profile_check_shape(want, got, NULL), 0);
    for (size_t k = 0; k < want->n_fields; k++) {
        CHECK_INT(got->fields[k].missing, want->fields[k].missing);
        for (size_t b = 0; b < want->fields[k].n_counts; b++)
            CHECK_INT(got->fields[k].counts[b], want->fields[k].counts[b]);
    }
    profile_destroy(&got);
    profile_destroy(&want);
    //  taken once: nothing until more is served
    CHECK(s_take(p, &v) == NULL);
    CHECK_INT(v, 0);
    //  version 0 (none) and an empty batch count nothing
    infer_profile_add(p, 0, fx.model, cells, n);
    infer_profile_add(p, 7, fx.model, cells, 0);
    CHECK(s_take(p, &v) == NULL);
    infer_profile_destroy(&p);
    CHECK(p == NULL);
    s_fx_free(&fx);
}

//  The profile of the served cells is, to the byte, the one of the same
//  records each mapped to the signature again (signature_map, as the worker
//  counted before model_serve_cells kept the cells): a batch of every
//  fixture row, its names shared as the PREDICT decoder shares them.
static void test_served_cells_count_as_records_mapped_again(void)
{
    s_fx_t fx;
    s_fx_init(&fx);
    size_t n = fx.s.t->n_rows;
    const prep_recipe_t *r = model_recipe(fx.model);
    profile_t *want = profile_new_like(model_profile(fx.model));
    CHECK(want != NULL);
    const proto_field_t *map[FIELDS_MAX];
    prep_cell_t cells[FIELDS_MAX];
    for (size_t i = 0; want && i < n; i++) {
        signature_map(r, &fx.recs[i], map);
        signature_cells(r, map, cells);
        profile_fit_add_cells(want, r, cells);
    }
    infer_profile_t *p = infer_profile_new(0);
    infer_profile_add(p, 9, fx.model, fx.cells, n);
    int64_t v = 0;
    uint8_t *got = NULL, *wb = NULL;
    size_t got_len = 0, want_len = 0;
    CHECK_INT(infer_profile_take(p, &v, &got, &got_len), 0);
    CHECK_INT(v, 9);
    CHECK_INT(want ? profile_encode(want, &wb, &want_len) : -1, 0);
    CHECK(got && wb && got_len == want_len && memcmp(got, wb, got_len) == 0);
    free(got);
    free(wb);
    profile_destroy(&want);
    infer_profile_destroy(&p);
    s_fx_free(&fx);
}

//  A profile over the report limit is not sent: its rows are dropped.
static void test_too_wide_to_report(void)
{
    s_fx_t fx;
    s_fx_init(&fx);
    infer_profile_t *p = infer_profile_new(64);
    infer_profile_add(p, 2, fx.model, fx.cells, 10);
    int64_t v = -1;
    uint8_t *b = (uint8_t *)"x";
    size_t n = 1;
    CHECK_INT(infer_profile_take(p, &v, &b, &n), MLOPS_ETOOBIG);
    CHECK(b == NULL && n == 0 && v == 0);
    CHECK(s_take(p, &v) == NULL);   //  dropped, not kept for later
    infer_profile_destroy(&p);
    s_fx_free(&fx);
}

static void test_model_without_profile_is_not_profiled(void)
{
    s_fx_t fx;
    s_fx_init(&fx);
    artifact_t a;
    CHECK_INT(artifact_decode(fx.s.blob[0], fx.s.len[0], &a, NULL), 0);
    profile_destroy(&a.profile);   //  as an artifact made before profiles
    uint8_t *blob = NULL;
    size_t len = 0;
    CHECK_INT(artifact_encode(&a, &blob, &len), 0);
    artifact_clear(&a);
    model_t *old = model_load(blob, len, NULL);
    CHECK(old != NULL && model_profile(old) == NULL);
    infer_profile_t *p = infer_profile_new(0);
    infer_profile_add(p, 3, old, fx.cells, 10);
    int64_t v = -1;
    CHECK(s_take(p, &v) == NULL);
    infer_profile_destroy(&p);
    model_destroy(&old);
    free(blob);
    s_fx_free(&fx);
}

//  Counting turned off (--drift-profile off) counts nothing, and on again
//  counts as before.
static void test_off_counts_nothing(void)
{
    s_fx_t fx;
    s_fx_init(&fx);
    infer_profile_t *p = infer_profile_new(0);
    infer_profile_set_on(p, false);
    infer_profile_add(p, 4, fx.model, fx.cells, 10);
    int64_t v = -1;
    CHECK(s_take(p, &v) == NULL);
    CHECK_INT(v, 0);
    infer_profile_set_on(p, true);
    infer_profile_add(p, 4, fx.model, fx.cells, 10);
    profile_t *got = s_take(p, &v);
    CHECK(got != NULL && got->rows == 10);
    CHECK_INT(v, 4);
    profile_destroy(&got);
    infer_profile_destroy(&p);
    s_fx_free(&fx);
}

static void test_versions_take_turns_and_slots_are_reused(void)
{
    s_fx_t fx;
    s_fx_init(&fx);
    infer_profile_t *p = infer_profile_new(0);
    //  one more version than slots: the one served longest ago (1) goes
    for (int64_t v = 1; v <= INFER_PROFILE_VERSIONS + 1; v++)
        infer_profile_add(p, v, fx.model, fx.cells, (size_t)v);
    bool seen[INFER_PROFILE_VERSIONS + 2] = {0};
    for (int k = 0; k < INFER_PROFILE_VERSIONS; k++) {
        int64_t v = 0;
        profile_t *got = s_take(p, &v);
        CHECK(got != NULL && v >= 2 && v <= INFER_PROFILE_VERSIONS + 1);
        if (got && v >= 2 && v <= INFER_PROFILE_VERSIONS + 1) {
            CHECK(!seen[v]);
            seen[v] = true;
            CHECK_INT(got->rows, (uint64_t)v);
        }
        profile_destroy(&got);
    }
    int64_t v = 0;
    CHECK(s_take(p, &v) == NULL);
    infer_profile_destroy(&p);
    s_fx_free(&fx);
}

#define SERVE_TURNS 2000

typedef struct {
    infer_profile_t *p;
    s_fx_t *fx;
} s_server_t;

static void *s_serve_fn(void *arg)
{
    s_server_t *sv = arg;
    for (int i = 0; i < SERVE_TURNS; i++)
        infer_profile_add(sv->p, 1 + i % 2, sv->fx->model, sv->fx->cells, 1 + (size_t)i % 3);
    return NULL;
}

//  A feed taking while the serving thread counts: every row exactly once.
static void test_rows_survive_concurrent_takes(void)
{
    s_fx_t fx;
    s_fx_init(&fx);
    infer_profile_t *p = infer_profile_new(0);
    s_server_t sv = {p, &fx};
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, s_serve_fn, &sv), 0);
    uint64_t taken = 0, want = 0;
    for (int i = 0; i < SERVE_TURNS; i++)
        want += 1 + (uint64_t)i % 3;
    for (int i = 0; i < 200; i++) {
        int64_t v = 0;
        profile_t *got = s_take(p, &v);
        taken += got ? got->rows : 0;
        profile_destroy(&got);
    }
    pthread_join(th, NULL);
    for (;;) {
        int64_t v = 0;
        profile_t *got = s_take(p, &v);
        if (!got)
            break;
        taken += got->rows;
        profile_destroy(&got);
    }
    CHECK_INT(taken, want);
    infer_profile_destroy(&p);
    s_fx_free(&fx);
}

//  SERVING's profile keys: MLOPS/2, omitted when empty, round-tripped.
static void test_serving_carries_a_profile(void)
{
    static const uint8_t prof[] = {0x80};   //  the bytes are the broker's to check
    proto_msg_t m = {.cmd = PROTO_SERVING,
                     .serving = {.host = "h", .pid = 5, .model_version = 3, .profile_version = 3,
                                 .profile = prof, .profile_len = sizeof prof}};
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK_INT(proto_msg_encode(&m, &b, &n), 0);
    CHECK_INT(b[1], 2);   //  [version, command, body]: the envelope says MLOPS/2
    mlops_err_t err;
    proto_msg_t *back = proto_msg_decode(b, n, &err);
    CHECK(back != NULL);
    if (back) {
        CHECK_INT(back->serving.profile_version, 3);
        CHECK_INT(back->serving.profile_len, 1);
        CHECK(back->serving.profile[0] == 0x80);
        proto_msg_destroy(&back);
    }
    free(b);
    //  without one, neither key is on the wire (and the envelope stays MLOPS/1)
    m.serving.profile_version = 0, m.serving.profile = NULL, m.serving.profile_len = 0;
    CHECK_INT(proto_msg_encode(&m, &b, &n), 0);
    CHECK_INT(b[1], 1);
    back = proto_msg_decode(b, n, &err);
    CHECK(back != NULL && back->serving.profile_len == 0 && back->serving.profile_version == 0);
    proto_msg_destroy(&back);
    free(b);
}

int main(void)
{
    RUN(test_counts_served_records_as_the_table_rows);
    RUN(test_served_cells_count_as_records_mapped_again);
    RUN(test_model_without_profile_is_not_profiled);
    RUN(test_too_wide_to_report);
    RUN(test_off_counts_nothing);
    RUN(test_versions_take_turns_and_slots_are_reused);
    RUN(test_rows_survive_concurrent_takes);
    RUN(test_serving_carries_a_profile);
    return TEST_REPORT("test_infer_profile");
}
