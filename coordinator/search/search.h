/*
 * search.h: the one interface every search strategy implements.
 *
 * The coordinator asks for trials with coord_search_suggest() whenever it has
 * room for more work, reports per-epoch validation scores with
 * observe_epoch() (mean over the trial's folds at that epoch, for the
 * early-stopping strategies) and each finished trial's mean CV score with
 * observe() (NaN for a failed trial), and stops asking when done() says so.
 * Trials are numbered 1, 2, ... in the order they were suggested.
 *
 * Determinism: a strategy's suggestions are a function of (spec, seed, the
 * sequence of observations), so a restarted coordinator that replays the
 * journal gets the same trials.
 *
 * One file per strategy (grid.c, random.c, ...); each exports a
 * coord_search_ops_t.  Loop thread only.
 */
#ifndef COORD_SEARCH_H
#define COORD_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "../coord_spec.h"
#include "err.h"
#include "rng.h"

typedef struct coord_search coord_search_t;

/* Return values of suggest. */
#define COORD_SEARCH_OK 1       // a trial was written to vals
#define COORD_SEARCH_WAIT 0     // nothing now; ask again after an observation
#define COORD_SEARCH_DONE (-1)  // no more trials, ever

typedef struct coord_search_ops {
    const char *name;
    /* Set up s->state; return 0 or a negative errno with err filled. */
    int (*init)(coord_search_t *s, hpt_err *err);
    /* Write the next trial's values (one per spec->params) into vals. */
    int (*suggest)(coord_search_t *s, coord_pval_t *vals);
    void (*observe_epoch)(coord_search_t *s, uint64_t trial, int epoch, double score);
    void (*observe)(coord_search_t *s, uint64_t trial, double score);
    bool (*done)(const coord_search_t *s);
    /* Trials this strategy will suggest in all, or -1 when not known up front. */
    long (*total)(const coord_search_t *s);
    void (*fini)(coord_search_t *s);
} coord_search_ops_t;

struct coord_search {
    const coord_search_ops_t *ops;
    const coord_spec_t *spec;   // borrowed; outlives the search
    hpt_rng_t rng;              // seeded from spec->seed
    long suggested;             // trials suggested so far
    long observed;              // trials observed so far
    void *state;                // the strategy's own
};

extern const coord_search_ops_t coord_search_grid;
extern const coord_search_ops_t coord_search_random;

/* Create the strategy spec->method asks for.  spec borrowed (must outlive
 * the search).  *out returns owned. */
int coord_search_new(coord_search_t **out, const coord_spec_t *spec, hpt_err *err);
void coord_search_destroy(coord_search_t **p);

/* Wrappers that keep the counters; see the ops. */
int coord_search_suggest(coord_search_t *s, coord_pval_t *vals);
void coord_search_observe_epoch(coord_search_t *s, uint64_t trial, int epoch, double score);
void coord_search_observe(coord_search_t *s, uint64_t trial, double score);
bool coord_search_done(const coord_search_t *s);
long coord_search_total(const coord_search_t *s);

#endif
