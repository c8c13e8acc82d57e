/*
 * coordinate.c: method coordinate, the blog post's advice made a search:
 * tune one parameter at a time.
 *
 * The search holds a current configuration, which starts at every
 * parameter's start: (or its first value).  It takes the parameters in spec
 * order and, for each, runs a sweep: one trial per value of that parameter,
 * in the order of its values list, with every other parameter at its
 * current value.  When every trial of the sweep has been observed, the best
 * score wins and becomes the parameter's current value; then the next
 * parameter is swept.  coordinate.rounds (default 1) repeats the whole
 * cycle.
 *
 *   - The search WAITs (COORD_SEARCH_WAIT) while any trial of the current
 *     sweep is still running: the next sweep needs its winner.  So at most
 *     (values of one parameter) trials run at once.
 *   - A configuration already observed, in this search or as an enqueued
 *     trial, is not run again: its score is reused.  So the incumbent is
 *     run once, and a sweep whose other configurations all ran in an earlier
 *     round costs nothing.  A configuration still running is waited for.
 *   - Ties go to the current value, otherwise to the earlier value in the
 *     list; failed trials (NaN) never win, and a sweep where every trial
 *     failed keeps the current value.
 *   - Parameters with a single value (constants) are not swept.  A
 *     conditional parameter is swept only if its when: holds in the current
 *     configuration; while it does not, it keeps its current value for when
 *     it applies again, and trials show it absent.  Sweeping a parameter
 *     that others depend on (layers, say) switches those on and off within
 *     the sweep, at their current values.
 *   - Every parameter must be enumerable (value, values or categorical), as
 *     for grid search; the parser refuses distributions.
 *   - budget.max_trials, if given, caps the trials (enqueued ones included).
 *
 * total() is exact only when it can be known up front: one round, no
 * conditional parameters and no enqueue, where it is 1 + sum over the swept
 * parameters of (values - 1) (each sweep after the first re-uses the
 * incumbent), capped by max_trials.  Otherwise -1: how many configurations
 * repeat depends on which values win.
 *
 * Determinism: the trials depend on the spec and on the scores observed,
 * but not on when the scores arrive, because a sweep only ends once all its
 * scores are in.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

typedef struct crec {
    bool observed;          // a score (or a failure) has come in
    double score;           // NaN when the trial failed
} crec_t;

typedef struct coord {
    long total;                          // see total(); -1 when unknown
    int rounds, round;                   // cycles to run / the current one (0-based)
    int param;                           // the parameter being swept, or the next candidate
    bool in_sweep;                       // a sweep of `param` is under way
    int next;                            // in a sweep: the next value index to request
    bool finished;                       // no more trials, ever
    bool single;                         // no parameter to sweep: run the start alone
    int radix[COORD_SPEC_MAX_PARAMS];    // values per parameter
    int cur[COORD_SPEC_MAX_PARAMS];      // the current configuration (value indices, never -1)
    int sweep_row[COORD_SPEC_MAX_VALUES];  // per value of `param`: its row in seen
    coord__cfgset_t seen;                // every configuration requested (masked rows)
    crec_t *recs;                        // owned, per row of seen
    int cap_recs;
    int *trial_row;                      // owned, per trial (number - 1): its row in seen
    int n_trials, cap_trials;
} coord_t;

static void coord_free(coord_t *c)
{
    if (!c)
        return;
    coord__cfgset_free(&c->seen);
    free(c->recs);
    free(c->trial_row);
    free(c);
}

/* The configuration idx (one value index per parameter) as a trial: vals
 * with absent parameters, and the masked row (-1 where absent). */
static void expand(const coord_spec_t *spec, const int *idx, coord_pval_t *vals, int *row)
{
    for (int i = 0; i < spec->n_params; i++) {
        if (coord_spec_active(spec, i, vals)) {
            vals[i] = spec->params[i].values[idx[i]];
            row[i] = idx[i];
        } else {
            vals[i] = (coord_pval_t){.absent = true};
            row[i] = -1;
        }
    }
}

/* Note that trial number n_trials + 1 is configuration `row`; returns the
 * row's number in seen, or -ENOMEM. */
static int note_trial(coord_t *c, const int *row)
{
    int r = coord__cfgset_add(&c->seen, row);
    if (r < 0)
        return r;
    if (r >= c->cap_recs) {
        int cap = c->cap_recs ? c->cap_recs * 2 : 64;
        while (cap <= r)
            cap *= 2;
        crec_t *recs = realloc(c->recs, (size_t)cap * sizeof *recs);
        if (!recs)
            return -ENOMEM;
        memset(recs + c->cap_recs, 0, (size_t)(cap - c->cap_recs) * sizeof *recs);
        c->recs = recs;
        c->cap_recs = cap;
    }
    if (c->n_trials == c->cap_trials) {
        int cap = c->cap_trials ? c->cap_trials * 2 : 64;
        int *tr = realloc(c->trial_row, (size_t)cap * sizeof *tr);
        if (!tr)
            return -ENOMEM;
        c->trial_row = tr;
        c->cap_trials = cap;
    }
    c->trial_row[c->n_trials++] = r;
    return r;
}

static bool better(const coord_spec_t *spec, double a, double b)
{
    if (isnan(a))
        return false;
    if (isnan(b))
        return true;
    return spec->maximize ? a > b : a < b;
}

/* Move to the next parameter worth sweeping (more than one value, and
 * present in the current configuration), from c->param on and across
 * rounds; false when the rounds are over. */
static bool next_sweep(coord_t *c, const coord_spec_t *spec)
{
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    int row[COORD_SPEC_MAX_PARAMS];
    while (c->round < c->rounds) {
        for (; c->param < spec->n_params; c->param++) {
            if (c->radix[c->param] <= 1)
                continue;
            expand(spec, c->cur, vals, row);
            if (row[c->param] >= 0)
                return true;  // else its when: does not hold now
        }
        c->param = 0;
        c->round++;
    }
    return false;
}

/* The configuration of the current sweep for value j of the swept
 * parameter, as vals and row. */
static void sweep_config(const coord_t *c, const coord_spec_t *spec, int j, coord_pval_t *vals,
                         int *row)
{
    int idx[COORD_SPEC_MAX_PARAMS];
    memcpy(idx, c->cur, sizeof idx);
    idx[c->param] = j;
    expand(spec, idx, vals, row);
}

/* Run the state machine as far as it goes without a new trial: note the
 * sweep's configurations that were already requested, close a sweep whose
 * scores are all in (its winner becomes current), start the next sweep.
 * It stops with c->next at a configuration to request, at a sweep waiting
 * for scores, or finished.  Called after every event, so done() is exact. */
static void settle(coord_t *c, const coord_spec_t *spec)
{
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    int row[COORD_SPEC_MAX_PARAMS];
    if (c->single) {
        /* Nothing to sweep: the start configuration, unless it was enqueued. */
        expand(spec, c->cur, vals, row);
        if (coord__cfgset_find(&c->seen, row) >= 0)
            c->finished = true;
        return;
    }
    while (!c->finished) {
        if (!c->in_sweep) {
            if (!next_sweep(c, spec)) {
                c->finished = true;
                return;
            }
            c->in_sweep = true;
            c->next = 0;
        }
        int p = c->param;
        while (c->next < c->radix[p]) {
            sweep_config(c, spec, c->next, vals, row);
            int r = coord__cfgset_find(&c->seen, row);
            if (r < 0)
                return;  // a configuration to request
            c->sweep_row[c->next++] = r;
        }
        for (int j = 0; j < c->radix[p]; j++)
            if (!c->recs[c->sweep_row[j]].observed)
                return;  // the winner needs every score
        int win = c->cur[p];
        double best = c->recs[c->sweep_row[win]].score;
        for (int j = 0; j < c->radix[p]; j++)
            if (better(spec, c->recs[c->sweep_row[j]].score, best)) {
                best = c->recs[c->sweep_row[j]].score;
                win = j;
            }
        c->cur[p] = win;
        c->in_sweep = false;
        c->param++;
    }
}

static int coord_init(coord_search_t *s, hpt_err *err)
{
    const coord_spec_t *spec = s->spec;
    if (spec->n_params < 0 || spec->n_params > COORD_SPEC_MAX_PARAMS)
        return hpt_err_set(err, -EINVAL, "parameters: %d parameters (allowed 0..%d)",
                           spec->n_params, COORD_SPEC_MAX_PARAMS);
    coord_t *c = calloc(1, sizeof *c);
    if (!c)
        return hpt_err_set(err, -ENOMEM, "coordinate: out of memory");
    c->seen.width = spec->n_params;
    c->rounds = spec->rounds > 0 ? spec->rounds : 1;
    bool conditional = false;
    long total = 1;
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        if (p->dist != COORD_PDIST_VALUE && p->dist != COORD_PDIST_VALUES &&
            p->dist != COORD_PDIST_CATEGORICAL) {
            coord_free(c);
            return hpt_err_set(err, -EINVAL,
                               "parameters.%.31s: distribution cannot be enumerated by "
                               "coordinate search; use values",
                               p->name);
        }
        if (p->n_values < 1 || p->n_values > COORD_SPEC_MAX_VALUES || !p->values) {
            coord_free(c);
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: no values", p->name);
        }
        c->radix[i] = p->dist == COORD_PDIST_VALUE ? 1 : p->n_values;
        c->cur[i] = p->has_start && p->start_index < c->radix[i] ? p->start_index : 0;
        conditional |= p->n_when > 0;
        total += c->radix[i] - 1;
    }
    /* The enqueued trials are trials 1..n_enqueue, all handed out before
     * suggest() runs; their scores count like any other. */
    int row[COORD_SPEC_MAX_PARAMS];
    for (int r = 0; r < spec->n_enqueue; r++) {
        const coord_pval_t *v = spec->enqueue + (size_t)r * (size_t)spec->n_params;
        if (coord__search_index(spec, v, row) < 0) {
            coord_free(c);
            return hpt_err_set(err, -EINVAL, "enqueue[%d]: a value is not in the list", r);
        }
        if (note_trial(c, row) < 0) {
            coord_free(c);
            return hpt_err_set(err, -ENOMEM, "coordinate: out of memory");
        }
    }
    if (c->rounds == 1 && !conditional && spec->n_enqueue == 0)
        c->total = spec->max_trials > 0 && spec->max_trials < total ? spec->max_trials : total;
    else
        c->total = -1;
    c->single = total == 1;  // every parameter has one value
    settle(c, spec);
    s->state = c;
    return 0;
}

static int coord_suggest(coord_search_t *s, coord_pval_t *vals)
{
    coord_t *c = s->state;
    const coord_spec_t *spec = s->spec;
    int row[COORD_SPEC_MAX_PARAMS];
    settle(c, spec);
    if (c->finished || (spec->max_trials > 0 && s->suggested >= spec->max_trials))
        return COORD_SEARCH_DONE;
    if (c->single) {
        expand(spec, c->cur, vals, row);
        if (note_trial(c, row) < 0)
            return COORD_SEARCH_WAIT;  // out of memory: ask again later
        c->finished = true;
        return COORD_SEARCH_OK;
    }
    if (!c->in_sweep || c->next >= c->radix[c->param])
        return COORD_SEARCH_WAIT;
    sweep_config(c, spec, c->next, vals, row);
    int r = note_trial(c, row);
    if (r < 0)
        return COORD_SEARCH_WAIT;
    c->sweep_row[c->next++] = r;
    return COORD_SEARCH_OK;
}

static void coord_observe(coord_search_t *s, uint64_t trial, double score)
{
    coord_t *c = s->state;
    if (trial < 1 || trial > (uint64_t)c->n_trials)
        return;  // not a trial this search suggested
    crec_t *rec = &c->recs[c->trial_row[trial - 1]];
    if (rec->observed)
        return;  // a repeat of an observed configuration: the first score stands
    rec->observed = true;
    rec->score = isfinite(score) ? score : NAN;
    settle(c, s->spec);
}

static bool coord_done(const coord_search_t *s)
{
    const coord_t *c = s->state;
    return c->finished || (s->spec->max_trials > 0 && s->suggested >= s->spec->max_trials);
}

static long coord_total(const coord_search_t *s)
{
    const coord_t *c = s->state;
    return c->total;
}

static void coord_fini(coord_search_t *s)
{
    coord_free(s->state);
    s->state = NULL;
}

const coord_search_ops_t coord_search_coordinate = {
    .name = "coordinate",
    .init = coord_init,
    .suggest = coord_suggest,
    .observe_epoch = NULL,  // whole trials only
    .observe = coord_observe,
    .done = coord_done,
    .total = coord_total,
    .fini = coord_fini,
};
