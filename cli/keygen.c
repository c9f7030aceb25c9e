/*  keygen.c: `mlops keygen`, writes a CURVE key pair (see common/curve.h). */
#include "cli.h"
#include "curve.h"

#include <stdio.h>
#include <string.h>

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: mlops keygen [--dir DIR] NAME\n"
            "Write a CURVE key pair: DIR/NAME.cert (public, give it to the server's\n"
            "MLOPS_CURVE_CLIENTS_DIR or to clients as MLOPS_CURVE_SERVER_KEY) and\n"
            "DIR/NAME.cert_secret (private, mode 0600). DIR defaults to ./keys.\n"
            "An existing key is never overwritten.\n\n"
            "Roles: the server's clients dir may hold one subdirectory per role; a key\n"
            "then has exactly the roles whose subdirectory holds its NAME.cert:\n"
            "  extract preprocess train evaluate load_model  register as that stage\n"
            "  infer     fetch models (GET_MODEL) and report SERVING\n"
            "  gateway   relay /api (retrain, promote, rollback, reads)\n"
            "  admin     RETRAIN, PROMOTE, ROLLBACK and every read\n"
            "  read      STATUS, RUNS, MODELS, GET_MODEL\n"
            "e.g.  mkdir -p allowed/train && cp keys/worker1.cert allowed/train/\n"
            "With no role subdirectory every allowed key has every role.\n");
}

int cli_keygen(int argc, char **argv)
{
    const char *dir = "keys", *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "mlops keygen: unknown option '%s'\n", argv[i]);
            s_usage(stderr);
            return 2;
        } else if (!name) {
            name = argv[i];
        } else {
            fprintf(stderr, "mlops keygen: one NAME only\n");
            return 2;
        }
    }
    if (!name) {
        s_usage(stderr);
        return 2;
    }
    mlops_err_t err = {0};
    int rc = curve_keygen(dir, name, &err);
    if (rc) {
        fprintf(stderr, "mlops keygen: %s\n", mlops_err_text(&err, rc));
        return 1;
    }
    printf("wrote %s/%s.cert (public) and %s/%s.cert_secret (secret)\n", dir, name, dir, name);
    return 0;
}
