/*  csv_stream.h: a CSV file of any size to the canonical table encoding
    (PROTOCOL.md section 10), in memory bounded by a chunk, not the file.

    The same rules as csv_load.h (kinds, missing cells, errors with their
    line), and the same bytes: the encoding written equals table_encode of
    csv_load_file's table, so the dataset version (its sha256) does not
    depend on which loader read the file.

    Two passes over the file, read in chunks of CSV_STREAM_READ_BYTES:
    the first checks every row and decides each column's kind (a string
    column keeps at most 33 distinct values then); the second puts the
    cells, a few thousand rows at a time, into a spill (table_spill.h),
    which writes the column-major encoding out at the end.

    Caveats:
    - A text column's distinct strings are held in memory in the second
      pass (its levels precede its codes in the encoding): a column of
      unique strings costs its own size. Everything else is bounded.
    - Disk: the spill file and the output are each about the size of the
      encoding (rows x (8 per number column, 4 per string column)).
    - A file that changes between the passes is refused (MLOPS_EINVAL).
    - The caller's check runs between chunks (SIGTERM, a deadline).
*/
#ifndef MLOPS_CSV_STREAM_H
#define MLOPS_CSV_STREAM_H

#include <stddef.h>

#include "err.h"

#define CSV_STREAM_READ_BYTES (1 << 20)  //  one read of the file
#define CSV_STREAM_ROWS_BYTES (1 << 20)  //  the second pass's row buffer, all columns together

//  Called between chunks: 0 to go on, else an error code (with err) that
//  stops the encoding.
typedef int (csv_stream_check_fn)(void *arg, mlops_err_t *err);

//  Reads the CSV open at in_fd (a regular file, read from offset 0, twice)
//  and writes its table's canonical encoding to out_fd from its current
//  offset; *rows and *cols on success. check may be NULL. Returns 0,
//  MLOPS_ECSV (the line and column as csv_load.h), MLOPS_ETOOBIG (over
//  TABLE_MAX_ROWS / TABLE_MAX_COLS), MLOPS_EINVAL (changed while read),
//  MLOPS_ENOMEM, errno, or check's code; out_fd then holds junk.
int csv_stream_encode(int in_fd, int out_fd, csv_stream_check_fn *check, void *check_arg,
                      size_t *rows, size_t *cols, mlops_err_t *err);

#endif
