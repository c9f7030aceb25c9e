/*  keygen.c: `mlops keygen`, writes a CURVE key pair (see common/curve.h)
    and, with --role, grants it roles: its public certificate copied into
    the server's clients dir, one subdirectory per role (README, Security). */
#include "cli.h"
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ROLES_MAX 16   //  --role given at most this often

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: mlops keygen [--dir DIR] [--role ROLE]... [--clients DIR] NAME\n"
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
            "--role ROLE copies NAME.cert into CLIENTS/ROLE/ (--clients, default\n"
            "./allowed; repeat --role for more), e.g.\n"
            "  mlops keygen --dir keys --role train worker1   # allowed/train/worker1.cert\n"
            "With no role subdirectory every allowed key has every role.\n");
}

//  0 when role is one of CURVE_ROLES, else MLOPS_EINVAL naming them.
static int s_check_role(const char *role, mlops_err_t *err)
{
    static const char *const roles[] = {CURVE_ROLES};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(role, roles[i]) == 0)
            return 0;
    return mlops_err_set(err, MLOPS_EINVAL, "--role: '%s' is not a role (extract, preprocess, "
                         "train, evaluate, load_model, infer, gateway, admin, read)", role);
}

//  Copies DIR/NAME.cert to CLIENTS/ROLE/NAME.cert (directories made 0700,
//  the file 0644, an existing one never overwritten). 0 or errno / EINVAL.
static int s_grant(const char *dir, const char *name, const char *clients, const char *role,
                   mlops_err_t *err)
{
    char from[4096], sub[4096], to[4096 + 256];
    snprintf(from, sizeof from, "%s/%s.cert", dir, name);
    snprintf(sub, sizeof sub, "%s/%s", clients, role);
    snprintf(to, sizeof to, "%s/%s.cert", sub, name);
    if ((mkdir(clients, 0700) != 0 && errno != EEXIST) || (mkdir(sub, 0700) != 0 && errno != EEXIST))
        return mlops_err_set(err, errno, "cannot create %s: %s", sub, strerror(errno));
    FILE *in = fopen(from, "rb");
    int fd = in ? open(to, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
    int rc = !in || fd < 0 ? errno : 0;
    char buf[4096];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (write(fd, buf, n) != (ssize_t)n)
            rc = errno ? errno : EIO;
    if (in)
        fclose(in);
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = errno;
    if (rc == EEXIST)
        return mlops_err_set(err, MLOPS_EINVAL, "%s exists: refusing to overwrite it", to);
    return rc ? mlops_err_set(err, rc, "cannot copy %s to %s: %s", from, to, strerror(rc)) : 0;
}

int cli_keygen(int argc, char **argv)
{
    const char *dir = "keys", *name = NULL, *clients = "allowed", *roles[S_ROLES_MAX];
    size_t n_roles = 0;
    mlops_err_t err = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--clients") && i + 1 < argc) {
            clients = argv[++i];
        } else if (!strcmp(argv[i], "--role") && i + 1 < argc && n_roles < S_ROLES_MAX) {
            if (s_check_role(argv[++i], &err)) {
                fprintf(stderr, "mlops keygen: %s\n", err.msg);
                return 2;
            }
            roles[n_roles++] = argv[i];
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
    int rc = curve_keygen(dir, name, &err);
    if (rc == 0)
        printf("wrote %s/%s.cert (public) and %s/%s.cert_secret (secret)\n", dir, name, dir, name);
    for (size_t i = 0; rc == 0 && i < n_roles; i++)
        if ((rc = s_grant(dir, name, clients, roles[i], &err)) == 0)
            printf("granted %s: %s/%s/%s.cert\n", roles[i], clients, roles[i], name);
    if (rc) {
        fprintf(stderr, "mlops keygen: %s\n", mlops_err_text(&err, rc));
        return 1;
    }
    return 0;
}
