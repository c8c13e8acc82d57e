/*
 * app.js: the hptune dashboard.  Every REFRESH_MS it fetches /api/sweeps and
 * /api/workers, and /api/sweeps/ID for the chosen sweep (the one clicked, or
 * else the newest running one, or else the newest), and redraws:
 *   - the sweeps with progress bars, the workers with what they run;
 *   - for the chosen sweep: its summary, its plots and the top trials.
 * The plots are not drawn here: the coordinator renders them as SVG with
 * the module `hptune report` uses (common/plots.c), lists them at
 * /api/sweeps/ID/plots and serves each at its url, which changes only when
 * the plot is redrawn; this page shows each as an <img> (so the page's CSP,
 * which allows no inline styles, does not apply inside it), with its
 * caption, and swaps an image only when its url changes.  Elements carry
 * data-* attributes (data-sweep, data-worker, data-plot, data-param,
 * data-points, data-refreshes) that tests read from the DOM.
 */
"use strict";

const REFRESH_MS = 2000;
const FETCH_TIMEOUT_MS = 6000;

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

// --- the chosen sweep ---------------------------------------------------------

/* The parameter names, from the param_<name> columns. */
function paramNames(res) {
  return Object.keys(res.cv_results).filter((k) => k.startsWith("param_")).map((k) => k.slice(6));
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
  if (sw.race) parts.push(h("div", { class: "race", text: "race: " + sw.race.summary }));
  if (sw.error) parts.push(h("div", { class: "state failed", text: "error: " + sw.error }));
  box.replaceChildren(...parts);
}

// --- plots (rendered by the coordinator) ----------------------------------------

/* Where each kind of plot goes. */
const PLOT_BOX = { param: "plot-params", progress: "plot-best", parallel: "plot-parallel",
  race: "plot-race" };

/* Show the plots of index (GET /api/sweeps/ID/plots) in their boxes: one
 * figure per plot, kept across refreshes, its image reloaded only when its
 * url changed (the coordinator redrew it). */
function renderPlots(index) {
  const figs = { "plot-params": [], "plot-best": [], "plot-parallel": [], "plot-race": [] };
  for (const pl of index.plots) {
    const boxId = PLOT_BOX[pl.kind];
    if (!boxId) continue;
    const box = document.getElementById(boxId);
    let fig = [...box.children].find((e) => e.getAttribute("data-plot") === pl.name);
    if (!fig) {
      const img = h("img", { alt: pl.title, decoding: "async" });
      fig = h("figure", { class: pl.kind === "param" ? "panel" : "plot-figure",
        "data-plot": pl.name },
        h("a", { href: pl.url, target: "_blank", rel: "noopener", title: "open the SVG" }, img),
        h("figcaption", {}));
    }
    const img = fig.querySelector("img");
    if (img.getAttribute("src") !== pl.url) {
      img.setAttribute("src", pl.url);
      fig.querySelector("a").setAttribute("href", pl.url);
    }
    img.setAttribute("alt", pl.title);
    fig.setAttribute("data-param", pl.param === null ? "" : pl.param);
    fig.setAttribute("data-points", pl.points);
    fig.setAttribute("data-drawn", pl.drawn);
    fig.querySelector("figcaption").textContent = pl.caption;
    figs[boxId].push(fig);
  }
  for (const [boxId, list] of Object.entries(figs))
    document.getElementById(boxId).replaceChildren(...list);
  document.getElementById("race-box").hidden = figs["plot-race"].length === 0;
  const note = document.getElementById("plot-note");
  note.textContent = index.note || "";
  note.hidden = !index.note;
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

function renderSweep(res, plots) {
  const sec = document.getElementById("sweep-section");
  sec.hidden = false;
  sec.setAttribute("data-sweep", res.sweep.id);
  sec.setAttribute("data-trials-done", res.sweep.trials_done);
  document.getElementById("sweep-title").textContent =
    "Sweep " + res.sweep.id + ": " + res.sweep.name;
  const trials = trialsOf(res);
  renderSummary(res);
  renderPlots(plots);
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
    if (state.shown !== null) {
      const [res, plots] = await Promise.all([getJSON("/api/sweeps/" + state.shown),
        getJSON("/api/sweeps/" + state.shown + "/plots")]);
      renderSweep(res, plots);
    } else document.getElementById("sweep-section").hidden = true;
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
