/*  clock.h: the process's clocks, read one way everywhere.

    Timers, expiries and durations use the monotonic clock (never stepped by
    NTP or an operator, so a deadline cannot jump); only what a person reads
    (a log line, a run's start) uses the wall clock. The monotonic clock is
    the one CZMQ's zclock_mono reads, so values from either compare.
*/
#ifndef MLOPS_CLOCK_H
#define MLOPS_CLOCK_H

#include <stdint.h>

//  Milliseconds on the monotonic clock (an arbitrary origin).
int64_t clock_mono_ms(void);

//  Microseconds on the monotonic clock, for durations under a millisecond.
int64_t clock_mono_us(void);

//  Milliseconds since the Unix epoch on the wall clock.
int64_t clock_wall_ms(void);

#endif
