/*  test_throttle.c: the per-source trigger interval (broker/throttle.c) on
    a clock the test sets: a key waits out its interval, other keys do not,
    and a full table reuses the entry noted longest ago. */
#include <stdio.h>

#include "testing.h"
#include "throttle.h"

static throttle_t s_t;   //  4 KiB: not on the stack

static void test_throttle_per_key_interval(void)
{
    s_t = (throttle_t){0};
    CHECK_INT(throttle_wait(&s_t, "synthetic", 0, 1000), 0);
    throttle_note(&s_t, "synthetic", 0);
    CHECK_INT(throttle_wait(&s_t, "synthetic", 1, 1000), 999);
    CHECK_INT(throttle_wait(&s_t, "synthetic", 999, 1000), 1);
    CHECK_INT(throttle_wait(&s_t, "synthetic", 1000, 1000), 0);
    CHECK_INT(throttle_wait(&s_t, "/data/titanic.csv", 1, 1000), 0);
    throttle_note(&s_t, "synthetic", 1500);           //  noted again: counts from then
    CHECK_INT(throttle_wait(&s_t, "synthetic", 2000, 1000), 500);
}

static void test_throttle_full_table_reuses_the_oldest(void)
{
    s_t = (throttle_t){0};
    char key[32];
    for (int i = 0; i < THROTTLE_KEYS_MAX; i++) {
        snprintf(key, sizeof key, "source-%d", i);
        throttle_note(&s_t, key, 100 + i);
    }
    throttle_note(&s_t, "one more", 5000);
    CHECK_INT(throttle_wait(&s_t, "one more", 5001, 10000), 9999);
    CHECK_INT(throttle_wait(&s_t, "source-0", 5001, 10000), 0);   //  the oldest went
    CHECK_INT(throttle_wait(&s_t, "source-1", 5001, 10000), 5100);
}

int main(void)
{
    RUN(test_throttle_per_key_interval);
    RUN(test_throttle_full_table_reuses_the_oldest);
    return TEST_REPORT("test_throttle");
}
