/*
 * random.c: random search.
 *
 * Each trial draws every parameter independently from the search's RNG
 * (seeded with the spec's seed), in spec order:
 *   value               the constant (no draw)
 *   values              a uniform choice
 *   categorical         a choice by the given probabilities
 *   uniform             U(min, max)
 *   log_uniform_values  exp(U(log min, log max))
 *   int_uniform         an integer uniform on min..max inclusive
 *   q_uniform           round(U(min, max) / q) * q, as W&B, then moved one step of
 *                       q back inside [min, max] when rounding left it
 * Observations are ignored, so trial k depends only on the seed and k: a
 * restarted coordinator that asks again gets the same trials.  The search
 * suggests exactly budget.max_trials trials.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "search.h"

typedef struct rnd {
    long total;  // budget.max_trials
    long next;   // trials suggested so far
} rnd_t;

static int rnd_init(coord_search_t *s, hpt_err *err)
{
    if (s->spec->max_trials <= 0)
        return hpt_err_set(err, -EINVAL, "budget.max_trials: required by method random");
    if (s->spec->n_params < 0 || s->spec->n_params > COORD_SPEC_MAX_PARAMS)
        return hpt_err_set(err, -EINVAL, "parameters: %d parameters (allowed 0..%d)",
                           s->spec->n_params, COORD_SPEC_MAX_PARAMS);
    for (int i = 0; i < s->spec->n_params; i++) {
        const coord_param_t *p = &s->spec->params[i];
        bool listed = p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
                      p->dist == COORD_PDIST_CATEGORICAL;
        if (listed && (p->n_values < 1 || !p->values))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: no values", p->name);
        if (!listed && !(p->min < p->max))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: min must be less than max",
                               p->name);
    }
    rnd_t *r = calloc(1, sizeof *r);
    if (!r)
        return hpt_err_set(err, -ENOMEM, "random: out of memory");
    r->total = s->spec->max_trials;
    s->state = r;
    return 0;
}

/* Uniform integer in [0, n), n >= 1, unbiased (rejection on 64 bits, since
 * int_uniform on `seed` spans up to 2^53 values). */
static uint64_t below64(hpt_rng_t *rng, uint64_t n)
{
    if (n <= UINT32_MAX)
        return hpt_rng_below(rng, (uint32_t)n);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = hpt_rng_u64(rng);
    while (x >= limit);
    return x % n;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static coord_pval_t sample(hpt_rng_t *rng, const coord_param_t *p)
{
    coord_pval_t v = {0};
    switch (p->dist) {
    case COORD_PDIST_VALUE:
        return p->values[0];
    case COORD_PDIST_VALUES:
        return p->values[hpt_rng_below(rng, (uint32_t)p->n_values)];
    case COORD_PDIST_CATEGORICAL: {
        if (!p->probs)
            return p->values[hpt_rng_below(rng, (uint32_t)p->n_values)];
        double u = hpt_rng_uniform(rng), cum = 0;
        int last = 0;  // the last value with a non-zero probability
        for (int i = 0; i < p->n_values; i++) {
            if (p->probs[i] <= 0)
                continue;
            last = i;
            cum += p->probs[i];
            if (u < cum)
                return p->values[i];
        }
        /* The probabilities sum to 1 within 1e-6, so u can land past the
         * last edge; that mass belongs to the last possible value. */
        return p->values[last];
    }
    case COORD_PDIST_UNIFORM:
        v.num = clamp(p->min + hpt_rng_uniform(rng) * (p->max - p->min), p->min, p->max);
        return v;
    case COORD_PDIST_LOG_UNIFORM_VALUES: {
        double lo = log(p->min), hi = log(p->max);
        v.num = clamp(exp(lo + hpt_rng_uniform(rng) * (hi - lo)), p->min, p->max);
        return v;
    }
    case COORD_PDIST_INT_UNIFORM:
        v.num = p->min + (double)below64(rng, (uint64_t)(p->max - p->min) + 1);
        return v;
    case COORD_PDIST_Q_UNIFORM: {
        double x = p->min + hpt_rng_uniform(rng) * (p->max - p->min);
        double q = p->q, y = round(x / q) * q;
        /* Rounding can step just outside [min, max]; the parser made sure a
         * multiple of q lies inside, so one step back lands in range. */
        if (y > p->max + 1e-9 * fabs(q))
            y -= q;
        else if (y < p->min - 1e-9 * fabs(q))
            y += q;
        v.num = clamp(y, p->min, p->max);
        return v;
    }
    }
    return v;
}

static int rnd_suggest(coord_search_t *s, coord_pval_t *vals)
{
    rnd_t *r = s->state;
    if (r->next >= r->total)
        return COORD_SEARCH_DONE;
    r->next++;
    for (int i = 0; i < s->spec->n_params; i++)
        vals[i] = sample(&s->rng, &s->spec->params[i]);
    return COORD_SEARCH_OK;
}

static bool rnd_done(const coord_search_t *s)
{
    const rnd_t *r = s->state;
    return r->next >= r->total;
}

static long rnd_total(const coord_search_t *s)
{
    const rnd_t *r = s->state;
    return r->total;
}

static void rnd_fini(coord_search_t *s)
{
    free(s->state);
    s->state = NULL;
}

const coord_search_ops_t coord_search_random = {
    .name = "random",
    .init = rnd_init,
    .suggest = rnd_suggest,
    .observe_epoch = NULL,  // random search ignores scores
    .observe = NULL,
    .done = rnd_done,
    .total = rnd_total,
    .fini = rnd_fini,
};
