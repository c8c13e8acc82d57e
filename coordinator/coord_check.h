/*
 * coord_check.h: everything the coordinator decides about a sweep spec when
 * it is submitted, decided without a coordinator.
 *
 * coord_check_spec parses the spec (every error, every warning), sets up its
 * search strategy, counts its trials and tasks and applies the sweep-size
 * limit.  `hptune check` (and `hptune launch --check`) print the result; the
 * coordinator's Submit handler runs the same function before it queues the
 * sweep, so the two agree by construction.  What only a running coordinator
 * can know (whether it has the dataset, its fingerprint) is not checked here.
 *
 * No I/O, no clock: a pure function of (text, path).  Any thread.
 */
#ifndef COORD_CHECK_H
#define COORD_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "coord_spec.h"

/* Trials x tasks per trial of one sweep; the core refuses more
 * (COORD_MAX_SWEEP_TASKS in core/core.h has the same value). */
#define COORD_CHECK_MAX_TASKS 100000000LL

typedef struct coord_check {
    char *path;                  // owned copy of the path given, for the report
    coord_spec_t *spec;          // owned; NULL when the spec is invalid
    coord_diags_t diags;         // errors and warnings, in file order
    long trials;                 // trials known up front (grid, random, bayes, hyperband),
                                 // -1 when the search decides as scores arrive (coordinate,
                                 // asha) or the spec is invalid
    int splits;                  // tasks per trial: folds x repeats x cv.seeds
    long long tasks;             // trials x splits, plus 1 for the refit; -1 when unknown
} coord_check_t;

/* Check spec text (borrowed, len bytes) named `path` (borrowed) in messages.
 * *out is filled (free it with coord_check_free).  Returns 0 when the spec is
 * valid (out->spec set, warnings possible), -EINVAL when it is not (the
 * errors are in out->diags) or -ENOMEM. */
int coord_check_spec(const char *text, size_t len, const char *path, coord_check_t *out);

/* Free what *c owns; accepts NULL.  *c is left zeroed. */
void coord_check_free(coord_check_t *c);

/* A readable account of a valid check, for `hptune check`: the method, the
 * trial and task counts (or the budget), the dataset, metric and CV, the
 * parameter table with every hyperparameter's resolved default, and, when
 * list_trials > 0, the first list_trials trials the search hands out before
 * any score is known (all of a grid's, a random search's draws, ...).
 * Returns an owned string ending in a newline, or NULL when out of memory
 * or c holds no valid spec. */
char *coord_check_report(const coord_check_t *c, int list_trials);

#endif
