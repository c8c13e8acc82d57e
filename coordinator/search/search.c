/*
 * search.c: strategy selection and the wrappers that keep a search's
 * counters (see search.h).  The strategies live one per file (grid.c,
 * random.c); this file only dispatches to their ops.
 */
#include "search.h"

#include <stdlib.h>

/* The strategy for each method, indexed by coord_method_t. */
static const coord_search_ops_t *const strategies[COORD_METHOD__COUNT] = {
    [COORD_METHOD_GRID] = &coord_search_grid,
    [COORD_METHOD_RANDOM] = &coord_search_random,
};

int coord_search_new(coord_search_t **out, const coord_spec_t *spec, hpt_err *err)
{
    *out = NULL;
    if (!spec || (unsigned)spec->method >= COORD_METHOD__COUNT || !strategies[spec->method])
        return hpt_err_set(err, -EINVAL, "method: no search strategy for '%s'",
                           spec ? coord_method_name(spec->method) : "?");
    coord_search_t *s = calloc(1, sizeof *s);
    if (!s)
        return hpt_err_set(err, -ENOMEM, "search: out of memory");
    s->ops = strategies[spec->method];
    s->spec = spec;
    hpt_rng_seed(&s->rng, spec->seed);
    int rc = s->ops->init(s, err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void coord_search_destroy(coord_search_t **p)
{
    if (!p || !*p)
        return;
    coord_search_t *s = *p;
    if (s->ops->fini)
        s->ops->fini(s);
    free(s);
    *p = NULL;
}

int coord_search_suggest(coord_search_t *s, coord_pval_t *vals)
{
    int rc = s->ops->suggest(s, vals);
    if (rc == COORD_SEARCH_OK)
        s->suggested++;
    return rc;
}

void coord_search_observe_epoch(coord_search_t *s, uint64_t trial, int epoch, double score)
{
    if (s->ops->observe_epoch)
        s->ops->observe_epoch(s, trial, epoch, score);
}

void coord_search_observe(coord_search_t *s, uint64_t trial, double score)
{
    s->observed++;
    if (s->ops->observe)
        s->ops->observe(s, trial, score);
}

bool coord_search_done(const coord_search_t *s)
{
    return s->ops->done ? s->ops->done(s) : false;
}

long coord_search_total(const coord_search_t *s)
{
    return s->ops->total ? s->ops->total(s) : -1;
}
