/*  mpcheck.c: see mpcheck.h. One pass over the headers with a stack of
    "elements still to read" per open container. */
#include "mpcheck.h"

#include <assert.h>

#define MPCHECK_STACK_MAX 64 //  deeper input is refused whatever max_depth says

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Reads the header at data[*off]: payload bytes to skip and child elements.
//  Returns 0 or -1 (reserved byte, ext type, header cut short).
static int s_header(const uint8_t *data, size_t len, size_t *off, uint64_t *skip,
                    uint64_t *children)
{
    uint8_t b = data[(*off)++];
    size_t extra = 0; //  size of the length field after the type byte
    *skip = 0;
    *children = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if (b >= 0x80 && b <= 0x8f) {
        *children = 2 * (uint64_t)(b & 0x0f);
        return 0;
    }
    if (b >= 0x90 && b <= 0x9f) {
        *children = b & 0x0f;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        *skip = b & 0x1f;
        return 0;
    }
    switch (b) {
    case 0xca: *skip = 4; return 0;
    case 0xcb: *skip = 8; return 0;
    case 0xcc: case 0xd0: *skip = 1; return 0;
    case 0xcd: case 0xd1: *skip = 2; return 0;
    case 0xce: case 0xd2: *skip = 4; return 0;
    case 0xcf: case 0xd3: *skip = 8; return 0;
    case 0xc4: case 0xd9: extra = 1; break;
    case 0xc5: case 0xda: case 0xdc: case 0xde: extra = 2; break;
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: extra = 4; break;
    default: return -1; //  0xc1 and the ext family
    }
    if (len - *off < extra)
        return -1;
    uint64_t n = s_be(data + *off, extra);
    *off += extra;
    if (b == 0xdc || b == 0xdd)
        *children = n;
    else if (b == 0xde || b == 0xdf)
        *children = 2 * n;
    else
        *skip = n;
    return 0;
}

int mpcheck_object(const uint8_t *data, size_t len, size_t max_depth, size_t *used,
                   mlops_err_t *err)
{
    assert(data || len == 0);
    uint64_t stack[MPCHECK_STACK_MAX]; //  elements left in each open container
    size_t depth = 0;
    size_t off = 0;
    if (max_depth > MPCHECK_STACK_MAX)
        max_depth = MPCHECK_STACK_MAX;
    do {
        size_t at = off;
        uint64_t skip, children;
        if (off >= len)
            return mlops_err_set(err, MLOPS_EPROTO, "msgpack truncated at byte %zu", at);
        if (s_header(data, len, &off, &skip, &children) != 0)
            return mlops_err_set(err, MLOPS_EPROTO, "msgpack: bad or unsupported type 0x%02x at byte %zu",
                                 data[at], at);
        //  Every element takes at least one byte, so a count past the bytes
        //  left is a lie we can catch before anything is allocated for it.
        if (skip > len - off || children > len - off)
            return mlops_err_set(err, MLOPS_EPROTO,
                                 "msgpack length at byte %zu runs past the end (%zu bytes)", at, len);
        off += (size_t)skip;
        if (depth > 0)
            stack[depth - 1]--;
        if (children > 0) {
            if (depth >= max_depth)
                return mlops_err_set(err, MLOPS_EPROTO, "msgpack nested deeper than %zu at byte %zu",
                                     max_depth, at);
            stack[depth++] = children;
        }
        while (depth > 0 && stack[depth - 1] == 0)
            depth--;
    } while (depth > 0);
    *used = off;
    return 0;
}
