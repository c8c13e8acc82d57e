/*
 * test_aggregate.c: coord_agg_rank (coordinator/coord_aggregate.c, compiled
 * in directly) against scikit-learn's rank_test_score rules (method='min'
 * ranks, failed trials' NaN tied last, all 1 when nothing finished) and
 * against the O(n^2) definition, coord_agg_rank_naive, on random scores with
 * many ties and NaNs.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "coord_aggregate.h"
#include "hpt_test.h"
#include "rng.h"

static void expect_ranks(const double *x, int n, bool maximize, const int *want)
{
    int got[16];
    ASSERT(n <= 16);
    ASSERT_OK(coord_agg_rank(x, n, maximize, got));
    for (int i = 0; i < n; i++)
        if (got[i] != want[i])
            HPT__FAIL("rank[%d] of %d: got %d, want %d", i, n, got[i], want[i]);
}

HPT_TEST(ties_share_min_rank_and_next_skips)
{
    /* scipy.stats.rankdata(-x, method='min') for maximize. */
    double x[] = {0.9, 0.8, 0.9, 0.7, 0.8, 0.9};
    int want_max[] = {1, 4, 1, 6, 4, 1};
    expect_ranks(x, 6, true, want_max);
    int want_min[] = {4, 2, 4, 1, 2, 4};
    expect_ranks(x, 6, false, want_min);
}

HPT_TEST(nan_ranks_last_and_tied)
{
    double x[] = {NAN, 0.5, 0.7, NAN, 0.5};
    int want_max[] = {4, 2, 1, 4, 2};
    expect_ranks(x, 5, true, want_max);
    int want_min[] = {4, 1, 3, 4, 1};
    expect_ranks(x, 5, false, want_min);
}

HPT_TEST(all_nan_all_rank_one)
{
    double x[] = {NAN, NAN, NAN};
    int want[] = {1, 1, 1};
    expect_ranks(x, 3, true, want);
    expect_ranks(x, 3, false, want);
}

HPT_TEST(maximize_versus_minimize)
{
    /* Infinities are ordinary extremes; -0.0 ties with 0.0. */
    double x[] = {-INFINITY, 0.0, -0.0, 2.5, INFINITY};
    int want_max[] = {5, 3, 3, 2, 1};
    expect_ranks(x, 5, true, want_max);
    int want_min[] = {1, 2, 2, 4, 5};
    expect_ranks(x, 5, false, want_min);
}

HPT_TEST(empty_and_single)
{
    int r = -1;
    ASSERT_OK(coord_agg_rank(NULL, 0, true, &r));
    ASSERT_EQ(r, -1);
    double one = 0.3;
    ASSERT_OK(coord_agg_rank(&one, 1, false, &r));
    ASSERT_EQ(r, 1);
}

HPT_TEST(random_matches_naive)
{
    hpt_rng_t g;
    hpt_rng_seed(&g, 20261207);
    enum { MAXN = 3000 };
    double *x = malloc(MAXN * sizeof *x);
    int *a = malloc(MAXN * sizeof *a), *b = malloc(MAXN * sizeof *b);
    ASSERT(x && a && b);
    for (int round = 0; round < 200; round++) {
        int n = 1 + (int)hpt_rng_below(&g, round < 150 ? 40 : MAXN);
        /* Few distinct values make ties common; some rounds have none. */
        uint32_t distinct = 1 + hpt_rng_below(&g, round % 3 == 0 ? 1000000 : 8);
        uint32_t nan_pct = hpt_rng_below(&g, 4) * 15;   // 0, 15, 30 or 45 % NaN
        for (int i = 0; i < n; i++)
            x[i] = hpt_rng_below(&g, 100) < nan_pct ? NAN
                                                     : (double)hpt_rng_below(&g, distinct) / 7.0;
        bool maximize = round & 1;
        ASSERT_OK(coord_agg_rank(x, n, maximize, a));
        coord_agg_rank_naive(x, n, maximize, b);
        for (int i = 0; i < n; i++)
            if (a[i] != b[i])
                HPT__FAIL("round %d n %d: rank[%d] of %g is %d, naive says %d", round, n, i,
                          x[i], a[i], b[i]);
    }
    free(b);
    free(a);
    free(x);
}

HPT_TEST(large_is_fast_enough)
{
    /* 1,000,000 scores: O(n^2) would take hours; the sort takes well under a
     * second.  Checks the extremes rather than timing (machines differ). */
    int n = 1000000;
    double *x = malloc((size_t)n * sizeof *x);
    int *r = malloc((size_t)n * sizeof *r);
    ASSERT(x && r);
    for (int i = 0; i < n; i++)
        x[i] = i % 10 == 9 ? NAN : (double)(i % 1000);
    ASSERT_OK(coord_agg_rank(x, n, true, r));
    /* 900 distinct finite values (last digit not 9), 1000 copies each. */
    ASSERT_EQ(r[998], 1);                 // 998, the best
    ASSERT_EQ(r[1998], 1);                // its copies tie
    ASSERT_EQ(r[997], 1001);              // the next value skips the 1000 tied
    ASSERT_EQ(r[0], 900000 - 1000 + 1);   // 0, the worst finite
    ASSERT_EQ(r[9], 900001);              // NaN: after the 900,000 finite scores
    free(r);
    free(x);
}

HPT_TEST_MAIN()
