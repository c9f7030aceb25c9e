/*  test_rollout_io.c: the wire of a canary or shadow rollout, pinned.
    PROMOTE's rollout keys and the CANARY request (proto/msg.c's tables),
    the gateway's report and the broker's state (proto/rollout_io.c) and
    the rollout key of PROMOTE's answer (proto/control_io.c); the flag
    grammars of a canary's share and --promote-via. The golden
    hex was written by Python's msgpack from PROTOCOL.md's description,
    not by these encoders, so each case checks the C bytes against an
    independent reading of the spec, then decodes them back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "control_io.h"
#include "golden_hex.h"
#include "msg.h"
#include "rollout_io.h"
#include "testing.h"

//  Decodes hex as a message; returns the code (0 when it decoded) and
//  leaves the error in *err.
static int s_decode_rc(const char *hex, mlops_err_t *err)
{
    size_t len;
    uint8_t *bytes = golden_unhex(hex, &len);
    proto_msg_t *m = proto_msg_decode(bytes, len, err);
    free(bytes);
    int rc = m ? 0 : err->code;
    proto_msg_destroy(&m);
    return rc;
}

static const char s_promote_canary_hex[] =
    "9302a750524f4d4f544584a776657273696f6e04a6726561736f6ea6747279206974ae63616e6172795f7065"
    "7263656e74cb4024000000000000ad63616e6172795f666f725f6d73cdea60";
static const char s_promote_shadow_hex[] =
    "9302a750524f4d4f544583a776657273696f6e04a6726561736f6ea0a6736861646f77c3";
static const char s_promote_requests_hex[] =
    "9302a750524f4d4f544584a776657273696f6e05a6726561736f6ea0ae63616e6172795f70657263656e74cb"
    "4004000000000000af63616e6172795f7265717565737473cd01f4";

static void test_promote_rollout_keys(void)
{
    proto_msg_t m = {.cmd = PROTO_PROMOTE,
                     .promote = {.version = 4, .reason = "try it", .canary_percent = 10.0,
                                 .canary_for_ms = 60000}};
    CHECK(golden_msg("promote canary for", &m, s_promote_canary_hex));
    m = (proto_msg_t){.cmd = PROTO_PROMOTE, .promote = {.version = 4, .reason = "", .shadow = true}};
    CHECK(golden_msg("promote shadow", &m, s_promote_shadow_hex));
    m = (proto_msg_t){.cmd = PROTO_PROMOTE, .promote = {.version = 5, .reason = "", .canary_percent = 2.5,
                                                         .canary_requests = 500}};
    CHECK(golden_msg("promote canary requests", &m, s_promote_requests_hex));

    //  none set: the MLOPS/1 PROMOTE it always was
    m = (proto_msg_t){.cmd = PROTO_PROMOTE, .promote = {.version = 4, .reason = ""}};
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(&m, &bytes, &len), 0);
    CHECK(len > 2 && bytes[1] == 0x01 && memmem(bytes, len, "canary", 6) == NULL);
    free(bytes);
}

static void test_promote_rollout_keys_refused(void)
{
    mlops_err_t err;
    //  the canary keys in a version-1 envelope
    char hex[sizeof s_promote_canary_hex];
    memcpy(hex, s_promote_canary_hex, sizeof hex);
    hex[3] = '1';
    CHECK_INT(s_decode_rc(hex, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "key \"canary_percent\"");
    CHECK_CONTAINS(err.msg, "needs version 2");
    //  a percentage must be a float: 10 as an int is refused, naming the key
    CHECK_INT(s_decode_rc("9302a750524f4d4f544582a776657273696f6e04ae63616e6172795f70657263656e740a",
                          &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "canary_percent");
    CHECK_CONTAINS(err.msg, "float");
    //  a negative duration
    CHECK_INT(s_decode_rc("9302a750524f4d4f544582a776657273696f6e04ad63616e6172795f666f725f6d73ff",
                          &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "canary_for_ms");
    proto_msg_t m = {.cmd = PROTO_PROMOTE, .promote = {.version = 4, .canary_requests = -1}};
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(&m, &bytes, &len), MLOPS_EINVAL);
}

static const char s_report_hex[] =
    "86a776657273696f6e04a470726f6485a87265717565737473cd03e8a66572726f727302a67039395f6d73cb"
    "4007333333333333a86c6162656c6c656428a66d6574726963cb3fe999999999999aa463616e6485a8726571"
    "75657374736ea66572726f727300a67039395f6d73cb4008cccccccccccda86c6162656c6c656400a66d6574"
    "726963cb7ff8000000000000a8636f6d706172656400a661677265656400a7736b697070656400";
static const char s_canary_hex_head[] = "9302a643414e41525982a767617465776179a767772d39663361a67265706f7274";

static rollout_report_t s_report(void)
{
    return (rollout_report_t){
        .version = 4,
        .prod = {.requests = 1000, .errors = 2, .p99_ms = 2.9, .labelled = 40, .metric = 0.8},
        .cand = {.requests = 110, .errors = 0, .p99_ms = 3.1, .labelled = 0, .metric = NAN}};
}

static void test_canary_request(void)
{
    rollout_report_t rep = s_report(), back;
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(rollout_report_encode(&rep, &bytes, &len), 0);
    CHECK(golden_same("report", bytes, len, s_report_hex));
    mlops_err_t err;
    CHECK_INT(rollout_report_decode(bytes, len, &back, &err), 0);
    CHECK_INT(back.prod.labelled, 40);
    CHECK(back.prod.metric == 0.8 && back.cand.p99_ms == 3.1 && isnan(back.cand.metric));

    proto_msg_t m = {.cmd = PROTO_CANARY,
                     .canary = {.gateway = "gw-9f3a", .report = bytes, .report_len = len}};
    char hex[sizeof s_canary_hex_head + sizeof s_report_hex];
    snprintf(hex, sizeof hex, "%s%s", s_canary_hex_head, s_report_hex);
    bool same = golden_msg("canary", &m, hex);
    free(bytes);
    CHECK(same);

    //  `mlops canary` sends nothing: an empty version-2 body, which
    //  decodes as no gateway and a nil report and encodes back the same
    m = (proto_msg_t){.cmd = PROTO_CANARY};
    CHECK(golden_msg("canary empty", &m, "9302a643414e41525980"));
    size_t n;
    uint8_t *empty = golden_unhex("9302a643414e41525980", &n);
    proto_msg_t *d = proto_msg_decode(empty, n, &err);
    free(empty);
    CHECK(d != NULL);
    CHECK_STR(d->canary.gateway, "");
    CHECK(d->canary.report_len == 1 && d->canary.report[0] == 0xc0);
    CHECK_INT(proto_msg_encode(d, &bytes, &len), 0);
    proto_msg_destroy(&d);
    CHECK(golden_same("canary empty again", bytes, len, "9302a643414e41525980"));
    free(bytes);
}

static void test_canary_request_refused(void)
{
    mlops_err_t err;
    //  CANARY is MLOPS/2
    CHECK_INT(s_decode_rc("9301a643414e41525980", &err), MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "needs version 2");
    //  a gateway id over PROTO_GATEWAY_ID_MAX bytes, both directions
    char id[PROTO_GATEWAY_ID_MAX + 2];
    memset(id, 'g', sizeof id - 1);
    id[sizeof id - 1] = 0;
    proto_msg_t m = {.cmd = PROTO_CANARY, .canary = {.gateway = id}};
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(&m, &bytes, &len), MLOPS_EINVAL);
    id[PROTO_GATEWAY_ID_MAX] = 0;
    CHECK_INT(proto_msg_encode(&m, &bytes, &len), 0);
    free(bytes);
    //  {"gateway": 65 x "g"} (str 8 header d9 41)
    char hex[256] = "9302a643414e41525981a767617465776179d941";
    for (size_t i = 0; i < PROTO_GATEWAY_ID_MAX + 1; i++)
        strcat(hex, "67");
    CHECK_INT(s_decode_rc(hex, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "gateway");
    //  a report that is not one msgpack object
    m = (proto_msg_t){.cmd = PROTO_CANARY,
                      .canary = {.gateway = "gw", .report = (const uint8_t *)"\x82", .report_len = 1}};
    CHECK_INT(proto_msg_encode(&m, &bytes, &len), MLOPS_EINVAL);
}

static void test_report_is_strict(void)
{
    rollout_report_t rep = s_report(), back;
    mlops_err_t err;
    //  metric absent (no feedback yet) reads as 0
    rep.cand.metric = 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(rollout_report_encode(&rep, &bytes, &len), 0);
    CHECK(len < strlen(s_report_hex) / 2 - 10);
    CHECK_INT(rollout_report_decode(bytes, len, &back, &err), 0);
    CHECK(back.cand.metric == 0 && back.cand.requests == 110);
    free(bytes);
    //  a negative count, named by its path
    rep.cand.errors = -1;
    CHECK_INT(rollout_report_encode(&rep, &bytes, &len), 0);
    CHECK_INT(rollout_report_decode(bytes, len, &back, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "cand.errors");
    free(bytes);
    //  a side missing: {"version": 4}
    CHECK_INT(rollout_report_decode((const uint8_t *)"\x81\xa7version\x04", 10, &back, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "prod");
    //  p99 as an int
    size_t n;
    uint8_t *b = golden_unhex(s_report_hex, &n);
    uint8_t *p99 = memmem(b, n, "\xa6p99_ms\xcb", 8);
    CHECK(p99 != NULL);
    p99[7] = 0xc0;  //  nil instead of the float: the 8 bytes after it are left over
    CHECK_INT(rollout_report_decode(b, n, &back, &err), MLOPS_EPROTO);
    free(b);
}

static const char s_state_hex[] =
    "de0010a7726f6c6c6f7574a663616e617279a776657273696f6e04aa70726f64756374696f6e03a770657263"
    "656e74cb4024000000000000aa737461727465645f6d73cf0000019abe578c80a7656e64735f6d73cf000001"
    "9abe5876e0af72657175657374735f74617267657400ad63616e645f72657175657374736eab63616e645f65"
    "72726f727300ad70726f645f7265717565737473cd03e8ab70726f645f6572726f727302ab63616e645f7039"
    "395f6d73cb4008cccccccccccdab70726f645f7039395f6d73cb4007333333333333a8636f6d706172656400"
    "a661677265656400a46c617374d92f726f6c6c6564206261636b2076323a20746f6f206c6974746c65206576"
    "6964656e63653a2037207265717565737473";

static void test_state(void)
{
    rollout_state_t st = {.rollout = ROLLOUT_CANARY, .version = 4, .production = 3, .percent = 10.0,
                          .started_ms = 1764130000000, .ends_ms = 1764130060000,
                          .cand_requests = 110, .prod_requests = 1000, .prod_errors = 2,
                          .cand_p99_ms = 3.1, .prod_p99_ms = 2.9},
                    back;
    snprintf(st.last, sizeof st.last, "rolled back v2: too little evidence: 7 requests");
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(rollout_state_encode(&st, &bytes, &len), 0);
    bool same = golden_same("state", bytes, len, s_state_hex);
    mlops_err_t err;
    int rc = rollout_state_decode(bytes, len, &back, &err);
    free(bytes);
    CHECK(same);
    CHECK_INT(rc, 0);
    CHECK(memcmp(&st, &back, sizeof st) == 0);
    CHECK_STR(rollout_kind_name(ROLLOUT_NONE), "none");
    CHECK_STR(rollout_kind_name(ROLLOUT_SHADOW), "shadow");
    CHECK(rollout_kind_name((rollout_kind_t)3) == NULL);

    //  an unknown rollout kind is refused, naming it
    size_t n;
    uint8_t *b = golden_unhex(s_state_hex, &n);
    memcpy(memmem(b, n, "canary", 6), "canard", 6);
    CHECK_INT(rollout_state_decode(b, n, &back, &err), MLOPS_EPROTO);
    free(b);
    CHECK_CONTAINS(err.msg, "rollout: unknown value \"canard\"");
}

static void test_promote_answer(void)
{
    control_promote_t p = {.version = 4, .previous = 3}, back;
    snprintf(p.rollout, sizeof p.rollout, "canary");
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(control_promote_encode(&p, &bytes, &len), 0);
    bool same = golden_same("promote answer", bytes, len,
                       "83a776657273696f6e04a870726576696f757303a7726f6c6c6f7574a663616e617279");
    mlops_err_t err;
    int rc = control_promote_decode(bytes, len, &back, &err);
    free(bytes);
    CHECK(same);
    CHECK_INT(rc, 0);
    CHECK_STR(back.rollout, "canary");
    //  a plain promotion's answer has two keys, as before
    p.rollout[0] = 0;
    CHECK_INT(control_promote_encode(&p, &bytes, &len), 0);
    same = golden_same("plain promote answer", bytes, len, "82a776657273696f6e04a870726576696f757303");
    free(bytes);
    CHECK(same);
}

static void test_percent_parse(void)
{
    double p = -1;
    mlops_err_t err;
    CHECK_INT(rollout_percent_parse("10%", &p, &err), 0);
    CHECK(p == 10);
    CHECK_INT(rollout_percent_parse("2.5", &p, &err), 0);
    CHECK(p == 2.5);
    CHECK_INT(rollout_percent_parse("100%", &p, &err), 0);
    CHECK(p == 100);
    const char *bad[] = {"0", "0%", "100.1", "-5", "nan", "inf", "10%%", "10 %", "ten", "", "0x10", "1e1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = -1;
        CHECK_INT(rollout_percent_parse(bad[i], &p, &err), MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, "is not a number in (0, 100]");
        CHECK(p == -1);
    }
}

static void test_via_parse(void)
{
    rollout_via_t via;
    mlops_err_t err;
    CHECK_INT(rollout_via_parse("direct", &via, &err), 0);
    CHECK(via.percent == 0);
    CHECK_INT(rollout_via_parse("canary:10%:10m", &via, &err), 0);
    CHECK(via.percent == 10 && via.for_ms == 600000);
    CHECK_INT(rollout_via_parse("canary:2.5:30s", &via, &err), 0);
    CHECK(via.percent == 2.5 && via.for_ms == 30000);
    CHECK_INT(rollout_via_parse("canary:10%", &via, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "expected direct or canary:P%:DURATION");
    CHECK_INT(rollout_via_parse("canary:0%:1m", &via, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "'0%' is not a number in (0, 100]");
    CHECK_INT(rollout_via_parse("canary:nan:1m", &via, &err), MLOPS_EINVAL);
    CHECK_INT(rollout_via_parse("canary:10%:0s", &via, &err), MLOPS_EINVAL);
    CHECK(via.percent == 0);   //  a refused flag leaves it direct
    CHECK_INT(rollout_via_parse("shadow", &via, &err), MLOPS_EINVAL);
}

int main(void)
{
    RUN(test_percent_parse);
    RUN(test_via_parse);
    RUN(test_promote_rollout_keys);
    RUN(test_promote_rollout_keys_refused);
    RUN(test_canary_request);
    RUN(test_canary_request_refused);
    RUN(test_report_is_strict);
    RUN(test_state);
    RUN(test_promote_answer);
    return TEST_REPORT("test_rollout_io");
}
