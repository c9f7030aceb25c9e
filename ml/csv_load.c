/*  csv.c: see csv.h. One pass of libcsv over the input, fed one physical
    line at a time so that errors can name the line.

    Every column starts as a number candidate, filling a double array. The
    first present cell that is not a number turns it into a string column
    (codes into a dictionary of levels) from that row on. Rows before that
    point that held numbers have no strings yet: a second pass, run only
    when some column needs it and stopped at the last such row, re-reads
    them. Titanic's text columns turn on their first row, so it loads in
    one pass. Levels are renumbered by first use at the end, as table.h
    promises.
*/
#include "csv_load.h"
#include "csv_internal.h"

#include "dict.h"
#include "log.h"
#include "vec.h"

#include <csv.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_DEFAULT_MAX_BYTES ((size_t)4 << 30) //  4 GiB when opts->max_bytes is 0
#define CSV_FIRST_ROWS 64                       //  initial row capacity per column (doubles)
#define CSV_SAMPLE_CHARS 40                     //  of a bad cell, in messages
#define CSV_FIELD_BEGUN 2                       //  libcsv.c's parser state inside a field

typedef struct {
    char *name;          //  header name, owned
    int forced;          //  0, TABLE_NUMBER or TABLE_CATEGORY from csv_options_t
    size_t flip_row;     //  first row read as a string; SIZE_MAX while a number column
    int any_number;      //  a present number was seen before flip_row
    uint8_t *missing;    //  cap_rows flags
    double *num;         //  cap_rows values while a number column, else NULL
    uint32_t *codes;     //  cap_rows codes once a string column, else NULL
    dict_t *dict;        //  levels once a string column
} s_col_t;

typedef struct {
    s_col_t *cols;        //  n_cols columns
    size_t n_cols;        //  from the header
    size_t cap_cols;      //  columns allocated
    size_t cap_rows;      //  rows allocated in every column
    size_t n_rows;        //  data rows complete
    size_t field;         //  index of the next field of the current row
    size_t row_newlines;  //  line breaks inside quoted fields of the current row
    size_t line;          //  1-based physical line being fed to libcsv
    int header_done;      //  the header row is complete
    int second_pass;      //  re-reading strings of flipped columns
    size_t stop_row;      //  second pass: rows needed
    dict_t *names;        //  header names, for duplicates
    const csv_options_t *opts; //  may be NULL
    mlops_err_t *err;     //  where the first error goes
    int rc;               //  first error, 0 while all is well
} s_load_t;

//  ---------------------------------------------------------------------------
//  Cells

//  Parses a whole field as a finite double. Simple decimals (at most 15
//  digits, no exponent) take a fast exact path: the integer of the digits
//  and the power of ten are both exact doubles, so one division rounds
//  correctly. Anything else goes to strtod; hex, nan and inf are refused.
int csv_parse_number(const char *s, size_t len, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = 0, digits = 0, frac = 0;
    int neg = 0, dot = 0;
    uint64_t mant = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            digits++;
            frac += dot;
        } else if (s[i] == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (i == len && digits > 0 && digits <= 15) {
        double v = (double)mant / pow10[frac];
        *out = neg ? -v : v;
        return 1;
    }
    for (size_t j = 0; j < len; j++)
        if (strchr("xXnNiI", s[j]))
            return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end); //  s is NUL-terminated (CSV_APPEND_NULL)
    if (end != s + len || len == 0 || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

//  Turns col into a string column from row r on.
static int s_flip(s_load_t *ld, s_col_t *col, size_t r)
{
    col->codes = calloc(ld->cap_rows, sizeof *col->codes);
    col->dict = dict_new(64);
    if (!col->codes || !col->dict)
        return mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
    col->flip_row = r;
    free(col->num);
    col->num = NULL;
    return 0;
}

static int s_cell(s_load_t *ld, s_col_t *col, const char *s, size_t len)
{
    size_t r = ld->n_rows;
    if (len == 0) {
        col->missing[r] = 1;
        if (col->num)
            col->num[r] = NAN;
        return 0;
    }
    if (col->num) {
        if (csv_parse_number(s, len, &col->num[r])) {
            col->any_number = 1;
            return 0;
        }
        if (col->forced == TABLE_NUMBER) {
            char sample[CSV_SAMPLE_CHARS];
            log_sanitize(s, len, sample, sizeof sample);
            return mlops_err_set(ld->err, MLOPS_ECSV, "line %zu, column %s: '%s' is not a number",
                                 ld->line, col->name, sample);
        }
        int rc = s_flip(ld, col, r);
        if (rc != 0)
            return rc;
    }
    int rc = dict_intern(col->dict, s, len, &col->codes[r]);
    if (rc == MLOPS_ETOOBIG)
        return mlops_err_set(ld->err, rc, "line %zu, column %s: too many distinct values",
                             ld->line, col->name);
    return rc ? mlops_err_set(ld->err, rc, "out of memory") : 0;
}

//  ---------------------------------------------------------------------------
//  Header

//  Returns 1 when name is in the NULL-terminated list.
static int s_listed(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return 1;
    return 0;
}

int csv_header_name(dict_t *names, size_t c, const char *s, size_t len, mlops_err_t *err)
{
    if (c >= TABLE_MAX_COLS)
        return mlops_err_set(err, MLOPS_ETOOBIG, "line 1: more than %d columns", TABLE_MAX_COLS);
    if (len == 0)
        return mlops_err_set(err, MLOPS_ECSV, "line 1: column %zu has an empty name", c + 1);
    uint32_t code;
    int rc = dict_intern(names, s, len, &code);
    if (rc != 0)
        return mlops_err_set(err, rc, "out of memory");
    if (code != c) {
        char sample[CSV_SAMPLE_CHARS];
        log_sanitize(s, len, sample, sizeof sample);
        return mlops_err_set(err, MLOPS_ECSV,
                             "line 1: duplicate column name '%s' (columns %u and %zu)", sample,
                             code + 1, c + 1);
    }
    return 0;
}

static int s_header_field(s_load_t *ld, const char *s, size_t len)
{
    size_t c = ld->n_cols;
    int rc = csv_header_name(ld->names, c, s, len, ld->err);
    if (rc)
        return rc;
    if (vec_reserve_(&ld->cols, &ld->cap_cols, c, 1, sizeof *ld->cols))
        return mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
    s_col_t *col = &ld->cols[c];
    memset(col, 0, sizeof *col);
    ld->n_cols++;
    col->flip_row = SIZE_MAX;
    col->name = strndup(s, len);
    col->missing = calloc(ld->cap_rows, 1);
    col->num = malloc(ld->cap_rows * sizeof *col->num);
    if (!col->name || !col->missing || !col->num)
        return mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
    if (ld->opts && s_listed(ld->opts->numeric, col->name))
        col->forced = TABLE_NUMBER;
    else if (ld->opts && s_listed(ld->opts->strings, col->name)) {
        col->forced = TABLE_CATEGORY;
        return s_flip(ld, col, 0);
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  libcsv callbacks

//  Makes room for one more row in every column.
static int s_reserve(s_load_t *ld)
{
    if (ld->n_rows < ld->cap_rows)
        return 0;
    if (ld->n_rows >= TABLE_MAX_ROWS)
        return mlops_err_set(ld->err, MLOPS_ETOOBIG, "line %zu: more than %llu rows", ld->line,
                             TABLE_MAX_ROWS);
    size_t cap = 2 * ld->cap_rows;
    for (size_t c = 0; c < ld->n_cols; c++) {
        s_col_t *col = &ld->cols[c];
        uint8_t *missing = realloc(col->missing, cap);
        if (!missing)
            return mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
        col->missing = missing;
        memset(missing + ld->cap_rows, 0, cap - ld->cap_rows);
        if (col->num) {
            double *num = realloc(col->num, cap * sizeof *num);
            if (!num)
                return mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
            col->num = num;
        } else {
            uint32_t *codes = realloc(col->codes, cap * sizeof *codes);
            if (!codes)
                return mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
            col->codes = codes;
            memset(codes + ld->cap_rows, 0, (cap - ld->cap_rows) * sizeof *codes);
        }
    }
    ld->cap_rows = cap;
    return 0;
}

//  Second pass: strings of rows a column read as numbers before it flipped.
static void s_refill_cell(s_load_t *ld, s_col_t *col, const char *s, size_t len)
{
    size_t r = ld->n_rows;
    if (!col->codes || r >= col->flip_row || !col->any_number || len == 0)
        return;
    int rc = dict_intern(col->dict, s, len, &col->codes[r]);
    if (rc != 0)
        ld->rc = mlops_err_set(ld->err, rc, "line %zu, column %s: %s", ld->line, col->name,
                               mlops_strerror(rc));
}

size_t csv_count_newlines(const char *s, size_t len)
{
    size_t n = 0;
    for (const char *p = s; len > 0 && (p = memchr(p, '\n', len - (size_t)(p - s))); p++)
        n++;
    return n;
}

static void s_field_fn(void *data, size_t len, void *arg)
{
    s_load_t *ld = arg;
    const char *s = data ? data : "";
    if (ld->rc)
        return;
    ld->row_newlines += csv_count_newlines(s, len);
    size_t c = ld->field++;
    if (!ld->header_done) {
        if (!ld->second_pass)
            ld->rc = s_header_field(ld, s, len);
    } else if (c < ld->n_cols && ld->second_pass) {
        s_refill_cell(ld, &ld->cols[c], s, len);
    } else if (c < ld->n_cols) {
        if (c == 0)
            ld->rc = s_reserve(ld);
        if (!ld->rc)
            ld->rc = s_cell(ld, &ld->cols[c], s, len);
    }
}

static void s_row_fn(int term, void *arg)
{
    (void)term;
    s_load_t *ld = arg;
    if (ld->rc)
        return;
    size_t first_line = ld->line - ld->row_newlines;
    if (!ld->header_done)
        ld->header_done = 1;
    else if (ld->field != ld->n_cols)
        ld->rc = csv_ragged(first_line, ld->field, ld->n_cols, ld->err);
    else
        ld->n_rows++;
    ld->field = 0;
    ld->row_newlines = 0;
}

int csv_ragged(size_t first_line, size_t fields, size_t n_cols, mlops_err_t *err)
{
    return mlops_err_set(err, MLOPS_ECSV, "line %zu: %zu field%s, expected %zu", first_line,
                         fields, fields == 1 ? "" : "s", n_cols);
}

int csv_check_closed(const struct csv_parser *p, size_t line, size_t row_newlines, char last,
                     mlops_err_t *err)
{
    //  libcsv's own check (CSV_STRICT_FINI) works only in strict mode, which
    //  would also refuse stray quotes inside fields that real files carry;
    //  so look at the parser's public state: inside a quoted field
    //  (libcsv's FIELD_BEGUN) at the end of the input.
    if (!p->quoted || p->pstate != CSV_FIELD_BEGUN)
        return 0;
    //  The open field's line breaks moved us down, except a last one
    //  that ends the input (line does not count past it).
    size_t open_newlines = csv_count_newlines((const char *)p->entry_buf, p->entry_pos);
    if (open_newlines > 0 && last == '\n')
        open_newlines--;
    return mlops_err_set(err, MLOPS_ECSV,
                         "line %zu: a quoted field is not closed at the end of the input",
                         line - row_newlines - open_newlines);
}

//  ---------------------------------------------------------------------------
//  The passes

//  Feeds data to libcsv line by line until the end, an error or (second
//  pass) the last row needed.
static int s_pass(s_load_t *ld, const char *data, size_t len)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL) != 0)
        return mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
    size_t off = 0;
    ld->line = 1;
    while (off < len && !ld->rc && !(ld->second_pass && ld->n_rows >= ld->stop_row)) {
        const char *nl = memchr(data + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
        if (csv_parse(&p, data + off, n, s_field_fn, s_row_fn, ld) != n && !ld->rc)
            ld->rc = mlops_err_set(ld->err, MLOPS_ENOMEM, "line %zu: %s", ld->line,
                                   csv_strerror(csv_error(&p)));
        off += n;
        if (nl && off < len)
            ld->line++;
    }
    //  the second pass stops at the last row it needs, maybe inside the
    //  next row or a quoted field of it: the first pass checked the whole
    //  input already, and finishing the cut row would misread it
    if (!ld->rc && !ld->second_pass && len > 0)
        ld->rc = csv_check_closed(&p, ld->line, ld->row_newlines, data[len - 1], ld->err);
    if (!ld->rc && !ld->second_pass && csv_fini(&p, s_field_fn, s_row_fn, ld) != 0 && !ld->rc)
        ld->rc = mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
    csv_free(&p);
    return ld->rc;
}

//  Renumbers col's codes so levels come in order of first use.
static int s_renumber(s_col_t *col, size_t n_rows, table_col_t *out)
{
    size_t n = dict_size(col->dict);
    char **levels = dict_take_levels(col->dict);
    uint32_t *remap = malloc((n ? n : 1) * sizeof *remap);
    char **sorted = calloc(n ? n : 1, sizeof *sorted);
    if (!remap || !sorted) {
        for (size_t l = 0; l < n; l++)
            free(levels[l]);
        free(levels);
        free(remap);
        free(sorted);
        return MLOPS_ENOMEM;
    }
    for (size_t l = 0; l < n; l++)
        remap[l] = UINT32_MAX;
    uint32_t next = 0;
    for (size_t r = 0; r < n_rows; r++) {
        if (col->missing[r])
            continue;
        uint32_t *m = &remap[col->codes[r]];
        if (*m == UINT32_MAX) {
            *m = next++;
            sorted[*m] = levels[col->codes[r]];
        }
        col->codes[r] = *m;
    }
    assert(next == n);
    free(levels);
    free(remap);
    out->levels = sorted;
    out->n_levels = n;
    return 0;
}

//  Moves the loaded columns into a table.
static table_t *s_build(s_load_t *ld)
{
    table_t *t = table_new(ld->n_rows);
    if (!t) {
        mlops_err_set(ld->err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t c = 0; c < ld->n_cols; c++) {
        s_col_t *col = &ld->cols[c];
        table_col_t out = {.name = col->name, .missing = col->missing, .num = col->num,
                           .codes = col->codes, .kind = TABLE_NUMBER};
        int rc = 0;
        if (col->codes) {
            rc = s_renumber(col, ld->n_rows, &out);
            size_t present = 0;
            for (size_t r = 0; r < ld->n_rows; r++)
                present += !col->missing[r];
            int few = out.n_levels <= CSV_CATEGORY_MAX_LEVELS && 2 * out.n_levels <= present;
            out.kind = col->forced == TABLE_CATEGORY || few ? TABLE_CATEGORY : TABLE_TEXT;
        }
        dict_destroy(&col->dict);
        memset(col, 0, sizeof *col); //  the buffers are the table's now (or freed)
        col->flip_row = SIZE_MAX;
        if (rc == 0) {
            rc = table_adopt_column(t, &out);
        } else {
            free(out.name);
            free(out.missing);
            free(out.codes);
        }
        if (rc != 0) {
            mlops_err_set(ld->err, rc, "out of memory");
            table_destroy(&t);
            return NULL;
        }
    }
    return t;
}

static void s_load_free(s_load_t *ld)
{
    for (size_t c = 0; c < ld->n_cols; c++) {
        s_col_t *col = &ld->cols[c];
        free(col->name);
        free(col->missing);
        free(col->num);
        free(col->codes);
        dict_destroy(&col->dict);
    }
    free(ld->cols);
    dict_destroy(&ld->names);
}

//  Refuses inputs that are not a table before parsing: too big, a NUL
//  byte, nothing but a BOM and blank lines.
static int s_precheck(const char *data, size_t len, size_t max_bytes, mlops_err_t *err)
{
    if (len > max_bytes)
        return mlops_err_set(err, MLOPS_ETOOBIG, "CSV is %zu bytes, limit %zu", len, max_bytes);
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        size_t line = 1;
        for (const char *p = data; (p = memchr(p, '\n', (size_t)(nul - p))); p++)
            line++;
        return mlops_err_set(err, MLOPS_ECSV, "line %zu: NUL byte at byte %zu", line,
                             (size_t)(nul - data));
    }
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", data[i]))
            return 0;
    return mlops_err_set(err, MLOPS_ECSV, "empty CSV: no header line");
}

table_t *csv_load_buffer(const char *data, size_t len, const csv_options_t *opts,
                         mlops_err_t *err)
{
    assert(data || len == 0);
    mlops_err_clear(err);
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
    }
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : CSV_DEFAULT_MAX_BYTES;
    if (s_precheck(data ? data : "", len, max_bytes, err) != 0)
        return NULL;
    s_load_t ld = {.cap_rows = CSV_FIRST_ROWS, .opts = opts, .err = err, .names = dict_new(64)};
    if (!ld.names)
        ld.rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    size_t stop_row = 0;
    if (!ld.rc && s_pass(&ld, data, len) == 0 && ld.n_rows == 0)
        ld.rc = mlops_err_set(err, MLOPS_ECSV, "header only: no data rows");
    for (size_t c = 0; c < ld.n_cols; c++)
        if (ld.cols[c].codes && ld.cols[c].any_number && ld.cols[c].flip_row > stop_row)
            stop_row = ld.cols[c].flip_row;
    if (!ld.rc && stop_row > 0) {
        size_t n_rows = ld.n_rows;
        ld = (s_load_t){.cols = ld.cols, .n_cols = ld.n_cols, .cap_rows = ld.cap_rows,
                        .second_pass = 1, .stop_row = stop_row, .names = ld.names,
                        .opts = opts, .err = err};
        s_pass(&ld, data, len);
        ld.n_rows = n_rows;
    }
    table_t *t = ld.rc ? NULL : s_build(&ld);
    s_load_free(&ld);
    return t;
}

//  Reads the whole file, up to max_bytes + 1 bytes.
static int s_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len,
                      mlops_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mlops_err_set(err, errno, "%s: %s", path, strerror(errno));
    struct stat st;
    size_t cap = 1 << 16, len = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > max_bytes) {
            close(fd);
            return mlops_err_set(err, MLOPS_ETOOBIG, "%s: %lld bytes, limit %zu", path,
                                 (long long)st.st_size, max_bytes);
        }
        cap = (size_t)st.st_size + 1;
    }
    char *buf = malloc(cap);
    int rc = buf ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory", path);
    while (rc == 0) {
        if (len == cap) {
            char *grown = len > max_bytes ? NULL : realloc(buf, 2 * cap);
            if (!grown) {
                rc = len > max_bytes ? mlops_err_set(err, MLOPS_ETOOBIG, "%s: over %zu bytes", path, max_bytes)
                                     : mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = mlops_err_set(err, errno, "%s: %s", path, strerror(errno));
        else if (n == 0)
            break;
        else
            len += (size_t)n;
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

table_t *csv_load_file(const char *path, const csv_options_t *opts, mlops_err_t *err)
{
    assert(path);
    mlops_err_clear(err);
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : CSV_DEFAULT_MAX_BYTES;
    char *buf = NULL;
    size_t len = 0;
    if (s_read_all(path, max_bytes, &buf, &len, err) != 0)
        return NULL;
    table_t *t = csv_load_buffer(buf, len, opts, err);
    free(buf);
    if (!t && err && err->code == MLOPS_ECSV) {
        char msg[MLOPS_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        mlops_err_set(err, MLOPS_ECSV, "%s: %s", path, msg);
    }
    return t;
}
