/*  test_dispatch.c: the broker's dispatcher (broker/dispatch.c) without
    sockets: LRU among idle workers, per-stage FIFO queues, expiry with the
    broker's own stalls forgiven, and what it refuses (an empty or too long
    identity, more than DISPATCH_WORKERS_MAX workers, a task id too long for
    a queue), and task timeouts: a stall of progress, the hard cap.
*/
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "testing.h"

static void test_dispatch_lru_and_queues(void)
{
    dispatch_t *d = dispatch_new();
    CHECK(d);
    dispatch_worker_t *a = dispatch_worker_add(d, (const uint8_t *)"A", 1, STAGE_TRAIN, "h", 1, 100);
    dispatch_worker_t *b = dispatch_worker_add(d, (const uint8_t *)"B", 1, STAGE_TRAIN, "h", 2, 50);
    dispatch_worker_add(d, (const uint8_t *)"C", 1, STAGE_EXTRACT, "h", 3, 10);
    CHECK(dispatch_worker_add(d, (const uint8_t *)"", 0, STAGE_TRAIN, "h", 4, 0) == NULL);
    CHECK_INT(dispatch_worker_count(d), 3);
    CHECK_INT(dispatch_stage_workers(d, STAGE_TRAIN), 2);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == b);   //  idle longest
    dispatch_worker_assign(b, "1-train-logreg", 200);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == a);
    dispatch_worker_assign(a, "1-train-forest", 200);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == NULL);
    CHECK(dispatch_idle_lru(d, STAGE_EVALUATE) == NULL);
    dispatch_worker_release(b, 300);
    dispatch_worker_release(a, 310);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == b);
    CHECK_STR(b->task_id, "");
    CHECK(dispatch_worker_find(d, (const uint8_t *)"A", 1) == a);
    dispatch_worker_remove(d, a);
    CHECK(dispatch_worker_find(d, (const uint8_t *)"A", 1) == NULL);
    CHECK_INT(dispatch_worker_count(d), 2);

    char id[48];
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, "1-train-logreg"), 0);
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, "1-train-forest"), 0);
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, "1-train-logreg"), 0);   //  once only
    CHECK_INT(dispatch_queue_len(d, STAGE_TRAIN), 2);
    CHECK(dispatch_queue_contains(d, "1-train-forest"));
    CHECK(dispatch_queue_pop(d, STAGE_TRAIN, id));
    CHECK_STR(id, "1-train-logreg");                 //  FIFO
    dispatch_queue_remove(d, "1-train-forest");
    CHECK(!dispatch_queue_pop(d, STAGE_TRAIN, id));
    CHECK(!dispatch_queue_pop(d, STAGE_EXTRACT, id));
    char long_id[80];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, long_id), MLOPS_EINVAL);
    dispatch_destroy(&d);
    CHECK(d == NULL);
    dispatch_destroy(&d);
}

//  The broker's own stall (a long handler) is not the workers' silence: a
//  worker that heartbeated just before it survives, whatever its length;
//  one that was already silent before it still expires, the stall aside.
static void test_dispatch_stall_is_forgiven(void)
{
    const int64_t life = 1500, gap = 200;   //  liveness period, expected loop gap
    dispatch_t *d = dispatch_new();
    dispatch_worker_t *a = dispatch_worker_add(d, (const uint8_t *)"A", 1, STAGE_TRAIN, "h", 1, 0);
    dispatch_worker_t *b = dispatch_worker_add(d, (const uint8_t *)"B", 1, STAGE_TRAIN, "h", 2, 0);
    CHECK_INT(dispatch_awake(d, 1000, gap), 0);          //  first turn: only noted
    a->expires_mono = 1000 + life;                        //  heartbeat at 1000
    b->expires_mono = 100 + life;                         //  silent since 100
    CHECK(dispatch_expired(d, 1050) == NULL);
    CHECK_INT(dispatch_awake(d, 1100, gap), 0);           //  a normal turn forgives nothing
    //  the loop stalls from 1100 to 11100, ten liveness periods
    CHECK_INT(dispatch_awake(d, 11100, gap), 10000 - gap);
    CHECK_INT(a->expires_mono, 1000 + life + 10000 - gap);
    CHECK(dispatch_expired(d, 11100) == NULL);            //  nobody lost for our stall
    //  b had 500 ms left before the stall and gets them (plus the normal gap)
    CHECK(dispatch_expired(d, 11100 + 500 + gap) == b);
    dispatch_worker_remove(d, b);
    //  a's heartbeats stopped at 1000: it expires once its time is used up
    CHECK(dispatch_expired(d, 1000 + life + 10000 - gap) == NULL);
    CHECK(dispatch_expired(d, 1000 + life + 10000 - gap + 1) == a);
    dispatch_destroy(&d);
}

//  A worker that sends READY again under the same identity is reset: idle,
//  its task forgotten, the same entry (no duplicate).
static void test_dispatch_readd_resets_worker(void)
{
    dispatch_t *d = dispatch_new();
    CHECK(d);
    dispatch_worker_t *a = dispatch_worker_add(d, (const uint8_t *)"A", 1, STAGE_TRAIN, "h", 1, 0);
    CHECK(a);
    dispatch_worker_assign(a, "1-train-logreg", 10);
    CHECK(a->busy);
    dispatch_worker_t *again = dispatch_worker_add(d, (const uint8_t *)"A", 1, STAGE_EVALUATE, "h2", 5, 20);
    CHECK(again != NULL);
    CHECK_INT(dispatch_worker_count(d), 1);
    CHECK(!again->busy);
    CHECK_STR(again->task_id, "");
    CHECK_INT(again->stage, STAGE_EVALUATE);
    CHECK_STR(again->host, "h2");
    CHECK_STR(again->name, "h2:5");   //  host:pid until the broker sets the READY's name
    CHECK(dispatch_worker_named(d, "h2:5") == again);
    snprintf(again->name, sizeof again->name, "eval-1");
    CHECK(dispatch_worker_named(d, "eval-1") == again);
    CHECK(dispatch_worker_named(d, "h2:5") == NULL);
    CHECK(dispatch_idle_lru(d, STAGE_EVALUATE) == again);
    CHECK_INT(dispatch_stage_workers(d, STAGE_TRAIN), 0);
    dispatch_destroy(&d);
}

//  Issue 15, point 6: one stage's workers past DISPATCH_STAGE_WORKERS_MAX
//  are refused while another stage still has room.
static void test_dispatch_stage_cap(void)
{
    dispatch_t *d = dispatch_new();
    CHECK(d);
    for (uint32_t i = 0; i < DISPATCH_STAGE_WORKERS_MAX; i++)
        CHECK(dispatch_worker_add(d, (const uint8_t *)&i, sizeof i, STAGE_TRAIN, "h", 1, 0) != NULL);
    uint32_t next = DISPATCH_STAGE_WORKERS_MAX;
    CHECK(dispatch_worker_add(d, (const uint8_t *)&next, sizeof next, STAGE_TRAIN, "h", 1, 0) == NULL);
    CHECK(dispatch_worker_add(d, (const uint8_t *)&next, sizeof next, STAGE_EXTRACT, "h", 1, 0) != NULL);
    CHECK_INT(dispatch_stage_workers(d, STAGE_TRAIN), DISPATCH_STAGE_WORKERS_MAX);
    dispatch_destroy(&d);
}

//  Identities over DISPATCH_ID_MAX bytes and workers past
//  DISPATCH_WORKERS_MAX are refused; nothing expires before its time.
static void test_dispatch_refuses_past_its_limits(void)
{
    dispatch_t *d = dispatch_new();
    CHECK(d);
    uint8_t id[DISPATCH_ID_MAX + 1];
    memset(id, 'i', sizeof id);
    CHECK(dispatch_worker_add(d, id, sizeof id, STAGE_TRAIN, "h", 1, 0) == NULL);
    CHECK(dispatch_worker_add(d, id, DISPATCH_ID_MAX, STAGE_TRAIN, "h", 1, 0) != NULL);
    CHECK(dispatch_worker_find(d, id, DISPATCH_ID_MAX - 1) == NULL);   //  a prefix is another peer
    //  spread over the stages: each stage has a cap of its own (test_dispatch_stage_cap)
    for (uint32_t i = 1; i < DISPATCH_WORKERS_MAX; i++)
        CHECK(dispatch_worker_add(d, (const uint8_t *)&i, sizeof i, (stage_t)(i % STAGE_COUNT), "h", i, 0) != NULL);
    CHECK_INT(dispatch_worker_count(d), DISPATCH_WORKERS_MAX);
    uint32_t one_more = DISPATCH_WORKERS_MAX;
    CHECK(dispatch_worker_add(d, (const uint8_t *)&one_more, sizeof one_more, STAGE_EXTRACT, "h", 9, 0) == NULL);
    CHECK_INT(dispatch_worker_count(d), DISPATCH_WORKERS_MAX);
    for (size_t i = 0; i < dispatch_worker_count(d); i++)
        dispatch_worker_at(d, i)->expires_mono = 1000;
    CHECK(dispatch_expired(d, 1000) == NULL);        //  at its expiry, not past it
    CHECK(dispatch_expired(d, 1001) != NULL);
    dispatch_destroy(&d);
}

//  The timeout counts from the last advance of progress (a larger count or
//  a new unit), from the dispatch before any; the cap from the dispatch.
static void test_dispatch_timeout_follows_progress(void)
{
    dispatch_t *d = dispatch_new();
    CHECK(d);
    dispatch_worker_t *w = dispatch_worker_add(d, (const uint8_t *)"A", 1, STAGE_TRAIN, "h", 1, 0);
    dispatch_worker_assign(w, "1-train-forest", 1000);
    CHECK_INT(dispatch_worker_overdue(w, 1100, 100, 10000), DISPATCH_IN_TIME);   //  at the limit
    CHECK_INT(dispatch_worker_overdue(w, 1101, 100, 10000), DISPATCH_STALLED);   //  no report yet
    CHECK(dispatch_worker_progress(w, 5, "trees", 1050));
    CHECK_INT(dispatch_worker_overdue(w, 1101, 100, 10000), DISPATCH_IN_TIME);
    CHECK(!dispatch_worker_progress(w, 5, "trees", 1140));   //  the same count: no advance
    CHECK(!dispatch_worker_progress(w, 4, "trees", 1145));   //  nor a smaller one
    CHECK_INT(dispatch_worker_overdue(w, 1151, 100, 10000), DISPATCH_STALLED);
    CHECK(dispatch_worker_progress(w, 1, "bytes", 1150));    //  a new phase advances
    CHECK_INT(dispatch_worker_overdue(w, 1200, 100, 10000), DISPATCH_IN_TIME);
    //  progress all along, yet past the cap
    for (int64_t t = 1200; t <= 11000; t += 50)
        dispatch_worker_progress(w, t, "bytes", t);
    CHECK_INT(dispatch_worker_overdue(w, 11000, 100, 10000), DISPATCH_IN_TIME);
    CHECK_INT(dispatch_worker_overdue(w, 11001, 100, 10000), DISPATCH_OVER_CAP);
    //  a new task starts afresh
    dispatch_worker_release(w, 11001);
    dispatch_worker_assign(w, "2-train-forest", 20000);
    CHECK(dispatch_worker_progress(w, 1, "trees", 20010));   //  a count below the old task's
    CHECK_INT(dispatch_worker_overdue(w, 20100, 100, 10000), DISPATCH_IN_TIME);
    dispatch_destroy(&d);
}

int main(void)
{
    RUN(test_dispatch_timeout_follows_progress);
    RUN(test_dispatch_lru_and_queues);
    RUN(test_dispatch_stall_is_forgiven);
    RUN(test_dispatch_readd_resets_worker);
    RUN(test_dispatch_refuses_past_its_limits);
    RUN(test_dispatch_stage_cap);
    return TEST_REPORT("test_dispatch");
}
