/*  extract_feedback.c: see extract_feedback.h. The join builds the new
    table column by column from the base's columns: a number column takes
    a live value that is a number (or a bool) and leaves anything else
    missing; a string column takes a string, and a number as its shortest
    text ("%.17g"); the target column takes the label, which must fit it.
*/
#include "extract_feedback.h"

#include "feedback_io.h"
#include "log.h"
#include "source.h"
#include "stages.h"
#include "table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NUMBER_TEXT 32   //  bytes of a number written as a string cell

bool extract_feedback_wanted(const stage_extract_in_t *in)
{
    source_t s;
    return source_parse(in->source, &s, NULL) == 0 && (s.feedback || strcmp(s.base, in->source) != 0);
}

//  One live row: its fields, decoded once.
typedef struct {
    proto_field_t *fields;       //  malloc'd block (names and strings in it)
    size_t n;
} s_live_t;

//  The value of column name in a live row (the label for the target): a
//  field, or NULL when missing. The label is written into *label.
static const proto_field_t *s_value(const s_live_t *live, const feedback_io_row_t *row, bool target,
                                    const char *name, proto_field_t *label)
{
    if (target) {
        bool text = row->label_kind == FEEDBACK_IO_LABEL_STRING;
        *label = (proto_field_t){name, text ? PROTO_VAL_STR : PROTO_VAL_FLOAT, row->label_number,
                                 row->label_text};
        return label;
    }
    for (size_t i = 0; i < live->n; i++)
        if (strcmp(live->fields[i].name, name) == 0)
            return live->fields[i].kind == PROTO_VAL_NIL ? NULL : &live->fields[i];
    return NULL;
}

//  A number column: the base's values, then the live rows'.
static int s_join_number(table_t *out, const table_col_t *col, size_t base_rows, const s_live_t *live,
                         const feedback_io_row_t *rows, size_t n, bool target, mlops_err_t *err)
{
    double *v = malloc((base_rows + n) * sizeof *v);
    if (!v)
        return mlops_err_set(err, MLOPS_ENOMEM, "extract: out of memory joining the feedback set");
    memcpy(v, col->num, base_rows * sizeof *v);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        proto_field_t label;
        const proto_field_t *f = s_value(&live[i], &rows[i], target, col->name, &label);
        v[base_rows + i] = f && f->kind != PROTO_VAL_STR ? f->num : NAN;
        if (target && (!f || f->kind == PROTO_VAL_STR))
            rc = mlops_err_set(err, MLOPS_ECHECK, "extract: feedback row %zu (request %s): label "
                               "\"%.40s\" is not a number, as column %s is", i, rows[i].request_id,
                               rows[i].label_text, col->name);
    }
    if (rc == 0 && (rc = table_add_number(out, col->name, v, NULL)) != 0)
        mlops_err_set(err, rc, "extract: cannot add column %s", col->name);
    free(v);
    return rc;
}

//  A string column: the base's strings, then the live rows' (numbers as text).
static int s_join_strings(table_t *out, const table_t *base, size_t c, const s_live_t *live,
                          const feedback_io_row_t *rows, size_t n, bool target, mlops_err_t *err)
{
    const table_col_t *col = &base->cols[c];
    const char **v = malloc((base->n_rows + n) * sizeof *v);
    char *numbers = malloc(n * S_NUMBER_TEXT + 1);
    if (!v || !numbers) {
        free(v);
        free(numbers);
        return mlops_err_set(err, MLOPS_ENOMEM, "extract: out of memory joining the feedback set");
    }
    for (size_t r = 0; r < base->n_rows; r++)
        v[r] = table_string(base, c, r);
    for (size_t i = 0; i < n; i++) {
        proto_field_t label;
        const proto_field_t *f = s_value(&live[i], &rows[i], target, col->name, &label);
        char *text = numbers + i * S_NUMBER_TEXT;
        if (f && f->kind != PROTO_VAL_STR)
            snprintf(text, S_NUMBER_TEXT, "%.17g", f->num);
        v[base->n_rows + i] = !f ? NULL : f->kind == PROTO_VAL_STR ? f->str : text;
    }
    int rc = table_add_strings(out, col->name, col->kind, v);
    if (rc)
        mlops_err_set(err, rc, "extract: cannot add column %s", col->name);
    free(v);
    free(numbers);
    return rc;
}

//  base's rows and then the live rows, as a new table.
static table_t *s_join(const table_t *base, const char *target, const feedback_io_row_t *rows,
                       size_t n, mlops_err_t *err)
{
    s_live_t *live = calloc(n ? n : 1, sizeof *live);
    table_t *out = live ? table_new(base->n_rows + n) : NULL;
    int rc = out ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "extract: out of memory joining the feedback set");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = feedback_io_record_decode(rows[i].record, rows[i].record_len, &live[i].fields, &live[i].n, err);
    for (size_t c = 0; c < base->n_cols && rc == 0; c++) {
        const table_col_t *col = &base->cols[c];
        bool is_target = strcmp(col->name, target) == 0;
        rc = col->kind == TABLE_NUMBER ? s_join_number(out, col, base->n_rows, live, rows, n, is_target, err)
                                       : s_join_strings(out, base, c, live, rows, n, is_target, err);
    }
    for (size_t i = 0; live && i < n; i++)
        free(live[i].fields);
    free(live);
    if (rc == 0 && table_find(base, target) < 0)
        rc = mlops_err_set(err, MLOPS_ENOTFOUND, "extract: the source has no column %s for the "
                           "feedback labels (--target)", target);
    if (rc)
        table_destroy(&out);
    return out;
}

//  The base's table (extracted and uploaded as a plain source) into *ref.
static int s_extract_base(void *arg, const char *base, stage_ref_t *ref, mlops_err_t *err)
{
    stage_extract_in_t in = {0};
    snprintf(in.source, sizeof in.source, "%s", base);
    uint8_t *bytes = NULL, *output = NULL;
    size_t len = 0, output_len = 0;
    int rc = stage_extract_in_encode(&in, &bytes, &len);
    if (rc)
        return mlops_err_set(err, rc, "extract: cannot encode the base's input");
    rc = stage_extract_run(arg, bytes, len, &output, &output_len, err);
    free(bytes);
    stage_extract_out_t out;
    mlops_err_t sub;
    if (rc == 0 && (rc = stage_extract_out_decode(output, output_len, &out, &sub)) != 0)
        mlops_err_set(err, rc, "extract: %s", sub.msg);
    if (rc == 0)
        *ref = out.table;
    free(output);
    return rc;
}

//  The joined table of base (named by ref) and the set (named by set_ref), uploaded into *out.
static int s_join_upload(stage_data_t *d, const stage_ref_t *ref, const stage_ref_t *set_ref,
                         stage_ref_t *out, mlops_err_t *err)
{
    uint8_t *set = NULL, *bytes = NULL;
    size_t set_len = 0, len = 0, n = 0;
    feedback_io_row_t *rows = NULL;
    char target[FEEDBACK_IO_TARGET_MAX + 1];
    table_t *base = stage_table_fetch(d, "extract", ref, err), *joined = NULL;
    int rc = base ? stage_fetch(d, "extract", "feedback set", set_ref, &set, &set_len, err) : err->code;
    mlops_err_t sub;
    if (rc == 0 && (rc = feedback_io_set_decode(set, set_len, target, &rows, &n, &sub)) != 0)
        mlops_err_set(err, rc, "extract: the feedback set: %s", sub.msg);
    if (rc == 0)
        joined = s_join(base, target[0] ? target : FEEDBACK_IO_TARGET_DEFAULT, rows, n, err);
    rc = rc ? rc : joined ? table_encode(joined, &bytes, &len) : err->code;
    if (rc == 0) {
        log_info("extract: %zu source rows and %zu feedback rows", base->n_rows, n);
        rc = stage_upload(d, "extract", "table", bytes, len, out, err);
    }
    free(bytes);
    free(rows);
    free(set);
    table_destroy(&joined);
    table_destroy(&base);
    return rc;
}

int extract_feedback_run(void *arg, const stage_extract_in_t *in, uint8_t **output,
                         size_t *output_len, mlops_err_t *err)
{
    source_t s;
    int rc = source_parse(in->source, &s, err);
    if (rc)
        return rc;
    if (s.feedback && !in->dataset.hash[0])
        return mlops_err_set(err, MLOPS_ENOTFOUND, "extract: the broker named no feedback set for "
                             "'%.200s' (a broker older than +feedback?)", in->source);
    stage_extract_out_t out = {0};
    stage_ref_t base;
    rc = s_extract_base(arg, s.base, &base, err);
    if (rc == 0 && s.feedback)
        rc = s_join_upload(arg, &base, &in->dataset, &out.table, err);
    else if (rc == 0)
        out.table = base;
    if (rc == 0 && (rc = stage_extract_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "extract: cannot encode the output");
    return rc;
}
