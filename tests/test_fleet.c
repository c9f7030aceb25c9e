/*  test_fleet.c: the broker's table of inference workers and the load_model
    wait (broker/fleet.h), with the clock as an argument: reports, liveness,
    refusals of bad reports, and every verdict of a wait with its note. */
#include <stdio.h>
#include <string.h>

#include "fleet.h"
#include "testing.h"

#define T0 1000000   //  an arbitrary monotonic start
#define WALL 1764130000000

//  A report that must succeed.
static int s_report(fleet_t *f, const char *host, int64_t pid, int64_t version, int64_t ivl, int64_t now)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    char name[96];   //  named as the broker names a worker older than names
    snprintf(name, sizeof name, "%s:%lld", host, (long long)pid);
    int rc = fleet_report(f, name, host, pid, version, ivl, now, WALL + now, &err);
    if (rc)
        fprintf(stderr, "  report %s:%lld: %s\n", host, (long long)pid, err.msg);
    return rc;
}

static void test_reports_update_one_entry_per_name(void)
{
    fleet_t *f = fleet_new(3);
    CHECK(f != NULL);
    CHECK_INT(s_report(f, "vm", 42, 1, 0, T0), 0);
    CHECK_INT(s_report(f, "vm", 43, 1, 500, T0), 0);
    CHECK_INT(s_report(f, "other", 42, 0, 0, T0), 0);
    CHECK_INT(fleet_count(f), 3);
    //  two workers on one host with one pid (containers) are two by name
    mlops_err_t err;
    CHECK_INT(fleet_report(f, "c-1", "box", 1, 1, 0, T0, WALL, &err), 0);
    CHECK_INT(fleet_report(f, "c-2", "box", 1, 1, 0, T0, WALL, &err), 0);
    CHECK_INT(fleet_count(f), 5);
    CHECK_STR(fleet_find(f, "c-2")->host, "box");
    CHECK_INT(s_report(f, "vm", 42, 2, 0, T0 + 100), 0);   //  an update, not a new entry
    CHECK_INT(fleet_count(f), 5);
    const fleet_worker_t *w = fleet_find(f, "vm:42");
    CHECK(w != NULL);
    CHECK_INT(w->version, 2);
    CHECK_INT(w->interval_ms, HEARTBEAT_IVL_MSEC);   //  0 means the default
    CHECK_INT(w->expires_mono_ms, T0 + 100 + 3 * HEARTBEAT_IVL_MSEC);
    CHECK_INT(w->last_seen_ms, WALL + T0 + 100);
    CHECK_INT(fleet_find(f, "vm:43")->interval_ms, 500);
    CHECK(fleet_find(f, "vm:44") == NULL);
    CHECK(fleet_at(f, 5) == NULL);
    fleet_destroy(&f);
    CHECK(f == NULL);
    fleet_destroy(&f);   //  NULL is fine
}

static void test_bad_reports_are_refused_naming_the_field(void)
{
    fleet_t *f = fleet_new(3);
    mlops_err_t err;
    CHECK_INT(fleet_report(f, "", "vm", 42, 1, 0, T0, WALL, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "SERVING: name is empty");
    CHECK_INT(fleet_report(f, "w", "", 42, 1, 0, T0, WALL, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "SERVING: host is empty");
    CHECK_INT(fleet_report(f, "w", "vm", 0, 1, 0, T0, WALL, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "SERVING: pid must be a process id > 0, got 0");
    CHECK_INT(fleet_report(f, "w", "vm", 42, 1, FLEET_INTERVAL_MAX_MSEC + 1, T0, WALL, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "SERVING: interval_ms 60001 is over 60000");
    CHECK_INT(fleet_count(f), 0);   //  nothing refused was kept
    //  the table is bounded
    char host[32];
    for (int i = 0; i < FLEET_WORKERS_MAX; i++) {
        snprintf(host, sizeof host, "h%d", i);
        CHECK_INT(s_report(f, host, 1, 1, 0, T0), 0);
    }
    CHECK_INT(fleet_report(f, "one-more", "one-more", 1, 1, 0, T0, WALL, &err), MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "1024 inference workers are known already");
    CHECK_INT(s_report(f, "h7", 1, 2, 0, T0), 0);   //  a known one still reports
    fleet_destroy(&f);
}

static int s_gone_count;
static char s_gone_last[96];

static void s_gone_fn(const fleet_worker_t *w, void *arg)
{
    (void)arg;
    s_gone_count++;
    snprintf(s_gone_last, sizeof s_gone_last, "%s:%lld", w->host, (long long)w->pid);
}

static void test_silent_workers_expire_after_liveness_intervals(void)
{
    fleet_t *f = fleet_new(3);
    CHECK_INT(s_report(f, "a", 1, 1, 1000, T0), 0);
    CHECK_INT(s_report(f, "b", 2, 1, 200, T0), 0);
    s_gone_count = 0;
    CHECK_INT(fleet_expire(f, T0 + 600, s_gone_fn, NULL), 0);   //  3 x 200 ms: still alive
    CHECK_INT(fleet_expire(f, T0 + 601, s_gone_fn, NULL), 1);   //  and past them, gone
    CHECK_INT(s_gone_count, 1);
    CHECK_STR(s_gone_last, "b:2");
    CHECK_INT(fleet_count(f), 1);
    //  a stall of the broker's own moves every expiry
    fleet_extend(f, 5000);
    CHECK_INT(fleet_expire(f, T0 + 3000, NULL, NULL), 0);
    CHECK_INT(fleet_expire(f, T0 + 8000, NULL, NULL), 0);
    CHECK_INT(fleet_expire(f, T0 + 8001, NULL, NULL), 1);
    CHECK_INT(fleet_count(f), 0);
    fleet_destroy(&f);
}

//  The longest interval a report may promise bounds how long a worker that
//  stops reporting is counted: liveness x 1 minute, never 30 minutes.
static void test_longest_interval_bounds_a_silent_worker(void)
{
    fleet_t *f = fleet_new(HEARTBEAT_LIVENESS);
    mlops_err_t err;
    CHECK_INT(FLEET_INTERVAL_MAX_MSEC, 60000);
    CHECK_INT(s_report(f, "slow", 1, 1, FLEET_INTERVAL_MAX_MSEC, T0), 0);
    CHECK_INT(fleet_report(f, "slower", "h", 2, 1, 10 * 60 * 1000, T0, WALL, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "SERVING: interval_ms 600000 is over 60000");
    CHECK_INT(fleet_count(f), 1);
    //  the reporter stops: counted until its expiry, gone just after
    CHECK_INT(fleet_expire(f, T0 + HEARTBEAT_LIVENESS * 60000, NULL, NULL), 0);
    CHECK_INT(fleet_count(f), 1);
    CHECK_INT(fleet_expire(f, T0 + HEARTBEAT_LIVENESS * 60000 + 1, NULL, NULL), 1);
    CHECK_INT(fleet_count(f), 0);
    fleet_destroy(&f);
}

static void test_wait_with_no_worker_says_so(void)
{
    fleet_t *f = fleet_new(3);
    char note[FLEET_NOTE_MAX];
    CHECK_INT(fleet_wait_version(f), 0);
    fleet_wait_begin(f, 3, T0, 30000);
    CHECK_INT(fleet_wait_version(f), 3);
    CHECK_INT(fleet_wait_check(f, T0, note, sizeof note), FLEET_NONE);
    CHECK_STR(note, "no inference worker reports to the broker");
    fleet_wait_end(f);
    CHECK_INT(fleet_wait_version(f), 0);
    fleet_destroy(&f);
}

static void test_wait_ends_when_every_worker_serves_the_version(void)
{
    fleet_t *f = fleet_new(3);
    char note[FLEET_NOTE_MAX];
    CHECK_INT(s_report(f, "a", 1, 2, 0, T0), 0);
    CHECK_INT(s_report(f, "b", 2, 2, 0, T0), 0);
    fleet_wait_begin(f, 3, T0, 30000);
    CHECK_INT(fleet_wait_check(f, T0 + 10, note, sizeof note), FLEET_WAITING);
    CHECK_INT(s_report(f, "a", 1, 3, 0, T0 + 20), 0);
    CHECK_INT(fleet_wait_check(f, T0 + 20, note, sizeof note), FLEET_WAITING);
    CHECK_INT(s_report(f, "b", 2, 3, 0, T0 + 30), 0);
    CHECK_INT(fleet_wait_check(f, T0 + 30, note, sizeof note), FLEET_ALL_SERVE);
    CHECK_STR(note, "2 inference workers serve v3");
    fleet_destroy(&f);
}

static void test_wait_times_out_naming_the_laggards(void)
{
    fleet_t *f = fleet_new(3);
    char note[FLEET_NOTE_MAX];
    CHECK_INT(s_report(f, "a", 1, 3, 60000, T0), 0);
    CHECK_INT(s_report(f, "frozen", 9, 2, 60000, T0), 0);
    fleet_wait_begin(f, 3, T0, 2000);
    CHECK_INT(fleet_wait_check(f, T0 + 1999, note, sizeof note), FLEET_WAITING);
    CHECK_INT(fleet_wait_check(f, T0 + 2000, note, sizeof note), FLEET_TIMED_OUT);
    CHECK_STR(note, "after 2s 1 of 2 inference workers lag: frozen:9 serves v2");
    //  many laggards: four named, the rest counted; the note stays bounded
    char host[64];
    for (int i = 0; i < 10; i++) {
        snprintf(host, sizeof host, "a-rather-long-host-name-for-worker-number-%02d", i);
        CHECK_INT(s_report(f, host, 100 + i, 1, 60000, T0), 0);
    }
    CHECK_INT(fleet_wait_check(f, T0 + 2000, note, sizeof note), FLEET_TIMED_OUT);
    CHECK_CONTAINS(note, "11 of 12 inference workers lag: ");
    CHECK(strlen(note) < FLEET_NOTE_MAX);
    fleet_destroy(&f);
}

static void test_worker_silent_during_the_wait_is_named_not_waited_for(void)
{
    fleet_t *f = fleet_new(3);
    char note[FLEET_NOTE_MAX];
    CHECK_INT(s_report(f, "a", 1, 2, 100, T0), 0);
    CHECK_INT(s_report(f, "b", 2, 2, 100, T0), 0);
    fleet_wait_begin(f, 3, T0, 30000);
    CHECK_INT(s_report(f, "a", 1, 3, 100, T0 + 200), 0);
    CHECK_INT(fleet_wait_check(f, T0 + 200, note, sizeof note), FLEET_WAITING);
    CHECK_INT(fleet_expire(f, T0 + 301, NULL, NULL), 1);   //  b said nothing for 3 x 100 ms
    CHECK_INT(fleet_wait_check(f, T0 + 301, note, sizeof note), FLEET_ALL_SERVE);
    CHECK_STR(note, "1 inference worker serves v3; went silent: b:2 (v2)");
    //  a worker that went silent outside a wait is not named in the next one
    CHECK_INT(fleet_expire(f, T0 + 10000, NULL, NULL), 1);
    fleet_wait_begin(f, 4, T0 + 10000, 30000);
    CHECK_INT(fleet_wait_check(f, T0 + 10000, note, sizeof note), FLEET_NONE);
    fleet_destroy(&f);
}

int main(void)
{
    RUN(test_reports_update_one_entry_per_name);
    RUN(test_bad_reports_are_refused_naming_the_field);
    RUN(test_silent_workers_expire_after_liveness_intervals);
    RUN(test_longest_interval_bounds_a_silent_worker);
    RUN(test_wait_with_no_worker_says_so);
    RUN(test_wait_ends_when_every_worker_serves_the_version);
    RUN(test_wait_times_out_naming_the_laggards);
    RUN(test_worker_silent_during_the_wait_is_named_not_waited_for);
    return TEST_REPORT("test_fleet");
}
