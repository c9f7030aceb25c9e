/*  exporter.c: see exporter.h. The page is rendered with open_memstream by
    the loop; libmicrohttpd's internal thread answers scrapes with a copy.
    The listening socket is bound here, not by libmicrohttpd, so a port in
    use fails with its errno and a message naming the flag. */
#include "exporter.h"
#include "prom.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

//  Bucket bounds in seconds: runs and tasks take milliseconds to an hour.
static const double s_span_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600};
#define S_SPAN_N (sizeof s_span_buckets / sizeof s_span_buckets[0])

static const char *const s_verdicts[] = {"all_serve", "none", "timed_out", "superseded"};
#define S_VERDICTS 4

typedef struct {
    uint64_t le[S_SPAN_N];        //  observations <= each bound (not cumulated yet)
    uint64_t count;               //  all observations
    double sum;                   //  their total, seconds
} s_histogram_t;

struct exporter {
    //  the loop's counters (loop thread only)
    uint64_t dispatched[STAGE_COUNT], failed[STAGE_COUNT], retried[STAGE_COUNT], timed_out[STAGE_COUNT];
    s_histogram_t task_span[STAGE_COUNT];
    uint64_t runs_succeeded, runs_failed, runs_promoted;
    s_histogram_t run_span;
    uint64_t load_waits[S_VERDICTS];
    s_histogram_t load_wait;
    uint64_t stalls;
    uint64_t collected, collected_bytes;  //  store objects removed by collection
    double stall_seconds;
    //  the page (shared with the HTTP thread, under lock)
    pthread_mutex_t lock;
    char *page;                   //  NUL-terminated, owned
    size_t page_len;
    struct MHD_Daemon *httpd;     //  NULL until exporter_serve
    int listen_fd;                //  ours until the daemon is stopped, -1 = none
};

exporter_t *exporter_new(void)
{
    exporter_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->page = strdup("");
    if (!self->page) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    self->listen_fd = -1;
    return self;
}

void exporter_destroy(exporter_t **p)
{
    if (!p || !*p)
        return;
    exporter_t *self = *p;
    if (self->httpd)
        MHD_stop_daemon(self->httpd);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    pthread_mutex_destroy(&self->lock);
    free(self->page);
    free(self);
    *p = NULL;
}

/* --- the HTTP side -------------------------------------------------------- */

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status, const char *type,
                               char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

//  GET /metrics: the last published page; anything else a short 404 / 405.
static enum MHD_Result s_access_fn(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **state)
{
    (void)version, (void)upload;
    exporter_t *self = cls;
    if (*upload_size) {   //  a body we do not read
        *upload_size = 0;
        return MHD_YES;
    }
    (void)state;
    if (strcmp(url, "/metrics") != 0)
        return s_reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found: GET /metrics\n"), 24);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return s_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("GET only\n"), 9);
    char *copy = exporter_page(self);
    if (!copy)
        return MHD_NO;
    return s_reply(conn, MHD_HTTP_OK, S_CONTENT_TYPE, copy, strlen(copy));
}

//  Parses "ADDR:PORT" into addr. Returns 0 or MLOPS_EINVAL with err.
static int s_parse_listen(const char *listen, struct sockaddr_in *addr, mlops_err_t *err)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char host[64];
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host || !end || *end
        || end == colon + 1 || port < 1 || port > 65535)
        return mlops_err_set(err, MLOPS_EINVAL, "--metrics '%s': expected ADDR:PORT (127.0.0.1:9100, *:9100)",
                             listen ? listen : "");
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    addr->sin_addr.s_addr = htonl(INADDR_ANY);
    if (strcmp(host, "*") != 0 && inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return mlops_err_set(err, MLOPS_EINVAL, "--metrics '%s': '%s' is not an IPv4 address or *", listen, host);
    return 0;
}

int exporter_serve(exporter_t *self, const char *spec, mlops_err_t *err)
{
    assert(self && !self->httpd);
    struct sockaddr_in addr;
    int rc = s_parse_listen(spec, &addr, err);
    if (rc)
        return rc;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return mlops_err_set(err, errno, "--metrics %s: cannot listen: %s", spec, strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
        rc = errno;
        close(fd);
        return mlops_err_set(err, rc, "--metrics %s: cannot listen: %s", spec, strerror(rc));
    }
    self->listen_fd = fd;
    self->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
                                   s_access_fn, self, MHD_OPTION_LISTEN_SOCKET, fd,
                                   MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                   MHD_OPTION_END);
    if (!self->httpd)
        return mlops_err_set(err, MLOPS_EINVAL, "--metrics %s: libmicrohttpd would not start", spec);
    self->listen_fd = -1;   //  the daemon closes it when it stops
    return 0;
}

/* --- the loop's side ------------------------------------------------------ */

static void s_observe(s_histogram_t *h, double seconds)
{
    for (size_t i = 0; i < S_SPAN_N; i++)
        if (seconds <= s_span_buckets[i]) {
            h->le[i]++;
            break;
        }
    h->count++;
    h->sum += seconds;
}

void exporter_task_dispatched(exporter_t *self, stage_t stage)
{
    self->dispatched[stage]++;
}

void exporter_task_failed(exporter_t *self, stage_t stage, bool will_retry)
{
    self->failed[stage]++;
    self->retried[stage] += will_retry;
}

void exporter_task_timed_out(exporter_t *self, stage_t stage)
{
    self->timed_out[stage]++;
}

void exporter_task_done(exporter_t *self, stage_t stage, double seconds)
{
    s_observe(&self->task_span[stage], seconds);
}

void exporter_run_ended(exporter_t *self, bool succeeded, bool promoted, double seconds)
{
    if (succeeded)
        self->runs_succeeded++;
    else
        self->runs_failed++;
    self->runs_promoted += promoted;
    s_observe(&self->run_span, seconds);
}

void exporter_load_wait(exporter_t *self, const char *verdict, double seconds)
{
    for (size_t i = 0; i < S_VERDICTS; i++)
        if (strcmp(verdict, s_verdicts[i]) == 0)
            self->load_waits[i]++;
    s_observe(&self->load_wait, seconds);
}

void exporter_objects_collected(exporter_t *self, uint64_t objects, uint64_t bytes)
{
    self->collected += objects;
    self->collected_bytes += bytes;
}

void exporter_stall(exporter_t *self, double seconds)
{
    self->stalls++;
    self->stall_seconds += seconds;
}

/* --- rendering ------------------------------------------------------------ */

//  One counter or gauge line per stage.
static void s_per_stage(FILE *f, const char *name, const uint64_t *v)
{
    for (int s = 0; s < STAGE_COUNT; s++)
        fprintf(f, "%s{stage=\"%s\"} %llu\n", name, stage_name((stage_t)s), (unsigned long long)v[s]);
}

//  A histogram's series; labels is "" or `stage="train",`.
static void s_histogram(FILE *f, const char *name, const char *labels, const s_histogram_t *h)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < S_SPAN_N; i++) {
        cum += h->le[i];
        fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, s_span_buckets[i], (unsigned long long)cum);
    }
    fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)h->count);
    size_t n = strlen(labels);   //  the labels without their trailing comma, in braces
    if (n)
        fprintf(f, "%s_sum{%.*s} %.6f\n%s_count{%.*s} %llu\n", name, (int)n - 1, labels, h->sum, name,
                (int)n - 1, labels, (unsigned long long)h->count);
    else
        fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void s_render_gauges(FILE *f, const exporter_gauges_t *g)
{
    uint64_t v[STAGE_COUNT];
    prom_head(f, "mlops_tasks_queued", "gauge", "Tasks ready to run and waiting for a worker of their stage.");
    for (int s = 0; s < STAGE_COUNT; s++)
        v[s] = g->queued[s];
    s_per_stage(f, "mlops_tasks_queued", v);
    prom_head(f, "mlops_workers", "gauge", "Live workers by stage and state (infer: reporting SERVING).");
    for (int s = 0; s < STAGE_COUNT; s++)
        fprintf(f, "mlops_workers{stage=\"%s\",state=\"idle\"} %zu\nmlops_workers{stage=\"%s\",state=\"busy\"} %zu\n",
                stage_name((stage_t)s), g->idle[s], stage_name((stage_t)s), g->busy[s]);
    fprintf(f, "mlops_workers{stage=\"infer\",state=\"serving\"} %zu\n", g->serving);
    const struct { const char *name, *help; uint64_t v; } plain[] = {
        {"mlops_active_run", "Id of the active run, 0 when none.", g->active_run},
        {"mlops_store_map_bytes", "Size of the LMDB store's map.", g->store_map_bytes},
        {"mlops_store_used_bytes", "Bytes of the store's map in use (pages).", g->store_used_bytes},
        {"mlops_store_max_bytes", "The store's growth limit (--store-size).", g->store_max_bytes},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        prom_head(f, plain[i].name, "gauge", plain[i].help);
        fprintf(f, "%s %llu\n", plain[i].name, (unsigned long long)plain[i].v);
    }
}

static void s_render_drift(FILE *f, const exporter_gauges_t *g)
{
    static const struct { const char *name, *help; } heads[2] = {
        {"mlops_feature_drift", "Jensen-Shannon distance (base 2) of a field's live requests in the "
                                "drift window to the version's training data."},
        {"mlops_feature_psi", "Population stability index of the same (reported, never a trigger)."}};
    for (int h = 0; h < 2; h++) {
        prom_head(f, heads[h].name, "gauge", heads[h].help);
        for (size_t i = 0; i < g->n_drift; i++) {
            fprintf(f, "%s{version=\"%llu\",field=\"", heads[h].name,
                    (unsigned long long)g->drift[i].version);
            prom_label(f, g->drift[i].field);
            fprintf(f, "\"} %.6f\n", h == 0 ? g->drift[i].js : g->drift[i].psi);
        }
    }
    prom_head(f, "mlops_drift_window_rows", "gauge", "Live rows in a version's drift window.");
    for (size_t i = 0; i < g->n_drift; i++)
        if (i == 0 || g->drift[i].version != g->drift[i - 1].version)
            fprintf(f, "mlops_drift_window_rows{version=\"%llu\"} %llu\n",
                    (unsigned long long)g->drift[i].version, (unsigned long long)g->drift[i].rows);
}

//  The feedback set (broker/feedback_store.h): read from the store at each
//  publish, so its totals survive a restart as the store does.
static void s_render_feedback(FILE *f, const exporter_gauges_t *g)
{
    const struct { const char *name, *type, *help; uint64_t v; } rows[] = {
        {"mlops_feedback_rows", "gauge", "Labelled live rows in the feedback set.", g->feedback_rows},
        {"mlops_feedback_bytes", "gauge", "Their bytes.", g->feedback_bytes},
        {"mlops_feedback_max_bytes", "gauge", "The set's cap (--feedback-max-bytes).", g->feedback_max_bytes},
        {"mlops_feedback_stored_total", "counter", "Labelled rows stored.", g->feedback_stored},
        {"mlops_feedback_duplicates_total", "counter", "Rows refused: (request id, index) stored already.",
         g->feedback_duplicate},
        {"mlops_feedback_rotated_total", "counter", "Rows dropped, oldest first, to keep the cap.",
         g->feedback_rotated}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        prom_head(f, rows[i].name, rows[i].type, rows[i].help);
        fprintf(f, "%s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
    }
}

static void s_render_counters(FILE *f, const exporter_t *self)
{
    const struct { const char *name, *help; const uint64_t *v; } per_stage[] = {
        {"mlops_tasks_dispatched_total", "Task attempts handed to a worker.", self->dispatched},
        {"mlops_tasks_failed_total", "Task attempts that failed (error, lost worker, timeout).", self->failed},
        {"mlops_tasks_retried_total", "Failed task attempts that will be retried.", self->retried},
        {"mlops_tasks_timed_out_total", "Task attempts past their stage's --timeout.", self->timed_out},
    };
    for (size_t i = 0; i < sizeof per_stage / sizeof per_stage[0]; i++) {
        prom_head(f, per_stage[i].name, "counter", per_stage[i].help);
        s_per_stage(f, per_stage[i].name, per_stage[i].v);
    }
    prom_head(f, "mlops_task_duration_seconds", "histogram", "Dispatch to result of the tasks that succeeded.");
    for (int s = 0; s < STAGE_COUNT; s++) {
        char labels[48];
        snprintf(labels, sizeof labels, "stage=\"%s\",", stage_name((stage_t)s));
        s_histogram(f, "mlops_task_duration_seconds", labels, &self->task_span[s]);
    }
    prom_head(f, "mlops_runs_total", "counter", "Runs ended, by outcome.");
    fprintf(f, "mlops_runs_total{state=\"succeeded\"} %llu\nmlops_runs_total{state=\"failed\"} %llu\n",
            (unsigned long long)self->runs_succeeded, (unsigned long long)self->runs_failed);
    prom_head(f, "mlops_runs_promoted_total", "counter", "Runs that put their version in production.");
    fprintf(f, "mlops_runs_promoted_total %llu\n", (unsigned long long)self->runs_promoted);
    prom_head(f, "mlops_run_duration_seconds", "histogram", "First dispatch to end of each run.");
    s_histogram(f, "mlops_run_duration_seconds", "", &self->run_span);
    prom_head(f, "mlops_load_wait_seconds", "histogram", "load_model's wait for the inference workers to serve a promoted version.");
    s_histogram(f, "mlops_load_wait_seconds", "", &self->load_wait);
    prom_head(f, "mlops_load_waits_total", "counter", "load_model waits ended, by verdict.");
    for (size_t i = 0; i < S_VERDICTS; i++)
        fprintf(f, "mlops_load_waits_total{verdict=\"%s\"} %llu\n", s_verdicts[i],
                (unsigned long long)self->load_waits[i]);
    prom_head(f, "mlops_loop_stalls_total", "counter", "Turns of the broker's loop that came late (a stall of its own).");
    fprintf(f, "mlops_loop_stalls_total %llu\n", (unsigned long long)self->stalls);
    prom_head(f, "mlops_loop_stall_seconds_total", "counter", "Time the broker's loop lost to its stalls.");
    fprintf(f, "mlops_loop_stall_seconds_total %.6f\n", self->stall_seconds);
    prom_head(f, "mlops_store_objects_collected_total", "counter", "Store objects no run, version or stage output named, removed.");
    fprintf(f, "mlops_store_objects_collected_total %llu\n", (unsigned long long)self->collected);
    prom_head(f, "mlops_store_objects_collected_bytes_total", "counter", "Bytes of the store objects collected.");
    fprintf(f, "mlops_store_objects_collected_bytes_total %llu\n", (unsigned long long)self->collected_bytes);
}

int exporter_publish(exporter_t *self, const exporter_gauges_t *g)
{
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (!f)
        return MLOPS_ENOMEM;
    s_render_gauges(f, g);
    if (g->n_drift)
        s_render_drift(f, g);
    s_render_feedback(f, g);
    s_render_counters(f, self);
    if (fclose(f) != 0 || !page) {
        free(page);
        return MLOPS_ENOMEM;
    }
    pthread_mutex_lock(&self->lock);
    char *old = self->page;
    self->page = page;
    self->page_len = len;
    pthread_mutex_unlock(&self->lock);
    free(old);
    return 0;
}

char *exporter_page(exporter_t *self)
{
    pthread_mutex_lock(&self->lock);
    char *copy = malloc(self->page_len + 1);
    if (copy)
        memcpy(copy, self->page, self->page_len + 1);
    pthread_mutex_unlock(&self->lock);
    return copy;
}
