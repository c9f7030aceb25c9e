/*  mpjson.h: msgpack to JSON text, for the gateway's /api endpoints, which
    pass broker REPLY data (runs, models, status) to the dashboard as JSON.

    Maps become objects (keys must be strings), arrays arrays, nil null,
    booleans and numbers as themselves (a whole float keeps its ".0"; NaN
    and infinities, which JSON cannot carry, become null), strings are
    escaped, and bin values become {"bin_bytes": N}: artifacts are never
    shipped to a browser. The CLI's --json goes through it too.
*/
#ifndef MLOPS_MPJSON_H
#define MLOPS_MPJSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MPJSON_DEPTH_MAX 32  //  deeper nesting is refused

//  Converts exactly one msgpack object (data, len) into a malloc'd
//  NUL-terminated JSON text (caller frees). Returns NULL with err:
//  MLOPS_EPROTO (malformed, trailing bytes, non-string key, too deep),
//  MLOPS_ENOMEM.
char *mpjson_from_msgpack(const uint8_t *data, size_t len, mlops_err_t *err);

#endif
