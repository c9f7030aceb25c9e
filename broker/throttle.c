/*  throttle.c: see throttle.h. */
#include "throttle.h"

#include <assert.h>
#include <stddef.h>

//  FNV-1a, never 0 (0 marks a free slot).
static uint64_t s_hash(const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 0x100000001b3ULL;
    return h ? h : 1;
}

int64_t throttle_wait(const throttle_t *self, const char *key, int64_t now_mono,
                      int64_t interval_msec)
{
    assert(self && key);
    uint64_t h = s_hash(key);
    for (size_t i = 0; i < THROTTLE_KEYS_MAX; i++) {
        const throttle_entry_t *e = &self->entries[i];
        if (e->key_hash == h && now_mono - e->at_mono < interval_msec)
            return interval_msec - (now_mono - e->at_mono);
    }
    return 0;
}

void throttle_note(throttle_t *self, const char *key, int64_t now_mono)
{
    assert(self && key);
    uint64_t h = s_hash(key);
    throttle_entry_t *slot = &self->entries[0];
    for (size_t i = 0; i < THROTTLE_KEYS_MAX; i++) {
        throttle_entry_t *e = &self->entries[i];
        if (e->key_hash == h) {
            slot = e;
            break;
        }
        if (slot->key_hash && (!e->key_hash || e->at_mono < slot->at_mono))
            slot = e;
    }
    *slot = (throttle_entry_t){h, now_mono};
}
