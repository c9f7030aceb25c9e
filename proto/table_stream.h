/*  table_stream.h: the canonical table encoding (PROTOCOL.md section 10)
    written piece by piece, for a table too large to build in memory (the
    extract stage streams a CSV of any size through it, ml/csv_stream.h).

    The caller writes, in this order: the head; then per column the column
    head, its missing bitmap (ceil(rows/8) bytes, unused bits 0), and
    either table_stream_values then 8 bytes per row (table_stream_number)
    or table_stream_levels then 4 bytes per row (table_stream_code). The
    bytes equal table_encode's for the same table, so their sha256 is the
    same dataset version (tests/test_csv_stream.c checks it).

    Caveats:
    - Nothing here checks the canonical rules (levels unique, in order of
      first use, all used; missing cells' bytes): the caller keeps them.
*/
#ifndef MLOPS_TABLE_STREAM_H
#define MLOPS_TABLE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "table.h"

//  Writes len bytes somewhere; 0 or an error code (errno, MLOPS_ENOMEM).
typedef int (table_write_fn)(void *arg, const void *data, size_t len);

//  Each returns 0 or the first error of write.
int table_stream_head(table_write_fn *write, void *arg, uint64_t n_rows, size_t n_cols);
int table_stream_column(table_write_fn *write, void *arg, const char *name, table_kind_t kind,
                        uint64_t n_rows);
int table_stream_values(table_write_fn *write, void *arg, uint64_t n_rows);
int table_stream_levels(table_write_fn *write, void *arg, char *const *levels, size_t n_levels,
                        uint64_t n_rows);

//  The 8 bytes of one number cell (a missing one holds TABLE_NAN_BITS).
void table_stream_number(uint8_t out[8], double v, bool missing);

//  The 4 bytes of one string cell (0 for a missing one).
void table_stream_code(uint8_t out[4], uint32_t code, bool missing);

#endif
