/*  http_v2.c: the Open Inference Protocol's REST paths (see
    gateway_internal.h; the bodies are v2.c's, without I/O).

        GET  /v2                                      server metadata
        GET  /v2/health/live, /v2/health/ready        200, or 400 when not ready
        GET  /v2/models/NAME[/versions/V]             model metadata
        GET  /v2/models/NAME[/versions/V]/ready       200, or 400 when not ready
        POST /v2/models/NAME[/versions/V]/infer       tensors in, predict and probability out
        POST /v2/repository/index                     the model repository extension

    NAME is the configured --model-name (one model is served). A version is
    "served" when a live inference worker holds it, and any other version
    is unknown here (404); readiness follows the
    workers, so it stays true through a swap (the old version serves until
    the new one is in) and turns false only when no worker holds a model.
    Errors are {"error": "..."} with 400 (a bad request), 404 (an unknown
    model or version), 405, 413 and 503 (no worker with a model).
*/
#include "gateway_internal.h"

#include "answer.h"
#include "log.h"
#include "v2.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_META, S_READY, S_INFER } s_verb_t;

/* --- signatures ---------------------------------------------------------- */

void http_v2_signature(gateway_t *self, const proto_msg_t *msg)
{
    int64_t version = msg->signature.model_version;
    for (size_t i = 0; i < self->schemas.len; i++)
        if (self->schemas.at[i]->version == version)
            return;   //  a version's signature never changes
    mlops_err_t err;
    const char *text = msg->signature.signature;
    schema_t *schema = schema_parse(text, strlen(text), version, &err);
    if (!schema) {
        log_warning("signature refused version=%" PRId64 " reason=%s", version, err.msg);
        return;
    }
    if (self->schemas.len == SCHEMAS_MAX) {
        schema_destroy(&self->schemas.at[0]);
        memmove(self->schemas.at, self->schemas.at + 1, --self->schemas.len * sizeof *self->schemas.at);
    }
    if (vec_push(&self->schemas, schema) != 0)
        schema_destroy(&schema);
}

void http_v2_close(gateway_t *self)
{
    for (size_t i = 0; i < self->schemas.len; i++)
        schema_destroy(&self->schemas.at[i]);
    vec_free(&self->schemas);
}

const schema_t *http_v2_schema(const gateway_t *self, int64_t version)
{
    for (size_t i = 0; i < self->schemas.len; i++)
        if (self->schemas.at[i]->version == version)
            return self->schemas.at[i];
    return NULL;
}

/* --- versions ------------------------------------------------------------ */

//  The versions live workers serve, ascending and distinct (at most max).
static size_t s_served(const gateway_t *self, int64_t *out, size_t max)
{
    size_t n = 0;
    for (int s = 0; s < router_slots(self->router); s++) {
        const router_worker_t *w = router_worker(self->router, s);
        if (!w || w->model_version <= 0)
            continue;
        size_t at = 0;
        while (at < n && out[at] < w->model_version)
            at++;
        if ((at < n && out[at] == w->model_version) || n == max)
            continue;
        memmove(out + at + 1, out + at, (n - at) * sizeof *out);
        out[at] = w->model_version;
        n++;
    }
    return n;
}

static bool s_is_served(const gateway_t *self, int64_t version)
{
    int64_t versions[ROUTER_WORKERS_MAX];
    size_t n = s_served(self, versions, ROUTER_WORKERS_MAX);
    for (size_t i = 0; i < n; i++)
        if (versions[i] == version)
            return true;
    return false;
}

/* --- answers ------------------------------------------------------------- */

static void s_settle_text(gateway_t *self, request_t *req, int status, const char *text)
{
    gateway_settle(self, req, status, strdup(text), strlen(text));
}

static void s_model_metadata(gateway_t *self, request_t *req, int64_t version)
{
    int64_t versions[ROUTER_WORKERS_MAX];
    size_t n = version ? 1 : s_served(self, versions, ROUTER_WORKERS_MAX);
    if (version)
        versions[0] = version;
    //  the signature of the version asked for, else of the one rolled out
    const schema_t *schema = http_v2_schema(self, version ? version : router_version(self->router));
    if (!schema && (version || n)) {
        gateway_settle_detail(self, req, 503, "the inference workers have not sent the model's "
                              "signature yet (a worker older than this gateway does not)");
        return;
    }
    size_t len = 0;
    char *text = v2_model_metadata(self->cfg.model_name, versions, n, schema, &len);
    gateway_settle(self, req, 200, text, len);
}

static void s_ready(gateway_t *self, request_t *req, int64_t version)
{
    bool ready = version ? s_is_served(self, version) : router_serving(self->router) > 0;
    s_settle_text(self, req, ready ? 200 : 400, ready ? "{\"ready\":true}" : "{\"ready\":false}");
}

static void s_repository_index(gateway_t *self, request_t *req)
{
    int64_t versions[ROUTER_WORKERS_MAX];
    size_t n = s_served(self, versions, ROUTER_WORKERS_MAX), len = 0;
    char *text = v2_repository_index(self->cfg.model_name, versions, n, &len);
    gateway_settle(self, req, 200, text, len);
}

/* --- routing ------------------------------------------------------------- */

//  Splits "NAME[/versions/V][/ready|/infer]" (after /v2/models/). Returns
//  false when the path is none of these.
static bool s_model_path(const char *rest, const char **name, size_t *name_len, int64_t *version,
                         bool *bad_version, s_verb_t *verb)
{
    const char *slash = strchr(rest, '/');
    *name = rest;
    *name_len = slash ? (size_t)(slash - rest) : strlen(rest);
    *version = 0;
    *bad_version = false;
    *verb = S_META;
    if (!slash)
        return *name_len > 0;
    rest = slash;
    if (strncmp(rest, "/versions/", 10) == 0) {
        const char *v = rest + 10, *end = strchr(v, '/');
        size_t vlen = end ? (size_t)(end - v) : strlen(v);
        *version = v2_version_parse(v, vlen);
        *bad_version = *version == 0;
        rest = v + vlen;
    }
    if (*rest == '\0')
        return true;
    *verb = strcmp(rest, "/ready") == 0 ? S_READY : S_INFER;
    return *verb == S_READY || strcmp(rest, "/infer") == 0;
}

static bool s_method(gateway_t *self, request_t *req, bool ok, const char *allow)
{
    if (!ok) {
        req->allow = allow;
        gateway_settle_detail(self, req, 405, strcmp(allow, "POST") == 0
                              ? "method not allowed: use POST" : "method not allowed: use GET");
    }
    return ok;
}

static void s_route_model(gateway_t *self, request_t *req, const char *rest, bool get, bool post)
{
    const char *name;
    size_t name_len;
    int64_t version;
    bool bad_version;
    s_verb_t verb;
    char why[160];
    if (!s_model_path(rest, &name, &name_len, &version, &bad_version, &verb)) {
        gateway_settle_detail(self, req, 404, "not found: the model paths are /v2/models/NAME"
                              "[/versions/V][/ready|/infer]");
        return;
    }
    if (name_len != strlen(self->cfg.model_name) || strncmp(name, self->cfg.model_name, name_len)) {
        snprintf(why, sizeof why, "unknown model '%.*s': this server serves '%s'",
                 (int)(name_len < 64 ? name_len : 64), name, self->cfg.model_name);
        gateway_settle_detail(self, req, 404, why);
        return;
    }
    if (bad_version || (version && verb != S_INFER && !s_is_served(self, version))) {
        if (bad_version)
            snprintf(why, sizeof why, "model '%s': a version is a whole number > 0",
                     self->cfg.model_name);
        else
            snprintf(why, sizeof why, "model '%s' version %" PRId64 " is not served",
                     self->cfg.model_name, version);
        gateway_settle_detail(self, req, 404, why);
        return;
    }
    if (verb == S_INFER) {   //  a version not served is loaded by a worker, or 404 from it
        if (s_method(self, req, post, "POST"))
            http_expect_body(self, req, self->cfg.batch_body_max_bytes);
        req->batch = true;   //  the worker locates problems by row
        req->pin_version = version;
        return;
    }
    if (s_method(self, req, get, "GET, HEAD"))
        (verb == S_READY ? s_ready : s_model_metadata)(self, req, version);
}

void http_v2_route(gateway_t *self, request_t *req, const char *url, bool get, bool post)
{
    req->endpoint = COUNTERS_V2;
    req->v2 = true;
    if (strcmp(url, "/v2") == 0 || strcmp(url, "/v2/") == 0) {
        if (s_method(self, req, get, "GET, HEAD")) {
            size_t len = 0;
            char *text = v2_server_metadata(&len);
            gateway_settle(self, req, 200, text, len);
        }
    } else if (strcmp(url, "/v2/health/live") == 0) {
        if (s_method(self, req, get, "GET, HEAD"))
            s_settle_text(self, req, 200, "{\"live\":true}");
    } else if (strcmp(url, "/v2/health/ready") == 0) {
        if (s_method(self, req, get, "GET, HEAD"))
            s_ready(self, req, 0);
    } else if (strcmp(url, "/v2/repository/index") == 0) {
        if (s_method(self, req, post, "POST"))
            http_expect_body(self, req, self->cfg.body_max_bytes);
    } else if (strncmp(url, "/v2/models/", 11) == 0)
        s_route_model(self, req, url + 11, get, post);
    else
        gateway_settle_detail(self, req, 404, "not found: the V2 paths are /v2, /v2/health/live, "
                              "/v2/health/ready, /v2/models/NAME[/versions/V][/ready|/infer] and "
                              "POST /v2/repository/index");
}

/* --- bodies -------------------------------------------------------------- */

//  The binary extension's header, checked before the body is read as JSON.
static bool s_binary_header(gateway_t *self, request_t *req)
{
    const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                "Inference-Header-Content-Length");
    if (!h)
        return false;
    char *end;
    unsigned long long n = strtoull(h, &end, 10);
    char why[320];
    if (*h < '0' || *h > '9' || *end || n > req->body_len)
        snprintf(why, sizeof why, "Inference-Header-Content-Length %.24s is past the body of %zu "
                 "bytes", h, req->body_len);
    else
        snprintf(why, sizeof why, "Inference-Header-Content-Length: the binary tensor data extension "
                 "is not supported: send the tensors as JSON (tritonclient.http: binary_data=False "
                 "on each InferInput and InferRequestedOutput)");
    gateway_settle_detail(self, req, 400, why);
    return true;
}

void http_v2_complete(gateway_t *self, request_t *req)
{
    if (req->too_big) {
        char why[96];
        snprintf(why, sizeof why, "body is over the limit of %zu bytes", req->body_max);
        gateway_settle_detail(self, req, 413, why);
        return;
    }
    if (!req->batch) {   //  the repository index: its body's filters change nothing here
        s_repository_index(self, req);
        return;
    }
    if (s_binary_header(self, req))
        return;
    if (router_serving(self->router) == 0) {
        gateway_settle_detail(self, req, 503, router_live(self->router) == 0
                              ? "no inference worker is connected"
                              : "no model loaded yet: the inference workers wait for one");
        return;
    }
    static v2_infer_t parsed;   //  one thread; its buffers are freed below
    mlops_err_t err;
    //  a pinned version's signature when it was seen, else production's
    const schema_t *schema = http_v2_schema(self, req->pin_version);
    if (!schema)
        schema = http_v2_schema(self, router_version(self->router));
    int rc = v2_infer_parse(&parsed, req->body ? req->body : "", req->body_len, schema,
                            self->cfg.batch_max, &err);
    if (rc == 0 && parsed.has_id)
        req->v2_id = strdup(parsed.id);
    if (rc == 0 && parsed.has_id && !req->v2_id)
        rc = mlops_err_set(&err, MLOPS_ENOMEM, "out of memory");
    size_t id_len = strlen(parsed.id);
    if (rc == 0 && parsed.has_id && feedback_id_valid(parsed.id, id_len))
        memcpy(req->request_id, parsed.id, id_len + 1);   //  unless X-Request-Id says otherwise
    req->v2_outputs = parsed.outputs;
    if (rc == 0)
        http_predict(self, req, &parsed.body);
    else
        gateway_settle_detail(self, req, rc == MLOPS_ENOMEM ? 500 : 400, err.msg);
    v2_infer_clear(&parsed);
}

int http_v2_prediction(const gateway_t *self, const request_t *req, const proto_msg_t *msg,
                       char **body, size_t *len, char *why, size_t size)
{
    //  V2's own "id": the client's when it sent one, else the request id
    return answer_v2_make(msg, self->cfg.model_name, req->v2_id ? req->v2_id : req->request_id,
                          req->v2_outputs & V2_OUTPUT_PREDICT,
                          req->v2_outputs & V2_OUTPUT_PROBABILITY, body, len, why, size);
}

void http_v2_error(gateway_t *self, request_t *req, const proto_msg_t *msg)
{
    int64_t status = msg->error.status;
    size_t len = 0;
    if (status == 422 && msg->error.n_detail) {   //  a value the model refuses: a bad request in V2
        char *text = answer_v2_problems(msg->error.detail, msg->error.n_detail, msg->error.n_detail, &len);
        gateway_settle(self, req, 400, text, len);
        return;
    }
    char *text = answer_v2_error(msg->error.message, &len);
    gateway_settle(self, req, status >= 400 && status <= 599 ? (int)status : 502, text, len);
}
