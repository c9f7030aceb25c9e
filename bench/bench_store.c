/*  bench_store.c: what a broker state change costs in the record codec
    and the LMDB store.

    Prints ns per run_encode / run_decode of a run with 8 tasks, then in a
    fresh store under /tmp: durable commits per second of one run per
    transaction (the broker's unit of work: each commit is fsync'd), MB/s of
    1 MiB artifact commits, and the time to list the newest 20 of 2000 runs.
    The commit figures depend on the disk (fsync); say which when quoting.
    Reproduce: make build/release/bench/bench_store && build/release/bench/bench_store
*/
#include "records.h"
#include "store.h"

#include <ftw.h>
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

static int s_rm_fn(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void s_sample_run(run_t *run, uint64_t id)
{
    memset(run, 0, sizeof *run);
    run->id = id;
    run->state = RUN_SUCCEEDED;
    snprintf(run->source, sizeof run->source, "synthetic:100000:%llu", (unsigned long long)id);
    snprintf(run->reason, sizeof run->reason, "schedule");
    snprintf(run->outcome, sizeof run->outcome, "promoted v%llu", (unsigned long long)id);
    static const char *stages[] = {"extract", "preprocess", "train", "train", "train",
                                   "evaluate", "load_model", "train"};
    for (int i = 0; i < 8; i++) {
        run_task_t *t = run_add_task(run, stages[i], i >= 2 && i <= 4 ? "forest" : "");
        t->state = TASK_DONE;
        t->attempts = 1;
        t->started_ms = 1764136800000 + i;
        t->ended_ms = 1764136801000 + i;
        snprintf(t->worker, sizeof t->worker, "host-%d:%d", i, 4000 + i);
    }
}

static void s_bench_codec(void)
{
    run_t run, back;
    s_sample_run(&run, 7);
    uint8_t *bytes = NULL;
    size_t len = 0, n = 0;
    double t0 = s_now_sec(), t;
    do {
        for (int i = 0; i < 1000; i++, n++) {
            free(bytes);
            if (run_encode(&run, &bytes, &len))
                abort();
        }
        t = s_now_sec() - t0;
    } while (t < 0.5);
    printf("run_encode (8 tasks)        %5zu bytes  %8.0f ns/run\n", len, t / (double)n * 1e9);
    n = 0;
    t0 = s_now_sec();
    do {
        for (int i = 0; i < 1000; i++, n++) {
            if (run_decode(bytes, len, &back, NULL))
                abort();
            run_clear(&back);
        }
        t = s_now_sec() - t0;
    } while (t < 0.5);
    printf("run_decode (8 tasks)        %5zu bytes  %8.0f ns/run\n", len, t / (double)n * 1e9);
    free(bytes);
    run_clear(&run);
}

static void s_bench_store(const char *dir)
{
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    if (!s) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        exit(1);
    }
    size_t n = 0;
    double t0 = s_now_sec(), t;
    do { //  one run per transaction, as the broker does
        store_txn_t *txn = store_begin(s, &err);
        uint64_t id;
        run_t run;
        if (!txn || store_run_next_id(s, txn, &id, &err))
            abort();
        s_sample_run(&run, id);
        int rc = store_run_put(s, txn, &run, &err);
        run_clear(&run);
        if (rc || store_commit(&txn, &err))
            abort();
        n++;
        t = s_now_sec() - t0;
    } while (t < 2.0 && n < 2000);
    printf("commit one run per txn      %5zu txns   %8.2f ms/commit  %6.0f commits/s\n", n,
           t / (double)n * 1e3, (double)n / t);

    static uint8_t artifact[1 << 20];
    for (size_t i = 0; i < sizeof artifact; i++)
        artifact[i] = (uint8_t)(i * 2654435761u >> 24);
    size_t m = 0;
    t0 = s_now_sec();
    do {
        if (store_artifact_put(s, NULL, m + 1, artifact, sizeof artifact, &err))
            abort();
        m++;
        t = s_now_sec() - t0;
    } while (t < 1.0 && m < 200);
    printf("commit 1 MiB artifact       %5zu txns   %8.2f ms/commit  %6.1f MB/s\n", m,
           t / (double)m * 1e3, (double)m * sizeof artifact / t / 1e6);

    if (n < 2000) { //  fill to 2000 runs, in one txn, for the listing
        store_txn_t *txn = store_begin(s, &err);
        for (; txn && n < 2000; n++) {
            run_t run;
            uint64_t id;
            if (store_run_next_id(s, txn, &id, &err))
                abort();
            s_sample_run(&run, id);
            int rc = store_run_put(s, txn, &run, &err);
            run_clear(&run);
            if (rc)
                abort();
        }
        if (!txn || store_commit(&txn, &err))
            abort();
    }
    size_t k = 0;
    t0 = s_now_sec();
    do {
        run_t *runs;
        size_t got;
        if (store_run_list(s, 20, &runs, &got, &err) || got != 20)
            abort();
        store_runs_free(&runs, got);
        k++;
        t = s_now_sec() - t0;
    } while (t < 0.5);
    printf("list newest 20 of %zu runs              %8.1f us/list\n", n, t / (double)k * 1e6);
    store_destroy(&s);
}

int main(void)
{
    s_bench_codec();
    char base[] = "/tmp/bench_store.XXXXXX";
    if (!mkdtemp(base))
        return 1;
    char dir[64];
    snprintf(dir, sizeof dir, "%s/store", base);
    s_bench_store(dir);
    nftw(base, s_rm_fn, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
