/*  test_blob_cache.c: the worker's blob cache (workers/blob_cache.c) in
    front of a real data service: a second fetch of a blob fetches
    nothing; a file truncated or damaged on disk is detected by its hash,
    removed and fetched again; the least recently used blob goes first
    when the limit is reached; a blob over the limit is not kept. */
#include <czmq.h>

#include "blob_cache.h"
#include "data.h"
#include "data_io.h"
#include "hash.h"
#include "testing.h"

#include "data_fixtures.h"


//  The cache's directory, beside the store.
static const char *s_cache_dir(const dfx_t *fx)
{
    static char dir[96];
    snprintf(dir, sizeof dir, "%s/cache", fx->dir);
    return dir;
}

//  Stores len patterned bytes through the service; their name in hash.
static void s_stored(dfx_t *fx, size_t len, int salt, char hash[65])
{
    uint8_t *b = malloc(len);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(i * 31 + (size_t)salt);
    mlops_err_t err;
    data_client_put(fx->client, b, len, hash, &err);
    free(b);
}

static void test_second_fetch_fetches_nothing(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "cache"), 0);
    mlops_err_t err;
    blob_cache_t *cache = blob_cache_new(s_cache_dir(&fx), 0, &err);
    CHECK(cache != NULL);
    char hash[65];
    s_stored(&fx, 2 * DATA_CHUNK_MAX_BYTES + 5, 1, hash);
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    CHECK_INT(blob_cache_fetch(cache, fx.client, hash, &a, &la, &err), 0);
    uint64_t after_first = data_client_fetched_bytes(fx.client);
    CHECK_INT(after_first, la);
    CHECK_INT(blob_cache_fetch(cache, fx.client, hash, &b, &lb, &err), 0);
    CHECK_INT(data_client_fetched_bytes(fx.client), after_first);   //  nothing fetched
    CHECK_INT(lb, la);
    CHECK(memcmp(a, b, la) == 0);
    free(a), free(b);
    //  a blob the service does not have is a clear miss, the cache says nothing
    char none[65];
    hash_sha256_hex("none", 4, none);
    CHECK_INT(blob_cache_fetch(cache, fx.client, none, &a, &la, &err), MLOPS_ENOTFOUND);
    blob_cache_destroy(&cache);
    dfx_down(&fx);
}

static void s_damage(const char *dir, const char *hash, bool truncate_it)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, hash);
    if (truncate_it) {
        CHECK_INT(truncate(path, 10), 0);
        return;
    }
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    fputc('!', f);
    fclose(f);
}

static void test_damaged_file_is_fetched_again(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "cache"), 0);
    mlops_err_t err;
    blob_cache_t *cache = blob_cache_new(s_cache_dir(&fx), 0, &err);
    char hash[65];
    s_stored(&fx, 1000, 2, hash);
    uint8_t *a = NULL;
    size_t la = 0;
    for (int truncated = 0; truncated < 2; truncated++) {
        CHECK_INT(blob_cache_fetch(cache, fx.client, hash, &a, &la, &err), 0);
        free(a);
        s_damage(s_cache_dir(&fx), hash, truncated);
        CHECK_INT(blob_cache_get(cache, hash, &a, &la, &err), MLOPS_ENOTFOUND);
        CHECK_CONTAINS(err.msg, "was damaged");
        CHECK_INT(blob_cache_get(cache, hash, &a, &la, &err), MLOPS_ENOTFOUND);   //  removed
        CHECK_CONTAINS(err.msg, "is not cached");
        uint64_t before = data_client_fetched_bytes(fx.client);
        CHECK_INT(blob_cache_fetch(cache, fx.client, hash, &a, &la, &err), 0);
        CHECK_INT(la, 1000);
        CHECK_INT(data_client_fetched_bytes(fx.client), before + 1000);
        free(a);
    }
    blob_cache_destroy(&cache);
    dfx_down(&fx);
}

static void test_least_recently_used_goes_first(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "cache"), 0);
    mlops_err_t err;
    blob_cache_t *cache = blob_cache_new(s_cache_dir(&fx), 2500, &err);
    char h1[65], h2[65], h3[65], big[65];
    s_stored(&fx, 1000, 3, h1);
    s_stored(&fx, 1000, 4, h2);
    s_stored(&fx, 1000, 5, h3);
    s_stored(&fx, 3000, 6, big);
    uint8_t *a = NULL;
    size_t la = 0;
    CHECK_INT(blob_cache_fetch(cache, fx.client, h1, &a, &la, &err), 0);
    free(a);
    zclock_sleep(20);   //  mtimes apart, not a threshold: the order is what is checked
    CHECK_INT(blob_cache_fetch(cache, fx.client, h2, &a, &la, &err), 0);
    free(a);
    zclock_sleep(20);
    CHECK_INT(blob_cache_get(cache, h1, &a, &la, &err), 0);
    free(a);   //  h1 used again
    zclock_sleep(20);
    CHECK_INT(blob_cache_fetch(cache, fx.client, h3, &a, &la, &err), 0);
    free(a);   //  evicts h2
    CHECK_INT(blob_cache_get(cache, h2, &a, &la, &err), MLOPS_ENOTFOUND);
    CHECK_INT(blob_cache_get(cache, h1, &a, &la, &err), 0);
    free(a);
    CHECK_INT(blob_cache_get(cache, h3, &a, &la, &err), 0);
    free(a);
    CHECK_INT(blob_cache_fetch(cache, fx.client, big, &a, &la, &err), 0);
    free(a);
    CHECK_INT(blob_cache_get(cache, big, &a, &la, &err), MLOPS_ENOTFOUND);   //  over the limit
    CHECK_INT(blob_cache_get(cache, h1, &a, &la, &err), 0);
    free(a);
    CHECK(blob_cache_new("/proc/no-such-dir/x", 0, &err) == NULL);
    CHECK_INT(err.code, ENOENT);
    blob_cache_destroy(&cache);
    dfx_down(&fx);
}

int main(void)
{
    RUN(test_second_fetch_fetches_nothing);
    RUN(test_damaged_file_is_fetched_again);
    RUN(test_least_recently_used_goes_first);
    return TEST_REPORT("test_blob_cache");
}
