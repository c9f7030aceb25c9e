/*  test_log.c: the log wrapper (common/log.h): the sanitiser that keeps a
    peer from forging lines, the level rule, and the shape of one line
    (written to a temporary file standing in for stderr). */
#include "log.h"
#include "testing.h"

#include <unistd.h>

static void test_log_sanitize_masks_and_truncates(void)
{
    char out[8];
    CHECK_STR(log_sanitize("a\nb\x01", 4, out, sizeof out), "a?b?");
    CHECK_STR(log_sanitize("0123456789", 10, out, sizeof out), "0123...");
}

static void test_sanitize_edges(void)
{
    char out[8];
    CHECK_STR(log_sanitize("abc", 3, out, sizeof out), "abc");
    CHECK_STR(log_sanitize("\xff\x7f", 2, out, sizeof out), "??");   //  non-ASCII and DEL
    CHECK_STR(log_sanitize("", 0, out, sizeof out), "");
    char two[3];
    CHECK_STR(log_sanitize("abcdef", 6, two, sizeof two), "ab");   //  no room for "..."
    snprintf(out, sizeof out, "keep");
    CHECK_STR(log_sanitize("abc", 3, out, 0), "keep");   //  size 0: nothing written
}

static void test_level_decides_what_is_printed(void)
{
    log_set_level(LOG_WARNING);
    CHECK(log_enabled(LOG_ERROR));
    CHECK(log_enabled(LOG_WARNING));
    CHECK(!log_enabled(LOG_INFO));
    setenv("MLOPS_LOG_LEVEL", "DEBUG", 1);
    log_init("tester");
    CHECK(log_enabled(LOG_DEBUG));
    setenv("MLOPS_LOG_LEVEL", "loud", 1);   //  unknown: the level stays
    log_init("tester");
    CHECK(log_enabled(LOG_DEBUG));
    unsetenv("MLOPS_LOG_LEVEL");
    log_set_level(LOG_INFO);
}

//  Runs log_write with stderr sent to a file; returns what was written.
static char *s_capture(log_level_t level, const char *text)
{
    static char line[2048];
    FILE *f = tmpfile();
    if (!f)
        return NULL;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(f), STDERR_FILENO);
    log_write(level, "%s", text);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(f);
    size_t n = fread(line, 1, sizeof line - 1, f);
    line[n] = '\0';
    fclose(f);
    return line;
}

static void test_one_line_with_identity_and_level(void)
{
    log_init("worker[train]");
    log_set_level(LOG_INFO);
    const char *line = s_capture(LOG_WARNING, "task failed task=3");
    CHECK(line != NULL);
    CHECK_CONTAINS(line, "Z worker[train] warning task failed task=3\n");
    CHECK_INT(line[4], '-');   //  2026-12-03T09:34:34.474Z: an ISO 8601 stamp first
    CHECK_INT(line[10], 'T');
    CHECK_STR(s_capture(LOG_DEBUG, "not shown"), "");
    log_init(NULL);   //  no identity: the default
    CHECK_CONTAINS(s_capture(LOG_ERROR, "x"), " mlops error x\n");
}

int main(void)
{
    RUN(test_log_sanitize_masks_and_truncates);
    RUN(test_sanitize_edges);
    RUN(test_level_decides_what_is_printed);
    RUN(test_one_line_with_identity_and_level);
    return TEST_REPORT("test_log");
}
