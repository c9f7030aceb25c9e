/*  control.c: `mlops retrain|status|runs|models|audit|promote|rollback`, the
    commands that talk to a running broker. Each builds one request, prints
    the REPLY as a table (or JSON with --json); `retrain --wait` then follows
    the run on the events socket until it ends.

    --json prints the REPLY data itself, converted by proto/mpjson.h (as the
    gateway's /api does), after the typed decode has checked it: a field the
    broker adds to a record shows up here with no change to this file. */
#include "cli.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "control_io.h"
#include "flags.h"
#include "mpjson.h"
#include "records.h"

#define WAIT_POLL_MSEC 2000     //  while waiting, ask RUNS this often (missed events)

/* --- shared bits --------------------------------------------------------- */

//  A worker's name, or host:pid from a broker older than names (MLOPS/1).
//  The fallback lives in a static buffer: one call per printf.
static const char *s_name(const char *name, const char *host, int64_t pid)
{
    static char fallback[96];
    if (name[0])
        return name;
    snprintf(fallback, sizeof fallback, "%s:%lld", host, (long long)pid);
    return fallback;
}

static char *s_time(int64_t ms, char *out, size_t size)
{
    if (ms <= 0) {
        snprintf(out, size, "-");
        return out;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
    return out;
}

static char *s_span(int64_t from, int64_t to, char *out, size_t size)
{
    if (from <= 0 || to <= 0)
        snprintf(out, size, "-");
    else if (to - from < 10000)
        snprintf(out, size, "%lld ms", (long long)(to - from));
    else
        snprintf(out, size, "%.1f s", (double)(to - from) / 1000.0);
    return out;
}

static int s_request(const client_opts_t *opts, const char *what, const proto_msg_t *req,
                     proto_msg_t **reply)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    int rc = client_request(opts, req, reply, &err);
    if (rc)
        fprintf(stderr, "mlops %s: %s\n", what, mlops_err_text(&err, rc));
    return rc;
}

static void s_print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        puts(text);
    free(text);
    json_decref(j);
}

//  The REPLY data as JSON (NULL with a message on stderr when it is not
//  JSON-able, which a decoded answer always is).
static json_t *s_data_json(const proto_msg_t *reply, const char *what)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    char *text = mpjson_from_msgpack(reply->reply.data, reply->reply.data_len, &err);
    json_error_t jerr;
    json_t *j = text ? json_loads(text, 0, &jerr) : NULL;
    if (!j)
        fprintf(stderr, "mlops %s: answer is not JSON: %s\n", what, text ? jerr.text : err.msg);
    free(text);
    return j;
}

//  Prints the REPLY data as JSON; returns 0, or 1 when it could not.
static int s_print_data(const proto_msg_t *reply, const char *what)
{
    json_t *j = s_data_json(reply, what);
    if (!j)
        return 1;
    s_print_json(j);
    return 0;
}

/* --- retrain ------------------------------------------------------------- */

//  When each task of the followed run last started, to print its time.
typedef struct {
    char task_id[48];
    int64_t started_ms;
} s_started_t;

#define WAIT_TASKS_MAX 64

//  One line per task event: start, end with elapsed time, retry, failure.
static void s_show_task(const proto_msg_t *ev, int64_t t0, s_started_t *started, size_t *n_started)
{
    const char *msg = ev->event.message;
    const char *colon = strstr(msg, ": ");
    int id_len = colon ? (int)(colon - msg) : (int)strlen(msg);
    const char *detail = colon ? colon + 2 : "";
    const char *state = ev->event.state;
    double at = (double)(ev->event.ts_ms - t0) / 1000.0;
    size_t k = 0;
    while (k < *n_started && (strncmp(started[k].task_id, msg, (size_t)id_len) != 0 ||
                              started[k].task_id[id_len] != '\0'))
        k++;
    if (strcmp(state, "running") == 0 && k < *n_started) {   //  load_model waiting for infer workers
        printf("%7.3fs  %-24.*s %s\n", at, id_len, msg, detail);
    } else if (strcmp(state, "running") == 0) {
        if (k == *n_started && k < WAIT_TASKS_MAX && id_len < 48) {
            snprintf(started[k].task_id, sizeof started[k].task_id, "%.*s", id_len, msg);
            (*n_started)++;
        }
        if (k < *n_started)
            started[k].started_ms = ev->event.ts_ms;
        printf("%7.3fs  %-24.*s started on %s\n", at, id_len, msg, detail);
    } else if (strcmp(state, "done") == 0 && k < *n_started)
        printf("%7.3fs  %-24.*s done in %lld ms\n", at, id_len, msg,
               (long long)(ev->event.ts_ms - started[k].started_ms));
    else if (strcmp(state, "done") == 0)
        printf("%7.3fs  %-24.*s done\n", at, id_len, msg);
    else if (strcmp(state, "pending") == 0)
        printf("%7.3fs  %-24.*s will retry: %s\n", at, id_len, msg, detail);
    else
        printf("%7.3fs  %-24.*s %s: %s\n", at, id_len, msg, state, detail);
    fflush(stdout);
}

//  A progress event: "TASK: DONE/TOTAL UNIT (P%, about N s left)", as the
//  broker wrote it (it keeps the counts the estimate needs).
static void s_show_progress(const proto_msg_t *ev, int64_t t0)
{
    const char *msg = ev->event.message, *colon = strstr(msg, ": ");
    int id_len = colon ? (int)(colon - msg) : (int)strlen(msg);
    printf("%7.3fs  %-24.*s %s\n", (double)(ev->event.ts_ms - t0) / 1000.0, id_len, msg,
           colon ? colon + 2 : "");
    fflush(stdout);
}

//  Looks the run up with RUNS; returns its state (-1 when not found).
static int s_run_state(const client_opts_t *opts, int64_t run_id, run_t *out)
{
    proto_msg_t req = {.cmd = PROTO_RUNS}, *reply = NULL;
    req.runs.limit = 50;
    mlops_err_t err;
    if (client_request(opts, &req, &reply, &err) != 0)
        return -1;
    control_runs_t runs;
    int state = -1;
    if (control_runs_decode(reply->reply.data, reply->reply.data_len, &runs, &err) == 0) {
        for (size_t i = 0; i < runs.n_runs; i++)
            if ((int64_t)runs.runs[i].id == run_id && run_copy(out, &runs.runs[i]) == 0)
                state = (int)runs.runs[i].state;
        control_runs_clear(&runs);
    }
    proto_msg_destroy(&reply);
    return state;
}

//  Prints each stage's time from the run record (the record is the truth;
//  events are only what we happened to see).
static void s_show_summary(const run_t *run)
{
    char span[32];
    printf("run %" PRIu64 " %s in %s\n", run->id, run_state_name(run->state),
           s_span(run->started_ms, run->ended_ms, span, sizeof span));
    for (size_t i = 0; i < run->n_tasks; i++) {
        const run_task_t *t = &run->tasks[i];
        printf("  %-24s %-8s %10s  attempts %d%s%s\n", t->task_id, task_state_name(t->state),
               s_span(t->started_ms, t->ended_ms, span, sizeof span), t->attempts,
               t->error[0] ? "  last error: " : "", t->error);
    }
}

static int s_wait(const client_opts_t *opts, zsock_t *sub, int64_t run_id)
{
    int64_t t0 = 0, last_poll = zclock_mono();   //  t0: the run's first event
    run_t run = {0};
    int state = -1;
    s_started_t started[WAIT_TASKS_MAX];
    size_t n_started = 0;
    while (!zsys_interrupted) {
        proto_msg_t *ev = client_next_event(sub, 250);
        if (ev && ev->event.run_id == run_id) {
            if (t0 == 0)
                t0 = ev->event.ts_ms;
            if (strcmp(ev->event.kind, "task") == 0)
                s_show_task(ev, t0, started, &n_started);
            else if (strcmp(ev->event.kind, "progress") == 0)
                s_show_progress(ev, t0);
            else if (strcmp(ev->event.kind, "run") == 0 &&
                     (strcmp(ev->event.state, "succeeded") == 0 || strcmp(ev->event.state, "failed") == 0))
                last_poll = 0;   //  ask for the record now
        }
        proto_msg_destroy(&ev);
        if (zclock_mono() - last_poll >= WAIT_POLL_MSEC) {
            last_poll = zclock_mono();
            run_clear(&run);
            state = s_run_state(opts, run_id, &run);
            if (state == RUN_SUCCEEDED || state == RUN_FAILED)
                break;
        }
    }
    if (state != RUN_SUCCEEDED && state != RUN_FAILED) {
        fprintf(stderr, "mlops retrain: interrupted while run %lld was %s\n", (long long)run_id,
                state >= 0 ? run_state_name((run_state_t)state) : "unknown");
        run_clear(&run);
        return 1;
    }
    s_show_summary(&run);
    if (state == RUN_SUCCEEDED)
        printf("%s\n", run.outcome);
    else
        fprintf(stderr, "mlops retrain: run %lld failed: %s\n", (long long)run_id, run.error);
    run_clear(&run);
    return state == RUN_SUCCEEDED ? 0 : 1;
}

int cli_retrain(int argc, char **argv)
{
    static const char *const own[] = {"--source", "--reason", NULL};
    const char *vals[2] = {"", ""};
    client_opts_t opts;
    bool wait = false;
    int rc = client_parse_args(argc, argv, &opts,
                               "retrain [--source CSV|synthetic[:rows[:seed]]|HASH] [--reason TEXT] "
                               "[--wait]",
                               own, vals, &wait, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    //  subscribe before triggering so no event of the run can be missed
    zsock_t *sub = wait ? client_subscribe(&opts) : NULL;
    if (sub)
        zclock_sleep(25);   //  let the subscription reach the broker (slow joiner)
    proto_msg_t req = {.cmd = PROTO_RETRAIN}, *reply = NULL;
    req.retrain.source = vals[0];
    req.retrain.reason = vals[1];
    if (s_request(&opts, "retrain", &req, &reply)) {
        zsock_destroy(&sub);
        return 1;
    }
    control_retrain_t answer;
    mlops_err_t err;
    rc = control_retrain_decode(reply->reply.data, reply->reply.data_len, &answer, &err);
    if (rc)
        fprintf(stderr, "mlops retrain: bad answer: %s\n", err.msg);
    else if (opts.json && !wait)
        rc = s_print_data(reply, "retrain");
    else
        printf("run %lld %s%s\n", (long long)answer.run_id, answer.state,
               answer.coalesced ? " (coalesced into the queued run)" : "");
    proto_msg_destroy(&reply);
    if (rc) {
        zsock_destroy(&sub);
        return 1;
    }
    fflush(stdout);
    rc = wait ? s_wait(&opts, sub, answer.run_id) : 0;
    zsock_destroy(&sub);
    return rc;
}

/* --- status -------------------------------------------------------------- */

int cli_status(int argc, char **argv)
{
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, "status [--json]", NULL, NULL, NULL, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    proto_msg_t req = {.cmd = PROTO_STATUS}, *reply = NULL;
    if (s_request(&opts, "status", &req, &reply))
        return 1;
    control_status_t st;
    mlops_err_t err;
    rc = control_status_decode(reply->reply.data, reply->reply.data_len, &st, &err);
    if (rc) {
        fprintf(stderr, "mlops status: bad answer: %s\n", err.msg);
        proto_msg_destroy(&reply);
        return 1;
    }
    char when[32];
    if (opts.json) {
        //  the data, after the one thing only the CLI knows: which broker it asked
        json_t *data = s_data_json(reply, "status");
        json_t *j = data ? json_pack("{s:s}", "broker", opts.control) : NULL;
        if (j && json_object_update(j, data) == 0)
            s_print_json(j);
        else
            rc = 1, json_decref(j);
        json_decref(data);
    } else {
        printf("broker       %s\n", opts.control);
        printf("active run   %s\n", st.active_run ? (snprintf(when, sizeof when, "%lld", (long long)st.active_run), when) : "none");
        printf("queued run   %s\n", st.queued ? (snprintf(when, sizeof when, "%lld", (long long)st.queued), when) : "none");
        printf("production   %s\n", st.production_version ? (snprintf(when, sizeof when, "v%lld", (long long)st.production_version), when) : "none");
        printf("next run due %s\n", st.next_schedule_ms ? s_time(st.next_schedule_ms, when, sizeof when) : "no schedule");
        printf("\n%-11s %-24s %-20s %8s  %-5s %-24s %s\n", "STAGE", "NAME", "HOST", "PID", "STATE", "TASK",
               "LAST SEEN");
        for (size_t i = 0; i < st.n_workers; i++) {
            const control_worker_t *w = &st.workers[i];
            printf("%-11s %-24s %-20s %8lld  %-5s %-24s %s\n", w->stage, s_name(w->name, w->host, w->pid),
                   w->host, (long long)w->pid, w->state, w->task_id[0] ? w->task_id : "-",
                   s_time(w->last_seen_ms, when, sizeof when));
            if (w->progress[0])
                printf("%-11s progress %s\n", "", w->progress);
        }
        if (st.n_workers == 0)
            printf("(no workers connected)\n");
        printf("\n%-11s %-24s %-20s %8s  %-7s %s\n", "INFERENCE", "NAME", "HOST", "PID", "SERVES", "LAST SEEN");
        for (size_t i = 0; i < st.n_serving; i++) {
            const control_infer_t *w = &st.serving[i];
            char serves[32] = "none";
            if (w->model_version)
                snprintf(serves, sizeof serves, "v%lld", (long long)w->model_version);
            printf("%-11s %-24s %-20s %8lld  %-7s %s\n", "infer", s_name(w->name, w->host, w->pid), w->host,
                   (long long)w->pid, serves, s_time(w->last_seen_ms, when, sizeof when));
        }
        if (st.n_serving == 0)
            printf("(no inference worker reports to the broker)\n");
        if (st.waiting[0])
            printf("\nwaiting      %s\n", st.waiting);
    }
    control_status_clear(&st);
    proto_msg_destroy(&reply);
    return rc;
}

/* --- runs ---------------------------------------------------------------- */

int cli_runs(int argc, char **argv)
{
    static const char *const own[] = {"--limit", "--run", NULL};
    const char *vals[2] = {"20", "0"};
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, "runs [--limit N] [--run ID (its tasks)] [--json]",
                                         own, vals, NULL, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    long long limit, only;
    mlops_err_t err;
    if (flags_report("mlops runs", flags_int("--limit", vals[0], 1, INT32_MAX, &limit, &err), &err)
        || flags_report("mlops runs", flags_int("--run", vals[1], 0, INT64_MAX, &only, &err), &err))
        return 2;
    proto_msg_t req = {.cmd = PROTO_RUNS}, *reply = NULL;
    req.runs.limit = only ? CONTROL_LIST_MAX : limit;
    if (s_request(&opts, "runs", &req, &reply))
        return 1;
    control_runs_t runs;
    rc = control_runs_decode(reply->reply.data, reply->reply.data_len, &runs, &err);
    if (rc) {
        fprintf(stderr, "mlops runs: bad answer: %s\n", err.msg);
        proto_msg_destroy(&reply);
        return 1;
    }
    if (only) {
        size_t i = 0;
        while (i < runs.n_runs && (long long)runs.runs[i].id != only)
            i++;
        rc = i < runs.n_runs ? 0 : 1;
        if (rc)
            fprintf(stderr, "mlops runs: no run %lld\n", only);
        else if (opts.json) {
            //  the i-th run of the data, as the broker sent it
            json_t *data = s_data_json(reply, "runs");
            json_t *run = json_array_get(json_object_get(data, "runs"), i);
            if (run)
                s_print_json(json_incref(run));
            rc = run ? 0 : 1;
            json_decref(data);
        } else
            s_show_summary(&runs.runs[i]);
        control_runs_clear(&runs);
        proto_msg_destroy(&reply);
        return rc;
    }
    if (opts.json) {
        rc = s_print_data(reply, "runs");
    } else {
        printf("%5s  %-9s %-19s %9s %7s  %-24s %s\n", "RUN", "STATE", "CREATED", "TOOK", "VERSION",
               "SOURCE", "OUTCOME");
        for (size_t i = 0; i < runs.n_runs; i++) {
            const run_t *r = &runs.runs[i];
            char when[32], span[32], version[24] = "-";
            if (r->version)
                snprintf(version, sizeof version, "v%" PRIu64, r->version);
            printf("%5" PRIu64 "  %-9s %-19s %9s %7s  %-24.24s %s\n", r->id, run_state_name(r->state),
                   s_time(r->created_ms, when, sizeof when), s_span(r->started_ms, r->ended_ms, span, sizeof span),
                   version, r->source, r->state == RUN_FAILED ? r->error : r->outcome);
        }
        if (runs.n_runs == 0)
            printf("(no runs yet: mlops retrain starts one)\n");
    }
    control_runs_clear(&runs);
    proto_msg_destroy(&reply);
    return rc;
}

/* --- models -------------------------------------------------------------- */

//  The AUC, ACC and F1 columns of `mlops models`, for a binary version;
//  the other task types put their own metrics there, named.
static const char *s_metric_cols(const metrics_t *m, char *buf, size_t size)
{
    if (strcmp(m->task, "multiclass") == 0)
        snprintf(buf, size, "%6s %6.4f %6.4f", "-", m->accuracy, m->macro_f1);
    else if (strcmp(m->task, "regression") == 0)
        snprintf(buf, size, "r2 %.4f rmse %.4g mae %.4g", m->r2, m->rmse, m->mae);
    else
        snprintf(buf, size, "%6.4f %6.4f %6.4f", m->auc, m->accuracy, m->f1);
    return buf;
}

int cli_models(int argc, char **argv)
{
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, "models [--json]", NULL, NULL, NULL, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    proto_msg_t req = {.cmd = PROTO_MODELS}, *reply = NULL;
    if (s_request(&opts, "models", &req, &reply))
        return 1;
    control_models_t models;
    mlops_err_t err;
    rc = control_models_decode(reply->reply.data, reply->reply.data_len, &models, &err);
    if (rc) {
        fprintf(stderr, "mlops models: bad answer: %s\n", err.msg);
        proto_msg_destroy(&reply);
        return 1;
    }
    if (opts.json) {
        rc = s_print_data(reply, "models");
    } else {
        //  multiclass rows: ACC is accuracy, F1 macro F1; regression rows name theirs
        printf("%7s  %-10s %-7s %6s %6s %6s %5s  %-19s %s\n", "VERSION", "STAGE", "FAMILY", "AUC",
               "ACC", "F1", "RUN", "CREATED", "REASON");
        for (size_t i = models.n_versions; i-- > 0;) {
            const version_t *v = &models.versions[i];
            char when[32], name[24];
            snprintf(name, sizeof name, "v%" PRIu64, v->version);
            char cols[64];
            printf("%7s  %-10s %-7s %s %5" PRIu64 "  %-19s %s\n", name, version_stage_name(v->stage),
                   v->family, s_metric_cols(&v->metrics, cols, sizeof cols), v->run_id,
                   s_time(v->created_ms, when, sizeof when), v->reason);
        }
        if (models.n_versions == 0)
            printf("(no versions yet)\n");
    }
    control_models_clear(&models);
    proto_msg_destroy(&reply);
    return rc;
}

/* --- audit --------------------------------------------------------------- */

int cli_audit(int argc, char **argv)
{
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, "audit [--json]", NULL, NULL, NULL, NULL, 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    proto_msg_t req = {.cmd = PROTO_AUDIT}, *reply = NULL;
    if (s_request(&opts, "audit", &req, &reply))
        return 1;
    control_audit_t log;
    mlops_err_t err;
    rc = control_audit_decode(reply->reply.data, reply->reply.data_len, &log, &err);
    if (rc) {
        fprintf(stderr, "mlops audit: bad answer: %s\n", err.msg);
        proto_msg_destroy(&reply);
        return 1;
    }
    if (opts.json) {
        rc = s_print_data(reply, "audit");
    } else {
        printf("%5s  %-19s %-9s %7s %8s  %s\n", "SEQ", "TIME", "ACTION", "VERSION", "PREVIOUS", "REASON");
        for (size_t i = 0; i < log.n_audit; i++) {
            const audit_t *a = &log.audit[i];
            char when[32], version[24], previous[24];
            snprintf(version, sizeof version, "v%" PRIu64, a->version);
            if (a->previous)
                snprintf(previous, sizeof previous, "v%" PRIu64, a->previous);
            else
                snprintf(previous, sizeof previous, "-");
            printf("%5" PRIu64 "  %-19s %-9s %7s %8s  %s\n", a->seq, s_time(a->ts_ms, when, sizeof when),
                   a->action, version, previous, a->reason);
        }
        if (log.n_audit == 0)
            printf("(no registry actions yet)\n");
    }
    control_audit_clear(&log);
    proto_msg_destroy(&reply);
    return rc;
}

/* --- promote / rollback -------------------------------------------------- */

//  Takes a flag without a value out of argv (client_parse_args knows --wait only):
//  true when it was there.
static bool s_take_flag(int *argc, char **argv, const char *flag)
{
    bool found = false;
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], flag) == 0)
            found = true;
        else
            argv[kept++] = argv[i];
    }
    *argc = kept;
    return found;
}

//  What PROMOTE or ROLLBACK did, in one line.
static void s_print_production(const char *cmd, const control_promote_t *a)
{
    if (strcmp(cmd, "promote") == 0 && a->rollout[0])
        printf("%s of v%lld started; production stays v%lld (mlops canary shows it)\n", a->rollout,
               (long long)a->version, (long long)a->previous);
    else if (a->rollout[0])
        printf("ended the %s of v%lld; production stays v%lld\n", a->rollout, (long long)a->previous,
               (long long)a->version);
    else if (a->previous)
        printf("v%lld is in production (was v%lld)\n", (long long)a->version, (long long)a->previous);
    else
        printf("v%lld is in production\n", (long long)a->version);
}

//  PROMOTE's request from VERSION and the flags; 0 or 2 (printed).
static int s_promote_request(const char *version, const char *reason, bool schema_change,
                             const cli_rollout_flags_t *flags, proto_msg_t *req)
{
    const char *text = version[0] == 'v' ? version + 1 : version;
    long long v;
    if (flags_int("VERSION", text, 1, INT64_MAX, &v, NULL)) {
        fprintf(stderr, "mlops promote: VERSION must be a number like 3 or v3, got '%s'\n", version);
        return 2;
    }
    req->promote.version = v;
    req->promote.reason = reason;
    req->promote.schema_change = schema_change;
    return cli_rollout_flags(flags, req);
}

static int s_production(int argc, char **argv, bool promote)
{
    static const char *const own[] = {"--reason", "--canary", "--for", "--requests", NULL};
    const char *vals[4] = {"", NULL, NULL, NULL};
    const char *pos[1] = {NULL};
    client_opts_t opts;
    bool schema_change = promote && s_take_flag(&argc, argv, "--schema-change");
    bool shadow = promote && s_take_flag(&argc, argv, "--shadow");
    int rc = client_parse_args(argc, argv, &opts,
                               promote ? "promote VERSION [--reason TEXT] [--schema-change] [--json]\n"
                                         "        [--shadow | --canary P% [--for DURATION | --requests N]]\n\n"
                                         "--schema-change  promote a version whose input fields "
                                         "differ from production's\n"
                                         "--shadow         send a copy of live requests to VERSION; "
                                         "answers go to no client\n"
                                         "--canary P%      answer P % of requests with VERSION, then "
                                         "promote or roll back on the figures\n"
                                         "--for, --requests  the canary ends after this long, or "
                                         "this many of its requests\n"
                                       : "rollback [--reason TEXT] [--json]\n\n"
                                         "During a canary or shadow it ends that instead; production "
                                         "stays.",
                               own, vals, NULL, pos, promote ? 1 : 0);
    if (rc)
        return rc == 1 ? 0 : 2;
    proto_msg_t req = {.cmd = promote ? PROTO_PROMOTE : PROTO_ROLLBACK}, *reply = NULL;
    cli_rollout_flags_t flags = {.shadow = shadow, .canary = vals[1], .for_ = vals[2], .requests = vals[3]};
    if (promote && (rc = s_promote_request(pos[0], vals[0], schema_change, &flags, &req)) != 0)
        return rc;
    if (!promote && (vals[1] || vals[2] || vals[3])) {
        fprintf(stderr, "mlops rollback: --canary, --for and --requests belong to mlops promote\n");
        return 2;
    }
    if (!promote)
        req.rollback.reason = vals[0];
    if (s_request(&opts, argv[0], &req, &reply))
        return 1;
    control_promote_t answer;
    mlops_err_t err;
    rc = control_promote_decode(reply->reply.data, reply->reply.data_len, &answer, &err);
    if (rc)
        fprintf(stderr, "mlops %s: bad answer: %s\n", argv[0], err.msg);
    else if (opts.json)
        rc = s_print_data(reply, argv[0]);
    else
        s_print_production(argv[0], &answer);
    proto_msg_destroy(&reply);
    return rc ? 1 : 0;
}

int cli_promote(int argc, char **argv)
{
    return s_production(argc, argv, true);
}

int cli_rollback(int argc, char **argv)
{
    return s_production(argc, argv, false);
}

/* --- logs ---------------------------------------------------------------- */

//  Prints one attempt's log under a header line.
static void s_show_log(const control_log_t *l)
{
    printf("== %s attempt %lld on %s ==\n", l->task_id, (long long)l->attempt,
           l->worker[0] ? l->worker : "?");
    if (l->bytes_dropped)
        printf("(%lld bytes of earlier lines not kept)\n", (long long)l->bytes_dropped);
    size_t n = strlen(l->text);
    fputs(l->text, stdout);
    if (n && l->text[n - 1] != '\n')
        putchar('\n');
}

int cli_logs(int argc, char **argv)
{
    const char *pos[2] = {NULL, ""};
    client_opts_t opts;
    int rc = client_parse_args(argc, argv, &opts, "logs RUN [TASK] [--json]", NULL, NULL, NULL, pos, 2);
    if (rc)
        return rc == 1 ? 0 : 2;
    long long run_id;
    if (flags_int("RUN", pos[0], 1, INT64_MAX, &run_id, NULL)) {
        fprintf(stderr, "mlops logs: RUN must be a run id like 7, got '%s'\n", pos[0]);
        return 2;
    }
    proto_msg_t req = {.cmd = PROTO_LOGS, .logs = {.run_id = run_id, .task_id = pos[1]}}, *reply = NULL;
    if (s_request(&opts, "logs", &req, &reply))
        return 1;
    control_logs_t logs;
    mlops_err_t err;
    rc = control_logs_decode(reply->reply.data, reply->reply.data_len, &logs, &err);
    if (rc)
        fprintf(stderr, "mlops logs: bad answer: %s\n", err.msg);
    else if (opts.json)
        rc = s_print_data(reply, "logs");
    else if (logs.n_logs == 0)
        printf("(no log lines kept for run %lld%s%s)\n", run_id, *pos[1] ? " task " : "", pos[1]);
    for (size_t i = 0; rc == 0 && !opts.json && i < logs.n_logs; i++)
        s_show_log(&logs.logs[i]);
    if (rc == 0)
        control_logs_clear(&logs);
    proto_msg_destroy(&reply);
    return rc ? 1 : 0;
}
