#!/usr/bin/python3
"""search_optuna.py: the Optuna peer of bench/search.sh.

For each seed, optuna.create_study(direction="maximize",
sampler=TPESampler(seed=SEED)) (Optuna's defaults otherwise: 10 random
startup trials, 24 EI candidates, gamma 0.1, in-memory storage) optimizes
--trials trials, one at a time, over the same space as the hptune sweeps
(bench/search_space.py).  The objective trains the configuration on folds
K = 1, 2, 3 of `--cv-seed 42` (the same stratified shuffled split as a
sweep's tasks), the three folds at once, and returns the mean of the three
fold accuracies.  By default the folds run in three persistent
`hptune train --serve --fold K/3` processes, started once, which load the
data and the split once and train one configuration per request line, as a
sweep's workers do, so that the wall times compare; --per-trial-processes
starts three `hptune train --json --fold K/3` processes per trial instead
(each reloads the data).  A fold that
diverges (`hptune train` exit 1) makes the trial return NaN, which Optuna
records as a failed trial (and its TPE ignores), as it would any objective's
failure; a bad flag (exit 2) stops the script.

Each training run's model seed is derived from (study seed, trial number,
fold), so runs are reproducible and seeds differ between trials, as the
per-task seeds of a sweep do.

Appends one JSON record per seed to --records (JSON lines), the same shape
as search_hptune.py's.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings

import search_space as space


def start_servers(opts):
    """One `hptune train --serve` per fold, the data loaded once for all
    the studies."""
    servers = []
    for k in range(1, space.FOLDS + 1):
        cmd = [opts.cli, "train", "--serve", "--dataset", space.DATASET,
               "--data-dir", opts.data_dir, "--fold", "%d/%d" % (k, space.FOLDS),
               "--cv-seed", str(space.CV_SEED), "--quiet"]
        servers.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1))
    return servers


def served(servers, p, seed, trial, trials, opts):
    """The objective through the persistent fold servers: one request line
    to each (all three train at once), one JSON line back from each."""
    for k, srv in enumerate(servers, 1):
        flags = space.train_flags(p) + ["--seed", str(seed * 1000003 + trial.number * 101 + k)]
        srv.stdin.write(" ".join(flags) + "\n")
        srv.stdin.flush()
    accs, epochs, failed, fit = [], 0, False, 0.0
    for srv in servers:
        line = srv.stdout.readline()
        if not line:
            sys.exit("search_optuna.py: an hptune train --serve process exited (status %s)"
                     % srv.poll())
        res = json.loads(line)
        if "error" in res:
            sys.exit("search_optuna.py: hptune train --serve refused %s: %s"
                     % (space.train_flags(p), res["error"]))
        epochs += int(res.get("epochs", opts.epochs))
        fit += float(res.get("fit_seconds", 0.0))
        if res.get("diverged"):
            failed = True
        else:
            accs.append(res["val_accuracy"])
    score = (sum(accs) / len(accs)) if accs and not failed else float("nan")
    trials.append({"trial": trial.number + 1,
                   "score": None if math.isnan(score) else score,
                   "epochs": epochs, "state": "failed" if failed else "done",
                   "parent": None, "params": p, "split_scores": accs, "fit_seconds": fit})
    return score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True, help="the hptune client binary")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--records", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--trials", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--per-trial-processes", action="store_true",
                    help="start 3 hptune train processes per trial (the data reloaded each "
                         "time) instead of 3 persistent --serve processes")
    opts = ap.parse_args()
    servers = None if opts.per_trial_processes else start_servers(opts)

    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    os.makedirs(os.path.join(opts.out, "runs"), exist_ok=True)

    with open(opts.records, "a") as records:
        for seed in [int(s) for s in opts.seeds.split(",")]:
            trials = []

            def objective(trial):
                p = space.optuna_suggest(trial)
                p["epochs"] = opts.epochs
                if servers is not None:
                    return served(servers, p, seed, trial, trials, opts)
                procs = []
                for k in range(1, space.FOLDS + 1):
                    cmd = [opts.cli, "train", "--dataset", space.DATASET,
                           "--data-dir", opts.data_dir,
                           "--fold", "%d/%d" % (k, space.FOLDS),
                           "--cv-seed", str(space.CV_SEED),
                           "--seed", str(seed * 1000003 + trial.number * 101 + k),
                           "--json", "--quiet"] + space.train_flags(p)
                    procs.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                        stderr=subprocess.PIPE, text=True)))
                accs, epochs, failed, fit = [], 0, False, 0.0
                for cmd, pr in procs:
                    out, err = pr.communicate()
                    if pr.returncode == 2:
                        sys.exit("search_optuna.py: %s refused a flag: %s"
                                 % (" ".join(cmd), err.strip()))
                    try:
                        res = json.loads(out)
                    except ValueError:
                        res = None
                    if pr.returncode != 0 or res is None:
                        failed = True
                        if res is None and pr.returncode != 1:
                            sys.exit("search_optuna.py: %s failed (exit %d): %s"
                                     % (" ".join(cmd), pr.returncode, err.strip()))
                    if res is not None:
                        epochs += int(res.get("epochs", opts.epochs))
                        fit += float(res.get("fit_seconds", 0.0))
                        if not res.get("diverged"):
                            accs.append(res["val_accuracy"])
                score = (sum(accs) / len(accs)) if accs and not failed else float("nan")
                trials.append({"trial": trial.number + 1,
                               "score": None if math.isnan(score) else score,
                               "epochs": epochs, "state": "failed" if failed else "done",
                               "parent": None, "params": p,
                               "split_scores": accs, "fit_seconds": fit})
                return score

            sampler = optuna.samplers.TPESampler(seed=seed)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            t0 = time.time()
            study.optimize(objective, n_trials=opts.trials, n_jobs=1)
            wall = time.time() - t0
            done = [t for t in trials if t["score"] is not None]
            best = max(done, key=lambda t: t["score"]) if done else None
            rec = {"method": "optuna-tpe", "impl": "optuna", "seed": seed,
                   "objective": ("hptune train per trial" if servers is None
                                 else "hptune train --serve"),
                   "optuna": optuna.__version__, "wall_s": wall,
                   "trials_failed": len(trials) - len(done), "epochs_source": "hptune train --json",
                   "best": best["score"] if best else None,
                   "best_params": best["params"] if best else None, "trials": trials}
            with open(os.path.join(opts.out, "runs", "optuna-tpe-s%d.json" % seed), "w") as f:
                json.dump(rec, f, indent=1)
            records.write(json.dumps(rec) + "\n")
            records.flush()
            print("  %-10s seed %d: %d trials, %d epochs, best %.4f, %.1f s"
                  % ("optuna-tpe", seed, len(trials), sum(t["epochs"] for t in trials),
                     rec["best"] if best else float("nan"), wall), file=sys.stderr)
    for srv in servers or []:
        srv.stdin.close()
        srv.wait()


if __name__ == "__main__":
    main()
