/*  utf8.h: the one UTF-8 check of the gateway, shared by the body parser
    (which must refuse what jansson refuses) and the answer writer (which
    must never echo bytes that would make its JSON invalid). */
#ifndef MLOPS_UTF8_H
#define MLOPS_UTF8_H

#include <stddef.h>

//  Length (2..4) of the valid multi-byte UTF-8 sequence at p, or 0 when the
//  bytes there are not one (overlong forms, surrogates and code points past
//  U+10FFFF included). p must be NUL-terminated or have 4 readable bytes.
static inline size_t utf8_sequence_len(const unsigned char *p)
{
    size_t n = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 && p[0] < 0xF0 ? 3
             : p[0] >= 0xC2 && p[0] < 0xE0 ? 2 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0)
        || (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

#endif
