#!/usr/bin/python3
"""torch_train.py: the PyTorch (CPU, one thread) peer of bench/train_bench.

Trains the same 784-32-10 MLP as hptune (Linear(784,32)-ReLU-Linear(32,10),
glorot_uniform kernels, zero biases, CrossEntropyLoss) on fashion-mnist and
prints machine-readable lines for bench/train.sh:

  RESULT impl=pytorch kind=throughput opt=sgd batch=32 samples_per_s=... epochs=... repeats=...
  RESULT impl=pytorch kind=accuracy opt=adam batch=32 epochs=5 seed=1 test_acc=...

Only the training loop is timed: the data are float32 tensors scaled by 1/255
and every epoch's permutation is drawn before the clock starts.  Each batch is
gathered with X[idx] inside the loop (as hptune gathers its batch rows).
"""
import argparse
import gzip
import math
import os
import statistics
import struct
import sys
import time

import numpy as np


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
        d = data_dir  # allow pointing straight at the directory of IDX files
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte"))
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte"))
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte"))
    return (xtr.reshape(len(xtr), -1), ytr, xte.reshape(len(xte), -1), yte)


def make_model(torch, seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    for layer in (model[0], model[2]):  # Keras' glorot_uniform + zero bias
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    return model


def make_opt(torch, model, name):
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.0)
    return torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.999), eps=1e-7)


def train(torch, X, y, opt_name, batch, epochs, seed):
    """Train a fresh model; return (model, seconds of the training loop)."""
    model = make_model(torch, seed)
    opt = make_opt(torch, model, opt_name)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = X.shape[0]
    g = torch.Generator().manual_seed(seed)
    perms = [torch.randperm(n, generator=g) for _ in range(epochs)]
    model.train()
    t0 = time.perf_counter()
    for e in range(epochs):
        perm = perms[e]
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb = X[idx]
            yb = y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    secs = time.perf_counter() - t0
    return model, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--batches", default="32,64,512")
    ap.add_argument("--opts", default="sgd,adam")
    ap.add_argument("--epochs", type=int, default=0,
                    help="epochs per measurement (default: enough for --min-seconds)")
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3, help="measurements per case (median)")
    ap.add_argument("--acc-epochs", type=int, default=5)
    ap.add_argument("--acc-seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: --min-seconds 0.3 --repeat 1 --acc-seeds 1")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-accuracy", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.min_seconds, a.repeat, a.acc_seeds = 0.3, 1, 1

    import torch
    torch.set_num_threads(1)
    xtr, ytr, xte, yte = load(a.data_dir)
    X = torch.from_numpy(xtr.astype(np.float32) / np.float32(255.0))
    y = torch.from_numpy(ytr.astype(np.int64))
    n = X.shape[0]
    print(f"INFO impl=pytorch version={torch.__version__} threads={torch.get_num_threads()} "
          f"n_train={n}", flush=True)

    if not a.no_throughput:
        for opt_name in a.opts.split(","):
            for batch in (int(b) for b in a.batches.split(",")):
                epochs = a.epochs
                if epochs <= 0:  # one warm-up epoch sizes the measurement
                    _, s1 = train(torch, X, y, opt_name, batch, 1, 0)
                    epochs = max(1, math.ceil(a.min_seconds / s1))
                rates = []
                for r in range(a.repeat):
                    _, secs = train(torch, X, y, opt_name, batch, epochs, r + 1)
                    rates.append(epochs * n / secs)
                print(f"RESULT impl=pytorch kind=throughput opt={opt_name} batch={batch} "
                      f"samples_per_s={statistics.median(rates):.0f} "
                      f"best={max(rates):.0f} epochs={epochs} repeats={a.repeat}", flush=True)

    if not a.no_accuracy:
        Xt = torch.from_numpy(xte.astype(np.float32) / np.float32(255.0))
        yt = torch.from_numpy(yte.astype(np.int64))
        for seed in range(1, a.acc_seeds + 1):
            model, secs = train(torch, X, y, "adam", 32, a.acc_epochs, seed)
            model.eval()
            with torch.no_grad():
                acc = (model(Xt).argmax(1) == yt).double().mean().item()
            print(f"RESULT impl=pytorch kind=accuracy opt=adam batch=32 epochs={a.acc_epochs} "
                  f"seed={seed} test_acc={acc:.4f} seconds={secs:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
