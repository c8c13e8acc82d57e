/*
 * coord_aggregate.h: cross-validation statistics in scikit-learn's
 * cv_results_ shape: mean and population standard deviation over splits,
 * and min-rank on ties with failed (NaN) trials tied at the worst rank.
 * Pure functions, any thread.
 */
#ifndef COORD_AGGREGATE_H
#define COORD_AGGREGATE_H

#include <stdbool.h>

/* Mean and population std (ddof 0, as numpy.std) of x[0..n); NaN when n is
 * 0 or any value is NaN. */
void coord_agg_mean_std(const double *x, int n, double *mean, double *std);

/* Ranks (1-based, written to rank[0..n)) of the scores, best first: with
 * maximize the largest score ranks 1.  Ties share the smallest rank
 * (scipy rankdata method='min'); NaN scores tie with each other below every
 * finite score; when every score is NaN all ranks are 1 (as scikit-learn). */
void coord_agg_rank(const double *score, int n, bool maximize, int *rank);

#endif
