/*  test_feedback_store.c: broker/feedback_store.c and the feedback
    databases of broker/store.c: rows stored and read back in order, a
    duplicate (request id, index) refused and counted with the first kept,
    the byte cap rotating the oldest rows out (counted), the counts kept
    across a reopen; and proto/feedback_io.c: the row codec (what it
    refuses, naming the row and key), the rows join, the FEEDBACK answer,
    the walk over a PREDICT frame's records and the FEEDBACK command. */
#include "feedback_io.h"
#include "feedback_store.h"
#include "msg.h"
#include "store.h"
#include "testing.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t REC[] = {0x82, 0xa1, 'x', 0x05, 0xa1, 's', 0xa2, 'h', 'i'};   //  {"x":5,"s":"hi"}

static feedback_io_row_t s_row(const char *id, uint32_t index, double label)
{
    feedback_io_row_t r = {.index = index, .version = 3, .record = REC, .record_len = sizeof REC,
                           .label_kind = FEEDBACK_IO_LABEL_NUMBER, .label_number = label, .time_ms = 1234};
    snprintf(r.request_id, sizeof r.request_id, "%s", id);
    return r;
}

typedef struct {
    char ids[16][FEEDBACK_IO_ID_MAX + 1];
    size_t n;
} s_seen_t;

static int s_collect_fn(void *arg, const uint8_t *row, size_t len, mlops_err_t *err)
{
    s_seen_t *seen = arg;
    feedback_io_row_t r;
    int rc = feedback_io_row_decode(row, len, &r, err);
    if (rc == 0 && seen->n < 16)
        snprintf(seen->ids[seen->n++], sizeof seen->ids[0], "%s", r.request_id);
    return rc;
}

static void test_codec(void)
{
    feedback_io_row_t rows[2] = {s_row("a-1", 0, 1), s_row("a-1", 1, 0)};
    rows[1].label_kind = FEEDBACK_IO_LABEL_STRING;
    snprintf(rows[1].label_text, sizeof rows[1].label_text, "setosa");
    uint8_t *data = NULL;
    size_t len = 0, n = 0;
    CHECK_INT(feedback_io_rows_encode(rows, 2, &data, &len), 0);
    feedback_io_row_t *back = NULL;
    mlops_err_t err;
    CHECK_INT(feedback_io_rows_decode(data, len, &back, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_STR(back[1].request_id, "a-1");
    CHECK_INT(back[1].index, 1);
    CHECK_INT(back[0].version, 3);
    CHECK_INT(back[0].time_ms, 1234);
    CHECK_INT(back[1].label_kind, FEEDBACK_IO_LABEL_STRING);
    CHECK_STR(back[1].label_text, "setosa");
    CHECK_INT(back[0].record_len, sizeof REC);
    CHECK(memcmp(back[0].record, REC, sizeof REC) == 0);
    proto_field_t *fields = NULL;
    size_t nf = 0;
    CHECK_INT(feedback_io_record_decode(back[0].record, back[0].record_len, &fields, &nf, &err), 0);
    CHECK_INT(nf, 2);
    CHECK_STR(fields[0].name, "x");
    CHECK_INT(fields[0].kind, PROTO_VAL_INT);
    CHECK_STR(fields[1].str, "hi");
    free(fields);
    free(back);
    //  cut short, or a key changed: refused naming the row and key
    CHECK_INT(feedback_io_rows_decode(data, len - 1, &back, &n, &err), MLOPS_EPROTO);
    uint8_t *bad = malloc(len);
    memcpy(bad, data, len);
    uint8_t *k = memmem(bad, len, "label", 5);
    k[0] = 'x';   //  "xabel" in row 0
    CHECK_INT(feedback_io_rows_decode(bad, len, &back, &n, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "row 0: bad or unknown key \"xabel\"");
    free(bad);
    free(data);
    //  what the encoder refuses: a record that is not a map of scalars, an empty id
    uint8_t nested[] = {0x81, 0xa1, 'x', 0x91, 0x01};
    feedback_io_row_t r = s_row("b", 0, 1);
    r.record = nested, r.record_len = sizeof nested;
    CHECK_INT(feedback_io_row_encode(&r, &data, &len), MLOPS_EINVAL);
    uint8_t twice[] = {0x82, 0xa1, 'x', 0x01, 0xa1, 'x', 0x02};   //  {"x": 1, "x": 2}
    r.record = twice, r.record_len = sizeof twice;
    CHECK_INT(feedback_io_row_encode(&r, &data, &len), MLOPS_EINVAL);
    r = s_row("", 0, 1);
    CHECK_INT(feedback_io_row_encode(&r, &data, &len), MLOPS_EINVAL);
    //  the answer
    feedback_io_answer_t a = {1, 2, 3, 4, 5, 6, 7, 8}, b;
    CHECK_INT(feedback_io_answer_encode(&a, &data, &len), 0);
    CHECK_INT(feedback_io_answer_decode(data, len, &b, &err), 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    free(data);
}

//  The walk finds each record of a PREDICT the codec wrote, byte for byte.
static void test_predict_walk(void)
{
    proto_field_t f1[] = {{"Age", PROTO_VAL_FLOAT, 22.5, NULL}, {"Sex", PROTO_VAL_STR, 0, "male"}};
    proto_field_t f2[] = {{"Age", PROTO_VAL_NIL, 0, NULL}};
    proto_record_t recs[] = {{f1, 2}, {f2, 1}};
    proto_msg_t m = {.cmd = PROTO_PREDICT, .predict = {.req_id = 9, .records = recs, .n_records = 2, .version = 4}};
    uint8_t *frame = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(&m, &frame, &len), 0);
    feedback_io_records_t w;
    CHECK_INT(feedback_io_records_open(&w, frame, len), 0);
    const uint8_t *rec;
    size_t rec_len;
    mlops_err_t err;
    CHECK(feedback_io_records_next(&w, &rec, &rec_len));
    proto_field_t *fields;
    size_t n;
    CHECK_INT(feedback_io_record_decode(rec, rec_len, &fields, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_STR(fields[1].str, "male");
    CHECK(fields[0].num == 22.5);
    free(fields);
    CHECK(feedback_io_records_next(&w, &rec, &rec_len));
    CHECK_INT(rec_len, 6);   //  {"Age": nil}
    CHECK(!feedback_io_records_next(&w, &rec, &rec_len));
    CHECK_INT(feedback_io_records_open(&w, frame, 3), MLOPS_EPROTO);   //  cut short
    free(frame);
    //  FEEDBACK: MLOPS/2, rows omitted when empty
    proto_msg_t fb = {.cmd = PROTO_FEEDBACK, .feedback = {REC, sizeof REC}};
    CHECK_INT(proto_msg_encode(&fb, &frame, &len), 0);
    CHECK_INT(frame[1], 2);
    proto_msg_t *back = proto_msg_decode(frame, len, &err);
    CHECK(back && back->cmd == PROTO_FEEDBACK && back->feedback.rows_len == sizeof REC);
    proto_msg_destroy(&back);
    free(frame);
}

static void test_store_cap_and_duplicates(void)
{
    char dir[256];
    CHECK_INT(testing_tmpdir(dir, sizeof dir, "test_feedback_store"), 0);
    mlops_err_t err;
    store_t *store = store_open(dir, NULL, &err);
    CHECK(store != NULL);
    feedback_io_answer_t a;
    CHECK_INT(feedback_store_counts(store, NULL, 0, &a, &err), 0);
    CHECK_INT(a.rows, 0);
    CHECK_INT(a.max_bytes, FEEDBACK_STORE_MAX_BYTES_DEFAULT);
    feedback_io_row_t rows[3] = {s_row("r1", 0, 1), s_row("r1", 1, 0), s_row("r1", 0, 0)};
    CHECK_INT(feedback_store_add(store, NULL, 0, rows, 3, &a, &err), 0);
    CHECK_INT(a.stored, 2);
    CHECK_INT(a.duplicate, 1);   //  (r1, 0) again: the first stays
    CHECK_INT(a.rows, 2);
    uint64_t one = a.bytes / 2;   //  every row here has the same size
    //  a cap of 3 rows: storing 4 more drops the 3 oldest
    feedback_io_row_t more[4] = {s_row("r2", 0, 1), s_row("r3", 0, 1), s_row("r4", 0, 1), s_row("r5", 0, 1)};
    CHECK_INT(feedback_store_add(store, NULL, 3 * one, more, 4, &a, &err), 0);
    CHECK_INT(a.stored, 4);
    CHECK_INT(a.rows, 3);
    CHECK_INT(a.bytes, 3 * one);
    CHECK_INT(a.rotated_total, 3);
    CHECK_INT(a.stored_total, 6);
    s_seen_t seen = {0};
    CHECK_INT(store_feedback_scan(store, s_collect_fn, &seen, &err), 0);
    CHECK_INT(seen.n, 3);
    CHECK_STR(seen.ids[0], "r3");   //  oldest first
    CHECK_STR(seen.ids[2], "r5");
    //  a rotated row's key is free again; a kept one is still a duplicate
    feedback_io_row_t again[2] = {s_row("r1", 0, 1), s_row("r5", 0, 1)};
    CHECK_INT(feedback_store_add(store, NULL, 3 * one, again, 2, &a, &err), 0);
    CHECK_INT(a.stored, 1);
    CHECK_INT(a.duplicate, 1);
    CHECK_INT(a.duplicate_total, 2);
    store_destroy(&store);
    //  the counts and rows are the store's: a reopen keeps them
    store = store_open(dir, NULL, &err);
    CHECK_INT(feedback_store_counts(store, NULL, 3 * one, &a, &err), 0);
    CHECK_INT(a.rows, 3);
    CHECK_INT(a.rotated_total, 4);
    size_t dropped;
    CHECK_INT(store_feedback_put(store, NULL, "#stats", REC, sizeof REC, &err), MLOPS_EINVAL);
    for (int i = 0; i < 3; i++)
        CHECK_INT(store_feedback_drop_oldest(store, NULL, &dropped, &err), 0);
    CHECK_INT(store_feedback_drop_oldest(store, NULL, &dropped, &err), MLOPS_ENOTFOUND);
    store_destroy(&store);
    testing_rmtree(dir);
}

int main(void)
{
    RUN(test_codec);
    RUN(test_predict_walk);
    RUN(test_store_cap_and_duplicates);
    return TEST_REPORT("test_feedback_store");
}
