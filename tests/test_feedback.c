/*  test_feedback.c: gateway/feedback.c, the prediction log: ids (valid,
    made unique), the ring and its hash (join, duplicates, expiry when
    overwritten, a reused id), labels of the wrong type, sampling, and the
    live metrics on a known sequence (binary accuracy and log loss,
    regression MAE, multiclass accuracy and log loss and its labels) with
    their /metrics and /api/feedback text, and the record a row keeps. */
#include "err.h"
#include "feedback.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>

static const feedback_label_t ONE = {FEEDBACK_LABEL_NUMBER, 1}, ZERO = {FEEDBACK_LABEL_NUMBER, 0};

static void test_ids(void)
{
    CHECK(feedback_id_valid("abc-12_3.x:y", 12));
    CHECK(!feedback_id_valid("", 0));
    CHECK(!feedback_id_valid("a b", 3));
    CHECK(!feedback_id_valid("a\"b", 3));
    CHECK(!feedback_id_valid("a\r\nb", 4));
    char big[FEEDBACK_ID_MAX + 2];
    memset(big, 'a', sizeof big);
    CHECK(feedback_id_valid(big, FEEDBACK_ID_MAX));
    CHECK(!feedback_id_valid(big, FEEDBACK_ID_MAX + 1));
    feedback_t *f = feedback_new(4, 1, 42);
    char a[FEEDBACK_ID_MAX + 1], b[FEEDBACK_ID_MAX + 1];
    feedback_id_new(f, a);
    feedback_id_new(f, b);
    CHECK(feedback_id_valid(a, strlen(a)));
    CHECK(strcmp(a, b) != 0);
    CHECK_INT(strlen(a), 29);
    CHECK(strncmp(a, b, 16) != 0);   //  the random part differs too
    feedback_destroy(&f);
    CHECK(f == NULL);
    CHECK(feedback_new(0, 1, 1) == NULL);
    CHECK(feedback_new(4, 1.5, 1) == NULL);
    CHECK(feedback_new(4, NAN, 1) == NULL);
}

static void test_join_and_duplicate(void)
{
    feedback_t *f = feedback_new(8, 1, 1);
    const char *why = NULL;
    feedback_log(f, "r1", 0, 3, FEEDBACK_BINARY, 1, 0.9, 1000);
    CHECK_INT(feedback_label(f, "r1", 0, &ONE, &why), 0);
    CHECK(why == NULL);
    CHECK_INT(feedback_label(f, "r1", 0, &ONE, &why), MLOPS_ESTATE);
    CHECK_CONTAINS(why, "label already");
    CHECK_INT(feedback_label(f, "r2", 0, &ONE, &why), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(why, "unknown or expired");
    CHECK_INT(feedback_label(f, "r1", 1, &ONE, &why), MLOPS_ENOTFOUND);   //  no such row
    feedback_counts_t c = feedback_counts(f);
    CHECK_INT(c.logged, 1);
    CHECK_INT(c.accepted, 1);
    CHECK_INT(c.duplicate, 1);
    CHECK_INT(c.unknown, 2);
    feedback_destroy(&f);
}

//  A full ring overwrites its oldest rows: their ids are then unknown; the
//  rows that stay are found however the chains were cut.
static void test_expiry(void)
{
    feedback_t *f = feedback_new(3, 1, 1);
    const char *why;
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "id%d", i);
        feedback_log(f, id, 0, 1, FEEDBACK_BINARY, 0, 0.2, i);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof id, "id%d", i);
        CHECK_INT(feedback_label(f, id, 0, &ZERO, &why), MLOPS_ENOTFOUND);
    }
    for (int i = 7; i < 10; i++) {
        snprintf(id, sizeof id, "id%d", i);
        CHECK_INT(feedback_label(f, id, 0, &ZERO, &why), 0);
    }
    feedback_destroy(&f);
}

//  A batch's rows by index; a reused id joins its newest prediction.
static void test_batch_rows_and_reuse(void)
{
    feedback_t *f = feedback_new(16, 1, 1);
    const char *why;
    for (uint32_t i = 0; i < 3; i++)
        feedback_log(f, "b", i, 2, FEEDBACK_BINARY, i % 2, 0.5, 0);
    feedback_log(f, "b", 0, 5, FEEDBACK_BINARY, 1, 0.9, 0);   //  reused id, newer version
    CHECK_INT(feedback_label(f, "b", 2, &ZERO, &why), 0);
    CHECK_INT(feedback_label(f, "b", 0, &ONE, &why), 0);
    feedback_version_t v[FEEDBACK_VERSIONS_MAX];
    CHECK_INT(feedback_versions(f, v), 2);
    CHECK_INT(v[0].version, 2);
    CHECK_INT(v[0].correct, 1);   //  row 2 predicted 0, label 0
    CHECK_INT(v[1].version, 5);
    CHECK_INT(v[1].labelled, 1);
    CHECK_INT(feedback_label(f, "b", 0, &ONE, &why), MLOPS_ESTATE);   //  the newest is labelled
    feedback_destroy(&f);
}

//  Only the first row of a request's run is hashed: the others are found
//  by their offset from it, across the ring's wrap; a run whose first row
//  is overwritten expires whole; runs that are not in order still join.
static void test_runs_found_by_offset(void)
{
    feedback_t *f = feedback_new(8, 1, 1);
    const char *why;
    for (uint32_t i = 0; i < 5; i++)   //  rows 0..4
        feedback_log(f, "a", i, 1, FEEDBACK_BINARY, 0, 0.5, 0);
    for (uint32_t i = 0; i < 5; i++)   //  rows 5, 6, 7, then 0, 1 (a's first two overwritten)
        feedback_log(f, "b", i, 1, FEEDBACK_BINARY, 0, 0.5, 0);
    for (uint32_t i = 0; i < 5; i++)
        CHECK_INT(feedback_label(f, "b", i, &ZERO, &why), 0);   //  across the wrap
    CHECK_INT(feedback_label(f, "b", 5, &ZERO, &why), MLOPS_ENOTFOUND);
    CHECK_INT(feedback_label(f, "a", 3, &ZERO, &why), MLOPS_ENOTFOUND);   //  its run's head is gone
    feedback_log(f, "c", 4, 1, FEEDBACK_BINARY, 0, 0.5, 0);   //  out of order: each its own run
    feedback_log(f, "c", 2, 1, FEEDBACK_BINARY, 0, 0.5, 0);
    feedback_log(f, "c", 3, 1, FEEDBACK_BINARY, 0, 0.5, 0);   //  follows c#2: found from it
    CHECK_INT(feedback_label(f, "c", 3, &ZERO, &why), 0);
    CHECK_INT(feedback_label(f, "c", 4, &ZERO, &why), 0);
    CHECK_INT(feedback_label(f, "c", 2, &ZERO, &why), 0);
    CHECK_INT(feedback_label(f, "c", 0, &ZERO, &why), MLOPS_ENOTFOUND);
    feedback_destroy(&f);
}

static void test_wrong_label_type(void)
{
    feedback_t *f = feedback_new(8, 1, 1);
    const char *why;
    feedback_log(f, "b", 0, 1, FEEDBACK_BINARY, 1, 0.7, 0);
    feedback_log(f, "r", 0, 1, FEEDBACK_REGRESSION, 0, 2.5, 0);
    feedback_log(f, "m", 0, 1, FEEDBACK_MULTICLASS, 2, NAN, 0);
    feedback_label_t two = {FEEDBACK_LABEL_NUMBER, 2}, text = {FEEDBACK_LABEL_OTHER, 0};
    CHECK_INT(feedback_label(f, "b", 0, &two, &why), MLOPS_ECHECK);
    CHECK_CONTAINS(why, "0, 1, true or false");
    CHECK_INT(feedback_label(f, "b", 0, &text, &why), MLOPS_ECHECK);
    CHECK_INT(feedback_label(f, "r", 0, &text, &why), MLOPS_ECHECK);
    CHECK_CONTAINS(why, "must be a number");
    CHECK_INT(feedback_label(f, "m", 0, &ONE, &why), MLOPS_ECHECK);   //  its classes never told
    CHECK_CONTAINS(why, "label 1 is not one of the model's classes");
    feedback_label_t yes = {FEEDBACK_LABEL_BOOL, 1};
    CHECK_INT(feedback_label(f, "b", 0, &yes, &why), 0);   //  a refused label did not mark it
    CHECK_INT(feedback_counts(f).invalid, 4);
    feedback_destroy(&f);
}

//  Multiclass: a label must be one of the version's classes, as the target
//  had it (a string class by a string, a number class by a number);
//  accuracy and log loss (from the row's class probabilities) on a known
//  sequence.
static void test_multiclass(void)
{
    feedback_t *f = feedback_new(16, 1, 1);
    const char *why;
    CHECK_INT(feedback_classes(f, 4, "[\"a\",\"b\",\"c\"]"), 0);
    CHECK_INT(feedback_classes(f, 5, "[3,5,7]"), 0);
    CHECK_INT(feedback_classes(f, 6, "{\"a\":1}"), MLOPS_EINVAL);
    CHECK_INT(feedback_classes(f, 6, "[[1]]"), MLOPS_EINVAL);
    double p1[] = {0.7, 0.2, 0.1}, p2[] = {0.1, 0.3, 0.6};
    feedback_row_t r1 = {.id = "m1", .version = 4, .task = FEEDBACK_MULTICLASS, .predicted = 0,
                         .value = 0.7, .class_probabilities = p1, .k = 3};
    feedback_row_t r2 = r1;
    r2.id = "m2", r2.predicted = 2, r2.value = 0.6, r2.class_probabilities = p2;
    feedback_row_t r3 = r1;
    r3.id = "m3", r3.version = 5;
    feedback_log_row(f, &r1);
    feedback_log_row(f, &r2);
    feedback_log_row(f, &r3);
    feedback_label_t a = {FEEDBACK_LABEL_STRING, 0, "a"}, b = {FEEDBACK_LABEL_STRING, 0, "b"};
    feedback_label_t z = {FEEDBACK_LABEL_STRING, 0, "z"}, seven = {FEEDBACK_LABEL_NUMBER, 7, NULL};
    feedback_label_t three_text = {FEEDBACK_LABEL_STRING, 0, "3"}, yes = {FEEDBACK_LABEL_BOOL, 1, NULL};
    CHECK_INT(feedback_label(f, "m1", 0, &z, &why), MLOPS_ECHECK);
    CHECK_CONTAINS(why, "label \"z\" is not one of the model's classes: [\"a\",\"b\",\"c\"]");
    CHECK_INT(feedback_label(f, "m1", 0, &ONE, &why), MLOPS_ECHECK);   //  a number for string classes
    CHECK_INT(feedback_label(f, "m3", 0, &three_text, &why), MLOPS_ECHECK);   //  "3" is not 3
    CHECK_INT(feedback_label(f, "m3", 0, &yes, &why), MLOPS_ECHECK);
    CHECK_CONTAINS(why, "a boolean");
    CHECK_INT(feedback_label(f, "m1", 0, &a, &why), 0);    //  right, p(a) 0.7
    CHECK_INT(feedback_label(f, "m2", 0, &b, &why), 0);    //  wrong, p(b) 0.3
    CHECK_INT(feedback_label(f, "m3", 0, &seven, &why), 0);  //  wrong, p(7) 0.1
    feedback_version_t v[FEEDBACK_VERSIONS_MAX];
    CHECK_INT(feedback_versions(f, v), 2);
    CHECK_INT(v[0].labelled, 2);
    CHECK_INT(v[0].correct, 1);
    CHECK_NEAR(v[0].log_loss_sum / 2, -(log(0.7) + log(0.3)) / 2, 1e-6);   //  kept as floats
    CHECK_INT(v[1].correct, 0);
    size_t len;
    char *m = feedback_metrics(f, &len);
    CHECK_CONTAINS(m, "mlops_live_accuracy{version=\"4\"} 0.5\n");
    CHECK_CONTAINS(m, "mlops_live_log_loss{version=\"5\"} 2.30258");
    CHECK(strstr(m, "mlops_live_auc{version=\"4\"}") == NULL);
    free(m);
    char *s = feedback_summary(f, &len);
    CHECK_CONTAINS(s, "\"version\":4,\"labelled\":2,\"accuracy\":0.5");
    free(s);
    feedback_destroy(&f);
}

//  A row keeps its record when it fits beside its probabilities, and a
//  label hands the row back with it; one too big is logged without it.
static void test_record_kept(void)
{
    feedback_t *f = feedback_new(8, 1, 1);
    const char *why;
    uint8_t rec[] = {0x81, 0xa1, 'x', 0x05}, big[FEEDBACK_ROW_BYTES + 1] = {0};
    feedback_row_t in = {.id = "k", .version = 2, .task = FEEDBACK_BINARY, .predicted = 1,
                         .value = 0.8, .time_ms = 77, .record = rec, .record_len = sizeof rec};
    feedback_log_row(f, &in);
    in.id = "big", in.record = big, in.record_len = sizeof big;
    feedback_log_row(f, &in);
    CHECK_INT(feedback_counts(f).unkept, 1);
    feedback_row_t out;
    CHECK_INT(feedback_label_row(f, "k", 0, &ONE, &why, &out), 0);
    CHECK_INT(out.record_len, sizeof rec);
    CHECK(memcmp(out.record, rec, sizeof rec) == 0);
    CHECK_INT(out.time_ms, 77);
    CHECK_INT(out.version, 2);
    CHECK_INT(feedback_label_row(f, "big", 0, &ONE, &why, &out), 0);
    CHECK(out.record == NULL);
    feedback_destroy(&f);
}

//  The outbox keeps FEEDBACK_OUTBOX_ROWS rows, the oldest dropped past
//  them (counted); rows sent are marked and stay until popped (counted as
//  forwarded); a drop takes a marked row off the mark too.
static void test_outbox(void)
{
    feedback_t *f = feedback_new(4, 1, 1);
    for (int i = 0; i < FEEDBACK_OUTBOX_ROWS + 2; i++) {
        uint8_t *b = malloc(sizeof i);
        memcpy(b, &i, sizeof i);
        feedback_outbox_put(f, b, sizeof i);
    }
    feedback_counts_t c = feedback_counts(f);
    CHECK_INT(c.forward_dropped, 2);
    CHECK_INT(c.outbox, FEEDBACK_OUTBOX_ROWS);
    size_t len;
    int first;
    memcpy(&first, feedback_outbox_peek(f, 0, &len), sizeof first);
    CHECK_INT(first, 2);   //  0 and 1 went
    feedback_outbox_mark(f, 3);
    CHECK_INT(feedback_outbox_marked(f), 3);
    feedback_outbox_put(f, malloc(1), 1);   //  full: drops the oldest, a marked one
    CHECK_INT(feedback_outbox_marked(f), 2);
    feedback_outbox_pop(f, feedback_outbox_marked(f));
    CHECK_INT(feedback_outbox_marked(f), 0);
    c = feedback_counts(f);
    CHECK_INT(c.forwarded, 2);
    CHECK_INT(c.outbox, FEEDBACK_OUTBOX_ROWS - 2);
    char *s = feedback_summary(f, &len);
    CHECK_CONTAINS(s, "\"forwarded\":2,\"forward_dropped\":3");
    free(s);
    feedback_destroy(&f);   //  frees what is left
}

//  Accuracy and log loss on a known sequence; regression's MAE.
static void test_live_metrics(void)
{
    feedback_t *f = feedback_new(64, 1, 1);
    const char *why;
    //  (predicted, p(1), label): right, right, wrong, right
    struct { int pred; double p; int label; } seq[] = {{1, 0.9, 1}, {0, 0.2, 0}, {1, 0.6, 0}, {0, 0.4, 0}};
    char id[16];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "s%d", i);
        feedback_log(f, id, 0, 7, FEEDBACK_BINARY, seq[i].pred, seq[i].p, 0);
        CHECK_INT(feedback_label(f, id, 0, seq[i].label ? &ONE : &ZERO, &why), 0);
    }
    feedback_log(f, "x", 0, 8, FEEDBACK_REGRESSION, 0, 10, 0);
    feedback_log(f, "y", 0, 8, FEEDBACK_REGRESSION, 0, 20, 0);
    feedback_label_t l1 = {FEEDBACK_LABEL_NUMBER, 12}, l2 = {FEEDBACK_LABEL_NUMBER, 19};
    CHECK_INT(feedback_label(f, "x", 0, &l1, &why), 0);
    CHECK_INT(feedback_label(f, "y", 0, &l2, &why), 0);
    feedback_version_t v[FEEDBACK_VERSIONS_MAX];
    CHECK_INT(feedback_versions(f, v), 2);
    CHECK_INT(v[0].labelled, 4);
    CHECK_INT(v[0].correct, 3);
    double loss = -(log(0.9) + log(0.8) + log(0.4) + log(0.6)) / 4;
    CHECK_NEAR(v[0].log_loss_sum / 4, loss, 1e-12);
    CHECK_NEAR(v[1].abs_error_sum / 2, 1.5, 1e-12);
    size_t len = 0;
    char *m = feedback_metrics(f, &len);
    CHECK_INT(len, strlen(m));
    CHECK_CONTAINS(m, "mlops_live_accuracy{version=\"7\"} 0.75\n");
    CHECK_CONTAINS(m, "mlops_live_mae{version=\"8\"} 1.5\n");
    CHECK_CONTAINS(m, "mlops_feedback_total{result=\"accepted\"} 6\n");
    CHECK(strstr(m, "mlops_live_accuracy{version=\"8\"}") == NULL);
    free(m);
    char *s = feedback_summary(f, &len);
    CHECK_CONTAINS(s, "\"version\":7,\"labelled\":4,\"accuracy\":0.75");
    CHECK_CONTAINS(s, "\"mae\":1.5");
    CHECK_CONTAINS(s, "\"auc\":1.0");   //  p(1) of every 1 above every 0's
    free(s);
    feedback_destroy(&f);
}

//  AUC from the buckets: every positive against every negative, a tie
//  (one bucket) counted half; NAN with one class only.
static void test_auc(void)
{
    feedback_t *f = feedback_new(64, 1, 1);
    const char *why;
    struct { double p; int label; } seq[] = {{0.9, 1}, {0.3, 1}, {0.5, 1}, {0.2, 0}, {0.4, 0}, {0.6, 0}, {0.5, 0}};
    char id[16];
    feedback_version_t v[FEEDBACK_VERSIONS_MAX];
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof id, "a%d", i);
        feedback_log(f, id, 0, 1, FEEDBACK_BINARY, seq[i].p >= 0.5, seq[i].p, 0);
        CHECK_INT(feedback_label(f, id, 0, seq[i].label ? &ONE : &ZERO, &why), 0);
        feedback_versions(f, v);
        if (i < 3)
            CHECK(isnan(feedback_auc(&v[0])));
    }
    CHECK_NEAR(feedback_auc(&v[0]), 7.5 / 12, 1e-12);
    size_t len;
    char *m = feedback_metrics(f, &len);
    CHECK_CONTAINS(m, "mlops_live_auc{version=\"1\"} 0.625\n");
    free(m);
    feedback_destroy(&f);
}

//  The sample rate keeps about its share; 0 keeps none.
static void test_sampling(void)
{
    feedback_t *f = feedback_new(4, 0.25, 9);
    int kept = 0;
    for (int i = 0; i < 10000; i++)
        kept += feedback_sampled(f);
    CHECK(kept > 2000 && kept < 3000);
    CHECK_INT(feedback_counts(f).unsampled, (uint64_t)(10000 - kept));
    feedback_destroy(&f);
    f = feedback_new(4, 0, 9);
    CHECK(!feedback_sampled(f));
    feedback_destroy(&f);
}

//  Versions past FEEDBACK_VERSIONS_MAX push out the oldest.
static void test_versions_bounded(void)
{
    feedback_t *f = feedback_new(64, 1, 1);
    const char *why;
    char id[16];
    for (int i = 0; i < FEEDBACK_VERSIONS_MAX + 2; i++) {
        snprintf(id, sizeof id, "v%d", i);
        feedback_log(f, id, 0, i + 1, FEEDBACK_BINARY, 1, 0.9, 0);
        CHECK_INT(feedback_label(f, id, 0, &ONE, &why), 0);
    }
    feedback_version_t v[FEEDBACK_VERSIONS_MAX];
    CHECK_INT(feedback_versions(f, v), FEEDBACK_VERSIONS_MAX);
    CHECK_INT(v[0].version, 3);
    CHECK_INT(v[FEEDBACK_VERSIONS_MAX - 1].version, FEEDBACK_VERSIONS_MAX + 2);
    feedback_destroy(&f);
}

int main(void)
{
    RUN(test_ids);
    RUN(test_join_and_duplicate);
    RUN(test_expiry);
    RUN(test_batch_rows_and_reuse);
    RUN(test_runs_found_by_offset);
    RUN(test_wrong_label_type);
    RUN(test_live_metrics);
    RUN(test_multiclass);
    RUN(test_record_kept);
    RUN(test_outbox);
    RUN(test_auc);
    RUN(test_sampling);
    RUN(test_versions_bounded);
    return TEST_REPORT("test_feedback");
}
