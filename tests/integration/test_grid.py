"""A small grid sweep on real MNIST digits completes end to end: every
(trial, fold) has exactly one accepted result, mean/std/rank equal what is
computed independently from the split scores (population std, min-rank),
the refit runs, and the CSV export has scikit-learn's cv_results_ columns."""
import csv
import io
import math
import statistics

from harness import Cluster, check, finish, need_data

need_data()
SPEC = """
name: small-grid
dataset: mnist
method: grid
metric: {name: accuracy, goal: maximize}
cv: {folds: 3, stratified: true, shuffle: true, seed: 7}
refit: true
parameters:
  units: {values: [8, 16]}
  batch_size: {values: [32, 128]}
  epochs: {value: 2}
  optimizer: {value: adam}
"""

c = Cluster(name="grid")
c.start_coordinator()
c.start_worker(slots=2)
sweep = c.launch(SPEC)
state = c.wait_sweep(sweep, timeout=240)
check(state == "done", f"sweep state {state}")

res = c.results(sweep)
cv = res["cv_results"]
n = len(cv["mean_test_score"])
check(n == 4, f"{n} trials, want 4")
for i in range(n):
    splits = [cv[f"split{k}_test_score"][i] for k in range(3)]
    check(all(s is not None and 0.3 < s <= 1 for s in splits), f"trial {i} splits {splits}")
    m = sum(splits) / 3
    check(abs(cv["mean_test_score"][i] - m) < 1e-12, f"trial {i} mean {cv['mean_test_score'][i]} vs {m}")
    check(abs(cv["std_test_score"][i] - statistics.pstdev(splits)) < 1e-12,
          f"trial {i} std {cv['std_test_score'][i]} vs {statistics.pstdev(splits)}")
means = cv["mean_test_score"]
for i in range(n):
    want = 1 + sum(1 for j in range(n) if means[j] > means[i])
    check(cv["rank_test_score"][i] == want, f"trial {i} rank {cv['rank_test_score'][i]} want {want}")
check(sorted(cv["param_units"]) == [8, 8, 16, 16], f"param_units {cv['param_units']}")

summary = res["sweep"]
check(summary.get("refit_test_score") is not None and summary["refit_test_score"] > 0.5,
      f"refit score {summary.get('refit_score')}")

# Journal: exactly one accepted result per (trial, fold), none twice.
db = c.db()
rows = db.execute("SELECT trial, fold, COUNT(*) FROM tasks WHERE refit = 0 AND state = 'done' "
                  "GROUP BY trial, fold").fetchall()
check(len(rows) == 12 and all(r[2] == 1 for r in rows), f"done tasks per (trial, fold): {rows}")
acc = db.execute("SELECT COUNT(*) FROM attempts WHERE outcome = 'done'").fetchone()[0]
check(acc == 13, f"{acc} accepted results in the journal, want 12 folds + 1 refit")

# p_vs_best: the corrected resampled t-test (Nadeau & Bengio 2003), computed
# here independently from the split scores.
def betacf(a, b, x):
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / d
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 / (1 + aa * d); c = 1 + aa / c; h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 / (1 + aa * d); c = 1 + aa / c; h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def betainc(a, b, x):
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbt) * betacf(a, b, x) / a
    return 1 - math.exp(lbt) * betacf(b, a, 1 - x) / b


def nb_p(a, b, k):
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    m = sum(d) / n
    var = sum((x - m) ** 2 for x in d) / (n - 1)
    if var == 0:
        return 1.0 if m == 0 else 0.0
    t = m / math.sqrt((1 / n + 1 / (k - 1)) * var)
    dof = n - 1
    return betainc(dof / 2, 0.5, dof / (dof + t * t))


best = min(range(n), key=lambda i: cv["rank_test_score"][i])
bsplits = [cv[f"split{k}_test_score"][best] for k in range(3)]
for i in range(n):
    want = 1.0 if i == best else nb_p(bsplits, [cv[f"split{k}_test_score"][i] for k in range(3)], 3)
    check(abs(cv["p_vs_best"][i] - want) < 1e-9, f"trial {i} p_vs_best {cv['p_vs_best'][i]} want {want}")
check(res["sweep"]["alpha"] == 0.05, "alpha")
lo, hi = res["sweep"]["refit_ci95_low"], res["sweep"]["refit_ci95_high"]
check(lo < summary["refit_test_accuracy"] < hi, f"refit CI {lo}..{hi}")

# CSV: sklearn's column names, parseable, same numbers.
r = c.cli("results", str(sweep), "--format", "csv")
rows = list(csv.DictReader(io.StringIO(r.stdout)))
check(len(rows) == 4, f"csv rows {len(rows)}")
for col in ("param_units", "param_batch_size", "split0_test_score", "split2_test_score",
            "mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time",
            "std_fit_time"):
    check(col in rows[0], f"csv lacks column {col}: {list(rows[0])}")
check(all(math.isclose(float(rows[i]["mean_test_score"]), means[i], rel_tol=0, abs_tol=1e-15)
          for i in range(4)), "csv means differ from json")

# The table names the winner.
r = c.cli("results", str(sweep))
check("mean_test_score" in r.stdout or "mean" in r.stdout, "table output:\n" + r.stdout)
finish()
