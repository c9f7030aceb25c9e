/*  fuzz_feedback.c: libFuzzer target for proto/feedback_io.c, the
    decoders of what a gateway sends the broker (FEEDBACK.rows), what the
    broker stores and hands extract (a row, the feedback set), the
    FEEDBACK answer, a record map, and the walk over a PREDICT frame.

    Whatever the bytes: each decoder returns 0 or an error code, never
    reads past the input, and what it accepts holds (an id of 1..64
    bytes, a record that decodes to fields and encodes back to the same
    bytes inside a row). Any other outcome, crash or leak is a finding.
*/
#include "feedback_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_feedback: %s\n", what);
    abort();
}

//  An accepted row: its record decodes, and the row encodes again.
static void s_check_row(const feedback_io_row_t *row)
{
    size_t id = strlen(row->request_id);
    if (id == 0 || id > FEEDBACK_IO_ID_MAX)
        s_fail("a row with an id out of its limits was accepted");
    proto_field_t *fields = NULL;
    size_t n = 0;
    if (feedback_io_record_decode(row->record, row->record_len, &fields, &n, NULL) != 0)
        s_fail("an accepted row's record does not decode");
    free(fields);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (feedback_io_row_encode(row, &bytes, &len) != 0)
        s_fail("an accepted row does not encode");
    feedback_io_row_t back;
    if (feedback_io_row_decode(bytes, len, &back, NULL) != 0 || back.record_len != row->record_len
        || memcmp(back.record, row->record, row->record_len) != 0)
        s_fail("a row does not read back from its encoding");
    free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    feedback_io_row_t *rows = NULL, one;
    size_t n = 0;
    if (feedback_io_rows_decode(data, size, &rows, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++)
            s_check_row(&rows[i]);
    free(rows);
    char target[FEEDBACK_IO_TARGET_MAX + 1];
    if (feedback_io_set_decode(data, size, target, &rows, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++)
            s_check_row(&rows[i]);
    free(rows);
    if (feedback_io_row_decode(data, size, &one, NULL) == 0)
        s_check_row(&one);
    feedback_io_answer_t a;
    feedback_io_answer_decode(data, size, &a, NULL);
    proto_field_t *fields = NULL;
    feedback_io_record_decode(data, size, &fields, &n, NULL);
    free(fields);
    feedback_io_records_t w;
    const uint8_t *rec;
    size_t rec_len;
    if (feedback_io_records_open(&w, data, size) == 0)
        while (feedback_io_records_next(&w, &rec, &rec_len))
            if (rec < data || rec + rec_len > data + size)
                s_fail("the PREDICT walk left the frame");
    return 0;
}
