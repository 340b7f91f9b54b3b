/* Seeded random numbers with explicit state (xoshiro256**, seeded by splitmix64).
 * There is no global generator: every consumer owns an Rng and passes it, so a
 * run is reproducible and its state can be checkpointed (the four words of s). */
#ifndef YV5_RNG_H
#define YV5_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

/* Seed from one 64-bit value. Equal seeds give equal streams. */
void rng_seed(Rng *r, uint64_t seed);
/* An independent stream for (seed, a, b), e.g. (seed, epoch, sample index):
 * lets worker threads draw per-sample numbers independent of scheduling. */
void rng_seed_stream(Rng *r, uint64_t seed, uint64_t a, uint64_t b);

uint64_t rng_u64(Rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Uniform double in [lo, hi). */
double rng_uniform_range(Rng *r, double lo, double hi);
/* Standard normal N(0, 1) (Box-Muller on two uniforms; no cached spare, so the
 * state alone determines the stream). */
double rng_normal(Rng *r);
/* Uniform integer in [lo, hi] inclusive (unbiased, by rejection). Requires lo <= hi. */
int64_t rng_int(Rng *r, int64_t lo, int64_t hi);
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(Rng *r, int *idx, int n);

#endif
