/*
 * rng.h: explicit-state pseudo-random numbers (xoshiro256**, seeded through
 * splitmix64).  Every random decision in hptune (weight init, dropout masks,
 * batch shuffles, fold splits) draws from an hpt_rng_t the caller owns, so a
 * task's result is a pure function of its seeds.  Never rand().
 */
#ifndef HPT_RNG_H
#define HPT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct hpt_rng {
    uint64_t s[4];  // xoshiro256** state, never all zero
} hpt_rng_t;

/* Seed from one 64-bit value (expanded with splitmix64). */
void hpt_rng_seed(hpt_rng_t *r, uint64_t seed);

/* Seed from several values (study seed, trial id, fold, repeat ...): they are
 * mixed in order, so (1, 2) and (2, 1) give different streams. */
void hpt_rng_seed_n(hpt_rng_t *r, const uint64_t *vals, size_t n);

uint64_t hpt_rng_u64(hpt_rng_t *r);

/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint32_t hpt_rng_below(hpt_rng_t *r, uint32_t n);

/* Uniform double in [0, 1) with 53 random bits. */
double hpt_rng_uniform(hpt_rng_t *r);

/* Uniform float in [0, 1) with 24 random bits. */
float hpt_rng_uniform_f(hpt_rng_t *r);

/* Standard normal N(0, 1) (Box-Muller, no cached second value so the stream
 * position depends only on the number of calls). */
double hpt_rng_normal(hpt_rng_t *r);

/* N(0, 1) truncated to [-2, 2] by rejection, as tf.random.truncated_normal. */
double hpt_rng_truncated_normal(hpt_rng_t *r);

/* Fisher-Yates shuffle of idx[0..n). */
void hpt_rng_shuffle_u32(hpt_rng_t *r, uint32_t *idx, size_t n);

#endif
