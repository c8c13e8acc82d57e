#!/usr/bin/python3
"""sklearn_gridsearch.py: the scikit-learn peer of bench/sweep.sh.

The blog post's grid on the small set (bench/blog-grid-10k.yaml) as scikit-learn runs
it:

  GridSearchCV(MLPClassifier(hidden_layer_sizes=(units,), solver='adam',
                             batch_size=B, max_iter=epochs,
                             early_stopping=False, tol=0,
                             n_iter_no_change=10**9, random_state=0),
               {batch_size: [32, 64, 512], max_iter: [2, 4, 6],
                hidden_layer_sizes: [(8,), (16,), (32,)]},
               cv=StratifiedKFold(5, shuffle=True, random_state=42),
               n_jobs=2, refit=True)

on the 8,000 training digits of data/mnist-10k (IDX .gz read with gzip+struct,
scaled by 1/255 as float64, the dtype MLPClassifier computes in), then the
refitted best model scored on the 2,000 test digits.  Everything else is
MLPClassifier's default (relu, adam lr 0.001, alpha 1e-4, shuffle).  BLAS is
held to one thread per process (OPENBLAS_NUM_THREADS=1 etc., set before
numpy loads and inherited by joblib's workers), so the two jobs use the two
cores as hptune's two slots do.

Timed: GridSearchCV.fit (135 fits + the refit, joblib's worker start-up
included) and the test scoring, i.e. "launch to results" with the data
already in memory.  Prints machine-readable lines:

  RESULT impl=sklearn what=wall seconds=... fit_seconds=... fits=135
  RESULT impl=sklearn what=best mean_cv=... std_cv=... batch_size=.. epochs=.. units=..
  RESULT impl=sklearn what=refit test_accuracy=...
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402


def read_idx(path):
    """An IDX file (raw or .gz) as (dims, bytes), stdlib only."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    n = 1
    for d in dims:
        n *= d
    if len(body) != n:
        raise ValueError(f"{path}: {len(body)} data bytes, dimensions say {n}")
    return dims, body


def load(np, d, split):
    dims, img = read_idx(os.path.join(d, f"{split}-images-idx3-ubyte"))
    _, lab = read_idx(os.path.join(d, f"{split}-labels-idx1-ubyte"))
    X = np.frombuffer(img, dtype=np.uint8).reshape(dims[0], -1).astype(np.float64) / 255.0
    y = np.frombuffer(lab, dtype=np.uint8).astype(np.int64)
    return X, y


def machine_ticks():
    """The machine's busy CPU time in clock ticks (/proc/stat: user nice
    system; interrupt time is left out, as no process is charged for it), or
    None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:4]]
        return v[0] + v[1] + v[2]
    except (OSError, ValueError, IndexError):
        return None


def own_ticks():
    """utime + stime, in clock ticks, of this process and its descendants
    (joblib's workers), from /proc."""
    parent, ticks = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()   # fields from 3 (state) on
        parent[int(d)] = int(rest[1])
        ticks[int(d)] = int(rest[11]) + int(rest[12])
    me, total = os.getpid(), 0
    for pid, t in ticks.items():
        p = pid
        while p and p != me and p in parent:
            p = parent[p]
        if p == me:
            total += t
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="data", help="the directory holding mnist-10k/ [data]")
    ap.add_argument("--n-jobs", type=int, default=2, help="GridSearchCV n_jobs [2]")
    args = ap.parse_args()

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.neural_network import MLPClassifier
    import sklearn

    d = os.path.join(args.data_dir, "mnist-10k")
    Xtr, ytr = load(np, d, "train")
    Xte, yte = load(np, d, "t10k")
    print(f"INFO sklearn={sklearn.__version__} numpy={np.__version__} train={Xtr.shape} "
          f"test={Xte.shape} dtype={Xtr.dtype} n_jobs={args.n_jobs}", flush=True)

    # max_iter = epochs stops every fit after exactly that many epochs; the
    # ConvergenceWarning it raises says just that.  PYTHONWARNINGS (matched on
    # the message: the category's module is not imported when a worker starts)
    # reaches joblib's worker processes.
    warnings.simplefilter("ignore", ConvergenceWarning)
    os.environ["PYTHONWARNINGS"] = "ignore:Stochastic Optimizer"
    est = MLPClassifier(solver="adam", early_stopping=False, tol=0.0,
                        n_iter_no_change=10**9, random_state=0)
    grid = {
        "batch_size": [32, 64, 512],
        "max_iter": [2, 4, 6],
        "hidden_layer_sizes": [(8,), (16,), (32,)],
    }
    gs = GridSearchCV(est, grid, cv=StratifiedKFold(5, shuffle=True, random_state=42),
                      n_jobs=args.n_jobs, refit=True)
    m0, o0 = machine_ticks(), own_ticks()
    t0 = time.perf_counter()
    gs.fit(Xtr, ytr)
    t1 = time.perf_counter()
    test_acc = accuracy_score(yte, gs.best_estimator_.predict(Xte))
    t2 = time.perf_counter()
    m1, o1 = machine_ticks(), own_ticks()
    # Other processes' CPU during the timed part, as % of all cores.
    other = (float("nan") if m0 is None or m1 is None else
             max(0, (m1 - m0) - (o1 - o0)) / (os.sysconf("SC_CLK_TCK") * os.cpu_count()
                                              * (t2 - t0)) * 100)

    n_iter = gs.best_estimator_.n_iter_
    if n_iter != gs.best_params_["max_iter"]:
        print(f"sklearn_gridsearch.py: the refit ran {n_iter} epochs, expected "
              f"{gs.best_params_['max_iter']}", file=sys.stderr)
        return 1
    fits = len(gs.cv_results_["params"]) * gs.n_splits_
    i = gs.best_index_
    bp = gs.best_params_
    print(f"RESULT impl=sklearn what=wall seconds={t2 - t0:.3f} fit_seconds={t1 - t0:.3f} "
          f"fits={fits} refit_seconds={gs.refit_time_:.3f} other_cpu_pct={other:.1f}", flush=True)
    print(f"RESULT impl=sklearn what=best mean_cv={gs.best_score_:.6f} "
          f"std_cv={gs.cv_results_['std_test_score'][i]:.6f} batch_size={bp['batch_size']} "
          f"epochs={bp['max_iter']} units={bp['hidden_layer_sizes'][0]}")
    print(f"RESULT impl=sklearn what=refit test_accuracy={test_acc:.6f}")
    # The whole cv_results_ table, for bench/out/sweep/sklearn.txt.
    order = np.argsort(gs.cv_results_["rank_test_score"], kind="stable")
    print("INFO rank batch_size epochs units mean_test_score std_test_score mean_fit_time")
    for j in order:
        p = gs.cv_results_["params"][j]
        print(f"INFO {gs.cv_results_['rank_test_score'][j]:4d} {p['batch_size']:10d} "
              f"{p['max_iter']:6d} {p['hidden_layer_sizes'][0]:5d} "
              f"{gs.cv_results_['mean_test_score'][j]:.6f} "
              f"{gs.cv_results_['std_test_score'][j]:.6f} "
              f"{gs.cv_results_['mean_fit_time'][j]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
