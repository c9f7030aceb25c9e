/*  fuzz_guard.c: libFuzzer target for gateway/guard.c, the HTTP rules on
    header values.

    The input is NUL-separated fields: --allowed-hosts, --allowed-origins,
    method, path, Host, Origin, Content-Type, Authorization (a missing
    field is an absent header; an empty first or second one means the
    default list). Whatever the bytes, guard_new either builds a guard or
    refuses with MLOPS_EINVAL, and guard_check answers 0, 401, 403 or 415
    with a sentence exactly when it refuses; an action it lets through has
    a JSON Content-Type and a Host the guard serves. Any other outcome,
    crash or leak is a finding.
*/
#include "api.h"
#include "guard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FIELDS 8

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_guard: %s\n", what);
    abort();
}

//  Splits the NUL-terminated copy text (len bytes + 1) into up to
//  S_FIELDS fields; the ones past the input stay NULL.
static void s_split(char *text, size_t len, const char *field[S_FIELDS])
{
    memset(field, 0, sizeof(const char *) * S_FIELDS);
    size_t at = 0;
    for (int i = 0; i < S_FIELDS && at <= len; i++) {
        field[i] = text + at;
        at += strlen(text + at) + 1;
    }
}

static void s_check(const guard_t *g, const char *field[S_FIELDS])
{
    guard_request_t r = {field[2] ? field[2] : "GET", field[3] ? field[3] : "/",
                         field[4], field[5], field[6], field[7]};
    const char *why = NULL;
    bool challenge = false;
    int status = guard_check(g, &r, &why, &challenge);
    if (status != 0 && status != 401 && status != 403 && status != 415)
        s_fail("a status guard_check must not give");
    if ((why != NULL) != (status != 0) || challenge != (status == 401))
        s_fail("sentence or challenge does not go with the status");
    bool action = strcmp(r.method, "POST") == 0 && api_call_is_action(api_call_of(r.path));
    if (status == 0 && action && guard_content_type(r.content_type) != 0)
        s_fail("an action went through without a JSON Content-Type");
    if (status == 0 && guard_host(g, r.host) != 0)
        s_fail("a request went through with a Host the guard refuses");
    size_t n;
    const guard_header_t *h = guard_headers(r.content_type, &n);
    if (n < 1 || strcmp(h[0].value, "nosniff") != 0)
        s_fail("an answer without nosniff");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *field[S_FIELDS];
    s_split(text, size, field);
    gateway_config_t cfg;
    gateway_config_defaults(&cfg);
    cfg.allowed_hosts = field[0] && *field[0] ? field[0] : NULL;
    cfg.allowed_origins = field[1] && *field[1] ? field[1] : NULL;
    cfg.admin_token = "admin";
    cfg.read_token = "reader";
    mlops_err_t err = {0};
    guard_t *g = guard_new(&cfg, 8000, &err);
    if (!g && err.code != MLOPS_EINVAL)
        s_fail("guard_new failed with another code than MLOPS_EINVAL");
    if (g)
        s_check(g, field);
    guard_destroy(&g);
    free(text);
    return 0;
}
