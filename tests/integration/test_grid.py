"""A small grid sweep on real MNIST digits completes end to end: every
(trial, fold) has exactly one accepted result, mean/std/rank equal what is
computed independently from the split scores (population std, min-rank),
the refit runs, and the CSV export has scikit-learn's cv_results_ columns."""
import csv
import io
import math
import os
import statistics

from harness import Cluster, check, finish, need_data

need_data("mnist-10k")
SPEC = """
name: small-grid
dataset: mnist-10k
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

# The table for people: one row per grid point, ranked, each row's numbers
# the CSV's split scores summarised (to the 4 decimals it prints).
GRID = 2 * 2   # units x batch_size
csv_by_trial = {int(row["trial"]): row for row in rows}
check(sorted(csv_by_trial) == sorted(cv["trial"]), f"csv trials {sorted(csv_by_trial)} vs json "
      f"{sorted(cv['trial'])}")


def table(out):
    """The results table's rows as dicts keyed by its header, or None."""
    lines = out.splitlines()
    at = next((i for i, line in enumerate(lines) if line.split()[:2] == ["rank", "trial"]), None)
    if at is None:
        return None
    head = lines[at].split()
    body = []
    for line in lines[at + 1:]:
        # The rows end at a blank line or at a note such as "(the top 2 of 4
        # trials; ...)"; a row starts with its rank, "-" when it has none.
        if not line.strip() or not (line.split()[0].isdigit() or line.split()[0] == "-"):
            break
        body.append(dict(zip(head, line.split())))
    return head, body


r = c.cli("results", str(sweep))
tab = table(r.stdout)
check(tab is not None, "no results table in:\n" + r.stdout)
head, body = tab if tab else ([], [])
for col in ("param_units", "param_batch_size", "mean_test_score", "std_test_score",
            "mean_fit_time", "state"):
    check(col in head, f"table lacks column {col}: {head}")
check(len(body) == GRID, f"table has {len(body)} rows, the grid {GRID}:\n{r.stdout}")
tmeans = {}
for row in body:
    if not check(len(row) == len(head) and row.get("trial", "").isdigit(),
                 f"table row {row}:\n{r.stdout}"):
        continue
    t = int(row["trial"])
    src = csv_by_trial.get(t)
    if not check(src is not None, f"table trial {t} is not in the CSV"):
        continue
    splits = [float(src[f"split{k}_test_score"]) for k in range(3)]
    m, sd = sum(splits) / 3, statistics.pstdev(splits)
    tmeans[t] = m
    # The table rounds to 4 decimals ("%.4f").
    check(abs(float(row["mean_test_score"]) - m) <= 0.5e-4 + 1e-12,
          f"table trial {t} mean {row['mean_test_score']}, its CSV splits {splits} give {m}")
    check(abs(float(row["std_test_score"]) - sd) <= 0.5e-4 + 1e-12,
          f"table trial {t} std {row['std_test_score']}, its CSV splits {splits} give {sd}")
    check(abs(float(row["mean_fit_time"]) - float(src["mean_fit_time"])) <= 0.005 + 1e-9,
          f"table trial {t} fit time {row['mean_fit_time']} vs csv {src['mean_fit_time']}")
    for p in ("units", "batch_size"):
        check(row.get(f"param_{p}") == src[f"param_{p}"],
              f"table trial {t} {p}={row.get(f'param_{p}')}, csv {src[f'param_{p}']}")
    check(row["rank"] == src["rank_test_score"],
          f"table trial {t} rank {row['rank']}, csv {src['rank_test_score']}")
    check(row["state"] == "done", f"table trial {t} state {row['state']}")
# Ranks: min-rank by mean (higher accuracy first), rows in rank order (ties
# by trial number).
for row in body:
    t = int(row["trial"]) if row.get("trial", "").isdigit() else None
    if t in tmeans:
        want = 1 + sum(1 for u in tmeans if tmeans[u] > tmeans[t])
        check(row["rank"] == str(want), f"table trial {t} rank {row['rank']}, its mean gives {want}")
order = [(int(row["rank"]), int(row["trial"])) for row in body
         if row.get("rank", "").isdigit() and row.get("trial", "").isdigit()]
check(order == sorted(order) and len(order) == len(body), f"table not in rank order: {order}")
check(sorted(t for _, t in order) == sorted(csv_by_trial), f"table trials {order} vs csv")
# The summary under the table names the rank-1 trial and its mean.
if order:
    bt = order[0][1]
    check(f"best: trial {bt}, mean accuracy {tmeans.get(bt, math.nan):.4f}" in r.stdout,
          f"summary does not name trial {bt} as best:\n{r.stdout}")
check(f"{GRID}/{GRID} trials done" in r.stdout, f"summary trial count:\n{r.stdout}")
# --top 2 shows the first two rows of the full table and says so.
r2 = c.cli("results", str(sweep), "--top", "2")
tab2 = table(r2.stdout)
check(tab2 is not None and tab2[1] == body[:2], f"--top 2 rows differ from the table's first two:"
      f"\n{r2.stdout}")
check(f"(the top 2 of {GRID} trials" in r2.stdout, f"--top 2 does not say so:\n{r2.stdout}")
# The journal (every spec, score and worker name) is owner-only, and so are
# the WAL files SQLite made beside it.
for suffix in ("", "-wal", "-shm"):
    path = c.db_path + suffix
    if suffix and not os.path.exists(path):
        continue
    mode = os.stat(path).st_mode & 0o777
    check(mode == 0o600, f"{path} has mode {oct(mode)}, not 0o600")
finish()
