/*  test_pool.c: ml/pool.c, the ML library's thread pool. */
#include "pool.h"
#include "testing.h"

#include <stdatomic.h>

typedef struct {
    atomic_int calls[1000]; //  how often each item ran
    int slot[1000];         //  each item's own output
} s_job_t;

static void s_item_fn(void *arg, size_t item)
{
    s_job_t *job = arg;
    atomic_fetch_add(&job->calls[item], 1);
    job->slot[item] = (int)item * 3;
}

static void s_check_job(pool_t *pool, size_t n)
{
    static s_job_t job;
    memset(&job, 0, sizeof job);
    pool_run(pool, n, s_item_fn, &job);
    for (size_t i = 0; i < 1000; i++) {
        CHECK_INT(atomic_load(&job.calls[i]), i < n ? 1 : 0);
        CHECK_INT(job.slot[i], i < n ? (int)i * 3 : 0);
    }
}

//  every item runs exactly once, job after job, on a pool with threads
static void test_every_item_once(void)
{
    pool_t pool;
    pool_init(&pool, 3);
    CHECK_INT(pool.started, 2);
    for (int round = 0; round < 50; round++)
        s_check_job(&pool, (size_t)(round * 19) % 1000 + 1);
    s_check_job(&pool, 0);
    pool_fini(&pool);
}

//  a pool of one thread runs its items in the caller
static void test_single_thread_runs_inline(void)
{
    pool_t pool;
    pool_init(&pool, 1);
    CHECK_INT(pool.started, 0);
    s_check_job(&pool, 1000);
    pool_fini(&pool);
}

int main(void)
{
    RUN(test_every_item_once);
    RUN(test_single_thread_runs_inline);
    return TEST_REPORT("test_pool");
}
