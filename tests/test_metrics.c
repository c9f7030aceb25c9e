/*  test_metrics.c: proto/metrics.c: two sets of metrics compared field by
    field: equal within the tolerance, NaN only equal to NaN, the first
    differing metric named with both values. */
#include <math.h>

#include "metrics.h"
#include "testing.h"

static void test_metrics_differ(void)
{
    metrics_t a = {.accuracy = 0.8, .auc = NAN, .log_loss = 120.0, .tp = 5};
    metrics_t b = a;
    metrics_diff_t d = {0};
    CHECK(!metrics_differ(&a, &b, &d));             //  NaN on both sides is the same AUC
    b.log_loss = 120.0 + 1e-8;                      //  within 1e-9 of 120
    CHECK(!metrics_differ(&a, &b, NULL));
    b.auc = 0.5;
    CHECK(metrics_differ(&a, &b, &d));
    CHECK_STR(d.name, "auc");
    CHECK(isnan(d.got) && d.want == 0.5);
    b = a;
    b.accuracy = 0.8 + 1e-6;
    b.tp = 6;
    CHECK(metrics_differ(&a, &b, &d));              //  the first in table order
    CHECK_STR(d.name, "accuracy");
    b.accuracy = a.accuracy;
    CHECK(metrics_differ(&a, &b, &d));
    CHECK_STR(d.name, "tp");
    CHECK(d.got == 5 && d.want == 6);
}

int main(void)
{
    RUN(test_metrics_differ);
    return TEST_REPORT("test_metrics");
}
