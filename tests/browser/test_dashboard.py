"""The --http dashboard in a real browser (headless Chromium), during a live
sweep on MNIST.

One page load, driven through the DevTools protocol over
--remote-debugging-pipe (standard library only: NUL-separated JSON on file
descriptors 3 and 4):
  - the page shows the sweep (its row, name and progress bar), the
    workers (a row per worker, by name) and, for the sweep, the plots the
    coordinator renders (common/plots.c, as `hptune report`): one
    score-against-parameter image per parameter that varies (the constants
    named in a note instead), the best-so-far and parallel-coordinates
    images, each loaded (decoded, non-zero size) from /api/sweeps/ID/plots/;
  - the page itself draws no plot: no <svg> element in the DOM;
  - without reloading, the plots update as trials finish (the best-so-far
    plot's data-points grows and its image url changes) and the page's
    refresh counter advances;
  - no JavaScript exception and no Content-Security-Policy violation;
  - a screenshot is saved into the build dir (its path is printed);
  - no two pieces of text overlap, measured in the DOM (each SVG <text> as
    the rotated box the browser lays it out in, each HTML text node by its
    line boxes): on the dashboard, in every plot the coordinator serves, and
    in the `hptune report` of the sweep, for the live sweep and for a sweep
    with many long category labels on two axes (every optimizer and every
    activation, run by a --dry-run worker), whose report is screenshotted
    too.
Skips (exit 77) when Chromium is not installed or MNIST is missing.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import BUILD, Cluster, check, epoch_seconds, finish, free_port, need_data, \
    on_cleanup, skip  # noqa: E402

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)
if not CHROMIUM:
    skip("chromium is not installed (Debian package chromium; deploy/install-deps.sh)")
need_data("mnist-10k")

SHOT = os.path.join(os.path.abspath(BUILD), "tests", "browser", "dashboard.png")


def high(fd):
    """fd moved to a number >= 10 (close-on-exec), the original closed."""
    h = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return h


class Browser:
    """Headless Chromium driven over --remote-debugging-pipe."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="hpt-chromium-")
        to_r, self.to_w = (high(fd) for fd in os.pipe())      # commands: its fd 3
        self.from_r, from_w = (high(fd) for fd in os.pipe())  # replies: its fd 4

        def fds():
            # Both sources are >= 10, so neither is overwritten by the other's
            # dup2; dup2 makes 3 and 4 inheritable, every other descriptor of
            # ours is close-on-exec (PEP 446).
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--mute-audio",
             f"--user-data-dir={self.profile}", "--window-size=1280,1900",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=fds, close_fds=False)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        on_cleanup(self.close)

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            r, _, _ = select.select([self.from_r], [], [], left)
            if r:
                chunk = os.read(self.from_r, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5)
            except Exception:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, url):
        self.b = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.call(domain + ".enable", session=self.s)
        browser.call("Page.navigate", {"url": url}, session=self.s)

    def eval(self, expr):
        r = self.b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                        session=self.s)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate {expr[:60]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, path):
        data = self.b.call("Page.captureScreenshot", {"format": "png",
                                                      "captureBeyondViewport": True},
                           session=self.s)["data"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def problems(self):
        """JavaScript exceptions, console errors and CSP violations so far."""
        out = []
        for e in self.b.events:
            if e.get("sessionId") != self.s:
                continue
            if e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(e["params"]["exceptionDetails"])[:400])
            elif e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error":
                out.append("console.error: " + json.dumps(e["params"]["args"])[:400])
            elif e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error":
                entry = e["params"]["entry"]
                out.append("log: " + entry.get("text", "")[:400] + " " + entry.get("url", ""))
        return out


# What the tests read from the page (see the data-* attributes in app.js).
PROBE = """(() => {
  const q = (s) => document.querySelector(s);
  const fig = (s) => q(s + ' figure');
  const img = (f) => f ? f.querySelector('img') : null;
  const loaded = (i) => !!i && i.complete && i.naturalWidth > 100 && i.naturalHeight > 100;
  const pts = (s) => { const f = fig(s); return f ? +f.getAttribute('data-points') : -1; };
  return {
    refreshes: +(document.body.getAttribute('data-refreshes') || 0),
    status: (q('#status') || {}).textContent || '',
    sweeps: [...document.querySelectorAll('#sweeps tbody tr')].map((r) => ({
      id: +r.getAttribute('data-sweep'), text: r.textContent,
      bar: !!r.querySelector('.bar .fill')})),
    workers: [...document.querySelectorAll('#workers tbody tr')].map((r) => r.textContent),
    shown: +(q('#sweep-section') || {getAttribute: () => 0}).getAttribute('data-sweep'),
    hidden: q('#sweep-section').hidden,
    panels: [...document.querySelectorAll('#plot-params figure')].map(
      (f) => [f.getAttribute('data-param'), +f.getAttribute('data-points')]),
    panelsLoaded: [...document.querySelectorAll('#plot-params figure img')].every(loaded),
    panelSrc: [...document.querySelectorAll('#plot-params figure img')].map(
      (i) => i.getAttribute('src')),
    note: (q('#plot-note') || {}).textContent || '',
    best: pts('#plot-best'),
    bestSrc: img(fig('#plot-best')) ? img(fig('#plot-best')).getAttribute('src') : '',
    bestLoaded: loaded(img(fig('#plot-best'))),
    parallel: pts('#plot-parallel'),
    parallelLoaded: loaded(img(fig('#plot-parallel'))),
    captions: [...document.querySelectorAll('#sweep-section figcaption')].map(
      (c) => c.textContent),
    svgInDom: document.querySelectorAll('svg').length,
    trials: document.querySelectorAll('#trials tbody tr').length,
  };
})()"""

# A sweep slow enough to watch: one worker slot, a fold task ~0.4 s.
eps = epoch_seconds(32, batch_size=64, fold="1/2")
epochs = max(1, min(40, round(0.4 / eps)))
SPEC = f"""
name: dashboard-live
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 1}}
refit: false
parameters:
  units: {{values: [16, 32, 64]}}
  learning_rate: {{values: [0.0003, 0.003, 0.03]}}
  activation: {{values: [relu, tanh]}}
  batch_size: {{value: 64}}
  epochs: {{value: {epochs}}}
"""
print(f"epoch {eps * 1000:.1f} ms: {epochs} epochs a task", flush=True)

c = Cluster(name="browser")
HTTP = free_port()
c.start_coordinator("--http", f"127.0.0.1:{HTTP}")
c.start_worker(slots=1, name="painter")
sweep = c.launch(SPEC)
c.wait_for(lambda: c.results(sweep)["sweep"]["trials_done"] >= 1, timeout=240,
           what="a first trial")

b = Browser()
page = Page(b, f"http://127.0.0.1:{HTTP}/")
first = c.wait_for(lambda: (lambda p: p if p["refreshes"] >= 1 and p["best"] >= 1 and
                            p["bestLoaded"] and p["parallelLoaded"] and p["panelsLoaded"]
                            else None)(
    page.eval(PROBE)), timeout=60, what="the dashboard's first render", poll=0.2)
print("first:", json.dumps(first)[:600], flush=True)
check([s["id"] for s in first["sweeps"]] == [sweep], f"sweep rows {first['sweeps']}")
check(first["sweeps"] and "dashboard-live" in first["sweeps"][0]["text"] and
      first["sweeps"][0]["bar"], f"sweep row {first['sweeps']}")
check(len(first["workers"]) == 1 and "painter" in first["workers"][0],
      f"worker rows {first['workers']}")
check(first["shown"] == sweep and not first["hidden"], "the running sweep is not shown")
# One panel per parameter that varies (constants, here batch_size and epochs,
# have none: the note names them).
check(sorted(p for p, _ in first["panels"]) == ["activation", "learning_rate", "units"],
      f"parameter panels {first['panels']}")
check(all(src.startswith(f"/api/sweeps/{sweep}/plots/param-") and ".svg" in src
          for src in first["panelSrc"]), f"panel images {first['panelSrc']}")
check("batch_size = 64" in first["note"] and f"epochs = {epochs}" in first["note"],
      f"constants note {first['note']!r}")
check(first["bestSrc"].startswith(f"/api/sweeps/{sweep}/plots/best-so-far.svg"),
      f"best-so-far image {first['bestSrc']!r}")
check(first["parallel"] >= 1, f"parallel coordinates: {first['parallel']} points")
check(all(first["captions"]) and len(first["captions"]) == 5, f"captions {first['captions']}")
check(first["svgInDom"] == 0, f"the page draws {first['svgInDom']} SVG elements itself")
done_then = c.results(sweep)["sweep"]["trials_done"]
check(done_then < 18, f"the sweep finished too fast to watch ({done_then} trials done)")

# The same page, not reloaded: the plots follow the sweep.
later = c.wait_for(lambda: (lambda p: p if p["best"] > first["best"] + 1 and p["bestLoaded"] else None)(
    page.eval(PROBE)), timeout=120, what="the best-so-far plot to grow", poll=0.5)
print("later:", json.dumps(later)[:600], flush=True)
check(later["refreshes"] > first["refreshes"], "the refresh counter did not advance")
check(dict(later["panels"]).get("units") == later["best"],
      f"the units panel and the best-so-far plot disagree: {later}")
check(later["parallel"] > first["parallel"], "parallel coordinates did not update")
check(later["bestSrc"] != first["bestSrc"] and later["bestLoaded"],
      f"the best-so-far image was not reloaded: {later['bestSrc']!r}")
check(later["svgInDom"] == 0, "the page draws SVG itself")
check("updated" in later["status"], f"status line {later['status']!r}")

page.screenshot(SHOT)
check(os.path.getsize(SHOT) > 10000, f"screenshot {SHOT} is tiny")
print("screenshot:", SHOT, flush=True)

# --- text never overlaps --------------------------------------------------------

# Every rendered piece of text of the document as a convex quad in viewport
# pixels: an SVG <text> from its bounding box in its own coordinates mapped
# through its screen transform (so a label rotated by -45 degrees is a
# rotated box, not the large upright box around it), an HTML text node from
# the boxes of its lines.  Then every pair is tested with the separating
# axis theorem; two boxes overlap when they interpenetrate by more than
# 1 px along every axis (touching line boxes do not count).
OVERLAPS = """(() => {
  const quads = [];
  const shown = (e) => { const cs = getComputedStyle(e);
    return cs.display !== 'none' && cs.visibility !== 'hidden' && +cs.opacity !== 0; };
  for (const t of document.querySelectorAll('svg text')) {
    if (!t.textContent.trim() || !shown(t)) continue;
    const b = t.getBBox(), m = t.getScreenCTM();
    if (!m || b.width === 0 || b.height === 0) continue;
    const pt = (x, y) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f];
    quads.push({text: t.textContent, q: [pt(b.x, b.y), pt(b.x + b.width, b.y),
      pt(b.x + b.width, b.y + b.height), pt(b.x, b.y + b.height)]});
  }
  const walk = document.createTreeWalker(document.body || document.documentElement,
                                          NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const e = n.parentElement;
    if (!n.textContent.trim() || !e || e.closest('svg, script, style, title, noscript') ||
        !shown(e)) continue;
    const r = document.createRange();
    r.selectNodeContents(n);
    for (const b of r.getClientRects()) {
      if (b.width < 0.5 || b.height < 0.5) continue;
      quads.push({text: n.textContent.trim().slice(0, 40), q: [[b.left, b.top],
        [b.right, b.top], [b.right, b.bottom], [b.left, b.bottom]]});
    }
  }
  const depth = (a, b) => {   // the least interpenetration over the axes
    let least = Infinity;
    for (const poly of [a, b]) for (let i = 0; i < 4; i++) {
      const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % 4];
      let nx = y1 - y2, ny = x2 - x1;
      const len = Math.hypot(nx, ny);
      if (len === 0) continue;
      nx /= len; ny /= len;
      const pa = a.map(([x, y]) => x * nx + y * ny), pb = b.map(([x, y]) => x * nx + y * ny);
      least = Math.min(least, Math.min(Math.max(...pa), Math.max(...pb)) -
                              Math.max(Math.min(...pa), Math.min(...pb)));
    }
    return least;
  };
  const out = [];
  for (let i = 0; i < quads.length; i++) for (let j = i + 1; j < quads.length; j++) {
    const d = depth(quads[i].q, quads[j].q);
    if (d > 1) out.push([quads[i].text, quads[j].text, Math.round(d * 10) / 10]);
  }
  return {texts: quads.length, overlaps: out.slice(0, 12), count: out.length};
})()"""


def goto(url, ready="document.readyState === 'complete'"):
    page.b.call("Page.navigate", {"url": url}, session=page.s)
    c.wait_for(lambda: page.eval(f"location.href === {json.dumps(url)} && ({ready})"),
               timeout=30, what=f"{url} to load", poll=0.1)


def no_overlaps(what, min_texts):
    r = page.eval(OVERLAPS)
    print(f"{what}: {r['texts']} text boxes, {r['count']} overlapping", flush=True)
    check(r["texts"] >= min_texts, f"{what}: only {r['texts']} text boxes measured")
    check(r["count"] == 0, f"{what}: overlapping text {r['overlaps']}")


def plot_urls(sweep_id):
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/api/sweeps/{sweep_id}/plots",
                                timeout=10) as f:
        return [(p["name"], p["url"]) for p in json.load(f)["plots"]]


def check_report(sweep_id, shot=None):
    out = tempfile.mkdtemp(prefix="hpt-report-")
    on_cleanup(lambda: shutil.rmtree(out, ignore_errors=True))
    c.cli("report", str(sweep_id), "-o", out)
    goto("file://" + os.path.join(out, "index.html"))
    no_overlaps(f"hptune report {sweep_id}", 60)
    if shot:
        page.screenshot(shot)
        print("screenshot:", shot, flush=True)
    return page.eval("document.body.innerText")


# The live sweep's plots, each opened as the SVG document it is, and its report.
c.wait_sweep(sweep, timeout=300)
for name, url in plot_urls(sweep):
    goto(f"http://127.0.0.1:{HTTP}{url}")
    no_overlaps(f"plot {name} of sweep {sweep}", 8)
check_report(sweep)

# Many long category labels on two axes: every optimizer and activation.
c.start_worker(slots=2, name="dry", extra=["--dry-run", "--dataset", "mnist-10k"])
LABELS = c.launch("""
name: labels
dataset: mnist-10k
test_objective: hash
method: grid
cv: {folds: 2, seed: 1}
refit: false
parameters:
  optimizer: {values: [sgd, nesterov, rmsprop, adagrad, adadelta, adam, adamax, nadam, adamw]}
  activation: {values: [relu, tanh, sigmoid, hard_sigmoid, elu, selu, softplus, softsign, linear]}
  units: {values: [8, 16]}
  epochs: {value: 4}
""")
check(c.wait_sweep(LABELS, timeout=120) == "done", "the labels sweep did not finish")
goto(f"http://127.0.0.1:{HTTP}/#sweep={LABELS}",
     f"+document.body.getAttribute('data-refreshes') >= 1 && "
     f"+(document.querySelector('#sweep-section') || {{getAttribute: () => 0}})"
     f".getAttribute('data-sweep') === {LABELS} && "
     f"[...document.querySelectorAll('#sweep-section figure img')].every("
     f"(i) => i.complete && i.naturalWidth > 100)")
no_overlaps(f"the dashboard showing sweep {LABELS}", 40)
page.screenshot(SHOT.replace(".png", "-labels.png"))
names = [n for n, _ in plot_urls(LABELS)]
check(sorted(n for n in names if n.startswith("param-")) ==
      ["param-activation", "param-optimizer", "param-units"], f"plots of the labels sweep {names}")
for name, url in plot_urls(LABELS):
    goto(f"http://127.0.0.1:{HTTP}{url}")
    no_overlaps(f"plot {name} of sweep {LABELS}", 9 if name.startswith("param-") else 8)
text = check_report(LABELS, os.path.join(os.path.dirname(SHOT), "report.png"))
check("epochs = 4" in text, "the report does not name the constant epochs = 4")
for p in page.problems():
    check(False, "browser: " + p)
finish()
