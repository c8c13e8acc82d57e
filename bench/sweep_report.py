#!/usr/bin/python3
"""sweep_report.py: the spec reader and the report of bench/sweep.sh.

  sweep_report.py spec FILE [--quick OUT.yaml]
      Check that FILE is a sweep bench/sweep.sh can give both engines (a
      grid over batch_size, epochs and units, adam, one cv repeat) and print
      shell assignments for the driver (DATASET, FOLDS, CV_SEED, ...).  With
      --quick, write the smoke-run spec to OUT.yaml: the same sweep with each
      epochs value replaced by its rank (10, 20, 30 -> 1, 2, 3), so epoch
      families still continue one another, and print its assignments.
  sweep_report.py report RESULTS.txt JSON [--case C] [--quick] [--command CMD] ...
      Read the RESULT lines the driver gathered, compute the FLOP limit of
      each side, write the JSON record and print the summary table with the
      targets.

The peer imports read_spec from here, so both engines read one grid from one
file.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import statistics
import sys

# The keys bench/sweep.sh understands, and what scikit-learn does for each.
GRID_KEYS = ("batch_size", "epochs", "units")
ADAM_LR_DEFAULT = 0.001     # hptune: learning_rate < 0 means Keras' default for adam

# Targets of issue 10, per case: (speed ratio, best mean CV gap in points,
# share of the FLOP limit).
TARGETS = {"full": (8.0, 0.2, 0.60), "short": (5.0, 0.2, 0.60)}
BUSY_OTHER_PCT = 5.0        # other processes' CPU in a timed section, % of all cores
BUSY_BEFORE_PCT = 20.0      # busy CPU in the second before the start


def read_spec(path):
    """The sweep in FILE as a dict: dataset, cv, refit, learning_rate and the
    grid {batch_size, epochs, units: [values]}.  Raises ValueError when the
    spec has something the peer could not reproduce."""
    import yaml
    with open(path) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a mapping")
    if doc.get("method", "grid") != "grid":
        raise ValueError(f"{path}: method must be grid")
    cv = {"folds": 5, "stratified": True, "shuffle": True, "seed": 42, "repeats": 1, "seeds": 1}
    cv.update(doc.get("cv") or {})
    if cv["repeats"] != 1 or cv["seeds"] != 1:
        raise ValueError(f"{path}: cv.repeats and cv.seeds must be 1")
    metric = doc.get("metric", {"name": "accuracy"})
    if (metric.get("name") if isinstance(metric, dict) else metric) != "accuracy":
        raise ValueError(f"{path}: metric must be accuracy (GridSearchCV's default scorer)")
    if doc.get("model_seed", "shared") != "shared":
        raise ValueError(f"{path}: model_seed must be shared (GridSearchCV's random_state=0 is)")
    grid, lr = {}, ADAM_LR_DEFAULT
    for name, p in (doc.get("parameters") or {}).items():
        if not isinstance(p, dict):
            raise ValueError(f"{path}: parameters.{name} is not a mapping")
        vals = p["values"] if "values" in p else [p["value"]] if "value" in p else None
        if vals is None:
            raise ValueError(f"{path}: parameters.{name}: a grid needs value or values")
        if name in GRID_KEYS:
            grid[name] = [int(v) for v in vals]
        elif name == "optimizer" and vals == ["adam"]:
            pass
        elif name == "learning_rate" and len(vals) == 1:
            lr = float(vals[0])
        elif name == "layers" and vals == [1]:
            pass
        elif name == "activation" and vals == ["relu"]:
            pass
        else:
            raise ValueError(f"{path}: parameters.{name} = {vals}: the scikit-learn peer "
                             "reproduces only batch_size, epochs and units lists with adam")
    for k in GRID_KEYS:
        if k not in grid:
            raise ValueError(f"{path}: parameters.{k} is missing")
    if "optimizer" not in (doc.get("parameters") or {}):
        raise ValueError(f"{path}: parameters.optimizer must be adam")
    return {"path": path, "dataset": doc.get("dataset"), "cv": cv,
            "refit": bool(doc.get("refit", False)), "learning_rate": lr, "grid": grid,
            "doc": doc}


def quick_spec(spec, out):
    """Write the smoke-run spec: epochs values replaced by their ranks."""
    import yaml
    doc = json.loads(json.dumps(spec["doc"]))
    ranks = {e: i + 1 for i, e in enumerate(sorted(set(spec["grid"]["epochs"])))}
    ep = doc["parameters"]["epochs"]
    ep["values"] = [ranks[int(e)] for e in ep["values"]]
    doc["name"] = str(doc.get("name", "sweep")) + "-quick"
    with open(out, "w") as f:
        f.write("# SMOKE RUN spec written by bench/sweep.sh --quick from %s:\n"
                "# each epochs value replaced by its rank.  Not a benchmark.\n" % spec["path"])
        yaml.safe_dump(doc, f, sort_keys=False)


def cmd_spec(args):
    try:
        spec = read_spec(args.file)
        if args.quick:
            quick_spec(spec, args.quick)
            spec = read_spec(args.quick)
    except (OSError, ValueError, KeyError) as e:
        print(f"sweep.sh: {e}", file=sys.stderr)
        return 2
    if not spec["refit"]:
        print(f"sweep.sh: {args.file}: refit must be true", file=sys.stderr)
        return 2
    cv, g = spec["cv"], spec["grid"]
    print(f"DATASET={spec['dataset']}")
    print(f"FOLDS={int(cv['folds'])} CV_SEED={int(cv['seed'])} "
          f"STRATIFIED={int(bool(cv['stratified']))} SHUFFLE={int(bool(cv['shuffle']))}")
    print("UNITS=" + ",".join(str(u) for u in sorted(set(g["units"]))))
    print(f"N_CONFIGS={len(g['batch_size']) * len(g['epochs']) * len(g['units'])}")
    return 0


def spec_agreement(a, b):
    """None when the two spec files describe the same sweep (comments,
    order and `name` aside), else a sentence saying where they differ."""
    import yaml
    try:
        with open(a) as f:
            da = yaml.safe_load(f)
        with open(b) as f:
            db = yaml.safe_load(f)
    except OSError as e:
        return str(e)
    for d in (da, db):
        d.pop("name", None)
    if da == db:
        return None
    keys = sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))
    return f"{a} and {b} differ in {', '.join(keys)}"


# --- the report ------------------------------------------------------------

def kvline(line):
    return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)


def hptune_round(h, flops, n_train, fold_sizes, n_test):
    """One hptune round from its RESULT line and its `hptune results` JSON:
    wall, scores, epochs and the FLOPs its finished tasks performed."""
    with open(h["json"]) as f:
        doc = json.load(f)
    sw, cv = doc["sweep"], doc["cv_results"]
    t0, t1 = float(h["t0"]), float(h["t1"])
    wall = t1 - t0
    k = len(fold_sizes)
    trial_epochs, fl, fits = 0, 0.0, 0
    mean_tr = n_train - sum(fold_sizes) / k      # training samples of one fold
    mean_va = sum(fold_sizes) / k
    for j, params in enumerate(cv["params"]):
        if cv["state"][j] != "done":
            continue
        u = int(params["units"])
        tr, fw = flops[u]
        e = int(cv["epochs_trained"][j])     # over its folds, continued epochs excluded
        trial_epochs += e
        fl += mean_tr * e * tr + k * mean_va * fw   # every fold scored once, at its end
        fits += k
    refit_epochs = int(sw["epochs_trained"]) - trial_epochs
    bp = sw.get("best_params") or {}
    if refit_epochs > 0 and bp:
        tr, fw = flops[int(bp["units"])]
        fl += n_train * refit_epochs * tr + n_test * fw
    busy = sum(m * k for m, s in zip(cv["mean_fit_time"], cv["state"])
               if s == "done" and m is not None)
    return {
        "impl": "hptune", "layout": h["label"], "workers": int(h["workers"]),
        "slots": int(h["slots"]), "round": int(h["round"]), "wall_s": wall,
        "other_cpu_pct": max(0, int(h["other_ticks"])) / (
            os.sysconf("SC_CLK_TCK") * os.cpu_count() * wall) * 100,
        "launch_to_first_lease_s": sw["started_unix"] - t0,
        "launch_to_done_s": sw["finished_unix"] - t0,
        "fit_seconds_sum": busy, "fits": fits,
        "best_mean_cv": sw["best_mean_test_score"], "best_std_cv": sw["best_std_test_score"],
        "best_params": {k2: bp.get(k2) for k2 in GRID_KEYS},
        "refit_test_accuracy": sw["refit_test_accuracy"],
        "epochs_trained": int(sw["epochs_trained"]),
        "epochs_from_scratch": int(sw["epochs_from_scratch"]),
        "refit_epochs": refit_epochs, "flops": fl,
        "results_json": h["json"],
    }


def sklearn_round(r, rnd):
    w, b, rf, wk, env = r["wall"], r["best"], r["refit"], r["work"], r["env"]
    return {
        "impl": "sklearn", "layout": "GridSearchCV n_jobs=%s" % env["n_jobs"], "round": rnd,
        "wall_s": float(w["seconds"]), "fit_seconds": float(w["fit_seconds"]),
        "refit_seconds": float(w["refit_seconds"]),
        "other_cpu_pct": float(w["other_cpu_pct"]), "fits": int(w["fits"]),
        "best_mean_cv": float(b["mean_cv"]), "best_std_cv": float(b["std_cv"]),
        "best_params": {"batch_size": int(b["batch_size"]), "epochs": int(b["epochs"]),
                        "units": int(b["units"])},
        "refit_test_accuracy": float(rf["test_accuracy"]),
        "epochs_trained": int(wk["epochs_trained"]), "refit_epochs": int(rf["epochs"]),
        "flops": float(wk["flops"]), "env": env,
        "trials": r.get("trials", []),
    }


def med(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(xs) if xs else float("nan")


def cmd_report(a):
    rounds, sk = [], {}
    meta = {}
    with open(a.results) as f:
        for line in f:
            if line.startswith("RESULT "):
                kv = kvline(line)
                if kv.get("impl") == "hptune":
                    rounds.append(("h", kv))
                elif kv.get("impl") == "sklearn":
                    sk.setdefault(int(kv["round"]), {})[kv["what"]] = kv
                elif kv.get("impl") == "meta":
                    meta.update(kv)
            elif line.startswith("TRIAL "):
                kv = kvline(line)
                sk.setdefault(int(kv["round"]), {}).setdefault("trials", []).append(kv)
            elif line.startswith("# flops") or line.startswith("# folds") or \
                    line.startswith("# dataset"):
                kv = kvline(line[1:])
                meta.setdefault("folds_head", []).append(line[2:].strip())
                if line.startswith("# flops"):
                    meta.setdefault("flops", {})[int(kv["units"])] = (
                        float(kv["train_per_sample"]), float(kv["forward_per_sample"]))
                elif line.startswith("# folds"):
                    meta["fold_sizes"] = [int(x) for x in kv["sizes"].split(",")]
                else:
                    meta["n_train"], meta["n_test"] = int(kv["train"]), int(kv["test"])

    peak = float(meta.get("sgemm_gflops", "nan"))
    cores = int(meta.get("cores_used", 2))
    H = [hptune_round(kv, meta["flops"], meta["n_train"], meta["fold_sizes"], meta["n_test"])
         for _, kv in rounds]
    S = [sklearn_round(sk[k], k) for k in sorted(sk) if "wall" in sk[k]]
    for r in H + S:
        # The cores a side trains on: its slots, or its joblib workers, at
        # most the machine's.
        r["cores"] = min(os.cpu_count(), r["workers"] * r["slots"] if r["impl"] == "hptune"
                         else int(r["env"].get("n_jobs", cores)))
        rate = peak * 1e9 * r["cores"]
        r["limit_s"] = r["flops"] / rate if rate > 0 else float("nan")
        r["pct_of_flop_limit"] = 100 * r["limit_s"] / r["wall_s"]
        r["gflops_per_s"] = r["flops"] / r["wall_s"] / 1e9

    case = a.case
    t_speed, t_cv, t_limit = TARGETS.get(case, TARGETS["short"])
    warnings_ = list(a.warning or [])
    busy_before = float(meta.get("busy_before_pct", "nan"))
    if busy_before >= BUSY_BEFORE_PCT:
        warnings_.append("the machine was %.0f%% busy in the second before the start "
                         "(threshold %.0f%%)" % (busy_before, BUSY_BEFORE_PCT))
    for r in H + S:
        if r["other_cpu_pct"] > BUSY_OTHER_PCT:
            warnings_.append("round %d, %s %s: other processes used %.0f%% of the CPU "
                             "(threshold %.0f%%)" % (r["round"], r["impl"], r["layout"],
                                                     r["other_cpu_pct"], BUSY_OTHER_PCT))
    if a.quick:
        warnings_.insert(0, "SMOKE RUN (--quick): epochs replaced by their ranks; "
                            "not a benchmark, no figure to quote")

    # Summary per hptune layout and for the peer: medians over the rounds.
    def summarize(rs, label):
        last = rs[-1]   # the scores are the same every round (fixed seeds)
        return {"label": label, "rounds": len(rs), "walls_s": [r["wall_s"] for r in rs],
                "wall_s": med([r["wall_s"] for r in rs]),
                "other_cpu_pct": [r["other_cpu_pct"] for r in rs],
                "pct_of_flop_limit": med([r["pct_of_flop_limit"] for r in rs]),
                "gflops_per_s": med([r["gflops_per_s"] for r in rs]),
                "limit_s": last["limit_s"], "flops": last["flops"], "fits": last["fits"],
                "cores": last["cores"],
                "best_mean_cv": last["best_mean_cv"], "best_std_cv": last["best_std_cv"],
                "best_params": last["best_params"],
                "refit_test_accuracy": last["refit_test_accuracy"],
                "epochs_trained": last["epochs_trained"],
                "epochs_from_scratch": last.get("epochs_from_scratch", last["epochs_trained"])}

    layouts = []
    for r in H:
        if r["layout"] not in layouts:
            layouts.append(r["layout"])
    rows = [summarize([r for r in H if r["layout"] == l],
                      "hptune, %s" % l.replace("x", " worker(s) x ") + " slot(s)")
            for l in layouts]
    skrow = summarize(S, "scikit-learn GridSearchCV, n_jobs=2") if S else None

    targets = []
    for r in rows:
        t = {"layout": r["label"]}
        if skrow:
            ratio = skrow["wall_s"] / r["wall_s"]
            gap = 100 * (r["best_mean_cv"] - skrow["best_mean_cv"])
            t["speed"] = {"ratio": ratio, "target": t_speed, "met": ratio >= t_speed}
            t["best_mean_cv"] = {"gap_points": gap, "target_points": t_cv,
                                 "met": gap >= -t_cv}
            # The same ratio at equal work: FLOP rates, which takes out what
            # epoch families save (the peer trains every trial from scratch).
            t["equal_work_ratio"] = r["gflops_per_s"] / skrow["gflops_per_s"]
        share = r["pct_of_flop_limit"] / 100
        t["flop_limit"] = {"share": share, "target": t_limit, "met": share >= t_limit}
        targets.append(t)

    valid = not warnings_
    doc = {
        "benchmark": "bench/sweep.sh", "case": case, "quick": bool(a.quick),
        "valid": valid, "warnings": warnings_,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": a.command, "git": meta.get("git"),
        "machine": {"cpu": meta.get("cpu", "").replace("~", " "),
                    "cores": os.cpu_count(),
                    "loadavg_start": meta.get("loadavg_start", "").replace("~", " "),
                    "loadavg_end": a.loadavg_end,
                    "busy_before_pct": busy_before},
        "versions": {"sklearn": S[0]["env"].get("sklearn") if S else None,
                     "numpy": S[0]["env"].get("numpy") if S else None,
                     "joblib": S[0]["env"].get("joblib") if S else None,
                     "numpy_blas": S[0]["env"].get("blas") if S else None,
                     "openblas_hptune": meta.get("openblas", "").replace("~", " "),
                     "python": sys.version.split()[0]},
        "spec": {"path": a.spec, "sha256": hashlib.sha256(open(a.spec, "rb").read()).hexdigest(),
                 "text": open(a.spec).read(), "agrees_with_deploy": a.spec_agreement},
        "data": {"n_train": meta["n_train"], "n_test": meta["n_test"],
                 "fold_sizes": meta["fold_sizes"], "folds_tool": meta.get("folds_head")},
        "flop_limit": {"sgemm_peak_gflops_1thread": peak, "cores": cores,
                       "flops_per_sample": {str(u): {"train": v[0], "forward": v[1]}
                                            for u, v in sorted(meta["flops"].items())}},
        "rounds": H + S,
        "summary": {"hptune": rows, "sklearn": skrow},
        "targets": targets,
    }
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")

    # --- the table ---
    def num(x, fmt):
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt % x

    def params(p):
        return "batch %s, epochs %s, units %s" % (p["batch_size"], p["epochs"], p["units"])

    allrows = rows + ([skrow] if skrow else [])
    nr = max(r["rounds"] for r in allrows)
    print()
    if a.quick:
        print("*** SMOKE RUN (--quick): epochs cut to their ranks; these figures are not a "
              "benchmark ***")
    print("case %s: %s, %d training / %d test samples, %d folds of %s" % (
        case, a.spec, meta["n_train"], meta["n_test"], len(meta["fold_sizes"]),
        ",".join(map(str, meta["fold_sizes"]))))
    print("%-40s %8s %5s %16s  %-30s %7s %8s %8s" % (
        "", "wall s", "fits", "best mean CV", "best params", "refit", "epochs", "limit"))
    for r in allrows:
        print("%-40s %8s %5d %8s ± %-6s  %-30s %7s %8d %7s%%" % (
            r["label"], num(r["wall_s"], "%.2f"), r["fits"], num(r["best_mean_cv"], "%.4f"),
            num(r["best_std_cv"], "%.4f"), params(r["best_params"]),
            num(r["refit_test_accuracy"], "%.4f"), r["epochs_trained"],
            num(r["pct_of_flop_limit"], "%.1f")))
    print("(wall: median of %d round(s); fits: CV fits, plus 1 refit; best mean CV ± its std "
          "over the folds;" % nr)
    print(" refit: test accuracy of the best configuration retrained on all training samples;")
    print(" epochs: epochs trained over all fits and the refit (hptune continues epoch "
          "families:")
    for r in rows:
        print("   %s: %d trained of %d from scratch)" % (r["label"], r["epochs_trained"],
                                                         r["epochs_from_scratch"]))
    print(" limit: the work's FLOPs at %s GFLOP/s (single-thread sgemm peak, measured in this "
          "run) x the cores it ran on, over the wall)" % num(peak, "%.1f"))
    for r in allrows:
        print("   %-40s %.3e FLOPs on %d cores, limit %.2f s, %.2f GFLOP/s" % (
            r["label"], r["flops"], r["cores"], r["limit_s"], r["gflops_per_s"]))
    print()
    print("every round: wall s (other CPU: processes other than the timed ones, % of all cores)")
    for r in allrows:
        print("  %-40s %s" % (r["label"], "  ".join(
            "%7.2f (other %2.0f%%)" % (w, p) for w, p in zip(r["walls_s"], r["other_cpu_pct"]))))
    for l, r in zip(layouts, rows):
        hr = [x for x in H if x["layout"] == l]
        print("  hptune %s: launch -> first lease %.2f s, -> sweep done %.2f s; fits' own "
              "fit_seconds %.1f s = %.0f%% of %d slots x wall" % (
                  l, med([x["launch_to_first_lease_s"] for x in hr]),
                  med([x["launch_to_done_s"] for x in hr]),
                  med([x["fit_seconds_sum"] for x in hr]),
                  100 * med([x["fit_seconds_sum"] / (x["wall_s"] * x["workers"] * x["slots"])
                             for x in hr]), hr[0]["workers"] * hr[0]["slots"]))
    print()
    print("targets (issue 10, case %s): >= %gx GridSearchCV, best mean CV within %.1f points of "
          "scikit-learn's, >= %.0f%% of the FLOP limit" % (case, t_speed, t_cv, 100 * t_limit))
    for t in targets:
        print("  %s" % t["layout"])
        if "speed" in t:
            print("    %-66s %s" % ("speed: %.2fx (%.2fx at equal work: GFLOP/s ratio)" % (
                t["speed"]["ratio"], t["equal_work_ratio"]),
                "met" if t["speed"]["met"] else "MISSED"))
            print("    %-66s %s" % ("best mean CV: %+.2f points against scikit-learn's" %
                                    t["best_mean_cv"]["gap_points"],
                                    "met" if t["best_mean_cv"]["met"] else "MISSED"))
        else:
            print("    (scikit-learn did not run: no ratio)")
        print("    %-66s %s" % ("FLOP limit: %.1f%% of it" % (100 * t["flop_limit"]["share"]),
                                "met" if t["flop_limit"]["met"] else "MISSED"))
    if skrow:
        print("  scikit-learn's own share of the FLOP limit: %.1f%%" % skrow["pct_of_flop_limit"])
    if warnings_:
        print()
        print("!" * 78)
        print("!!! NOT VALID FIGURES:")
        for w in warnings_:
            print("!!!   " + w)
        print("!" * 78)
    print()
    print("record: %s" % a.json)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("spec")
    p.add_argument("file")
    p.add_argument("--quick", metavar="OUT")
    p = sub.add_parser("agree")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("json")
    p.add_argument("--case", required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--command", default="")
    p.add_argument("--loadavg-end", default="")
    p.add_argument("--spec-agreement", default="")
    p.add_argument("--warning", action="append")
    a = ap.parse_args()
    if a.cmd == "spec":
        return cmd_spec(a)
    if a.cmd == "agree":
        msg = spec_agreement(a.a, a.b)
        if msg:
            print(msg)
            return 1
        return 0
    return cmd_report(a)


if __name__ == "__main__":
    sys.exit(main())
