/*  http_feedback.c: the HTTP side of feedback (see gateway_internal.h):
    every prediction's request id, the PREDICTION rows written to the
    prediction log (feedback.h, which has no I/O), POST /feedback, and
    GET /api/feedback.

    POST /feedback takes one label {"request_id":"..","index":0,"label":1}
    (index: the record within a /predict/batch or V2 request, default 0)
    or a list {"items":[{..},..]} (1..--batch-max). One label is answered
    by its own status: 200 {"request_id":..,"index":..,"status":"accepted"},
    404 unknown or expired id, 409 labelled before, 422 a label that does
    not fit the model's task or a malformed item. A list is answered 200
    with one status per item, in order:
    {"accepted":N,"results":[{"status":200},{"status":404,"detail":".."},..]}
    (a malformed list, not its items, is a 400 / 422 as a whole).

    The id costs the hot path one header lookup and 29 bytes written into
    the request's slot; logging copies into the ring, each record's bytes
    found by a walk over the PREDICT frame still queued for re-sending:
    nothing allocates (a multiclass version's class labels are parsed
    once, at its first row).

    An accepted label's row, with its record, goes to the outbox and from
    there to the broker (FEEDBACK, at most one request waiting for its
    REPLY in the control DEALER's FIFO, under a call no request owns).
*/
#include "gateway_internal.h"

#include "answer.h"
#include "api.h"
#include "feedback_io.h"
#include "log.h"

#include <jansson.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FEEDBACK_HEADER "X-Request-Id"
#define FEEDBACK_SEND_ROWS 64                //  rows in one FEEDBACK at most
#define FEEDBACK_SEND_BYTES (40u << 10)      //  and about this many bytes (the broker's control
                                             //  socket takes frames of 64 KiB at most)
_Static_assert(FEEDBACK_SEND_ROWS <= FEEDBACK_IO_ROWS_MAX, "a batch is one FEEDBACK");

void http_feedback_id(gateway_t *self, request_t *req)
{
    const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, FEEDBACK_HEADER);
    size_t len = h ? strnlen(h, FEEDBACK_ID_MAX + 1) : 0;
    if (h && feedback_id_valid(h, len)) {
        memcpy(req->request_id, h, len);
        req->request_id[len] = '\0';
    } else if (!req->request_id[0])
        feedback_id_new(self->feedback, req->request_id);
}

//  The PREDICTION's task as the log's.
static feedback_task_t s_task(const proto_msg_t *msg)
{
    const char *task = msg->prediction.task ? msg->prediction.task : "";
    return strcmp(task, "regression") == 0   ? FEEDBACK_REGRESSION
         : strcmp(task, "multiclass") == 0 ? FEEDBACK_MULTICLASS : FEEDBACK_BINARY;
}

void http_feedback_log(gateway_t *self, const request_t *req, const proto_msg_t *msg)
{
    if (!req->request_id[0] || !feedback_sampled(self->feedback))
        return;
    feedback_task_t task = s_task(msg);
    bool regression = task == FEEDBACK_REGRESSION;
    size_t n = regression ? msg->prediction.n_values : msg->prediction.n;
    size_t k = proto_prediction_classes(msg);
    if (task == FEEDBACK_MULTICLASS
        && feedback_classes(self->feedback, msg->prediction.model_version, msg->prediction.classes) != 0)
        log_warning("feedback: version %" PRId64 " sent class labels that are not a list",
                    msg->prediction.model_version);
    //  each record's bytes from the frame still queued for re-sending
    feedback_io_records_t walk;
    bool records = req->frame && feedback_io_records_open(&walk, req->frame, req->frame_len) == 0;
    feedback_row_t row = {.id = req->request_id, .version = msg->prediction.model_version,
                          .task = task, .time_ms = clock_wall_ms(), .k = k};
    for (size_t i = 0; i < n; i++) {
        row.index = (uint32_t)i;
        row.predicted = regression ? 0 : msg->prediction.predictions[i];
        row.value = regression ? msg->prediction.values[i] : msg->prediction.probabilities[i];
        row.class_probabilities = k ? msg->prediction.class_probabilities + i * k : NULL;
        if (!records || !feedback_io_records_next(&walk, &row.record, &row.record_len))
            row.record = NULL, row.record_len = 0;
        feedback_log_row(self->feedback, &row);
    }
}

void http_feedback_route(gateway_t *self, request_t *req, bool post)
{
    req->endpoint = COUNTERS_FEEDBACK;
    if (!post) {
        req->allow = "POST";
        gateway_settle_detail(self, req, 405, "method not allowed: use POST");
        return;
    }
    //  the application posts labels: its own token when one is set, else the admin token's rule
    const char *token = self->cfg.feedback_token && *self->cfg.feedback_token
                      ? self->cfg.feedback_token : self->cfg.admin_token;
    const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    int denied = token && *token ? api_token_check(token, auth) : 0;
    req->challenge = denied == 401;
    if (denied) {
        gateway_settle_detail(self, req, denied, denied == 401
                              ? "/feedback needs the feedback token (or the admin token when no "
                                "feedback token is set): send Authorization: Bearer TOKEN"
                              : "the token is not the right one");
        return;
    }
    req->feedback = true;
    http_expect_body(self, req, self->cfg.body_max_bytes);
}

/* --- one label ----------------------------------------------------------- */

typedef struct {
    int status;                       //  HTTP status of this label
    const char *detail;               //  why, when not 200 (static)
    const char *id;                   //  borrowed from the JSON
    uint32_t index;                   //  the record within its request
} s_result_t;

static feedback_label_t s_label_of(const json_t *v)
{
    if (json_is_boolean(v))
        return (feedback_label_t){FEEDBACK_LABEL_BOOL, json_is_true(v) ? 1 : 0};
    if (json_is_number(v))
        return (feedback_label_t){FEEDBACK_LABEL_NUMBER, json_number_value(v)};
    if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
        return (feedback_label_t){FEEDBACK_LABEL_STRING, 0, json_string_value(v)};
    return (feedback_label_t){FEEDBACK_LABEL_OTHER, 0};
}

/* --- to the broker -------------------------------------------------------- */

//  A labelled row that kept its record goes to the outbox for the broker
//  (with no broker configured there is nowhere to send it).
static void s_outbox(gateway_t *self, const feedback_row_t *row, const feedback_label_t *label)
{
    if (!self->control_sock || !row->record)
        return;
    feedback_io_row_t out = {.index = row->index, .version = (uint64_t)row->version,
                             .record = row->record, .record_len = row->record_len,
                             .label_number = label->number, .time_ms = row->time_ms};
    snprintf(out.request_id, sizeof out.request_id, "%s", row->id);
    out.label_kind = label->kind == FEEDBACK_LABEL_STRING ? FEEDBACK_IO_LABEL_STRING
                   : label->kind == FEEDBACK_LABEL_BOOL   ? FEEDBACK_IO_LABEL_BOOL
                                                          : FEEDBACK_IO_LABEL_NUMBER;
    if (label->kind == FEEDBACK_LABEL_STRING)
        snprintf(out.label_text, sizeof out.label_text, "%s", label->text);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (feedback_io_row_encode(&out, &bytes, &len) == 0)
        feedback_outbox_put(self->feedback, bytes, len);
    else   //  a string label over FEEDBACK_IO_LABEL_MAX: scored, not kept
        log_warning("feedback: row %s#%u not sent to the broker: it cannot be encoded", row->id,
                    (unsigned)row->index);
}

//  The outbox's oldest rows, as many as one FEEDBACK carries, as its rows
//  bytes; how many in *n. NULL when out of memory.
static uint8_t *s_batch(gateway_t *self, size_t *n, size_t *len)
{
    const uint8_t *rows[FEEDBACK_SEND_ROWS];
    size_t lens[FEEDBACK_SEND_ROWS], bytes = 0;
    *n = 0;
    while (*n < FEEDBACK_SEND_ROWS && *n < feedback_outbox_len(self->feedback)) {
        rows[*n] = feedback_outbox_peek(self->feedback, *n, &lens[*n]);
        if (*n && bytes + lens[*n] > FEEDBACK_SEND_BYTES)
            break;
        bytes += lens[(*n)++];
    }
    uint8_t *out = NULL;
    return feedback_io_rows_join(rows, lens, *n, &out, len) == 0 ? out : NULL;
}

//  True while a FEEDBACK waits for its REPLY in the calls ring (a timeout
//  empties the ring: its rows are then sent again, and the broker refuses
//  those it stored as duplicates).
static bool s_waiting(const gateway_t *self)
{
    for (size_t i = 0; i < self->calls_n; i++)
        if (self->calls[(self->calls_head + i) % GATEWAY_CONTROL_INFLIGHT_MAX].own_fn == http_feedback_reply)
            return true;
    return false;
}

void http_feedback_flush(gateway_t *self)
{
    if (feedback_outbox_marked(self->feedback) && s_waiting(self))
        return;
    feedback_outbox_mark(self->feedback, 0);
    if (!self->control_sock || !feedback_outbox_len(self->feedback)
        || self->calls_n == GATEWAY_CONTROL_INFLIGHT_MAX)
        return;
    size_t n, rows_len, frame_len;
    uint8_t *rows = s_batch(self, &n, &rows_len), *frame = NULL;
    proto_msg_t msg = {.cmd = PROTO_FEEDBACK, .feedback = {rows, rows_len}};
    int rc = rows ? proto_msg_encode(&msg, &frame, &frame_len) : MLOPS_ENOMEM;
    free(rows);
    //  its REPLY comes in order with the /api calls' (broker_link_send_own)
    if (rc == 0 && broker_link_send_own(self, frame, frame_len, http_feedback_reply) == 0)
        feedback_outbox_mark(self->feedback, n);
    else if (rc == 0)
        return;   //  the broker away (EAGAIN): the rows wait for the next turn
    else
        free(frame);   //  no memory: the rows wait too
}

void http_feedback_reply(gateway_t *self, const proto_msg_t *msg)
{
    size_t n = feedback_outbox_marked(self->feedback);
    if (!msg) {   //  no answer in time: the rows are sent again
        feedback_outbox_mark(self->feedback, 0);
        return;
    }
    bool retry = !msg->reply.ok && msg->reply.code && strcmp(msg->reply.code, PROTO_REPLY_UNAVAILABLE) == 0;
    if (!msg->reply.ok)
        log_warning("feedback: the broker refused %zu rows%s: %s", n, retry ? " (sent again later)" : "",
                    msg->reply.error ? msg->reply.error : "");
    feedback_outbox_mark(self->feedback, 0);
    if (!retry)   //  stored, or refused for good (not to be sent forever)
        feedback_outbox_pop(self->feedback, n);
}

//  Reads one item and joins its label.
static s_result_t s_join(gateway_t *self, const json_t *item)
{
    s_result_t r = {.status = 422};
    const json_t *id = json_object_get(item, "request_id"), *index = json_object_get(item, "index");
    const json_t *label = json_object_get(item, "label");
    if (!json_is_object(item))
        r.detail = "an item must be an object {\"request_id\":..,\"label\":..}";
    else if (!json_is_string(id) || !feedback_id_valid(json_string_value(id), json_string_length(id)))
        r.detail = "request_id must be 1..64 letters, digits and . _ - :";
    else if (index && (!json_is_integer(index) || json_integer_value(index) < 0
                       || json_integer_value(index) >= PROTO_RECORDS_MAX))
        r.detail = "index must be a whole number >= 0 (the record within its request)";
    else if (!label)
        r.detail = "label is missing";
    if (r.detail)
        return r;
    r.id = json_string_value(id);
    r.index = index ? (uint32_t)json_integer_value(index) : 0;
    feedback_label_t l = s_label_of(label);
    feedback_row_t row;
    int rc = feedback_label_row(self->feedback, r.id, r.index, &l, &r.detail, &row);
    r.status = rc == 0 ? 200 : rc == MLOPS_ENOTFOUND ? 404 : rc == MLOPS_ESTATE ? 409 : 422;
    if (rc == 0)
        s_outbox(self, &row, &l);
    return r;
}

/* --- answers ------------------------------------------------------------- */

static void s_settle_json(gateway_t *self, request_t *req, int status, json_t *root)
{
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    gateway_settle(self, req, status, text, text ? strlen(text) : 0);
}

static void s_answer_one(gateway_t *self, request_t *req, const json_t *item)
{
    s_result_t r = s_join(self, item);
    if (r.status != 200) {
        gateway_settle_detail(self, req, r.status, r.detail);
        return;
    }
    s_settle_json(self, req, 200, json_pack("{sssIss}", "request_id", r.id, "index",
                                            (json_int_t)r.index, "status", "accepted"));
}

static void s_answer_list(gateway_t *self, request_t *req, const json_t *items)
{
    size_t n = json_array_size(items);
    if (!json_is_array(items) || n == 0 || n > self->cfg.batch_max) {
        char why[128];
        snprintf(why, sizeof why, "items must be a list of 1..%zu labels", self->cfg.batch_max);
        gateway_settle_detail(self, req, 422, why);
        return;
    }
    json_t *results = json_array();
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        s_result_t r = s_join(self, json_array_get(items, i));
        accepted += r.status == 200;
        json_t *o = json_pack("{si}", "status", r.status);
        if (r.status != 200)
            json_object_set_new(o, "detail", json_string(r.detail));
        json_array_append_new(results, o);
    }
    s_settle_json(self, req, 200, json_pack("{sIso}", "accepted", (json_int_t)accepted,
                                            "results", results));
}

void http_feedback_complete(gateway_t *self, request_t *req)
{
    json_error_t jerr;
    json_t *root = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    free(req->body);
    req->body = NULL;
    if (!root) {
        size_t len = 0;
        char why[256];
        snprintf(why, sizeof why, "body is not valid JSON at byte %d: %s", jerr.position, jerr.text);
        char *answer = answer_syntax(why, (size_t)jerr.position, &len);   //  len is set here
        gateway_settle(self, req, 400, answer, len);
        return;
    }
    const json_t *items = json_object_get(root, "items");
    if (!json_is_object(root))
        gateway_settle_detail(self, req, 422, "the body must be an object: {\"request_id\":..,"
                              "\"label\":..} or {\"items\":[..]}");
    else if (items)
        s_answer_list(self, req, items);
    else
        s_answer_one(self, req, root);
    json_decref(root);
    http_feedback_flush(self);
}

void http_feedback_summary(gateway_t *self, request_t *req, bool get)
{
    if (!get) {
        req->allow = "GET, HEAD";
        gateway_settle_detail(self, req, 405, "method not allowed: use GET");
        return;
    }
    size_t len = 0;
    char *text = feedback_summary(self->feedback, &len);
    gateway_settle(self, req, 200, text, len);
}
