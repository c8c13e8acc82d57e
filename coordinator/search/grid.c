/*
 * grid.c: exhaustive grid search.
 *
 * The grid is the cartesian product of every parameter's values in spec
 * order (a constant counts as one value, a categorical distribution as its
 * values list), enumerated like an odometer: the LAST parameter varies
 * fastest.  (scikit-learn's ParameterGrid sorts the keys alphabetically; we
 * keep the order the user wrote.)  The sequence depends on nothing but the
 * spec, and budget.max_trials, when smaller than the grid, keeps its first
 * max_trials combinations.  Observations do not change anything.
 *
 * Conditional parameters: a parameter whose when: does not hold (given the
 * values of the parameters before it) is absent and is not enumerated, so
 * the grid is a tree rather than a box and holds no duplicate
 * configurations: with layers [1, 2] and units_2 [8, 16] when layers >= 2,
 * the trials are (1, -), (2, 8), (2, 16).  The odometer therefore advances
 * the last parameter that is present and not at its last value, then resets
 * every parameter after it to its first value or to absent.
 *
 * enqueue: trials run first (search.c serves them); the grid then skips any
 * combination equal to an enqueued one, so nothing runs twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "search.h"

typedef struct grid {
    long total;                          // trials in all, enqueued ones included
    long left;                           // grid trials still to suggest
    bool started, exhausted;             // the odometer has a current combination / is past the end
    int radix[COORD_SPEC_MAX_PARAMS];    // values per parameter, in spec order
    int idx[COORD_SPEC_MAX_PARAMS];      // the current combination: value index, -1 = absent
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];  // the same as values
    coord__cfgset_t enqueued;            // the enqueued trials, as index rows
} grid_t;

static void grid_free(grid_t *g)
{
    if (!g)
        return;
    coord__cfgset_free(&g->enqueued);
    free(g);
}

static int grid_init(coord_search_t *s, hpt_err *err)
{
    const coord_spec_t *spec = s->spec;
    if (spec->n_params < 0 || spec->n_params > COORD_SPEC_MAX_PARAMS)
        return hpt_err_set(err, -EINVAL, "parameters: %d parameters (allowed 0..%d)",
                           spec->n_params, COORD_SPEC_MAX_PARAMS);
    grid_t *g = calloc(1, sizeof *g);
    if (!g)
        return hpt_err_set(err, -ENOMEM, "grid: out of memory");
    g->enqueued.width = spec->n_params;
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        int n;
        switch (p->dist) {
        case COORD_PDIST_VALUE:
            n = 1;
            break;
        case COORD_PDIST_VALUES:
        case COORD_PDIST_CATEGORICAL:
            n = p->n_values;
            break;
        default:
            grid_free(g);
            return hpt_err_set(err, -EINVAL,
                               "parameters.%.31s: distribution cannot be enumerated by grid "
                               "search; use values",
                               p->name);
        }
        if (n < 1 || !p->values) {
            grid_free(g);
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: no values", p->name);
        }
        g->radix[i] = n;
    }
    long size = coord_spec_grid_size(spec, COORD_SPEC_MAX_GRID);
    if (size < 0 || size > COORD_SPEC_MAX_GRID) {
        grid_free(g);
        return hpt_err_set(err, -EINVAL, "parameters: the grid has more than %ld combinations",
                           (long)COORD_SPEC_MAX_GRID);
    }
    /* Enqueued trials are grid combinations (the parser checked each value
     * against its list); the distinct ones leave the grid. */
    int row[COORD_SPEC_MAX_PARAMS];
    for (int r = 0; r < spec->n_enqueue; r++) {
        const coord_pval_t *v = spec->enqueue + (size_t)r * (size_t)spec->n_params;
        if (coord__search_index(spec, v, row) < 0) {
            grid_free(g);
            return hpt_err_set(err, -EINVAL, "enqueue[%d]: a value is not in the grid", r);
        }
        if (coord__cfgset_add(&g->enqueued, row) < 0) {
            grid_free(g);
            return hpt_err_set(err, -ENOMEM, "grid: out of memory");
        }
    }
    g->left = size - g->enqueued.n;
    g->total = spec->n_enqueue + g->left;
    if (spec->max_trials > 0 && spec->max_trials < g->total) {
        g->left -= g->total - spec->max_trials;
        g->total = spec->max_trials;
    }
    s->state = g;
    return 0;
}

/* Reset parameters from..n-1 to their first value, or absent where their
 * when: does not hold. */
static void reset_from(grid_t *g, const coord_spec_t *spec, int from)
{
    for (int i = from; i < spec->n_params; i++) {
        if (coord_spec_active(spec, i, g->vals)) {
            g->idx[i] = 0;
            g->vals[i] = spec->params[i].values[0];
        } else {
            g->idx[i] = -1;
            g->vals[i] = (coord_pval_t){.absent = true};
        }
    }
}

/* Move to the next combination; false past the last one. */
static bool advance(grid_t *g, const coord_spec_t *spec)
{
    if (!g->started) {
        g->started = true;
        reset_from(g, spec, 0);
        return true;
    }
    for (int i = spec->n_params - 1; i >= 0; i--) {
        if (g->idx[i] < 0 || g->idx[i] + 1 >= g->radix[i])
            continue;
        g->idx[i]++;
        g->vals[i] = spec->params[i].values[g->idx[i]];
        reset_from(g, spec, i + 1);
        return true;
    }
    return false;
}

static int grid_suggest(coord_search_t *s, coord_pval_t *vals)
{
    grid_t *g = s->state;
    if (g->left <= 0 || g->exhausted)
        return COORD_SEARCH_DONE;
    do {
        if (!advance(g, s->spec)) {
            g->exhausted = true;  // only if max_trials and the count disagree; cannot happen
            return COORD_SEARCH_DONE;
        }
    } while (g->enqueued.n > 0 && coord__cfgset_find(&g->enqueued, g->idx) >= 0);
    g->left--;
    for (int i = 0; i < s->spec->n_params; i++)
        vals[i] = g->vals[i];
    return COORD_SEARCH_OK;
}

static bool grid_done(const coord_search_t *s)
{
    const grid_t *g = s->state;
    return g->left <= 0 || g->exhausted;
}

static long grid_total(const coord_search_t *s)
{
    const grid_t *g = s->state;
    return g->total;
}

static void grid_fini(coord_search_t *s)
{
    grid_free(s->state);
    s->state = NULL;
}

const coord_search_ops_t coord_search_grid = {
    .name = "grid",
    .init = grid_init,
    .suggest = grid_suggest,
    .observe_epoch = NULL,  // grid search does not stop trials early
    .observe = NULL,        // nor does it learn from scores
    .done = grid_done,
    .total = grid_total,
    .fini = grid_fini,
};
