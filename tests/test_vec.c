/*  test_vec.c: the growable array (common/vec.h): push and growth, reserve
    ahead, the overflow checks that refuse before allocating, a failed
    reserve leaving the array whole, and the three-field form. */
#include "vec.h"
#include "testing.h"

#include <stdint.h>

static void test_push_grows_and_keeps_order(void)
{
    VEC(int) v = {0};
    CHECK(v.at == NULL);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(vec_push(&v, i * 3), 0);
    CHECK_INT(v.len, 1000);
    CHECK(v.cap >= 1000 && v.cap < 2000);   //  doubling, not one by one
    for (int i = 0; i < 1000; i++)
        CHECK_INT(v.at[i], i * 3);
    vec_free(&v);
    CHECK(v.at == NULL);
    CHECK_INT(v.len, 0);
    CHECK_INT(v.cap, 0);
    vec_free(&v);   //  twice is harmless
}

static void test_first_allocation_is_the_minimum(void)
{
    VEC(double) v = {0};
    CHECK_INT(vec_push(&v, 1.5), 0);
    CHECK_INT(v.cap, VEC_MIN_CAP);
    vec_free(&v);
}

static void test_reserve_makes_room_once(void)
{
    VEC(uint64_t) v = {0};
    CHECK_INT(vec_reserve(&v, 100), 0);
    CHECK_INT(v.len, 0);
    CHECK(v.cap >= 100);
    uint64_t *before = v.at;
    for (int i = 0; i < 100; i++)
        CHECK_INT(vec_push(&v, (uint64_t)i), 0);
    CHECK(v.at == before);   //  no move within the reserved room
    CHECK_INT(vec_reserve(&v, 0), 0);
    vec_free(&v);
}

static void test_overflow_is_refused_and_leaves_the_array(void)
{
    VEC(int) v = {0};
    CHECK_INT(vec_push(&v, 7), 0);
    int *at = v.at;
    size_t cap = v.cap;
    CHECK_INT(vec_reserve(&v, SIZE_MAX), MLOPS_ETOOBIG);          //  len + extra wraps
    CHECK_INT(vec_reserve(&v, SIZE_MAX / 2), MLOPS_ETOOBIG);      //  bytes wrap
    CHECK_INT(vec_reserve(&v, SIZE_MAX / sizeof(int)), MLOPS_ETOOBIG);
    CHECK(v.at == at);
    CHECK_INT(v.cap, cap);
    CHECK_INT(v.len, 1);
    CHECK_INT(v.at[0], 7);
    vec_free(&v);
}

//  An array kept as three fields of its own struct, with exact-size storage
//  from elsewhere (cap 0 means "len, no room").
static void test_three_field_form(void)
{
    struct { long *items; size_t n, cap; } s = {malloc(2 * sizeof(long)), 2, 0};
    CHECK(s.items != NULL);
    s.items[0] = 1, s.items[1] = 2;
    CHECK_INT(vec_reserve_(&s.items, &s.cap, s.n, 1, sizeof *s.items), 0);
    CHECK(s.cap >= 3);
    s.items[s.n++] = 3;
    CHECK_INT(s.items[0] + s.items[1] + s.items[2], 6);
    free(s.items);
}

int main(void)
{
    RUN(test_push_grows_and_keeps_order);
    RUN(test_first_allocation_is_the_minimum);
    RUN(test_reserve_makes_room_once);
    RUN(test_overflow_is_refused_and_leaves_the_array);
    RUN(test_three_field_form);
    return TEST_REPORT("test_vec");
}
