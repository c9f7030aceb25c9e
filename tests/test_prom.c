/*  test_prom.c: Prometheus exposition syntax (common/prom.h): the HELP and
    TYPE lines, and label values with backslashes, quotes and newlines
    escaped (a field named by a CSV header can hold any of them). */
#include "prom.h"
#include "testing.h"

#include <stdlib.h>

//  What fn wrote, as a malloc'd string.
static char *s_written(void (*fn)(FILE *f, const void *arg), const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    fn(f, arg);
    fclose(f);
    return text;
}

static void s_label_fn(FILE *f, const void *arg)
{
    prom_label(f, arg);
}

static void s_head_fn(FILE *f, const void *arg)
{
    (void)arg;
    prom_head(f, "mlops_x", "gauge", "An x.");
}

static void test_head(void)
{
    char *t = s_written(s_head_fn, NULL);
    CHECK_STR(t, "# HELP mlops_x An x.\n# TYPE mlops_x gauge\n");
    free(t);
}

static void test_label_escapes(void)
{
    char *t = s_written(s_label_fn, "Fare");
    CHECK_STR(t, "Fare");
    free(t);
    t = s_written(s_label_fn, "a\\b \"c\"\nd");
    CHECK_STR(t, "a\\\\b \\\"c\\\"\\nd");
    free(t);
    t = s_written(s_label_fn, "");
    CHECK_STR(t, "");
    free(t);
}

int main(void)
{
    RUN(test_head);
    RUN(test_label_escapes);
    return TEST_REPORT("test_prom");
}
