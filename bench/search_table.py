#!/usr/bin/python3
"""search_table.py: the tabular search benchmark of bench/search_tpe.sh.

  build RUNS_DIR TABLE.csv [--epochs E --dataset D --note TEXT]
      Write the table from the grid sweeps bench/search.sh --methods grid
      ran, one per seed (RUNS_DIR/hptune-grid-s*.json, `hptune results
      --format json`): one row per configuration of bench/search_space.py's
      grid with every fold's validation accuracy for each sweep seed (a
      sweep's seed sets its model seeds, so each seed is one replicate).
      Columns: the six parameters, then s<fold>r<replicate>.
  optuna TABLE.csv --seeds A-B --trials N --variant NAME
      Optuna 3.1's TPESampler on the table, one JSON line per seed, the
      format of build/bench/search_table (hptune's side).  Variants:
      optuna (TPESampler(seed=S), all defaults) and optuna-mv
      (multivariate=True).  group=True changes nothing on this space (no
      conditional parameters), so it is not run separately.
  check TABLE.csv RECORDS.jsonl
      Recompute every trial's score and true value in RECORDS from its
      values: the C and Python objectives must agree (to 1e-9).

The objective (the same rules as bench/search_table.c; see its comment):
listed parameters pick their grid value; numeric ones are interpolated
multilinearly between the grid values around them (log space for
learning_rate); fold k of trial t under seed s reads replicate
splitmix64(s * 2^32 + t * 16 + k) mod R of every corner; the score is the
mean over the folds; the true value interpolates each configuration's mean
over all folds and replicates.
"""
import argparse
import glob
import json
import math
import os
import sys

import search_space as space

MASK = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def log_axis(name):
    for n, _, form, _ in space.PARAMS:
        if n == name:
            return "log" in form.get("distribution", "")
    return False


class Table:
    def __init__(self, path):
        self.meta = []
        rows = []
        with open(path) as f:
            for line in f:
                if line.startswith("#"):
                    self.meta.append(line[1:].strip())
                    continue
                if line.strip():
                    rows.append(line.rstrip("\n").split(","))
        head = rows[0]
        self.cols = [h for h in head if not (h.startswith("s") and "r" in h[1:])]
        nc = len(self.cols)
        pairs = [tuple(int(x) for x in h[1:].split("r")) for h in head[nc:]]
        self.folds = max(p[0] for p in pairs)
        self.reps = max(p[1] for p in pairs)
        self.numeric = []
        self.axis = []
        for i, c in enumerate(self.cols):
            vals = sorted({r[i] for r in rows[1:]}, key=lambda v: (len(v), v))
            try:
                nums = sorted({float(v) for v in vals})
                self.numeric.append(True)
                self.axis.append(nums)
            except ValueError:
                self.numeric.append(False)
                self.axis.append(sorted(vals))
        self.cells = {}
        for r in rows[1:]:
            key = tuple(float(r[i]) if self.numeric[i] else r[i] for i in range(nc))
            sc = [float(x) for x in r[nc:]]
            # fold-major: s1r1 s1r2 ... s2r1 ...
            scores = [[sc[k * self.reps + j] for j in range(self.reps)] for k in range(self.folds)]
            self.cells[key] = (scores, sum(sc) / len(sc))

    def evaluate(self, p, seed, trial):
        """(score, true value) of parameter dict p as trial `trial` of seed `seed`."""
        lo, w, num = [], [], []
        for i, c in enumerate(self.cols):
            x = p[c]
            if not self.numeric[i]:
                lo.append(self.axis[i].index(str(x)))
                w.append(0.0)
                continue
            ax = self.axis[i]
            lg = log_axis(c)
            u = math.log(x) if lg else float(x)
            a = 0
            while a + 2 < len(ax) and (math.log(ax[a + 1]) if lg else ax[a + 1]) <= u:
                a += 1
            lo.append(a)
            if len(ax) == 1:
                w.append(0.0)
                continue
            u0 = math.log(ax[a]) if lg else ax[a]
            u1 = math.log(ax[a + 1]) if lg else ax[a + 1]
            f = (u - u0) / (u1 - u0)
            w.append(min(1.0, max(0.0, f)))
            num.append(i)
        rep = [splitmix64(((seed << 32) + trial * 16 + k) & MASK) % self.reps
               for k in range(self.folds)]
        fold_sum = [0.0] * self.folds
        truth = 0.0
        for corner in range(1 << len(num)):
            wc = 1.0
            idx = list(lo)
            for b, i in enumerate(num):
                up = (corner >> b) & 1
                wc *= w[i] if up else 1 - w[i]
                idx[i] += up
            if wc == 0:
                continue
            key = tuple(self.axis[i][idx[i]] for i in range(len(self.cols)))
            scores, t = self.cells[key]
            for k in range(self.folds):
                fold_sum[k] += wc * scores[k][rep[k]]
            truth += wc * t
        return sum(fold_sum) / self.folds, truth


def build(opts):
    files = sorted(glob.glob(os.path.join(opts.runs, "hptune-grid-s*.json")),
                   key=lambda f: int(f.rsplit("-s", 1)[1].split(".")[0]))
    if not files:
        sys.exit("search_table.py: no hptune-grid-s*.json in %s" % opts.runs)
    names = [n for n, _, _, _ in space.PARAMS]
    table, reps, folds = {}, len(files), None
    for r, fn in enumerate(files):
        with open(fn) as f:
            doc = json.load(f)
        cv = doc["cv_results"]
        ks = sorted(int(k[5:-11]) for k in cv if k.startswith("split") and
                    k.endswith("_test_score"))
        if folds is None:
            folds = len(ks)
        elif folds != len(ks):
            sys.exit("search_table.py: %s has %d folds, the others %d" % (fn, len(ks), folds))
        for i in range(len(cv["trial"])):
            prm = cv["params"][i]
            key = tuple(str(prm[n]) for n in names)
            sc = [cv["split%d_test_score" % k][i] for k in ks]
            if any(s is None for s in sc):
                sys.exit("search_table.py: %s: trial %s has a missing fold score"
                         % (fn, cv["trial"][i]))
            table.setdefault(key, [None] * reps)[r] = sc
    if len(table) != space.grid_size() or any(None in v for v in table.values()):
        sys.exit("search_table.py: the runs do not cover the %d-configuration grid for every "
                 "seed" % space.grid_size())
    with open(opts.table, "w") as f:
        f.write("# tabular search benchmark (bench/search_table.py build): every configuration of\n"
                "# bench/search_space.py's grid, validation accuracy of each of %d folds for %d\n"
                "# model seeds (sweep seeds 1..%d), %d epochs, dataset %s\n"
                % (folds, reps, reps, opts.epochs, opts.dataset))
        for line in (opts.note or "").splitlines():
            f.write("# %s\n" % line)
        f.write(",".join(names + ["s%dr%d" % (k + 1, r + 1) for k in range(folds)
                                  for r in range(reps)]) + "\n")
        for key in sorted(table):
            sc = table[key]
            f.write(",".join(list(key) + ["%.6f" % sc[r][k] for k in range(folds)
                                          for r in range(reps)]) + "\n")
    print("search_table.py: %s: %d configurations x %d folds x %d replicates"
          % (opts.table, len(table), folds, reps), file=sys.stderr)


def run_optuna(opts):
    import warnings
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    tab = Table(opts.table)
    a, b = (int(x) for x in opts.seeds.split("-"))
    for seed in range(a, b + 1):
        out = []

        def objective(trial):
            p = space.optuna_suggest(trial)
            s, t = tab.evaluate(p, seed, trial.number + 1)
            out.append([s, t, p])
            return s

        kw = {"multivariate": True} if opts.variant == "optuna-mv" else {}
        sampler = optuna.samplers.TPESampler(seed=seed, **kw)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=opts.trials, n_jobs=1)
        print(json.dumps({"impl": "optuna", "variant": opts.variant, "seed": seed,
                          "optuna": optuna.__version__, "trials": out}))
        sys.stdout.flush()


def check(opts):
    tab = Table(opts.table)
    n, worst = 0, 0.0
    with open(opts.records) as f:
        for line in f:
            rec = json.loads(line)
            for t, (s, tr, p) in enumerate(rec["trials"], 1):
                s2, tr2 = tab.evaluate(p, rec["seed"], t)
                worst = max(worst, abs(s - s2), abs(tr - tr2))
                n += 1
    print("search_table.py check: %d trials recomputed, largest difference %.2g" % (n, worst))
    if worst > 1e-6:
        sys.exit("search_table.py check: the C and Python objectives disagree")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("runs")
    b.add_argument("table")
    b.add_argument("--epochs", type=int, required=True)
    b.add_argument("--dataset", required=True)
    b.add_argument("--note")
    o = sub.add_parser("optuna")
    o.add_argument("table")
    o.add_argument("--seeds", default="1-20")
    o.add_argument("--trials", type=int, default=60)
    o.add_argument("--variant", choices=["optuna", "optuna-mv"], default="optuna")
    c = sub.add_parser("check")
    c.add_argument("table")
    c.add_argument("records")
    opts = ap.parse_args()
    {"build": build, "optuna": run_optuna, "check": check}[opts.cmd](opts)


if __name__ == "__main__":
    main()
