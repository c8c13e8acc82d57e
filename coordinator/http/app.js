/*
 * app.js: the hptune dashboard.  Every REFRESH_MS it fetches /api/sweeps and
 * /api/workers, and /api/sweeps/ID for the chosen sweep (the one clicked, or
 * else the newest running one, or else the newest), and redraws:
 *   - the sweeps with progress bars, the workers with what they run;
 *   - for the chosen sweep: its summary, score against each hyperparameter
 *     (one panel per parameter, mean +- std over the trials with each value;
 *     numeric parameters on a linear or log axis, others as categories),
 *     the best score so far against time (trials' finished_unix), a
 *     parallel-coordinates view (an axis per parameter plus the score, a
 *     line per trial coloured by score) and the top trials.
 * Plots are inline SVG built through the DOM (the page's CSP allows no
 * inline styles or scripts).  Elements carry data-* attributes (data-sweep,
 * data-worker, data-points, data-refreshes) that tests read from the DOM.
 */
"use strict";

const REFRESH_MS = 2000;
const FETCH_TIMEOUT_MS = 6000;
const SVGNS = "http://www.w3.org/2000/svg";

const state = {
  chosen: null,        // sweep id the user clicked (sticky), or null
  shown: null,         // sweep id shown in the detail section
  refreshes: 0,
};

// --- DOM helpers ---------------------------------------------------------------

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function s(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function fmtScore(v) {
  return v === null || v === undefined || !isFinite(v) ? "\u2013" : v.toFixed(4);
}

function fmtNum(v) {
  if (v === null || v === undefined) return "\u2013";
  if (typeof v !== "number") return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5))
    return v.toExponential(2).replace(/\.?0+e/, "e");
  return String(+v.toPrecision(4));
}

function fmtDuration(sec) {
  if (sec === null || sec === undefined || !isFinite(sec) || sec < 0) return "\u2013";
  if (sec < 10) return Math.round(sec * 10) / 10 + "s";
  sec = Math.round(sec);
  if (sec < 60) return sec + "s";
  if (sec < 3600) return Math.floor(sec / 60) + "m" + String(sec % 60).padStart(2, "0") + "s";
  return Math.floor(sec / 3600) + "h" + String(Math.floor(sec / 60) % 60).padStart(2, "0") + "m";
}

async function getJSON(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const r = await fetch(url, { signal: ctl.signal, cache: "no-store" });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return await r.json();
  } finally {
    clearTimeout(timer);
  }
}

function bar(done, total, cls) {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const fill = h("div", { class: "fill " + (cls || "") });
  fill.style.width = (100 * frac).toFixed(1) + "%";   // CSSOM: allowed by the CSP
  return h("div", { class: "bar", title: done + " / " + total },
    fill, h("span", { class: "label", text: done + " / " + total }));
}

// --- sweeps and workers --------------------------------------------------------

function renderSweeps(data) {
  const tbody = document.querySelector("#sweeps tbody");
  const rows = [];
  const sweeps = data.sweeps.slice().reverse();   // newest first
  for (const sw of sweeps) {
    const tr = h("tr", { "data-sweep": sw.id, class: sw.id === state.shown ? "selected" : "" },
      h("td", { class: "num", text: sw.id }),
      h("td", { text: sw.name }),
      h("td", { text: sw.method }),
      h("td", {}, h("span", { class: "state " + sw.state, text: sw.state })),
      h("td", {}, bar(sw.tasks_done, sw.tasks_total, sw.state)),
      h("td", { class: "num", text: sw.trials_done + " / " + sw.trials_total }),
      h("td", { class: "num", text: fmtScore(sw.best_mean_test_score) }),
      h("td", { class: "num", text: sw.state === "running" ? fmtDuration(sw.eta_seconds) : "" }));
    tr.addEventListener("click", () => {
      state.chosen = sw.id;
      location.hash = "sweep=" + sw.id;
      refresh(true);
    });
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  document.getElementById("no-sweeps").hidden = rows.length > 0;
  document.getElementById("cluster").textContent =
    data.workers + " worker" + (data.workers === 1 ? "" : "s") + ", " +
    data.slots_busy + " / " + data.slots + " slots busy";
}

function renderWorkers(data) {
  const tbody = document.querySelector("#workers tbody");
  const rows = data.workers.map((w) => {
    const running = w.leases.map((l) =>
      (l.refit ? "refit" : "trial " + l.trial + " split " + l.split) +
      (l.epoch ? " ep " + l.epoch + "/" + l.epochs : "") +
      (l.sweep !== state.shown ? " (sweep " + l.sweep + ")" : "")).join(", ");
    return h("tr", { "data-worker": w.id },
      h("td", { text: w.name }),
      h("td", { text: w.host }),
      h("td", {}, h("span", { class: "state " + w.state, text: w.state })),
      h("td", { class: "num", text: w.busy + " / " + w.slots }),
      h("td", { class: "num", text: w.tasks_done }),
      h("td", { class: "num", text: w.tasks_failed }),
      h("td", { class: "num", text: w.last_seen_s.toFixed(1) + "s" }),
      h("td", { text: running || "\u2013" }));
  });
  tbody.replaceChildren(...rows);
  document.getElementById("no-workers").hidden = rows.length > 0;
}

/* The sweep to show: the one chosen (click or #sweep=ID), else the newest
 * running one, else the newest. */
function pickSweep(sweeps) {
  const ids = new Set(sweeps.map((x) => x.id));
  if (state.chosen !== null && ids.has(state.chosen)) return state.chosen;
  const live = sweeps.filter((x) => ["running", "refitting", "queued"].includes(x.state));
  if (live.length) return live[live.length - 1].id;
  return sweeps.length ? sweeps[sweeps.length - 1].id : null;
}

// --- scales and axes -----------------------------------------------------------

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= step0) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(+v.toPrecision(12));
  return out;
}

/* A scale for a parameter's values: kind "log", "linear" or "cat". */
function makeScale(values, spec, r0, r1) {
  const nums = values.filter((v) => typeof v === "number" && isFinite(v));
  const numeric = spec ? spec.numeric : nums.length === values.length;
  if (numeric && nums.length) {
    // The axis spans the search space (its grid values or its range), not
    // only the values tried so far; a grid's values are the ticks.
    const grid = spec && spec.values ? spec.values.filter((v) => typeof v === "number") : [];
    const all = nums.concat(grid);
    let lo = Math.min(...all), hi = Math.max(...all);
    if (spec && spec.min !== undefined) {
      lo = Math.min(lo, spec.min);
      hi = Math.max(hi, spec.max);
    }
    const gridTicks = grid.length >= 2 && grid.length <= 8 ? grid : null;
    const log = lo > 0 && ((spec && spec.log) || hi / lo >= 8);
    if (log) {
      const a = Math.log10(lo), b = Math.log10(hi) + (hi === lo ? 1 : 0);
      const pad = (b - a) * 0.05;
      const f = (v) => r0 + (Math.log10(v) - a + pad) / (b - a + 2 * pad) * (r1 - r0);
      let ticks = gridTicks;
      if (!ticks) {
        ticks = [];
        for (let e = Math.ceil(a - 1e-9); e <= Math.floor(b + 1e-9); e++)
          ticks.push(Math.pow(10, e));
        if (ticks.length < 2) ticks.push(lo, hi);
      }
      return { kind: "log", f, ticks, lo, hi };
    }
    if (hi === lo) { lo -= 1; hi += 1; }
    const pad = (hi - lo) * 0.05;
    const a = lo - pad, b = hi + pad;
    return { kind: "linear", f: (v) => r0 + (v - a) / (b - a) * (r1 - r0),
      ticks: gridTicks || niceTicks(lo, hi, 4), lo, hi };
  }
  // Categories: the space's order when known, else first-seen order.
  let cats = [];
  if (spec && spec.values) cats = spec.values.map(String);
  for (const v of values) if (!cats.includes(catKey(v))) cats.push(catKey(v));
  const step = (r1 - r0) / Math.max(1, cats.length);
  return { kind: "cat", cats, f: (v) => r0 + step * (cats.indexOf(catKey(v)) + 0.5), ticks: cats };
}

function catKey(v) {
  return v === null || v === undefined || v === "" ? "\u2013" : String(v);
}

function scoreScale(scores, r0, r1) {
  let lo = Math.min(...scores), hi = Math.max(...scores);
  if (!(hi > lo)) { lo -= 0.01; hi += 0.01; }
  const pad = (hi - lo) * 0.06;
  const a = lo - pad, b = hi + pad;
  return { f: (v) => r0 + (v - a) / (b - a) * (r1 - r0), ticks: niceTicks(lo, hi, 4), lo, hi };
}

/* Viridis-like colour for t in [0, 1] (1 = best). */
function colour(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t)), u = t - i;
  const c = stops[i].map((x, k) => Math.round(x + (stops[i + 1][k] - x) * u));
  return "rgb(" + c.join(",") + ")";
}

function tickLabel(v, kind) {
  if (kind === "cat") return String(v).length > 10 ? String(v).slice(0, 9) + "\u2026" : String(v);
  return fmtNum(v);
}

// --- the chosen sweep ---------------------------------------------------------

/* The parameter names, from the param_<name> columns. */
function paramNames(res) {
  return Object.keys(res.cv_results).filter((k) => k.startsWith("param_")).map((k) => k.slice(6));
}

/* The parameters the sweep varies (a constant value: is not plotted). */
function tunedParams(res) {
  const space = Object.fromEntries((res.space || []).map((p) => [p.name, p]));
  const names = paramNames(res);
  const tuned = names.filter((n) => !space[n] || space[n].distribution !== "value");
  return tuned.length ? tuned : names;
}

/* Trials as objects from the column-oriented cv_results. */
function trialsOf(res) {
  const cv = res.cv_results;
  return cv.trial.map((id, i) => ({
    id,
    params: cv.params[i],
    mean: cv.mean_test_score[i],
    std: cv.std_test_score[i],
    rank: cv.rank_test_score[i],
    fit: cv.mean_fit_time[i],
    finished: cv.finished_unix[i],
    state: cv.state[i],
  }));
}

function renderSummary(res) {
  const sw = res.sweep;
  const box = document.getElementById("sweep-summary");
  const parts = [
    h("div", {}, h("span", { class: "state " + sw.state, text: sw.state }),
      " \u00b7 " + sw.method + " on " + sw.dataset + ", " + sw.metric +
      (sw.maximize ? " (higher is better)" : " (lower is better)") + ", " + sw.folds +
      "-fold CV" + (sw.repeats > 1 ? " \u00d7 " + sw.repeats : "") + " \u00b7 " +
      sw.trials_done + " / " + sw.trials_total + " trials, " + sw.tasks_done + " / " +
      sw.tasks_total + " tasks" + (sw.state === "running" && sw.eta_seconds !== null
        ? " \u00b7 ETA " + fmtDuration(sw.eta_seconds) : "")),
  ];
  if (sw.best_trial) {
    const params = h("span", { class: "params" });
    for (const [k, v] of Object.entries(sw.best_params || {}))
      params.append(h("code", { text: k + "=" + fmtNum(v) }));
    parts.push(h("div", {}, "best: trial " + sw.best_trial + ", " + sw.metric + " " +
      fmtScore(sw.best_mean_test_score) + " \u00b1 " + fmtScore(sw.best_std_test_score) + "  ",
      params));
  }
  if (sw.refit_test_score !== null)
    parts.push(h("div", { text: "refit test " + sw.metric + ": " + fmtScore(sw.refit_test_score) +
      (sw.refit_ci95_low !== null ? " (95% CI of the accuracy " + fmtScore(sw.refit_ci95_low) +
        "\u2013" + fmtScore(sw.refit_ci95_high) + ")" : "") }));
  if (sw.error) parts.push(h("div", { class: "state failed", text: "error: " + sw.error }));
  box.replaceChildren(...parts);
}

function chart(w, ht, nPoints, label) {
  return s("svg", { class: "chart", viewBox: "0 0 " + w + " " + ht, "data-points": nPoints,
    role: "img", "aria-label": label });
}

/* One panel per parameter: score against its values. */
function renderParamPanels(res, trials) {
  const done = trials.filter((t) => t.mean !== null);
  const box = document.getElementById("plot-params");
  const names = tunedParams(res);
  const space = Object.fromEntries((res.space || []).map((p) => [p.name, p]));
  const W = 300, H = 200, L = 48, R = 10, T = 20, B = 34;
  const panels = [];
  for (const name of names) {
    const spec = space[name];
    const pts = done.map((t) => ({ x: t.params[name], y: t.mean, sd: t.std, id: t.id }))
      .filter((p) => !(spec && spec.numeric) || typeof p.x === "number");
    const svgEl = chart(W, H, pts.length, "score against " + name);
    svgEl.setAttribute("data-param", name);
    svgEl.append(s("text", { x: L, y: 13, class: "title", text: name }));
    if (!pts.length) {
      svgEl.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted",
        text: "no finished trial yet" }));
      panels.push(h("div", { class: "panel" }, svgEl));
      continue;
    }
    const xs = makeScale(pts.map((p) => p.x), spec, L + 8, W - R - 8);
    // Groups by value: mean +- std over the trials with that value (one
    // trial: its own std over the CV splits).
    const groups = new Map();
    for (const p of pts) {
      const k = xs.kind === "cat" ? catKey(p.x) : p.x;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(p);
    }
    const stats = [...groups].map(([k, grp]) => {
      const n = grp.length;
      const m = grp.reduce((a, p) => a + p.y, 0) / n;
      const sd = n > 1 ? Math.sqrt(grp.reduce((a, p) => a + (p.y - m) * (p.y - m), 0) / (n - 1))
        : (grp[0].sd || 0);
      return { k, grp, n, m, sd };
    });
    const spread = stats.flatMap((st) => [st.m - st.sd, st.m + st.sd]);
    const ys = scoreScale(pts.map((p) => p.y).concat(spread), H - B, T);
    drawAxes(svgEl, xs, ys, L, W - R, T, H - B, res.sweep.metric);
    const g = s("g", {});
    for (const p of pts)
      g.append(s("circle", { cx: xs.f(p.x), cy: ys.f(p.y), r: 2.2, fill: "#9bb4e6",
        "fill-opacity": 0.7 },
      s("title", { text: "trial " + p.id + ": " + fmtNum(p.x) + " \u2192 " + fmtScore(p.y) })));
    // Continuous parameters (random, TPE): mostly one trial per value, where
    // the dots alone say it; markers only where values repeat.
    const dense = stats.length > 12;
    for (const { k, grp, n, m, sd } of stats) {
      if (dense && n === 1) continue;
      const x = xs.kind === "cat" ? xs.f(k) : xs.f(grp[0].x);
      g.append(s("line", { x1: x, x2: x, y1: ys.f(m - sd), y2: ys.f(m + sd), stroke: "#1d2330",
        "stroke-width": 1.2 }));
      g.append(s("circle", { cx: x, cy: ys.f(m), r: 3.5, fill: "#2f6fdf", stroke: "#fff",
        "stroke-width": 0.8 },
      s("title", { text: name + "=" + (xs.kind === "cat" ? k : fmtNum(grp[0].x)) + ": mean " +
        fmtScore(m) + " \u00b1 " + fmtScore(sd) + " over " + n + " trial" + (n > 1 ? "s" : "") })));
    }
    svgEl.append(g);
    panels.push(h("div", { class: "panel" }, svgEl));
  }
  box.replaceChildren(...panels);
}

function drawAxes(svgEl, xs, ys, x0, x1, y0, y1, ylabel) {
  const grid = s("g", { class: "grid" }), axis = s("g", { class: "axis" });
  for (const t of ys.ticks) {
    const y = ys.f(t);
    grid.append(s("line", { x1: x0, x2: x1, y1: y, y2: y }));
    axis.append(s("text", { x: x0 - 4, y: y + 3.5, "text-anchor": "end", text: fmtNum(t) }));
  }
  axis.append(s("line", { x1: x0, x2: x0, y1: y0, y2: y1 }));
  axis.append(s("line", { x1: x0, x2: x1, y1: y1, y2: y1 }));
  const ticks = xs.ticks.length > 8 && xs.kind === "cat"
    ? xs.ticks.filter((_, i) => i % Math.ceil(xs.ticks.length / 8) === 0) : xs.ticks;
  for (const t of ticks) {
    const x = xs.f(t);
    if (!isFinite(x)) continue;
    axis.append(s("line", { x1: x, x2: x, y1: y1, y2: y1 + 4 }));
    axis.append(s("text", { x, y: y1 + 15, "text-anchor": "middle",
      text: xs.fmt ? xs.fmt(t) : tickLabel(t, xs.kind) }));
  }
  if (xs.kind === "log")
    axis.append(s("text", { x: x1, y: y1 + 28, "text-anchor": "end", class: "muted",
      text: "log scale" }));
  axis.append(s("text", { x: 10, y: (y0 + y1) / 2, "text-anchor": "middle",
    transform: "rotate(-90 10 " + (y0 + y1) / 2 + ")", text: ylabel }));
  svgEl.append(grid, axis);
}

/* Best score so far against the time each trial finished. */
function renderBest(res, trials) {
  const sw = res.sweep;
  const done = trials.filter((t) => t.mean !== null && t.finished !== null)
    .sort((a, b) => a.finished - b.finished);
  const W = 520, H = 260, L = 52, R = 14, T = 14, B = 36;
  const svgEl = chart(W, H, done.length, "best score so far");
  const box = document.getElementById("plot-best");
  if (!done.length) {
    svgEl.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle",
      text: "no finished trial yet" }));
    box.replaceChildren(svgEl);
    return;
  }
  const t0 = sw.started_unix || done[0].finished;
  const tEnd = Math.max(done[done.length - 1].finished, sw.finished_unix || 0, res.now_unix || 0);
  const span = Math.max(1, tEnd - t0);
  const xs = { kind: "linear", f: (v) => L + (v - t0) / span * (W - L - R),
    ticks: niceTicks(0, span, 5).map((d) => t0 + d), fmt: (v) => fmtDuration(v - t0) };
  const ys = scoreScale(done.map((t) => t.mean), H - B, T);
  drawAxes(svgEl, xs, ys, L, W - R, T, H - B, sw.metric);
  const better = (a, b) => (sw.maximize ? a > b : a < b);
  let best = null, path = "";
  for (const t of done) {
    if (best === null || better(t.mean, best)) {
      const x = xs.f(t.finished).toFixed(1);
      path += best === null ? "M" + x + "," + ys.f(t.mean).toFixed(1)
        : "H" + x + "V" + ys.f(t.mean).toFixed(1);
      best = t.mean;
    }
  }
  path += "H" + xs.f(tEnd).toFixed(1);
  const g = s("g", {});
  for (const t of done)
    g.append(s("circle", { cx: xs.f(t.finished), cy: ys.f(t.mean), r: 2.4, fill: "#9bb4e6" },
      s("title", { text: "trial " + t.id + ": " + fmtScore(t.mean) })));
  g.append(s("path", { d: path, fill: "none", stroke: "#2f6fdf", "stroke-width": 2,
    class: "best-line" }));
  svgEl.append(g);
  svgEl.append(s("text", { x: W - R, y: H - 4, "text-anchor": "end", class: "muted",
    text: "time since the sweep started" }));
  box.replaceChildren(svgEl);
}

/* Parallel coordinates: an axis per parameter plus the score. */
function renderParallel(res, trials) {
  const sw = res.sweep;
  const done = trials.filter((t) => t.mean !== null);
  const names = tunedParams(res);
  const space = Object.fromEntries((res.space || []).map((p) => [p.name, p]));
  const axes = names.concat(["score"]);
  const W = Math.max(520, 110 * axes.length), H = 280, T = 30, B = 24, L = 50, R = 50;
  const svgEl = chart(W, H, done.length, "parallel coordinates");
  const box = document.getElementById("plot-parallel");
  if (!done.length) {
    svgEl.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle",
      text: "no finished trial yet" }));
    box.replaceChildren(svgEl);
    return;
  }
  const xAt = (i) => L + (axes.length === 1 ? 0 : i * (W - L - R) / (axes.length - 1));
  const scales = names.map((n) => makeScale(done.map((t) => t.params[n]), space[n], H - B, T));
  const ss = scoreScale(done.map((t) => t.mean), H - B, T);
  scales.push({ kind: "linear", f: ss.f, ticks: ss.ticks });
  const lo = Math.min(...done.map((t) => t.mean)), hi = Math.max(...done.map((t) => t.mean));
  const goodness = (v) =>
    (hi > lo ? (sw.maximize ? (v - lo) / (hi - lo) : (hi - v) / (hi - lo)) : 1);
  // Worst first, so the best lines are drawn on top.
  const order = done.slice().sort((a, b) => goodness(a.mean) - goodness(b.mean));
  const lines = s("g", { fill: "none" });
  for (const t of order) {
    let d = "", ok = true;
    axes.forEach((a, i) => {
      const v = i < names.length ? t.params[a] : t.mean;
      const y = scales[i].kind !== "cat" && typeof v !== "number" ? NaN : scales[i].f(v);
      if (!isFinite(y)) { ok = false; return; }
      d += (d ? "L" : "M") + xAt(i).toFixed(1) + "," + y.toFixed(1);
    });
    if (!d) continue;
    lines.append(s("path", { d, stroke: colour(goodness(t.mean)),
      "stroke-width": t.id === sw.best_trial ? 3 : 1.4, "stroke-opacity": ok ? 0.85 : 0.4 },
    s("title", { text: "trial " + t.id + ": " + fmtScore(t.mean) })));
  }
  svgEl.append(lines);
  const ax = s("g", { class: "axis" });
  axes.forEach((a, i) => {
    const x = xAt(i), sc = scales[i];
    ax.append(s("line", { x1: x, x2: x, y1: T, y2: H - B }));
    ax.append(s("text", { x, y: T - 12, "text-anchor": "middle", class: "title", text: a }));
    const ticks = sc.kind === "cat" && sc.ticks.length > 10
      ? sc.ticks.filter((_, k) => k % 2 === 0) : sc.ticks;
    for (const tv of ticks) {
      const y = sc.f(tv);
      if (!isFinite(y)) continue;
      ax.append(s("line", { x1: x - 3, x2: x + 3, y1: y, y2: y }));
      ax.append(s("text", { x: x + 5, y: y + 3.5, text: tickLabel(tv, sc.kind) }));
    }
  });
  svgEl.append(ax);
  box.replaceChildren(svgEl);
}

function renderTrials(res, trials) {
  const names = paramNames(res);
  const table = document.getElementById("trials");
  table.tHead.replaceChildren(h("tr", {},
    h("th", { class: "num", text: "rank" }), h("th", { class: "num", text: "trial" }),
    ...names.map((n) => h("th", { text: n })),
    h("th", { class: "num", text: "mean" }), h("th", { class: "num", text: "std" }),
    h("th", { class: "num", text: "fit s" }), h("th", { text: "state" })));
  const ranked = trials.slice().sort((a, b) =>
    (a.rank || 1e12) - (b.rank || 1e12) || a.id - b.id).slice(0, 15);
  table.tBodies[0].replaceChildren(...ranked.map((t) => h("tr", { "data-trial": t.id },
    h("td", { class: "num", text: t.rank || "\u2013" }), h("td", { class: "num", text: t.id }),
    ...names.map((n) => h("td", { text: fmtNum(t.params[n]) })),
    h("td", { class: "num", text: fmtScore(t.mean) }),
    h("td", { class: "num", text: fmtScore(t.std) }),
    h("td", { class: "num", text: t.fit === null ? "\u2013" : t.fit.toFixed(2) }),
    h("td", { text: t.state }))));
}

function renderSweep(res) {
  const sec = document.getElementById("sweep-section");
  sec.hidden = false;
  sec.setAttribute("data-sweep", res.sweep.id);
  sec.setAttribute("data-trials-done", res.sweep.trials_done);
  document.getElementById("sweep-title").textContent =
    "Sweep " + res.sweep.id + ": " + res.sweep.name;
  const trials = trialsOf(res);
  renderSummary(res);
  renderParamPanels(res, trials);
  renderBest(res, trials);
  renderParallel(res, trials);
  renderTrials(res, trials);
}

// --- the refresh loop ------------------------------------------------------------

let timer = null;
let busy = false;

async function refresh(now) {
  if (timer) clearTimeout(timer);
  timer = null;
  if (busy) {   // a click during a refresh: try again shortly
    timer = setTimeout(refresh, now ? 100 : REFRESH_MS);
    return;
  }
  busy = true;
  const status = document.getElementById("status");
  try {
    const [sweeps, workers] = await Promise.all([getJSON("/api/sweeps"), getJSON("/api/workers")]);
    state.shown = pickSweep(sweeps.sweeps);
    renderSweeps(sweeps);
    renderWorkers(workers);
    if (state.shown !== null) renderSweep(await getJSON("/api/sweeps/" + state.shown));
    else document.getElementById("sweep-section").hidden = true;
    state.refreshes++;
    document.body.setAttribute("data-refreshes", state.refreshes);
    status.className = "status";
    status.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    status.className = "status error";
    status.textContent = "cannot reach the coordinator: " + e.message;
  } finally {
    busy = false;
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

function readHash() {
  const m = /sweep=(\d+)/.exec(location.hash);
  state.chosen = m ? parseInt(m[1], 10) : null;
}

window.addEventListener("hashchange", () => { readHash(); refresh(true); });
readHash();
refresh(true);
