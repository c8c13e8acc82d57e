#!/usr/bin/python3
"""optuna_empty.py: Optuna's trial throughput with SQLite storage, no training.

The peer of bench/dispatch.sh.  For each variant it creates a study in a
fresh SQLite file (RDBStorage, Optuna's defaults: SQLAlchemy, SQLite's
rollback journal with synchronous=FULL) and runs study.optimize() with
n_jobs=1 on an objective that does no work:

  empty    the objective returns 0.0 and suggests nothing;
  random3  the objective suggests the three parameters bench/dispatch.sh's
           hptune sweep draws (learning_rate log-uniform 1e-4..1e-1, units
           int 8..256, optimizer categorical adam/sgd/rmsprop) with
           RandomSampler(seed=0), as hptune's `method: random` does, and
           returns 0.0;
  tpe3     the same three parameters with Optuna's default TPESampler(seed=0)
           (not run unless asked for: its cost grows with the trial count).

Only study.optimize() is timed (import, engine set-up and create_study,
which writes the schema, are not; the time create_study took is printed
too).  Optuna's per-trial INFO log lines are switched off, which only makes
Optuna faster.  Prints one machine-readable line per variant:

  RESULT impl=optuna version=3.1.0 variant=empty trials=1000 seconds=... trials_per_s=...
         create_s=... other_cpu_pct=...

other_cpu_pct is the CPU every other process used during optimize(), as a
share of all cores (the machine's user + system time from /proc/stat minus
this process's).
"""
import argparse
import os
import sys
import time
import warnings


def machine_ticks():
    """The machine's busy CPU time in clock ticks (/proc/stat: user nice
    system), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:4]]
        return sum(v)
    except (OSError, ValueError):
        return None


def objective_empty(trial):
    return 0.0


def objective_3(trial):
    trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    trial.suggest_int("units", 8, 256)
    trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000, help="n_trials per variant [1000]")
    ap.add_argument("--dir", required=True, help="directory for the fresh SQLite files")
    ap.add_argument("--variants", default="empty,random3",
                    help="comma-separated: empty, random3, tpe3 [empty,random3]")
    args = ap.parse_args()
    if args.trials < 1:
        ap.error("--trials must be at least 1")

    try:
        import optuna
    except ImportError as e:
        print(f"optuna_empty.py: optuna is not installed ({e}); "
              "deploy/install-deps.sh installs python3-optuna", file=sys.stderr)
        return 3
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    print(f"INFO optuna={optuna.__version__} python={sys.version.split()[0]}", flush=True)

    for variant in args.variants.split(","):
        if variant == "empty":
            sampler, objective = optuna.samplers.RandomSampler(seed=0), objective_empty
        elif variant == "random3":
            sampler, objective = optuna.samplers.RandomSampler(seed=0), objective_3
        elif variant == "tpe3":
            sampler, objective = optuna.samplers.TPESampler(seed=0), objective_3
        else:
            ap.error(f"unknown variant {variant!r} (allowed: empty, random3, tpe3)")
        path = os.path.join(args.dir, f"optuna-{variant}.db")
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        t0 = time.perf_counter()
        study = optuna.create_study(storage=f"sqlite:///{path}", study_name=variant,
                                    sampler=sampler, direction="maximize")
        m0, c0 = machine_ticks(), os.times()
        t1 = time.perf_counter()
        study.optimize(objective, n_trials=args.trials, n_jobs=1, gc_after_trial=False)
        t2 = time.perf_counter()
        m1, c1 = machine_ticks(), os.times()
        # Other processes' CPU meanwhile, as % of all cores.
        tck, ncpu = os.sysconf("SC_CLK_TCK"), os.cpu_count()
        own = (c1.user + c1.system - c0.user - c0.system) * tck
        other = (float("nan") if m0 is None or m1 is None else
                 max(0.0, (m1 - m0) - own) / (tck * ncpu * (t2 - t1)) * 100)
        done = sum(1 for t in study.get_trials(deepcopy=False)
                   if t.state == optuna.trial.TrialState.COMPLETE)
        if done != args.trials:
            print(f"optuna_empty.py: {variant}: {done} of {args.trials} trials completed",
                  file=sys.stderr)
            return 1
        secs = t2 - t1
        print(f"RESULT impl=optuna version={optuna.__version__} variant={variant} "
              f"trials={args.trials} seconds={secs:.4f} "
              f"trials_per_s={args.trials / secs:.2f} create_s={t1 - t0:.4f} "
              f"other_cpu_pct={other:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
