/*  answer.h: the JSON bodies the gateway answers with.

    Success bodies follow the reference service exactly:
        /predict        {"prediction":0,"probability":0.11,"model_version":3}
        /predict/batch  {"predictions":[...],"probabilities":[...],"model_version":3}
    and error bodies follow FastAPI's shape, so clients written for the
    reference keep working:
        422             {"detail":[{"loc":["body","instances",4,"Age"],"msg":"..."}]}
        every other     {"detail":"what went wrong"}
        400             {"detail":"...","position":17}   (byte of the syntax error)
    The Open Inference Protocol (V2) answers have that protocol's shapes:
    {"model_name":..,"outputs":[...]} and {"error": "..."}.

    Every function returns a malloc'd NUL-terminated body the caller frees
    and stores its length in *len, or NULL when out of memory.
*/
#ifndef MLOPS_ANSWER_H
#define MLOPS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"

//  Body for a PREDICTION message: one record when batch is false (uses the
//  first entry), the whole list when true. By the PREDICTION's task:
//      binary      as above
//      multiclass  {"prediction":"b","probabilities":{"a":0.1,"b":0.8,"c":0.1},"model_version":3}
//                  batch: {"predictions":["b",..],"probabilities":[{..},..],"model_version":3}
//      regression  {"prediction":151.3,"model_version":3}, batch {"predictions":[..],..}
//  A label is written as the worker sent it: a string, or a number (then
//  quoted as a key). NULL too for a multiclass PREDICTION whose labels are
//  wrong (answer_prediction_make says what is wrong).
char *answer_prediction(const proto_msg_t *prediction, bool batch, size_t *len);

//  The same with "request_id":ID after "model_version" (NULL or "" = none,
//  then byte for byte answer_prediction's).
char *answer_prediction_id(const proto_msg_t *prediction, bool batch, const char *request_id,
                           size_t *len);

//  answer_prediction_id's body in *body (NULL when out of memory), checking
//  as it goes what it reads from a PREDICTION beyond the codec's checks: a
//  multiclass one's class labels, a JSON list of k strings or numbers,
//  read once per answer. Returns 0, or MLOPS_EPROTO / MLOPS_ENOMEM with why
//  (size bytes) saying what is wrong and *body NULL.
int answer_prediction_make(const proto_msg_t *prediction, bool batch, const char *request_id,
                           char **body, size_t *len, char *why, size_t size);

//  Body for a 422: the n problems listed (of total found; when total > n a
//  last entry says how many more there were). A problem with index >= 0 is
//  located in "instances", one with index -1 at the top of the body; single
//  puts every problem at the top (a /predict record, which the worker
//  validated as record 0).
char *answer_problems(const proto_problem_t *problems, size_t n, size_t total, bool single,
                      size_t *len);

//  Body {"detail": message}.
char *answer_detail(const char *message, size_t *len);

//  Body {"detail": message, "position": position} for a syntax error.
char *answer_syntax(const char *message, size_t position, size_t *len);

//  Open Inference Protocol (V2) infer answer for a PREDICTION:
//  {"model_name":..,"model_version":"3","id":..,"outputs":[{"name":"predict",
//  "datatype":"INT64","shape":[n],"data":[..]},{"name":"probability",...}]},
//  with the outputs asked for; id NULL leaves it out. A multiclass model's
//  predict holds the labels (BYTES, INT64 or FP64 as they are) and its
//  probability has shape [n, k]; a regression model's predict is FP64 and
//  it has no probability (left out even when asked for).
//  Binary as above.
char *answer_v2_infer(const proto_msg_t *prediction, const char *model_name, const char *id,
                      bool predict, bool probability, size_t *len);

//  answer_v2_infer's body, checked as answer_prediction_make checks.
int answer_v2_make(const proto_msg_t *prediction, const char *model_name, const char *id,
                   bool predict, bool probability, char **body, size_t *len, char *why,
                   size_t size);

//  V2 error body {"error": message}.
char *answer_v2_error(const char *message, size_t *len);

//  V2 error body for a worker's validation problems (n shown of total), one
//  sentence naming each input and row: {"error":"input 'Age' row 3: must be >= 0; ..."}.
char *answer_v2_problems(const proto_problem_t *problems, size_t n, size_t total, size_t *len);

//  Writes a decimal that reads back as v (JSON null for NaN and infinities)
//  into out (at least 32 bytes): the shortest one for 1e-4 < v < 1 (where
//  probabilities live), 16 or 17 significant digits elsewhere. Returns the
//  length written.
size_t answer_number(double v, char *out);

#endif
