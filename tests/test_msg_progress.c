/*  test_msg_progress.c: HEARTBEAT's MLOPS/2 progress keys done, total and
    unit (proto/msg.c, PROTOCOL.md "HEARTBEAT"): a heartbeat without them
    keeps its bytes; with them it round-trips in a version-2 envelope; the
    encoder refuses and the decoder rejects a negative count, done past a
    known total, a unit that is too long or not lower-case letters, counts
    without a unit, and the keys in a version-1 envelope, each by name.
*/
#include "msg.h"
#include "testing.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>

static proto_msg_t s_heartbeat(int64_t done, int64_t total, const char *unit)
{
    return (proto_msg_t){.cmd = PROTO_HEARTBEAT,
                         .heartbeat = {.task_id = "7-extract", .done = done, .total = total,
                                       .unit = unit}};
}

//  A HEARTBEAT frame built by hand: [version, "HEARTBEAT", {task_id, done,
//  total, unit}], so the decoder sees what our encoder would never write.
static void s_forge(msgpack_sbuffer *sb, int version, int64_t done, int64_t total, const char *unit)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, version);
    msgpack_pack_str_with_body(&pk, "HEARTBEAT", 9);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "task_id", 7);
    msgpack_pack_str_with_body(&pk, "7-extract", 9);
    msgpack_pack_str_with_body(&pk, "done", 4);
    msgpack_pack_int64(&pk, done);
    msgpack_pack_str_with_body(&pk, "total", 5);
    msgpack_pack_int64(&pk, total);
    msgpack_pack_str_with_body(&pk, "unit", 4);
    msgpack_pack_str_with_body(&pk, unit, strlen(unit));
}

//  Decodes a forged frame: NULL is expected, with err.
static proto_msg_t *s_decode_forged(int version, int64_t done, int64_t total, const char *unit,
                                    mlops_err_t *err)
{
    msgpack_sbuffer sb;
    s_forge(&sb, version, done, total, unit);
    proto_msg_t *d = proto_msg_decode((const uint8_t *)sb.data, sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    return d;
}

//  Encodes m and decodes it again: the copy (the caller destroys it) and
//  the envelope's version in *version; NULL when either direction failed
//  (the caller's CHECK on it fails).
static proto_msg_t *s_round_trip(const proto_msg_t *m, int *version)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mlops_err_t err;
    *version = -1;
    if (proto_msg_encode(m, &buf, &len) != 0)
        return NULL;
    *version = len > 1 ? buf[1] : -1;
    proto_msg_t *d = proto_msg_decode(buf, len, &err);
    free(buf);
    return d;
}

static void test_without_progress_keeps_its_bytes(void)
{
    proto_msg_t m = s_heartbeat(0, 0, "");
    int version;
    proto_msg_t *d = s_round_trip(&m, &version);
    CHECK(d != NULL);
    CHECK_INT(version, 1);   //  nothing of MLOPS/2: a version-1 envelope
    if (d) {
        CHECK_INT(d->heartbeat.done, 0);
        CHECK_INT(d->heartbeat.total, 0);
        CHECK_STR(d->heartbeat.unit, "");
    }
    proto_msg_destroy(&d);
}

static void test_progress_round_trips(void)
{
    proto_msg_t m = s_heartbeat(1200, 5000, "rows");
    int version;
    proto_msg_t *d = s_round_trip(&m, &version);
    CHECK(d != NULL);
    CHECK_INT(version, 2);
    if (d) {
        CHECK_INT(d->heartbeat.done, 1200);
        CHECK_INT(d->heartbeat.total, 5000);
        CHECK_STR(d->heartbeat.unit, "rows");
        CHECK_INT(proto_msg_equal(&m, d), 1);
    }
    proto_msg_destroy(&d);
    m = s_heartbeat(3, 0, "trees");   //  total unknown: any done
    d = s_round_trip(&m, &version);
    CHECK(d != NULL);
    if (d)
        CHECK_INT(d->heartbeat.done, 3);
    proto_msg_destroy(&d);
}

//  What the check refuses, the encoder refuses to write.
static void test_bad_progress_is_not_sent(void)
{
    mlops_err_t err;
    uint8_t *buf = NULL;
    size_t len;
    proto_msg_t m = s_heartbeat(6, 5, "rows");
    CHECK_INT(proto_heartbeat_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "\"done\" 6 is not in 0..5");
    CHECK_INT(proto_msg_encode(&m, &buf, &len), MLOPS_EINVAL);
    m = s_heartbeat(-1, 0, "rows");
    CHECK_INT(proto_heartbeat_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "\"done\" -1");
    m = s_heartbeat(4, 5, "");
    CHECK_INT(proto_heartbeat_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "progress without a \"unit\"");
    m = s_heartbeat(4, 5, "kilobytesperhour");   //  16 letters
    CHECK_INT(proto_heartbeat_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "\"unit\" is 1 to 15 lower-case letters");
    m = s_heartbeat(4, 5, "Rows");
    CHECK_INT(proto_heartbeat_check(&m, &err), MLOPS_EPROTO);
    CHECK_INT(proto_msg_encode(&m, &buf, &len), MLOPS_EINVAL);
}

//  What arrives is checked the same way; the keys are MLOPS/2 only.
static void test_bad_progress_is_not_read(void)
{
    mlops_err_t err;
    proto_msg_t *d = s_decode_forged(2, 1200, 5000, "rows", &err);
    CHECK(d != NULL);   //  the forge itself is sound
    proto_msg_destroy(&d);
    CHECK(s_decode_forged(2, -3, 5000, "rows", &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "done");
    CHECK(s_decode_forged(2, 5001, 5000, "rows", &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "\"done\" 5001 is not in 0..5000");
    CHECK(s_decode_forged(2, 1, 5000, "kilobytesperhour", &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);   //  a str over its limit, as for every key (msg.h)
    CHECK_CONTAINS(err.msg, "unit");
    CHECK(s_decode_forged(2, 1, 5000, "rows\n", &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "lower-case letters");
    CHECK(s_decode_forged(2, 1, 5000, "", &err) == NULL);
    CHECK_CONTAINS(err.msg, "progress without a \"unit\"");
    CHECK(s_decode_forged(1, 1, 5000, "rows", &err) == NULL);
    CHECK_CONTAINS(err.msg, "key \"done\"");
    CHECK_CONTAINS(err.msg, "needs version 2");
}

int main(void)
{
    RUN(test_without_progress_keeps_its_bytes);
    RUN(test_progress_round_trips);
    RUN(test_bad_progress_is_not_sent);
    RUN(test_bad_progress_is_not_read);
    return TEST_REPORT("test_msg_progress");
}
