/*  v2.h: the Open Inference Protocol's REST bodies (KServe / Triton "V2"),
    without I/O: an infer request's tensors turned into the same typed
    records a /predict body becomes (body.h), so both APIs share one
    PREDICT path; and the metadata answers built from a model's signature
    (schema.h). http_v2.c routes the paths and answers.

    A V2 request carries one tensor per model input, by name, each a column
    of the batch: shape [N] or [N, 1], a datatype (BOOL, UINT8..64,
    INT8..64, FP16/32/64, BYTES) and N values in row-major order (flat or
    nested). Row i of every tensor makes record i. What the tensors alone
    can tell is checked here, each refusal naming the tensor: an unknown
    datatype, a value that is not of it, shape against data length, tensors
    of different lengths, NaN or an infinity, and against the signature
    when one is known: an unknown or missing input, a datatype that does
    not fit the input's type, a BYTES value that is not a known category.
    Ranges are the inference worker's check (it holds the signature that
    served the request).

    The binary tensor extension (tritonclient's default) is refused with a
    400 that names the client option to turn it off: see v2.c.
*/
#ifndef MLOPS_V2_H
#define MLOPS_V2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"
#include "err.h"
#include "msg.h"
#include "schema.h"

#define V2_OUTPUT_PREDICT 1u       //  output "predict": the class (its label), or a value
#define V2_OUTPUT_PROBABILITY 2u   //  output "probability": P(class 1), or [n, k] per class
#define V2_ID_MAX_BYTES 256        //  longest request id echoed

typedef struct {
    body_t body;              //  the records (and the document owning their strings)
    char id[V2_ID_MAX_BYTES]; //  the request's "id", "" when none
    bool has_id;              //  "id" was given
    unsigned outputs;         //  V2_OUTPUT_* asked for (both when "outputs" is absent)
} v2_infer_t;

//  Parses a V2 infer body (len bytes) into records, at most rows_max rows,
//  checked against schema when it is not NULL. Returns 0; MLOPS_EPROTO
//  when the body is not JSON or not a request this model can take (err says
//  which tensor and what is wrong: a 400); MLOPS_ENOMEM. self is always
//  left ready for v2_infer_clear.
int v2_infer_parse(v2_infer_t *self, const char *text, size_t len, const schema_t *schema,
                   size_t rows_max, mlops_err_t *err);

//  v2_infer_parse without its fast path (jansson and the document alone):
//  the same contract, for the fuzz target that checks both paths agree.
int v2_infer_parse_full(v2_infer_t *self, const char *text, size_t len, const schema_t *schema,
                        size_t rows_max, mlops_err_t *err);

//  Frees what v2_infer_parse allocated.
void v2_infer_clear(v2_infer_t *self);

//  The V2 datatype a signature type travels as (INT64, FP64, BYTES).
const char *v2_datatype_of(schema_type_t type);

//  Model metadata: name, the versions served, platform, inputs from the
//  signature (NULL: an empty list) and the outputs of its task (a regression
//  model has predict only; a multiclass one a [-1, k] probability). Malloc'd JSON text,
//  NULL when out of memory.
char *v2_model_metadata(const char *name, const int64_t *versions, size_t n_versions,
                        const schema_t *schema, size_t *len);

//  Server metadata: name, version, extensions. Malloc'd JSON text.
char *v2_server_metadata(size_t *len);

//  The repository index: one entry per version, state READY when served.
char *v2_repository_index(const char *name, const int64_t *versions, size_t n_versions,
                          size_t *len);

//  Parses a version path segment ("5"): its value, or 0 when it is not a
//  positive decimal.
int64_t v2_version_parse(const char *text, size_t len);

#endif
