/*  dict.c: see dict.h. FNV-1a hashes, linear probing, load factor <= 1/2. */
#include "dict.h"

#include "err.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct dict_t {
    char **levels;      //  n_levels strings in code order, owned
    size_t *lens;       //  byte length of each level
    size_t n_levels;    //  distinct strings so far
    size_t cap_levels;  //  allocated entries of levels and lens
    uint32_t *slots;    //  n_slots entries: code + 1, or 0 when empty
    uint64_t *hashes;   //  n_slots entries: the hash of the string in the slot
    size_t n_slots;     //  a power of two, at least twice n_levels
};

static uint64_t s_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

//  Rebuilds the slot array with n_slots slots (a power of two).
static int s_rehash(dict_t *self, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    uint64_t *hashes = malloc(n_slots * sizeof *hashes);
    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return MLOPS_ENOMEM;
    }
    for (size_t i = 0; i < self->n_slots; i++) {
        if (!self->slots[i])
            continue;
        size_t j = self->hashes[i] & (n_slots - 1);
        while (slots[j])
            j = (j + 1) & (n_slots - 1);
        slots[j] = self->slots[i];
        hashes[j] = self->hashes[i];
    }
    free(self->slots);
    free(self->hashes);
    self->slots = slots;
    self->hashes = hashes;
    self->n_slots = n_slots;
    return 0;
}

dict_t *dict_new(size_t hint)
{
    dict_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t n_slots = 16;
    while (n_slots < 2 * hint && n_slots < ((size_t)1 << 24))
        n_slots *= 2;
    if (s_rehash(self, n_slots) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void dict_destroy(dict_t **p)
{
    if (!p || !*p)
        return;
    dict_t *self = *p;
    for (size_t i = 0; i < self->n_levels; i++)
        free(self->levels[i]);
    free(self->levels);
    free(self->lens);
    free(self->slots);
    free(self->hashes);
    free(self);
    *p = NULL;
}

//  Appends a copy of s as the next level.
static int s_append(dict_t *self, const char *s, size_t len)
{
    if (self->n_levels == self->cap_levels) {
        size_t cap = self->cap_levels ? 2 * self->cap_levels : 16;
        char **levels = realloc(self->levels, cap * sizeof *levels);
        if (!levels)
            return MLOPS_ENOMEM;
        self->levels = levels;
        size_t *lens = realloc(self->lens, cap * sizeof *lens);
        if (!lens)
            return MLOPS_ENOMEM;
        self->lens = lens;
        self->cap_levels = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return MLOPS_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    self->levels[self->n_levels] = copy;
    self->lens[self->n_levels] = len;
    self->n_levels++;
    return 0;
}

int dict_intern(dict_t *self, const char *s, size_t len, uint32_t *code)
{
    assert(self && (s || len == 0) && code);
    uint64_t h = s_hash(s, len);
    size_t mask = self->n_slots - 1;
    size_t j = h & mask;
    while (self->slots[j]) {
        uint32_t c = self->slots[j] - 1;
        if (self->hashes[j] == h && self->lens[c] == len
            && memcmp(self->levels[c], s, len) == 0) {
            *code = c;
            return 0;
        }
        j = (j + 1) & mask;
    }
    if (self->n_levels >= DICT_MAX_LEVELS)
        return MLOPS_ETOOBIG;
    int rc = s_append(self, s, len);
    if (rc != 0)
        return rc;
    self->slots[j] = (uint32_t)self->n_levels;
    self->hashes[j] = h;
    *code = (uint32_t)(self->n_levels - 1);
    if (2 * self->n_levels > self->n_slots && s_rehash(self, 2 * self->n_slots) != 0) {
        //  The level is in but the table is full past its load factor; undo
        //  so the dictionary stays consistent.
        self->slots[j] = 0;
        free(self->levels[--self->n_levels]);
        return MLOPS_ENOMEM;
    }
    return 0;
}

size_t dict_size(const dict_t *self)
{
    assert(self);
    return self->n_levels;
}

const char *dict_string(const dict_t *self, uint32_t code)
{
    assert(self && code < self->n_levels);
    return self->levels[code];
}

char **dict_take_levels(dict_t *self)
{
    assert(self);
    if (self->n_levels == 0)
        return NULL;
    char **levels = self->levels;
    memset(self->slots, 0, self->n_slots * sizeof *self->slots);
    self->levels = NULL;
    self->cap_levels = 0;
    self->n_levels = 0;
    return levels;
}
