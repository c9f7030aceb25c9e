/*  test_requests.c: gateway/requests.c, the request table: slots and their
    generations, the queue's order (a dead worker's requests before newer
    ones), deadlines in arrival order, settling, and reading bodies within
    their limit. */
#include "requests.h"
#include "testing.h"

//  A request taken and queued with a deadline (its frame is a stand-in).
static request_t *s_queued(requests_t *t, int64_t deadline_ms)
{
    request_t *req = requests_take(t, NULL, 0);
    if (req) {
        req->frame = malloc(4);
        req->frame_len = 4;
        requests_queue(t, req, deadline_ms);
    }
    return req;
}

static void test_requests_slots_and_ids(void)
{
    CHECK(requests_new(0) == NULL);
    requests_t *t = requests_new(2);
    CHECK(t);
    request_t *a = requests_take(t, NULL, 123);
    request_t *b = requests_take(t, NULL, 0);
    CHECK(a && b && a != b);
    CHECK(requests_take(t, NULL, 0) == NULL);   //  full
    CHECK_INT(a->state, REQ_READING);
    CHECK_INT(a->worker, -1);
    CHECK_INT(a->started_us, 123);
    CHECK_INT(a->endpoint, COUNTERS_OTHER);
    CHECK_INT(a->call, API_NONE);
    uint64_t id_a = requests_id(t, a);
    CHECK(requests_find(t, id_a) == a);
    CHECK(requests_find(t, requests_id(t, b)) == b);
    CHECK(requests_find(t, id_a + 2) == NULL);   //  no slot 2
    requests_release(t, a);
    CHECK(requests_find(t, id_a) == NULL);       //  free
    request_t *c = requests_take(t, NULL, 0);
    CHECK(c == a);                               //  the same slot ...
    CHECK(requests_id(t, c) != id_a);            //  ... a new generation
    CHECK(requests_find(t, id_a) == NULL);       //  a late answer misses
    CHECK(requests_find(t, requests_id(t, c)) == c);
    requests_release(t, b);
    requests_release(t, c);
    requests_destroy(&t);
    CHECK(t == NULL);
    requests_destroy(&t);
}

static void test_requests_queue_order(void)
{
    requests_t *t = requests_new(8);
    request_t *r[4];
    for (int i = 0; i < 4; i++)
        r[i] = s_queued(t, 100 + i);
    CHECK_INT(requests_queued(t), 4);
    CHECK(requests_next(t) == r[0]);
    CHECK(requests_oldest(t) == r[0]);
    requests_sent(t, r[0], 7);
    requests_sent(t, requests_next(t), 8);
    CHECK(requests_next(t) == r[2]);
    CHECK_INT(requests_in_flight(t), 2);
    CHECK_INT(requests_queued(t), 2);
    CHECK_INT(r[1]->state, REQ_SENT);
    CHECK_INT(r[1]->worker, 8);
    CHECK(requests_oldest(t) == r[0]);           //  sent or not, the first deadline
    //  worker 7 dies: its request goes out again before the newer queued ones
    CHECK_INT(requests_requeue(t, 7), 1);
    CHECK_INT(r[0]->state, REQ_QUEUED);
    CHECK_INT(r[0]->worker, -1);
    CHECK(requests_next(t) == r[0]);
    CHECK_INT(requests_in_flight(t), 1);
    CHECK_INT(requests_queued(t), 3);
    CHECK_INT(requests_requeue(t, 99), 0);       //  a worker with nothing
    requests_sent(t, r[0], 9);
    requests_sent(t, requests_next(t), 9);       //  r[2]: r[1] is at worker 8
    CHECK(requests_next(t) == r[3]);
    //  workers 9 then 8 die: oldest first again, whatever the order they died in
    requests_requeue(t, 9);
    requests_requeue(t, 8);
    for (int i = 0; i < 4; i++) {
        CHECK(requests_next(t) == r[i]);
        requests_sent(t, r[i], 1);
    }
    CHECK(requests_next(t) == NULL);
    requests_destroy(&t);   //  frees the frames of requests still held
}

static void test_requests_settle(void)
{
    requests_t *t = requests_new(4);
    request_t *a = s_queued(t, 10), *b = s_queued(t, 20), *c = s_queued(t, 30);
    requests_sent(t, a, 1);
    //  the cursor moves on when the next queued request leaves
    CHECK(requests_next(t) == b);
    requests_settle(t, b, 504, strdup("{}"), 2);
    CHECK_INT(b->state, REQ_DONE);
    CHECK_INT(b->status, 504);
    CHECK(b->frame == NULL);
    CHECK_STR(b->content_type, "application/json");
    CHECK(requests_next(t) == c);
    CHECK_INT(requests_queued(t), 1);
    //  a sent one leaves the pending list too; the deadline head moves on
    requests_settle(t, a, 200, NULL, 99);   //  out of memory: a 500 with no body
    CHECK_INT(a->status, 500);
    CHECK_INT(a->answer_len, 0);
    CHECK_INT(a->worker, -1);
    CHECK_INT(requests_in_flight(t), 0);
    CHECK(requests_oldest(t) == c);
    requests_release(t, c);   //  a client that went away while queued
    CHECK(requests_next(t) == NULL);
    CHECK(requests_oldest(t) == NULL);
    CHECK_INT(requests_queued(t), 0);
    //  a request that was never pending settles too (an answer at once)
    request_t *d = requests_take(t, NULL, 0);
    requests_settle(t, d, 404, strdup("{\"detail\":\"x\"}"), 14);
    CHECK_INT(d->state, REQ_DONE);
    CHECK_INT(d->answer_len, 14);
    requests_release(t, a);
    requests_release(t, b);
    requests_release(t, d);
    requests_destroy(&t);
}

static void test_request_body_limits(void)
{
    requests_t *t = requests_new(1);
    request_t *req = requests_take(t, NULL, 0);
    CHECK(!request_expect(req, 11, 10));         //  declared over the limit
    CHECK(req->body == NULL);
    CHECK_INT(req->body_max, 10);
    CHECK(request_expect(req, 0, 10));           //  nothing declared: nothing reserved
    CHECK(req->body == NULL);
    request_append(req, "hello", 5);
    request_append(req, "world", 5);
    CHECK(!req->too_big);
    CHECK_INT(req->body_len, 10);
    CHECK(memcmp(req->body, "helloworld", 10) == 0);
    request_append(req, "!", 1);                 //  one over
    CHECK(req->too_big);
    CHECK_INT(req->body_len, 10);
    requests_release(t, req);
    req = requests_take(t, NULL, 0);
    CHECK(request_expect(req, 1ull << 30, (size_t)1 << 31));
    CHECK_INT(req->body_cap, REQUESTS_BODY_PREALLOC_BYTES);   //  a claim reserves little
    char chunk[8192];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 10; i++)                 //  past the reserve: the buffer grows
        request_append(req, chunk, sizeof chunk);
    CHECK_INT(req->body_len, 10 * sizeof chunk);
    CHECK(req->body_cap >= req->body_len);
    req->state = REQ_DONE;                       //  decided: further bytes are dropped
    request_append(req, "y", 1);
    CHECK_INT(req->body_len, 10 * sizeof chunk);
    requests_release(t, req);
    requests_destroy(&t);
}

int main(void)
{
    RUN(test_requests_slots_and_ids);
    RUN(test_requests_queue_order);
    RUN(test_requests_settle);
    RUN(test_request_body_limits);
    return TEST_REPORT("test_requests");
}
