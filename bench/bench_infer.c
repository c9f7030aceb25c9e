/*  bench_infer.c: the serving path without HTTP or sockets, step by step,
    for the logistic regression, the random forest and a 100-tree gbdt
    (early stopping off, so all 100 trees are kept): JSON body to records
    (gateway), PREDICT encode (gateway) and decode (worker), validation and
    prediction in one walk (worker, model_serve), PREDICTION encode, answer
    JSON; and the gateway's two steps for the same records sent as an Open
    Inference Protocol (V2) infer body: its body to records, and its
    answer. Medians in
    microseconds for 1 record and for 100, to set beside the reference's
    "Serving path without HTTP" table (anchors/python/RESULTS.md).

    With --out DIR it also writes the artifacts it trained (DIR/logreg.art,
    DIR/forest.art, DIR/gbdt.art); bench/serving.sh serves the first two.

    With --evict KB each pass writes over KB kilobytes just before the
    validate + predict step, as the gateway and the other processes on a
    core do between two requests under load: the step then starts with the
    model's data out of L2 (512 KB a core here), which is what a request
    meets under wrk, not in this loop.

    With --batch-body FILE the batch is that file's /predict/batch body
    (its records, 100 of them, as bench/serving.sh sends: real passengers,
    where the built-in records repeat a few values) instead of the built-in
    one; the V2 steps keep the built-in records.

    With --family logreg|forest|gbdt only that family is trained and
    measured (the others' columns print 0), for perf on one walk.

    With --profile-cost N it measures instead what live profiling (issue
    #19, workers/infer_profile.h) costs the inference worker: its serving
    of the batch (decoded as the worker gets it) followed by the live
    profile's counting of it, on and off in turn, N passes of each in this
    one process; medians in microseconds a batch.

    usage: bench_infer [--data CSV] [--out DIR] [--reps N] [--evict KB] [--family F] [--batch-body FILE]
                       [--profile-cost N]
*/
#include "answer.h"
#include "body.h"
#include "csv_load.h"
#include "infer_profile.h"
#include "model.h"
#include "msg.h"
#include "train.h"
#include "v2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_RECORDS 100
#define STEPS 7
#define FAMILIES 3

static const char *s_step_names[STEPS] = {"JSON body -> records", "PREDICT encode", "PREDICT decode",
                                          "validate + predict", "PREDICTION + JSON answer",
                                          "V2: JSON body -> records", "V2: JSON answer"};

static size_t s_evict_bytes; //  --evict: bytes written over before each predict step
static char *s_batch_body;   //  --batch-body: the batch's body read from a file, or NULL

//  The whole of file path as a string, or NULL.
static char *s_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long len = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len + 1))) {
        if (fread(text, 1, (size_t)len, f) != (size_t)len) {
            free(text);
            text = NULL;
        } else {
            text[len] = 0;
        }
    }
    if (f)
        fclose(f);
    return text;
}

//  Writes over s_evict_bytes of memory of our own, pushing the model's
//  data out of the caches that size covers.
static void s_evict(void)
{
    static unsigned char *junk;
    if (s_evict_bytes == 0 || (!junk && !(junk = malloc(s_evict_bytes))))
        return;
    static unsigned char round;
    round++;
    for (size_t i = 0; i < s_evict_bytes; i += 64)
        junk[i] = round;
}

static double s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  A Titanic-shaped JSON body: one record, or {"instances": [...]} of n.
static char *s_body_text(size_t n, bool batch)
{
    static const char *names[] = {"Braund, Mr. Owen Harris", "Cumings, Mrs. John Bradley",
                                  "Heikkinen, Miss. Laina", "Palsson, Master. Gosta Leonard"};
    static const char *sexes[] = {"male", "female", "female", "male"};
    static const char *ports[] = {"S", "C", "Q", "S"};
    size_t cap = 64 + n * 200, len = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    if (batch)
        len += (size_t)snprintf(text + len, cap - len, "{\"instances\":[");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"Pclass\":%zu,\"Sex\":\"%s\",\"Age\":%s,\"SibSp\":%zu,\"Parch\":%zu,"
                                "\"Fare\":%.2f,\"Embarked\":\"%s\",\"Name\":\"%s\"}",
                                i ? "," : "", 1 + i % 3, sexes[i % 4], i % 5 == 4 ? "null" : "30",
                                i % 3, i % 2, 7.25 + (double)i, ports[i % 4], names[i % 4]);
    }
    if (batch)
        snprintf(text + len, cap - len, "]}");
    return text;
}

//  The same records as s_body_text as a V2 infer body: one column tensor
//  per field (a missing Age gets what the model imputes: V2 has no null).
static char *s_v2_text(size_t n)
{
    static const char *names[] = {"Braund, Mr. Owen Harris", "Cumings, Mrs. John Bradley",
                                  "Heikkinen, Miss. Laina", "Palsson, Master. Gosta Leonard"};
    static const char *sexes[] = {"male", "female", "female", "male"};
    static const char *ports[] = {"S", "C", "Q", "S"};
    static const char *cols[] = {"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked", "Name"};
    static const char *types[] = {"INT64", "BYTES", "FP64", "INT64", "INT64", "FP64", "BYTES", "BYTES"};
    size_t cap = 512 + n * 200, len = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    len += (size_t)snprintf(text, cap, "{\"inputs\":[");
    for (size_t c = 0; c < 8; c++) {
        len += (size_t)snprintf(text + len, cap - len, "%s{\"name\":\"%s\",\"shape\":[%zu],"
                                "\"datatype\":\"%s\",\"data\":[", c ? "," : "", cols[c], n, types[c]);
        for (size_t i = 0; i < n; i++) {
            const char *sep = i ? "," : "";
            if (c == 0 || c == 3 || c == 4)
                len += (size_t)snprintf(text + len, cap - len, "%s%zu", sep,
                                        c == 0 ? 1 + i % 3 : c == 3 ? i % 3 : i % 2);
            else if (c == 2)
                len += (size_t)snprintf(text + len, cap - len, "%s%s", sep, i % 5 == 4 ? "28" : "30");
            else if (c == 5)
                len += (size_t)snprintf(text + len, cap - len, "%s%.2f", sep, 7.25 + (double)i);
            else
                len += (size_t)snprintf(text + len, cap - len, "%s\"%s\"", sep,
                                        c == 1 ? sexes[i % 4] : c == 6 ? ports[i % 4] : names[i % 4]);
        }
        len += (size_t)snprintf(text + len, cap - len, "]}");
    }
    snprintf(text + len, cap - len, "]}");
    return text;
}

//  The V2 steps: body to records, and the answer of the PREDICTION back.
static int s_v2_steps(const schema_t *schema, const char *v2_text, const proto_msg_t *back,
                      double t[2])
{
    static v2_infer_t parsed;
    mlops_err_t err;
    double a = s_now_us();
    int rc = v2_infer_parse(&parsed, v2_text, strlen(v2_text), schema, 10000, &err);
    double b = s_now_us();
    size_t alen = 0;
    char *answer = rc == 0 ? answer_v2_infer(back, "titanic", NULL, true, true, &alen) : NULL;
    double c = s_now_us();
    v2_infer_clear(&parsed);
    free(answer);
    if (rc != 0)
        fprintf(stderr, "bench_infer: V2 body: %s\n", err.msg);
    t[0] = b - a, t[1] = c - b;
    return rc == 0 && answer ? 0 : -1;
}

//  One pass through every step; adds each step's time to t[].
static int s_pass(const model_t *model, const schema_t *schema, const char *text,
                  const char *v2_text, bool batch, double t[STEPS])
{
    body_t body = {0};
    mlops_err_t err;
    double a = s_now_us();
    if (body_parse(&body, text, strlen(text), batch, 10000, &err) != 0) {
        fprintf(stderr, "bench_infer: body: %s\n", err.msg);
        return -1;
    }
    double b = s_now_us();
    proto_msg_t msg = {.cmd = PROTO_PREDICT,
                       .predict = {.req_id = 1, .records = body.records, .n_records = body.n_records}};
    uint8_t *frame = NULL;
    size_t len = 0;
    proto_msg_encode(&msg, &frame, &len);
    double c = s_now_us();
    proto_msg_t *in = proto_msg_decode(frame, len, &err);
    s_evict();
    double d = s_now_us();
    proto_problem_t problems[16];
    size_t n = in && in->predict.n_records <= BATCH_RECORDS ? in->predict.n_records : 0, bad = 1;
    double proba[BATCH_RECORDS];
    int64_t pred[BATCH_RECORDS];
    int rc = in ? model_serve(model, in->predict.records, n, false, problems, 16, &bad, proba, &err)
                : -1;
    double e = s_now_us();
    for (size_t i = 0; i < n; i++)
        pred[i] = proba[i] >= 0.5;
    proto_msg_t out = {.cmd = PROTO_PREDICTION,
                       .prediction = {.req_id = 1, .model_version = 1, .predictions = pred,
                                      .probabilities = proba, .n = n}};
    uint8_t *oframe = NULL;
    size_t olen = 0, alen = 0;
    proto_msg_encode(&out, &oframe, &olen);
    proto_msg_t *back = proto_msg_decode(oframe, olen, &err);
    char *answer = back ? answer_prediction(back, batch, &alen) : NULL;
    double f = s_now_us();
    double step[STEPS] = {b - a, c - b, d - c, e - d, f - e};
    int v2 = back ? s_v2_steps(schema, v2_text, back, step + 5) : -1;
    for (int i = 0; i < STEPS; i++)
        t[i] = step[i];
    free(answer);
    proto_msg_destroy(&back);
    free(oframe);
    proto_msg_destroy(&in);
    free(frame);
    body_clear(&body);
    if (bad || rc != 0 || v2 != 0) {
        fprintf(stderr, "bench_infer: %s\n",
                rc == 0 ? problems[0].msg : "decode or predict failed");
        return -1;
    }
    return 0;
}

//  The batch of s_batch_body (else the built-in one) as the worker decodes
//  it from a PREDICT, or NULL.
static proto_msg_t *s_decoded_batch(void)
{
    char *text = s_batch_body ? strdup(s_batch_body) : s_body_text(BATCH_RECORDS, true);
    body_t body = {0};
    mlops_err_t err;
    proto_msg_t *in = NULL;
    if (text && body_parse(&body, text, strlen(text), true, 10000, &err) == 0) {
        proto_msg_t msg = {.cmd = PROTO_PREDICT,
                           .predict = {.req_id = 1, .records = body.records,
                                       .n_records = body.n_records}};
        uint8_t *frame = NULL;
        size_t len = 0;
        if (proto_msg_encode(&msg, &frame, &len) == 0)
            in = proto_msg_decode(frame, len, &err);
        free(frame);
    }
    body_clear(&body);
    free(text);
    return in && in->predict.n_records <= BATCH_RECORDS ? in : (proto_msg_destroy(&in), NULL);
}

//  The worker's steps for one batch, as workers/infer.c takes them: serve,
//  then count into prof; the microseconds into *us.
//  cells: the worker's scratch, BATCH_RECORDS x n_inputs.
static int s_serve_profiled(const model_t *model, const proto_msg_t *in, infer_profile_t *prof,
                            prep_cell_t *cells, double *us)
{
    static double proba[BATCH_RECORDS];
    size_t n = in->predict.n_records, bad = 1;
    proto_problem_t problems[16];
    mlops_err_t err;
    double a = s_now_us();
    int rc = model_serve_cells(model, in->predict.records, n, problems, 16, &bad, proba, cells,
                               &err);
    if (rc == 0 && bad == 0)
        infer_profile_add(prof, 1, model, cells, n);
    *us = s_now_us() - a;
    return rc == 0 && bad == 0 ? 0 : -1;
}

//  --profile-cost: reps passes with the profile on and as many off, in
//  turn; their medians into med[0] (on) and med[1] (off).
static int s_profile_cost(const model_t *model, int reps, double med[2])
{
    proto_msg_t *in = s_decoded_batch();
    infer_profile_t *prof[2] = {infer_profile_new(0), infer_profile_new(0)};
    double *t = malloc(2 * (size_t)reps * sizeof *t);
    prep_cell_t *cells = malloc((BATCH_RECORDS * model_recipe(model)->n_inputs + 1) * sizeof *cells);
    int rc = in && prof[0] && prof[1] && t && cells ? 0 : -1;
    if (rc == 0)
        infer_profile_set_on(prof[1], false);
    for (int r = 0; r < 2 * reps && rc == 0; r++)
        rc = s_serve_profiled(model, in, prof[r % 2], cells, &t[(size_t)(r % 2) * reps + r / 2]);
    for (int m = 0; m < 2 && rc == 0; m++) {
        qsort(t + (size_t)m * reps, (size_t)reps, sizeof *t, s_cmp_fn);
        med[m] = t[(size_t)m * reps + reps / 2];
    }
    free(t);
    free(cells);
    infer_profile_destroy(&prof[0]);
    infer_profile_destroy(&prof[1]);
    proto_msg_destroy(&in);
    return rc;
}

//  Medians over reps passes, per step, into med[].
static int s_measure(const model_t *model, size_t n, int reps, double med[STEPS])
{
    char *text = n > 1 && s_batch_body ? strdup(s_batch_body) : s_body_text(n, n > 1);
    char *v2_text = s_v2_text(n), *sig = model_signature_json(model);
    mlops_err_t err;
    schema_t *schema = sig ? schema_parse(sig, strlen(sig), 1, &err) : NULL;
    double *t = malloc((size_t)reps * STEPS * sizeof *t);
    int rc = text && v2_text && schema && t ? 0 : -1;
    for (int r = 0; r < reps && rc == 0; r++)
        rc = s_pass(model, schema, text, v2_text, n > 1, t + (size_t)r * STEPS);
    for (int s = 0; s < STEPS && rc == 0; s++) {
        double col[reps];
        for (int r = 0; r < reps; r++)
            col[r] = t[(size_t)r * STEPS + s];
        qsort(col, (size_t)reps, sizeof col[0], s_cmp_fn);
        med[s] = col[reps / 2];
    }
    free(t);
    free(text);
    free(v2_text);
    free(sig);
    schema_destroy(&schema);
    return rc;
}

static int s_write(const char *dir, const char *family, const uint8_t *blob, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.art", dir, family);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(blob, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "bench_infer: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

//  The --profile-cost table: each family's medians (med[f][0][0] on,
//  [0][1] off), their difference a batch and a record.
static void s_print_profile_cost(const char *const families[FAMILIES],
                                 double med[FAMILIES][2][STEPS], const char *only, int reps)
{
    printf("live profiling's cost: serve + count a batch of %d records, median us (%d passes each)\n",
           BATCH_RECORDS, reps);
    printf("%-8s %9s %9s %9s %11s %7s\n", "family", "on", "off", "on-off", "per record", "on/off");
    for (int f = 0; f < FAMILIES; f++) {
        if (only && strcmp(only, families[f]) != 0)
            continue;
        double on = med[f][0][0], off = med[f][0][1];
        printf("%-8s %9.2f %9.2f %9.2f %11.3f %7.3f\n", families[f], on, off, on - off,
               (on - off) / BATCH_RECORDS, on / off);
    }
}

static model_t *s_train(const table_t *raw, const prep_result_t *prep, const char *family,
                        const char *params, const char *out_dir)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    mlops_err_t err;
    if (train_fit(raw, prep->recipe, prep->recipe_len, prep->train_rows, prep->n_train,
                  prep->test_rows, prep->n_test, family, params, 42, &blob, &len, &err) != 0) {
        fprintf(stderr, "bench_infer: train %s: %s\n", family, err.msg);
        return NULL;
    }
    model_t *model = (out_dir && s_write(out_dir, family, blob, len) != 0) ? NULL
                                                                          : model_load(blob, len, &err);
    free(blob);
    return model;
}

int main(int argc, char **argv)
{
    const char *data = "../shared/data/titanic.csv", *out_dir = NULL, *only = NULL;
    int reps = 2001, profile_reps = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            data = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0)
            out_dir = argv[i + 1];
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : reps;
        else if (strcmp(argv[i], "--batch-body") == 0 && !(s_batch_body = s_read_file(argv[i + 1]))) {
            fprintf(stderr, "bench_infer: cannot read %s\n", argv[i + 1]);
            return 2;
        } else if (strcmp(argv[i], "--family") == 0)
            only = argv[i + 1];
        else if (strcmp(argv[i], "--profile-cost") == 0)
            profile_reps = atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 0;
        else if (strcmp(argv[i], "--evict") == 0)
            s_evict_bytes = (size_t)(atoi(argv[i + 1]) > 0 ? atoi(argv[i + 1]) : 0) * 1024;
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "usage: bench_infer [--data CSV] [--out DIR] [--reps N] [--evict KB] [--family F] [--batch-body FILE] [--profile-cost N]\n");
        return 2;
    }
    mlops_err_t err;
    table_t *raw = csv_load_file(data, NULL, &err);
    if (!raw) {
        printf("skip bench_infer: %s\n", err.msg);
        return 0;
    }
    prep_options_t opts = {.seed = 42};
    prep_result_t prep = {0};
    if (train_prepare(raw, &opts, &prep, &err) != 0) {
        fprintf(stderr, "bench_infer: prepare: %s\n", err.msg);
        return 1;
    }
    const char *families[FAMILIES] = {"logreg", "forest", "gbdt"};
    const char *params[FAMILIES] = {NULL, NULL, "{\"max_iter\":100,\"early_stopping\":false}"};
    double med[FAMILIES][2][STEPS] = {{{0}}};
    int rc = 0;
    for (int f = 0; f < FAMILIES && rc == 0; f++) {
        if (only && strcmp(only, families[f]) != 0)
            continue; //  its columns stay 0
        model_t *model = s_train(raw, &prep, families[f], params[f], out_dir);
        if (model && profile_reps)
            rc = s_profile_cost(model, profile_reps, med[f][0]);
        else
            rc = model ? s_measure(model, 1, reps, med[f][0]) | s_measure(model, BATCH_RECORDS, reps / 4 + 1, med[f][1])
                       : -1;
        model_destroy(&model);
    }
    prep_result_clear(&prep);
    table_destroy(&raw);
    if (rc != 0)
        return 1;
    if (profile_reps) {
        s_print_profile_cost(families, med, only, profile_reps);
        return 0;
    }
    printf("serving path without HTTP, median us (%d passes; batch %d records)\n", reps, BATCH_RECORDS);
    printf("%-26s %9s %9s %9s %9s %9s %9s\n", "step", "LR 1", "LR 100", "RF 1", "RF 100",
           "GB 1", "GB 100");
    //  total: the seed API's five steps; V2 total: its body and answer
    //  steps in place of the seed API's
    double total[2 * FAMILIES] = {0}, v2_total[2 * FAMILIES] = {0};
    for (int s = 0; s < STEPS; s++) {
        printf("%-26s", s_step_names[s]);
        for (int k = 0; k < 2 * FAMILIES; k++) {
            double m = med[k / 2][k % 2][s];
            printf(" %9.2f", m);
            total[k] += s < 5 ? m : 0;
            v2_total[k] += s == 0 || s == 4 ? 0 : m;
        }
        printf("\n");
    }
    printf("%-26s", "total");
    for (int k = 0; k < 2 * FAMILIES; k++)
        printf(" %9.2f", total[k]);
    printf("\n%-26s", "V2 total");
    for (int k = 0; k < 2 * FAMILIES; k++)
        printf(" %9.2f", v2_total[k]);
    printf("\n");
    printf("reproduce: make build/release/bench/bench_infer && build/release/bench/bench_infer --data %s\n", data);
    return 0;
}
