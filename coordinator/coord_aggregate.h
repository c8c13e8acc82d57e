/*
 * coord_aggregate.h: cross-validation statistics in scikit-learn's
 * cv_results_ shape: mean and population standard deviation over splits,
 * and min-rank on ties with failed (NaN) trials tied at the worst rank; and
 * the significance tests behind an honest winner: the corrected resampled
 * t-test on paired split scores, and the Wilson interval for an accuracy.
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
 * (scipy rankdata method='min'), so the rank after a tie skips: 1, 2, 2, 4;
 * NaN scores tie with each other below every finite score (rank: the
 * number of finite scores + 1); when every score is NaN all ranks are 1 (as
 * scikit-learn).  -0.0 and 0.0 tie.  O(n log n): one sort of the indices.
 * score and rank are borrowed (n each).  Returns 0, or -ENOMEM (rank then
 * untouched).  Pure; any thread. */
int coord_agg_rank(const double *score, int n, bool maximize, int *rank);

/* The same ranks by the definition, O(n^2): 1 + the number of finite scores
 * strictly better.  The reference the tests compare coord_agg_rank with. */
void coord_agg_rank_naive(const double *score, int n, bool maximize, int *rank);

// ---------------------------------------------------------------------------
// Significance (is the winner really better?)

/* z for a two-sided 95% interval: the 0.975 quantile of N(0, 1). */
#define COORD_AGG_Z95 1.959963984540054

/* Result of coord_agg_nb_ttest. */
typedef struct coord_agg_ttest {
    double t;                    // the statistic; +-inf when the differences are constant
    double p;                    // two-sided p-value, in [0, 1]
    double mean;                 // mean difference (a - b)
    double var;                  // sample variance of the differences (ddof 1)
    int dof;                     // n - 1
} coord_agg_ttest_t;

/* The corrected resampled t-test of Nadeau and Bengio (2003, "Inference for
 * the Generalization Error", Machine Learning 52) for two trials scored on
 * the same n = folds x repeats splits: a[j] and b[j] (borrowed, n each) are
 * their scores on split j.  With d_j = a_j - b_j, mean d and sample variance
 * s^2 (ddof 1),
 *     t = mean / sqrt((1/n + n_test/n_train) s^2),
 * and p is two-sided from Student's t with n - 1 degrees of freedom.
 * test_train is n_test / n_train, the ratio of a split's test and training
 * sizes: 1 / (folds - 1) for k-fold.  (With test_train = 0 this is the
 * ordinary paired t-test, which is too liberal for CV splits because they
 * share training data.)  When s^2 = 0: mean 0 gives t = 0, p = 1 (identical
 * scores); otherwise t = +-inf, p = 0.
 * Returns 0, or -EINVAL when n < 2, test_train < 0 or a score is not finite.
 * Pure; any thread (lgamma may set the global signgam, which we never read). */
int coord_agg_nb_ttest(const double *a, const double *b, int n, double test_train,
                       coord_agg_ttest_t *out);

/* Two-sided p-value of Student's t statistic t with dof > 0 degrees of
 * freedom: P(|T| >= |t|) = I_{dof/(dof+t^2)}(dof/2, 1/2).  NaN for NaN t or
 * dof <= 0. */
double coord_agg_t_pvalue(double t, double dof);

/* The regularized incomplete beta function I_x(a, b) for a, b > 0 and
 * 0 <= x <= 1 (Numerical Recipes' betai with the continued fraction betacf,
 * evaluated by the modified Lentz method to relative precision 1e-15).  NaN
 * outside the domain. */
double coord_agg_betainc(double a, double b, double x);

/* Wilson score interval for a proportion of k successes in n trials at
 * normal quantile z (COORD_AGG_Z95 for 95%):
 *     (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),  p = k/n.
 * Returns 0 with [*lo, *hi] inside [0, 1], or -EINVAL when n <= 0,
 * k outside 0..n or z not positive and finite. */
int coord_agg_wilson(long k, long n, double z, double *lo, double *hi);

#endif
