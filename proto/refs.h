/*  refs.h: the blob names a stored stage payload holds (PROTOCOL.md
    section 14), for the store's object collection: every map in it with a
    "hash" key whose value is 64 lower-case hex digits, at any depth. It
    does not need to know each stage's payload, so a new payload key that
    holds a ref is found without a change here.
*/
#ifndef MLOPS_REFS_H
#define MLOPS_REFS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

//  Called once per name found (NUL-terminated, borrowed for the call);
//  returns 0 to go on or an error code that stops the walk.
typedef int (refs_fn)(void *arg, const char hash[HASH_HEX_LEN + 1]);

//  Walks the msgpack object at data. Returns 0, fn's code, or
//  MLOPS_EPROTO (not one msgpack object) / MLOPS_ENOMEM with err.
int refs_find(const uint8_t *data, size_t len, refs_fn *fn, void *arg, mlops_err_t *err);

#endif
