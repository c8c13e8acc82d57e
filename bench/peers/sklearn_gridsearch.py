#!/usr/bin/python3
"""sklearn_gridsearch.py: the scikit-learn peer of bench/sweep.sh.

The sweep spec's grid (bench/specs/*.yaml: batch_size x epochs x units,
adam) as scikit-learn's best users run it, doing the same work as hptune:

  GridSearchCV(MLPClassifier(hidden_layer_sizes=(units,), solver='adam',
                             learning_rate_init=0.001, epsilon=1e-7, batch_size=B,
                             max_iter=epochs, alpha=0, shuffle=True,
                             early_stopping=False, tol=0,
                             n_iter_no_change=10**9, random_state=0),
               grid, cv=PredefinedSplit(test_fold), n_jobs=2, refit=True)

- alpha=0: hptune has no L2 penalty (MLPClassifier's default is 1e-4);
  epsilon=1e-7: hptune's Adam epsilon (Keras'; scikit-learn's is 1e-8).
- tol=0 and n_iter_no_change=10**9: every fit runs exactly max_iter = epochs
  epochs, as hptune's do (checked on the refit; a ConvergenceWarning says
  just that and is silenced).
- float32 data scaled by 1/255: MLPClassifier keeps float32 (scikit-learn
  >= 1.1) and so computes in the dtype hptune uses; the fitted coefs' dtype
  is printed and checked.
- The same splits as hptune: test_fold comes from build/bench/folds, which
  calls hptune's hpt_cv_split for the spec's cv (folds, seed, stratified,
  shuffle) on the dataset's training labels, as every worker does.
- Warm workers: joblib's loky executor is started before the clock by one
  Parallel(n_jobs=2) call that imports scikit-learn's MLP in each worker;
  GridSearchCV's Parallel(n_jobs=2) reuses the same processes (their pids,
  before and after, are printed).  The training data are handed to the
  workers as a memory map made before the clock (joblib passes a np.memmap
  by file name instead of dumping the array on every Parallel call), as
  hptune's workers hold the data before the sweep.
- One BLAS thread per process (OPENBLAS_NUM_THREADS=1 etc., exported by
  bench/sweep.sh and set here before numpy loads): two fits at a time on
  two cores, as hptune's two slots.

Timed: GridSearchCV.fit (all fits, the refit) plus the refit's test scoring.
Prints machine-readable lines (every value without spaces):

  RESULT impl=sklearn what=wall seconds=... fit_seconds=... refit_seconds=... fits=... other_cpu_pct=...
  RESULT impl=sklearn what=best mean_cv=... std_cv=... batch_size=.. epochs=.. units=..
  RESULT impl=sklearn what=refit test_accuracy=... epochs=...
  RESULT impl=sklearn what=work epochs_trained=... flops=... n_train=... n_test=...
  RESULT impl=sklearn what=env sklearn=... numpy=... coef_dtype=float32 workers_before=... workers_after=...
  TRIAL batch_size=.. epochs=.. units=.. mean_cv=... std_cv=... rank=.. mean_fit_time=...
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sweep_report  # noqa: E402  (bench/sweep_report.py: the spec reader)


def read_idx(path):
    """An IDX file (raw or .gz) as (dims, bytes), stdlib only."""
    import gzip
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
    """Images as float32 in [0, 1] (hptune scales uint8 by 1/255 the same
    way), labels as int64."""
    dims, img = read_idx(os.path.join(d, f"{split}-images-idx3-ubyte"))
    _, lab = read_idx(os.path.join(d, f"{split}-labels-idx1-ubyte"))
    X = np.frombuffer(img, dtype=np.uint8).reshape(dims[0], -1).astype(np.float32)
    X *= np.float32(1.0 / 255.0)
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


def proc_table():
    """{pid: (ppid, utime + stime ticks, comm)} from /proc."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()   # fields from 3 (state) on
        out[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]), comm)
    return out


def descendants(table):
    """Pids below this process (joblib's workers and loky's resource
    tracker)."""
    me, kids = os.getpid(), []
    for pid in table:
        p = pid
        while p and p != me and p in table:
            p = table[p][0]
        if p == me and pid != me:
            kids.append(pid)
    return sorted(kids)


def own_ticks():
    """utime + stime, in clock ticks, of this process and its descendants."""
    t = proc_table()
    return sum(t[p][1] for p in descendants(t) + [os.getpid()] if p in t)


def loky_workers():
    """The pids of loky's worker processes (children whose command line runs
    loky's process launcher), sorted."""
    pids = []
    for pid in descendants(proc_table()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "resource_tracker" not in cmd and "semaphore_tracker" not in cmd:
            pids.append(pid)
    return pids


def warm_worker():
    """Run in each loky worker before the clock: import what a fit needs."""
    import sklearn.model_selection  # noqa: F401
    import sklearn.neural_network  # noqa: F401
    from threadpoolctl import threadpool_info
    time.sleep(0.2)   # keep both workers busy so each gets a call
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return os.getpid(), max(blas or [0])


def folds_of(folds_bin, data_dir, spec, np):
    """test_fold (one 0-based fold per training sample) and the FLOP table
    from bench/folds, i.e. from hptune's own hpt_cv_split and
    hpt_mlp_flops_per_sample."""
    cv = spec["cv"]
    units = sorted(set(spec["grid"]["units"]))
    cmd = [folds_bin, "--dataset", spec["dataset"], "--data-dir", data_dir,
           "--folds", str(cv["folds"]), "--seed", str(cv["seed"]),
           "--stratified", str(int(cv["stratified"])), "--shuffle", str(int(cv["shuffle"])),
           "--units", ",".join(str(u) for u in units)]
    p = subprocess.run(cmd, check=True, capture_output=True, text=True)
    head, flops = [], {}
    body = []
    for line in p.stdout.splitlines():
        if line.startswith("#"):
            head.append(line[2:])
            kv = dict(f.split("=", 1) for f in line[2:].split()[1:] if "=" in f)
            if line.startswith("# flops"):
                flops[int(kv["units"])] = (float(kv["train_per_sample"]),
                                           float(kv["forward_per_sample"]))
        else:
            body.append(line)
    return np.array(body, dtype=np.int64), flops, head


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True, help="the sweep spec (YAML)")
    ap.add_argument("--data-dir", default="data", help="the directory holding the dataset [data]")
    ap.add_argument("--folds-bin", default="build/bench/folds", help="bench/folds [%(default)s]")
    ap.add_argument("--n-jobs", type=int, default=2, help="GridSearchCV n_jobs [2]")
    args = ap.parse_args()

    spec = sweep_report.read_spec(args.spec)
    import joblib
    import numpy as np
    import sklearn
    from joblib import Parallel, delayed
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    from sklearn.neural_network import MLPClassifier

    d = os.path.join(args.data_dir, spec["dataset"])
    Xtr, ytr = load(np, d, "train")
    Xte, yte = load(np, d, "t10k")
    test_fold, flops, head = folds_of(args.folds_bin, args.data_dir, spec, np)
    if len(test_fold) != len(ytr):
        print(f"sklearn_gridsearch.py: bench/folds gave {len(test_fold)} folds for "
              f"{len(ytr)} samples", file=sys.stderr)
        return 1
    for h in head:
        print(f"INFO folds: {h}")

    # The training data as a memory map on tmpfs when there is one: joblib
    # hands a np.memmap to its workers by file name, not by value.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    tmpd = tempfile.mkdtemp(prefix="hptune-sk-", dir=shm)
    path = os.path.join(tmpd, "Xtr.npy")
    np.save(path, Xtr)
    del Xtr
    Xtr = np.load(path, mmap_mode="r")

    # max_iter = epochs stops every fit after exactly that many epochs; the
    # ConvergenceWarning it raises says just that.  PYTHONWARNINGS (matched
    # on the message: the category's module is not imported when a worker
    # starts) reaches joblib's worker processes.
    warnings.simplefilter("ignore", ConvergenceWarning)
    os.environ["PYTHONWARNINGS"] = "ignore:Stochastic Optimizer"
    g = spec["grid"]
    # epsilon=1e-7: hptune's (and Keras') Adam epsilon; scikit-learn's
    # default is 1e-8.
    est = MLPClassifier(solver="adam", learning_rate_init=spec["learning_rate"], epsilon=1e-7,
                        alpha=0.0,
                        shuffle=True, early_stopping=False, tol=0.0, n_iter_no_change=10**9,
                        random_state=0)
    grid = {
        "batch_size": g["batch_size"],
        "max_iter": g["epochs"],
        "hidden_layer_sizes": [(u,) for u in g["units"]],
    }
    gs = GridSearchCV(est, grid, cv=PredefinedSplit(test_fold), n_jobs=args.n_jobs,
                      refit=True)

    # Start the workers before the clock and load scikit-learn in them.
    warm = Parallel(n_jobs=args.n_jobs)(delayed(warm_worker)() for _ in range(2 * args.n_jobs))
    before = loky_workers()
    print(f"INFO warm-up ran in worker pids {sorted(set(p for p, _ in warm))} with "
          f"{max(t for _, t in warm)} BLAS thread(s) each; workers before the clock: {before}",
          flush=True)
    if max(t for _, t in warm) != 1:
        print("sklearn_gridsearch.py: a worker's BLAS runs more than one thread "
              "(export OPENBLAS_NUM_THREADS=1)", file=sys.stderr)
        return 1
    from threadpoolctl import threadpool_info
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"] or [{}]

    m0, o0 = machine_ticks(), own_ticks()
    t0 = time.perf_counter()
    gs.fit(Xtr, ytr)
    t1 = time.perf_counter()
    test_acc = accuracy_score(yte, gs.best_estimator_.predict(Xte))
    t2 = time.perf_counter()
    m1, o1 = machine_ticks(), own_ticks()
    after = loky_workers()
    reused = bool(before) and set(before) == set(after)
    print(f"INFO workers after the clock: {after} ({'the same processes' if reused else 'NOT the same processes'})")
    # Other processes' CPU during the timed part, as % of all cores.
    other = (float("nan") if m0 is None or m1 is None else
             max(0, (m1 - m0) - (o1 - o0)) / (os.sysconf("SC_CLK_TCK") * os.cpu_count()
                                              * (t2 - t0)) * 100)

    best = gs.best_estimator_
    coef_dtype = best.coefs_[0].dtype
    if coef_dtype != np.float32:
        print(f"sklearn_gridsearch.py: the fitted coefs are {coef_dtype}, not float32",
              file=sys.stderr)
        return 1
    bp = gs.best_params_
    if best.n_iter_ != bp["max_iter"]:
        print(f"sklearn_gridsearch.py: the refit ran {best.n_iter_} epochs, expected "
              f"{bp['max_iter']}", file=sys.stderr)
        return 1

    # The work done: every fit trains its fold's training samples for
    # max_iter epochs and scores its validation fold; the refit trains all
    # training samples and is scored on the test set.  FLOPs per sample are
    # hptune's own count for the same architecture (bench/folds).
    cvr = gs.cv_results_
    k = gs.n_splits_
    n = len(ytr)
    sizes = np.bincount(test_fold, minlength=k)
    epochs, fl = 0, 0.0
    for p in cvr["params"]:
        u, e = p["hidden_layer_sizes"][0], p["max_iter"]
        tr, fw = flops[u]
        for f in range(k):
            epochs += e
            fl += (n - sizes[f]) * e * tr + sizes[f] * fw
    ub = bp["hidden_layer_sizes"][0]
    epochs += best.n_iter_
    fl += n * best.n_iter_ * flops[ub][0] + len(yte) * flops[ub][1]

    fits = len(cvr["params"]) * k
    i = gs.best_index_
    print(f"RESULT impl=sklearn what=wall seconds={t2 - t0:.3f} fit_seconds={t1 - t0:.3f} "
          f"fits={fits} refit_seconds={gs.refit_time_:.3f} other_cpu_pct={other:.1f}", flush=True)
    print(f"RESULT impl=sklearn what=best mean_cv={gs.best_score_:.6f} "
          f"std_cv={cvr['std_test_score'][i]:.6f} batch_size={bp['batch_size']} "
          f"epochs={bp['max_iter']} units={ub}")
    print(f"RESULT impl=sklearn what=refit test_accuracy={test_acc:.6f} epochs={best.n_iter_}")
    print(f"RESULT impl=sklearn what=work epochs_trained={epochs} flops={fl:.6e} n_train={n} "
          f"n_test={len(yte)} folds={k}")
    print(f"RESULT impl=sklearn what=env sklearn={sklearn.__version__} numpy={np.__version__} "
          f"joblib={joblib.__version__} blas={blas[0].get('internal_api')}-"
          f"{blas[0].get('version')}-{blas[0].get('architecture')} X_dtype={Xtr.dtype} coef_dtype={coef_dtype} "
          f"n_jobs={args.n_jobs} workers_before={','.join(map(str, before)) or '-'} "
          f"workers_after={','.join(map(str, after)) or '-'} workers_reused={int(reused)}")
    for j in np.argsort(cvr["rank_test_score"], kind="stable"):
        p = cvr["params"][j]
        print(f"TRIAL batch_size={p['batch_size']} epochs={p['max_iter']} "
              f"units={p['hidden_layer_sizes'][0]} mean_cv={cvr['mean_test_score'][j]:.6f} "
              f"std_cv={cvr['std_test_score'][j]:.6f} rank={cvr['rank_test_score'][j]} "
              f"mean_fit_time={cvr['mean_fit_time'][j]:.3f}")
    del Xtr
    try:
        os.unlink(path)
        os.rmdir(tmpd)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
