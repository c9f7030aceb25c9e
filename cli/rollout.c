/*  rollout.c: the CLI's side of canary and shadow rollouts: `mlops canary`
    (the CANARY state, proto/rollout_io.h) and the rollout flags of `mlops
    promote` (--shadow, --canary P%, --for DURATION, --requests N), checked
    here so a bad one is a usage error before anything is sent. */
#include "cli.h"
#include "client.h"
#include "duration.h"
#include "flags.h"
#include "mpjson.h"
#include "rollout_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

#define S_USAGE "canary [--json]"

int cli_rollout_flags(const cli_rollout_flags_t *f, proto_msg_t *req)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    int rc = 0;
    if (f->shadow && f->canary)
        rc = mlops_err_set(&err, MLOPS_EINVAL, "--shadow and --canary exclude each other: a shadow "
                           "answers no client, a canary answers a share of them");
    else if ((f->for_ || f->requests) && !f->canary)
        rc = mlops_err_set(&err, MLOPS_EINVAL, "%s needs --canary P%%", f->for_ ? "--for" : "--requests");
    else if (f->for_ && f->requests)
        rc = mlops_err_set(&err, MLOPS_EINVAL, "--for and --requests exclude each other: one ends the canary");
    if (rc == 0 && f->canary)
        rc = rollout_percent_parse(f->canary, &req->promote.canary_percent, &err);
    if (rc == 0 && f->for_)
        rc = duration_parse(f->for_, &req->promote.canary_for_ms, &err);
    long long n = 0;
    if (rc == 0 && f->requests && (rc = flags_int("--requests", f->requests, 1, INT64_MAX, &n, &err)) == 0)
        req->promote.canary_requests = n;
    req->promote.shadow = f->shadow;
    if (rc)
        fprintf(stderr, "mlops promote: %s\n", err.msg);
    return rc ? 2 : 0;
}

//  "12 (0.8%)": a count and its share of n.
static const char *s_share(int64_t count, int64_t n, char *out, size_t size)
{
    if (n > 0)
        snprintf(out, size, "%lld (%.2g%%)", (long long)count, 100.0 * (double)count / (double)n);
    else
        snprintf(out, size, "%lld", (long long)count);
    return out;
}

//  The canary's period and how far it is: "for 10m (4m left)", "until 500
//  candidate requests (120 so far)", "until ROLLBACK or PROMOTE ends it".
static void s_period(const rollout_state_t *s, char *out, size_t size)
{
    char a[32], b[32];
    int64_t now = zclock_time();
    if (s->ends_ms > 0)
        snprintf(out, size, "for %s (%s left)", duration_format(s->ends_ms - s->started_ms, a, sizeof a),
                 s->ends_ms > now ? duration_format(s->ends_ms - now, b, sizeof b) : "none");
    else if (s->requests_target > 0)
        snprintf(out, size, "until %lld candidate requests (%lld so far)", (long long)s->requests_target,
                 (long long)s->cand_requests);
    else
        snprintf(out, size, "until mlops rollback or mlops promote ends it");
}

static void s_print_table(const rollout_state_t *s)
{
    char period[128], e1[48], e2[48];
    if (s->rollout == ROLLOUT_NONE) {
        printf("no rollout; production v%lld\n", (long long)s->production);
    } else {
        if (s->rollout == ROLLOUT_CANARY) {
            s_period(s, period, sizeof period);
            printf("canary of v%lld at %g%% of requests, %s; production v%lld\n", (long long)s->version,
                   s->percent, period, (long long)s->production);
        } else {
            printf("shadow of v%lld (its answers go to no client); production v%lld\n",
                   (long long)s->version, (long long)s->production);
        }
        printf("  %-11s %9s %14s %9s\n", "", "REQUESTS", "ERRORS", "P99 ms");
        printf("  %-11s %9lld %14s %9.1f\n", "candidate", (long long)s->cand_requests,
               s_share(s->cand_errors, s->cand_requests, e1, sizeof e1), s->cand_p99_ms);
        printf("  %-11s %9lld %14s %9.1f\n", "production", (long long)s->prod_requests,
               s_share(s->prod_errors, s->prod_requests, e2, sizeof e2), s->prod_p99_ms);
        if (s->rollout == ROLLOUT_SHADOW)
            printf("  compared %lld, agreed %s\n", (long long)s->compared,
                   s_share(s->agreed, s->compared, e1, sizeof e1));
    }
    if (s->last[0])
        printf("last: %s\n", s->last);
}

//  --json: the REPLY data as JSON, after the typed decode checked it.
static int s_print_json(const proto_msg_t *reply)
{
    mlops_err_t err;
    char *text = mpjson_from_msgpack(reply->reply.data, reply->reply.data_len, &err);
    if (!text) {
        fprintf(stderr, "mlops canary: %s\n", err.msg);
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

int cli_canary(int argc, char **argv)
{
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, S_USAGE, NULL, NULL, NULL, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    proto_msg_t req = {.cmd = PROTO_CANARY}, *reply = NULL;
    mlops_err_t err;
    mlops_err_clear(&err);
    rc = client_request(&opts, &req, &reply, &err);
    if (rc) {
        fprintf(stderr, "mlops canary: %s\n", mlops_err_text(&err, rc));
        return 1;
    }
    rollout_state_t s;
    rc = rollout_state_decode(reply->reply.data, reply->reply.data_len, &s, &err);
    if (rc)
        fprintf(stderr, "mlops canary: bad answer: %s\n", err.msg);
    else if (opts.json)
        rc = s_print_json(reply);
    else
        s_print_table(&s);
    proto_msg_destroy(&reply);
    return rc ? 1 : 0;
}
