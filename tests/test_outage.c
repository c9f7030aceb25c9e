/*  test_outage.c: the broker's hold while its store refuses writes
    (broker/outage.c), on a clock the test sets: the hold doubles up to its
    cap, a commit ends it, and its log writes one line per cause per
    interval, saying how many it left out. */
#include <errno.h>
#include <string.h>

#include "err.h"
#include "outage.h"
#include "testing.h"

static mlops_err_t s_cause(int code, const char *msg)
{
    mlops_err_t e;
    mlops_err_set(&e, code, "%s", msg);
    return e;
}

static void test_outage_backoff_doubles_to_its_cap(void)
{
    outage_t o = {0};
    mlops_err_t full = s_cause(ENOSPC, "disk full: free space");
    CHECK(!outage_active(&o));
    CHECK(!outage_holding(&o, 0));
    outage_enter(&o, &full, 1000);
    CHECK(outage_active(&o));
    CHECK(outage_holding(&o, 1000 + OUTAGE_BACKOFF_MIN_MSEC - 1));
    CHECK(!outage_holding(&o, 1000 + OUTAGE_BACKOFF_MIN_MSEC));
    CHECK(outage_active(&o));                         //  held no more: the next write probes
    outage_enter(&o, &full, 5000);
    CHECK_INT(o.until_mono, 5000 + 2 * OUTAGE_BACKOFF_MIN_MSEC);
    for (int i = 0; i < 10; i++)
        outage_enter(&o, &full, 5000);
    CHECK_INT(o.until_mono, 5000 + OUTAGE_BACKOFF_MAX_MSEC);
    CHECK_INT(o.refusals, 12);
    CHECK_STR(o.cause.msg, "disk full: free space");
    o.fail_run = 3;
    outage_end(&o);
    CHECK(!outage_active(&o));
    CHECK(!outage_holding(&o, 5001));
    CHECK_INT(o.fail_run, 0);
    outage_enter(&o, &full, 9000);                    //  a new outage starts short again
    CHECK_INT(o.until_mono, 9000 + OUTAGE_BACKOFF_MIN_MSEC);
}

static void test_outage_log_one_line_per_cause_per_interval(void)
{
    outage_t o = {0};
    CHECK(outage_log(&o, ENOSPC, 0, "refused %d", 1));
    CHECK(!outage_log(&o, ENOSPC, 10, "refused %d", 2));
    CHECK(!outage_log(&o, ENOSPC, OUTAGE_LOG_IVL_MSEC - 1, "refused %d", 3));
    CHECK(outage_log(&o, EIO, 20, "another cause"));  //  its own limit
    CHECK_INT(o.limits[0].suppressed, 2);
    CHECK(outage_log(&o, ENOSPC, OUTAGE_LOG_IVL_MSEC, "refused %d", 4));
    CHECK_INT(o.limits[0].suppressed, 0);             //  the line said how many
    //  more causes than slots: the stalest slot is taken, nothing is lost
    for (int code = 1; code <= OUTAGE_CAUSES_MAX + 1; code++)
        CHECK(outage_log(&o, -code, 100 * code, "cause %d", code));
}

int main(void)
{
    RUN(test_outage_backoff_doubles_to_its_cap);
    RUN(test_outage_log_one_line_per_cause_per_interval);
    return TEST_REPORT("test_outage");
}
