/*  rng.h: the one small random generator of the ML library (xoshiro256**
    seeded through splitmix64). Header-only because every use is a hot loop;
    a stream is a value, so a tree or a split owns its own and results never
    depend on thread scheduling. Not for cryptography.
*/
#ifndef MLOPS_RNG_H
#define MLOPS_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4]; //  xoshiro256** state, never all zero
} rng_t;

static inline uint64_t rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

//  Seeds a stream from a seed and a stream number (e.g. a tree index), so
//  stream i is the same whatever else is drawn. Stream 0 is splitmix64 of
//  the seed itself (the synthetic data's seeding).
static inline void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix(&x);
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t v = s[1] * 5;
    uint64_t result = ((v << 7) | (v >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

//  Uniform double in [0, 1): the top 53 bits.
static inline double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

//  Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the bias for
//  n far below 2^64 is negligible here).
static inline uint64_t rng_below(rng_t *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

//  Uniform integer in [0, n) from the top 32 bits only: the synthetic data's
//  draws (synth.c), kept because its tables are pinned; a different stream
//  from rng_below for the same state.
static inline uint32_t rng_below32(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

//  Fisher-Yates shuffle of n size_t values.
static inline void rng_shuffle(rng_t *r, size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

#endif
