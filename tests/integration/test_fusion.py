"""Bundles (horizontal fusion, docs/architecture.md): a worker trains tasks
that see the same mini-batches together in one slot, their first layers'
products fused, and every split score is bit-for-bit the score of training
each task alone.

The same grid (units 8, 16, 32 and an unfusable 10, two learning rates, two
batch sizes, epochs 1 and 2 so that continued models bundle too, 2 folds,
refit) runs twice on real digits with one worker of two slots:
  A  the coordinator's default fuse_max (4): the worker advertises bundles;
  B  --fuse-max 1: every task alone.
Checks: cv_results (every split score, mean, std, rank, p_vs_best) and the
refit score are identical; A leased bundles (the coordinator's task leased
lines name them, the worker started them) and each bundle's tasks share its fusion key
(split, batch size, epochs; the 10-unit trials never join one); B leased
none."""
from harness import Cluster, check, cv_key, finish, need_data

need_data()
SPEC = """
name: fusion
dataset: mnist
method: grid
cv: {folds: 2, seed: 5}
refit: true
parameters:
  units: {values: [8, 16, 10, 32]}
  learning_rate: {values: [0.001, 0.003]}
  batch_size: {values: [64, 512]}
  epochs: {values: [1, 2]}
"""


def run(name, *extra):
    c = Cluster(name=name)
    c.start_coordinator("--log-level", "debug", *extra)   # task leased lines name the bundle
    c.start_worker(slots=2)
    sweep = c.launch(SPEC)
    check(c.wait_sweep(sweep, timeout=600) == "done", f"{name}: the sweep did not finish")
    res = c.results(sweep)
    log = open(f"{c.dir}/worker-w0.log", errors="replace").read()
    leases = [line for line in open(f"{c.dir}/coordinator.log", errors="replace")
              if "task leased" in line]
    c.stop()
    return res, leases, log


def key(res):
    """cv_results without timings and what depends on where the models
    were (epochs trained)."""
    return {k: v for k, v in cv_key(res).items() if "epochs_trained" not in k}


def field(f, name):
    """A field of a logfmt line."""
    for part in str(f).split():
        if part.startswith(name + "="):
            return part.split("=", 1)[1]
    return None


a, a_leases, a_log = run("fuseA")
b, b_leases, b_log = run("fuseB", "--fuse-max", "1")
check(key(a) == key(b), f"cv_results differ between fused and lone training:\n"
      f"{key(a)}\n{key(b)}")
check(a["sweep"]["refit_test_score"] == b["sweep"]["refit_test_score"],
      f"refit {a['sweep']['refit_test_score']} vs {b['sweep']['refit_test_score']}")

params = a["cv_results"]["params"]
bundles = {}
for f in a_leases:
    bundle = field(f, "bundle")
    if bundle and bundle != "0":
        bundles.setdefault(bundle, []).append(int(field(f, "trial")))
check(len(a_leases) > 0, "no task leased lines in A's coordinator log")
check(len(bundles) > 0, f"A leased no bundle: {a_leases[:5]}")
check("bundle started" in a_log, "A's worker started no bundle")
for bundle, trials in bundles.items():
    check(2 <= len(trials) <= 4, f"bundle {bundle}: {len(trials)} tasks")
    ps = [params[t - 1] for t in trials]
    check(all(p["units"] != 10 for p in ps), f"bundle {bundle} holds a 10-unit trial: {ps}")
    check(len({(p["batch_size"], p["epochs"]) for p in ps}) == 1,
          f"bundle {bundle} mixes batch sizes or epochs: {ps}")
check(all(field(f, "bundle") in (None, "0") for f in b_leases), "B leased bundles")
check("bundle started" not in b_log, "B's worker started a bundle")
finish()
