/*
 * grid.c: exhaustive grid search.
 *
 * The grid is the cartesian product of every parameter's values in spec
 * order (a constant counts as one value, a categorical distribution as its
 * values list), enumerated like an odometer: the LAST parameter varies
 * fastest.  (scikit-learn's ParameterGrid sorts the keys alphabetically; we
 * keep the order the user wrote.)  Trial k (0-based) is the mixed-radix
 * decoding of k, so the sequence depends on nothing but the spec, and
 * budget.max_trials, when smaller than the grid, keeps its first max_trials
 * combinations.  Observations do not change anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "search.h"

typedef struct grid {
    long total;                          // combinations to suggest (after max_trials)
    long next;                           // index of the next combination
    int radix[COORD_SPEC_MAX_PARAMS];    // values per parameter, in spec order
} grid_t;

static int grid_init(coord_search_t *s, hpt_err *err)
{
    const coord_spec_t *spec = s->spec;
    if (spec->n_params < 0 || spec->n_params > COORD_SPEC_MAX_PARAMS)
        return hpt_err_set(err, -EINVAL, "parameters: %d parameters (allowed 0..%d)",
                           spec->n_params, COORD_SPEC_MAX_PARAMS);
    grid_t *g = calloc(1, sizeof *g);
    if (!g)
        return hpt_err_set(err, -ENOMEM, "grid: out of memory");
    g->total = 1;
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
            free(g);
            return hpt_err_set(err, -EINVAL,
                               "parameters.%.31s: distribution cannot be enumerated by grid "
                               "search; use values",
                               p->name);
        }
        if (n < 1 || !p->values) {
            free(g);
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: no values", p->name);
        }
        if (g->total > COORD_SPEC_MAX_GRID / n) {
            free(g);
            return hpt_err_set(err, -EINVAL,
                               "parameters: the grid has more than %ld combinations",
                               (long)COORD_SPEC_MAX_GRID);
        }
        g->radix[i] = n;
        g->total *= n;
    }
    if (spec->max_trials > 0 && spec->max_trials < g->total)
        g->total = spec->max_trials;
    s->state = g;
    return 0;
}

static int grid_suggest(coord_search_t *s, coord_pval_t *vals)
{
    grid_t *g = s->state;
    if (g->next >= g->total)
        return COORD_SEARCH_DONE;
    long k = g->next++;
    for (int i = s->spec->n_params - 1; i >= 0; i--) {
        const coord_param_t *p = &s->spec->params[i];
        vals[i] = p->values[k % g->radix[i]];
        k /= g->radix[i];
    }
    return COORD_SEARCH_OK;
}

static bool grid_done(const coord_search_t *s)
{
    const grid_t *g = s->state;
    return g->next >= g->total;
}

static long grid_total(const coord_search_t *s)
{
    const grid_t *g = s->state;
    return g->total;
}

static void grid_fini(coord_search_t *s)
{
    free(s->state);
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
