/*  liveness.h: the one rule for "is that peer dead?", used by every side of
    every heartbeat (the broker for its stage workers and its inference
    workers, the gateway for its inference workers, a stage worker for its
    broker, an inference worker for its gateway).

    The rule: a peer heard at time T, which promised to speak at least every
    interval, is expired once the clock passes T + intervals x interval
    (liveness_expiry, liveness_expired), minus the time we ourselves were not
    listening. A loop turn that comes far later than the loop ever waits was
    a stall of ours (a long handler, a big frame to decode, a process stopped
    or starved of CPU) during which the peer's heartbeats sat unread in our
    socket; liveness_awake measures that excess, and the caller moves every
    peer's expiry out by as much. So a process that paused for longer than
    the liveness period does not declare every peer lost when it wakes,
    while a peer that was already silent before the pause still expires once
    its own time is used up.

    All times are milliseconds on the monotonic clock (clock.h), passed in,
    so the rule is tested without sleeping.
*/
#ifndef MLOPS_LIVENESS_H
#define MLOPS_LIVENESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t awake_ms;            //  our loop's last turn, 0 = none yet
} liveness_t;

//  The expiry of a peer heard at heard_ms that speaks every interval_ms and
//  may miss intervals - 1 of them (intervals >= 1).
int64_t liveness_expiry(int64_t heard_ms, int64_t interval_ms, int intervals);

//  True when a peer with this expiry is dead at now_ms (strictly after it).
bool liveness_expired(int64_t expires_ms, int64_t now_ms);

//  The interval to count a peer's silence in when ours is ours_ms: a peer
//  may heartbeat at the protocol's interval (heartbeat.h) whatever ours is,
//  so a shorter one of ours must not make it look dead sooner.
int64_t liveness_interval(int64_t ours_ms);

//  Our loop turned at now_ms, having waited at most expected_gap_ms since its
//  last turn. Returns by how much the gap was longer (our stall: add it to
//  every peer's expiry), 0 when it was not or on the first turn.
int64_t liveness_awake(liveness_t *self, int64_t now_ms, int64_t expected_gap_ms);

//  The next turn counts as a first one: the time until then was a wait we
//  chose (a reconnect back-off), not a stall.
void liveness_rest(liveness_t *self);

#endif
