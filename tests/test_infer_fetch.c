/*  test_infer_fetch.c: an inference worker's artifact by hash
    (workers/infer_fetch.c) from a real data service (broker/data.c) over
    loopback: a reference loads the model and, with a cache, is fetched
    once; bytes the data service holds under a name they do not hash to are
    refused with both hashes named, as are inline bytes that fail the
    registry's sha256 and a size that is not the registry's; a GET_MODEL
    answer of either shape is read, and one of neither is refused; a silent
    data service times out after the wait the caller set. */
#include <czmq.h>
#include <string.h>

#include "control_io.h"
#include "hash.h"
#include "infer_fetch.h"
#include "ml_fixtures.h"
#include "testing.h"

#include "data_fixtures.h"

typedef struct {
    const uint8_t *bytes;
    uint64_t len;
} s_src_t;

static int s_src_fn(void *arg, uint64_t offset, void *buf, size_t len)
{
    s_src_t *src = arg;
    memcpy(buf, src->bytes + offset, len);
    return 0;
}

static fx_trained_t s_trained;

static void test_a_reference_loads_and_is_cached(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "infer-fetch"), 0);
    mlops_err_t err;
    control_model_ref_t ref = {.version = 3, .family = "logreg", .size = (int64_t)s_trained.len[0]};
    CHECK_INT(data_client_put(fx.client, s_trained.blob[0], s_trained.len[0], ref.sha256, &err), 0);
    char cache_dir[96];
    snprintf(cache_dir, sizeof cache_dir, "%s/cache", fx.dir);
    blob_cache_t *cache = blob_cache_new(cache_dir, 0, &err);
    CHECK(cache != NULL);
    uint64_t before = data_client_fetched_bytes(fx.client);
    model_t *m = infer_fetch_ref(fx.client, cache, &ref, &err);
    CHECK(m != NULL);
    CHECK_STR(model_family(m), "logreg");
    model_destroy(&m);
    CHECK_INT(data_client_fetched_bytes(fx.client) - before, s_trained.len[0]);
    m = infer_fetch_ref(fx.client, cache, &ref, &err);   //  the second time from the cache
    CHECK(m != NULL);
    model_destroy(&m);
    CHECK_INT(data_client_fetched_bytes(fx.client) - before, s_trained.len[0]);
    //  the same through a GET_MODEL answer's bytes
    uint8_t *answer;
    size_t answer_len;
    CHECK_INT(control_model_ref_encode(&ref, &answer, &answer_len), 0);
    int64_t version = 0;
    bool by_ref = false;
    m = infer_fetch_load(fx.client, NULL, answer, answer_len, &version, &by_ref, &err);
    CHECK(m != NULL);
    CHECK(by_ref);
    CHECK_INT(version, 3);
    model_destroy(&m);
    free(answer);
    //  no data service configured: said, not crashed
    CHECK(infer_fetch_ref(NULL, NULL, &ref, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ESTATE);
    CHECK_CONTAINS(err.msg, "version 3 is in the data service, and this worker has no data endpoint");
    blob_cache_destroy(&cache);
    dfx_down(&fx);
}

//  The data service holds other bytes under the registry's name (a store
//  tampered with, or a data endpoint that is not the broker's): refused.
static void test_bytes_that_are_not_the_registrys_are_refused(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "infer-fetch-bad"), 0);
    mlops_err_t err;
    control_model_ref_t ref = {.version = 4, .family = "forest", .size = (int64_t)s_trained.len[0]};
    hash_sha256_hex(s_trained.blob[0], s_trained.len[0], ref.sha256);   //  the registry's word
    char other[HASH_HEX_LEN + 1];
    hash_sha256_hex(s_trained.blob[1], s_trained.len[1], other);
    s_src_t src = {s_trained.blob[1], s_trained.len[1]};   //  what the service serves instead
    CHECK_INT(store_object_put_from(fx.store, ref.sha256, src.len, s_src_fn, &src, &err), 0);
    model_t *m = infer_fetch_ref(fx.client, NULL, &ref, &err);
    CHECK(m == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    char want[300];
    snprintf(want, sizeof want, "version 4 refused: blob %s: the bytes received hash to %s", ref.sha256,
             other);
    CHECK_STR(err.msg, want);
    //  a size that is not the registry's, the bytes right
    dfx_down(&fx);
    CHECK_INT(dfx_up(&fx, "infer-fetch-size"), 0);
    CHECK_INT(data_client_put(fx.client, s_trained.blob[0], s_trained.len[0], ref.sha256, &err), 0);
    ref.size += 1;
    CHECK(infer_fetch_ref(fx.client, NULL, &ref, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    snprintf(want, sizeof want, "version 4 refused: its artifact has %zu bytes, the registry says %lld",
             s_trained.len[0], (long long)ref.size);
    CHECK_STR(err.msg, want);
    //  a name that is not a sha256
    snprintf(ref.sha256, sizeof ref.sha256, "../../etc/passwd");
    CHECK(infer_fetch_ref(fx.client, NULL, &ref, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "is not a blob name");
    dfx_down(&fx);
}

//  The inline answer of an older broker: checked the same way.
static void test_inline_answers_are_checked_against_their_sha256(void)
{
    mlops_err_t err;
    control_model_t cm = {.version = 5, .family = "logreg", .artifact = s_trained.blob[0],
                          .artifact_len = s_trained.len[0]};
    hash_sha256_hex(s_trained.blob[0], s_trained.len[0], cm.sha256);
    uint8_t *answer;
    size_t len;
    CHECK_INT(control_model_encode(&cm, &answer, &len), 0);
    int64_t version = 0;
    bool by_ref = true;
    model_t *m = infer_fetch_load(NULL, NULL, answer, len, &version, &by_ref, &err);
    CHECK(m != NULL);
    CHECK(!by_ref);
    CHECK_INT(version, 5);
    model_destroy(&m);
    free(answer);
    char registry[HASH_HEX_LEN + 1];
    hash_sha256_hex(s_trained.blob[1], s_trained.len[1], registry);
    snprintf(cm.sha256, sizeof cm.sha256, "%s", registry);   //  the bytes are not these
    CHECK_INT(control_model_encode(&cm, &answer, &len), 0);
    CHECK(infer_fetch_load(NULL, NULL, answer, len, &version, &by_ref, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    char got[HASH_HEX_LEN + 1], want[300];
    hash_sha256_hex(s_trained.blob[0], s_trained.len[0], got);
    snprintf(want, sizeof want, "version 5 refused: its artifact hashes to %s, the registry's sha256 is %s",
             got, registry);
    CHECK_STR(err.msg, want);
    free(answer);
    //  neither shape
    control_serving_t other = {.production_version = 2};
    CHECK_INT(control_serving_encode(&other, &answer, &len), 0);
    CHECK(infer_fetch_load(NULL, NULL, answer, len, &version, &by_ref, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "the broker's GET_MODEL answer is malformed");
    free(answer);
}

static void test_setup_trains_the_artifacts(void)
{
    CHECK_INT(fx_train(&s_trained, 7), 0);
}

//  A data service that never answers: the feed's shorter wait, then
//  MLOPS_ETIMEOUT (the feed's cue to ask for inline answers).
static void test_a_silent_data_service_times_out(void)
{
    zsock_t *mute = zsock_new_router("tcp://127.0.0.1:*");
    CHECK(mute != NULL);
    const char *ep = zsock_endpoint(mute);   //  tcp://127.0.0.1:PORT
    mlops_err_t err;
    data_client_t *client = data_client_new(ep, &err);
    CHECK(client != NULL);
    data_client_set_timeout(client, 200);
    control_model_ref_t ref = {.version = 6, .size = 10};
    hash_sha256_hex((const uint8_t *)"x", 1, ref.sha256);
    CHECK(infer_fetch_ref(client, NULL, &ref, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ETIMEOUT);
    char want[300];
    snprintf(want, sizeof want, "version 6 not fetched from %s: the data service %s did not answer "
             "within 200 ms", ep, ep);
    CHECK_STR(err.msg, want);
    data_client_destroy(&client);
    zsock_destroy(&mute);
}

int main(void)
{
    RUN(test_setup_trains_the_artifacts);
    RUN(test_a_reference_loads_and_is_cached);
    RUN(test_bytes_that_are_not_the_registrys_are_refused);
    RUN(test_inline_answers_are_checked_against_their_sha256);
    RUN(test_a_silent_data_service_times_out);
    fx_trained_free(&s_trained);
    return TEST_REPORT("test_infer_fetch");
}
