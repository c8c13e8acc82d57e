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
 * Determinism: a strategy's suggestions are a pure function of (spec, seed,
 * the sequence of suggest and observe calls).  Grid and random ignore
 * scores; coordinate depends on the scores but not on when they arrive;
 * bayes (TPE) depends on the interleaving too, because pending trials enter
 * its model (the constant liar).  A restarted coordinator must therefore
 * replay the journal in the original order: before re-suggesting trial k,
 * observe exactly the trials that had been observed before trial k was
 * first suggested, in the order they were observed.
 *
 * enqueue: trials (spec->enqueue) come first, in order, whatever the method;
 * this file serves them, and a strategy's suggest() is called only once they
 * are all out.  Trial k <= spec->n_enqueue has the values of enqueue row
 * k - 1; strategies that learn read them from there.
 *
 * Conditional parameters: every strategy fills vals in spec order and marks
 * a parameter absent when coord_spec_active() says its when: does not hold.
 *
 * One file per strategy (grid.c, random.c, tpe.c, coordinate.c, hyperband.c,
 * asha.c); each exports a coord_search_ops_t.  Loop thread only.
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
#define COORD_SEARCH_WAIT 0     // nothing now; ask again after an observation (coordinate
                                // waits for the current parameter's trials)
#define COORD_SEARCH_DONE (-1)  // no more trials, ever

typedef struct coord_search_ops {
    const char *name;
    /* Set up s->state; return 0 or a negative errno with err filled. */
    int (*init)(coord_search_t *s, hpt_err *err);
    /* Write the next trial's values (one per spec->params) into vals.  Called
     * only after the enqueued trials are out. */
    int (*suggest)(coord_search_t *s, coord_pval_t *vals);
    void (*observe_epoch)(coord_search_t *s, uint64_t trial, int epoch, double score);
    void (*observe)(coord_search_t *s, uint64_t trial, double score);
    bool (*done)(const coord_search_t *s);
    /* Trials this search will suggest in all, enqueued ones included, or -1
     * when not known up front. */
    long (*total)(const coord_search_t *s);
    void (*fini)(coord_search_t *s);
} coord_search_ops_t;

struct coord_search {
    const coord_search_ops_t *ops;
    const coord_spec_t *spec;   // borrowed; outlives the search
    hpt_rng_t rng;              // seeded from spec->seed
    long suggested;             // trials suggested so far
    long observed;              // trials observed so far
    uint64_t parent;            // set by suggest: the earlier trial this one continues with
                                // a larger budget (hyperband, asha promotions), or 0 for a
                                // new configuration; the wrapper resets it before each call
    bool target_reached;        // metric.target: an observed score reached it, so no new
                                // trial is suggested (W&B's meaning)
    void *state;                // the strategy's own
};

extern const coord_search_ops_t coord_search_grid;
extern const coord_search_ops_t coord_search_random;
extern const coord_search_ops_t coord_search_bayes;       // tpe.c
extern const coord_search_ops_t coord_search_coordinate;  // coordinate.c
extern const coord_search_ops_t coord_search_hyperband;   // hyperband.c
extern const coord_search_ops_t coord_search_asha;        // asha.c

/* Create the strategy spec->method asks for.  spec borrowed (must outlive
 * the search).  *out returns owned. */
int coord_search_new(coord_search_t **out, const coord_spec_t *spec, hpt_err *err);
void coord_search_destroy(coord_search_t **p);

/* Wrappers that keep the counters; see the ops. */
int coord_search_suggest(coord_search_t *s, coord_pval_t *vals);
void coord_search_observe_epoch(coord_search_t *s, uint64_t trial, int epoch, double score);
void coord_search_observe(coord_search_t *s, uint64_t trial, double score);
bool coord_search_done(const coord_search_t *s);
/* Whether the strategy learns from per-epoch scores (observe_epoch): the
 * workers then score the validation fold after every epoch. */
bool coord_search_wants_epochs(const coord_search_t *s);
long coord_search_total(const coord_search_t *s);

// ---------------------------------------------------------------------------
// Internals shared by the strategies (not for the coordinator)

/* One draw of parameter p (which must not be absent) from rng, as random
 * search does: see random.c for each distribution. */
coord_pval_t coord__search_sample(hpt_rng_t *rng, const coord_param_t *p);

/* The value of parameter p (not absent) at quantile u in [0, 1) of its
 * distribution: what coord__search_sample draws from a uniform u, except
 * that q_uniform gives every multiple of q inside [min, max] the same share
 * (coord__search_sample rounds U(min, max), which halves the ends' share).
 * For stratified designs (tpe.c's start). */
coord_pval_t coord__search_quantile(const coord_param_t *p, double u);

/* A whole random trial: every parameter in spec order, drawn with
 * coord__search_sample when active and marked absent (no draw) when not. */
void coord__search_sample_all(const coord_spec_t *spec, hpt_rng_t *rng, coord_pval_t *vals);

/* Room for element n of arr, an array of `size`-byte elements with *cap
 * allocated (doubling from 64): returns the array, perhaps moved, or NULL
 * when out of memory (arr and *cap unchanged, arr still the caller's). */
void *coord__search_grow(void *arr, long *cap, long n, size_t size);

/* Whether two trials have the same values (absent equals absent). */
bool coord__search_same(const coord_spec_t *spec, const coord_pval_t *a, const coord_pval_t *b);

/* The enumerable strategies (grid, coordinate) name a trial by a row of
 * value indices, one per parameter (-1 when absent).  Fill row from vals;
 * -EINVAL when a value is not in its parameter's list. */
int coord__search_index(const coord_spec_t *spec, const coord_pval_t *vals, int *row);

/* A set of such rows (open addressing over FNV-1a), numbered 0, 1, ... in
 * the order they were added.  Start it zeroed with .width set. */
typedef struct coord__cfgset {
    int width;       // ints per row (the spec's n_params)
    int n, cap;      // rows stored / allocated
    int *rows;       // owned, n * width
    int *slots;      // owned, n_slots entries: a row number or -1
    size_t n_slots;  // a power of two, at least 2 n
} coord__cfgset_t;

/* The row's number, or -1 when absent from the set. */
int coord__cfgset_find(const coord__cfgset_t *set, const int *row);
/* Add row (borrowed, copied) unless present; returns its number or -ENOMEM. */
int coord__cfgset_add(coord__cfgset_t *set, const int *row);
void coord__cfgset_free(coord__cfgset_t *set);

#endif
