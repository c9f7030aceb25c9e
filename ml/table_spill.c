/*  table_spill.c: see table_spill.h. One spill file, one region pair per
    column; a write buffer for the output. */
#include "table_spill.h"

#include "table_stream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    table_kind_t kind;
    uint64_t missing_at;  //  spill offset of the missing bitmap
    uint64_t cells_at;    //  spill offset of the values or codes
    uint8_t *missing;     //  buf_rows flags
    uint8_t *cells;       //  buf_rows cells
} s_col_t;

struct table_spill {
    s_col_t *cols;        //  n_cols
    size_t n_cols;
    uint64_t n_rows;      //  of the whole table
    size_t buf_rows;      //  rows per flush, a multiple of 8
    uint64_t flushed;     //  rows written so far
    uint8_t *bits;        //  buf_rows / 8: one column's bitmap being flushed
    int fd;               //  the spill file
};

static size_t s_width(table_kind_t kind)
{
    return kind == TABLE_NUMBER ? 8 : 4;
}

int table_spill_temp(mlops_err_t *err)
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

void table_spill_destroy(table_spill_t **p)
{
    if (!p || !*p)
        return;
    table_spill_t *self = *p;
    for (size_t c = 0; self->cols && c < self->n_cols; c++) {
        free(self->cols[c].missing);
        free(self->cols[c].cells);
    }
    free(self->cols);
    free(self->bits);
    if (self->fd >= 0)
        close(self->fd);
    free(self);
    *p = NULL;
}

//  Each column's regions, and the row buffers: 0 or MLOPS_ENOMEM.
static int s_plan(table_spill_t *self, const table_kind_t *kinds, size_t buf_bytes)
{
    uint64_t at = 0;
    size_t per_row = 0;
    for (size_t c = 0; c < self->n_cols; c++) {
        s_col_t *col = &self->cols[c];
        col->kind = kinds[c];
        col->missing_at = at;
        at += (self->n_rows + 7) / 8;
        col->cells_at = at;
        at += s_width(col->kind) * self->n_rows;
        per_row += 1 + s_width(col->kind);
    }
    self->buf_rows = buf_bytes / (per_row ? per_row : 1) / 8 * 8;
    if (self->buf_rows < 8)
        self->buf_rows = 8;
    if (!(self->bits = malloc(self->buf_rows / 8)))
        return MLOPS_ENOMEM;
    for (size_t c = 0; c < self->n_cols; c++) {
        s_col_t *col = &self->cols[c];
        col->missing = malloc(self->buf_rows);
        col->cells = malloc(self->buf_rows * s_width(col->kind));
        if (!col->missing || !col->cells)
            return MLOPS_ENOMEM;
    }
    return 0;
}

table_spill_t *table_spill_new(uint64_t n_rows, size_t n_cols, const table_kind_t *kinds,
                               size_t buf_bytes, mlops_err_t *err)
{
    table_spill_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    self->fd = -1;
    self->n_rows = n_rows;
    self->n_cols = n_cols;
    self->cols = calloc(n_cols ? n_cols : 1, sizeof *self->cols);
    if (!self->cols || s_plan(self, kinds, buf_bytes) != 0) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        table_spill_destroy(&self);
        return NULL;
    }
    if ((self->fd = table_spill_temp(err)) < 0)
        table_spill_destroy(&self);
    return self;
}

size_t table_spill_buf_rows(const table_spill_t *self)
{
    return self->buf_rows;
}

uint8_t *table_spill_missing(table_spill_t *self, size_t col)
{
    return self->cols[col].missing;
}

uint8_t *table_spill_cells(table_spill_t *self, size_t col)
{
    return self->cols[col].cells;
}

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

//  flushed stays a multiple of 8 until the last flush, so bitmaps start
//  on a byte.
int table_spill_flush(table_spill_t *self, size_t k, mlops_err_t *err)
{
    uint8_t *bits = self->bits;
    for (size_t c = 0; c < self->n_cols && k > 0; c++) {
        s_col_t *col = &self->cols[c];
        size_t width = s_width(col->kind);
        memset(bits, 0, (k + 7) / 8);
        for (size_t i = 0; i < k; i++)
            bits[i >> 3] |= (uint8_t)(col->missing[i] << (i & 7));
        int rc = s_pwrite(self->fd, bits, (k + 7) / 8, col->missing_at + self->flushed / 8, err);
        if (rc == 0)
            rc = s_pwrite(self->fd, col->cells, width * k, col->cells_at + width * self->flushed,
                          err);
        if (rc)
            return rc;
    }
    self->flushed += k;
    return 0;
}

/* --- the output ------------------------------------------------------------- */

typedef struct {
    int fd;
    uint8_t *buf;         //  TABLE_SPILL_IO_BYTES
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
        if (out->used == TABLE_SPILL_IO_BYTES && s_out_flush(out) != 0)
            return errno ? errno : EIO;
        size_t n = TABLE_SPILL_IO_BYTES - out->used < len ? TABLE_SPILL_IO_BYTES - out->used : len;
        memcpy(out->buf + out->used, p, n);
        out->used += n, p += n, len -= n;
    }
    return 0;
}

//  Copies len bytes of the spill file from at to the output, through buf.
static int s_copy(table_spill_t *self, s_out_t *out, uint64_t at, uint64_t len, uint8_t *buf,
                  mlops_err_t *err)
{
    while (len > 0) {
        size_t want = len < TABLE_SPILL_IO_BYTES ? (size_t)len : TABLE_SPILL_IO_BYTES;
        ssize_t n = pread(self->fd, buf, want, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mlops_err_set(err, n < 0 ? errno : EIO, "spill file: %s",
                                 n < 0 ? strerror(errno) : "short read");
        int rc = s_out_write_fn(out, buf, (size_t)n);
        if (rc)
            return mlops_err_set(err, rc, "output: %s", strerror(rc));
        at += (uint64_t)n, len -= (uint64_t)n;
    }
    return 0;
}

//  One column: its head, its bitmap, its levels or values head, its cells.
static int s_write_column(table_spill_t *self, size_t c, s_out_t *out, const char *name,
                          char *const *levels, size_t n_levels, uint8_t *buf, mlops_err_t *err)
{
    s_col_t *col = &self->cols[c];
    uint64_t n = self->n_rows;
    int rc = table_stream_column(s_out_write_fn, out, name, col->kind, n);
    if (rc)
        return mlops_err_set(err, rc, "output: %s", mlops_strerror(rc));
    if ((rc = s_copy(self, out, col->missing_at, (n + 7) / 8, buf, err)) != 0)
        return rc;
    rc = col->kind == TABLE_NUMBER ? table_stream_values(s_out_write_fn, out, n)
                                   : table_stream_levels(s_out_write_fn, out, levels, n_levels, n);
    if (rc)
        return mlops_err_set(err, rc, "output: %s", mlops_strerror(rc));
    return s_copy(self, out, col->cells_at, s_width(col->kind) * n, buf, err);
}

int table_spill_write(table_spill_t *self, int out_fd, const char *const *names,
                      char *const *const *levels, const size_t *n_levels, mlops_err_t *err)
{
    s_out_t out = {.fd = out_fd, .buf = malloc(TABLE_SPILL_IO_BYTES)};
    uint8_t *buf = malloc(TABLE_SPILL_IO_BYTES);
    int rc = out.buf && buf ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0 && (rc = table_stream_head(s_out_write_fn, &out, self->n_rows, self->n_cols)))
        mlops_err_set(err, rc, "output: %s", mlops_strerror(rc));
    for (size_t c = 0; c < self->n_cols && rc == 0; c++)
        rc = s_write_column(self, c, &out, names[c], levels ? levels[c] : NULL,
                            n_levels ? n_levels[c] : 0, buf, err);
    if (rc == 0 && (rc = s_out_flush(&out)) != 0)
        mlops_err_set(err, rc, "output: %s", strerror(rc));
    free(out.buf);
    free(buf);
    return rc;
}
