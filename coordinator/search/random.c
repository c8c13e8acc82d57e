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
 *   q_log_uniform_values  round(exp(U(log min, log max)) / q) * q, likewise
 *   normal, log_normal  N(mu, sigma) (of the logarithm), truncated to [min, max]
 *                       (the parameter's range) by inverse-CDF sampling
 * and, when q is set (the q_ forms; integer parameters, q = 1), the draw is
 * rounded onto q's lattice inside [min, max] the same way.
 * A conditional parameter whose when: does not hold is absent and takes no
 * draw.  (The draws live in search.c, shared with TPE's startup trials.)
 * Observations are ignored, so trial k depends only on the seed and k: a
 * restarted coordinator that asks again gets the same trials.  The search
 * suggests exactly budget.max_trials trials, the enqueued ones first.
 */
#include <errno.h>
#include <stdlib.h>

#include "search.h"

typedef struct rnd {
    long total;  // budget.max_trials
    long next;   // trials suggested so far, enqueued ones included
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
    r->next = s->spec->n_enqueue;  // served by search.c, counted against the budget
    s->state = r;
    return 0;
}

static int rnd_suggest(coord_search_t *s, coord_pval_t *vals)
{
    rnd_t *r = s->state;
    if (r->next >= r->total)
        return COORD_SEARCH_DONE;
    r->next++;
    coord__search_sample_all(s->spec, &s->rng, vals);
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
