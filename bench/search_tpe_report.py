#!/usr/bin/python3
"""search_tpe_report.py: the report of bench/search_tpe.sh.

Reads the JSON lines of build/bench/search_table (hptune's bayes variants)
and bench/search_table.py optuna (Optuna's TPESampler variants), one per
(variant, seed), and prints, after each checkpoint's number of trials:

  - per variant: the median over the seeds of the best score found (the
    best observed mean CV accuracy, what a sweep reports), its interquartile
    range (25th-75th percentile) and mean; and the same for the true value
    of that incumbent (its mean over every fold and model seed of the
    table), which says whether the search found a good configuration or a
    lucky draw;
  - for each hptune variant against each Optuna variant, paired by seed:
    the median difference, wins / ties / losses, and the Wilcoxon
    signed-rank test (two-sided, zero differences dropped, scipy's
    default), on the best score and on the incumbent's true value.
"""
import argparse
import json
import sys

import numpy as np
from scipy import stats


def best_at(trials, k):
    """(best observed score, true value of that trial) among the first k."""
    best = None
    for s, t, _ in trials[:k]:
        if best is None or s > best[0]:
            best = (s, t)
    return best


def fmt_pts(x):
    return "%+.2f" % (100 * x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records", nargs="+")
    ap.add_argument("--checkpoints", default="10,20,30,60")
    opts = ap.parse_args()
    runs = {}   # variant -> {seed: trials}
    impl = {}
    order = []
    for path in opts.records:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                v = rec["variant"]
                if v not in runs:
                    runs[v] = {}
                    order.append(v)
                runs[v][rec["seed"]] = rec["trials"]
                impl[v] = rec["impl"]
    cps = [int(x) for x in opts.checkpoints.split(",")]
    n_trials = min(len(t) for r in runs.values() for t in r.values())
    cps = [k for k in cps if k <= n_trials]
    seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
    if len(seeds) < 2:
        sys.exit("search_tpe_report.py: fewer than 2 seeds common to every variant")
    print("variants: %s; %d seeds common to all (%d-%d); %d trials each"
          % (", ".join(order), len(seeds), seeds[0], seeds[-1], n_trials))
    hp = [v for v in order if impl[v] == "hptune"]
    op = [v for v in order if impl[v] == "optuna"]
    for k in cps:
        print()
        print("=== after %d trials ===" % k)
        print("%-22s %9s %19s %9s   %9s %19s" % ("variant", "best", "IQR", "mean",
                                                 "true", "IQR of true"))
        vals = {}
        for v in order:
            b = np.array([best_at(runs[v][s], k)[0] for s in seeds])
            t = np.array([best_at(runs[v][s], k)[1] for s in seeds])
            vals[v] = (b, t)
            q = np.percentile(b, [25, 50, 75])
            qt = np.percentile(t, [25, 50, 75])
            print("%-22s %9.4f   %.4f - %.4f %9.4f   %9.4f   %.4f - %.4f"
                  % (v, q[1], q[0], q[2], b.mean(), qt[1], qt[0], qt[2]))
        if not hp or not op:
            continue
        print("paired by seed (hptune - Optuna): median difference in points, "
              "wins/ties/losses, Wilcoxon signed-rank p (two-sided)")
        for h in hp:
            for o in op:
                parts = []
                for j, what in ((0, "best"), (1, "true")):
                    d = vals[h][j] - vals[o][j]
                    w, l = int((d > 0).sum()), int((d < 0).sum())
                    z = len(d) - w - l
                    if w + l == 0:
                        p = 1.0
                    else:
                        p = stats.wilcoxon(vals[h][j], vals[o][j]).pvalue
                    parts.append("%s %s (%d/%d/%d, p = %.3f)"
                                 % (what, fmt_pts(float(np.median(d))), w, z, l, p))
                print("  %-14s vs %-10s %s;  %s" % (h, o, parts[0], parts[1]))


if __name__ == "__main__":
    main()
