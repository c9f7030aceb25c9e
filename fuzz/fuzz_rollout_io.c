/*  fuzz_rollout_io.c: libFuzzer target for the decoders of a canary or
    shadow rollout (proto/rollout_io.c): the report a gateway sends in a
    CANARY request (byte 0 even) and the rollout state the broker answers
    and keeps in its store (byte 0 odd). The rest is the payload; the round
    trip and what counts as a finding are fuzz_codec.h's.
*/
#include <stdint.h>

#include "fuzz_codec.h"
#include "rollout_io.h"

static const fuzz_codec_t s_codecs[] = {
    FUZZ_CODEC(rollout_report, rollout_report_t, NULL),
    FUZZ_CODEC(rollout_state, rollout_state_t, NULL),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_codec_run(s_codecs, sizeof s_codecs / sizeof s_codecs[0], data, size);
}
