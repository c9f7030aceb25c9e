/*  drift.c: `mlops drift`: the broker's drift windows (DRIFT, proto/drift_io.h),
    per watched version the live rows in its window and each input field's
    Jensen-Shannon distance and PSI to the version's training data. */
#include "cli.h"
#include "client.h"
#include "drift_io.h"
#include "mpjson.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_USAGE "drift [--json]"

static void s_print_table(const control_drift_t *d)
{
    if (d->threshold <= 0)
        printf("drift trigger off (mlops-broker --drift-threshold X turns the watch on)\n");
    else
        printf("drift threshold %.2f (Jensen-Shannon), decisions from %" PRIu64 " rows\n",
               d->threshold, d->min_rows);
    for (size_t i = 0; i < d->n_versions; i++) {
        const control_drift_version_t *v = &d->versions[i];
        printf("\nv%" PRIu64 ": %" PRIu64 " live rows in the window%s\n", v->version, v->rows,
               v->measured ? "" : " (too few to decide)");
        printf("  %-24s %6s %8s  %s\n", "FIELD", "JS", "PSI", "DRIFTED");
        for (size_t k = 0; k < v->n_fields; k++) {
            const control_drift_field_t *f = &v->fields[k];
            printf("  %-24.24s %6.3f %8.3f  %s\n", f->name, f->js, f->psi, f->drifted ? "yes" : "");
        }
    }
    if (d->n_versions == 0 && d->threshold > 0)
        printf("(no live rows reported yet)\n");
}

int cli_drift(int argc, char **argv)
{
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, S_USAGE, NULL, NULL, NULL, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    proto_msg_t req = {.cmd = PROTO_DRIFT}, *reply = NULL;
    mlops_err_t err;
    mlops_err_clear(&err);
    rc = client_request(&opts, &req, &reply, &err);
    if (rc) {
        fprintf(stderr, "mlops drift: %s\n", mlops_err_text(&err, rc));
        return 1;
    }
    control_drift_t d;
    rc = control_drift_decode(reply->reply.data, reply->reply.data_len, &d, &err);
    if (rc) {
        fprintf(stderr, "mlops drift: bad answer: %s\n", err.msg);
    } else if (opts.json) {
        char *text = mpjson_from_msgpack(reply->reply.data, reply->reply.data_len, &err);
        rc = text ? 0 : 1;
        if (text)
            puts(text);
        free(text);
    } else {
        s_print_table(&d);
    }
    control_drift_clear(&d);
    proto_msg_destroy(&reply);
    return rc ? 1 : 0;
}
