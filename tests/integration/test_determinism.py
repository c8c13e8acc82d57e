"""Task results depend only on the task: the same grid gives bit-for-bit the
same split scores with 1 worker of 1 slot and with 3 workers of 2 slots."""
from harness import Cluster, check, cv_key, finish, need_data

need_data("mnist-10k")
SPEC = """
name: det
dataset: mnist-10k
method: grid
cv: {folds: 3, seed: 11}
refit: true
parameters:
  units: {values: [8, 12]}
  dropout: {values: [0.0, 0.2]}
  epochs: {value: 1}
  batch_size: {value: 128}
"""


def run(workers, slots):
    c = Cluster(name=f"det{workers}")
    c.start_coordinator()
    for _ in range(workers):
        c.start_worker(slots=slots)
    sweep = c.launch(SPEC)
    check(c.wait_sweep(sweep) == "done", f"sweep with {workers} workers did not finish")
    res = c.results(sweep)
    c.stop()
    return res


a = run(1, 1)
b = run(3, 2)
ka = cv_key(a)
kb = cv_key(b)
check(ka == kb, f"cv_results differ:\n{ka}\n{kb}")
check(a["sweep"]["refit_test_score"] == b["sweep"]["refit_test_score"],
      f"refit {a['sweep']['refit_test_score']} vs {b['sweep']['refit_test_score']}")
finish()
