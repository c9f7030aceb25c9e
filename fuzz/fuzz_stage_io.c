/*  fuzz_stage_io.c: libFuzzer target for the stage payload and control
    reply decoders (proto/stage_io.c, proto/control_io.c, proto/fields.c).

    The first byte picks the decoder, the rest is the payload; the round
    trip and what counts as a finding are fuzz_codec.h's.
*/
#include <stdint.h>

#include "control_io.h"
#include "fuzz_codec.h"
#include "stage_io.h"

static const fuzz_codec_t s_codecs[] = {
    FUZZ_CODEC(stage_extract_in, stage_extract_in_t, NULL),
    FUZZ_CODEC(stage_extract_out, stage_extract_out_t, NULL),
    FUZZ_CODEC(stage_preprocess_in, stage_preprocess_in_t, NULL),
    FUZZ_CODEC(stage_preprocess_out, stage_preprocess_out_t, NULL),
    FUZZ_CODEC(stage_train_in, stage_train_in_t, NULL),
    FUZZ_CODEC(stage_train_out, stage_train_out_t, NULL),
    FUZZ_CODEC(stage_evaluate_in, stage_evaluate_in_t, NULL),
    FUZZ_CODEC(stage_evaluate_out, stage_evaluate_out_t, NULL),
    FUZZ_CODEC(stage_load_model_in, stage_load_model_in_t, NULL),
    FUZZ_CODEC(stage_load_model_out, stage_load_model_out_t, NULL),
    FUZZ_CODEC(control_retrain, control_retrain_t, NULL),
    FUZZ_CODEC(control_status, control_status_t, control_status_clear),
    FUZZ_CODEC(control_runs, control_runs_t, control_runs_clear),
    FUZZ_CODEC(control_models, control_models_t, control_models_clear),
    FUZZ_CODEC(control_promote, control_promote_t, NULL),
    FUZZ_CODEC(control_model, control_model_t, NULL),
    FUZZ_CODEC(stage_split, stage_split_t, stage_split_clear),   //  last: the seeds' first bytes stay
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_codec_run(s_codecs, sizeof s_codecs / sizeof s_codecs[0], data, size);
}
