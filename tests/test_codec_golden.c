/*  test_codec_golden.c: the bytes of every record and payload codec, pinned.

    The hex strings below were captured from the encoders as they stood
    before records.c and fields.c were merged into one engine (commit
    16bd617). Records are what the LMDB store holds: an existing store must
    keep reading, so each case checks that the encoder still writes exactly
    these bytes and that the decoder reads them back into the same struct
    (compared by re-encoding and by a few fields read directly).

    A mismatch prints the bytes the encoder wrote, in hex.
*/
#include "control_io.h"
#include "golden_hex.h"
#include "msg.h"
#include "records.h"
#include "stage_io.h"
#include "testing.h"

//  Encodes *in with NAME_encode and checks the bytes against hex, then
//  decodes the golden bytes with NAME_decode into *back and checks that it
//  succeeded. The golden bytes are left in `golden` (decoded bins point into
//  them): the caller frees them.
#define S_GOLDEN(name, in, back, hex, golden)                                \
    do {                                                                      \
        uint8_t *bytes_ = NULL;                                               \
        size_t len_ = 0;                                                      \
        CHECK_INT(name##_encode(in, &bytes_, &len_), 0);                      \
        bool same_ = golden_same(#name, bytes_, len_, hex);                   \
        free(bytes_);                                                         \
        CHECK(same_);                                                         \
        golden = golden_unhex(hex, &len_);                                    \
        mlops_err_t err_;                                                     \
        int rc_ = name##_decode(golden, len_, back, &err_);                   \
        if (rc_) {                                                            \
            fprintf(stderr, "  %s: %s\n", #name, err_.msg);                   \
            free(golden);                                                     \
        }                                                                     \
        CHECK_INT(rc_, 0);                                                    \
    } while (0)

//  --- the records ---------------------------------------------------------

static void s_fill_run(run_t *run)
{
    memset(run, 0, sizeof *run);
    run->id = (uint64_t)1 << 40;
    run->state = RUN_FAILED;
    snprintf(run->source, sizeof run->source, "dataset:%064d", 5);
    memset(run->reason, 'r', sizeof run->reason);   //  no NUL: the encoder stops at 255
    run->coalesced = -7;
    run->created_ms = 1764136800123;
    run->started_ms = -((int64_t)1 << 40);
    run->ended_ms = 200;
    snprintf(run->dataset_hash, sizeof run->dataset_hash, "%064x", 0xabcdefu);
    run->version = 65536;
    run->promoted = true;
    snprintf(run->outcome, sizeof run->outcome, "archived: auc 0.86 < 0.87");
    snprintf(run->error, sizeof run->error, "3-train-forest failed after 3 attempts: \"oom\"");
    run_task_t *t = run_add_task(run, "extract", NULL);
    t->state = TASK_DONE;
    t->attempts = 1;
    t->started_ms = 127;
    t->ended_ms = -33;
    t = run_add_task(run, "train", "forest");
    t->state = TASK_FAILED;
    t->attempts = 2147483647;
    t->retry_at_ms = 1764136900000;
    snprintf(t->worker, sizeof t->worker, "host-\xc3\xa9:123");
    snprintf(t->error, sizeof t->error, "out of memory");
}

static const char s_run_hex[] =
    "8ea26964cf0000010000000000a57374617465a66661696c6564a6736f75726365d948646174617365743a3030303030"
    "303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030"
    "3030303030303030303035a6726561736f6ed9ff72727272727272727272727272727272727272727272727272727272"
    "727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272"
    "727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272"
    "727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272"
    "727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272727272"
    "7272727272727272727272727272727272727272727272727272727272727272727272a9636f616c6573636564f9aa63"
    "7265617465645f6d73cf0000019abebf4f7baa737461727465645f6d73d3ffffff0000000000a8656e6465645f6d73cc"
    "c8ac646174617365745f68617368d9403030303030303030303030303030303030303030303030303030303030303030"
    "3030303030303030303030303030303030303030303030303030616263646566a776657273696f6ece00010000a87072"
    "6f6d6f746564c3a76f7574636f6d65b961726368697665643a2061756320302e3836203c20302e3837a56572726f72d9"
    "2d332d747261696e2d666f72657374206661696c6564206166746572203320617474656d7074733a20226f6f6d22a574"
    "61736b73928aa77461736b5f6964b5313039393531313632373737362d65787472616374a57374616765a76578747261"
    "6374a666616d696c79a0a57374617465a4646f6e65a8617474656d70747301aa737461727465645f6d737fa8656e6465"
    "645f6d73d0dfab72657472795f61745f6d7300a6776f726b6572a0a56572726f72a08aa77461736b5f6964ba31303939"
    "3531313632373737362d747261696e2d666f72657374a57374616765a5747261696ea666616d696c79a6666f72657374"
    "a57374617465a66661696c6564a8617474656d707473ce7fffffffaa737461727465645f6d7300a8656e6465645f6d73"
    "00ab72657472795f61745f6d73cf0000019abec0d5a0a6776f726b6572ab686f73742dc3a93a313233a56572726f72ad"
    "6f7574206f66206d656d6f7279";

static const char s_run_empty_hex[] =
    "8ea2696400a57374617465a6717565756564a6736f75726365a0a6726561736f6ea0a9636f616c657363656400aa6372"
    "65617465645f6d7300aa737461727465645f6d7300a8656e6465645f6d7300ac646174617365745f68617368a0a77665"
    "7273696f6e00a870726f6d6f746564c2a76f7574636f6d65a0a56572726f72a0a57461736b7390";

static void s_fill_version(version_t *v)
{
    memset(v, 0, sizeof *v);
    v->version = 12;
    v->run_id = 300;
    snprintf(v->dataset_hash, sizeof v->dataset_hash, "%064x", 0x1234u);
    snprintf(v->family, sizeof v->family, "forest");
    snprintf(v->params, sizeof v->params, "{\"trees\":100,\"depth\":8}");
    v->metrics = (metrics_t){.accuracy = 0.8125, .precision = 0.75, .recall = 1.0 / 3,
                             .f1 = 0.0, .auc = 0.875, .log_loss = 0.4321,
                             .tp = 70, .fp = -1, .tn = 100000, .fn = 5000000000};
    snprintf(v->sha256, sizeof v->sha256, "%064x", 0xfeedu);
    v->artifact_len = 4294967296u;
    v->stage = VERSION_PRODUCTION;
    snprintf(v->reason, sizeof v->reason, "beats v2: auc 0.88 > 0.86");
    v->created_ms = 1764136800999;
}

static const char s_version_hex[] =
    "8ba776657273696f6e0ca672756e5f6964cd012cac646174617365745f68617368d94030303030303030303030303030"
    "303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303031"
    "323334a666616d696c79a6666f72657374a6706172616d73b77b227472656573223a3130302c226465707468223a387d"
    "a76d6574726963738aa86163637572616379cb3fea000000000000a9707265636973696f6ecb3fe8000000000000a672"
    "6563616c6ccb3fd5555555555555a26631cb0000000000000000a3617563cb3fec000000000000a86c6f675f6c6f7373"
    "cb3fdba786c226809da2747046a26670ffa2746ece000186a0a2666ecf000000012a05f200a6736861323536d9403030"
    "303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030"
    "3030303030303030303066656564ac61727469666163745f6c656ecf0000000100000000a57374616765aa70726f6475"
    "6374696f6ea6726561736f6eb962656174732076323a2061756320302e3838203e20302e3836aa637265617465645f6d"
    "73cf0000019abebf52e7";

static void s_fill_audit(audit_t *a)
{
    *a = (audit_t){.seq = 3, .ts_ms = 1764136801000, .version = 12, .previous = 0};
    snprintf(a->action, sizeof a->action, "rollback");
    snprintf(a->reason, sizeof a->reason, "manual");
}

static const char s_audit_hex[] =
    "86a373657103a574735f6d73cf0000019abebf52e8a6616374696f6ea8726f6c6c6261636ba776657273696f6e0ca870"
    "726576696f757300a6726561736f6ea66d616e75616c";

//  Each record: encode -> golden; decode(golden) -> encode -> golden.
static void test_run_bytes(void)
{
    run_t run, back;
    uint8_t *golden, *again = NULL;
    size_t len = 0;
    s_fill_run(&run);
    S_GOLDEN(run, &run, &back, s_run_hex, golden);
    run_clear(&run);
    free(golden);
    CHECK_INT(run_encode(&back, &again, &len), 0);
    bool same = golden_same("run again", again, len, s_run_hex);
    free(again);
    CHECK(same);
    CHECK_INT(back.id, (uint64_t)1 << 40);
    CHECK_INT(back.coalesced, -7);
    CHECK_INT(strlen(back.reason), sizeof back.reason - 1);
    CHECK_INT(back.n_tasks, 2);
    CHECK_INT(back.tasks[1].attempts, 2147483647);
    CHECK_INT(back.tasks[0].ended_ms, -33);
    CHECK_STR(back.tasks[1].task_id, "1099511627776-train-forest");
    run_clear(&back);
}

static void test_empty_run_bytes(void)
{
    run_t run = {0}, back;
    uint8_t *golden;
    S_GOLDEN(run, &run, &back, s_run_empty_hex, golden);
    free(golden);
    CHECK_INT(back.n_tasks, 0);
    CHECK(back.tasks == NULL);
    CHECK_INT(back.state, RUN_QUEUED);
}

static void test_version_bytes(void)
{
    version_t v, back;
    uint8_t *golden;
    s_fill_version(&v);
    S_GOLDEN(version, &v, &back, s_version_hex, golden);
    free(golden);
    CHECK(memcmp(&back, &v, sizeof v) == 0);
}

static void test_audit_bytes(void)
{
    audit_t a, back;
    uint8_t *golden;
    s_fill_audit(&a);
    S_GOLDEN(audit, &a, &back, s_audit_hex, golden);
    free(golden);
    CHECK(memcmp(&back, &a, sizeof a) == 0);
}

//  --- stage payloads and control replies ----------------------------------

static const char s_evaluate_in_hex[] =
    "86a17602a57461626c6582a468617368d940303030303030303030303030303030303030303030303030303030303030"
    "30303030303030303030303030303030303030303030303030303030303030303031a473697a6503a573706c697482a4"
    "68617368d940303030303030303030303030303030303030303030303030303030303030303030303030303030303030"
    "30303030303030303030303030303030303030303032a473697a65ce00010000aa63616e646964617465739283a36b65"
    "79ae312d747261696e2d6c6f67726567a666616d696c79a66c6f67726567a8617274696661637482a468617368d94030"
    "303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030"
    "303030303030303030303030303033a473697a65cc8083a36b6579ae312d747261696e2d666f72657374a666616d696c"
    "79a6666f72657374a8617274696661637482a468617368d9403030303030303030303030303030303030303030303030"
    "3030303030303030303030303030303030303030303030303030303030303030303030303030303034a473697a6500b2"
    "70726f64756374696f6e5f76657273696f6effaa70726f64756374696f6e82a468617368a0a473697a6500";
static const char s_train_out_hex[] =
    "85a17602a666616d696c79a66c6f67726567a6706172616d73ab7b226c32223a302e30317da8617274696661637482a4"
    "68617368d940303030303030303030303030303030303030303030303030303030303030303030303030303030303030"
    "30303030303030303030303030303030303030303039a473697a6505a76d6574726963738aa86163637572616379cb3f"
    "e0000000000000a9707265636973696f6ecb0000000000000000a6726563616c6ccb0000000000000000a26631cb0000"
    "000000000000a3617563cb3ff0000000000000a86c6f675f6c6f7373cb4004000000000000a2747001a2667000a2746e"
    "00a2666efe";
static const char s_preprocess_in_hex[] =
    "85a17602a57461626c6582a468617368d940303030303030303030303030303030303030303030303030303030303030"
    "30303030303030303030303030303030303030303030303030303030303030303061a473697a6501a6746172676574a0"
    "ad746573745f6672616374696f6ecb3fd0000000000000a473656564cfffffffffffffffff";
static const char s_status_hex[] =
    "86aa6163746976655f72756e04a671756575656400b06e6578745f7363686564756c655f6d73ce05265c00b270726f64"
    "756374696f6e5f76657273696f6e02a7776f726b6572739186a57374616765a5747261696ea4686f7374a26831a37069"
    "64cd1092a57374617465a462757379a77461736b5f6964ae342d747261696e2d666f72657374ac6c6173745f7365656e"
    "5f6d73cf0000019abebf4f00a777616974696e67d931352d6576616c756174652077616974733a206e6f206576616c75"
    "61746520776f726b657220697320636f6e6e6563746564";
//  STATUS as a broker of MLOPS/2 writes it: `serving` (added after the
//  bytes above were captured) and each worker's `name` (MLOPS/2).
static const char s_status_v2_hex[] =
    "87aa6163746976655f72756e04a671756575656400b06e6578745f7363686564756c655f6d73ce05265c00b270726f64"
    "756374696f6e5f76657273696f6e02a7776f726b6572739187a57374616765a5747261696ea4686f7374a26831a37069"
    "64cd1092a57374617465a462757379a77461736b5f6964ae342d747261696e2d666f72657374ac6c6173745f7365656e"
    "5f6d73cf0000019abebf4f00a46e616d65a968312d336661396332a777616974696e67d931352d6576616c7561746520"
    "77616974733a206e6f206576616c7561746520776f726b657220697320636f6e6e6563746564a773657276696e679185"
    "a4686f7374a26832a370696401ad6d6f64656c5f76657273696f6e02ac6c6173745f7365656e5f6d73cf0000019abebf"
    "4f00a46e616d65a7696e6665722d61";
static const char s_logs_hex[] =
    "81a46c6f67739185a77461736b5f6964ae342d747261696e2d666f72657374a7617474656d707402a6776f726b6572a9"
    "68312d336661396332ad62797465735f64726f7070656400a474657874ae61206c696e650a616e6f74686572";
static const char s_models_hex[] =
    "82aa70726f64756374696f6e0ca876657273696f6e73928ba776657273696f6e0ca672756e5f6964cd012cac64617461"
    "7365745f68617368d9403030303030303030303030303030303030303030303030303030303030303030303030303030"
    "3030303030303030303030303030303030303030303031323334a666616d696c79a6666f72657374a6706172616d73b7"
    "7b227472656573223a3130302c226465707468223a387da76d6574726963738aa86163637572616379cb3fea00000000"
    "0000a9707265636973696f6ecb3fe8000000000000a6726563616c6ccb3fd5555555555555a26631cb00000000000000"
    "00a3617563cb3fec000000000000a86c6f675f6c6f7373cb3fdba786c226809da2747046a26670ffa2746ece000186a0"
    "a2666ecf000000012a05f200a6736861323536d940303030303030303030303030303030303030303030303030303030"
    "30303030303030303030303030303030303030303030303030303030303030303066656564ac61727469666163745f6c"
    "656ecf0000000100000000a57374616765aa70726f64756374696f6ea6726561736f6eb962656174732076323a206175"
    "6320302e3838203e20302e3836aa637265617465645f6d73cf0000019abebf52e78ba776657273696f6e0da672756e5f"
    "6964cd012cac646174617365745f68617368d94030303030303030303030303030303030303030303030303030303030"
    "303030303030303030303030303030303030303030303030303030303030303031323334a666616d696c79a6666f7265"
    "7374a6706172616d73b77b227472656573223a3130302c226465707468223a387da76d6574726963738aa86163637572"
    "616379cb3fea000000000000a9707265636973696f6ecb3fe8000000000000a6726563616c6ccb3fd5555555555555a2"
    "6631cb0000000000000000a3617563cb3fec000000000000a86c6f675f6c6f7373cb3fdba786c226809da2747046a266"
    "70ffa2746ece000186a0a2666ecf000000012a05f200a6736861323536d9403030303030303030303030303030303030"
    "3030303030303030303030303030303030303030303030303030303030303030303030303030303030303066656564ac"
    "61727469666163745f6c656ecf0000000100000000a57374616765a86172636869766564a6726561736f6eb962656174"
    "732076323a2061756320302e3838203e20302e3836aa637265617465645f6d73cf0000019abebf52e7";

//  Stage payloads version 2 (refs, not bytes): these three samples were
//  renewed with the payloads' switch to references (issue 14).
static void test_evaluate_in_bytes(void)
{
    stage_evaluate_in_t in = {.n_candidates = 2, .production_version = -1};
    snprintf(in.table.hash, sizeof in.table.hash, "%064x", 1u);
    in.table.size = 3;
    snprintf(in.split.hash, sizeof in.split.hash, "%064x", 2u);
    in.split.size = 65536;
    snprintf(in.candidates[0].key, sizeof in.candidates[0].key, "1-train-logreg");
    snprintf(in.candidates[0].family, sizeof in.candidates[0].family, "logreg");
    snprintf(in.candidates[0].artifact.hash, sizeof in.candidates[0].artifact.hash, "%064x", 3u);
    in.candidates[0].artifact.size = 128;
    snprintf(in.candidates[1].key, sizeof in.candidates[1].key, "1-train-forest");
    snprintf(in.candidates[1].family, sizeof in.candidates[1].family, "forest");
    snprintf(in.candidates[1].artifact.hash, sizeof in.candidates[1].artifact.hash, "%064x", 4u);
    stage_evaluate_in_t back;
    uint8_t *golden;
    S_GOLDEN(stage_evaluate_in, &in, &back, s_evaluate_in_hex, golden);
    bool refs = back.split.size == 65536 && back.candidates[0].artifact.size == 128
                && back.candidates[1].artifact.size == 0 && back.production.hash[0] == '\0';
    bool cands = back.n_candidates == 2 && strcmp(back.candidates[1].key, "1-train-forest") == 0;
    free(golden);
    CHECK(refs);
    CHECK(cands);
}

static void test_train_out_bytes(void)
{
    stage_train_out_t out = {.metrics = {.accuracy = 0.5, .auc = 1.0, .log_loss = 2.5,
                                         .tp = 1, .fn = -2}};
    snprintf(out.family, sizeof out.family, "logreg");
    snprintf(out.params, sizeof out.params, "{\"l2\":0.01}");
    snprintf(out.artifact.hash, sizeof out.artifact.hash, "%064x", 9u);
    out.artifact.size = 5;
    stage_train_out_t back;
    uint8_t *golden;
    S_GOLDEN(stage_train_out, &out, &back, s_train_out_hex, golden);
    bool fields = back.artifact.size == 5 && strcmp(back.artifact.hash, out.artifact.hash) == 0
                  && memcmp(&back.metrics, &out.metrics, sizeof out.metrics) == 0
                  && strcmp(back.params, out.params) == 0;
    free(golden);
    CHECK(fields);
}

static void test_preprocess_in_bytes(void)
{
    stage_preprocess_in_t in = {.test_fraction = 0.25, .seed = 18446744073709551615u};
    snprintf(in.table.hash, sizeof in.table.hash, "%064x", 10u);
    in.table.size = 1;
    stage_preprocess_in_t back;
    uint8_t *golden;
    S_GOLDEN(stage_preprocess_in, &in, &back, s_preprocess_in_hex, golden);
    free(golden);
    CHECK(back.seed == in.seed && back.test_fraction == 0.25 && back.target[0] == '\0');
}

//  MLOPS/2 messages: a key it added makes the envelope say 2; without it
//  the bytes are MLOPS/1's, unchanged.
static const char s_ready_v1_hex[] =
    "9301a5524541445984a57374616765a5747261696ea4686f7374a66e6f64652d31a3706964cd1092ad6d6f64656c5f76"
    "657273696f6e00";
static const char s_ready_v2_hex[] =
    "9302a5524541445985a57374616765a5747261696ea4686f7374a66e6f64652d31a3706964cd1092ad6d6f64656c5f76"
    "657273696f6e00a46e616d65ad6e6f64652d312d336661396332";
static const char s_result_v2_hex[] =
    "9302a6524553554c5488a77461736b5f6964ae372d747261696e2d666f72657374a672756e5f696407a26f6bc2a56572"
    "726f72a4626f6f6da66f7574707574c400aa737461727465645f6d7301a8656e6465645f6d7302a36c6f67ad6c696e65"
    "20310a6c696e652032";

static void test_msg_v2_bytes(void)
{
    proto_msg_t m = {.cmd = PROTO_READY, .ready = {.stage = "train", .host = "node-1", .pid = 4242}};
    CHECK(golden_msg("ready v1", &m, s_ready_v1_hex));
    m.ready.name = "node-1-3fa9c2";
    CHECK(golden_msg("ready v2", &m, s_ready_v2_hex));
    m = (proto_msg_t){.cmd = PROTO_RESULT,
                      .result = {.task_id = "7-train-forest", .run_id = 7, .error = "boom",
                                 .started_ms = 1, .ended_ms = 2, .log = "line 1\nline 2"}};
    CHECK(golden_msg("result v2", &m, s_result_v2_hex));
}

static void test_control_logs_bytes(void)
{
    static control_log_t log = {.task_id = "4-train-forest", .attempt = 2, .worker = "h1-3fa9c2",
                                .text = "a line\nanother"};
    control_logs_t logs = {.logs = &log, .n_logs = 1}, back;
    uint8_t *golden;
    S_GOLDEN(control_logs, &logs, &back, s_logs_hex, golden);
    bool fields = back.n_logs == 1 && back.logs[0].attempt == 2
                  && strcmp(back.logs[0].text, "a line\nanother") == 0;
    control_logs_clear(&back);
    free(golden);
    CHECK(fields);
}

static void test_control_bytes(void)
{
    control_worker_t w = {.stage = "train", .host = "h1", .pid = 4242, .state = "busy",
                          .task_id = "4-train-forest", .last_seen_ms = 1764136800000,
                          .name = "h1-3fa9c2"};
    control_infer_t inf = {.host = "h2", .pid = 1, .model_version = 2, .last_seen_ms = 1764136800000,
                           .name = "infer-a"};
    control_status_t st = {.active_run = 4, .queued = 0, .next_schedule_ms = 86400000,
                           .production_version = 2, .workers = &w, .n_workers = 1,
                           .waiting = "5-evaluate waits: no evaluate worker is connected",
                           .serving = &inf, .n_serving = 1}, now;
    uint8_t *golden;
    S_GOLDEN(control_status, &st, &now, s_status_v2_hex, golden);
    bool fields = now.n_workers == 1 && strcmp(now.workers[0].name, "h1-3fa9c2") == 0
                  && now.n_serving == 1 && strcmp(now.serving[0].name, "infer-a") == 0;
    control_status_clear(&now);
    free(golden);
    CHECK(fields);
    //  the 6-key answer of an older broker (no `serving`, no `name`) still decodes
    size_t len;
    golden = golden_unhex(s_status_hex, &len);
    control_status_t old;
    mlops_err_t err;
    int rc = control_status_decode(golden, len, &old, &err);
    fields = rc == 0 && old.n_workers == 1 && old.workers[0].pid == 4242 && old.n_serving == 0
             && old.workers[0].name[0] == '\0' && strcmp(old.waiting, st.waiting) == 0;
    control_status_clear(&old);
    free(golden);
    CHECK_INT(rc, 0);
    CHECK(fields);
    version_t v[2];
    s_fill_version(&v[0]);
    s_fill_version(&v[1]);
    v[1].version = 13;
    v[1].stage = VERSION_ARCHIVED;
    control_models_t models = {.production = 12, .versions = v, .n_versions = 2}, back;
    S_GOLDEN(control_models, &models, &back, s_models_hex, golden);
    fields = back.production == 12 && back.n_versions == 2
             && memcmp(&back.versions[1], &v[1], sizeof v[1]) == 0;
    control_models_clear(&back);
    free(golden);
    CHECK(fields);
}

int main(void)
{
    RUN(test_run_bytes);
    RUN(test_empty_run_bytes);
    RUN(test_version_bytes);
    RUN(test_audit_bytes);
    RUN(test_evaluate_in_bytes);
    RUN(test_train_out_bytes);
    RUN(test_preprocess_in_bytes);
    RUN(test_control_bytes);
    RUN(test_control_logs_bytes);
    RUN(test_msg_v2_bytes);
    return TEST_REPORT("test_codec_golden");
}
