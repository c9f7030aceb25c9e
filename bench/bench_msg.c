/*  bench_msg.c: throughput of the MLOPS/1 codec on the serving hot path.

    Decodes a one-record PREDICT (a Titanic passenger, 8 fields) and a
    100-record batch, and encodes a one-entry PREDICTION, each in a loop
    for about a second, and prints ns per message and MB/s.
    Reproduce: make build/release/bench/bench_msg && build/release/bench/bench_msg
*/
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double s_now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static proto_field_t s_passenger[] = {
    {"Pclass", PROTO_VAL_INT, 3, NULL},   {"Sex", PROTO_VAL_STR, 0, "male"},
    {"Age", PROTO_VAL_FLOAT, 22, NULL},   {"SibSp", PROTO_VAL_INT, 1, NULL},
    {"Parch", PROTO_VAL_INT, 0, NULL},    {"Fare", PROTO_VAL_FLOAT, 7.25, NULL},
    {"Embarked", PROTO_VAL_STR, 0, "S"},  {"Name", PROTO_VAL_STR, 0, "Braund, Mr. Owen Harris"},
};

//  Times decoding frame until a second has passed; prints the figures.
static void s_bench_decode(const char *what, const uint8_t *frame, size_t len)
{
    size_t n = 0;
    double t0 = s_now_sec(), t;
    do {
        for (int i = 0; i < 1000; i++, n++) {
            proto_msg_t *m = proto_msg_decode(frame, len, NULL);
            if (!m)
                abort();
            proto_msg_destroy(&m);
        }
        t = s_now_sec() - t0;
    } while (t < 1.0);
    printf("decode %-24s %6zu bytes  %8.0f ns/msg  %7.1f MB/s\n", what, len, t / (double)n * 1e9,
           (double)len * (double)n / t / 1e6);
}

int main(void)
{
    proto_record_t recs[100];
    for (int i = 0; i < 100; i++)
        recs[i] = (proto_record_t){s_passenger, 8};
    proto_msg_t one = {.cmd = PROTO_PREDICT, .predict = {42, recs, 1}};
    proto_msg_t batch = {.cmd = PROTO_PREDICT, .predict = {43, recs, 100}};
    uint8_t *f1, *f100;
    size_t l1, l100;
    if (proto_msg_encode(&one, &f1, &l1) || proto_msg_encode(&batch, &f100, &l100))
        return 1;
    s_bench_decode("PREDICT (1 record)", f1, l1);
    s_bench_decode("PREDICT (100 records)", f100, l100);

    int64_t pred = 0;
    double prob = 0.11;
    proto_msg_t answer = {.cmd = PROTO_PREDICTION, .prediction = {42, 3, &pred, &prob, 1}};
    size_t n = 0, len = 0;
    double t0 = s_now_sec(), t;
    do {
        for (int i = 0; i < 1000; i++, n++) {
            uint8_t *out;
            if (proto_msg_encode(&answer, &out, &len))
                return 1;
            free(out);
        }
        t = s_now_sec() - t0;
    } while (t < 1.0);
    printf("encode %-24s %6zu bytes  %8.0f ns/msg\n", "PREDICTION (1 entry)", len, t / (double)n * 1e9);
    free(f1);
    free(f100);
    return 0;
}
