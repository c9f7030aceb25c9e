/*  prom.h: the Prometheus text exposition format's two pieces of syntax
    that every /metrics page here writes the same way: a metric's HELP and
    TYPE lines, and a label value's escaping. The broker's --metrics
    (broker/exporter.c) and the gateway's /metrics (gateway/drift_gauges.c)
    render with them. */
#ifndef MLOPS_PROM_H
#define MLOPS_PROM_H

#include <stdio.h>

//  "# HELP name help" and "# TYPE name type" lines (type: gauge, counter...).
void prom_head(FILE *f, const char *name, const char *type, const char *help);

//  A label value as the format wants it between its quotes: backslash and
//  double quote escaped with a backslash, a newline as \n.
void prom_label(FILE *f, const char *value);

#endif
