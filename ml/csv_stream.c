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
    uint64_t missing_at;  //  spill offset of the missing bitmap
    uint64_t cells_at;    //  spill offset of the values or codes
    uint8_t *missing;     //  second pass: flags of the buffered rows
    uint8_t *cells;       //  second pass: the buffered rows' encoded cells
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
    size_t buf_rows;      //  second pass: rows buffered per flush (a multiple of 8)
    size_t in_buf;        //  rows in the buffer
    size_t flushed;       //  rows written to the spill file
    uint8_t *bits;        //  buf_rows / 8 bytes: one column's bitmap being flushed
    int spill;            //  spill file descriptor
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
    size_t i = st->in_buf;
    bool missing = len == 0;
    col->missing[i] = missing;
    if (col->kind == TABLE_NUMBER) {
        double v = 0;
        if (!missing && !csv_parse_number(s, len, &v))
            return mlops_err_set(st->err, MLOPS_EINVAL, "line %zu: the file changed while "
                                 "read (a number column holds a string now)", st->line);
        table_stream_number(col->cells + 8 * i, v, missing);
        return 0;
    }
    uint32_t code = 0;
    int rc = missing ? 0 : dict_intern(col->dict, s, len, &code);
    if (rc == MLOPS_ETOOBIG)
        return mlops_err_set(st->err, rc, "line %zu, column %s: too many distinct values",
                             st->line, col->name);
    if (rc)
        return mlops_err_set(st->err, rc, "out of memory");
    table_stream_code(col->cells + 4 * i, code, missing);
    return 0;
}

/* --- the spill file -------------------------------------------------------- */

static int s_pwrite(int fd, const void *data, size_t len, uint64_t at, mlops_err_t *err)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mlops_err_set(err, errno, "spill file: %s", strerror(errno));
        p += n, len -= (size_t)n, at += (uint64_t)n;
    }
    return 0;
}

//  Writes the buffered rows into each column's regions; flushed stays a
//  multiple of 8 until the last flush, so bitmaps start on a byte.
static int s_flush(s_stream_t *st)
{
    uint8_t *bits = st->bits;
    size_t k = st->in_buf;
    for (size_t c = 0; c < st->n_cols && k > 0; c++) {
        s_col_t *col = &st->cols[c];
        size_t width = col->kind == TABLE_NUMBER ? 8 : 4;
        memset(bits, 0, (k + 7) / 8);
        for (size_t i = 0; i < k; i++)
            bits[i >> 3] |= (uint8_t)(col->missing[i] << (i & 7));
        int rc = s_pwrite(st->spill, bits, (k + 7) / 8, col->missing_at + st->flushed / 8, st->err);
        if (rc == 0)
            rc = s_pwrite(st->spill, col->cells, width * k, col->cells_at + width * st->flushed,
                          st->err);
        if (rc)
            return rc;
    }
    st->flushed += k;
    st->in_buf = 0;
    return 0;
}

//  After the first pass: each column's kind, regions and row buffer.
static int s_plan(s_stream_t *st)
{
    size_t n = st->first_rows;
    size_t per_row = 0;
    uint64_t at = 0;
    for (size_t c = 0; c < st->n_cols; c++) {
        s_col_t *col = &st->cols[c];
        size_t levels = col->dict ? dict_size(col->dict) : SIZE_MAX;
        bool few = !col->many && levels <= CSV_CATEGORY_MAX_LEVELS && 2 * levels <= col->present;
        col->kind = !col->string ? TABLE_NUMBER : few ? TABLE_CATEGORY : TABLE_TEXT;
        dict_destroy(&col->dict);
        if (col->kind != TABLE_NUMBER && !(col->dict = dict_new(64)))
            return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
        col->missing_at = at;
        at += (n + 7) / 8;
        col->cells_at = at;
        at += (col->kind == TABLE_NUMBER ? 8 : 4) * (uint64_t)n;
        per_row += 1 + (col->kind == TABLE_NUMBER ? 8 : 4);
    }
    st->buf_rows = CSV_STREAM_ROWS_BYTES / (per_row ? per_row : 1) / 8 * 8;
    if (st->buf_rows < 8)
        st->buf_rows = 8;
    if (!(st->bits = malloc(st->buf_rows / 8)))
        return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    for (size_t c = 0; c < st->n_cols; c++) {
        s_col_t *col = &st->cols[c];
        col->missing = malloc(st->buf_rows);
        col->cells = malloc(st->buf_rows * 8);
        if (!col->missing || !col->cells)
            return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    }
    return 0;
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
    else if (st->n_rows++, st->pass == 2 && ++st->in_buf == st->buf_rows)
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

typedef struct {
    int fd;
    uint8_t *buf;         //  CSV_STREAM_READ_BYTES
    size_t used;
} s_out_t;

static int s_out_flush(s_out_t *out)
{
    size_t done = 0;
    while (done < out->used) {
        ssize_t n = write(out->fd, out->buf + done, out->used - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        done += (size_t)n;
    }
    out->used = 0;
    return 0;
}

static int s_out_write_fn(void *arg, const void *data, size_t len)
{
    s_out_t *out = arg;
    const uint8_t *p = data;
    while (len > 0) {
        if (out->used == CSV_STREAM_READ_BYTES && s_out_flush(out) != 0)
            return errno ? errno : EIO;
        size_t n = CSV_STREAM_READ_BYTES - out->used < len ? CSV_STREAM_READ_BYTES - out->used : len;
        memcpy(out->buf + out->used, p, n);
        out->used += n, p += n, len -= n;
    }
    return 0;
}

//  Copies len bytes of the spill file from at to the output.
static int s_copy(s_stream_t *st, s_out_t *out, uint64_t at, uint64_t len, char *buf)
{
    while (len > 0) {
        size_t want = len < CSV_STREAM_READ_BYTES ? (size_t)len : CSV_STREAM_READ_BYTES;
        ssize_t n = pread(st->spill, buf, want, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mlops_err_set(st->err, n < 0 ? errno : EIO, "spill file: %s",
                                 n < 0 ? strerror(errno) : "short read");
        int rc = s_out_write_fn(out, buf, (size_t)n);
        if (rc)
            return mlops_err_set(st->err, rc, "output: %s", strerror(rc));
        at += (uint64_t)n, len -= (uint64_t)n;
    }
    return 0;
}

//  One column: its head, then its regions of the spill file.
static int s_write_column(s_stream_t *st, s_col_t *col, s_out_t *out, char *buf)
{
    uint64_t n = st->first_rows;
    int rc = table_stream_column(s_out_write_fn, out, col->name, col->kind, n);
    rc = rc ? rc : s_copy(st, out, col->missing_at, (n + 7) / 8, buf);
    if (rc == 0 && col->kind == TABLE_NUMBER) {
        rc = table_stream_values(s_out_write_fn, out, n);
    } else if (rc == 0) {
        size_t n_levels = dict_size(col->dict);
        char **levels = dict_take_levels(col->dict);
        rc = table_stream_levels(s_out_write_fn, out, levels, n_levels, n);
        for (size_t l = 0; l < n_levels; l++)
            free(levels[l]);
        free(levels);
    }
    if (rc && !st->err->code)
        mlops_err_set(st->err, rc, "output: %s", mlops_strerror(rc));
    return rc ? rc : s_copy(st, out, col->cells_at, (col->kind == TABLE_NUMBER ? 8 : 4) * n, buf);
}

static int s_assemble(s_stream_t *st, int out_fd, char *buf)
{
    s_out_t out = {.fd = out_fd, .buf = malloc(CSV_STREAM_READ_BYTES)};
    if (!out.buf)
        return mlops_err_set(st->err, MLOPS_ENOMEM, "out of memory");
    int rc = table_stream_head(s_out_write_fn, &out, st->first_rows, st->n_cols);
    if (rc)
        mlops_err_set(st->err, rc, "output: %s", mlops_strerror(rc));
    for (size_t c = 0; c < st->n_cols && rc == 0; c++)
        rc = s_write_column(st, &st->cols[c], &out, buf);
    if (rc == 0 && (rc = s_out_flush(&out)) != 0)
        mlops_err_set(st->err, rc, "output: %s", strerror(rc));
    free(out.buf);
    return rc;
}

/* --- the whole ---------------------------------------------------------------- */

static void s_stream_free(s_stream_t *st)
{
    for (size_t c = 0; c < st->n_cols; c++) {
        free(st->cols[c].name);
        dict_destroy(&st->cols[c].dict);
        free(st->cols[c].missing);
        free(st->cols[c].cells);
    }
    free(st->cols);
    free(st->bits);
    dict_destroy(&st->names);
    if (st->spill >= 0)
        close(st->spill);
}

int csv_stream_temp(mlops_err_t *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/mlops-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return mlops_err_set(err, errno, "temporary file in %s: %s", dir && *dir ? dir : "/tmp",
                             strerror(errno)), -1;
    unlink(path);
    return fd;
}

int csv_stream_encode(int in_fd, int out_fd, csv_stream_check_fn *check, void *check_arg,
                      size_t *rows, size_t *cols, mlops_err_t *err)
{
    mlops_err_clear(err);
    s_stream_t st = {.pass = 1, .err = err, .spill = -1, .names = dict_new(64)};
    char *buf = malloc(CSV_STREAM_READ_BYTES);
    if (!buf || !st.names)
        st.rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (!st.rc && s_pass(&st, in_fd, buf, check, check_arg) == 0 && st.n_rows == 0)
        st.rc = mlops_err_set(err, MLOPS_ECSV, "header only: no data rows");
    st.first_rows = st.n_rows;
    if (!st.rc && (st.spill = csv_stream_temp(err)) < 0)
        st.rc = err->code;
    if (!st.rc && s_plan(&st) == 0 && (st.pass = 2, s_pass(&st, in_fd, buf, check, check_arg)) == 0
        && st.n_rows != st.first_rows)
        st.rc = mlops_err_set(err, MLOPS_EINVAL, "the file changed while read (fewer rows than "
                              "at first)");
    if (!st.rc && s_flush(&st) == 0)
        s_assemble(&st, out_fd, buf);
    int rc = st.rc ? st.rc : err->code;
    if (rc == 0)
        *rows = st.first_rows, *cols = st.n_cols;
    s_stream_free(&st);
    free(buf);
    return rc;
}
