/*  fuzz_stage_io.c: libFuzzer target for the stage payload and control
    reply decoders (proto/stage_io.c, proto/control_io.c, proto/fields.c).

    The first byte picks the decoder, the rest is the payload. Whatever
    decodes must encode again, and that encoding must decode and re-encode to
    the same bytes (the tables give one canonical form). A refusal must say
    why. Any crash, leak or difference is a finding.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_io.h"
#include "stage_io.h"

typedef int (*s_dec_fn)(const uint8_t *, size_t, void *, mlops_err_t *);
typedef int (*s_enc_fn)(const void *, uint8_t **, size_t *);
typedef void (*s_clear_fn)(void *);

typedef struct {
    s_dec_fn decode;
    s_enc_fn encode;
    s_clear_fn clear;      //  NULL when the struct owns nothing
    size_t size;
} s_codec_t;

#define C(name, T, clear) {(s_dec_fn)name##_decode, (s_enc_fn)name##_encode, (s_clear_fn)(clear), sizeof(T)}

static const s_codec_t s_codecs[] = {
    C(stage_extract_in, stage_extract_in_t, NULL),
    C(stage_extract_out, stage_extract_out_t, NULL),
    C(stage_preprocess_in, stage_preprocess_in_t, NULL),
    C(stage_preprocess_out, stage_preprocess_out_t, NULL),
    C(stage_train_in, stage_train_in_t, NULL),
    C(stage_train_out, stage_train_out_t, NULL),
    C(stage_evaluate_in, stage_evaluate_in_t, NULL),
    C(stage_evaluate_out, stage_evaluate_out_t, NULL),
    C(stage_load_model_in, stage_load_model_in_t, NULL),
    C(stage_load_model_out, stage_load_model_out_t, NULL),
    C(control_retrain, control_retrain_t, NULL),
    C(control_status, control_status_t, control_status_clear),
    C(control_runs, control_runs_t, control_runs_clear),
    C(control_models, control_models_t, control_models_clear),
    C(control_promote, control_promote_t, NULL),
    C(control_model, control_model_t, NULL),
    C(stage_split, stage_split_t, stage_split_clear),   //  last: the seeds' first bytes stay
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const s_codec_t *c = &s_codecs[data[0] % (sizeof s_codecs / sizeof s_codecs[0])];
    void *first = malloc(c->size), *second = malloc(c->size);
    mlops_err_t err = {0};
    if (c->decode(data + 1, size - 1, first, &err) != 0) {
        if (err.code == 0 || err.msg[0] == '\0')
            abort();   //  a refusal must say why
        free(first);
        free(second);
        return 0;
    }
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    if (c->encode(first, &a, &alen) != 0)
        abort();
    if (c->decode(a, alen, second, &err) != 0) {
        fprintf(stderr, "decode of own encoding failed: %s\n", err.msg);
        abort();
    }
    if (c->encode(second, &b, &blen) != 0 || blen != alen || memcmp(a, b, alen) != 0)
        abort();
    if (c->clear) {
        c->clear(first);
        c->clear(second);
    }
    free(a);
    free(b);
    free(first);
    free(second);
    return 0;
}
