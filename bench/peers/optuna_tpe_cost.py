#!/usr/bin/python3
"""optuna_tpe_cost.py: Optuna's TPE time per trial as the history grows.

The peer of bench/search_cost.c.  For each history size N (100, 500, 2000
by default) and each search space (3 and 6 parameters, the same spaces and
ranges as search_cost.c), it builds a study whose history holds N completed
trials with random parameters and a synthetic score (added with
study.add_trials, not timed), then times --trials (default 10) trials of
study.optimize() with Optuna's default TPESampler(seed=1), whose objective
only suggests the parameters and returns the synthetic score.  The time per
trial is what a TPE suggestion costs Optuna: the sampler's work (it re-reads
the whole history for every parameter) plus Optuna's trial bookkeeping.

Optuna gets its fastest setting: in-memory storage (no SQLite), INFO logging
off, one job.  Debian 12's python3-optuna is 3.1.0.

Prints one machine-readable line per measurement:

  RESULT impl=optuna params=6 trials=2000 trial_ms_mean=... trials_per_s=...
"""
import argparse
import math
import random
import sys
import time
import warnings

OPTIMIZERS8 = ["sgd", "nesterov", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"]
OPTIMIZERS3 = ["adam", "sgd", "rmsprop"]


def space(optuna, params):
    d = optuna.distributions
    if params == 3:
        return {
            "learning_rate": d.FloatDistribution(1e-4, 1e-1, log=True),
            "units": d.IntDistribution(8, 256),
            "optimizer": d.CategoricalDistribution(OPTIMIZERS3),
        }
    return {
        "optimizer": d.CategoricalDistribution(OPTIMIZERS8),
        "learning_rate": d.FloatDistribution(1e-4, 1e-1, log=True),
        "batch_size": d.IntDistribution(16, 512, step=16),
        "units": d.IntDistribution(8, 512),
        "dropout": d.FloatDistribution(0.0, 0.5),
        "activation": d.CategoricalDistribution(["relu", "tanh", "elu", "selu"]),
    }


def score(p):
    """The synthetic accuracy of search_cost.c."""
    s = 0.9
    if "learning_rate" in p:
        s -= 0.02 * (math.log10(p["learning_rate"]) + 2.5) ** 2
    if "units" in p:
        s -= 0.01 * abs(math.log2(p["units"]) - 8)
    if "dropout" in p:
        s -= 0.05 * abs(p["dropout"] - 0.2)
    if "optimizer" in p:
        s -= 0.0 if p["optimizer"] == "adam" else 0.01
    return s


def random_params(rng, dists):
    out = {}
    for name, dist in dists.items():
        if hasattr(dist, "choices"):
            out[name] = rng.choice(dist.choices)
        elif getattr(dist, "log", False):
            out[name] = math.exp(rng.uniform(math.log(dist.low), math.log(dist.high)))
        elif isinstance(dist.low, int) and isinstance(dist.high, int):
            step = dist.step or 1
            out[name] = dist.low + step * rng.randrange((dist.high - dist.low) // step + 1)
        else:
            out[name] = rng.uniform(dist.low, dist.high)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,500,2000", help="history sizes [100,500,2000]")
    ap.add_argument("--params", default="3,6", help="search spaces: 3, 6 or both [3,6]")
    ap.add_argument("--trials", type=int, default=10, help="timed trials per measurement [10]")
    args = ap.parse_args()
    try:
        import optuna
    except ImportError as e:
        print(f"optuna_tpe_cost.py: optuna is not installed ({e}); "
              "deploy/install-deps.sh installs python3-optuna", file=sys.stderr)
        return 3
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    print(f"# optuna {optuna.__version__}, python {sys.version.split()[0]}", flush=True)

    for n in [int(x) for x in args.sizes.split(",")]:
        for params in [int(x) for x in args.params.split(",")]:
            dists = space(optuna, params)
            rng = random.Random(n * 10 + params)
            study = optuna.create_study(direction="maximize",
                                        sampler=optuna.samplers.TPESampler(seed=1))
            history = []
            for _ in range(n):
                p = random_params(rng, dists)
                history.append(optuna.trial.create_trial(params=p, distributions=dists,
                                                         value=score(p)))
            study.add_trials(history)

            def objective(trial):
                p = {}
                for name, dist in dists.items():
                    if hasattr(dist, "choices"):
                        p[name] = trial.suggest_categorical(name, dist.choices)
                    elif isinstance(dist, optuna.distributions.IntDistribution):
                        p[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step)
                    else:
                        p[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
                return score(p)

            t0 = time.perf_counter()
            study.optimize(objective, n_trials=args.trials, n_jobs=1)
            dt = time.perf_counter() - t0
            ms = dt * 1e3 / args.trials
            print(f"RESULT impl=optuna params={params} trials={n} trial_ms_mean={ms:.3f} "
                  f"trials_per_s={args.trials / dt:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
