/* coord_aggregate.c: CV statistics; see coord_aggregate.h. */
#include "coord_aggregate.h"

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

void coord_agg_rank(const double *score, int n, bool maximize, int *rank)
{
    /* O(n^2) is fine for the trial counts a results table shows (thousands);
     * it avoids a sort with a comparator context. */
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
