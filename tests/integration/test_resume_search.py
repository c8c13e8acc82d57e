"""A coordinator killed in the middle of a bayes (TPE) or coordinate sweep
resumes it: the search replays the journal's exact interleaving of
suggestions and observations, so every replayed trial matches the journal
(the coordinator refuses to resume otherwise) and the sweep finishes.  For
coordinate search, which waits for each parameter's trials, the trials also
equal an uninterrupted run's; asynchronous TPE legitimately depends on the
order in which parallel results arrive, so there only the resume is checked."""
import os
import signal
import time

from harness import Cluster, _procs, check, finish

SPECS = {
    "bayes": """
name: tpe
dataset: mnist-10k
method: bayes
seed: 5
cv: {folds: 3}
refit: false
parameters:
  units: {distribution: int_uniform, min: 4, max: 128}
  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}
  optimizer: {values: [sgd, adam, rmsprop]}
  dropout: {distribution: uniform, min: 0.0, max: 0.5}
  epochs: {value: 2}
  batch_size: {value: 128}
budget: {max_trials: 30}
""",
    "coordinate": """
name: coord
dataset: mnist-10k
method: coordinate
cv: {folds: 3}
refit: false
coordinate: {rounds: 2}
parameters:
  units: {values: [8, 16, 32, 64]}
  batch_size: {values: [32, 64, 128]}
  optimizer: {values: [sgd, adam]}
  epochs: {value: 4}
""",
}
# Real (small, fast) training, so the sweep is still running when it is killed.
EXTRA = ["--dataset", "mnist-10k"]


def params(res):
    return res["cv_results"]["params"], res["cv_results"]["mean_test_score"]


for method, spec in SPECS.items():
    # Reference: uninterrupted.
    ref = Cluster(name=f"ref-{method}")
    ref.start_coordinator()
    ref.start_worker(slots=2, name="w", extra=EXTRA)
    s = ref.launch(spec)
    check(ref.wait_sweep(s, timeout=120) == "done", f"{method}: reference did not finish")
    want = params(ref.results(s))
    ref.stop()

    # Interrupted twice with SIGKILL, restarted on the same journal.
    c = Cluster(name=f"resume-{method}")
    c.start_coordinator("--max-attempts", "3")
    c.start_worker(slots=2, name="w", extra=EXTRA)
    s = c.launch(spec)
    for kill in range(2):
        # Kill once a few more tasks are done, while the sweep still runs.
        base = c.results(s)["sweep"]["tasks_done"]
        t0 = time.time()
        while time.time() - t0 < 60:
            r = c.results(s)["sweep"]
            if r["tasks_done"] >= base + 4 or r["state"] != "running":
                break
            time.sleep(0.02)
        c.coord.send_signal(signal.SIGKILL)
        c.coord.wait()
        _procs.remove(c.coord)
        c.start_coordinator("--max-attempts", "3")
    check(c.wait_sweep(s, timeout=120) == "done", f"{method}: resumed sweep did not finish")
    with open(os.path.join(c.dir, "coordinator.log"), errors="replace") as fh:
        log = fh.read()
    check("cannot resume" not in log, f"{method}: resume failed:\n{log[-2000:]}")
    check("sweep resumed from the journal" in log, f"{method}: nothing was resumed (too fast?)")
    got = params(c.results(s))
    if method == "coordinate":
        check(got == want, f"{method}: trials differ from the uninterrupted run:\n{got}\n{want}")
    else:
        check(len(got[0]) == len(want[0]), f"{method}: {len(got[0])} trials, want {len(want[0])}")
    c.stop()
finish()
