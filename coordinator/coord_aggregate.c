/* coord_aggregate.c: CV statistics and significance tests; see coord_aggregate.h. */
#include "coord_aggregate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

void coord_agg_mean_std(const double *x, int n, double *mean, double *std)
{
    if (n <= 0) {
        *mean = *std = NAN;
        return;
    }
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += x[i];
    double m = s / n;
    double v = 0.0;
    for (int i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = sqrt(v / n);
}

/* One sort key: the score oriented so that smaller is better, and the
 * index it came from. */
typedef struct rank_key {
    double key;
    int i;
} rank_key_t;

/* Finite keys ascending, NaN after every finite key; equal keys in index
 * order (qsort is not stable, and a deterministic order costs nothing). */
static int rank_cmp(const void *pa, const void *pb)
{
    const rank_key_t *a = pa, *b = pb;
    bool na = isnan(a->key), nb = isnan(b->key);
    if (na != nb)
        return na ? 1 : -1;
    if (!na && a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

int coord_agg_rank(const double *score, int n, bool maximize, int *rank)
{
    if (n <= 0)
        return 0;
    rank_key_t *k = malloc((size_t)n * sizeof *k);
    if (!k)
        return -ENOMEM;
    /* Negating orients a maximized score without changing which scores tie
     * (-x == -y exactly when x == y; NaN stays NaN). */
    for (int i = 0; i < n; i++)
        k[i] = (rank_key_t){.key = maximize ? -score[i] : score[i], .i = i};
    qsort(k, (size_t)n, sizeof *k, rank_cmp);
    int finite = 0;
    while (finite < n && !isnan(k[finite].key))
        finite++;
    /* Walk the sorted run: a tie group takes the position of its first
     * member (method='min'), the next group the position after the tie. */
    for (int p = 0; p < finite; p++) {
        int r = p > 0 && k[p].key == k[p - 1].key ? rank[k[p - 1].i] : p + 1;
        rank[k[p].i] = r;
    }
    for (int p = finite; p < n; p++)   // NaN: tied last; all 1 when nothing is finite
        rank[k[p].i] = finite + 1;
    free(k);
    return 0;
}

void coord_agg_rank_naive(const double *score, int n, bool maximize, int *rank)
{
    int finite = 0;
    for (int i = 0; i < n; i++)
        finite += !isnan(score[i]);
    for (int i = 0; i < n; i++) {
        if (finite == 0) {
            rank[i] = 1;
            continue;
        }
        if (isnan(score[i])) {
            rank[i] = finite + 1;
            continue;
        }
        int better = 0;
        for (int j = 0; j < n; j++) {
            if (isnan(score[j]))
                continue;
            if (maximize ? score[j] > score[i] : score[j] < score[i])
                better++;
        }
        rank[i] = better + 1;
    }
}

// ---------------------------------------------------------------------------
// Significance

/* Numerical Recipes (2nd ed., section 6.4) betacf: the continued fraction
 * for the incomplete beta function by the modified Lentz method.  Converges
 * quickly for x < (a + 1) / (a + b + 2); betainc arranges that. */
static double betacf(double a, double b, double x)
{
    const int max_iter = 300;
    const double eps = 1e-15, fpmin = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < fpmin)
        d = fpmin;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= max_iter; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;  // even step
        if (fabs(d) < fpmin)
            d = fpmin;
        c = 1.0 + aa / c;
        if (fabs(c) < fpmin)
            c = fpmin;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;  // odd step
        if (fabs(d) < fpmin)
            d = fpmin;
        c = 1.0 + aa / c;
        if (fabs(c) < fpmin)
            c = fpmin;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps)
            break;
    }
    return h;
}

double coord_agg_betainc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1))
        return NAN;
    if (x == 0 || x == 1)
        return x;
    /* The prefactor x^a (1-x)^b / (a B(a, b)), in logs. */
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1.0) / (a + b + 2.0))
        return bt * betacf(a, b, x) / a;
    return 1.0 - bt * betacf(b, a, 1.0 - x) / b;  // the symmetry I_x(a,b) = 1 - I_1-x(b,a)
}

double coord_agg_t_pvalue(double t, double dof)
{
    if (isnan(t) || !(dof > 0))
        return NAN;
    if (isinf(t))
        return 0.0;
    double p = coord_agg_betainc(0.5 * dof, 0.5, dof / (dof + t * t));
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

int coord_agg_nb_ttest(const double *a, const double *b, int n, double test_train,
                       coord_agg_ttest_t *out)
{
    if (n < 2 || !(test_train >= 0) || !isfinite(test_train))
        return -EINVAL;
    double sum = 0;
    for (int j = 0; j < n; j++) {
        if (!isfinite(a[j]) || !isfinite(b[j]))
            return -EINVAL;
        sum += a[j] - b[j];
    }
    double mean = sum / n, ss = 0;
    for (int j = 0; j < n; j++) {
        double e = (a[j] - b[j]) - mean;
        ss += e * e;
    }
    double var = ss / (n - 1);
    coord_agg_ttest_t r = {.mean = mean, .var = var, .dof = n - 1};
    if (var == 0) {
        /* Constant differences: no spread to test against. */
        r.t = mean == 0 ? 0.0 : mean > 0 ? INFINITY : -INFINITY;
        r.p = mean == 0 ? 1.0 : 0.0;
    } else {
        r.t = mean / sqrt((1.0 / n + test_train) * var);
        r.p = coord_agg_t_pvalue(r.t, n - 1);
    }
    *out = r;
    return 0;
}

int coord_agg_wilson(long k, long n, double z, double *lo, double *hi)
{
    if (n <= 0 || k < 0 || k > n || !(z > 0) || !isfinite(z))
        return -EINVAL;
    double p = (double)k / n, z2 = z * z, nn = (double)n;
    double denom = 1.0 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
    double l = centre - half, h = centre + half;
    *lo = l < 0 ? 0 : l;
    *hi = h > 1 ? 1 : h;
    return 0;
}
