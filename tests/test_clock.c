/*  test_clock.c: the clocks (common/clock.h): the monotonic one never goes
    back and its two units agree; the wall clock is the epoch's. */
#include "clock.h"
#include "testing.h"

#include <time.h>

static void test_mono_never_goes_back_and_units_agree(void)
{
    int64_t prev = clock_mono_ms();
    for (int i = 0; i < 1000; i++) {
        int64_t now = clock_mono_ms();
        CHECK(now >= prev);
        prev = now;
    }
    int64_t a = clock_mono_ms(), us = clock_mono_us(), b = clock_mono_ms();
    CHECK(a <= us / 1000);
    CHECK(us / 1000 <= b);
}

static void test_wall_is_the_epochs(void)
{
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t wall = clock_wall_ms();
    int64_t after = ((int64_t)time(NULL) + 1) * 1000;
    CHECK(before <= wall && wall < after);
}

int main(void)
{
    RUN(test_mono_never_goes_back_and_units_agree);
    RUN(test_wall_is_the_epochs);
    return TEST_REPORT("test_clock");
}
