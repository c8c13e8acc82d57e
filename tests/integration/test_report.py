"""hptune report: the HTML report of a sweep with numeric, log-scale,
categorical and conditional parameters, at three moments of its life:

1. queued (no worker yet): the report says it is a snapshot, the plots say
   there is nothing to draw yet;
2. running (when data/mnist-10k exists: a real worker stalls after its first
   epoch while a --dry-run worker does every other task): the snapshot
   shows the unfinished trial's partial mean marked '*';
3. done.

Each time: index.html parses with html.parser with every element closed in
order, every SVG (each file and each inlined copy) parses with
xml.etree, nothing is loaded from elsewhere, there is one panel per
parameter that varied (none for the constants epochs and batch_size, which
a note names instead; none at all while the sweep has no trials), the
numbers of the table equal `hptune results --format json`,
the significance and refit sentences of `hptune results` are there, and
results.csv is byte for byte `hptune results --format csv`.  Then the
errors: an unknown sweep, a directory that cannot be created, bad flags,
an unreachable coordinator."""
import html
import json
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from harness import CLI, DATA, Cluster, check, finish, free_port

SVG_NS = "{http://www.w3.org/2000/svg}svg"
PARAMS = ["units", "learning_rate", "optimizer", "momentum"]
SPEC = """
name: report-test
dataset: mnist-10k
method: grid
cv: {folds: 3}
test_objective: bowl
parameters:
  units: {values: [8, 16, 32]}
  learning_rate: {values: [0.0001, 0.001, 0.01, 0.1]}
  optimizer: {values: [adam, sgd]}
  momentum: {values: [0.5, 0.9], when: {optimizer: [sgd]}}
  epochs: {value: 2}
  batch_size: {value: 64}
"""
CONSTANTS = {"epochs": "2", "batch_size": "64"}   # never vary: a note, no plot

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Page(HTMLParser):
    """Checks that every element is closed in order and collects what the
    tests look at: rows of the results table, figures per section, links,
    and the text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.rows = {}          # trial -> {col: (data-value or None, text)}
        self.row = None
        self.cell = None
        self.section = None
        self.figures = {}       # section id -> count
        self.urls = []          # every href / src / xlink:href
        self.text = []
        self.snapshot = None    # text of the banner, when there is one
        self.in_snapshot = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("href", "src", "xlink:href", "action", "data"):
            if k in a and not (k == "data" and tag != "object"):
                self.urls.append(a[k])
        if tag == "link" or tag == "script" or tag == "iframe" or tag == "img":
            self.errors.append(f"<{tag}> in a self-contained page")
        if tag == "section":
            self.section = a.get("id")
        if tag == "figure":
            self.figures[self.section] = self.figures.get(self.section, 0) + 1
        if tag == "tr" and "data-trial" in a:
            self.row = self.rows.setdefault(int(a["data-trial"]), {})
        if tag == "td" and self.row is not None:
            self.cell = [a.get("data-col"), a.get("data-value"), ""]
        if a.get("id") == "snapshot":
            self.in_snapshot = True
            self.snapshot = ""
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        for k in ("href", "src", "xlink:href"):
            if k in a:
                self.urls.append(a[k])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}> "
                               f"at line {self.getpos()[0]}")
            return
        self.stack.pop()
        if tag == "td" and self.cell is not None:
            col, value, text = self.cell
            self.row[col] = (value, text)
            self.cell = None
        if tag == "tr":
            self.row = None
        if tag == "p" and self.in_snapshot:
            self.in_snapshot = False

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell[2] += data
        if self.in_snapshot:
            self.snapshot += data


def parse_page(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    p = Page()
    p.feed(text)
    p.close()
    if p.stack:
        p.errors.append(f"unclosed elements at the end: {p.stack}")
    return text, p


def exact(v):
    """A JSON number as the report's data-value writes it (None for null)."""
    return None if v is None else float(v)


def check_report(c, sweep, out, state, top=50):
    """Run hptune report and check everything about its output."""
    r = c.cli("report", str(sweep), "-o", out, check_rc=False)
    # The coordinator says which parameters the spec fixes, so the plots are
    # the same before any trial exists.
    plotted = PARAMS
    check(r.returncode == 0, f"report {sweep} ({state}) exit {r.returncode}: {r.stderr}")
    index = os.path.join(out, "index.html")
    check(r.stdout.strip() == index, f"report stdout is not the index path: {r.stdout!r}")
    res = c.results(sweep)
    check(res["sweep"]["state"] == state, f"sweep state {res['sweep']['state']}, want {state}")
    text, page = parse_page(index)
    check(not page.errors, f"{state}: index.html is not well-formed: {page.errors[:5]}")
    check(text.startswith("<!DOCTYPE html>"), "no doctype")
    # Every SVG, as a file and inlined, is XML with an <svg> root.
    files = sorted(f for f in os.listdir(out) if f.endswith(".svg"))
    for f in files:
        try:
            root = ET.parse(os.path.join(out, f)).getroot()
            check(root.tag == SVG_NS, f"{f}: root is {root.tag}")
        except ET.ParseError as e:
            check(False, f"{state}: {f} is not well-formed XML: {e}")
    inline = re.findall(r"<svg\b.*?</svg>", text, re.S)
    check(len(inline) == len(plotted) + 2, f"{len(inline)} inline SVGs, want {len(plotted) + 2}")
    for k, s in enumerate(inline):
        try:
            ET.fromstring(s)
        except ET.ParseError as e:
            check(False, f"{state}: inline SVG {k} is not well-formed XML: {e}")
    # One panel per parameter, as a file and as a figure; the other plots.
    want = sorted([f"param-{p}.svg" for p in plotted] +
                  ["best-so-far.svg", "parallel-coordinates.svg"])
    check(files == want, f"SVG files {files}, want {want}")
    check(page.figures.get("params", 0) == len(plotted),
          f"{page.figures.get('params')} parameter panels, want {len(plotted)}")
    # The constants: a one-line note rather than a plot each.
    plain_text = html.unescape("".join(page.text))
    any_trial = bool(c.results(sweep)["cv_results"]["trial"])
    for name, value in CONSTANTS.items():
        note = f"{name} = {value}" if any_trial else name
        check(note in plain_text, f"{state}: no note that {name} is constant")
    check("Not plotted, one value in every trial" in plain_text, f"{state}: no constants note")
    check(page.figures.get("over-time") == 1 and page.figures.get("parallel") == 1,
          f"figures per section: {page.figures}")
    # Self-contained: links only to the files next to it.
    for u in page.urls:
        check(":" not in u and not u.startswith("/") and os.path.exists(os.path.join(out, u)),
              f"link to something else than a file of the report: {u!r}")
    outside = [m for m in re.findall(r"https?://[^\"' )<]+", text)
               if m != "http://www.w3.org/2000/svg"]
    check(not outside, f"URLs in the page: {outside[:3]}")
    # The table: the same numbers as hptune results --format json.
    cv = res["cv_results"]
    by_trial = {t: i for i, t in enumerate(cv["trial"])}
    ranked = sorted(cv["trial"], key=lambda t: (cv["rank_test_score"][by_trial[t]] is None,
                                                cv["rank_test_score"][by_trial[t]] or 0, t))
    want_rows = set(ranked[:top] if top else ranked)
    check(set(page.rows) == want_rows,
          f"{state}: table rows {sorted(page.rows)[:10]}..., want {sorted(want_rows)[:10]}...")
    partial = False
    for t, cells in page.rows.items():
        i = by_trial[t]
        for col in ("mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time"):
            v, shown = cells.get(col, (None, None))
            want_v = exact(cv[col][i])
            got = None if v in (None, "") else float(v)
            check(got == want_v, f"trial {t} {col}: table {v!r}, json {cv[col][i]!r}")
            if col == "mean_test_score":
                partial = partial or shown.endswith("*")
                if want_v is not None:
                    check(shown == f"{want_v:.4f}", f"trial {t} mean shown {shown!r}")
        for p in PARAMS + list(CONSTANTS):
            v, shown = cells.get(f"param_{p}", (None, None))
            jv = cv[f"param_{p}"][i]
            if isinstance(jv, (int, float)):
                check(v is not None and float(v) == float(jv),
                      f"trial {t} param_{p}: table {v!r}, json {jv!r}")
            else:
                check(shown == (jv or ""), f"trial {t} param_{p}: table {shown!r}, json {jv!r}")
        check(cells["state"][1].split()[0] == cv["state"][i],
              f"trial {t} state {cells['state'][1]!r} vs {cv['state'][i]!r}")
    # The summary sentences, as hptune results prints them.
    plain = html.unescape("".join(page.text))
    summary = c.cli("results", str(sweep)).stdout.splitlines()
    for line in summary:
        if line.startswith(("the winner (trial", "refit test ")) or \
                "statistically indistinguishable" in line:
            check(line in plain, f"{state}: the report lacks {line!r}")
    if res["sweep"]["best_trial"]:
        check(f"best: trial {res['sweep']['best_trial']}, mean " in plain, "no winner line")
    if res["sweep"]["p_best_vs_runner_up"] is not None:
        check("significantly better than the runner-up" in plain, "no significance sentence")
    # results.csv is hptune results --format csv, byte for byte.
    csv = c.cli("results", str(sweep), "--format", "csv").stdout
    with open(os.path.join(out, "results.csv"), encoding="utf-8") as f:
        check(f.read() == csv, f"{state}: results.csv differs from hptune results --format csv")
    # Running or not.
    if state in ("queued", "running", "refitting"):
        check(page.snapshot is not None and f"still {state}" in page.snapshot,
              f"{state}: no snapshot banner: {page.snapshot!r}")
        check("snapshot" in r.stderr, f"{state}: stderr does not say snapshot: {r.stderr!r}")
    else:
        check(page.snapshot is None, f"done: a banner says {page.snapshot!r}")
    return page, partial


c = Cluster(name="report")
# --fuse-max 1: the stalling worker below stalls one task, not a bundle of
# them (a bundle's tasks share one thread, and so its stall).
c.start_coordinator("--task-stall-s", "3600", "--task-deadline-s", "3600", "--fuse-max", "1")
spec = os.path.join(c.dir, "spec.yaml")
with open(spec, "w") as f:
    f.write(SPEC)
sweep = int(c.cli("launch", spec).stdout.split()[0])

# 1. Queued: nothing finished; the plots say so.
out = os.path.join(c.dir, "queued")
check_report(c, sweep, out, "queued")
with open(os.path.join(out, "param-units.svg")) as f:
    check("no finished trials yet" in f.read(), "queued: the panel does not say it is empty")

# 2. Running, with a trial half done (needs the real data for the stalling worker).
stalling = None
if os.path.isdir(os.path.join(DATA, "mnist-10k")):
    stalling = c.start_worker(slots=1, name="stall", extra=["--test-stall-epoch", "1"])
    c.wait_for(lambda: c.results(sweep)["sweep"]["tasks_running"] >= 1, timeout=120,
               what="the stalling worker's lease")
    c.start_worker(slots=2, name="dry", data="/nonexistent",
                   extra=["--dry-run", "--dataset", "mnist-10k"])
    total = c.results(sweep)["sweep"]["tasks_total"]
    # Every task but the stalled one and the refit (which waits for all trials).
    c.wait_for(lambda: c.results(sweep)["sweep"]["tasks_done"] >= total - 2, timeout=120,
               what="all tasks but the stalled one")
    page, partial = check_report(c, sweep, os.path.join(c.dir, "running"), "running")
    check(partial, "running: no partial mean marked '*' in the table")
    c.kill(stalling)   # its lease is re-queued and the dry-run worker finishes it
else:
    print("data/mnist-10k missing: the running-sweep part is skipped")
    c.start_worker(slots=2, name="dry", data="/nonexistent",
                   extra=["--dry-run", "--dataset", "mnist-10k"])
check(c.wait_sweep(sweep) == "done", "the sweep did not finish")

# 3. Done, into a directory that does not exist yet (parents created), twice
# (files replaced), and with a short table.
out = os.path.join(c.dir, "a", "b", "done")
page, _ = check_report(c, sweep, out, "done")
check_report(c, sweep, out, "done")
r = c.cli("report", str(sweep), "-o", os.path.join(c.dir, "top5"), "--top", "5")
_, p5 = parse_page(os.path.join(c.dir, "top5", "index.html"))
check(len(p5.rows) == 5, f"--top 5: {len(p5.rows)} rows")
check("The 5 best of 36 trials" in "".join(p5.text), "--top 5: no note on the rows left out")
with open(os.path.join(out, "param-learning_rate.svg")) as f:
    lr = f.read()
check("(log scale)" in lr and ">0.0001</text>" in lr, "learning_rate is not on a log axis")
with open(os.path.join(out, "param-units.svg")) as f:
    check("(log scale)" not in f.read(), "units (8..32) is on a log axis")
with open(os.path.join(out, "param-optimizer.svg")) as f:
    opt = f.read()
check(">adam</text>" in opt and ">sgd</text>" in opt, "optimizer is not categorical")
check(not any(os.path.exists(os.path.join(out, f"param-{k}.svg")) for k in CONSTANTS),
      "a constant parameter has a plot")
with open(os.path.join(out, "parallel-coordinates.svg")) as f:
    pc = f.read()
check(">epochs</text>" not in pc and ">units</text>" in pc,
      "parallel coordinates: an axis for a constant, or none for units")
with open(os.path.join(out, "param-momentum.svg")) as f:
    mom = f.read()
points = mom.count('class="pt"') - 1   # the legend has a sample point
check(points == 24 and "momentum=0.9: mean" in mom,
      f"momentum: {points} trial points, want the 24 sgd trials (adam ones left out)")
with open(os.path.join(out, "index.html")) as f:
    check("12 finished trials without this parameter" in f.read(),
          "the momentum caption does not say the adam trials are left out")

# Errors.
r = c.cli("report", "99", "-o", os.path.join(c.dir, "x"), check_rc=False)
check(r.returncode == 1 and "no sweep 99" in r.stderr, f"unknown sweep: {r.returncode} {r.stderr}")
check(not os.path.exists(os.path.join(c.dir, "x")), "an unknown sweep created the directory")
blocker = os.path.join(c.dir, "file")
open(blocker, "w").close()
r = c.cli("report", str(sweep), "-o", os.path.join(blocker, "sub"), check_rc=False)
check(r.returncode == 1 and "cannot create the directory" in r.stderr and blocker in r.stderr,
      f"unwritable DIR: {r.returncode} {r.stderr}")
r = c.cli("report", check_rc=False)
check(r.returncode == 2 and "missing SWEEP" in r.stderr, f"no SWEEP: {r.returncode} {r.stderr}")
r = c.cli("report", str(sweep), "--top", "-1", check_rc=False)
check(r.returncode == 2, f"--top -1: exit {r.returncode}")
r = c.cli("report", str(sweep), "--bogus", check_rc=False)
check(r.returncode == 2 and "--bogus" in r.stderr, f"bad flag: {r.returncode} {r.stderr}")
r = c.cli("report", "--help")
check(r.returncode == 0 and r.stdout.startswith("Usage: hptune report"), "--help")
r = subprocess.run([CLI, "report", str(sweep), "-o", os.path.join(c.dir, "y"), "--coordinator",
                    f"tcp://127.0.0.1:{free_port()}", "--timeout", "0.5"],
                   capture_output=True, text=True)
check(r.returncode == 3, f"unreachable: exit {r.returncode}")
finish()
