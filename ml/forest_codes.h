/*  forest_codes.h: private to forest.c and forest_task.c: every feature
    coded once into the ranks of its distinct values (or max_bins quantile
    groups), the step every forest fit starts with. */
#ifndef MLOPS_FOREST_CODES_H
#define MLOPS_FOREST_CODES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n, p;        //  rows, features
    uint8_t *codes;     //  n rows of p rank codes (row-major), owned
    uint32_t *n_bins;   //  per feature, owned
    double **lo, **hi;  //  per feature: smallest / largest value of each bin, owned
} forest_codes_t;

//  Codes X (n x p). Returns 0 or MLOPS_ENOMEM (out freed).
int forest_codes_fit(const double *X, size_t n, size_t p, int max_bins, forest_codes_t *out);

//  Frees; safe on a zeroed struct.
void forest_codes_free(forest_codes_t *c);

//  The threshold between bin b and the next present bin nb of feature f:
//  half-way between their values, as the binary forest places it.
double forest_codes_threshold(const forest_codes_t *c, size_t f, uint32_t b, uint32_t nb);

//  Runs fn(arg) on n_threads threads, this one included, and waits for
//  them; a thread that cannot start leaves its share to the others.
void forest_run_threads(int n_threads, void *(*fn)(void *), void *arg);

//  Appends a zeroed leaf to a growable node array. Returns 0, or -1 when
//  out of memory.
struct forest_node_s;
int forest_nodes_push(struct forest_node_s **nodes, size_t *n, size_t *cap);

#endif
