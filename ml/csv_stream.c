/*  csv_stream.c: see csv_stream.h. libcsv is fed one physical line at a
    time, as in csv_load.c, so that errors name the line; a line cut by a
    chunk boundary is counted once (pending_nl). The messages are
    csv_load.c's word for word (PROTOCOL.md "CSV loading"), except that a
    NUL byte is found while reading, so a malformed row before it is
    reported first.
*/
#include "csv_stream.h"

#include "csv_internal.h"
#include "csv_load.h"
#include "dict.h"
#include "table_spill.h"
#include "table_stream.h"
#include "vec.h"


#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


typedef struct {
    char *name;           //  header name, owned
    bool string;          //  a present cell is not a number
    bool many;            //  first pass: over CSV_CATEGORY_MAX_LEVELS distinct values
    size_t present;       //  present cells
    dict_t *dict;         //  first pass: the distinct values while few; second: the levels
    table_kind_t kind;    //  decided after the first pass
} s_col_t;

typedef struct {
    s_col_t *cols;        //  n_cols columns
    size_t n_cols, cap_cols;
    dict_t *names;        //  header names, for duplicates
    int pass;             //  1 (check and decide kinds) or 2 (fill the spill file)
    size_t n_rows;        //  data rows complete in this pass
    size_t first_rows;    //  the first pass's count
    size_t field;         //  index of the next field of the current row
    size_t row_newlines;  //  line breaks inside quoted fields of the current row
    size_t line;          //  1-based physical line being fed
    bool pending_nl;      //  the last piece fed ended a line
    bool header_done;
    bool content;         //  a byte other than blanks was seen
    size_t raw_newlines;  //  first pass: line breaks read so far, for a NUL's line
    uint64_t offset;      //  bytes read after the BOM
    table_spill_t *spill; //  second pass: the rows, a chunk at a time (table_spill.h)
    size_t in_buf;        //  rows in the spill's buffer
    mlops_err_t *err;
    int rc;               //  first error
} s_stream_t;

/* --- cells ---------------------------------------------------------------- */

static int s_header_field(s_stream_t *st, const char *s, size_t len)
{
    size_t c = st->n_cols;
    int rc = csv_header_name(st->names, c, s, len, st->err);
    if (rc)
        return rc;
    if (vec_reserve_(&st->cols, &st->cap_cols, c, 1, sizeof *st->cols))
        return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    s_col_t *col = &st->cols[st->n_cols++];
    memset(col, 0, sizeof *col);
    col->name = strndup(s, len);
    col->dict = dict_new(64);
    return col->name && col->dict ? 0 : mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
}

//  First pass: is the cell a number, and the distinct values while few.
static int s_scan_cell(s_stream_t *st, s_col_t *col, const char *s, size_t len)
{
    double v;
    if (len == 0)
        return 0;
    col->present++;
    if (!col->string && !csv_parse_number(s, len, &v))
        col->string = true;
    if (col->many)
        return 0;
    uint32_t code;
    if (dict_intern(col->dict, s, len, &code) != 0)
        return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    if (dict_size(col->dict) > CSV_CATEGORY_MAX_LEVELS) {
        col->many = true;
        dict_destroy(&col->dict);
    }
    return 0;
}

//  Second pass: the cell's encoded bytes into the row buffer.
static int s_fill_cell(s_stream_t *st, s_col_t *col, const char *s, size_t len)
{
    size_t i = st->in_buf, c = (size_t)(col - st->cols);
    bool missing = len == 0;
    uint8_t *cells = table_spill_cells(st->spill, c);
    table_spill_missing(st->spill, c)[i] = missing;
    if (col->kind == TABLE_NUMBER) {
        double v = 0;
        if (!missing && !csv_parse_number(s, len, &v))
            return mlops_err_set(st->err, MLOPS_EINVAL, "line %zu: the file changed while "
                                 "read (a number column holds a string now)", st->line);
        table_stream_number(cells + 8 * i, v, missing);
        return 0;
    }
    uint32_t code = 0;
    int rc = missing ? 0 : dict_intern(col->dict, s, len, &code);
    if (rc == MLOPS_ETOOBIG)
        return mlops_err_set(st->err, rc, "line %zu, column %s: too many distinct values",
                             st->line, col->name);
    if (rc)
        return mlops_err_set(st->err, rc, "out of memory");
    table_stream_code(cells + 4 * i, code, missing);
    return 0;
}

/* --- the spill file -------------------------------------------------------- */

//  Writes the buffered rows (table_spill.h).
static int s_flush(s_stream_t *st)
{
    int rc = table_spill_flush(st->spill, st->in_buf, st->err);
    st->in_buf = 0;
    return rc;
}

//  After the first pass: each column's kind and the spill.
static int s_plan(s_stream_t *st)
{
    table_kind_t *kinds = malloc((st->n_cols ? st->n_cols : 1) * sizeof *kinds);
    if (!kinds)
        return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    for (size_t c = 0; c < st->n_cols; c++) {
        s_col_t *col = &st->cols[c];
        size_t levels = col->dict ? dict_size(col->dict) : SIZE_MAX;
        bool few = !col->many && levels <= CSV_CATEGORY_MAX_LEVELS && 2 * levels <= col->present;
        col->kind = !col->string ? TABLE_NUMBER : few ? TABLE_CATEGORY : TABLE_TEXT;
        kinds[c] = col->kind;
        dict_destroy(&col->dict);
        if (col->kind != TABLE_NUMBER && !(col->dict = dict_new(64))) {
            free(kinds);
            return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
        }
    }
    st->spill = table_spill_new(st->first_rows, st->n_cols, kinds, CSV_STREAM_ROWS_BYTES, st->err);
    free(kinds);
    return st->spill ? 0 : st->err->code;
}

/* --- libcsv callbacks ------------------------------------------------------ */

static void s_field_fn(void *data, size_t len, void *arg)
{
    s_stream_t *st = arg;
    const char *s = data ? data : "";
    if (st->rc)
        return;
    st->row_newlines += csv_count_newlines(s, len);
    size_t c = st->field++;
    if (!st->header_done && st->pass == 1)
        st->rc = s_header_field(st, s, len);
    else if (!st->header_done || c >= st->n_cols)
        return;
    else if (st->pass == 1)
        st->rc = s_scan_cell(st, &st->cols[c], s, len);
    else
        st->rc = s_fill_cell(st, &st->cols[c], s, len);
}

static void s_row_fn(int term, void *arg)
{
    (void)term;
    s_stream_t *st = arg;
    if (st->rc)
        return;
    size_t first_line = st->line - st->row_newlines;
    if (!st->header_done)
        st->header_done = true;
    else if (st->field != st->n_cols)
        st->rc = csv_ragged(first_line, st->field, st->n_cols, st->err);
    else if (st->n_rows >= (st->pass == 1 ? TABLE_MAX_ROWS : st->first_rows))
        st->rc = st->pass == 1 ? mlops_err_set(st->err, MLOPS_ETOOBIG, "line %zu: more than %llu "
                                               "rows", st->line, TABLE_MAX_ROWS)
                               : mlops_err_set(st->err, MLOPS_EINVAL, "the file changed while "
                                               "read (more rows than at first)");
    else if (st->n_rows++, st->pass == 2 && ++st->in_buf == table_spill_buf_rows(st->spill))
        st->rc = s_flush(st);
    st->field = 0;
    st->row_newlines = 0;
}

/* --- one pass --------------------------------------------------------------- */

//  Feeds one chunk to libcsv a physical line at a time.
static void s_feed(s_stream_t *st, struct csv_parser *p, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !st->rc) {
        if (st->pending_nl)
            st->line++;
        const char *nl = memchr(data + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
        st->pending_nl = nl != NULL;
        if (csv_parse(p, data + off, n, s_field_fn, s_row_fn, st) != n && !st->rc)
            st->rc = mlops_err_set(st->err, MLOPS_ENOMEM, "line %zu: %s", st->line,
                                   csv_strerror(csv_error(p)));
        off += n;
    }
}

//  First pass: a NUL byte is refused with its line and byte, as csv_load.c;
//  and whether anything but blanks was seen.
static void s_check_bytes(s_stream_t *st, const char *data, size_t len)
{
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        st->rc = mlops_err_set(st->err, MLOPS_ECSV, "line %zu: NUL byte at byte %llu",
                               1 + st->raw_newlines + csv_count_newlines(data, (size_t)(nul - data)),
                               (unsigned long long)(st->offset + (uint64_t)(nul - data)));
        return;
    }
    st->raw_newlines += csv_count_newlines(data, len);
    for (size_t i = 0; i < len && !st->content; i++)
        st->content = !strchr(" \t\r\n", data[i]);
}

static int s_read(int fd, char *buf, size_t cap, size_t *got, mlops_err_t *err)
{
    ssize_t n;
    while ((n = read(fd, buf, cap)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return mlops_err_set(err, errno, "%s", strerror(errno));
    *got = (size_t)n;
    return 0;
}

static int s_pass(s_stream_t *st, int fd, char *buf, csv_stream_check_fn *check, void *arg)
{
    struct csv_parser p;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return st->rc = mlops_err_set(st->err, errno, "%s", strerror(errno));
    if (csv_init(&p, CSV_APPEND_NULL) != 0)
        return st->rc = mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    st->line = 1, st->pending_nl = false, st->header_done = false, st->n_rows = 0;
    st->offset = 0;
    char last = '\0';
    size_t n = 0;
    for (bool first = true; !st->rc; first = false) {
        if ((check && (st->rc = check(arg, st->err))) ||
            (st->rc = s_read(fd, buf, CSV_STREAM_READ_BYTES, &n, st->err)) || n == 0)
            break;
        const char *data = buf;
        if (first && n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
            data += 3, n -= 3;
        if (st->pass == 1)
            s_check_bytes(st, data, n);
        if (!st->rc && n > 0)
            s_feed(st, &p, data, n), last = data[n - 1];
        st->offset += n;
    }
    if (!st->rc && st->pass == 1 && !st->content)
        st->rc = mlops_err_set(st->err, MLOPS_ECSV, "empty CSV: no header line");
    if (!st->rc)
        st->rc = csv_check_closed(&p, st->line, st->row_newlines, last, st->err);
    if (!st->rc && csv_fini(&p, s_field_fn, s_row_fn, st) != 0 && !st->rc)
        st->rc = mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    csv_free(&p);
    return st->rc;
}

/* --- the output ------------------------------------------------------------- */

//  The encoding from the spill, each string column's levels taken from
//  its dict (the spill's caller keeps the names and levels).
static int s_assemble(s_stream_t *st, int out_fd)
{
    size_t n = st->n_cols ? st->n_cols : 1;
    const char **names = calloc(n, sizeof *names);
    char ***levels = calloc(n, sizeof *levels);
    size_t *n_levels = calloc(n, sizeof *n_levels);
    int rc = names && levels && n_levels ? 0 : mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    for (size_t c = 0; c < st->n_cols && rc == 0; c++) {
        names[c] = st->cols[c].name;
        n_levels[c] = st->cols[c].dict ? dict_size(st->cols[c].dict) : 0;
        levels[c] = st->cols[c].dict ? dict_take_levels(st->cols[c].dict) : NULL;
    }
    if (rc == 0)
        rc = table_spill_write(st->spill, out_fd, names, (char *const *const *)levels, n_levels,
                               st->err);
    for (size_t c = 0; levels && c < st->n_cols; c++) {
        for (size_t l = 0; levels[c] && l < n_levels[c]; l++)
            free(levels[c][l]);
        free(levels[c]);
    }
    free(names), free(levels), free(n_levels);
    return rc;
}

/* --- the whole ---------------------------------------------------------------- */

static void s_stream_free(s_stream_t *st)
{
    for (size_t c = 0; c < st->n_cols; c++) {
        free(st->cols[c].name);
        dict_destroy(&st->cols[c].dict);
    }
    free(st->cols);
    dict_destroy(&st->names);
    table_spill_destroy(&st->spill);
}

int csv_stream_encode(int in_fd, int out_fd, csv_stream_check_fn *check, void *check_arg,
                      size_t *rows, size_t *cols, mlops_err_t *err)
{
    mlops_err_clear(err);
    s_stream_t st = {.pass = 1, .err = err, .names = dict_new(64)};
    char *buf = malloc(CSV_STREAM_READ_BYTES);
    if (!buf || !st.names)
        st.rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (!st.rc && s_pass(&st, in_fd, buf, check, check_arg) == 0 && st.n_rows == 0)
        st.rc = mlops_err_set(err, MLOPS_ECSV, "header only: no data rows");
    st.first_rows = st.n_rows;
    if (!st.rc && s_plan(&st) == 0 && (st.pass = 2, s_pass(&st, in_fd, buf, check, check_arg)) == 0
        && st.n_rows != st.first_rows)
        st.rc = mlops_err_set(err, MLOPS_EINVAL, "the file changed while read (fewer rows than "
                              "at first)");
    if (!st.rc && s_flush(&st) == 0)
        s_assemble(&st, out_fd);
    int rc = st.rc ? st.rc : err->code;
    if (rc == 0)
        *rows = st.first_rows, *cols = st.n_cols;
    s_stream_free(&st);
    free(buf);
    return rc;
}
