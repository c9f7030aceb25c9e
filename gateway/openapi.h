/*  openapi.h: the gateway's OpenAPI 3 document (GET /openapi.json), built
    from the production model's signature, so the record's field names,
    types, ranges, categories and required fields appear as they are served
    (FastAPI's /openapi.json, without a framework). No I/O: the caller
    gives the schema (NULL while no worker has sent one: records are then
    described as free objects) and answers.
*/
#ifndef MLOPS_OPENAPI_H
#define MLOPS_OPENAPI_H

#include <stddef.h>

#include "schema.h"

//  The document as JSON text (malloc'd, caller frees; *len its length), or
//  NULL when out of memory. model_name is the V2 model's name.
char *openapi_document(const schema_t *schema, const char *model_name, size_t *len);

#endif
