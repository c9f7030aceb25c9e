/*  extract_feedback.h: extract's sources that are more than one file or
    generator (proto/source.h): "csv:PATH" (a path said as one) and
    "BASE+feedback", the base's table followed by the broker's feedback
    set (labelled live rows), columns matched by name to the base's header
    and each label written into the target column.

    The base is extracted as any source is (stage_extract_run on it, so a
    path keeps every rule of --data-root and the byte cap), then fetched
    back and joined with the set the broker named in the TASK's `dataset`;
    workers never read the store. A field a live row lacks is a missing
    cell; one the base has no column for is dropped.
*/
#ifndef MLOPS_EXTRACT_FEEDBACK_H
#define MLOPS_EXTRACT_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "stage_io.h"

//  True when in's source is one of the forms above (extract_feedback_run
//  reads it), false for the plain ones stage_extract_run reads itself.
bool extract_feedback_wanted(const stage_extract_in_t *in);

//  Extracts in's source as the agent handler does (arg: the stage's
//  data client), its output into *output. Returns 0 or an error with err
//  naming the part: the base's own errors, MLOPS_ENOTFOUND (the broker
//  sent no feedback set), MLOPS_EPROTO (a set that does not decode),
//  MLOPS_ECHECK (a label that does not fit the target column).
int extract_feedback_run(void *arg, const stage_extract_in_t *in, uint8_t **output,
                         size_t *output_len, mlops_err_t *err);

#endif
