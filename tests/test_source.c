/*  test_source.c: the grammar of a run's source (proto/source.h): each kind
    read with its parts and defaults, and every error with its message, the
    kind written even on failure and the rest of the answer untouched. */
#include <stdio.h>
#include <string.h>

#include "source.h"
#include "testing.h"

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_synthetic_with_defaults_and_parts(void)
{
    source_t s;
    mlops_err_t err;
    CHECK_INT(source_parse("synthetic", &s, &err), 0);
    CHECK_INT(s.kind, SOURCE_SYNTHETIC);
    CHECK_INT(s.rows, SOURCE_SYNTH_DEFAULT_ROWS);
    CHECK_INT(s.seed, SOURCE_SYNTH_DEFAULT_SEED);
    CHECK_INT(source_parse("synthetic:5000", &s, &err), 0);
    CHECK_INT(s.rows, 5000);
    CHECK_INT(s.seed, 42);
    CHECK_INT(source_parse("synthetic:10:18446744073709551615", &s, &err), 0);
    CHECK_INT(s.rows, 10);
    CHECK(s.seed == UINT64_MAX);
    CHECK_INT(source_parse("synthetic:10000000:0", &s, &err), 0);
    CHECK_INT(s.rows, 10000000);
    CHECK_INT(s.seed, 0);
}

static void test_datasets_and_paths(void)
{
    source_t s;
    mlops_err_t err;
    CHECK_INT(source_parse("dataset:" HASH, &s, &err), 0);
    CHECK_INT(s.kind, SOURCE_DATASET);
    CHECK_STR(s.hash, HASH);
    CHECK_INT(source_parse(HASH, &s, &err), 0);   //  a bare hash names a dataset too
    CHECK_INT(s.kind, SOURCE_DATASET);
    CHECK_STR(s.hash, HASH);
    const char *paths[] = {"data/titanic.csv", "/srv/data/a b.csv", "synthetics", "Synthetic:5",
                           "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
                           "d\xc3\xa9j\xc3\xa0.csv"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        memset(&s, 0x55, sizeof s);
        CHECK_INT(source_parse(paths[i], &s, &err), 0);
        CHECK_INT(s.kind, SOURCE_PATH);
    }
    char longest[SOURCE_MAX_BYTES + 1];
    memset(longest, 'a', SOURCE_MAX_BYTES);
    longest[SOURCE_MAX_BYTES] = '\0';
    CHECK_INT(source_parse(longest, &s, &err), 0);
    CHECK_INT(s.kind, SOURCE_PATH);
}

typedef struct {
    const char *text;
    source_kind_t kind;      //  written even on failure
    const char *message;     //  err.msg, exactly
} s_bad_t;

static void test_every_error_names_its_rule(void)
{
    static const s_bad_t bad[] = {
        {"", SOURCE_PATH, "source is empty (synthetic[:ROWS[:SEED]], dataset:HASH or a CSV path)"},
        {"data/a\nb.csv", SOURCE_PATH, "source: byte 6 is a control character"},
        {"\x7f", SOURCE_PATH, "source: byte 0 is a control character"},
        {"synthetic:10\t", SOURCE_SYNTHETIC, "source: byte 12 is a control character"},
        {"synthetic:", SOURCE_SYNTHETIC, "synthetic: rows '' is not a number"},
        {"synthetic:abc", SOURCE_SYNTHETIC, "synthetic: rows 'abc' is not a number"},
        {"synthetic:-5", SOURCE_SYNTHETIC, "synthetic: rows '-5' is not a number"},
        {"synthetic:+5", SOURCE_SYNTHETIC, "synthetic: rows '+5' is not a number"},
        {"synthetic: 50", SOURCE_SYNTHETIC, "synthetic: rows ' 50' is not a number"},
        {"synthetic:99999999999999999999", SOURCE_SYNTHETIC,
         "synthetic: rows '99999999999999999999' is not a number"},
        {"synthetic:9", SOURCE_SYNTHETIC, "synthetic: rows 9 outside 10..10000000"},
        {"synthetic:10000001", SOURCE_SYNTHETIC, "synthetic: rows 10000001 outside 10..10000000"},
        {"synthetic:100:", SOURCE_SYNTHETIC, "synthetic: seed '' is not a number"},
        {"synthetic:100:x1", SOURCE_SYNTHETIC, "synthetic: seed 'x1' is not a number"},
        {"synthetic:100:18446744073709551616", SOURCE_SYNTHETIC,
         "synthetic: seed '18446744073709551616' is not a number"},
        {"synthetic:100:1:2", SOURCE_SYNTHETIC, "synthetic: too many parts (synthetic[:ROWS[:SEED]])"},
        {"synthetic::", SOURCE_SYNTHETIC, "synthetic: rows '' is not a number"},
        {"synthetic:1::", SOURCE_SYNTHETIC, "synthetic: too many parts (synthetic[:ROWS[:SEED]])"},
        {"dataset:", SOURCE_DATASET, "dataset: '' is not a dataset hash (64 lower-case hex digits)"},
        {"dataset:abc", SOURCE_DATASET, "dataset: 'abc' is not a dataset hash (64 lower-case hex digits)"},
        {"dataset:" HASH "0", SOURCE_DATASET,
         "dataset: '0123456789abcdef0123456789abcdef01234567' is not a dataset hash (64 lower-case hex "
         "digits)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        source_t s = {.kind = 99, .rows = 7, .seed = 7, .hash = "untouched"};
        mlops_err_t err;
        CHECK_INT(source_parse(bad[i].text, &s, &err), MLOPS_EINVAL);
        CHECK_STR(err.msg, bad[i].message);
        CHECK_INT(s.kind, bad[i].kind);
        CHECK_INT(s.rows, 7);
        CHECK_INT(s.seed, 7);
        CHECK_STR(s.hash, "untouched");
    }
    char over[SOURCE_MAX_BYTES + 2];
    memset(over, 'a', SOURCE_MAX_BYTES + 1);
    over[SOURCE_MAX_BYTES + 1] = '\0';
    source_t s;
    mlops_err_t err;
    CHECK_INT(source_parse(over, &s, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "source is 256 bytes, over the limit of 255");
    CHECK_INT(source_parse(NULL, &s, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "source is empty");
}

//  "csv:PATH" names a path; "+feedback" joins the feedback set to a path,
//  a csv: path or the generator, never a stored dataset; base is what
//  extract reads.
static void test_feedback_and_csv(void)
{
    source_t s;
    mlops_err_t err;
    CHECK_INT(source_parse("csv:/data/titanic.csv+feedback", &s, &err), 0);
    CHECK_INT(s.kind, SOURCE_PATH);
    CHECK(s.feedback);
    CHECK_STR(s.base, "/data/titanic.csv");
    CHECK_INT(source_parse("/data/t.csv+feedback", &s, &err), 0);
    CHECK(s.feedback);
    CHECK_STR(s.base, "/data/t.csv");
    CHECK_INT(source_parse("csv:/data/t.csv", &s, &err), 0);
    CHECK(!s.feedback);
    CHECK_STR(s.base, "/data/t.csv");
    CHECK_INT(source_parse("synthetic:500:7+feedback", &s, &err), 0);
    CHECK_INT(s.kind, SOURCE_SYNTHETIC);
    CHECK_INT(s.rows, 500);
    CHECK_STR(s.base, "synthetic:500:7");
    CHECK_INT(source_parse("/data/t.csv", &s, &err), 0);
    CHECK(!s.feedback);
    CHECK_STR(s.base, "/data/t.csv");
    const struct { const char *text, *says; } bad[] = {
        {"+feedback", "nothing before"},
        {"csv:", "nothing before"},
        {"csv:+feedback", "nothing before"},
        {"a.csv+feedback+feedback", "comes once, last"},
        {"csv:csv:a.csv", "names a CSV path, once"},
        {"csv:synthetic", "names a CSV path"},
        {"dataset:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef+feedback",
         "a stored dataset cannot be joined"},
        {"synthetic:5+feedback", "rows 5 outside"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(source_parse(bad[i].text, &s, &err), MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, bad[i].says);
    }
}

int main(void)
{
    RUN(test_synthetic_with_defaults_and_parts);
    RUN(test_datasets_and_paths);
    RUN(test_every_error_names_its_rule);
    RUN(test_feedback_and_csv);
    return TEST_REPORT("test_source");
}
