/*  table.h: a columnar table, the unit of data between stages.

    Numbers are doubles with a missing mask; strings are dictionary-encoded
    (a code per row into a list of distinct levels), which serves both
    categorical columns (few levels: Sex, Embarked) and text columns (many:
    Name, Ticket). The kind records what the loader inferred.

    The structs are public on purpose: the ML code walks columns in hot loops
    and an accessor per cell would cost more than it hides. Treat a table you
    did not build as read-only.

    Caveats:
    - A missing cell has missing[row] = 1; for NUMBER columns num[row] is NAN
      there too, for string columns codes[row] is 0 and must not be read.
    - table_hash() hashes the canonical encoding, so two tables with the same
      cells in the same order have the same hash whatever produced them.
    - Levels are kept in order of first use (table_take and table_decode
      renumber them so), so codes of one table mean nothing in another:
      match levels by string (a Sex column of a train split may list
      "female" first and the test split "male" first).
    - A present number is finite: table_add_number treats NAN as missing
      and refuses an infinity that is not masked as missing.
*/
#ifndef MLOPS_TABLE_H
#define MLOPS_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

#define TABLE_MAX_COLS 4096           //  refuse wider inputs
#define TABLE_MAX_ROWS 100000000ULL   //  refuse longer inputs (100 M)
#define TABLE_NAN_BITS 0x7ff8000000000000ULL //  the encoded bytes of a missing number

typedef enum {
    TABLE_NUMBER = 1,   //  every present cell parsed as a finite double
    TABLE_CATEGORY = 2, //  strings with few distinct values
    TABLE_TEXT = 3,     //  strings with many distinct values
} table_kind_t;

typedef struct {
    char *name;          //  column name, owned
    table_kind_t kind;   //  what the values are
    uint8_t *missing;    //  n_rows flags, 1 = empty cell
    double *num;         //  NUMBER: n_rows values (NAN where missing), else NULL
    uint32_t *codes;     //  CATEGORY/TEXT: n_rows indexes into levels, else NULL
    char **levels;       //  CATEGORY/TEXT: distinct strings, owned
    size_t n_levels;     //  number of levels
} table_col_t;

typedef struct {
    size_t n_rows;       //  rows (not counting a header)
    size_t n_cols;       //  columns
    table_col_t *cols;   //  n_cols columns, owned
} table_t;

//  Creates an empty table with n_rows rows and no columns. NULL on ENOMEM or
//  when n_rows > TABLE_MAX_ROWS.
table_t *table_new(size_t n_rows);

//  Frees the table and its columns; ignores NULL; sets *p to NULL.
void table_destroy(table_t **p);

//  Appends a NUMBER column. values may contain NAN for missing (then the
//  mask is derived) and missing may be NULL. Copies everything.
//  Returns 0, MLOPS_ENOMEM, or MLOPS_EINVAL (empty or duplicate name, too
//  many columns, an infinity not masked as missing).
int table_add_number(table_t *self, const char *name, const double *values,
                     const uint8_t *missing);

//  Appends a string column from one C string per row (NULL = missing),
//  dictionary-encoding them. kind is TABLE_CATEGORY or TABLE_TEXT.
//  Returns 0, MLOPS_ENOMEM or MLOPS_EINVAL.
int table_add_strings(table_t *self, const char *name, table_kind_t kind,
                      const char *const *values);

//  Appends col, taking its buffers (name, missing, num or codes + levels),
//  which must be malloc'd and hold n_rows cells; *col is zeroed either way.
//  For builders that fill columns in place (the CSV loader, the synthetic
//  generator) without a copy. Returns 0, MLOPS_ENOMEM, or MLOPS_EINVAL
//  (empty or duplicate name, too many columns, arrays not matching kind)
//  after freeing the buffers.
int table_adopt_column(table_t *self, table_col_t *col);

//  Returns the index of the column called name, or -1.
int table_find(const table_t *self, const char *name);

//  Returns the string of a string cell, or NULL when missing. Borrowed: valid
//  while the table lives.
const char *table_string(const table_t *self, size_t col, size_t row);

//  Returns a new table holding the given rows (in that order; repeats
//  allowed; each < n_rows) of self, string levels renumbered by first use
//  and unused ones dropped. NULL on ENOMEM.
table_t *table_take(const table_t *self, const size_t *rows, size_t n_rows);

//  Encodes the table as msgpack (see proto/PROTOCOL.md, "Tables") into a
//  malloc'd buffer the caller frees. Returns 0 or MLOPS_ENOMEM.
int table_encode(const table_t *self, uint8_t **out, size_t *out_len);

//  Decodes an encoded table. Strict: every size is checked against the input
//  before allocating, and only the canonical encoding is accepted (so
//  decode then encode gives the same bytes). Returns NULL with err set on
//  failure: MLOPS_EPROTO (bad msgpack, wrong type, missing or stray key,
//  wrong bin size, code out of range or order, duplicate level or column),
//  MLOPS_EVERSION (version other than 1), MLOPS_ETOOBIG (rows over
//  TABLE_MAX_ROWS, columns over TABLE_MAX_COLS), MLOPS_ENOMEM.
table_t *table_decode(const uint8_t *data, size_t len, mlops_err_t *err);

//  Bytes of an encoded table's head that always hold its shape.
#define TABLE_HEAD_BYTES 48

//  The shape of an encoded table from its first bytes (at least
//  TABLE_HEAD_BYTES, or the whole table when shorter), without reading
//  the rest: what the broker records of a stored table. Only the canonical
//  head ({"version": 1, "rows": n, "columns": [...]}, shortest ints) is
//  read. Returns 0, MLOPS_EPROTO (not a table's head) or MLOPS_EVERSION.
int table_shape(const uint8_t *head, size_t len, size_t *rows, size_t *cols, mlops_err_t *err);

//  Writes the dataset version: sha256 hex of the canonical encoding.
//  Returns 0 or MLOPS_ENOMEM.
int table_hash(const table_t *self, char hex[HASH_HEX_LEN + 1]);

#endif
