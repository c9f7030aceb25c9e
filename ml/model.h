/*  model.h: a loaded model artifact, the one path from raw records to
    probabilities. Training (train.h) writes artifacts; the evaluate,
    load_model and infer workers and `mlops train` read them through here,
    so training and serving can never disagree on preprocessing.

    An artifact is a versioned msgpack blob (see proto/PROTOCOL.md,
    "Artifacts") holding the fitted preprocessing, the classifier, the input
    signature (field names, types, allowed categories, which may be missing)
    and the metrics recorded at training.

    A model_t is immutable once loaded and safe to share between threads.
*/
#ifndef MLOPS_MODEL_H
#define MLOPS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"
#include "prep.h"
#include "records.h"
#include "table.h"
#include "task.h"

#define MODEL_ARTIFACT_VERSION 2 //  newest artifact format read (artifact.h)

typedef struct model model_t;

//  Loads an artifact. Returns NULL with err: MLOPS_EFOREIGN (not an
//  artifact), MLOPS_EVERSION (newer format), MLOPS_ECORRUPT (truncated,
//  inconsistent), MLOPS_ENOMEM.
model_t *model_load(const uint8_t *blob, size_t len, mlops_err_t *err);

//  Frees; ignores NULL; sets *p to NULL.
void model_destroy(model_t **p);

//  Family name ("logreg", "forest", "gbdt"). Borrowed, lives as long as the model.
const char *model_family(const model_t *self);

//  Metrics recorded in the artifact.
const metrics_t *model_metrics(const model_t *self);

//  The fitted preprocessing (prep.h, its contract signature.h), borrowed for
//  the model's lifetime.
struct prep_recipe;
const struct prep_recipe *model_recipe(const model_t *self);

//  The reference profile of the training rows (proto/profile.h), borrowed
//  for the model's lifetime; NULL for an artifact made before profiles
//  (such a version is not watched for drift).
struct profile;
const struct profile *model_profile(const model_t *self);

//  What the model predicts, and its metrics for that task (score.h),
//  borrowed for the model's lifetime.
task_t model_task(const model_t *self);
struct score_s;
const struct score_s *model_score(const model_t *self);

//  Values per row of model_predict_outputs: the class count for a
//  multiclass model, else 1.
size_t model_outputs(const model_t *self);

//  Outputs for rows of a raw table into out (n x model_outputs): P(class 1)
//  (binary), the class probabilities (multiclass), the prediction
//  (regression). Returns 0 or MLOPS_ENOMEM.
int model_predict_outputs(const model_t *self, const table_t *raw, const size_t *rows, size_t n,
                          double *out, mlops_err_t *err);

//  Checks records against the signature. Writes up to max problems (index is
//  the record's position, or -1 when single is true) whose strings are
//  borrowed from the model or static. Returns the number of problems found
//  (which may exceed max).
size_t model_validate(const model_t *self, const proto_record_t *records, size_t n,
                      bool single, proto_problem_t *problems, size_t max);

//  One value per record, whatever the task (so a caller's n-sized buffer
//  always fits): the probability of the positive class (binary), the index
//  of the most probable class (multiclass), the prediction (regression).
//  Probability of the positive class for n raw records (already validated;
//  a record that fails validation gives MLOPS_ECHECK, its message naming
//  the first problem). Thread-safe.
int model_predict(const model_t *self, const proto_record_t *records, size_t n,
                  double *proba, mlops_err_t *err);

//  The serving path: model_validate and model_predict in one walk, each
//  record mapped to the signature and checked once, its checked cells
//  transformed. Problems as model_validate, their number in *bad; proba
//  (n entries) is filled only when *bad is 0. Returns 0 (then look at
//  *bad) or MLOPS_ENOMEM. Thread-safe.
int model_serve(const model_t *self, const proto_record_t *records, size_t n, bool single,
                proto_problem_t *problems, size_t max, size_t *bad, double *proba,
                mlops_err_t *err);

//  model_serve with every output of each record: out gets n x
//  model_outputs values (the class probabilities of a multiclass model).
//  Thread-safe.
int model_serve_outputs(const model_t *self, const proto_record_t *records, size_t n,
                        bool single, proto_problem_t *problems, size_t max, size_t *bad,
                        double *out, mlops_err_t *err);

//  The inference worker's serving of a batch: model_serve_outputs for a
//  multiclass model (model_outputs values a record in out), model_serve
//  for any other (one), that also leaves each record's checked cells in
//  cells (n x model_recipe's n_inputs; strings borrowed from the records),
//  so the live profile (workers/infer_profile.h) counts them without
//  mapping the records again. Same returns.
int model_serve_cells(const model_t *self, const proto_record_t *records, size_t n,
                      proto_problem_t *problems, size_t max, size_t *bad, double *out,
                      prep_cell_t *cells, mlops_err_t *err);

//  The most probable of k class probabilities (ties to the lower index, as
//  numpy's argmax): the class model_predict answers.
size_t model_class_of(const double *probs, size_t k);

//  A multiclass model's class labels in class order as a JSON array text
//  (strings, or numbers for a numeric target), NULL for other tasks.
//  Borrowed, lives as long as the model.
const char *model_classes_json(const model_t *self);

//  Same for rows of a raw table (as extract produced it), e.g. the test split.
int model_predict_table(const model_t *self, const table_t *raw, const size_t *rows,
                        size_t n, double *proba, mlops_err_t *err);

//  The signature as a JSON text, for /health and docs; a multiclass or
//  regression model's names its "task" (and "classes": the labels in
//  class order); a binary model's has neither. Caller frees.
char *model_signature_json(const model_t *self);

#endif
