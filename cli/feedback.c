/*  feedback.c: `mlops feedback`: the counts of the broker's feedback set
    (labelled live rows the gateways forward, proto/feedback_io.h), asked
    with a FEEDBACK of no rows (PROTOCOL.md 5.2), which stores nothing.

    --json prints the REPLY data as the broker sent it (as control.c does),
    so its per-request "stored" and "duplicate" are there too, both 0. */
#include "cli.h"
#include "client.h"
#include "feedback_io.h"
#include "mpjson.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define S_USAGE "feedback [--json]"

static void s_print_table(const feedback_io_answer_t *a)
{
    printf("rows        %" PRIu64 "\n", a->rows);
    printf("bytes       %" PRIu64 " of a cap of %" PRIu64 " (%.1f %%)\n", a->bytes, a->max_bytes,
           a->max_bytes ? 100.0 * (double)a->bytes / (double)a->max_bytes : 0.0);
    printf("stored      %" PRIu64 " rows ever\n", a->stored_total);
    printf("duplicates  %" PRIu64 " rows refused: their request id and index were stored\n",
           a->duplicate_total);
    printf("rotated     %" PRIu64 " rows dropped, oldest first, for the cap\n", a->rotated_total);
}

//  Prints the REPLY data as JSON; returns 0, or 1 with a message.
static int s_print_json(const proto_msg_t *reply, mlops_err_t *err)
{
    char *text = mpjson_from_msgpack(reply->reply.data, reply->reply.data_len, err);
    if (!text) {
        fprintf(stderr, "mlops feedback: answer is not JSON: %s\n", err->msg);
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

int cli_feedback(int argc, char **argv)
{
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, S_USAGE, NULL, NULL, NULL, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    proto_msg_t req = {.cmd = PROTO_FEEDBACK}, *reply = NULL;   //  no rows: only the counts
    mlops_err_t err;
    mlops_err_clear(&err);
    rc = client_request(&opts, &req, &reply, &err);
    if (rc) {
        fprintf(stderr, "mlops feedback: %s\n", mlops_err_text(&err, rc));
        return 1;
    }
    feedback_io_answer_t a;
    rc = feedback_io_answer_decode(reply->reply.data, reply->reply.data_len, &a, &err);
    if (rc)
        fprintf(stderr, "mlops feedback: bad answer: %s\n", err.msg);
    else if (opts.json)
        rc = s_print_json(reply, &err);
    else
        s_print_table(&a);
    proto_msg_destroy(&reply);
    return rc ? 1 : 0;
}
