/*
 * test_stats.c: the significance statistics of coordinator/coord_aggregate.c
 * (the Nadeau-Bengio corrected resampled t-test, Student's t p-values, the
 * regularized incomplete beta function and the Wilson interval).
 *
 * Expected values come from two independent sources:
 *   - hand-worked cases with closed forms (t with 1 and 2 degrees of
 *     freedom, I_x(1, 1) = x, I_x(a, 1) = x^a, constant differences);
 *   - SciPy 1.10.1 (Debian 12's python3-scipy), computed once with
 *     /usr/bin/python3 by the script below and pasted in:
 *
 *     import numpy as np
 *     from scipy import stats, special
 *     def nb(a, b, ratio):
 *         d = np.asarray(a) - np.asarray(b); n = len(d)
 *         m = d.mean(); v = d.var(ddof=1)
 *         t = m / np.sqrt((1/n + ratio) * v)
 *         return t, 2 * stats.t.sf(abs(t), n - 1), m, v
 *     for name, (a, b, r) in CASES.items():           # the NB_CASES below
 *         print(name, *map(repr, nb(a, b, r)))
 *     for a, b, x in BETA:                             # the BETA table below
 *         print(repr(special.betainc(a, b, x)))
 *     for t, dof in TP:                                # the TP table below
 *         print(repr(2 * stats.t.sf(abs(t), dof)))
 *     print(repr(stats.norm.ppf(0.975)))               # 1.959963984540054
 *     for k, n in WILSON:                              # the WILSON table below
 *         ci = stats.binomtest(k, n).proportion_ci(0.95, method='wilson')
 *         print(repr(ci.low), repr(ci.high))
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "coord_aggregate.h"
#include "hpt_test.h"

#define PI 3.14159265358979323846

// ---------------------------------------------------------------------------
// Corrected resampled t-test

typedef struct {
    const char *name;
    int n;
    double a[16], b[16], test_train;
    double t, p, mean, var;  // SciPy
} nb_case_t;

static const nb_case_t NB_CASES[] = {
    {"5-fold", 5,
     {0.91, 0.93, 0.90, 0.92, 0.94},
     {0.89, 0.92, 0.90, 0.90, 0.91},
     1.0 / 4,
     2.0919054414739664, 0.10460522928410165, 0.015999999999999993, 0.00012999999999999945},
    {"3-fold x 5 repeats", 15,
     {0.812, 0.835, 0.826, 0.804, 0.841, 0.829, 0.818, 0.833, 0.822, 0.816, 0.827, 0.839, 0.808,
      0.821, 0.830},
     {0.809, 0.829, 0.830, 0.801, 0.835, 0.824, 0.820, 0.826, 0.818, 0.815, 0.820, 0.836, 0.810,
      0.818, 0.828},
     1.0 / 2,
     1.1058102908216163, 0.28744963984104055, 0.0028000000000000026, 1.1314285714285735e-05},
    {"4-fold, b better", 4,
     {0.50, 0.52, 0.49, 0.51},
     {0.55, 0.53, 0.56, 0.52},
     1.0 / 3,
     -1.527525231651947, 0.22407978816392368, -0.03500000000000003, 0.0009000000000000015},
};

HPT_TEST(nb_ttest_scipy)
{
    for (size_t k = 0; k < sizeof NB_CASES / sizeof NB_CASES[0]; k++) {
        const nb_case_t *c = &NB_CASES[k];
        coord_agg_ttest_t r;
        fprintf(stderr, "  %s\n", c->name);
        ASSERT_OK(coord_agg_nb_ttest(c->a, c->b, c->n, c->test_train, &r));
        ASSERT_NEAR(r.mean, c->mean, 1e-15);
        ASSERT_NEAR(r.var, c->var, 1e-15 + 1e-12 * c->var);
        ASSERT_NEAR(r.t, c->t, 1e-11 * fabs(c->t));
        ASSERT_NEAR(r.p, c->p, 1e-12);
        ASSERT_EQ(r.dof, c->n - 1);
        // Swapping the trials flips t and keeps p.
        coord_agg_ttest_t s;
        ASSERT_OK(coord_agg_nb_ttest(c->b, c->a, c->n, c->test_train, &s));
        ASSERT_NEAR(s.t, -r.t, 1e-12);
        ASSERT_NEAR(s.p, r.p, 1e-14);
    }
}

HPT_TEST(nb_ttest_by_hand)
{
    // 3-fold (n_test/n_train = 1/2), d = (0.1, 0.1, 0): mean 1/15, s^2 = 1/300,
    // t = (1/15) / sqrt((1/3 + 1/2) / 300) = sqrt(1.6); with 2 dof,
    // P(|T| >= t) = 1 - t / sqrt(2 + t^2) = 1 - sqrt(1.6 / 3.6) = 1/3.
    const double a[3] = {0.8, 0.9, 0.7}, b[3] = {0.7, 0.8, 0.7};
    coord_agg_ttest_t r;
    ASSERT_OK(coord_agg_nb_ttest(a, b, 3, 0.5, &r));
    ASSERT_NEAR(r.mean, 1.0 / 15, 1e-15);
    ASSERT_NEAR(r.var, 1.0 / 300, 1e-15);
    ASSERT_NEAR(r.t, sqrt(1.6), 1e-12);
    ASSERT_NEAR(r.p, 1.0 / 3, 1e-12);

    // 2-fold (ratio 1), d = (0.1, 0.3): mean 0.2, s^2 = 0.02,
    // t = 0.2 / sqrt(1.5 * 0.02) = 2 / sqrt(3); 1 dof is Cauchy:
    // p = 1 - (2 / pi) atan(t).
    const double a2[2] = {0.6, 0.8}, b2[2] = {0.5, 0.5};
    ASSERT_OK(coord_agg_nb_ttest(a2, b2, 2, 1.0, &r));
    ASSERT_NEAR(r.t, 2 / sqrt(3.0), 1e-12);
    ASSERT_NEAR(r.p, 1 - 2 / PI * atan(2 / sqrt(3.0)), 1e-12);

    // Without the correction (ratio 0) it is the paired t-test: t grows by
    // sqrt((1/n + 1/2) / (1/n)) = sqrt(2.5) for n = 3.
    ASSERT_OK(coord_agg_nb_ttest(a, b, 3, 0.0, &r));
    ASSERT_NEAR(r.t, sqrt(1.6) * sqrt(2.5), 1e-12);  // = 2
    ASSERT_NEAR(r.p, 1 - 2 / sqrt(6.0), 1e-12);      // 1 - t / sqrt(2 + t^2)

    // Identical scores: s^2 = 0 and mean 0: t = 0, p = 1.
    const double same[4] = {0.9, 0.8, 0.85, 0.95};
    ASSERT_OK(coord_agg_nb_ttest(same, same, 4, 1.0 / 3, &r));
    ASSERT(r.t == 0 && r.p == 1 && r.var == 0);
    // A constant non-zero difference: s^2 = 0, t = +-inf, p = 0.
    const double up[4] = {1.0, 0.9, 0.95, 1.05};  // exactly representable steps
    const double base[4] = {0.5, 0.4, 0.45, 0.55};
    ASSERT_OK(coord_agg_nb_ttest(up, base, 4, 1.0 / 3, &r));
    ASSERT(r.var < 1e-30);
    if (r.var == 0) {
        ASSERT(isinf(r.t) && r.t > 0 && r.p == 0);
        ASSERT_OK(coord_agg_nb_ttest(base, up, 4, 1.0 / 3, &r));
        ASSERT(isinf(r.t) && r.t < 0 && r.p == 0);
    }
    const double h1[2] = {0.5, 0.25}, h0[2] = {0.25, 0.0};  // differences exactly 0.25
    ASSERT_OK(coord_agg_nb_ttest(h1, h0, 2, 1.0, &r));
    ASSERT(r.var == 0 && isinf(r.t) && r.t > 0 && r.p == 0);

    // Refused input.
    ASSERT_EQ(coord_agg_nb_ttest(a, b, 1, 0.5, &r), -EINVAL);
    ASSERT_EQ(coord_agg_nb_ttest(a, b, 3, -0.1, &r), -EINVAL);
    const double bad[3] = {0.8, NAN, 0.7};
    ASSERT_EQ(coord_agg_nb_ttest(bad, b, 3, 0.5, &r), -EINVAL);
}

// ---------------------------------------------------------------------------
// Incomplete beta and t p-values

static const struct {
    double a, b, x, want;
} BETA[] = {
    {2.5, 0.5, 0.3, 0.01892712407194565},
    {0.5, 0.5, 0.5, 0.5000000000000001},
    {10, 3, 0.9, 0.889130022255},
    {1, 1, 0.25, 0.25},
    {50, 0.5, 0.99, 0.31730439787419623},
    {0.7, 20, 0.01, 0.3286079236709668},
    {2, 0.5, 0.999, 0.9525816464857751},
};

static const struct {
    double t, dof, want;
} TP[] = {
    {2.0, 4, 0.1161165235168155},
    {0.5, 14, 0.6248419162396945},
    {-3.1, 9, 0.012722455978201952},
    {10.0, 2, 0.009852457023325692},
    {1e-3, 29, 0.9992089629783623},
};

HPT_TEST(betainc_and_t)
{
    for (size_t k = 0; k < sizeof BETA / sizeof BETA[0]; k++)
        ASSERT_NEAR(coord_agg_betainc(BETA[k].a, BETA[k].b, BETA[k].x), BETA[k].want,
                    1e-13 + 1e-12 * BETA[k].want);
    for (size_t k = 0; k < sizeof TP / sizeof TP[0]; k++)
        ASSERT_NEAR(coord_agg_t_pvalue(TP[k].t, TP[k].dof), TP[k].want, 1e-13);
    // Closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, I_x(1, b) = 1 - (1-x)^b.
    for (double x = 0; x <= 1.0; x += 0.125) {
        ASSERT_NEAR(coord_agg_betainc(1, 1, x), x, 1e-15);
        ASSERT_NEAR(coord_agg_betainc(3.5, 1, x), pow(x, 3.5), 1e-14);
        ASSERT_NEAR(coord_agg_betainc(1, 4, x), 1 - pow(1 - x, 4), 1e-14);
    }
    // The t p-value: 1 at t = 0, 0 at infinity, and the 2-dof closed form.
    ASSERT_NEAR(coord_agg_t_pvalue(0, 7), 1.0, 1e-15);
    ASSERT(coord_agg_t_pvalue(INFINITY, 7) == 0);
    for (double t = 0.25; t < 20; t *= 2)
        ASSERT_NEAR(coord_agg_t_pvalue(t, 2), 1 - t / sqrt(2 + t * t), 1e-13);
    // Outside the domain.
    ASSERT(isnan(coord_agg_betainc(0, 1, 0.5)));
    ASSERT(isnan(coord_agg_betainc(1, 1, 1.5)));
    ASSERT(isnan(coord_agg_t_pvalue(NAN, 3)));
    ASSERT(isnan(coord_agg_t_pvalue(1, 0)));
}

// ---------------------------------------------------------------------------
// Wilson interval

static const struct {
    long k, n;
    double lo, hi;
} WILSON[] = {
    {9420, 10000, 0.937246721440879, 0.946413823999443},
    {0, 10, 0.0, 0.27753279986288926},
    {10, 10, 0.7224672001371109, 1.0},
    {1, 2, 0.09453120573423074, 0.9054687942657693},
    {87, 100, 0.7901964855992357, 0.9224283257275948},
};

HPT_TEST(wilson)
{
    double lo, hi;
    for (size_t k = 0; k < sizeof WILSON / sizeof WILSON[0]; k++) {
        ASSERT_OK(coord_agg_wilson(WILSON[k].k, WILSON[k].n, COORD_AGG_Z95, &lo, &hi));
        ASSERT_NEAR(lo, WILSON[k].lo, 1e-14);
        ASSERT_NEAR(hi, WILSON[k].hi, 1e-14);
    }
    // By hand, k = 0: the interval is [0, z^2 / (n + z^2)].
    ASSERT_OK(coord_agg_wilson(0, 20, 2.0, &lo, &hi));
    ASSERT(lo == 0);
    ASSERT_NEAR(hi, 4.0 / 24, 1e-15);
    // By hand, k = n/2: centred on 1/2 with half-width z sqrt(1/4n + z^2/4n^2) / (1 + z^2/n);
    // n = 4, z = 2: 2 sqrt(1/16 + 1/16) / 2 = sqrt(2) / 4.
    ASSERT_OK(coord_agg_wilson(2, 4, 2.0, &lo, &hi));
    ASSERT_NEAR(lo, 0.5 - sqrt(2.0) / 4, 1e-15);
    ASSERT_NEAR(hi, 0.5 + sqrt(2.0) / 4, 1e-15);
    // Symmetry: [lo, hi] for k is [1 - hi, 1 - lo] for n - k.
    double lo2, hi2;
    ASSERT_OK(coord_agg_wilson(3, 17, COORD_AGG_Z95, &lo, &hi));
    ASSERT_OK(coord_agg_wilson(14, 17, COORD_AGG_Z95, &lo2, &hi2));
    ASSERT_NEAR(lo, 1 - hi2, 1e-15);
    ASSERT_NEAR(hi, 1 - lo2, 1e-15);
    // Refused input.
    ASSERT_EQ(coord_agg_wilson(1, 0, COORD_AGG_Z95, &lo, &hi), -EINVAL);
    ASSERT_EQ(coord_agg_wilson(5, 4, COORD_AGG_Z95, &lo, &hi), -EINVAL);
    ASSERT_EQ(coord_agg_wilson(-1, 4, COORD_AGG_Z95, &lo, &hi), -EINVAL);
    ASSERT_EQ(coord_agg_wilson(1, 4, 0, &lo, &hi), -EINVAL);
}

HPT_TEST_MAIN()
