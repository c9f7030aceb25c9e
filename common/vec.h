/*  vec.h: the one growable array of the tree (h2o's H2O_VECTOR, in C11).

        VEC(fleet_worker_t) workers = {0};           //  at, len, cap
        if (vec_push(&workers, w) != 0) ...          //  MLOPS_ENOMEM
        workers.at[0] ...
        vec_free(&workers);

    Capacity doubles (from VEC_MIN_CAP), so n pushes cost O(n) copies; every
    size is checked for overflow before it is allocated, so a count taken
    from input cannot wrap into a small allocation. A failed reserve leaves
    the array as it was. The array owns only its storage: entries that own
    memory are freed by the caller before vec_free.

    Caveat: `at` moves when the array grows; a pointer to an entry is valid
    only until the next reserve or push.
*/
#ifndef MLOPS_VEC_H
#define MLOPS_VEC_H

#include <stddef.h>
#include <stdlib.h>

#include "err.h"

#define VEC_MIN_CAP 8   //  entries of the first allocation

//  An array of type: at (NULL while empty), len entries used, cap allocated.
#define VEC(type)       \
    struct {            \
        type *at;       \
        size_t len;     \
        size_t cap;     \
    }

//  Makes room for `extra` more entries after len. Returns 0, MLOPS_ENOMEM, or
//  MLOPS_ETOOBIG when the size in bytes would overflow.
#define vec_reserve(v, extra) vec_reserve_(&(v)->at, &(v)->cap, (v)->len, (extra), sizeof *(v)->at)

//  Appends x (evaluated once, after the room is made). Returns 0 or
//  MLOPS_ENOMEM (one more entry can only fail for want of memory).
#define vec_push(v, x) (vec_reserve((v), 1) ? MLOPS_ENOMEM : ((v)->at[(v)->len++] = (x), 0))

//  Frees the storage and empties the array.
#define vec_free(v) (free((v)->at), (v)->at = NULL, (v)->len = (v)->cap = 0)

//  The function behind vec_reserve, also for arrays kept as three fields of
//  a struct: at_field is the address of the array pointer (any T **), cap
//  its capacity in entries, len the entries in use. Grows *at_field so that
//  *cap >= len + extra.
int vec_reserve_(void *at_field, size_t *cap, size_t len, size_t extra, size_t elem_size);

#endif
