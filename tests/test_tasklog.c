/*  test_tasklog.c: the lines a stage worker keeps for the broker while a
    task runs (workers/tasklog.h): only between begin and end, made safe,
    bounded with the oldest whole lines dropped and said so, taken once. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tasklog.h"
#include "testing.h"

static void test_lines_between_begin_and_end_are_taken_once(void)
{
    tasklog_t *t = tasklog_new(0);
    CHECK(t != NULL);
    tasklog_append(t, "before", 6);   //  not capturing yet
    tasklog_begin(t);
    tasklog_append(t, "one", 3);
    tasklog_append(t, "two\x1b[31m\x01", 9);   //  control bytes: '?'
    char *got = tasklog_take(t);
    CHECK_STR(got, "one\ntwo?[31m?\n");
    free(got);
    got = tasklog_take(t);
    CHECK_STR(got, "");   //  taken already
    free(got);
    //  the log tap: what the process logs goes in too
    log_set_tap(tasklog_tap_fn, t);
    log_info("from the log wrapper");
    log_set_tap(NULL, NULL);
    got = tasklog_take(t);
    CHECK_CONTAINS(got, " info from the log wrapper\n");
    free(got);
    tasklog_end(t);
    tasklog_append(t, "after", 5);
    got = tasklog_take(t);
    CHECK_STR(got, "");
    free(got);
    tasklog_destroy(&t);
    CHECK(t == NULL);
}

static void test_bounded_to_the_newest_lines(void)
{
    tasklog_t *t = tasklog_new(20);
    tasklog_begin(t);
    tasklog_append(t, "aaaaaaaa", 8);   //  9 bytes with its newline
    tasklog_append(t, "bbbbbbbb", 8);
    tasklog_append(t, "cccccccc", 8);   //  27 > 20: the a line goes
    char *got = tasklog_take(t);
    CHECK_STR(got, "(9 bytes of earlier lines dropped: over 20 bytes between two sends)\nbbbbbbbb\ncccccccc\n");
    free(got);
    tasklog_append(t, "0123456789012345678901234", 25);   //  one line over the bound: its tail
    got = tasklog_take(t);
    CHECK_CONTAINS(got, "(6 bytes of earlier lines dropped");
    CHECK_CONTAINS(got, "\n6789012345678901234\n");
    free(got);
    tasklog_destroy(&t);
}

int main(void)
{
    RUN(test_lines_between_begin_and_end_are_taken_once);
    RUN(test_bounded_to_the_newest_lines);
    return TEST_REPORT("test_tasklog");
}
