/*  vec.c: see vec.h. */
#include "vec.h"

#include <stdint.h>
#include <string.h>

int vec_reserve_(void *at_field, size_t *cap, size_t len, size_t extra, size_t elem_size)
{
    if (extra > SIZE_MAX - len)
        return MLOPS_ETOOBIG;
    size_t need = len + extra, have = *cap > len ? *cap : len;
    if (need <= *cap)
        return 0;
    size_t grown = have ? have : VEC_MIN_CAP;
    while (grown < need)
        grown = grown > SIZE_MAX / 2 ? need : grown * 2;
    if (elem_size && grown > SIZE_MAX / elem_size)
        return MLOPS_ETOOBIG;
    //  the field is some T *: read and write it as bytes, which every object
    //  pointer shares with void * on the platforms we build for
    void *at;
    memcpy(&at, at_field, sizeof at);
    void *moved = realloc(at, grown * elem_size);
    if (!moved)
        return MLOPS_ENOMEM;
    memcpy(at_field, &moved, sizeof moved);
    *cap = grown;
    return 0;
}
