/*  csv_internal.h: what csv_load.c and csv_stream.c share, so the two
    loaders give the same messages for the same faults. Implemented in
    csv_load.c; not for use outside these two files. */
#ifndef MLOPS_CSV_INTERNAL_H
#define MLOPS_CSV_INTERNAL_H

#include <stddef.h>

#include <csv.h>

#include "dict.h"
#include "err.h"

#define CSV_CATEGORY_MAX_LEVELS 32   //  more distinct strings make TEXT

//  Line breaks in len bytes at s.
size_t csv_count_newlines(const char *s, size_t len);

//  Checks header name c (0-based) of len bytes and adds it to names:
//  0, or MLOPS_ETOOBIG / MLOPS_ECSV (empty, duplicate) / MLOPS_ENOMEM.
int csv_header_name(dict_t *names, size_t c, const char *s, size_t len, mlops_err_t *err);

//  MLOPS_ECSV "line N: a quoted field is not closed ..." when the parser
//  ended inside a quoted field, else 0. line: the line being fed;
//  row_newlines: line breaks inside the current row; last: the input's
//  last byte.
int csv_check_closed(const struct csv_parser *p, size_t line, size_t row_newlines, char last,
                     mlops_err_t *err);

//  The message of a row of the wrong width (MLOPS_ECSV).
int csv_ragged(size_t first_line, size_t fields, size_t n_cols, mlops_err_t *err);

#endif
