/*  dict.c: see dict.h. Word-wise multiplicative hashes, linear probing,
    load factor <= 1/2. */
#include "dict.h"

#include "err.h"
#include "vec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  A slot holds everything a lookup needs, so a hit costs one cache miss
//  for the slot and one for the string.
typedef struct {
    uint64_t hash;      //  of the string
    const char *str;    //  the level (owned through levels), NULL when empty
    size_t len;         //  its length
    uint32_t code;      //  its code
} s_slot_t;

struct dict_t {
    char **levels;      //  n_levels strings in code order, owned
    size_t n_levels;    //  distinct strings so far
    size_t cap_levels;  //  allocated entries of levels
    s_slot_t *slots;    //  n_slots slots
    size_t n_slots;     //  a power of two, at least twice n_levels
};

//  Eight bytes at a time, multiply and fold: strings here are short (names,
//  tickets, numbers), and a byte-wise FNV showed up in profiles.
static uint64_t s_hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, len - i);
    h = (h ^ tail) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

//  Rebuilds the slot array with n_slots slots (a power of two).
static int s_rehash(dict_t *self, size_t n_slots)
{
    s_slot_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return MLOPS_ENOMEM;
    for (size_t i = 0; i < self->n_slots; i++) {
        if (!self->slots[i].str)
            continue;
        size_t j = self->slots[i].hash & (n_slots - 1);
        while (slots[j].str)
            j = (j + 1) & (n_slots - 1);
        slots[j] = self->slots[i];
    }
    free(self->slots);
    self->slots = slots;
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
    free(self->slots);
    free(self);
    *p = NULL;
}

//  Appends a copy of s as the next level; returns it or NULL on ENOMEM.
static char *s_append(dict_t *self, const char *s, size_t len)
{
    if (vec_reserve_(&self->levels, &self->cap_levels, self->n_levels, 1, sizeof *self->levels))
        return NULL;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    self->levels[self->n_levels++] = copy;
    return copy;
}

int dict_intern(dict_t *self, const char *s, size_t len, uint32_t *code)
{
    assert(self && (s || len == 0) && code);
    uint64_t h = s_hash(s, len);
    size_t mask = self->n_slots - 1;
    size_t j = h & mask;
    for (; self->slots[j].str; j = (j + 1) & mask) {
        const s_slot_t *slot = &self->slots[j];
        if (slot->hash == h && slot->len == len && memcmp(slot->str, s, len) == 0) {
            *code = slot->code;
            return 0;
        }
    }
    if (self->n_levels >= DICT_MAX_LEVELS)
        return MLOPS_ETOOBIG;
    //  Grow first, so the new level never has to be taken back out.
    if (2 * (self->n_levels + 1) > self->n_slots) {
        if (s_rehash(self, 2 * self->n_slots) != 0)
            return MLOPS_ENOMEM;
        mask = self->n_slots - 1;
        for (j = h & mask; self->slots[j].str; j = (j + 1) & mask)
            ;
    }
    const char *copy = s_append(self, s, len);
    if (!copy)
        return MLOPS_ENOMEM;
    *code = (uint32_t)(self->n_levels - 1);
    self->slots[j] = (s_slot_t){.hash = h, .str = copy, .len = len, .code = *code};
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
    memset(self->slots, 0, self->n_slots * sizeof *self->slots); //  they pointed into levels
    self->levels = NULL;
    self->cap_levels = 0;
    self->n_levels = 0;
    return levels;
}
