/*  test_csv_load.c: the CSV loader: quoting, line endings, inference, and the
    errors that name a line and a column. */
#include "csv_load.h"
#include "testing.h"
#include "titanic_schema.h"

#include <errno.h>
#include <unistd.h>

static table_t *s_load(const char *text, mlops_err_t *err)
{
    return csv_load_buffer(text, strlen(text), NULL, err);
}

static void test_quoted_commas_quotes_and_newlines(void)
{
    mlops_err_t err;
    table_t *t = s_load("id,name,note\n"
                        "1,\"Smith, John\",\"said \"\"hi\"\"\"\n"
                        "2,\"two\nlines\",plain\n",
                        &err);
    CHECK(t);
    CHECK_INT(t->n_rows, 2);
    CHECK_INT(t->n_cols, 3);
    CHECK_STR(table_string(t, 1, 0), "Smith, John");
    CHECK_STR(table_string(t, 2, 0), "said \"hi\"");
    CHECK_STR(table_string(t, 1, 1), "two\nlines");
    CHECK_INT(t->cols[0].kind, TABLE_NUMBER);
    CHECK_NEAR(t->cols[0].num[1], 2, 0);
    table_destroy(&t);
}

//  Spaces around an unquoted field are trimmed; inside quotes they stay.
static void test_spaces_trimmed_outside_quotes(void)
{
    mlops_err_t err;
    table_t *t = s_load("a,b\n  x y  , 1 \n\" q \",2\n", &err);
    CHECK(t);
    CHECK_STR(table_string(t, 0, 0), "x y");
    CHECK_STR(table_string(t, 0, 1), " q ");
    CHECK_INT(t->cols[1].kind, TABLE_NUMBER);
    CHECK_NEAR(t->cols[1].num[0], 1, 0);
    table_destroy(&t);
}

static void test_crlf_bom_and_no_trailing_newline(void)
{
    mlops_err_t err;
    table_t *a = s_load("\xef\xbb\xbfx,y\r\n1,a\r\n2,b", &err);
    CHECK(a);
    table_t *b = s_load("x,y\n1,a\n2,b\n", &err);
    CHECK(b);
    CHECK_STR(a->cols[0].name, "x"); //  the BOM is not part of the name
    CHECK_INT(a->n_rows, 2);
    char ha[HASH_HEX_LEN + 1], hb[HASH_HEX_LEN + 1];
    CHECK_INT(table_hash(a, ha), 0);
    CHECK_INT(table_hash(b, hb), 0);
    CHECK_STR(ha, hb);
    table_destroy(&a);
    table_destroy(&b);
}

static void test_empty_fields_are_missing(void)
{
    mlops_err_t err;
    table_t *t = s_load("a,b,c\n1,,x\n,2,\n\"\",3,y\n", &err);
    CHECK(t);
    CHECK_INT(t->n_rows, 3);
    CHECK_INT(t->cols[0].kind, TABLE_NUMBER);
    CHECK_INT(t->cols[0].missing[1], 1);
    CHECK_INT(t->cols[0].missing[2], 1); //  "" counts as empty too
    CHECK(isnan(t->cols[0].num[1]));
    CHECK_INT(t->cols[1].missing[0], 1);
    CHECK_NEAR(t->cols[1].num[2], 3, 0);
    CHECK(table_string(t, 2, 1) == NULL);
    CHECK_STR(table_string(t, 2, 2), "y");
    table_destroy(&t);
}

static void test_numbers_parse_exactly_and_refuse_nan_inf_hex(void)
{
    mlops_err_t err;
    table_t *t = s_load("a,b,c,d,e\n"
                        "0.1,1e3,nan,0x10,7.25\n"
                        "-2.5,-1.5E-2,3,4,123456789012345678\n",
                        &err);
    CHECK(t);
    CHECK_INT(t->cols[0].kind, TABLE_NUMBER);
    CHECK(t->cols[0].num[0] == 0.1);
    CHECK(t->cols[0].num[1] == -2.5);
    CHECK_INT(t->cols[1].kind, TABLE_NUMBER);
    CHECK(t->cols[1].num[0] == 1000);
    CHECK(t->cols[1].num[1] == -0.015);
    CHECK(t->cols[2].kind != TABLE_NUMBER); //  "nan" is text
    CHECK_STR(table_string(t, 2, 0), "nan");
    CHECK_STR(table_string(t, 2, 1), "3");
    CHECK(t->cols[3].kind != TABLE_NUMBER); //  hex is text
    CHECK(t->cols[4].num[1] == 123456789012345678.0);
    table_destroy(&t);
    t = s_load("x\ninf\n", &err);
    CHECK(t);
    CHECK(t->cols[0].kind != TABLE_NUMBER);
    table_destroy(&t);
}

//  A column that reads as numbers for many rows, then turns to text: the
//  earlier rows keep their exact strings ("1.50", not 1.5).
static void test_late_text_keeps_earlier_strings(void)
{
    char *buf = malloc(64 * 5000);
    CHECK(buf);
    size_t len = (size_t)sprintf(buf, "ticket,n\n");
    for (int i = 0; i < 3000; i++)
        len += (size_t)sprintf(buf + len, "%d.50,%d\n", i % 7, i);
    len += (size_t)sprintf(buf + len, "PC 17599,1\n");
    mlops_err_t err;
    table_t *t = csv_load_buffer(buf, len, NULL, &err);
    free(buf);
    CHECK(t);
    CHECK_INT(t->n_rows, 3001);
    CHECK_INT(t->cols[0].kind, TABLE_CATEGORY);
    CHECK_INT(t->cols[0].n_levels, 8);
    CHECK_STR(table_string(t, 0, 0), "0.50");
    CHECK_STR(table_string(t, 0, 2999), "3.50");
    CHECK_STR(table_string(t, 0, 3000), "PC 17599");
    CHECK_STR(t->cols[0].levels[0], "0.50"); //  levels in order of first use
    CHECK_INT(t->cols[1].kind, TABLE_NUMBER);
    CHECK_NEAR(t->cols[1].num[2999], 2999, 0);
    table_destroy(&t);
}

static void test_category_or_text_by_distinct_values(void)
{
    char buf[8192];
    size_t len = (size_t)sprintf(buf, "sex,name,few\n");
    for (int i = 0; i < 100; i++)
        len += (size_t)sprintf(buf + len, "%s,person %d,%s\n", i % 3 ? "male" : "female", i,
                               i < 50 ? "a" : "b");
    mlops_err_t err;
    table_t *t = csv_load_buffer(buf, len, NULL, &err);
    CHECK(t);
    CHECK_INT(t->cols[0].kind, TABLE_CATEGORY);
    CHECK_INT(t->cols[1].kind, TABLE_TEXT);
    CHECK_INT(t->cols[2].kind, TABLE_CATEGORY);
    table_destroy(&t);
    //  Every value distinct in a tiny file: text, not category.
    t = s_load("name\nann\nbob\ncid\n", &err);
    CHECK(t);
    CHECK_INT(t->cols[0].kind, TABLE_TEXT);
    table_destroy(&t);
}

static void test_ragged_row_names_its_line(void)
{
    mlops_err_t err;
    CHECK(s_load("a,b,c\n1,2,3\n4,5\n", &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_STR(err.msg, "line 3: 2 fields, expected 3");
    //  A quoted newline in row 2 moves row 3 to line 4.
    CHECK(s_load("a,b\n1,\"x\ny\"\n2,3,4\n", &err) == NULL);
    CHECK_STR(err.msg, "line 4: 3 fields, expected 2");
    //  The row that starts on line 2 and spans two lines is named by its first.
    CHECK(s_load("a,b\n1,\"x\ny\",9\n", &err) == NULL);
    CHECK_STR(err.msg, "line 2: 3 fields, expected 2");
    CHECK(s_load("a,b\r\n1,2\r\n\r\n3\r\n", &err) == NULL);
    CHECK_STR(err.msg, "line 4: 1 field, expected 2");
}

static void test_forced_columns(void)
{
    static const char *const numeric[] = {"Age", NULL};
    static const char *const strings[] = {"Pclass", NULL};
    csv_options_t opts = {.numeric = numeric, .strings = strings};
    mlops_err_t err;
    const char *good = "Pclass,Age\n1,22\n3,\n";
    table_t *t = csv_load_buffer(good, strlen(good), &opts, &err);
    CHECK(t);
    CHECK_INT(t->cols[0].kind, TABLE_CATEGORY);
    CHECK_STR(table_string(t, 0, 1), "3");
    CHECK_INT(t->cols[1].kind, TABLE_NUMBER);
    table_destroy(&t);
    const char *bad = "Pclass,Age\n1,22\n3,abc\n";
    CHECK(csv_load_buffer(bad, strlen(bad), &opts, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_STR(err.msg, "line 3, column Age: 'abc' is not a number");
}

static void test_header_errors(void)
{
    mlops_err_t err;
    CHECK(s_load("a,b,a\n1,2,3\n", &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_STR(err.msg, "line 1: duplicate column name 'a' (columns 1 and 3)");
    CHECK(s_load("a,,c\n1,2,3\n", &err) == NULL);
    CHECK_STR(err.msg, "line 1: column 2 has an empty name");
    CHECK(s_load("a,b\n", &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_STR(err.msg, "header only: no data rows");
    CHECK(s_load("", &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_CONTAINS(err.msg, "empty CSV");
    CHECK(s_load("\xef\xbb\xbf\r\n\n", &err) == NULL);
    CHECK_CONTAINS(err.msg, "empty CSV");
}

//  A column that turns to strings makes a second pass, which stops at
//  the row it needs, here inside the next row's quoted line break: that
//  is no unclosed quote (found by fuzz/fuzz_csv_stream).
static void test_second_pass_stops_inside_a_quoted_field(void)
{
    mlops_err_t err;
    table_t *t = s_load("id,note\r\n1,\"a\"\rg2,\"two\r\nlines\"\r\n", &err);
    if (!t)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(t);
    CHECK_INT(t ? t->n_rows : 0, 2);
    CHECK_STR(t ? table_string(t, 0, 0) : "", "1");
    CHECK_STR(t ? table_string(t, 1, 1) : "", "two\r\nlines");
    table_destroy(&t);
    //  ... or inside a row narrower than the header so far
    t = s_load("id,name,note\r\n1,\"a\",\"b\"\rg2,\"two\r\nlines\",x\r\n", &err);
    if (!t)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(t);
    CHECK_INT(t ? t->n_rows : 0, 2);
    table_destroy(&t);
}

static void test_nul_unclosed_quote_and_size_limit(void)
{
    mlops_err_t err;
    CHECK(csv_load_buffer("a\n1\n2\0", 6, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_STR(err.msg, "line 3: NUL byte at byte 5");
    CHECK(s_load("a,b\n1,\"open\n2,3\n", &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_STR(err.msg, "line 2: a quoted field is not closed at the end of the input");
    csv_options_t opts = {.max_bytes = 8};
    CHECK(csv_load_buffer("a,b\n1,2\n3,4\n", 12, &opts, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "limit 8");
}

static void test_file_errors_and_round_trip(void)
{
    mlops_err_t err;
    CHECK(csv_load_file("/nonexistent/x.csv", NULL, &err) == NULL);
    CHECK_INT(err.code, ENOENT);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.csv");
    char path[] = "/tmp/test_csv_load_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "a,b\n1,x\n2,y\n3\n";
    CHECK_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    CHECK(csv_load_file(path, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, "line 4: 1 field, expected 2");
    csv_options_t opts = {.max_bytes = 4};
    CHECK(csv_load_file(path, &opts, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    unlink(path);
}

//  data/synthetic_sample.csv (25 rows written from synth_generate) loads
//  with the real file's columns and kinds.
static void test_sample_file(void)
{
    mlops_err_t err;
    table_t *t = csv_load_file("data/synthetic_sample.csv", NULL, &err);
    if (!t)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(t);
    CHECK_INT(t->n_rows, 25);
    CHECK_INT(t->n_cols, TITANIC_COLS);
    for (size_t c = 0; c < TITANIC_COLS; c++) {
        CHECK_STR(t->cols[c].name, titanic_names[c]);
        CHECK_INT(t->cols[c].kind, titanic_kinds[c]);
    }
    table_destroy(&t);
}

static void test_titanic_file(void)
{
    const char *path = testing_titanic_path();
    if (!path) {
        printf("skip test_titanic_file: ../shared/data/titanic.csv is absent\n");
        return;
    }
    mlops_err_t err;
    table_t *t = csv_load_file(path, NULL, &err);
    if (!t)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(t);
    CHECK_INT(t->n_rows, 891);
    CHECK_INT(t->n_cols, TITANIC_COLS);
    for (size_t c = 0; c < TITANIC_COLS; c++) {
        CHECK_STR(t->cols[c].name, titanic_names[c]);
        CHECK_INT(t->cols[c].kind, titanic_kinds[c]);
    }
    size_t age_missing = 0, emb_missing = 0, cabin_missing = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        age_missing += t->cols[5].missing[r];
        emb_missing += t->cols[11].missing[r];
        cabin_missing += t->cols[10].missing[r];
    }
    CHECK_INT(age_missing, 177);
    CHECK_INT(emb_missing, 2);
    CHECK_INT(cabin_missing, 687);
    CHECK_INT(t->cols[4].n_levels, 2);
    CHECK_INT(t->cols[11].n_levels, 3);
    //  And the table survives its codec.
    uint8_t *buf;
    size_t len;
    CHECK_INT(table_encode(t, &buf, &len), 0);
    table_t *u = table_decode(buf, len, &err);
    free(buf);
    CHECK(u);
    char h1[HASH_HEX_LEN + 1], h2[HASH_HEX_LEN + 1];
    CHECK_INT(table_hash(t, h1), 0);
    CHECK_INT(table_hash(u, h2), 0);
    CHECK_STR(h1, h2);
    table_destroy(&u);
    table_destroy(&t);
}

int main(void)
{
    RUN(test_quoted_commas_quotes_and_newlines);
    RUN(test_spaces_trimmed_outside_quotes);
    RUN(test_crlf_bom_and_no_trailing_newline);
    RUN(test_empty_fields_are_missing);
    RUN(test_numbers_parse_exactly_and_refuse_nan_inf_hex);
    RUN(test_late_text_keeps_earlier_strings);
    RUN(test_category_or_text_by_distinct_values);
    RUN(test_ragged_row_names_its_line);
    RUN(test_forced_columns);
    RUN(test_header_errors);
    RUN(test_nul_unclosed_quote_and_size_limit);
    RUN(test_second_pass_stops_inside_a_quoted_field);
    RUN(test_file_errors_and_round_trip);
    RUN(test_sample_file);
    RUN(test_titanic_file);
    return TEST_REPORT("test_csv_load");
}
