#!/usr/bin/python3
"""sklearn_train.py: the scikit-learn MLPClassifier peer of bench/train_bench.

Fits MLPClassifier(hidden_layer_sizes=(32,), relu) on fashion-mnist with plain
SGD (lr 0.01, no momentum) or Adam (lr 0.001), no L2 (alpha=0), no early
stopping and no tolerance stop, so it runs exactly max_iter epochs.  Prints
machine-readable lines for bench/train.sh:

  RESULT impl=sklearn kind=throughput opt=sgd batch=32 samples_per_s=... epochs=... repeats=...

Only fit() is timed (it shuffles each epoch itself); samples/s = epochs * n /
fit seconds.  BLAS is held to one thread: set OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS to 1 before numpy loads (this script
does so when they are unset; bench/train.sh sets them too).
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def read_idx(path):
    """An IDX file (optionally .gz) as a numpy uint8 array."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir):
    d = os.path.join(data_dir, "fashion-mnist")
    if not os.path.isdir(d):
        d = data_dir
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte"))
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    return xtr.reshape(len(xtr), -1), ytr


def fit_seconds(MLPClassifier, X, y, opt_name, batch, epochs, seed):
    kw = dict(hidden_layer_sizes=(32,), activation="relu", alpha=0.0,
              batch_size=batch, max_iter=epochs, shuffle=True, tol=0.0,
              n_iter_no_change=epochs + 1, early_stopping=False, random_state=seed)
    if opt_name == "sgd":
        kw.update(solver="sgd", learning_rate="constant", learning_rate_init=0.01,
                  momentum=0.0, nesterovs_momentum=False)
    else:
        kw.update(solver="adam", learning_rate_init=0.001)
    clf = MLPClassifier(**kw)
    t0 = time.perf_counter()
    clf.fit(X, y)
    secs = time.perf_counter() - t0
    if clf.n_iter_ != epochs:
        raise RuntimeError(f"sklearn ran {clf.n_iter_} epochs, expected {epochs}")
    return secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--batches", default="32,64,512")
    ap.add_argument("--opts", default="sgd,adam")
    ap.add_argument("--epochs", type=int, default=0,
                    help="epochs per measurement (default: enough for --min-seconds)")
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3, help="measurements per case (median)")
    ap.add_argument("--quick", action="store_true", help="smoke run: --min-seconds 0.3 --repeat 1")
    a = ap.parse_args()
    if a.quick:
        a.min_seconds, a.repeat = 0.3, 1

    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    warnings.simplefilter("ignore", ConvergenceWarning)

    xtr, ytr = load(a.data_dir)
    X = xtr.astype(np.float32) / np.float32(255.0)
    y = ytr.astype(np.int64)
    n = X.shape[0]
    print(f"INFO impl=sklearn version={sklearn.__version__} "
          f"openblas_threads={os.environ.get('OPENBLAS_NUM_THREADS')} n_train={n}", flush=True)

    for opt_name in a.opts.split(","):
        for batch in (int(b) for b in a.batches.split(",")):
            epochs = a.epochs
            if epochs <= 0:  # a one-epoch warm-up fit sizes the measurement
                s1 = fit_seconds(MLPClassifier, X, y, opt_name, batch, 1, 0)
                epochs = max(1, math.ceil(a.min_seconds / s1))
            rates = []
            for r in range(a.repeat):
                secs = fit_seconds(MLPClassifier, X, y, opt_name, batch, epochs, r + 1)
                rates.append(epochs * n / secs)
            print(f"RESULT impl=sklearn kind=throughput opt={opt_name} batch={batch} "
                  f"samples_per_s={statistics.median(rates):.0f} "
                  f"best={max(rates):.0f} epochs={epochs} repeats={a.repeat}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
