/*  test_csv_numbers.c: the number grammar of the CSV loader (PROTOCOL.md
    section 10, "CSV loading"), cell by cell through csv_parse_number (the
    one rule, which csv_stream uses too) and through a whole load: a sign,
    a bare leading or trailing dot and an exponent are numbers; nan, inf,
    hex, underscores, commas and trailing junk are not. */
#include "csv_load.h"
#include "testing.h"

#include <math.h>

//  1 and *v when the cell is a number, else 0.
static int s_number(const char *cell, double *v)
{
    *v = -12345;
    return csv_parse_number(cell, strlen(cell), v);
}

static void test_signs_and_bare_dots_are_numbers(void)
{
    static const struct { const char *cell; double value; } yes[] = {
        {"+1", 1},   {".5", 0.5},  {"5.", 5},     {"-.5", -0.5}, {"+.5", 0.5}, {"-5.", -5},
        {"007", 7},  {"1e3", 1000}, {"1E-2", 0.01}, {"+1e+2", 100}, {".5e1", 5}, {"5.e1", 50},
        {"0.1", 0.1}, {"1234567890123456789", 1234567890123456789.0},
        {" 5", 5}, {"1e-400", 0},   //  leading blanks (quoted) are skipped; underflow is 0
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        double v;
        CHECK_INT(s_number(yes[i].cell, &v), 1);
        CHECK(v == yes[i].value);
    }
    double v;
    CHECK_INT(s_number("-0", &v), 1);   //  a negative zero stays one
    CHECK(v == 0 && signbit(v));
}

static void test_what_is_not_a_number(void)
{
    static const char *const no[] = {
        "", ".", "+", "-", "+-1", "--1", "1.2.3", "1e", "e3", "1e400", "nan", "NaN", "inf",
        "-Infinity", "0x10", "1_000", "1,5", "5 ", "1 2", "12abc", "١",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        double v;
        CHECK_INT(s_number(no[i], &v), 0);
    }
}

//  The same cells in a file: the columns are numbers with those values.
static void test_a_loaded_file_agrees(void)
{
    static const char text[] = "a,b,c\n+1,.5,5.\n-2,-.25,10.\n";
    mlops_err_t err;
    table_t *t = csv_load_buffer(text, sizeof text - 1, NULL, &err);
    CHECK(t != NULL);
    if (!t)
        return;
    for (size_t c = 0; c < 3; c++)
        CHECK_INT(t->cols[c].kind, TABLE_NUMBER);
    CHECK(t->cols[0].num[0] == 1 && t->cols[1].num[0] == 0.5 && t->cols[2].num[0] == 5);
    CHECK(t->cols[0].num[1] == -2 && t->cols[1].num[1] == -0.25 && t->cols[2].num[1] == 10);
    table_destroy(&t);
}

int main(void)
{
    RUN(test_signs_and_bare_dots_are_numbers);
    RUN(test_what_is_not_a_number);
    RUN(test_a_loaded_file_agrees);
    return TEST_REPORT("test_csv_numbers");
}
