/*  test_duration.c: durations as users type them (common/duration.h): the
    units, the refusals (a bare number, no unit, zero, negative, out of
    range, over 100 years) with their messages, ranges and the short form. */
#include "duration.h"
#include "testing.h"

static void test_duration(void)
{
    int64_t ms = 0;
    mlops_err_t err;
    CHECK_INT(duration_parse("30s", &ms, &err), 0);
    CHECK_INT(ms, 30000);
    CHECK_INT(duration_parse("24h", &ms, &err), 0);
    CHECK_INT(ms, 86400000);
    CHECK_INT(duration_parse("250ms", &ms, &err), 0);
    CHECK_INT(ms, 250);
    CHECK_INT(duration_parse("1.5s", &ms, &err), 0);
    CHECK_INT(ms, 1500);
    //  a bare number is refused, not read as seconds or milliseconds
    CHECK_INT(duration_parse("1.5", &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "'1.5' has no unit: write 1.5ms or 1.5s");
    CHECK_INT(duration_parse("200", &ms, &err), MLOPS_EINVAL);
    CHECK_INT(ms, 1500);   //  untouched
    CHECK_INT(duration_parse("0.4ms", &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "under 1 ms");
    CHECK_INT(duration_parse("0s", &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "positive");
    CHECK_INT(duration_parse("5m", &ms, &err), 0);
    CHECK_INT(ms, 300000);
    CHECK_INT(duration_parse("", &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "empty");
    CHECK_INT(duration_parse("-3s", &ms, &err), MLOPS_EINVAL);
    CHECK_INT(duration_parse("3 weeks", &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "unit");
    CHECK_INT(duration_parse("1000000d", &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "100 years");
    //  a range: both bounds are in it, and a refusal names both
    CHECK_INT(duration_parse_range("10ms", 10, 600000, &ms, &err), 0);
    CHECK_INT(ms, 10);
    CHECK_INT(duration_parse_range("10m", 10, 600000, &ms, &err), 0);
    CHECK_INT(ms, 600000);
    CHECK_INT(duration_parse_range("9ms", 10, 600000, &ms, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "'9ms' is out of range 10ms..10m");
    CHECK_INT(ms, 600000);   //  untouched
    CHECK_INT(duration_parse_range("601s", 10, 600000, &ms, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "'601s' is out of range 10ms..10m");
    CHECK_INT(duration_parse_range("601", 10, 600000, &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "no unit");
    char text[32];
    CHECK_STR(duration_format(86400000, text, sizeof text), "1d");
    CHECK_STR(duration_format(1500, text, sizeof text), "1.5s");
    CHECK_STR(duration_format(20, text, sizeof text), "20ms");
}

static void test_format_picks_the_largest_whole_unit(void)
{
    char text[32];
    CHECK_STR(duration_format(1000, text, sizeof text), "1s");
    CHECK_STR(duration_format(60000, text, sizeof text), "1m");
    CHECK_STR(duration_format(90000, text, sizeof text), "90s");
    CHECK_STR(duration_format(7200000, text, sizeof text), "2h");
    CHECK_STR(duration_format(999, text, sizeof text), "999ms");
    //  what format writes, parse reads back to the same value
    int64_t values[] = {1, 250, 1500, 60000, 3600000, 86400000, 172800000};
    mlops_err_t err;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        int64_t back = 0;
        CHECK_INT(duration_parse(duration_format(values[i], text, sizeof text), &back, &err), 0);
        CHECK_INT(back, values[i]);
    }
}

static void test_refusals_name_the_text(void)
{
    int64_t ms = 7;
    mlops_err_t err;
    CHECK_INT(duration_parse(NULL, &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "empty duration");
    CHECK_INT(duration_parse("soon", &ms, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "bad duration 'soon' (expected a positive number and a unit ms|s|m|h|d)");
    CHECK_INT(duration_parse("+3s", &ms, &err), MLOPS_EINVAL);   //  no sign at all
    CHECK_INT(duration_parse("5w", &ms, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "bad duration unit in '5w' (use ms, s, m, h or d)");
    CHECK_INT(duration_parse("inf s", &ms, &err), MLOPS_EINVAL);
    CHECK_INT(ms, 7);
}

int main(void)
{
    RUN(test_duration);
    RUN(test_format_picks_the_largest_whole_unit);
    RUN(test_refusals_name_the_text);
    return TEST_REPORT("test_duration");
}
