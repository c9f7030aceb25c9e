/*  test_progress_table.c: the broker's table of running tasks' progress
    (broker/progress_table.c): the text with and without a total, the
    estimate from the rate since the first report of a unit, a new unit
    or a count going back starting it again, publishing at most once per
    PROGRESS_TABLE_PUBLISH_MSEC, forgetting, and the bound on entries. The
    clock is passed in, so nothing here depends on timing.
*/
#include "progress_table.h"
#include "testing.h"

#include <stdio.h>

static void test_text_and_estimate(void)
{
    progress_table_t *p = progress_table_new();
    char text[PROGRESS_TABLE_TEXT_MAX];
    CHECK_STR(progress_table_text(p, "1-extract", text, sizeof text), "");
    CHECK_INT(progress_table_update(p, "1-extract", 1000, 5000, "rows", 10000), 1);
    CHECK_STR(progress_table_text(p, "1-extract", text, sizeof text), "1000/5000 rows (20%)");
    //  1000 rows in 2 s: 3000 rows left take 6 s
    CHECK_INT(progress_table_update(p, "1-extract", 2000, 5000, "rows", 12000), 1);
    CHECK_STR(progress_table_text(p, "1-extract", text, sizeof text),
              "2000/5000 rows (40%, about 6 s left)");
    CHECK_INT(progress_table_update(p, "1-train-forest", 37, 0, "trees", 12000), 1);
    CHECK_STR(progress_table_text(p, "1-train-forest", text, sizeof text), "37 trees");
    CHECK_INT(progress_table_update(p, "1-extract", 5000, 5000, "rows", 13000), 1);
    CHECK_STR(progress_table_text(p, "1-extract", text, sizeof text), "5000/5000 rows (100%)");
    progress_table_destroy(&p);
    CHECK(p == NULL);
    progress_table_destroy(&p);
}

static void test_new_count_restarts_the_rate(void)
{
    progress_table_t *p = progress_table_new();
    char text[PROGRESS_TABLE_TEXT_MAX];
    progress_table_update(p, "2-extract", 0, 100, "rows", 0);
    progress_table_update(p, "2-extract", 50, 100, "rows", 1000);   //  the clock may start at 0
    CHECK_STR(progress_table_text(p, "2-extract", text, sizeof text),
              "50/100 rows (50%, about 1 s left)");
    progress_table_update(p, "2-extract", 100, 100, "rows", 1500);
    progress_table_update(p, "2-extract", 10, 1000, "bytes", 2000);   //  a new unit: no rate yet
    CHECK_STR(progress_table_text(p, "2-extract", text, sizeof text), "10/1000 bytes (1%)");
    progress_table_update(p, "2-extract", 510, 1000, "bytes", 3000);
    CHECK_STR(progress_table_text(p, "2-extract", text, sizeof text),
              "510/1000 bytes (51%, about 1 s left)");
    progress_table_update(p, "2-extract", 5, 1000, "bytes", 4000);    //  a new attempt
    CHECK_STR(progress_table_text(p, "2-extract", text, sizeof text), "5/1000 bytes (0%)");
    CHECK_INT(progress_table_update(p, "2-extract", 5, 1000, "", 4000), 0);   //  no unit: nothing
    progress_table_destroy(&p);
}

static void test_publish_at_most_once_a_second(void)
{
    progress_table_t *p = progress_table_new();
    CHECK_INT(progress_table_update(p, "3-train", 1, 10, "trees", 5000), 1);
    CHECK_INT(progress_table_update(p, "3-train", 2, 10, "trees", 5200), 0);
    CHECK_INT(progress_table_update(p, "3-train", 3, 10, "trees", 5999), 0);
    CHECK_INT(progress_table_update(p, "3-other", 3, 10, "trees", 5999), 1);   //  per task
    CHECK_INT(progress_table_update(p, "3-train", 4, 10, "trees", 6000), 1);
    progress_table_destroy(&p);
}

static void test_forget_and_bound(void)
{
    progress_table_t *p = progress_table_new();
    char text[PROGRESS_TABLE_TEXT_MAX], id[32];
    progress_table_update(p, "4-evaluate", 1, 2, "ms", 0);
    progress_table_forget(p, "4-evaluate");
    CHECK_STR(progress_table_text(p, "4-evaluate", text, sizeof text), "");
    progress_table_forget(p, "4-evaluate");   //  twice is harmless
    for (int i = 0; i < PROGRESS_TABLE_TASKS_MAX; i++) {
        snprintf(id, sizeof id, "%d-train", i);
        progress_table_update(p, id, 1, 2, "ms", 0);
    }
    CHECK_STR(progress_table_text(p, "0-train", text, sizeof text), "1/2 ms (50%)");
    progress_table_update(p, "99-train", 1, 2, "ms", 0);   //  past the bound: all go first
    CHECK_STR(progress_table_text(p, "0-train", text, sizeof text), "");
    CHECK_STR(progress_table_text(p, "99-train", text, sizeof text), "1/2 ms (50%)");
    CHECK_STR(progress_table_text(p, "", text, sizeof text), "");
    progress_table_destroy(&p);
}

int main(void)
{
    RUN(test_text_and_estimate);
    RUN(test_new_count_restarts_the_rate);
    RUN(test_publish_at_most_once_a_second);
    RUN(test_forget_and_bound);
    return TEST_REPORT("test_progress_table");
}
