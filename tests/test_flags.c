/*  test_flags.c: the one flag-value parser (common/flags.h): whole numbers,
    real numbers, durations and sizes, their ranges, and each refusal's
    message naming the flag and the text. */
#include "flags.h"
#include "testing.h"

#include <limits.h>

static void test_int_takes_a_whole_number_in_range(void)
{
    long long v = 0;
    CHECK_INT(flags_int("--credit", "32", 1, 100, &v, NULL), 0);
    CHECK_INT(v, 32);
    CHECK_INT(flags_int("--n", "1", 1, 100, &v, NULL), 0);     //  both bounds are in
    CHECK_INT(flags_int("--n", "100", 1, 100, &v, NULL), 0);
    CHECK_INT(flags_int("--n", "-5", -10, 0, &v, NULL), 0);
    CHECK_INT(v, -5);
    CHECK_INT(flags_int("--n", "9223372036854775807", 0, LLONG_MAX, &v, NULL), 0);
    CHECK_INT(v, LLONG_MAX);
}

static void test_int_refuses_and_names_flag_range_and_text(void)
{
    mlops_err_t err;
    long long v = 7;
    const char *bad[] = {"x", "", "2.5", "3x", "0", "1001", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mlops_err_clear(&err);
        CHECK_INT(flags_int("--liveness", bad[i], 1, 1000, &v, &err), MLOPS_EINVAL);
        CHECK_INT(v, 7);   //  untouched
    }
    flags_int("--liveness", "x", 1, 1000, &v, &err);
    CHECK_STR(err.msg, "--liveness wants a whole number in 1..1000, not 'x'");
    CHECK_INT(flags_int("--port", NULL, 0, 65535, &v, &err), MLOPS_EINVAL);   //  value missing
    CHECK_STR(err.msg, "--port wants a whole number in 0..65535, not ''");
}

static void test_number_takes_decimals_in_range(void)
{
    mlops_err_t err;
    double v = 0;
    CHECK_INT(flags_number("--margin", "-0.5", -1, 1, &v, &err), 0);
    CHECK_NEAR(v, -0.5, 0);
    CHECK_INT(flags_number("--margin", "1e-3", -1, 1, &v, &err), 0);
    CHECK_NEAR(v, 0.001, 1e-15);
    CHECK_INT(flags_number("--margin", "2", -1, 1, &v, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "--margin wants a number in -1..1, not '2'");
    CHECK_INT(flags_number("--margin", "nan", -1, 1, &v, &err), MLOPS_EINVAL);
    CHECK_INT(flags_number("--margin", "0.1x", -1, 1, &v, &err), MLOPS_EINVAL);
    CHECK_INT(flags_number("--margin", "", -1, 1, &v, &err), MLOPS_EINVAL);
    CHECK_NEAR(v, 0.001, 1e-15);   //  untouched by the refusals
}

static void test_duration_names_the_flag_before_the_rule(void)
{
    mlops_err_t err;
    int64_t ms = 0;
    CHECK_INT(flags_duration("--heartbeat", "250ms", 10, 600000, &ms, &err), 0);
    CHECK_INT(ms, 250);
    CHECK_INT(flags_duration("--heartbeat", "5ms", 10, 600000, &ms, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "--heartbeat: '5ms' is out of range 10ms..10m");
    CHECK_INT(flags_duration("--heartbeat", "200", 10, 600000, &ms, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "--heartbeat: duration '200' has no unit");
    CHECK_INT(flags_duration("--deadline", NULL, 1, 3600000, &ms, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "--deadline needs a DURATION");
    CHECK_INT(ms, 250);
}

static void test_size_reads_units_of_1024(void)
{
    size_t v = 0;
    CHECK_INT(flags_size("--store-size", "4M", 1 << 20, &v, NULL), 0);
    CHECK_INT(v, 4 << 20);
    CHECK_INT(flags_size("--store-size", "64G", 1 << 20, &v, NULL), 0);
    CHECK_INT(v, 64LL << 30);
    CHECK_INT(flags_size("--store-size", "1tb", 1 << 20, &v, NULL), 0);
    CHECK_INT(v, 1LL << 40);
    CHECK_INT(flags_size("--store-size", "0.5k", 1, &v, NULL), 0);
    CHECK_INT(v, 512);
    CHECK_INT(flags_size("--store-size", "2097152", 1 << 20, &v, NULL), 0);   //  bytes
    CHECK_INT(v, 2 << 20);
}

static void test_size_refuses_small_huge_and_garbage(void)
{
    mlops_err_t err;
    size_t v = 9;
    CHECK_INT(flags_size("--store-size", "1K", 1 << 20, &v, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "--store-size: expected a size of at least 1M like 512M or 64G, got '1K'");
    const char *bad[] = {"", "M", "4X", "4MM", "-4M", "2000000T", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(flags_size("--store-size", bad[i], 1 << 20, &v, &err), MLOPS_EINVAL);
    CHECK_INT(flags_size("--x", "1", 1000, &v, &err), MLOPS_EINVAL);   //  a minimum of no unit
    CHECK_STR(err.msg, "--x: expected a size of at least 1000 bytes like 512M or 64G, got '1'");
    CHECK_INT(v, 9);
}

static void test_report_is_silent_on_success(void)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(flags_report("prog", 0, &err), 0);
    mlops_err_set(&err, MLOPS_EINVAL, "--n wants a whole number in 1..2, not '3'");
    CHECK_INT(flags_report("prog", MLOPS_EINVAL, &err), -1);   //  and the line on stderr
}

int main(void)
{
    RUN(test_int_takes_a_whole_number_in_range);
    RUN(test_int_refuses_and_names_flag_range_and_text);
    RUN(test_number_takes_decimals_in_range);
    RUN(test_duration_names_the_flag_before_the_rule);
    RUN(test_size_reads_units_of_1024);
    RUN(test_size_refuses_small_huge_and_garbage);
    RUN(test_report_is_silent_on_success);
    return TEST_REPORT("test_flags");
}
