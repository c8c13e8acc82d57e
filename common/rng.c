/* rng.c: xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void hpt_rng_seed(hpt_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

void hpt_rng_seed_n(hpt_rng_t *r, const uint64_t *vals, size_t n)
{
    /* Fold each value through splitmix so that order matters and nearby
     * tuples (trial 1 fold 2 vs trial 2 fold 1) land far apart. */
    uint64_t h = 0x6a09e667f3bcc909ULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = h ^ vals[i];
        h = splitmix64(&x) ^ rotl(h, 17);
    }
    hpt_rng_seed(r, h);
}

uint64_t hpt_rng_u64(hpt_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t hpt_rng_below(hpt_rng_t *r, uint32_t n)
{
    uint64_t m = (uint64_t)(uint32_t)(hpt_rng_u64(r) >> 32) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)(uint32_t)(hpt_rng_u64(r) >> 32) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double hpt_rng_uniform(hpt_rng_t *r)
{
    return (double)(hpt_rng_u64(r) >> 11) * 0x1.0p-53;
}

float hpt_rng_uniform_f(hpt_rng_t *r)
{
    return (float)(hpt_rng_u64(r) >> 40) * 0x1.0p-24f;
}

double hpt_rng_normal(hpt_rng_t *r)
{
    double u1 = hpt_rng_uniform(r);
    double u2 = hpt_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

double hpt_rng_truncated_normal(hpt_rng_t *r)
{
    for (;;) {
        double z = hpt_rng_normal(r);
        if (z >= -2.0 && z <= 2.0)
            return z;
    }
}

void hpt_rng_shuffle_u32(hpt_rng_t *r, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        uint32_t j = hpt_rng_below(r, (uint32_t)i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
