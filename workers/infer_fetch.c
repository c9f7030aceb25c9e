/*  infer_fetch.c: see infer_fetch.h. */
#include "infer_fetch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

//  Bytes claimed to be version's artifact, checked against the registry's
//  sha256 and (when known, >= 0) size, then loaded.
static model_t *s_check_and_load(int64_t version, const char *sha256, int64_t size,
                                 const uint8_t *bytes, size_t len, mlops_err_t *err)
{
    char got[HASH_HEX_LEN + 1];
    hash_sha256_hex(bytes, len, got);
    if (strcmp(got, sha256) != 0) {
        mlops_err_set(err, MLOPS_ECORRUPT, "version %" PRId64 " refused: its artifact hashes to %s, "
                      "the registry's sha256 is %s", version, got, sha256);
        return NULL;
    }
    if (size >= 0 && (uint64_t)size != len) {
        mlops_err_set(err, MLOPS_ECORRUPT, "version %" PRId64 " refused: its artifact has %zu bytes, "
                      "the registry says %" PRId64, version, len, size);
        return NULL;
    }
    mlops_err_t sub;
    mlops_err_clear(&sub);
    model_t *model = model_load(bytes, len, &sub);
    if (!model)
        mlops_err_set(err, sub.code, "version %" PRId64 " cannot be loaded: %s", version,
                      mlops_err_text(&sub, sub.code));
    return model;
}

model_t *infer_fetch_ref(data_client_t *client, blob_cache_t *cache, const control_model_ref_t *ref,
                         mlops_err_t *err)
{
    if (!client) {
        mlops_err_set(err, MLOPS_ESTATE, "version %" PRId64 " is in the data service, and this "
                      "worker has no data endpoint", ref->version);
        return NULL;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = blob_cache_fetch(cache, client, ref->sha256, &bytes, &len, &sub);
    if (rc == MLOPS_ECORRUPT) {   //  the data service's bytes are not the registry's
        mlops_err_set(err, rc, "version %" PRId64 " refused: %s", ref->version, sub.msg);
        return NULL;
    }
    if (rc) {
        mlops_err_set(err, rc, "version %" PRId64 " not fetched from %s: %s", ref->version,
                      data_client_endpoint(client), mlops_err_text(&sub, rc));
        return NULL;
    }
    //  data_client checked the bytes against the name asked for; checked
    //  here again, as the inline path is, so the rule is in one function
    model_t *model = s_check_and_load(ref->version, ref->sha256, ref->size, bytes, len, err);
    free(bytes);
    return model;
}

model_t *infer_fetch_load(data_client_t *client, blob_cache_t *cache, const uint8_t *data,
                          size_t len, int64_t *version, bool *by_ref, mlops_err_t *err)
{
    control_model_ref_t ref;
    control_model_t cm;
    mlops_err_t sub;
    model_t *model = NULL;
    *by_ref = control_model_ref_decode(data, len, &ref, &sub) == 0;
    if (*by_ref && (model = infer_fetch_ref(client, cache, &ref, err)))
        *version = ref.version;
    if (*by_ref)
        return model;
    if (control_model_decode(data, len, &cm, &sub) != 0) {
        mlops_err_set(err, MLOPS_EPROTO, "the broker's GET_MODEL answer is malformed: %s", sub.msg);
        return NULL;
    }
    if ((model = s_check_and_load(cm.version, cm.sha256, -1, cm.artifact, cm.artifact_len, err)))
        *version = cm.version;
    return model;
}
