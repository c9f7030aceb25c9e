/*  test_progress_slot.c: the process's progress slot (common/progress.c):
    nothing is kept outside a task, the latest report wins, a count past
    its total is clamped, a count shared by threads (progress_advance)
    never goes back, and a new task starts empty.
*/
#include "progress.h"
#include "testing.h"

#include <pthread.h>

static void test_reports_only_inside_a_task(void)
{
    int64_t done = -1, total = -1;
    char unit[PROGRESS_UNIT_MAX + 1] = "";
    progress_report(5, 10, "rows");   //  no task: dropped
    CHECK_INT(progress_read(&done, &total, unit), 0);
    CHECK_INT(done, -1);
    progress_begin();
    CHECK_INT(progress_read(&done, &total, unit), 0);
    progress_report(5, 10, "rows");
    progress_report(7, 10, "rows");
    CHECK_INT(progress_read(&done, &total, unit), 1);
    CHECK_INT(done, 7);
    CHECK_INT(total, 10);
    CHECK_STR(unit, "rows");
    progress_report(12, 10, "bytes");   //  clamped: HEARTBEAT refuses done > total
    CHECK_INT(progress_read(&done, &total, unit), 1);
    CHECK_INT(done, 10);
    CHECK_STR(unit, "bytes");
    progress_report(-4, -1, "trees");
    CHECK_INT(progress_read(&done, &total, unit), 1);
    CHECK_INT(done, 0);
    CHECK_INT(total, 0);
    progress_end();
    CHECK_INT(progress_read(&done, &total, unit), 0);
    progress_begin();   //  a new task starts empty
    CHECK_INT(progress_read(&done, &total, unit), 0);
    progress_end();
}

static void test_advance_never_goes_back(void)
{
    int64_t done, total;
    char unit[PROGRESS_UNIT_MAX + 1];
    progress_begin();
    progress_advance(6, 100, "trees");
    progress_advance(5, 100, "trees");   //  a thread that counted earlier reports late
    CHECK_INT(progress_read(&done, &total, unit), 1);
    CHECK_INT(done, 6);
    progress_advance(2, 50, "trees");    //  another count (total differs): taken
    CHECK_INT(progress_read(&done, &total, unit), 1);
    CHECK_INT(done, 2);
    progress_report(1, 50, "trees");     //  a plain report is always taken
    CHECK_INT(progress_read(&done, &total, unit), 1);
    CHECK_INT(done, 1);
    progress_end();
}

#define S_THREADS 4
#define S_STEPS 500

static void *s_advance_fn(void *arg)
{
    int64_t *next = arg;
    for (int i = 0; i < S_STEPS; i++)
        progress_advance(__atomic_add_fetch(next, 1, __ATOMIC_RELAXED), S_THREADS * S_STEPS, "trees");
    return NULL;
}

static void test_threads_end_at_the_total(void)
{
    int64_t next = 0, done, total;
    char unit[PROGRESS_UNIT_MAX + 1];
    pthread_t th[S_THREADS];
    progress_begin();
    for (int i = 0; i < S_THREADS; i++)
        CHECK_INT(pthread_create(&th[i], NULL, s_advance_fn, &next), 0);
    for (int i = 0; i < S_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(progress_read(&done, &total, unit), 1);
    CHECK_INT(done, S_THREADS * S_STEPS);
    progress_end();
}

//  A cancel holds only inside a task, and the next task starts without it.
static void test_cancel_lives_inside_a_task(void)
{
    progress_cancel();   //  no task: nothing to cancel
    CHECK(!progress_cancelled());
    progress_begin();
    CHECK(!progress_cancelled());
    progress_cancel();
    CHECK(progress_cancelled());
    progress_end();
    CHECK(!progress_cancelled());
    progress_begin();
    CHECK(!progress_cancelled());
    progress_end();
}

int main(void)
{
    RUN(test_cancel_lives_inside_a_task);
    RUN(test_reports_only_inside_a_task);
    RUN(test_advance_never_goes_back);
    RUN(test_threads_end_at_the_total);
    return TEST_REPORT("test_progress_slot");
}
