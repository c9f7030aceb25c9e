/*  csv_load.h: loads a CSV file or buffer into a table, with libcsv.

    RFC 4180 plus what real files carry: quoted fields with commas, quotes and
    newlines, CRLF or LF, a UTF-8 BOM, empty fields as missing. The first row
    is the header. A column whose every present cell parses as a finite number
    is NUMBER; otherwise it is CATEGORY (at most 32 distinct values, each
    seen twice on average) or TEXT. Errors name the line (1-based, counting
    the header as line 1; a row by the line it starts on) and the column: a
    ragged row, a duplicate or empty header name, a number column forced by
    csv_options_t that holds a non-number, a NUL byte, an unclosed quote.
    An empty input and a header without data rows are errors too. The full
    rules are in proto/PROTOCOL.md, "CSV loading".

    Caveats:
    - The whole input is held in memory while loading (csv_load_file reads
      the file first), plus the table: budget about twice the file size.
      ml/csv_stream.h reads a file of any size in bounded memory.
*/
#ifndef MLOPS_CSV_H
#define MLOPS_CSV_H

#include "table.h"

typedef struct {
    size_t max_bytes;            //  refuse larger input (0 = 4 GiB)
    const char *const *numeric;  //  NULL-terminated names forced NUMBER, or NULL
    const char *const *strings;  //  NULL-terminated names forced CATEGORY, or NULL
} csv_options_t;

//  Loads path. opts may be NULL. Returns NULL with err set: errno codes for
//  I/O, MLOPS_ECSV (with line and column), MLOPS_ETOOBIG, MLOPS_ENOMEM.
table_t *csv_load_file(const char *path, const csv_options_t *opts, mlops_err_t *err);

//  Same from memory.
table_t *csv_load_buffer(const char *data, size_t len, const csv_options_t *opts,
                         mlops_err_t *err);

//  Parses a whole field of len bytes (NUL-terminated at s[len]) as a finite
//  double: the one rule for "this cell is a number" (PROTOCOL.md, "CSV
//  loading"). Returns 1 with *out set, or 0.
int csv_parse_number(const char *s, size_t len, double *out);

#endif
