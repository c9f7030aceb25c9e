/*  fuzz_artifact.c: libFuzzer target for model_load (ml/model.c) on
    untrusted bytes: an inference worker loads whatever artifact GET_MODEL
    hands it, and `mlops-worker --model FILE` whatever file it is given.

    Whatever loads must validate and predict one Titanic record (complete and
    with fields missing) without crashing, with probabilities in [0, 1];
    whatever does not load must fail with a code and a message. Seeds in
    fuzz/corpus/artifact are small artifacts written by `mlops train --out`
    plus a truncated and a foreign file.
*/
#include "model.h"

#include <math.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_exercise(const model_t *model)
{
    proto_field_t full[] = {
        {"Pclass", PROTO_VAL_INT, 3, NULL},     {"Sex", PROTO_VAL_STR, 0, "male"},
        {"Age", PROTO_VAL_FLOAT, 22, NULL},     {"SibSp", PROTO_VAL_INT, 1, NULL},
        {"Parch", PROTO_VAL_INT, 0, NULL},      {"Fare", PROTO_VAL_FLOAT, 7.25, NULL},
        {"Embarked", PROTO_VAL_STR, 0, "S"},    {"Name", PROTO_VAL_STR, 0, "Braund, Mr. Owen"},
    };
    proto_record_t records[2] = {{full, 8}, {full, 3}};
    proto_problem_t problems[16];
    for (size_t i = 0; i < 2; i++) {
        if (model_validate(model, &records[i], 1, true, problems, 16) != 0)
            continue;
        double p = -1;
        mlops_err_t err = {0};
        if (model_predict(model, &records[i], 1, &p, &err) == 0 && !(p >= 0 && p <= 1))
            abort();
    }
    char *signature = model_signature_json(model);
    free(signature);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlops_err_t err = {0};
    model_t *model = model_load(data, size, &err);
    if (!model) {
        if (err.code == 0 || err.msg[0] == '\0')
            abort(); //  a refusal must say why
        return 0;
    }
    s_exercise(model);
    model_destroy(&model);
    return 0;
}
