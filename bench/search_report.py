#!/usr/bin/python3
"""search_report.py: the report of bench/search.sh.

Reads the run records (JSON lines: one per method and seed, written by
search_hptune.py and search_optuna.py) and prints:

  - the table: per method, the trials and the epochs used (sum over trials of
    epochs x folds actually trained), the best mean CV accuracy (median, min
    and max over the seeds) and the wall time of a run (median);
  - the median best-so-far after every trial count up to the budget;
  - the targets with PASS / MISS and the figures behind them.

Writes to --out: results.json (configuration, every run, the summary, the
targets), summary.csv, curves.csv (best-so-far per method, seed and trial,
with the cumulative epochs), search_vs_trials.svg and search_vs_epochs.svg
(median over the seeds, one line per method).

Curves follow trial numbers, i.e. the order in which the search proposed
its trials (hptune's `trial`, Optuna's trial.number + 1); with two workers
that is close to, but not exactly, the order in which they finished.  A run
that stopped early (coordinate search converged) keeps its final best.
"""
import argparse
import csv
import json
import math
import os
import statistics

ORDER = ["grid", "random", "bayes", "bayes-seq", "coordinate", "asha", "optuna-tpe"]
LABEL = {"grid": "grid (hptune)", "random": "random (hptune)", "bayes": "bayes/TPE (hptune)",
         "bayes-seq": "bayes, max_parallel 1",
         "coordinate": "coordinate (hptune)", "asha": "asha (hptune)",
         "optuna-tpe": "Optuna 3.1 TPESampler"}
COLOR = {"grid": "#7f7f7f", "random": "#1f77b4", "bayes": "#d62728", "bayes-seq": "#e377c2", "coordinate": "#2ca02c",
         "asha": "#9467bd", "optuna-tpe": "#ff7f0e"}
WIDTH = {LABEL["random"]: 5.5, LABEL["bayes"]: 3.8}
TOL = 0.003   # 0.3 points of accuracy


def clean(x):
    """x with every NaN as None (JSON null)."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    return x


def fnum(x, fmt="%.4f"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt % x


def median(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


def best_so_far(run):
    """[(trial count, cumulative epochs, best so far)] in trial order."""
    out, best, ep = [], float("-inf"), 0
    for i, t in enumerate(run["trials"]):
        ep += t["epochs"]
        if t["score"] is not None and not math.isnan(t["score"]):
            best = max(best, t["score"])
        out.append((i + 1, ep, best if best > float("-inf") else float("nan")))
    return out


def at_trials(curve, k):
    if not curve:
        return float("nan")
    return curve[min(k, len(curve)) - 1][2]


def at_epochs(curve, e):
    v = float("nan")
    for _, ep, b in curve:
        if ep > e:
            break
        v = b
    return v


# --- SVG ---------------------------------------------------------------------

def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo, hi, n=6):
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=mag * 10)
    t = math.ceil(lo / step) * step
    out = []
    while t <= hi + step * 1e-9:
        out.append(round(t, 10))
        t += step
    return out


def svg_chart(path, title, xlabel, ylabel, series, xmax, refs, vrefs, ylo, yhi):
    """series: [(label, color, [(x, y)], dashed)]; refs: [(y, label, style)];
    vrefs: [(x, label)].  y values are clipped to [ylo, yhi]."""
    W, H = 860, 520
    L, R, T, B = 80, 250, 50, 60
    pw, ph = W - L - R, H - T - B

    def sx(x):
        return L + pw * x / xmax

    def sy(y):
        y = min(max(y, ylo), yhi)
        return T + ph * (1 - (y - ylo) / (yhi - ylo))

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>' % (L, esc(title))]
    for t in nice_ticks(ylo, yhi):
        y = sy(t)
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e6e6e6"/>' % (L, y, L + pw, y))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 6, y + 4, "%.3f" % t))
    for t in nice_ticks(0, xmax):
        x = sx(t)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e6e6e6"/>' % (x, T, x, T + ph))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                 % (x, T + ph + 18, ("%g" % t)))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>'
             % (L, T, pw, ph))
    o.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="13">%s</text>'
             % (L + pw / 2, H - 16, esc(xlabel)))
    o.append('<text transform="translate(20,%.1f) rotate(-90)" text-anchor="middle" '
             'font-size="13">%s</text>' % (T + ph / 2, esc(ylabel)))
    legend = []
    for y, label, style in refs:
        dash = "6,4" if style == "dashed" else "2,3"
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" '
                 'stroke-dasharray="%s"/>' % (L, sy(y), L + pw, sy(y), dash))
        legend.append((label, "black", dash))
    for x, label in vrefs:
        if 0 <= x <= xmax:
            o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" '
                     'stroke-dasharray="1,3"/>' % (sx(x), T, sx(x), T + ph))
            o.append('<text x="%.1f" y="%d" font-size="11" fill="#555">%s</text>'
                     % (sx(x) + 3, T + 12, esc(label)))
    o.append('<clipPath id="plot"><rect x="%d" y="%d" width="%d" height="%d"/></clipPath>'
             % (L, T, pw, ph))
    for label, color, pts, dashed in series:
        pts = [(x, y) for x, y in pts if not math.isnan(y) and x <= xmax]
        # random and bayes share their first tpe.n_startup trials: random is
        # drawn first and wider, so that it shows under bayes.
        width = WIDTH.get(label, 2.2)
        if not pts:
            continue
        # A best-so-far curve is a step function: hold each value until the
        # next point.
        d = []
        for i, (x, y) in enumerate(pts):
            if i:
                d.append("%.1f,%.1f" % (sx(x), sy(pts[i - 1][1])))
            d.append("%.1f,%.1f" % (sx(x), sy(y)))
        o.append('<polyline clip-path="url(#plot)" fill="none" stroke="%s" stroke-width="%.1f"'
                 '%s points="%s"/>' % (color, width, ' stroke-dasharray="8,3"' if dashed else "",
                                      " ".join(d)))
        legend.append((label, color, "8,3" if dashed else None))
    ly = T + 10
    for label, color, dash in legend:
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                 % (L + pw + 15, ly, L + pw + 45, ly, color,
                    ' stroke-dasharray="%s"' % dash if dash else ""))
        o.append('<text x="%d" y="%d">%s</text>' % (L + pw + 52, ly + 4, esc(label)))
        ly += 20
    o.append('<text x="%d" y="%d" font-size="10" fill="#555">median over the seeds;</text>'
             % (L + pw + 15, ly + 10))
    o.append('<text x="%d" y="%d" font-size="10" fill="#555">values below %.3f are drawn'
             '</text>' % (L + pw + 15, ly + 23, ylo))
    o.append('<text x="%d" y="%d" font-size="10" fill="#555">on the x axis</text>'
             % (L + pw + 15, ly + 36))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


# --- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", required=True, help="JSON: the run's settings")
    opts = ap.parse_args()
    cfg = json.loads(opts.config)
    grid_n, budget, epochs = cfg["grid_trials"], cfg["budget"], cfg["epochs"]
    folds = cfg["folds"]

    runs, skipped = {}, {}
    for line in open(opts.records):
        r = json.loads(line)
        if r.get("skipped"):
            skipped[r["method"]] = r["skipped"]
            continue
        runs.setdefault(r["method"], []).append(r)
    methods = [m for m in ORDER if m in runs]
    for r in [r for m in methods for r in runs[m]]:
        r["curve"] = best_so_far(r)

    # The reference: the full grid's best, median over seeds.
    grid_best = median([r["curve"][-1][2] for r in runs.get("grid", [])])
    grid_epochs = median([r["curve"][-1][1] for r in runs.get("grid", [])])
    if math.isnan(grid_epochs):
        grid_epochs = grid_n * epochs * folds

    # --- table
    summary = []
    for m in methods:
        rs = runs[m]
        bests = [r["curve"][-1][2] for r in rs]
        row = {"method": m, "label": LABEL[m], "runs": len(rs),
               "seeds": [r["seed"] for r in rs],
               "trials": median([len(r["trials"]) for r in rs]),
               "epochs": median([r["curve"][-1][1] for r in rs]),
               "best_median": median(bests), "best_min": min(bests), "best_max": max(bests),
               "wall_s": median([r["wall_s"] for r in rs]),
               "failed_trials": sum(r.get("trials_failed") or 0 for r in rs),
               "epochs_source": rs[0].get("epochs_source")}
        row["epochs_pct_grid"] = 100 * row["epochs"] / grid_epochs
        summary.append(row)

    seeds = sorted({s for row in summary for s in row["seeds"]})
    print("search quality on %s, %d-fold CV, %d epochs (asha: rungs up to %d); the grid has %d "
          "configurations; budget %d trials (%d%% of the grid); median over %d seed(s) %s"
          % (cfg["dataset"], folds, epochs, epochs, grid_n, budget,
             round(100 * budget / grid_n), len(seeds), ",".join(map(str, seeds))))
    print()
    hdr = "%-24s %7s %8s %7s %10s %8s %8s %8s" % ("method", "trials", "epochs", "% grid",
                                                  "best CV", "min", "max", "wall s")
    print(hdr)
    print("-" * len(hdr))
    for row in summary:
        print("%-24s %7s %8s %6.0f%% %10s %8s %8s %8s" % (
            row["label"], fnum(row["trials"], "%g"), fnum(row["epochs"], "%g"),
            row["epochs_pct_grid"], fnum(row["best_median"]), fnum(row["best_min"]),
            fnum(row["best_max"]), fnum(row["wall_s"], "%.1f")))
    for m, why in skipped.items():
        print("%-24s %s%s" % (LABEL[m], "" if why.startswith("FAILED") else "SKIPPED: ", why))
    print("(trials, epochs, best CV, wall: median over the seeds; min/max: of the best CV over "
          "the seeds;\n epochs: sum over trials of epochs x folds actually trained; wall: one "
          "run, launch to done\n for hptune (2 workers x 1 slot), study.optimize for Optuna "
          "(3 fold processes at once))")
    fails = [(row["label"], row["failed_trials"]) for row in summary if row["failed_trials"]]
    if fails:
        print("failed trials (all seeds): " + ", ".join("%s %d" % f for f in fails))

    # --- best-so-far per trial count
    curve_methods = [m for m in methods if m != "grid"]
    med_trials = {m: [median([at_trials(r["curve"], k) for r in runs[m]])
                      for k in range(1, budget + 1)] for m in curve_methods}
    if curve_methods:
        print()
        print("median best-so-far mean CV accuracy after k trials (the grid's best: %s)"
              % fnum(grid_best))
        print("%5s" % "k" + "".join(" %12s" % m for m in curve_methods))
        for k in range(1, budget + 1):
            print("%5d" % k + "".join(" %12s" % fnum(med_trials[m][k - 1])
                                      for m in curve_methods))
    short = [(m, median([len(r["trials"]) for r in runs[m]])) for m in curve_methods]
    short = [(m, n) for m, n in short if n < budget]
    if short:
        print("(fewer trials than the budget: %s; their last best is carried forward)"
              % ", ".join("%s %g" % s for s in short))

    # --- targets
    targets = []

    def target(name, ok, figures, note=None):
        status = "SKIPPED" if ok is None else ("PASS" if ok else "MISS")
        targets.append({"target": name, "status": status, "figures": figures, "note": note})
        print("  %-5s %s" % (status, name))
        for f in figures:
            print("          " + f)
        if note:
            print("          note: " + note)

    print()
    print("targets%s" % (" (QUICK RUN: tiny budget, 1 seed; not meaningful)" if cfg["quick"] else ""))
    ref = grid_best - TOL
    lim = int(0.3 * grid_n)
    if "bayes" in runs and not math.isnan(grid_best):
        curve = med_trials["bayes"]
        first = next((k for k, v in enumerate(curve, 1) if v >= ref), None)
        at_lim = curve[min(lim, budget) - 1]
        per_seed = [next((k for k, v in enumerate(r["curve"], 1) if v[2] >= ref), None)
                    for r in runs["bayes"]]
        target("bayes reaches the full grid's best within 0.3 points using <= 30%% of its "
               "trials (%d)" % lim,
               first is not None and first <= lim,
               ["grid best %.4f (median of %d seeds, %d trials each) -> threshold %.4f"
                % (grid_best, len(runs["grid"]), grid_n, ref),
                "bayes median best after %d trials: %.4f (%+.2f points vs the grid)"
                % (min(lim, budget), at_lim, 100 * (at_lim - grid_best)),
                "median curve first within 0.3 points: %s; per seed: %s"
                % ("at trial %d" % first if first else "not within %d trials" % budget,
                   ", ".join(str(k) if k else "-" for k in per_seed))])
    else:
        target("bayes reaches the grid's best within 0.3 points using <= 30% of its trials",
               None, [], "bayes or grid did not run")
    if "bayes" in runs and "optuna-tpe" in runs:
        k = min(30, budget)
        b, o = med_trials["bayes"][k - 1], med_trials["optuna-tpe"][k - 1]
        target("bayes is at least as good as Optuna's TPE at 30 trials", b >= o,
               ["median best after %d trials: hptune bayes %.4f, Optuna TPE %.4f (%+.2f points)"
                % (k, b, o, 100 * (b - o)),
                "per seed, bayes: %s" % ", ".join(fnum(at_trials(r["curve"], k))
                                                  for r in runs["bayes"]),
                "per seed, Optuna: %s" % ", ".join(fnum(at_trials(r["curve"], k))
                                                   for r in runs["optuna-tpe"])],
               None if k == 30 else "the budget is %d < 30 trials: compared at %d" % (budget, k))
    else:
        target("bayes is at least as good as Optuna's TPE at 30 trials", None, [],
               "bayes or Optuna did not run")
    if "asha" in runs and not math.isnan(grid_best):
        cap = grid_epochs / 3
        vals = [at_epochs(r["curve"], cap) for r in runs["asha"]]
        v = median(vals)
        used = median([r["curve"][-1][1] for r in runs["asha"]])
        final = median([r["curve"][-1][2] for r in runs["asha"]])
        configs = median([sum(1 for t in r["trials"] if not t.get("parent"))
                          for r in runs["asha"]])
        promoted = median([sum(1 for t in r["trials"] if t.get("parent"))
                           for r in runs["asha"]])
        target("asha reaches the grid's best within 0.3 points using <= 1/3 of the grid's epochs",
               v >= ref,
               ["grid: %g epochs (trials x %d epochs x %d folds), 1/3 = %g; threshold %.4f"
                % (grid_epochs, epochs, folds, cap, ref),
                "asha median best within %g epochs: %s (%+.2f points vs the grid); per seed: %s"
                % (cap, fnum(v), 100 * (v - grid_best), ", ".join(fnum(x) for x in vals)),
                "asha used %g epochs in all (%.0f%% of the grid's; %g configurations, %g "
                "promotions), final best %s; epochs counted from %s"
                % (used, 100 * used / grid_epochs, configs, promoted, fnum(final),
                   runs["asha"][0].get("epochs_source"))])
    else:
        target("asha reaches the grid's best within 0.3 points using <= 1/3 of the grid's epochs",
               None, [], skipped["asha"] + "; run bench/search.sh again once method: asha "
               "works in this build" if "asha" in skipped else "asha was not run (--methods)")

    # --- files
    os.makedirs(opts.out, exist_ok=True)
    with open(os.path.join(opts.out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "runs", "trials_median", "epochs_median", "epochs_pct_grid",
                    "best_cv_median", "best_cv_min", "best_cv_max", "wall_s_median"])
        for row in summary:
            w.writerow([row["method"], row["runs"], row["trials"], row["epochs"],
                        round(row["epochs_pct_grid"], 2), row["best_median"], row["best_min"],
                        row["best_max"], round(row["wall_s"], 3)])
    with open(os.path.join(opts.out, "curves.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "seed", "trial", "cum_epochs", "score", "best_so_far"])
        for m in methods:
            for r in runs[m]:
                for t, (k, ep, b) in zip(r["trials"], r["curve"]):
                    w.writerow([m, r["seed"], k, ep, "" if t["score"] is None else t["score"],
                                "" if math.isnan(b) else b])
    out = {"config": cfg, "grid_best_median": grid_best, "grid_epochs_median": grid_epochs,
           "summary": summary, "median_best_after_k_trials": med_trials,
           "skipped": skipped, "targets": targets,
           "runs": [{k: v for k, v in r.items() if k != "curve"}
                    for m in methods for r in runs[m]]}
    with open(os.path.join(opts.out, "results.json"), "w") as f:
        json.dump(clean(out), f, indent=1, allow_nan=False, default=str)

    # --- plots
    allv = [v for m in curve_methods for v in med_trials[m] if not math.isnan(v)]
    top = max(allv + ([grid_best] if not math.isnan(grid_best) else []) or [1.0])
    yhi = min(1.0, math.ceil((top + 0.004) * 200) / 200)
    base = grid_best if not math.isnan(grid_best) else top
    ylo = math.floor((base - 0.05) * 100) / 100
    refs = []
    if not math.isnan(grid_best):
        refs = [(grid_best, "grid best (all %d)" % grid_n, "dashed"),
                (ref, "grid best - 0.3 points", "dotted")]
    series = [(LABEL[m], COLOR[m], [(k, v) for k, v in enumerate(med_trials[m], 1)], False)
              for m in curve_methods]
    svg_chart(os.path.join(opts.out, "search_vs_trials.svg"),
              "Best mean %d-fold CV accuracy vs trials (%s)" % (folds, cfg["dataset"]),
              "trials", "best mean CV accuracy so far", series, budget, refs,
              [(int(0.3 * grid_n), "30% of the grid")] if int(0.3 * grid_n) < budget else [],
              ylo, yhi)
    eseries = []
    for m in methods:
        xs = sorted({ep for r in runs[m] for _, ep, _ in r["curve"]})
        pts = []
        for x in xs:
            vals = [at_epochs(r["curve"], x) for r in runs[m]]
            if all(not math.isnan(v) for v in vals):
                pts.append((x, statistics.median(vals)))
        eseries.append((LABEL[m] + (" (spec order)" if m == "grid" else ""), COLOR[m], pts,
                        m == "grid"))
    svg_chart(os.path.join(opts.out, "search_vs_epochs.svg"),
              "Best mean %d-fold CV accuracy vs epochs trained (%s)" % (folds, cfg["dataset"]),
              "epochs trained (sum over trials of epochs x folds)",
              "best mean CV accuracy so far", eseries, grid_epochs * 1.02, refs,
              [(grid_epochs / 3, "1/3 of the grid's epochs")], ylo, yhi)
    print()
    print("wrote %s/{results.json,summary.csv,curves.csv,search_vs_trials.svg,"
          "search_vs_epochs.svg}" % opts.out)


if __name__ == "__main__":
    main()
