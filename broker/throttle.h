/*  throttle.h: a per-key minimum interval, for --trigger-min-interval: a
    RETRAIN for a source accepted less than the interval ago is refused
    (control.c), so a script or a page in a loop cannot queue run after run
    of the same source.

    Keys are remembered by a 64-bit hash in a fixed table of
    THROTTLE_KEYS_MAX; when it is full the entry noted longest ago is
    reused (an entry older than the interval no longer limits anything, so
    only a flood of more distinct sources than that within one interval
    forgets some). Pure: the clock is an argument.
*/
#ifndef MLOPS_THROTTLE_H
#define MLOPS_THROTTLE_H

#include <stdint.h>

#define THROTTLE_KEYS_MAX 256

typedef struct {
    uint64_t key_hash;            //  FNV-1a of the key, 0 = free slot
    int64_t at_mono;              //  when it was last noted
} throttle_entry_t;

typedef struct {
    throttle_entry_t entries[THROTTLE_KEYS_MAX];
} throttle_t;

//  How long key must still wait at now_mono, under interval_msec: 0 when
//  it may go (never noted, or noted at least interval_msec ago).
int64_t throttle_wait(const throttle_t *self, const char *key, int64_t now_mono,
                      int64_t interval_msec);

//  Notes that key went at now_mono.
void throttle_note(throttle_t *self, const char *key, int64_t now_mono);

#endif
