/*  artifact.h: the msgpack codec of model artifacts and of the recipe blob
    (proto/PROTOCOL.md, "Artifacts", is the normative description).

    An artifact is one msgpack array

        ["mlops-artifact", format, sha256, body]

    where format is ARTIFACT_FORMAT, sha256 the lower-case hex digest of the
    body bytes and body a bin holding a msgpack map: family, params, seed,
    recipe (bin: the recipe blob), model, signature (JSON text), metrics,
    n_train, n_test. Keeping the body as bytes behind a digest lets a
    reader tell a foreign blob (no magic), a newer one (format), a damaged
    one (digest) and a truncated one (short read) apart before decoding any
    of the model.

    Formats: 1 is a binary model; 2 (ARTIFACT_FORMAT) adds the other task
    types. A binary model is still written as format 1, byte for byte as
    before, so its digest and every stored binary artifact stay valid; a
    multiclass or regression model is written as format 2, which an older
    build refuses as newer (MLOPS_EVERSION) instead of misreading it. In
    format 2 the recipe carries "task" ("multiclass", "regression") and
    "classes" (the labels, numbers or strings, in class order; [] for
    regression) in place of "positive"/"negative"; a multiclass logreg's
    model is {"coef": K*p weights, class-major, "intercepts": K}; a
    multiclass forest adds "n_classes" and "leaves" (bin: K little-endian
    f64 fractions per leaf; a leaf node's left field is its leaf row); and
    "metrics" holds the task's metrics: {accuracy, macro_f1, log_loss,
    confusion: K*K counts, true class major} or {r2, rmse, mae}.

    Family "gbdt" (format 2 whatever its task, so a format-1 build says
    "newer" instead of "corrupt"; a gbdt body in a format-1 envelope is
    refused): model is {"n_features", "n_outputs" (K for multiclass, else
    1), "baseline": n_outputs raw values, "n_trees", "roots" (bin: u32 per
    tree), "nodes" (bin: 21 bytes per node: f64 value, i32 feature, u32
    left, u32 cat_set, u8 flags: 1 missing goes left, 2 categorical),
    "cat_sets" (bin: 4 u64 words per level set)}, all little-endian; tree
    t's output is t % n_outputs. gbdt_new checks every array.

    Any format may end its body with an optional "profile" key (bin: the
    reference profile of the training rows, proto/PROFILE.md), written only
    when the artifact has one. An artifact without it encodes exactly as
    before, and a build that predates it ignores the key, so the format
    number does not change; a model without a profile is not watched for
    drift. A profile that does not decode or does not have the shape
    profile_fit gives the recipe makes the artifact corrupt.
*/
#ifndef MLOPS_ARTIFACT_H
#define MLOPS_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "forest.h"
#include "gbdt.h"
#include "logreg.h"
#include "prep.h"
#include "profile.h"
#include "records.h"
#include "score.h"

#define ARTIFACT_MAGIC "mlops-artifact"
#define ARTIFACT_FORMAT 2        //  newest format read and written
#define ARTIFACT_FORMAT_BINARY 1 //  binary logreg and forest models are still written so
#define ARTIFACT_FORMAT_GBDT 2   //  the first format holding gbdt models
#define ARTIFACT_PARAMS_MAX 256 //  bytes of params JSON kept

//  What an artifact holds, decoded (owned) or to encode (borrowed).
typedef struct {
    char family[16];           //  "logreg", "forest" or "gbdt"
    char params[ARTIFACT_PARAMS_MAX]; //  parameters as compact JSON
    uint64_t seed;             //  training seed
    uint8_t *recipe;           //  recipe blob (artifact_recipe_encode)
    size_t recipe_len;
    logreg_t *logreg;          //  when family is logreg
    forest_t *forest;          //  when family is forest
    gbdt_t *gbdt;              //  when family is gbdt
    char *signature;           //  JSON text (prep_signature_json)
    metrics_t metrics;         //  on the held-out rows at training (BINARY)
    score_t score;             //  the same for any task (BINARY: bin = metrics), owned
    uint64_t n_train, n_test;  //  rows used
    profile_t *profile;        //  reference profile of the training rows, or NULL
} artifact_t;

//  Encodes a into a malloc'd blob the caller frees. Returns 0, MLOPS_EINVAL
//  (no model for the family) or MLOPS_ENOMEM.
int artifact_encode(const artifact_t *a, uint8_t **out, size_t *out_len);

//  Decodes a blob into *a (which then owns everything; artifact_clear it).
//  Returns 0 or, with err: MLOPS_EFOREIGN (not an artifact: no magic),
//  MLOPS_EVERSION (a newer format), MLOPS_ECORRUPT (truncated, digest
//  mismatch, a malformed or inconsistent body), MLOPS_ENOMEM.
int artifact_decode(const uint8_t *blob, size_t len, artifact_t *a, mlops_err_t *err);

//  Frees what artifact_decode filled and zeroes *a. Safe on a zeroed one.
void artifact_clear(artifact_t *a);

//  The recipe as msgpack (the opaque blob of train.h). Returns 0 or
//  MLOPS_ENOMEM.
int artifact_recipe_encode(const prep_recipe_t *r, uint8_t **out, size_t *out_len);

//  Decodes a recipe blob strictly. NULL with err MLOPS_ECORRUPT (naming the
//  key) or MLOPS_ENOMEM.
prep_recipe_t *artifact_recipe_decode(const uint8_t *data, size_t len, mlops_err_t *err);

#endif
