/*  test_stage_io.c: the stage payload codecs (proto/stage_io.c): stage
    names, round trips of every payload (refs, not bytes), the version
    check before anything else, strict decoding with the key named, the
    optional task type (absent when binary, so those bytes do not change).
    The control replies are in test_control_io.c. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "stage_io.h"
#include "testing.h"

#define S_HASH "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"

//  A packer writing into a fresh sbuffer, for hand-made payloads.
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_pack_t;

static void s_key(s_pack_t *p, const char *key)
{
    msgpack_pack_str_with_body(&p->pk, key, strlen(key));
}

//  Starts a map of n keys after `v: 2` (n + 1 keys in all).
static void s_pack_init(s_pack_t *p, size_t n)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p->pk, (uint32_t)n + 1);
    s_key(p, "v"), msgpack_pack_int(&p->pk, STAGE_PAYLOAD_VERSION);
}

//  Packs {v: 2, key: value-as-str} to feed decoders something wrong on purpose.
static size_t s_pack_map_str(char *out, size_t size, const char *key, const char *val)
{
    s_pack_t p;
    s_pack_init(&p, 1);
    s_key(&p, key);
    msgpack_pack_str_with_body(&p.pk, val, strlen(val));
    size_t n = p.sb.size < size ? p.sb.size : size;
    memcpy(out, p.sb.data, n);
    msgpack_sbuffer_destroy(&p.sb);
    return n;
}

static stage_ref_t s_ref(int64_t size)
{
    stage_ref_t r = {.hash = S_HASH, .size = size};
    return r;
}

static void test_train_in_round_trip(void)
{
    stage_train_in_t in = {.table = s_ref(3), .recipe = s_ref(1), .split = s_ref(7), .seed = 42};
    snprintf(in.family, sizeof in.family, "forest");
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_train_in_encode(&in, &buf, &len), 0);
    CHECK(len < 512);                                 //  names, never bytes
    stage_train_in_t out;
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(stage_train_in_decode(buf, len, &out, &err), 0);
    CHECK_INT(out.v, STAGE_PAYLOAD_VERSION);          //  written whatever in.v held
    CHECK_STR(out.family, "forest");
    CHECK_STR(out.params, "");
    CHECK_INT(out.seed, 42);
    CHECK_STR(out.table.hash, S_HASH);
    CHECK_INT(out.table.size, 3);
    CHECK_INT(out.split.size, 7);
    //  every truncation is refused, never read past
    for (size_t cut = 0; cut < len; cut++) {
        stage_train_in_t bad;
        CHECK(stage_train_in_decode(buf, cut, &bad, &err) != 0);
    }
    free(buf);
}

static void test_evaluate_round_trip_and_limits(void)
{
    stage_evaluate_in_t in = {.table = s_ref(1), .split = s_ref(2), .n_candidates = 2};
    snprintf(in.candidates[0].key, sizeof in.candidates[0].key, "1-train-logreg");
    snprintf(in.candidates[0].family, sizeof in.candidates[0].family, "logreg");
    in.candidates[0].artifact = s_ref(1);
    snprintf(in.candidates[1].key, sizeof in.candidates[1].key, "1-train-forest");
    in.candidates[1].artifact = s_ref(2);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_evaluate_in_encode(&in, &buf, &len), 0);
    stage_evaluate_in_t out;
    mlops_err_t err;
    CHECK_INT(stage_evaluate_in_decode(buf, len, &out, &err), 0);
    CHECK_INT(out.n_candidates, 2);
    CHECK_STR(out.candidates[1].key, "1-train-forest");
    CHECK_INT(out.candidates[1].artifact.size, 2);
    CHECK_STR(out.production.hash, "");               //  no production model
    free(buf);
    in.n_candidates = STAGE_CANDIDATES_MAX + 1;
    CHECK_INT(stage_evaluate_in_encode(&in, &buf, &len), MLOPS_EINVAL);

    stage_evaluate_out_t ev = {.n_scored = 1, .production_version = 2};
    ev.scored[0].metrics.auc = 0.875;
    ev.scored[0].metrics.tp = 7;
    ev.production.auc = 0.5;
    CHECK_INT(stage_evaluate_out_encode(&ev, &buf, &len), 0);
    stage_evaluate_out_t ev2;
    CHECK_INT(stage_evaluate_out_decode(buf, len, &ev2, &err), 0);
    CHECK_NEAR(ev2.scored[0].metrics.auc, 0.875, 0);
    CHECK_INT(ev2.scored[0].metrics.tp, 7);
    CHECK_INT(ev2.production_version, 2);
    CHECK_NEAR(ev2.production.auc, 0.5, 0);
    free(buf);
}

//  A payload of another version is refused as such, before its keys are
//  looked at: version 1 (no `v`, the bytes inline), a later one, or `v`
//  anywhere in the map.
static void test_version_refused_first(void)
{
    mlops_err_t err;
    stage_extract_out_t out;
    s_pack_t p;
    msgpack_sbuffer_init(&p.sb);
    msgpack_packer_init(&p.pk, &p.sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p.pk, 2);                       //  a version 1 extract output
    s_key(&p, "dataset_hash"), msgpack_pack_str_with_body(&p.pk, "ab", 2);
    s_key(&p, "table"), msgpack_pack_bin_with_body(&p.pk, "TBL", 3);
    int rc = stage_extract_out_decode((uint8_t *)p.sb.data, p.sb.size, &out, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EVERSION);
    CHECK_STR(err.msg, "payload: stage payload version 1 (no \"v\" key); this peer speaks 2 "
                       "(data by reference, PROTOCOL.md section 14)");
    static const uint8_t v3_last[] = {0x82, 0xa1, 'x', 0xc0, 0xa1, 'v', 0xcd, 0x01, 0x00};
    CHECK_INT(stage_extract_out_decode(v3_last, sizeof v3_last, &out, &err), MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "payload: stage payload version 256; this peer speaks 2");
    static const uint8_t v_neg[] = {0x81, 0xa1, 'v', 0xff};
    CHECK_INT(stage_extract_out_decode(v_neg, sizeof v_neg, &out, &err), MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "version -1;");
    static const uint8_t v_str[] = {0x81, 0xa1, 'v', 0xa1, '2'};   //  left to the strict decoder
    CHECK_INT(stage_extract_out_decode(v_str, sizeof v_str, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "v: expected integer, got string");
}

static void test_decode_errors_name_the_key(void)
{
    char buf[128];
    mlops_err_t err;
    stage_extract_out_t out;
    size_t n = s_pack_map_str(buf, sizeof buf, "sourse", "x");
    stage_extract_in_t in;
    CHECK_INT(stage_extract_in_decode((uint8_t *)buf, n, &in, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: unknown key \"sourse\"");
    n = s_pack_map_str(buf, sizeof buf, "source", "x");
    CHECK_INT(stage_extract_in_decode((uint8_t *)buf, n, &in, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "dataset: missing");
    n = s_pack_map_str(buf, sizeof buf, "table", "many");
    CHECK_INT(stage_extract_out_decode((uint8_t *)buf, n, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "table: expected map, got string");
    buf[n] = 0x01;                                    //  one trailing byte
    CHECK_INT(stage_extract_out_decode((uint8_t *)buf, n + 1, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: 1 trailing bytes");
    CHECK_INT(stage_extract_out_decode((uint8_t *)"\xc1", 1, &out, &err), MLOPS_EPROTO);
    CHECK_INT(stage_extract_out_decode(NULL, 0, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: msgpack truncated at byte 0");
    char family[41];
    memset(family, 'f', 40);
    family[40] = '\0';
    n = s_pack_map_str(buf, sizeof buf, "family", family);
    stage_train_out_t t;
    CHECK_INT(stage_train_out_decode((uint8_t *)buf, n, &t, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "family: string of 40 bytes exceeds the limit of 31");
}

static void test_nested_error_path(void)
{
    stage_load_model_out_t lm = {.version = 3, .n_predicted = 2};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_load_model_out_encode(&lm, &buf, &len), 0);
    //  corrupt the first float of metrics into a string fixstr header:
    //  find "accuracy" and damage the byte after it (float64 marker 0xcb)
    uint8_t *p = memmem(buf, len, "accuracy", 8);
    CHECK(p && p[8] == 0xcb);
    p[8] = 0xc0;                                      //  nil, then 8 stray bytes
    stage_load_model_out_t out;
    mlops_err_t err;
    CHECK(stage_load_model_out_decode(buf, len, &out, &err) != 0);
    free(buf);
    CHECK_INT(stage_load_model_out_encode(&lm, &buf, &len), 0);
    p = memmem(buf, len, "accuracy", 8);
    p[1] = 'X';                                       //  key becomes "aXcuracy"
    CHECK_INT(stage_load_model_out_decode(buf, len, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "metrics: unknown key \"aXcuracy\"");
    free(buf);
    //  a ref's size is an int >= 0
    stage_train_out_t t = {.artifact = s_ref(5)};
    CHECK_INT(stage_train_out_encode(&t, &buf, &len), 0);
    p = memmem(buf, len, "size", 4);
    CHECK(p && p[4] == 0x05);
    p[4] = 0xff;                                      //  -1
    CHECK_INT(stage_train_out_decode(buf, len, &t, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "artifact.size: ");
    free(buf);
}

//  The one engine (fields.h) gives stage payloads the records' strictness:
//  metrics are floats, ints are range-checked, rows are bounded, and the
//  message names the key path and what came instead.
static void test_payload_strictness(void)
{
    mlops_err_t err;
    s_pack_t p;
    //  preprocess: test_fraction takes an integer (a number) but not a string
    s_pack_init(&p, 4);
    s_key(&p, "table");
    msgpack_pack_map(&p.pk, 2);
    s_key(&p, "hash"), msgpack_pack_str_with_body(&p.pk, S_HASH, 64);
    s_key(&p, "size"), msgpack_pack_int(&p.pk, 9);
    s_key(&p, "target"), msgpack_pack_str_with_body(&p.pk, "", 0);
    s_key(&p, "test_fraction"), msgpack_pack_int(&p.pk, 1);
    s_key(&p, "seed"), msgpack_pack_int(&p.pk, 3);
    stage_preprocess_in_t pin;
    int rc = stage_preprocess_in_decode((uint8_t *)p.sb.data, p.sb.size, &pin, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, 0);
    CHECK_NEAR(pin.test_fraction, 1.0, 0);
    CHECK_INT(pin.table.size, 9);
    s_pack_init(&p, 1);
    s_key(&p, "test_fraction"), msgpack_pack_str_with_body(&p.pk, "x", 1);
    rc = stage_preprocess_in_decode((uint8_t *)p.sb.data, p.sb.size, &pin, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "test_fraction: expected number, got string");

    //  load_model out: a metric given as an integer is refused (section 11.3)
    s_pack_init(&p, 1);
    s_key(&p, "metrics");
    msgpack_pack_map(&p.pk, 1);
    s_key(&p, "auc"), msgpack_pack_int(&p.pk, 1);
    stage_load_model_out_t lout;
    rc = stage_load_model_out_decode((uint8_t *)p.sb.data, p.sb.size, &lout, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "metrics.auc: expected float, got integer");

    //  split rows: a negative index; more candidates than an evaluate takes
    s_pack_init(&p, 1);
    s_key(&p, "test_rows");
    msgpack_pack_array(&p.pk, 2);
    msgpack_pack_int(&p.pk, 0);
    msgpack_pack_int(&p.pk, -1);
    stage_split_t split;
    rc = stage_split_decode((uint8_t *)p.sb.data, p.sb.size, &split, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "test_rows[1]: expected a row index, got integer");
    CHECK(split.test_rows == NULL);                   //  a failed decode owns nothing
    s_pack_init(&p, 1);
    s_key(&p, "candidates");
    msgpack_pack_array(&p.pk, STAGE_CANDIDATES_MAX + 1);
    for (int i = 0; i <= STAGE_CANDIDATES_MAX; i++)
        msgpack_pack_map(&p.pk, 0);
    stage_evaluate_in_t ein;
    rc = stage_evaluate_in_decode((uint8_t *)p.sb.data, p.sb.size, &ein, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "candidates: 9 entries exceed the limit of 8");

    //  a ref is a map, nothing else
    s_pack_init(&p, 2);
    s_key(&p, "source"), msgpack_pack_str_with_body(&p.pk, "x", 1);
    s_key(&p, "dataset"), msgpack_pack_bin_with_body(&p.pk, "TBL", 3);
    stage_extract_in_t xin;
    rc = stage_extract_in_decode((uint8_t *)p.sb.data, p.sb.size, &xin, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "dataset: expected map, got bin");

    //  nesting deeper than the table needs is refused before decoding
    static const uint8_t deep[] = {0x82, 0xa1, 'v', 0x02, 0xa5, 't', 'a', 'b', 'l', 'e',
                                   0x81, 0xa1, 'x', 0x91, 0x91, 0x90};
    stage_extract_out_t xout;
    CHECK_INT(stage_extract_out_decode(deep, sizeof deep, &xout, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: msgpack nested deeper than 3");

    //  a string filling its whole array is cut to fit, so it decodes again
    stage_train_out_t tout = {0};
    memset(tout.family, 'f', sizeof tout.family);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_train_out_encode(&tout, &buf, &len), 0);
    rc = stage_train_out_decode(buf, len, &tout, &err);
    free(buf);
    CHECK_INT(rc, 0);
    CHECK_INT(strlen(tout.family), sizeof tout.family - 1);
}

//  `task` and the task metrics travel; a binary payload has no `task` key
//  and its bytes are those of the same struct with none (older peers').
static void test_task_type_is_optional(void)
{
    stage_train_out_t out = {.artifact = s_ref(9), .family = "gbdt", .params = "{}"};
    snprintf(out.metrics.task, sizeof out.metrics.task, "regression");
    out.metrics.r2 = 0.75, out.metrics.rmse = 2.5, out.metrics.mae = 1.25;
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_train_out_encode(&out, &buf, &len), 0);
    stage_train_out_t back;
    mlops_err_t err;
    CHECK_INT(stage_train_out_decode(buf, len, &back, &err), 0);
    free(buf);
    CHECK_STR(back.metrics.task, "regression");
    CHECK_NEAR(back.metrics.rmse, 2.5, 0);
    CHECK_NEAR(back.metrics.mae, 1.25, 0);
    CHECK_NEAR(back.metrics.macro_f1, 0, 0);

    stage_evaluate_in_t in = {.table = s_ref(1), .split = s_ref(2), .n_candidates = 1};
    snprintf(in.candidates[0].key, sizeof in.candidates[0].key, "1-train-logreg");
    CHECK_INT(stage_evaluate_in_encode(&in, &buf, &len), 0);
    CHECK(memmem(buf, len, "task", 4) == NULL);       //  binary: no key
    stage_evaluate_in_t back_in;
    CHECK_INT(stage_evaluate_in_decode(buf, len, &back_in, &err), 0);
    free(buf);
    CHECK_STR(back_in.task, "");
    snprintf(in.task, sizeof in.task, "multiclass");
    CHECK_INT(stage_evaluate_in_encode(&in, &buf, &len), 0);
    CHECK_INT(stage_evaluate_in_decode(buf, len, &back_in, &err), 0);
    free(buf);
    CHECK_STR(back_in.task, "multiclass");
}

static void test_stage_names(void)
{
    for (int s = 0; s < STAGE_COUNT; s++)
        CHECK_INT(stage_from_name(stage_name((stage_t)s)), s);
    CHECK_STR(stage_name(STAGE_LOAD_MODEL), "load_model");
    CHECK(stage_name(STAGE_COUNT) == NULL);
    CHECK(stage_name((stage_t)-1) == NULL);
    CHECK_INT(stage_from_name("Train"), -1);       //  names are exact
    CHECK_INT(stage_from_name(""), -1);
    CHECK_INT(stage_from_name(NULL), -1);
}

//  The payloads not covered below, each through a round trip: extract's
//  optional dataset, the split's owned rows, load_model's refs.
static void test_other_payloads_round_trip(void)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mlops_err_t err;
    stage_extract_in_t xin = {.source = "dataset:ab"};
    CHECK_INT(stage_extract_in_encode(&xin, &buf, &len), 0);
    stage_extract_in_t xin2;
    CHECK_INT(stage_extract_in_decode(buf, len, &xin2, &err), 0);
    CHECK_STR(xin2.source, "dataset:ab");
    CHECK_STR(xin2.dataset.hash, "");                //  none: no stored table
    free(buf);

    size_t train[] = {1, 2}, test[] = {0};
    stage_split_t split = {.train_rows = train, .n_train = 2, .test_rows = test, .n_test = 1};
    CHECK_INT(stage_split_encode(&split, &buf, &len), 0);
    stage_split_t split2;
    CHECK_INT(stage_split_decode(buf, len, &split2, &err), 0);
    CHECK_INT(split2.n_train, 2);
    CHECK_INT(split2.train_rows[1], 2);
    CHECK(split2.train_rows != train);               //  owned copy
    stage_split_clear(&split2);
    CHECK(split2.train_rows == NULL && split2.test_rows == NULL);
    free(buf);

    stage_preprocess_out_t pout = {.recipe = s_ref(3), .split = s_ref(4), .notes = "dropped Cabin"};
    CHECK_INT(stage_preprocess_out_encode(&pout, &buf, &len), 0);
    stage_preprocess_out_t pout2;
    CHECK_INT(stage_preprocess_out_decode(buf, len, &pout2, &err), 0);
    CHECK_STR(pout2.notes, "dropped Cabin");
    CHECK_INT(pout2.split.size, 4);
    free(buf);

    stage_load_model_in_t lin = {.version = 4, .artifact = s_ref(3), .table = s_ref(1),
                                 .split = s_ref(2)};
    lin.expected.auc = 0.75;
    CHECK_INT(stage_load_model_in_encode(&lin, &buf, &len), 0);
    stage_load_model_in_t lin2;
    CHECK_INT(stage_load_model_in_decode(buf, len, &lin2, &err), 0);
    CHECK_INT(lin2.version, 4);
    CHECK_STR(lin2.artifact.hash, S_HASH);
    CHECK_INT(lin2.artifact.size, 3);
    CHECK_NEAR(lin2.expected.auc, 0.75, 0);
    //  a preprocess output is not a load_model input
    CHECK_INT(stage_preprocess_out_decode(buf, len, &pout2, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: unknown key \"version\"");
    free(buf);
}

//  The refs added for the matrix: absent, no key (the bytes a payload had
//  before them) and a zero ref; present, they round-trip; a bad one names
//  its key.
static void test_matrix_refs_are_optional(void)
{
    stage_preprocess_out_t out = {.recipe = s_ref(1), .split = s_ref(2), .notes = "n"};
    uint8_t *buf = NULL;
    size_t len = 0;
    mlops_err_t err;
    stage_preprocess_out_t back;
    CHECK_INT(stage_preprocess_out_encode(&out, &buf, &len), 0);
    CHECK(memmem(buf, len, "matrix", 6) == NULL && memmem(buf, len, "test_table", 10) == NULL);
    CHECK_INT(stage_preprocess_out_decode(buf, len, &back, &err), 0);
    free(buf);
    CHECK_STR(back.matrix.hash, "");
    CHECK_INT(back.test_table.size, 0);
    out.matrix = s_ref(5), out.test_table = s_ref(6);
    CHECK_INT(stage_preprocess_out_encode(&out, &buf, &len), 0);
    CHECK_INT(stage_preprocess_out_decode(buf, len, &back, &err), 0);
    free(buf);
    CHECK_STR(back.matrix.hash, S_HASH);
    CHECK_INT(back.matrix.size, 5);
    CHECK_INT(back.test_table.size, 6);

    stage_train_in_t tin = {.table = s_ref(3), .recipe = s_ref(1), .split = s_ref(7),
                            .matrix = s_ref(8), .family = "logreg"};
    stage_train_in_t tback;
    CHECK_INT(stage_train_in_encode(&tin, &buf, &len), 0);
    CHECK_INT(stage_train_in_decode(buf, len, &tback, &err), 0);
    free(buf);
    CHECK_INT(tback.matrix.size, 8);
    stage_load_model_in_t lin = {.version = 2, .artifact = s_ref(1), .table = s_ref(2),
                                 .split = s_ref(3), .test_table = s_ref(4)};
    stage_load_model_in_t lback;
    CHECK_INT(stage_load_model_in_encode(&lin, &buf, &len), 0);
    CHECK_INT(stage_load_model_in_decode(buf, len, &lback, &err), 0);
    free(buf);
    CHECK_INT(lback.test_table.size, 4);

    char bad[64];
    size_t n = s_pack_map_str(bad, sizeof bad, "matrix", "x");
    CHECK_INT(stage_train_in_decode((uint8_t *)bad, n, &tback, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "matrix: expected map, got string");
}

int main(void)
{
    RUN(test_stage_names);
    RUN(test_matrix_refs_are_optional);
    RUN(test_task_type_is_optional);
    RUN(test_other_payloads_round_trip);
    RUN(test_train_in_round_trip);
    RUN(test_evaluate_round_trip_and_limits);
    RUN(test_version_refused_first);
    RUN(test_decode_errors_name_the_key);
    RUN(test_nested_error_path);
    RUN(test_payload_strictness);
    return TEST_REPORT("test_stage_io");
}
