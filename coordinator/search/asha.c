/*
 * asha.c: method asha, asynchronous successive halving (Li, Jamieson,
 * Rostamizadeh, Gonina, Ben-Tzur, Hardt, Recht and Talwalkar, "A System for
 * Massively Parallel Hyperparameter Tuning", MLSys 2020, Algorithm 2), one
 * bracket with early-stopping rate 0, epochs as the resource.
 *
 * The parser derives the rungs k = 0..K (spec->sh.rung_epochs) and appends
 * the `epochs` parameter (spec->resource_param) that this file sets per
 * trial.  Each suggestion is the paper's get_job():
 *
 *   1. For k = K - 1 down to 0: the candidates are the top
 *      floor(observed_k / eta) trials of rung k by score (observed_k counts
 *      failed trials too) that have not been promoted yet.  If there is one,
 *      the best is promoted: a new trial with its values but rung k + 1's
 *      epochs (the total, not the extra epochs), and s->parent set to its
 *      trial number so the coordinator can continue from its model.
 *   2. Otherwise, while fewer than budget.max_trials configurations have
 *      started (enqueued ones included; promotions do not count), a new
 *      configuration, drawn as random search draws it, starts at rung 0.
 *   3. Otherwise WAIT while a trial below the top rung is pending (its score
 *      may allow a promotion), else DONE.
 *
 * So a free worker never waits for a rung to fill while a new configuration
 * can start.  Ranking: spec->maximize, ties to the lower trial number.  A
 * failed trial (NaN) has no score: it counts in observed_k but is never
 * promoted.  Enqueued trials (1..n_enqueue) are the first configurations.
 * total() is -1: how many promotions happen depends on when scores arrive.
 *
 * Determinism: trials depend on the spec, the seed and the sequence of
 * suggest and observe calls, and use s->rng only to draw new
 * configurations.  Unlike hyperband, the interleaving matters (a rung's
 * promotions depend on how many of its scores are in).
 *
 * Cost: each rung keeps its scored trials sorted (an insertion per
 * observation); a suggestion scans each rung's promoted trials at the top.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

typedef struct asha_trial {
    long config;               // its configuration's row in a->configs
    int rung;                  // 0..K
    bool observed;
    bool promoted;             // a trial of rung rung + 1 continues it
    double score;              // NaN when the trial failed
} asha_trial_t;

/* A scored trial in a rung's ranking: smaller key is better. */
typedef struct rank {
    double key;                // the score, negated when maximizing
    uint64_t trial;
} rank_t;

typedef struct asha_rung {
    rank_t *sorted;            // owned, the rung's scored trials, best first (not the top rung)
    long n_sorted, cap_sorted;
    long observed;             // trials observed, failed ones included
    long pending;              // trials handed out, not yet observed
} asha_rung_t;

typedef struct asha {
    int K;                           // top rung
    long started;                    // configurations started (rung 0 trials)
    asha_rung_t rungs[COORD_SH_MAX_RUNGS];
    asha_trial_t *trials;            // owned, per trial number - 1
    long n_trials, cap_trials;
    coord_pval_t *configs;           // owned, n_configs rows of spec->n_params values
    long n_configs, cap_configs;
} asha_t;

static void asha_free(asha_t *a)
{
    if (!a)
        return;
    for (int k = 0; k < COORD_SH_MAX_RUNGS; k++)
        free(a->rungs[k].sorted);
    free(a->trials);
    free(a->configs);
    free(a);
}

/* Room for one more trial and, when `config`, one more configuration. */
static int reserve(asha_t *a, int n_params, bool config)
{
    asha_trial_t *t = coord__search_grow(a->trials, &a->cap_trials, a->n_trials, sizeof *t);
    if (!t)
        return -ENOMEM;
    a->trials = t;
    if (!config)
        return 0;
    coord_pval_t *c = coord__search_grow(a->configs, &a->cap_configs, a->n_configs,
                                         (size_t)n_params * sizeof *c);
    if (!c)
        return -ENOMEM;
    a->configs = c;
    return 0;
}

/* The best unpromoted candidate of the highest rung that has one: true with
 * *rung and *pos (its index in that rung's ranking) set. */
static bool find_candidate(const asha_t *a, int eta, int *rung, long *pos)
{
    for (int k = a->K - 1; k >= 0; k--) {
        const asha_rung_t *r = &a->rungs[k];
        long top = r->observed / eta;
        if (top > r->n_sorted)
            top = r->n_sorted;  // the rest of the top failed
        for (long j = 0; j < top; j++)
            if (!a->trials[r->sorted[j].trial - 1].promoted) {
                *rung = k;
                *pos = j;
                return true;
            }
    }
    return false;
}

static long pending_below_top(const asha_t *a)
{
    long n = 0;
    for (int k = 0; k < a->K; k++)
        n += a->rungs[k].pending;
    return n;
}

static int asha_init(coord_search_t *s, hpt_err *err)
{
    const coord_spec_t *spec = s->spec;
    const coord_sh_cfg_t *sh = &spec->sh;
    int np = spec->n_params, rp = spec->resource_param;
    if (spec->max_trials <= 0)
        return hpt_err_set(err, -EINVAL, "budget.max_trials: required by method asha");
    if (np < 1 || np > COORD_SPEC_MAX_PARAMS || rp < 0 || rp >= np)
        return hpt_err_set(err, -EINVAL, "asha: the spec has no epochs parameter");
    if (sh->n_rungs < 1 || sh->n_rungs > COORD_SH_MAX_RUNGS || sh->eta < 2)
        return hpt_err_set(err, -EINVAL, "asha: %d rungs with eta %d (allowed 1..%d, "
                           "eta >= 2)", sh->n_rungs, sh->eta, COORD_SH_MAX_RUNGS);
    for (int r = 0; r < sh->n_rungs; r++)
        if (sh->rung_epochs[r] < 1 || (r > 0 && sh->rung_epochs[r] <= sh->rung_epochs[r - 1]))
            return hpt_err_set(err, -EINVAL, "asha: rung epochs must increase from 1");
    if (spec->n_enqueue > spec->max_trials)
        return hpt_err_set(err, -EINVAL, "enqueue: %d trials, more than budget.max_trials (%d)",
                           spec->n_enqueue, spec->max_trials);
    for (int i = 0; i < np; i++) {
        const coord_param_t *p = &spec->params[i];
        bool listed = p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
                      p->dist == COORD_PDIST_CATEGORICAL;
        if (listed && (p->n_values < 1 || !p->values))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: no values", p->name);
    }
    asha_t *a = calloc(1, sizeof *a);
    if (!a)
        return hpt_err_set(err, -ENOMEM, "asha: out of memory");
    a->K = sh->n_rungs - 1;
    /* The enqueued trials: the first configurations, at rung 0. */
    for (int r = 0; r < spec->n_enqueue; r++) {
        const coord_pval_t *v = spec->enqueue + (size_t)r * (size_t)np;
        if (v[rp].absent || v[rp].num != sh->rung_epochs[0]) {
            asha_free(a);
            return hpt_err_set(err, -EINVAL, "enqueue[%d]: epochs must be the first rung's %d",
                               r, sh->rung_epochs[0]);
        }
        if (reserve(a, np, true) < 0) {
            asha_free(a);
            return hpt_err_set(err, -ENOMEM, "asha: out of memory");
        }
        memcpy(a->configs + (size_t)a->n_configs * (size_t)np, v, (size_t)np * sizeof *v);
        a->trials[a->n_trials++] = (asha_trial_t){.config = a->n_configs++, .score = NAN};
        a->rungs[0].pending++;
        a->started++;
    }
    s->state = a;
    return 0;
}

static int asha_suggest(coord_search_t *s, coord_pval_t *vals)
{
    asha_t *a = s->state;
    const coord_spec_t *spec = s->spec;
    int np = spec->n_params, rp = spec->resource_param;
    int k;
    long pos;
    if (find_candidate(a, spec->sh.eta, &k, &pos)) {
        if (reserve(a, np, false) < 0)
            return COORD_SEARCH_WAIT;  // out of memory: ask again later
        uint64_t parent = a->rungs[k].sorted[pos].trial;
        asha_trial_t *p = &a->trials[parent - 1];
        p->promoted = true;
        memcpy(vals, a->configs + (size_t)p->config * (size_t)np, (size_t)np * sizeof *vals);
        vals[rp] = (coord_pval_t){.num = spec->sh.rung_epochs[k + 1]};
        a->trials[a->n_trials++] =
            (asha_trial_t){.config = p->config, .rung = k + 1, .score = NAN};
        a->rungs[k + 1].pending++;
        s->parent = parent;
        return COORD_SEARCH_OK;
    }
    if (a->started < spec->max_trials) {
        if (reserve(a, np, true) < 0)
            return COORD_SEARCH_WAIT;
        coord__search_sample_all(spec, &s->rng, vals);
        vals[rp] = (coord_pval_t){.num = spec->sh.rung_epochs[0]};
        memcpy(a->configs + (size_t)a->n_configs * (size_t)np, vals, (size_t)np * sizeof *vals);
        a->trials[a->n_trials++] = (asha_trial_t){.config = a->n_configs++, .score = NAN};
        a->rungs[0].pending++;
        a->started++;
        return COORD_SEARCH_OK;
    }
    return pending_below_top(a) > 0 ? COORD_SEARCH_WAIT : COORD_SEARCH_DONE;
}

/* Insert trial into rung r's ranking (smaller key first, ties by trial). */
static int rank_insert(asha_rung_t *r, double key, uint64_t trial)
{
    if (r->n_sorted == r->cap_sorted) {
        long cap = r->cap_sorted ? r->cap_sorted * 2 : 64;
        rank_t *v = realloc(r->sorted, (size_t)cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        r->sorted = v;
        r->cap_sorted = cap;
    }
    long lo = 0, hi = r->n_sorted;  // the first entry that ranks after (key, trial)
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        const rank_t *m = &r->sorted[mid];
        if (m->key < key || (m->key == key && m->trial < trial))
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(r->sorted + lo + 1, r->sorted + lo, (size_t)(r->n_sorted - lo) * sizeof *r->sorted);
    r->sorted[lo] = (rank_t){.key = key, .trial = trial};
    r->n_sorted++;
    return 0;
}

static void asha_observe(coord_search_t *s, uint64_t trial, double score)
{
    asha_t *a = s->state;
    if (trial < 1 || trial > (uint64_t)a->n_trials)
        return;  // not a trial this search suggested
    asha_trial_t *t = &a->trials[trial - 1];
    if (t->observed)
        return;  // a repeat: the first score stands
    asha_rung_t *r = &a->rungs[t->rung];
    if (isfinite(score) && t->rung < a->K &&
        rank_insert(r, s->spec->maximize ? -score : score, trial) < 0)
        score = NAN;  // out of memory: the trial cannot be ranked, so it is not promoted
    t->observed = true;
    t->score = isfinite(score) ? score : NAN;
    r->observed++;
    r->pending--;
}

static bool asha_done(const coord_search_t *s)
{
    const asha_t *a = s->state;
    int k;
    long pos;
    if (find_candidate(a, s->spec->sh.eta, &k, &pos) || a->started < s->spec->max_trials)
        return false;
    return pending_below_top(a) == 0;
}

static long asha_total(const coord_search_t *s)
{
    (void)s;
    return -1;
}

static void asha_fini(coord_search_t *s)
{
    asha_free(s->state);
    s->state = NULL;
}

const coord_search_ops_t coord_search_asha = {
    .name = "asha",
    .init = asha_init,
    .suggest = asha_suggest,
    .observe_epoch = NULL,  // whole trials only
    .observe = asha_observe,
    .done = asha_done,
    .total = asha_total,
    .fini = asha_fini,
};
