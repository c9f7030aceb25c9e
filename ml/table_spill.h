/*  table_spill.h: a table of known row count written to the canonical
    encoding (PROTOCOL.md section 10) row chunk by row chunk, in memory
    bounded by the chunk, not the table.

    The encoding is column-major and a string column's levels precede its
    codes, but rows come one after another (a CSV read, a generator). So
    the rows are buffered a chunk at a time (buf_rows rows, all columns),
    each flush puts each column's piece into its region of an unlinked
    spill file (a missing bitmap and the cells, at offsets fixed by the row
    count), and table_spill_write copies the regions out in column order,
    the levels, known only at the end, in between. Used by the streaming
    CSV extract (csv_stream.h) and the synthetic generator (synth.h).

    Caveats:
    - Disk: the spill file and the output are each about the size of the
      encoding (rows x (8 per number column, 4 per string column)).
    - Nothing here checks the canonical rules (levels unique, in order of
      first use, all used): the caller keeps them, as table_stream.h says.
*/
#ifndef MLOPS_TABLE_SPILL_H
#define MLOPS_TABLE_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "table.h"

#define TABLE_SPILL_IO_BYTES (1 << 20)   //  one read or write of the spill and output

typedef struct table_spill table_spill_t;

//  A spill of n_rows rows of n_cols columns of the given kinds, buffering
//  as many rows as fit in about buf_bytes (a multiple of 8, at least 8).
//  NULL with err: MLOPS_ENOMEM, errno (the temporary file).
table_spill_t *table_spill_new(uint64_t n_rows, size_t n_cols, const table_kind_t *kinds,
                               size_t buf_bytes, mlops_err_t *err);

//  Frees; closes the spill file; ignores NULL; sets *p to NULL.
void table_spill_destroy(table_spill_t **p);

//  Rows buffered per flush (a multiple of 8).
size_t table_spill_buf_rows(const table_spill_t *self);

//  Column col's buffer (borrowed, valid until destroy): buf_rows flags
//  (1 = missing), and buf_rows cells of 8 bytes (table_stream_number) or
//  4 bytes (table_stream_code) by the column's kind. Row i of the chunk
//  is index i.
uint8_t *table_spill_missing(table_spill_t *self, size_t col);
uint8_t *table_spill_cells(table_spill_t *self, size_t col);

//  Writes the first k buffered rows (k <= buf_rows; k is buf_rows except
//  for the last flush) after the rows flushed before. Returns 0 or errno
//  with err.
int table_spill_flush(table_spill_t *self, size_t k, mlops_err_t *err);

//  Writes the encoding to out_fd from its current offset: the head, then
//  per column its name, its missing bitmap, and its cells after
//  table_stream_values or table_stream_levels (levels[col] of
//  n_levels[col] strings; NULL and 0 for a number column). Every row must
//  have been flushed. Returns 0 or an error code with err.
int table_spill_write(table_spill_t *self, int out_fd, const char *const *names,
                      char *const *const *levels, const size_t *n_levels, mlops_err_t *err);

//  An unlinked read-write temporary file under $TMPDIR (else /tmp):
//  a descriptor, or -1 with err (errno).
int table_spill_temp(mlops_err_t *err);

#endif
