/*  test_dict.c: the string dictionary behind string columns (common/dict.c):
    codes in order of first appearance, many levels without a quadratic
    scan, the empty string as a level of its own.
*/
#include "dict.h"
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

int main(void)
{
    RUN(test_dict_interns_many_strings);
    return TEST_REPORT("test_dict");
}
