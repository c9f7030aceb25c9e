/*  test_liveness.c: the one liveness rule (common/liveness.h), with the
    clock as an argument: silence expires a peer, a stall of ours is
    forgiven, a peer heard again is renewed, and the edges (the exact
    expiry, the first turn, a turn within its wait, a rest). */
#include "heartbeat.h"
#include "liveness.h"
#include "testing.h"

#define T0 1000000   //  an arbitrary monotonic start

static void test_silence_expires_after_all_intervals(void)
{
    int64_t expires = liveness_expiry(T0, 1000, 3);
    CHECK_INT(expires, T0 + 3000);
    CHECK(!liveness_expired(expires, T0));
    CHECK(!liveness_expired(expires, T0 + 2999));
    CHECK(!liveness_expired(expires, T0 + 3000));   //  the expiry itself is still alive
    CHECK(liveness_expired(expires, T0 + 3001));
}

static void test_one_interval_is_the_shortest_liveness(void)
{
    int64_t expires = liveness_expiry(T0, 200, 1);
    CHECK(!liveness_expired(expires, T0 + 200));
    CHECK(liveness_expired(expires, T0 + 201));
}

static void test_a_heard_peer_is_renewed(void)
{
    int64_t expires = liveness_expiry(T0, 1000, 3);
    expires = liveness_expiry(T0 + 2500, 1000, 3);   //  heard again just in time
    CHECK(!liveness_expired(expires, T0 + 5000));
    CHECK(liveness_expired(expires, T0 + 5501));
}

static void test_the_first_turn_only_records(void)
{
    liveness_t awake = {0};
    CHECK_INT(liveness_awake(&awake, T0, 100), 0);
    CHECK_INT(awake.awake_ms, T0);
}

static void test_a_turn_within_its_wait_forgives_nothing(void)
{
    liveness_t awake = {0};
    liveness_awake(&awake, T0, 100);
    CHECK_INT(liveness_awake(&awake, T0 + 50, 100), 0);
    CHECK_INT(liveness_awake(&awake, T0 + 150, 100), 0);   //  exactly the wait
    CHECK_INT(liveness_awake(&awake, T0 + 250, 100), 0);
}

//  The loop stalls ten seconds: a peer heard just before survives it, one
//  that was already silent gets only the time it had left.
static void test_a_stall_of_ours_is_forgiven(void)
{
    liveness_t awake = {0};
    int64_t fresh = liveness_expiry(T0, 1000, 3), stale = liveness_expiry(T0 - 2500, 1000, 3);
    liveness_awake(&awake, T0, 100);
    int64_t stall = liveness_awake(&awake, T0 + 10000, 100);
    CHECK_INT(stall, 10000 - 100);
    fresh += stall;
    stale += stall;
    CHECK(!liveness_expired(fresh, T0 + 10000));
    CHECK(!liveness_expired(stale, T0 + 10000));
    CHECK(liveness_expired(stale, T0 + 10000 + 500 - 100 + 1));   //  its 500 ms, then gone
    CHECK(!liveness_expired(fresh, T0 + 3000 + stall));
    CHECK(liveness_expired(fresh, T0 + 3000 + stall + 1));
}

static void test_a_clock_going_back_forgives_nothing(void)
{
    liveness_t awake = {0};
    liveness_awake(&awake, T0, 100);
    CHECK_INT(liveness_awake(&awake, T0 - 5000, 100), 0);
    CHECK_INT(liveness_awake(&awake, T0 - 4900, 100), 0);   //  measured from the last turn
}

static void test_a_rest_is_not_a_stall(void)
{
    liveness_t awake = {0};
    liveness_awake(&awake, T0, 100);
    liveness_rest(&awake);   //  a chosen back-off of 5 s
    CHECK_INT(liveness_awake(&awake, T0 + 5000, 100), 0);
    CHECK_INT(liveness_awake(&awake, T0 + 5300, 100), 200);   //  counted again after it
}

static void test_a_peer_interval_is_never_under_the_protocols(void)
{
    CHECK_INT(liveness_interval(10), HEARTBEAT_IVL_MSEC);
    CHECK_INT(liveness_interval(HEARTBEAT_IVL_MSEC), HEARTBEAT_IVL_MSEC);
    CHECK_INT(liveness_interval(5000), 5000);
}

int main(void)
{
    RUN(test_silence_expires_after_all_intervals);
    RUN(test_one_interval_is_the_shortest_liveness);
    RUN(test_a_heard_peer_is_renewed);
    RUN(test_the_first_turn_only_records);
    RUN(test_a_turn_within_its_wait_forgives_nothing);
    RUN(test_a_stall_of_ours_is_forgiven);
    RUN(test_a_clock_going_back_forgives_nothing);
    RUN(test_a_rest_is_not_a_stall);
    RUN(test_a_peer_interval_is_never_under_the_protocols);
    return TEST_REPORT("test_liveness");
}
