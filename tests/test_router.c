/*  test_router.c: gateway/router.c, the table of inference workers: who
    takes the next request (fewest in flight, least recently used, within
    credit, only with a model), expiry and the gateway's own stalls, and
    the table's limits. */
#include "router.h"
#include "testing.h"

static const uint8_t ID_A[] = {0, 1, 2, 3, 4}, ID_B[] = {0, 9, 9, 9, 9}, ID_C[] = {0, 7, 7, 7, 7};

static void test_router_ready_and_pick(void)
{
    router_t *r = router_new(2, 3000);
    CHECK(r);
    CHECK_INT(router_pick(r), -1);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 5, 1000);
    int b = router_ready(r, ID_B, sizeof ID_B, "h:2", 5, 1000);
    CHECK(a >= 0 && b >= 0 && a != b);
    CHECK_INT(router_ready(r, ID_A, sizeof ID_A, "h:1", 5, 1100), a);   //  known: same slot
    CHECK_INT(router_find(r, ID_B, sizeof ID_B), b);
    CHECK_INT(router_find(r, ID_C, sizeof ID_C), -1);
    CHECK_INT(router_live(r), 2);
    //  fewest in flight first, least recently used on a tie, never past credit
    int first = router_pick(r);
    router_sent(r, first, 1);
    int second = router_pick(r);
    CHECK(second != first);
    router_sent(r, second, 1);
    CHECK_INT(router_pick(r), first);   //  tie: first was used longer ago
    router_sent(r, first, 1);
    router_sent(r, router_pick(r), 1);
    CHECK_INT(router_pick(r), -1);      //  both at credit 2
    router_answered(r, second, true);
    CHECK_INT(router_pick(r), second);
    router_abandoned(r, first);
    CHECK_INT(router_worker(r, first)->in_flight, 1);
    CHECK_INT(router_worker(r, first)->answers, 0);
    CHECK_INT(router_worker(r, second)->answers, 1);
    CHECK_INT(router_worker(r, first)->requests, 2);
    router_destroy(&r);
    CHECK(r == NULL);
    router_destroy(&r);
}

static void test_router_skips_workers_without_model(void)
{
    router_t *r = router_new(4, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 0, 0);
    CHECK_INT(router_serving(r), 0);
    CHECK_INT(router_pick(r), -1);
    CHECK_INT(router_version(r), 0);
    router_heard(r, a, 7, 10);
    CHECK_INT(router_serving(r), 1);
    CHECK_INT(router_pick(r), a);
    CHECK_INT(router_version(r), 7);
    int b = router_ready(r, ID_B, sizeof ID_B, "h:2", 8, 20);
    CHECK_INT(router_version(r), 8);    //  the latest announcement wins
    router_heard(r, a, 7, 30);          //  unchanged: still 8
    CHECK_INT(router_version(r), 8);
    router_remove(r, b);
    CHECK_INT(router_version(r), 7);
    router_destroy(&r);
}

static void test_router_expiry_and_limits(void)
{
    router_t *r = router_new(1, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 1, 0);
    int b = router_ready(r, ID_B, sizeof ID_B, "h:2", 1, 0);
    router_heard(r, b, 1, 2000);
    int dead[4];
    CHECK_INT(router_expired(r, 3000, dead, 4), 0);
    CHECK_INT(router_expired(r, 3001, dead, 4), 1);
    CHECK_INT(dead[0], a);
    router_remove(r, a);
    CHECK(router_worker(r, a) == NULL);
    CHECK_INT(router_live(r), 1);
    CHECK_INT(router_pick(r), b);
    CHECK_INT(router_ready(r, ID_A, 0, "x", 1, 0), -1);   //  empty id
    uint8_t big[ROUTER_ID_MAX_BYTES + 1] = {0};
    CHECK_INT(router_ready(r, big, sizeof big, "x", 1, 0), -1);
    for (int i = 0; i < ROUTER_WORKERS_MAX - 1; i++) {
        uint8_t id[4] = {1, (uint8_t)i, (uint8_t)(i >> 8), 0};
        CHECK(router_ready(r, id, sizeof id, "x", 1, 0) >= 0);
    }
    CHECK_INT(router_ready(r, ID_C, sizeof ID_C, "full", 1, 0), -1);   //  table full
    router_destroy(&r);
}

//  Time the gateway itself did not run does not count against workers.
static void test_router_forgives_its_own_stall(void)
{
    router_t *r = router_new(1, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 1, 0);
    int dead[4];
    CHECK_INT(router_awake(r, 0, 250), 0);      //  the first turn has nothing to compare
    CHECK_INT(router_awake(r, 200, 250), 0);    //  within the expected wait
    CHECK_INT(router_expired(r, 3001, dead, 4), 1);
    CHECK_INT(router_awake(r, 6200, 250), 5750);   //  stopped for about 6 s
    CHECK_INT(router_expired(r, 6200, dead, 4), 0);   //  not dead: 3000 + 5750
    CHECK_INT(router_expired(r, 8750, dead, 4), 0);
    CHECK_INT(router_expired(r, 8751, dead, 4), 1);
    CHECK_INT(dead[0], a);
    router_heard(r, a, 1, 6300);   //  heard again: the usual liveness from then on
    CHECK_INT(router_awake(r, 6400, 250), 0);
    CHECK_INT(router_expired(r, 9300, dead, 4), 0);
    CHECK_INT(router_expired(r, 9301, dead, 4), 1);
    router_destroy(&r);
}

//  Slots that are not live read as NULL; the table shrinks behind the
//  highest removed worker and a freed slot is reused.
static void test_router_slots_and_reuse(void)
{
    router_t *r = router_new(0, 3000);   //  credit 0 is taken as 1
    CHECK(r);
    CHECK(router_worker(r, -1) == NULL);
    CHECK(router_worker(r, 0) == NULL);
    CHECK_INT(router_slots(r), 0);
    int a = router_ready(r, ID_A, sizeof ID_A, NULL, 2, 0);
    int b = router_ready(r, ID_B, sizeof ID_B, "h:2", 2, 0);
    CHECK_STR(router_worker(r, a)->name, "?");   //  no name given
    CHECK(router_worker(r, ROUTER_WORKERS_MAX) == NULL);
    CHECK_INT(router_slots(r), 2);
    CHECK_INT(router_find(r, ID_A, sizeof ID_A - 1), -1);   //  a prefix is another id
    router_sent(r, a, 1);
    CHECK_INT(router_pick(r), b);
    router_sent(r, b, 1);
    CHECK_INT(router_pick(r), -1);   //  credit 1 each
    router_answered(r, a, false);
    CHECK_INT(router_worker(r, a)->errors, 1);
    router_answered(r, a, true);     //  more answers than requests: in flight stays at 0
    CHECK_INT(router_worker(r, a)->in_flight, 0);
    router_abandoned(r, a);
    CHECK_INT(router_worker(r, a)->in_flight, 0);
    router_remove(r, b);
    CHECK_INT(router_slots(r), 1);
    CHECK(router_worker(r, b) == NULL);
    int c = router_ready(r, ID_C, sizeof ID_C, "h:3", 2, 0);
    CHECK_INT(c, b);                 //  the freed slot again, with nothing of b's
    CHECK_INT(router_worker(r, c)->requests, 0);
    router_remove(r, a);
    router_remove(r, c);
    CHECK_INT(router_slots(r), 0);
    CHECK_INT(router_live(r), 0);
    router_destroy(&r);
}

//  router_expired writes no more than it is given room for.
static void test_router_expired_bounded(void)
{
    router_t *r = router_new(1, 10);
    router_ready(r, ID_A, sizeof ID_A, "h:1", 1, 0);
    router_ready(r, ID_B, sizeof ID_B, "h:2", 1, 0);
    router_ready(r, ID_C, sizeof ID_C, "h:3", 1, 0);
    int dead[2] = {-1, -1};
    CHECK_INT(router_expired(r, 11, dead, 2), 2);
    CHECK_INT(router_expired(r, 11, dead, 0), 0);
    int all[3];
    CHECK_INT(router_expired(r, 11, all, 3), 3);
    router_destroy(&r);
}

int main(void)
{
    RUN(test_router_ready_and_pick);
    RUN(test_router_skips_workers_without_model);
    RUN(test_router_expiry_and_limits);
    RUN(test_router_forgives_its_own_stall);
    RUN(test_router_slots_and_reuse);
    RUN(test_router_expired_bounded);
    return TEST_REPORT("test_router");
}
