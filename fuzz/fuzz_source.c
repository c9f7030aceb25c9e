/*  fuzz_source.c: libFuzzer target for proto/source.c, the grammar of a
    run's source that the broker checks on every RETRAIN.

    The input is the source text (up to its first NUL). Whatever the bytes,
    source_parse answers 0 or MLOPS_EINVAL with a sentence, and writes the
    kind the text has by its shape either way. What it accepts holds: a
    synthetic source has its rows within the limits and reads back the
    same from its canonical spelling, a dataset names a 64-digit lower-case
    hex hash, and nothing accepted is longer than the limit or holds a
    control byte. Any other outcome, crash or leak is a finding.
*/
#include "source.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_source: %s\n", what);
    abort();
}

static void s_check_accepted(const char *text, const source_t *s)
{
    size_t n = strlen(text);
    if (n == 0 || n > SOURCE_MAX_BYTES)
        s_fail("a source of a length the grammar refuses was accepted");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            s_fail("a source with a control byte was accepted");
    if (s->kind == SOURCE_SYNTHETIC) {
        if (s->rows < SOURCE_SYNTH_MIN_ROWS || s->rows > SOURCE_SYNTH_MAX_ROWS)
            s_fail("synthetic rows outside the limits were accepted");
        char again[64];
        snprintf(again, sizeof again, "synthetic:%zu:%" PRIu64, s->rows, s->seed);
        source_t back;
        mlops_err_t err;
        if (source_parse(again, &back, &err) != 0 || back.rows != s->rows || back.seed != s->seed)
            s_fail("a synthetic source does not read back from its canonical spelling");
    } else if (s->kind == SOURCE_DATASET) {
        if (strlen(s->hash) != HASH_HEX_LEN || strspn(s->hash, "0123456789abcdef") != HASH_HEX_LEN)
            s_fail("a dataset source without a 64-digit lower-case hex hash was accepted");
    } else if (s->kind != SOURCE_PATH)
        s_fail("an unknown kind");
    //  the base reads back as itself, never joined again; a joined dataset is refused
    source_t base;
    mlops_err_t err;
    if (s->base[0] == '\0' || strlen(s->base) > n)
        s_fail("an accepted source has an empty or longer base");
    if (s->feedback && s->kind == SOURCE_DATASET)
        s_fail("a stored dataset joined with the feedback set was accepted");
    if (strcmp(s->base, text) != 0
        && (source_parse(s->base, &base, &err) != 0 || base.feedback || base.kind != s->kind))
        s_fail("a source's base does not read back as the same kind, unjoined");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    source_t s;
    mlops_err_t err = {0};
    int rc = source_parse(text, &s, &err);
    if (rc != 0 && (rc != MLOPS_EINVAL || err.code != MLOPS_EINVAL || !err.msg[0]))
        s_fail("a refusal that is not MLOPS_EINVAL with a sentence");
    if (s.kind != SOURCE_SYNTHETIC && s.kind != SOURCE_DATASET && s.kind != SOURCE_PATH)
        s_fail("no kind written");
    if (rc == 0)
        s_check_accepted(text, &s);
    free(text);
    return 0;
}
