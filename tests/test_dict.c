/*  test_dict.c: the string dictionary (common/dict.h): codes in order of
    first appearance, many strings, lengths that differ only in a tail, and
    handing the levels over. */
#include "dict.h"
#include "err.h"
#include "testing.h"

#include <stdint.h>

static void test_dict_interns_many_strings(void)
{
    dict_t *d = dict_new(0);
    CHECK(d);
    char s[32];
    uint32_t code;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(s, sizeof s, "level-%d", i);
        CHECK_INT(dict_intern(d, s, (size_t)n, &code), 0);
        CHECK_INT(code, i);
    }
    CHECK_INT(dict_intern(d, "level-77", 8, &code), 0);
    CHECK_INT(code, 77);
    CHECK_INT(dict_size(d), 100000);
    CHECK_STR(dict_string(d, 99999), "level-99999");
    CHECK_INT(dict_intern(d, "", 0, &code), 0);
    CHECK_INT(code, 100000);
    dict_destroy(&d);
    CHECK(d == NULL);
}

static void test_bytes_not_c_strings_are_compared(void)
{
    dict_t *d = dict_new(4);
    CHECK(d);
    uint32_t a, b, c;
    CHECK_INT(dict_intern(d, "abcdefgh1", 8, &a), 0);   //  the first 8 bytes only
    CHECK_INT(dict_intern(d, "abcdefgh", 8, &b), 0);
    CHECK_INT(dict_intern(d, "abcdefgh", 9, &c), 0);    //  with its NUL: another level
    CHECK_INT(a, 0);
    CHECK_INT(b, 0);
    CHECK_INT(c, 1);
    CHECK_STR(dict_string(d, 0), "abcdefgh");
    dict_destroy(&d);
    dict_destroy(&d);   //  NULL is ignored
    dict_destroy(NULL);
}

static void test_take_levels_hands_over_and_empties(void)
{
    dict_t *d = dict_new(0);
    CHECK(d);
    CHECK(dict_take_levels(d) == NULL);   //  nothing to hand over
    uint32_t code;
    CHECK_INT(dict_intern(d, "male", 4, &code), 0);
    CHECK_INT(dict_intern(d, "female", 6, &code), 0);
    char **levels = dict_take_levels(d);
    CHECK(levels != NULL);
    CHECK_STR(levels[0], "male");
    CHECK_STR(levels[1], "female");
    free(levels[0]);
    free(levels[1]);
    free(levels);
    CHECK_INT(dict_size(d), 0);
    CHECK_INT(dict_intern(d, "female", 6, &code), 0);   //  a new start: code 0 again
    CHECK_INT(code, 0);
    dict_destroy(&d);
}

int main(void)
{
    RUN(test_dict_interns_many_strings);
    RUN(test_bytes_not_c_strings_are_compared);
    RUN(test_take_levels_hands_over_and_empties);
    return TEST_REPORT("test_dict");
}
