/*  mpcheck.h: a bounds pre-check for untrusted msgpack, run before msgpack-c.

    msgpack-c's unpacker allocates n * sizeof(msgpack_object) for an array or
    map header as soon as it reads the header, before it knows whether n
    elements follow: five bytes (dd ff ff ff ff) ask for ~100 GB. This walk
    reads only headers, checks that every container's element count and
    every string/bin length fit in the bytes that remain, and so bounds what
    the real unpack will allocate by a small multiple of the input size.
*/
#ifndef MLOPS_MPCHECK_H
#define MLOPS_MPCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

//  Walks one msgpack object at data (len bytes). Returns 0 and the object's
//  size in *used, or MLOPS_EPROTO with err naming the byte offset when the
//  input is truncated, uses the reserved byte 0xc1, an ext type (we never
//  send those) or nests deeper than max_depth.
int mpcheck_object(const uint8_t *data, size_t len, size_t max_depth, size_t *used,
                   mlops_err_t *err);

#endif
