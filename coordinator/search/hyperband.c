/*
 * hyperband.c: method hyperband (Li, Jamieson, DeSalvo, Rostamizadeh and
 * Talwalkar, "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
 * Optimization", JMLR 18(185), 2018), with epochs as the resource.
 *
 * The parser derives the rungs (spec->sh.rung_epochs[0..K], K = n_rungs - 1)
 * and appends the `epochs` parameter (spec->resource_param) that this file
 * sets per trial.  Hyperband runs the brackets s = K, K-1, ..., 0, the whole
 * set `iterations` times.  Bracket s is successive halving from rung K - s:
 *
 *   n = ceil((K + 1) / (s + 1) * eta^s) new configurations, drawn as random
 *   search draws them, train rung_epochs[K - s] epochs (its rung 0);
 *   its rung i (0..s) keeps floor(n / eta^i) of them, trained for
 *   rung_epochs[K - s + i] epochs: the best of rung i - 1 by observed score
 *   (spec->maximize; ties to the lower trial number; failed trials last).
 *
 * With K = 4 and eta = 3 (rungs 1, 3, 9, 27, 81) that is the paper's Table 1:
 * s = 4: 81x1, 27x3, 9x9, 3x27, 1x81; s = 3: 34x3, 11x9, 3x27, 1x81;
 * s = 2: 15x9, 5x27, 1x81; s = 1: 8x27, 2x81; s = 0: 5x81 (206 trials).
 *
 * A trial of rung i > 0 is a promotion: a new trial with its parent's values
 * but the next rung's epochs (the total, not the extra epochs), and s->parent
 * set to the parent's trial number so the coordinator can continue from the
 * parent's model.  A failed parent can be promoted when too few trials
 * succeeded; the rung sizes stay fixed so total() is exact.
 *
 * Parallel runs: suggest() serves the earliest bracket that has a trial to
 * hand out now.  A bracket's rung i + 1 waits until all of rung i is
 * observed; meanwhile later brackets start, so free workers do not idle.
 * WAIT only when every bracket that is not exhausted is waiting for scores;
 * DONE once every bracket has handed out its top rung.  Because brackets
 * hand out their rung 0 without waiting, bracket b + 1 starts only after
 * bracket b's rung 0 is out, in bracket order.
 *
 * budget.max_trials (optional) caps the new configurations, enqueued ones
 * included: the brackets' rung 0 take what is left in bracket order (a
 * bracket left with none is skipped), and a capped bracket's rung i keeps
 * max(1, floor(n0 / eta^i)) of its n0.  Enqueued trials (1..n_enqueue) are
 * the first bracket's first configurations (the parser limits them to its
 * eta^K).
 *
 * Determinism: trials depend on the spec, the seed and the sequence of
 * suggest and observe calls (which rung is complete when a suggestion is
 * made), and use s->rng only to draw new configurations.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

/* eta^K above this is refused (the parser's limits give at most 10000). */
#define HB_MAX_POWER 100000L

typedef struct hb_trial {
    long config;               // its configuration's row in hb->configs
    int bracket;               // index into hb->brackets
    int rung;                  // rung within the bracket, 0..s
    bool observed;
    double score;              // NaN when the trial failed
} hb_trial_t;

typedef struct hb_bracket {
    int s;                           // rungs 0..s train rung_epochs[K - s + i] epochs
    long size[COORD_SH_MAX_RUNGS];   // trials per rung, max_trials applied
    int rung;                        // the rung being handed out or waited for
    long handed, observed;           // trials of `rung` handed out / observed so far
    uint64_t *members;               // owned, size[0]: the trials of `rung`, in order
    uint64_t *parents;               // owned, size[0]: rung > 0: whom to promote, best first
    bool exhausted;                  // the top rung is out: nothing more to hand out
} hb_bracket_t;

/* Ranking key: failed trials last, then the better score, then the lower
 * trial number. */
typedef struct rank {
    int failed;
    double key;                // the score, negated when maximizing: smaller is better
    uint64_t trial;
} rank_t;

typedef struct hb {
    int n_brackets;
    hb_bracket_t *brackets;          // owned, in the order they run
    int first;                       // the brackets before it are exhausted
    long total;                      // trials in all, see total()
    hb_trial_t *trials;              // owned, per trial number - 1
    long n_trials, cap_trials;
    coord_pval_t *configs;           // owned, n_configs rows of spec->n_params values
    long n_configs, cap_configs;
    rank_t *scratch;                 // owned, the largest rung 0: for ranking a rung
} hb_t;

static void hb_free(hb_t *hb)
{
    if (!hb)
        return;
    for (int b = 0; b < hb->n_brackets && hb->brackets; b++) {
        free(hb->brackets[b].members);
        free(hb->brackets[b].parents);
    }
    free(hb->brackets);
    free(hb->trials);
    free(hb->configs);
    free(hb->scratch);
    free(hb);
}

/* Room for one more trial and, when `config`, one more configuration. */
static int reserve(hb_t *hb, int n_params, bool config)
{
    hb_trial_t *t = coord__search_grow(hb->trials, &hb->cap_trials, hb->n_trials, sizeof *t);
    if (!t)
        return -ENOMEM;
    hb->trials = t;
    if (!config)
        return 0;
    coord_pval_t *c = coord__search_grow(hb->configs, &hb->cap_configs, hb->n_configs,
                                         (size_t)n_params * sizeof *c);
    if (!c)
        return -ENOMEM;
    hb->configs = c;
    return 0;
}

/* A bracket's arrays, when it hands out its first trial. */
static int bracket_start(hb_bracket_t *br)
{
    if (br->members)
        return 0;
    br->members = calloc((size_t)br->size[0], sizeof *br->members);
    br->parents = calloc((size_t)br->size[0], sizeof *br->parents);
    if (!br->members || !br->parents) {
        free(br->members);
        free(br->parents);
        br->members = br->parents = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* After a trial of br's current rung was handed out: the bracket is
 * exhausted when that was the last trial of its top rung. */
static void after_handout(hb_t *hb, hb_bracket_t *br)
{
    if (br->rung == br->s && br->handed == br->size[br->s]) {
        br->exhausted = true;
        free(br->members);
        free(br->parents);
        br->members = br->parents = NULL;
    }
    while (hb->first < hb->n_brackets && hb->brackets[hb->first].exhausted)
        hb->first++;
}

static int rank_cmp(const void *pa, const void *pb)
{
    const rank_t *a = pa, *b = pb;
    if (a->failed != b->failed)
        return a->failed - b->failed;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->trial > b->trial) - (a->trial < b->trial);
}

/* br's current rung is all observed and not its top: rank it and promote
 * the best size[rung + 1] into the next rung. */
static void advance(hb_t *hb, hb_bracket_t *br, bool maximize)
{
    long n = br->size[br->rung];
    rank_t *r = hb->scratch;
    for (long i = 0; i < n; i++) {
        const hb_trial_t *t = &hb->trials[br->members[i] - 1];
        r[i] = (rank_t){.failed = isnan(t->score), .trial = br->members[i]};
        r[i].key = r[i].failed ? 0 : maximize ? -t->score : t->score;
    }
    qsort(r, (size_t)n, sizeof *r, rank_cmp);
    br->rung++;
    for (long i = 0; i < br->size[br->rung]; i++)
        br->parents[i] = r[i].trial;
    br->handed = br->observed = 0;
}

static long ipow(long b, int e)
{
    long r = 1;
    while (e-- > 0)
        r = r > LONG_MAX / b ? LONG_MAX : r * b;
    return r;
}

/* The brackets and their rung sizes, max_trials applied. */
static int plan(hb_t *hb, const coord_spec_t *spec, hpt_err *err)
{
    const coord_sh_cfg_t *sh = &spec->sh;
    int K = sh->n_rungs - 1, eta = sh->eta;
    int iters = sh->iterations > 0 ? sh->iterations : 1;
    if (ipow(eta, K) > HB_MAX_POWER)
        return hpt_err_set(err, -EINVAL, "hyperband: eta^%d is more than %ld configurations",
                           K, HB_MAX_POWER);
    hb->n_brackets = iters * (K + 1);
    hb->brackets = calloc((size_t)hb->n_brackets, sizeof *hb->brackets);
    if (!hb->brackets)
        return hpt_err_set(err, -ENOMEM, "hyperband: out of memory");
    long left = spec->max_trials > 0 ? spec->max_trials : LONG_MAX, largest = 1;
    for (int b = 0; b < hb->n_brackets; b++) {
        hb_bracket_t *br = &hb->brackets[b];
        int s = K - b % (K + 1);
        br->s = s;
        /* ceil((K + 1) eta^s / (s + 1)), in integers. */
        long n = ((long)(K + 1) * ipow(eta, s) + s) / (s + 1);
        long n0 = n < left ? n : left;
        left -= n0;
        for (int i = 0; i <= s; i++) {
            long k = n0 / ipow(eta, i);
            br->size[i] = n0 == 0 ? 0 : k > 0 ? k : 1;
            hb->total += br->size[i];
        }
        br->exhausted = n0 == 0;
        largest = n0 > largest ? n0 : largest;
    }
    hb->scratch = malloc((size_t)largest * sizeof *hb->scratch);
    if (!hb->scratch)
        return hpt_err_set(err, -ENOMEM, "hyperband: out of memory");
    while (hb->first < hb->n_brackets && hb->brackets[hb->first].exhausted)
        hb->first++;
    return 0;
}

static int hb_init(coord_search_t *s, hpt_err *err)
{
    const coord_spec_t *spec = s->spec;
    const coord_sh_cfg_t *sh = &spec->sh;
    int np = spec->n_params, rp = spec->resource_param;
    if (np < 1 || np > COORD_SPEC_MAX_PARAMS || rp < 0 || rp >= np)
        return hpt_err_set(err, -EINVAL, "hyperband: the spec has no epochs parameter");
    if (sh->n_rungs < 1 || sh->n_rungs > COORD_SH_MAX_RUNGS || sh->eta < 2)
        return hpt_err_set(err, -EINVAL, "hyperband: %d rungs with eta %d (allowed 1..%d, "
                           "eta >= 2)", sh->n_rungs, sh->eta, COORD_SH_MAX_RUNGS);
    for (int r = 0; r < sh->n_rungs; r++)
        if (sh->rung_epochs[r] < 1 || (r > 0 && sh->rung_epochs[r] <= sh->rung_epochs[r - 1]))
            return hpt_err_set(err, -EINVAL, "hyperband: rung epochs must increase from 1");
    for (int i = 0; i < np; i++) {
        const coord_param_t *p = &spec->params[i];
        bool listed = p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
                      p->dist == COORD_PDIST_CATEGORICAL;
        if (listed && (p->n_values < 1 || !p->values))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: no values", p->name);
    }
    hb_t *hb = calloc(1, sizeof *hb);
    if (!hb)
        return hpt_err_set(err, -ENOMEM, "hyperband: out of memory");
    int rc = plan(hb, spec, err);
    if (rc) {
        hb_free(hb);
        return rc;
    }
    /* The enqueued trials: the first bracket's first configurations. */
    if (spec->n_enqueue > 0) {
        hb_bracket_t *br = &hb->brackets[0];
        if (spec->n_enqueue > br->size[0]) {
            rc = hpt_err_set(err, -EINVAL, "enqueue: %d trials, more than hyperband's first "
                             "bracket (%ld configurations)", spec->n_enqueue, br->size[0]);
            hb_free(hb);
            return rc;
        }
        if (bracket_start(br) < 0) {
            hb_free(hb);
            return hpt_err_set(err, -ENOMEM, "hyperband: out of memory");
        }
        for (int r = 0; r < spec->n_enqueue; r++) {
            const coord_pval_t *v = spec->enqueue + (size_t)r * (size_t)np;
            if (v[rp].absent || v[rp].num != sh->rung_epochs[0]) {
                hb_free(hb);
                return hpt_err_set(err, -EINVAL, "enqueue[%d]: epochs must be the first "
                                   "rung's %d", r, sh->rung_epochs[0]);
            }
            if (reserve(hb, np, true) < 0) {
                hb_free(hb);
                return hpt_err_set(err, -ENOMEM, "hyperband: out of memory");
            }
            memcpy(hb->configs + (size_t)hb->n_configs * (size_t)np, v,
                   (size_t)np * sizeof *v);
            hb->trials[hb->n_trials++] =
                (hb_trial_t){.config = hb->n_configs++, .bracket = 0, .score = NAN};
            br->members[br->handed++] = (uint64_t)hb->n_trials;
            after_handout(hb, br);
        }
    }
    s->state = hb;
    return 0;
}

static int hb_suggest(coord_search_t *s, coord_pval_t *vals)
{
    hb_t *hb = s->state;
    const coord_spec_t *spec = s->spec;
    int np = spec->n_params, rp = spec->resource_param, K = spec->sh.n_rungs - 1;
    for (int b = hb->first; b < hb->n_brackets; b++) {
        hb_bracket_t *br = &hb->brackets[b];
        if (br->exhausted || br->handed >= br->size[br->rung])
            continue;  // waiting for its rung's scores, or done
        bool fresh = br->rung == 0;
        if (bracket_start(br) < 0 || reserve(hb, np, fresh) < 0)
            return COORD_SEARCH_WAIT;  // out of memory: ask again later
        hb_trial_t t = {.bracket = b, .rung = br->rung, .score = NAN};
        if (fresh) {
            coord__search_sample_all(spec, &s->rng, vals);
            t.config = hb->n_configs++;
        } else {
            uint64_t parent = br->parents[br->handed];
            t.config = hb->trials[parent - 1].config;
            memcpy(vals, hb->configs + (size_t)t.config * (size_t)np, (size_t)np * sizeof *vals);
            s->parent = parent;
        }
        vals[rp] = (coord_pval_t){.num = spec->sh.rung_epochs[K - br->s + br->rung]};
        if (fresh)
            memcpy(hb->configs + (size_t)t.config * (size_t)np, vals, (size_t)np * sizeof *vals);
        hb->trials[hb->n_trials++] = t;
        br->members[br->handed++] = (uint64_t)hb->n_trials;
        after_handout(hb, br);
        return COORD_SEARCH_OK;
    }
    return hb->first == hb->n_brackets ? COORD_SEARCH_DONE : COORD_SEARCH_WAIT;
}

static void hb_observe(coord_search_t *s, uint64_t trial, double score)
{
    hb_t *hb = s->state;
    if (trial < 1 || trial > (uint64_t)hb->n_trials)
        return;  // not a trial this search suggested
    hb_trial_t *t = &hb->trials[trial - 1];
    hb_bracket_t *br = &hb->brackets[t->bracket];
    if (t->observed || t->rung != br->rung)
        return;  // a repeat: the first score stands
    t->observed = true;
    t->score = isfinite(score) ? score : NAN;
    br->observed++;
    if (br->rung < br->s && br->observed == br->size[br->rung])
        advance(hb, br, s->spec->maximize);
}

static bool hb_done(const coord_search_t *s)
{
    const hb_t *hb = s->state;
    return hb->first == hb->n_brackets;
}

static long hb_total(const coord_search_t *s)
{
    const hb_t *hb = s->state;
    return hb->total;
}

static void hb_fini(coord_search_t *s)
{
    hb_free(s->state);
    s->state = NULL;
}

const coord_search_ops_t coord_search_hyperband = {
    .name = "hyperband",
    .init = hb_init,
    .suggest = hb_suggest,
    .observe_epoch = NULL,  // whole trials only
    .observe = hb_observe,
    .done = hb_done,
    .total = hb_total,
    .fini = hb_fini,
};
