// glassbox board: the page's logic. Plain JavaScript, no libraries. It polls the board's JSON API (server.py) and
// draws everything itself: charts as inline SVG (charts.js, loaded first), tables, the backprop step-through.
"use strict";

const RUNS_EVERY_MS = 3000;   // the run list and the selected run's file list
const LIVE_EVERY_MS = 1000;   // live.jsonl while a run is running
const IDLE_EVERY_MS = 5000;   // live.jsonl of a finished run (it notices when the run is started again)
const IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".gif"];
const TABS = ["curves", "images", "diagnostics", "graph", "backprop", "lr"];
// Keys of live events that are bookkeeping, not curves.
const NOT_CURVES = new Set(["event", "time", "epoch", "batch", "step", "seconds"]);

const state = {
  runs: [],
  selected: null,      // name of the selected run
  generation: 0,       // bumped when the selection changes: answers for an older selection are dropped
  files: {},           // name -> {size, modified} of the selected run
  tab: "curves",
  live: null,          // see newLive()
  history: null,       // history.csv columns, when the run has no live.jsonl
  steps: [],
  stepIndex: 0,
  loaded: {},          // file name -> modified time at which its view was last built
  liveTimer: null,
};

// ----- small helpers ---------------------------------------------------------------------------------------------
function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function runUrl(name) { return "/api/runs/" + encodeURIComponent(name); }
function fileUrl(name, file) {
  const info = state.files[file];
  const version = info ? "?v=" + info.modified : "";
  return "/runs/" + encodeURIComponent(name) + "/files/" + encodeURIComponent(file) + version;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (error) { /* not JSON: keep the status */ }
    throw new Error(message);
  }
  return response.json();
}

function ago(seconds) {
  const delta = Math.max(0, Date.now() / 1000 - seconds);
  if (delta < 60) return Math.round(delta) + " s ago";
  if (delta < 3600) return Math.round(delta / 60) + " min ago";
  if (delta < 86400) return Math.round(delta / 3600) + " h ago";
  return new Date(seconds * 1000).toLocaleDateString();
}

const WARNING_NAMES = { vanishing_gradients: "Vanishing gradients", exploding_gradients: "Exploding gradients",
  dead_relus: "Dead ReLUs", saturation: "Saturation", lr_too_high: "Learning rate too high",
  overfitting: "Overfitting", loss_not_finite: "Loss is not finite" };

function humanize(text) {
  return String(text).replace(/\.[a-z0-9]+$/i, "").replace(/[_-]+/g, " ");
}

function setConnection(message) { $("connection").textContent = message; }

// ----- the run list ----------------------------------------------------------------------------------------------
async function refreshRuns() {
  try {
    state.runs = await getJSON("/api/runs");
    setConnection("");
  } catch (error) {
    setConnection("Cannot reach the board server (" + error.message + "); retrying.");
    return;
  }
  renderRuns();
  if (state.selected) {
    const run = state.runs.find((r) => r.name === state.selected);
    if (run) await refreshSelected(run);
  } else if (state.runs.length && !location.hash) {
    selectRun(state.runs[0].name);
  }
}

function renderRuns() {
  const list = $("runs");
  $("runs-empty").hidden = state.runs.length > 0;
  list.replaceChildren(...state.runs.map((run) => {
    const button = el("button", { type: "button", "aria-current": run.name === state.selected ? "true" : null },
      el("span", { className: "run-name", text: run.name }),
      el("span", { className: "status status-" + run.status, text: run.status }),
      el("span", { className: "run-time muted", text: ago(run.modified) }));
    button.addEventListener("click", () => selectRun(run.name));
    return el("li", { className: "run-item" + (run.name === state.selected ? " selected" : ""),
      "data-name": run.name, "data-status": run.status }, button);
  }));
}

function selectRun(name, tab) {
  if (state.selected === name && !tab) return;
  const changed = state.selected !== name;
  state.selected = name;
  if (changed) {
    state.generation += 1;
    state.files = {};
    state.loaded = {};
    state.live = null;
    state.history = null;
    state.steps = [];
    state.stepIndex = 0;
    for (const id of ["curves", "images", "diagnostics", "graph", "graph-links", "backprop", "lr-finder",
      "run-metrics"]) $(id).replaceChildren();
    clearTimeout(state.liveTimer);
  }
  $("run-title").textContent = name;
  $("tabs").hidden = false;
  showTab(tab || (changed ? "curves" : state.tab));
  renderRuns();
  const run = state.runs.find((r) => r.name === name);
  if (run && changed) refreshSelected(run);
}

function updateHash() {
  if (!state.selected) return;
  const hash = "#run=" + encodeURIComponent(state.selected) + "&tab=" + state.tab;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

// ----- the selected run: files and what depends on them -----------------------------------------------------------
async function refreshSelected(run) {
  const generation = state.generation;
  let files;
  try {
    files = await getJSON(runUrl(run.name) + "/files");
  } catch (error) {
    $("run-status").textContent = "Cannot list the run's files: " + error.message;
    return;
  }
  if (generation !== state.generation) return;
  state.files = Object.fromEntries(files.map((f) => [f.name, f]));
  const described = { running: "Running — updates every second", finished: "Finished",
    unknown: "Not running (no end mark: interrupted, or still starting)" };
  $("run-status").textContent = described[run.status] || run.status;
  updateTabs();
  const jobs = [];
  if (state.files["live.jsonl"]) {
    if (!state.live) { state.live = newLive(); jobs.push(pollLive(generation)); }
  } else if (changedFile("history.csv")) jobs.push(loadHistory(generation));
  if (changedFile("metrics.json")) jobs.push(loadMetrics(generation));
  if (changedFile("diagnostics.json")) jobs.push(loadDiagnostics(generation));
  if (changedFile("backprop_steps.json")) jobs.push(loadBackprop(generation));
  if (changedFile("lr_finder.json")) jobs.push(loadLrFinder(generation));
  if (changedFile("graph.svg") || changedFile("graph.html")) jobs.push(loadGraph(generation));
  renderImages();
  await Promise.all(jobs);
}

function changedFile(name) {
  const info = state.files[name];
  if (!info || state.loaded[name] === info.modified) return false;
  state.loaded[name] = info.modified;
  return true;
}

function updateTabs() {
  const has = (name) => Boolean(state.files[name]);
  const available = {
    curves: true,
    images: Object.keys(state.files).some((f) => IMAGE_TYPES.some((ext) => f.toLowerCase().endsWith(ext))),
    diagnostics: has("diagnostics.json"),
    graph: has("graph.svg") || has("graph.html") || has("graph.txt"),
    backprop: has("backprop_steps.json"),
    lr: has("lr_finder.json"),
  };
  for (const name of TABS) $("tab-" + name).hidden = !available[name];
  if (!available[state.tab]) showTab("curves");
}

function showTab(name) {
  state.tab = TABS.includes(name) ? name : "curves";
  for (const tab of TABS) {
    const selected = tab === state.tab;
    const button = $("tab-" + tab);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $("panel-" + tab).hidden = !selected;
  }
  updateHash();
}

// ----- live curves -----------------------------------------------------------------------------------------------
function newLive() {
  return { offset: 0, begin: null, ended: false, series: new Map(), lastEvent: null };
}

function addPoint(live, kind, key, x, y) {
  const id = kind + ":" + key;
  if (!live.series.has(id)) live.series.set(id, { kind, key, points: [] });
  live.series.get(id).points.push([x, y]);
}

function applyEvent(live, event) {
  live.lastEvent = event;
  if (event.event === "begin") {
    live.series = new Map();
    live.begin = event;
    live.ended = false;
  } else if (event.event === "batch") {
    const steps = (live.begin && live.begin.steps_per_epoch) || 1;
    const x = event.epoch + (event.batch + 1) / steps;
    for (const [key, value] of Object.entries(event)) {
      if (!NOT_CURVES.has(key) && (typeof value === "number" || value === null)) addPoint(live, "batch", key, x, value);
    }
  } else if (event.event === "epoch") {
    for (const [key, value] of Object.entries(event)) {
      if (!NOT_CURVES.has(key) && (typeof value === "number" || value === null)) {
        addPoint(live, "epoch", key, event.epoch + 1, value);
      }
    }
  } else if (event.event === "end") {
    live.ended = true;
  }
}

async function pollLive(generation) {
  clearTimeout(state.liveTimer);
  if (generation !== state.generation || !state.live) return;
  const live = state.live;
  let changed = false;
  try {
    for (let round = 0; round < 20; round += 1) {  // `more`: a long file arrives in a few chunks
      const answer = await getJSON(runUrl(state.selected) + "/live?since=" + live.offset);
      if (generation !== state.generation) return;
      if (answer.reset) { Object.assign(live, newLive()); changed = true; }
      for (const event of answer.events) applyEvent(live, event);
      changed = changed || answer.events.length > 0;
      live.offset = answer.offset;
      if (!answer.more) break;
    }
  } catch (error) {
    $("run-status").textContent = "Cannot read live.jsonl: " + error.message;
  }
  if (changed) renderCurves();
  const run = state.runs.find((r) => r.name === state.selected);
  const running = !live.ended || (run && run.status === "running");
  state.liveTimer = setTimeout(() => pollLive(generation), running ? LIVE_EVERY_MS : IDLE_EVERY_MS);
}

async function loadHistory(generation) {
  try {
    const columns = await getJSON(runUrl(state.selected) + "/history");
    if (generation !== state.generation) return;
    state.history = columns;
    renderCurves();
  } catch (error) {
    $("curves").replaceChildren(el("p", { className: "error", text: "history.csv: " + error.message }));
  }
}

// Series grouped into charts: 'loss' holds the batch loss, the epoch loss and val_loss; 'accuracy' its pair...
function chartGroups() {
  const groups = new Map();
  const add = (group, series) => {
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(series);
  };
  let xLabel = "epoch";
  if (state.live && state.live.series.size) {
    for (const s of state.live.series.values()) {
      const validation = s.key.startsWith("val_");
      const group = validation ? s.key.slice(4) : s.key;
      const role = s.kind === "batch" ? "batch" : validation ? "val" : "epoch";
      const label = s.kind === "batch" ? s.key + " (batch)" : validation || s.key === "lr" ? s.key : s.key + " (epoch)";
      add(group, { label, role, points: s.points });
    }
  } else if (state.history) {
    const keys = Object.keys(state.history);
    if (!keys.length) return { groups, xLabel };
    xLabel = keys[0];
    const xs = state.history[keys[0]];
    for (const key of keys.slice(1)) {
      const points = xs.map((x, i) => [x, state.history[key][i]]).filter((p) => typeof p[0] === "number" &&
        (typeof p[1] === "number" || p[1] === null));
      if (!points.some((p) => p[1] !== null)) continue;
      const validation = key.startsWith("val_");
      add(validation ? key.slice(4) : key, { label: key, role: validation ? "val" : "epoch", points });
    }
  }
  return { groups, xLabel };
}

function groupOrder(name) {
  if (name === "loss") return "0";
  if (name.includes("loss")) return "1" + name;
  if (name === "lr") return "9";
  return "5" + name;
}

function renderCurves() {
  const box = $("curves");
  const { groups, xLabel } = chartGroups();
  if (!groups.size) {
    box.replaceChildren(el("p", { className: "muted", text: state.live ? "Waiting for the first batch…" :
      "This run has no live.jsonl or history.csv to draw." }));
    return;
  }
  const names = [...groups.keys()].sort((a, b) => groupOrder(a).localeCompare(groupOrder(b)));
  const charts = names.map((name) => {
    const series = groups.get(name).sort((a, b) => ["batch", "epoch", "val"].indexOf(a.role) -
      ["batch", "epoch", "val"].indexOf(b.role));
    const figure = el("figure", { className: "chart", id: "curve-" + name.replace(/[^a-zA-Z0-9_-]/g, "_") });
    figure.append(el("figcaption", { text: name === "lr" ? "learning rate" : name }));
    figure.append(lineChart(series, { xLabel, title: name, logY: name === "lr" && spansDecades(series) }));
    figure.append(legend(series));
    return figure;
  });
  box.replaceChildren(...charts);
}

// A log scale for the learning rate only when it is positive and changes by more than 20x (a decaying schedule).
function spansDecades(series) {
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v !== null);
  return values.length > 0 && values.every((v) => v > 0) && Math.max(...values) > 20 * Math.min(...values);
}

function legend(series) {
  return el("ul", { className: "legend" }, ...series.map((s) => {
    const last = [...s.points].reverse().find((p) => p[1] !== null);
    return el("li", { className: "role-" + s.role },
      el("span", { className: "swatch", "aria-hidden": "true" }),
      s.label + ": " + (last ? fmt(last[1]) : "—"));
  }));
}

// ----- metrics, images -------------------------------------------------------------------------------------------
async function loadMetrics(generation) {
  try {
    const metrics = await getJSON(runUrl(state.selected) + "/metrics");
    if (generation !== state.generation) return;
    const items = Object.entries(metrics).filter(([, v]) => typeof v === "number" || typeof v === "string");
    $("run-metrics").replaceChildren(...items.flatMap(([key, value]) =>
      [el("dt", { text: humanize(key) }), el("dd", { text: fmt(value) })]));
  } catch (error) {
    $("run-metrics").replaceChildren(el("dt", { text: "metrics.json" }), el("dd", { text: error.message }));
  }
}

function renderImages() {
  const names = Object.keys(state.files).filter((f) => IMAGE_TYPES.some((ext) => f.toLowerCase().endsWith(ext)));
  const signature = names.map((n) => n + "@" + state.files[n].modified).join("|");
  const box = $("images");
  if (box.dataset.signature === signature) return;  // nothing new: keep the pictures (no flicker)
  box.dataset.signature = signature;
  if (!names.length) {
    box.replaceChildren(el("p", { className: "muted", text: "This run has no pictures yet." }));
    return;
  }
  box.replaceChildren(...names.map((name) => {
    const caption = humanize(name);
    const url = fileUrl(state.selected, name);
    return el("figure", { className: "image" },
      el("a", { href: url, target: "_blank", rel: "noopener", title: "Open " + name + " at full size" },
        el("img", { src: url, alt: caption, loading: "lazy" })),
      el("figcaption", {}, el("span", { text: caption }), " ", el("code", { text: name })));
  }));
}

// ----- diagnostics -----------------------------------------------------------------------------------------------
function lastValue(list) {
  if (!Array.isArray(list)) return null;
  for (let i = list.length - 1; i >= 0; i -= 1) if (list[i] !== null && list[i] !== undefined) return list[i];
  return null;
}

function percent(value) { return value === null ? "—" : fmt(value * 100) + " %"; }

async function loadDiagnostics(generation) {
  const box = $("diagnostics");
  let data;
  try {
    data = await getJSON(runUrl(state.selected) + "/diagnostics");
  } catch (error) {
    box.replaceChildren(el("p", { className: "error", text: "diagnostics.json: " + error.message }));
    return;
  }
  if (generation !== state.generation) return;
  const warnings = data.warnings || [];
  const parts = [el("h3", { text: "Warnings" })];
  if (!warnings.length) {
    parts.push(el("p", { className: "ok", text: "No warnings: gradients, activations and the loss look healthy." }));
  } else {
    parts.push(el("ul", { className: "warnings" }, ...warnings.map((w) => {
      const where = [w.epoch !== undefined && w.epoch !== null ? "epoch " + (w.epoch + 1) : null,
        w.step !== undefined && w.step !== null ? "step " + w.step : null,
        w.layer ? "layer " + w.layer : null].filter(Boolean).join(", ");
      return el("li", { className: "warning kind-" + w.kind },
        el("strong", { className: "kind", text: WARNING_NAMES[w.kind] || humanize(w.kind) }), " ",
        el("span", { className: "where muted", text: where }),
        el("p", { className: "message", text: w.message || "" }),
        w.evidence ? el("p", { className: "evidence", text: "Evidence: " + w.evidence }) : null);
    })));
  }
  const layers = data.layers || [];
  const steps = data.steps || [];
  parts.push(el("h3", { text: "Layers" + (steps.length ? " (last sample at step " + steps[steps.length - 1] + ")" : "") }));
  if (layers.length) {
    const head = el("tr", {}, ...["Layer", "Type", "Activation mean", "Activation std", "Dead (ReLU)", "Saturated",
      "Gradient norm", "Update / weight", "Gradient norm over time"].map((t) => el("th", { scope: "col", text: t })));
    const rows = layers.map((layer) => {
      const a = layer.activation || {};
      return el("tr", {},
        el("th", { scope: "row", text: layer.name }), el("td", { text: layer.type || "" }),
        el("td", { text: fmt(lastValue(a.mean)) }), el("td", { text: fmt(lastValue(a.std)) }),
        el("td", { text: percent(lastValue(a.dead_fraction)) }),
        el("td", { text: percent(lastValue(a.saturated_fraction)) }),
        el("td", { text: fmt(lastValue(layer.grad_norm)) }), el("td", { text: fmt(lastValue(layer.update_ratio)) }),
        el("td", {}, sparkline(layer.grad_norm)));
    });
    parts.push(el("div", { className: "table-scroll" },
      el("table", { className: "layers" }, el("thead", {}, head), el("tbody", {}, ...rows))));
  } else {
    parts.push(el("p", { className: "muted", text: "No layer statistics recorded yet." }));
  }
  box.replaceChildren(...parts);
}

// ----- graph -----------------------------------------------------------------------------------------------------
// The SVG is put into the page, so anything that could run code in it is removed first.
function cleanSvg(text) {
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = parsed.documentElement;
  if (!root || root.nodeName.toLowerCase() !== "svg" || parsed.getElementsByTagName("parsererror").length) return null;
  for (const bad of [...root.querySelectorAll("script, foreignObject, iframe, object, embed")]) bad.remove();
  for (const node of [root, ...root.querySelectorAll("*")]) {
    for (const attribute of [...node.attributes]) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.trim().toLowerCase();
      if (name.startsWith("on") || ((name === "href" || name.endsWith(":href")) && value.startsWith("javascript:"))) {
        node.removeAttribute(attribute.name);
      }
    }
  }
  return document.importNode(root, true);
}

async function loadGraph(generation) {
  const links = [];
  for (const [file, text] of [["graph.html", "interactive graph"], ["graph.svg", "graph as SVG"],
    ["graph.txt", "graph as text"], ["graph.json", "graph as JSON"]]) {
    if (state.files[file]) {
      if (links.length) links.push(" · ");
      links.push(el("a", { href: fileUrl(state.selected, file), target: "_blank", rel: "noopener", text }));
    }
  }
  $("graph-links").replaceChildren(...(links.length ? ["Open the ", ...links] : []));
  const box = $("graph");
  if (!state.files["graph.svg"]) {
    box.replaceChildren(el("p", { className: "muted", text: "No graph.svg in this run." }));
    return;
  }
  try {
    const response = await fetch(fileUrl(state.selected, "graph.svg"), { cache: "no-store" });
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    const text = await response.text();
    if (generation !== state.generation) return;
    const picture = cleanSvg(text);
    box.replaceChildren(picture || el("p", { className: "error", text: "graph.svg is not a valid SVG picture." }));
  } catch (error) {
    box.replaceChildren(el("p", { className: "error", text: "graph.svg: " + error.message }));
  }
}

// ----- LR finder -------------------------------------------------------------------------------------------------
async function loadLrFinder(generation) {
  const box = $("lr-finder");
  try {
    const data = await getJSON(runUrl(state.selected) + "/lr_finder");
    if (generation !== state.generation) return;
    const lrs = data.lrs || [];
    const series = [{ label: "loss", role: "batch", points: lrs.map((lr, i) => [lr, (data.losses || [])[i]]) }];
    if (data.smoothed) series.push({ label: "smoothed loss", role: "epoch",
      points: lrs.map((lr, i) => [lr, data.smoothed[i]]) });
    const suggested = data.suggested_lr;
    const figure = el("figure", { className: "chart", id: "curve-lr-finder" },
      el("figcaption", { text: "loss against learning rate (log scale)" }),
      lineChart(series, { xLabel: "learning rate", title: "LR finder", logX: true, markX: suggested,
        markLabel: suggested ? "suggested " + fmt(suggested) : "" }),
      legend(series));
    box.replaceChildren(
      el("p", { className: "suggestion" }, "Suggested learning rate: ", el("strong", { text: fmt(suggested) })),
      data.reason ? el("p", { className: "reason", text: data.reason }) : null, figure);
  } catch (error) {
    box.replaceChildren(el("p", { className: "error", text: "lr_finder.json: " + error.message }));
  }
}

// ----- wiring ----------------------------------------------------------------------------------------------------
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { run: params.get("run"), tab: params.get("tab") };
}

function setUp() {
  for (const name of TABS) $("tab-" + name).addEventListener("click", () => showTab(name));
  $("tabs").addEventListener("keydown", (event) => {  // arrow keys move between tabs (the WAI-ARIA tabs pattern)
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const visible = TABS.filter((t) => !$("tab-" + t).hidden);
    const next = visible[(visible.indexOf(state.tab) + (event.key === "ArrowRight" ? 1 : visible.length - 1)) %
      visible.length];
    showTab(next);
    $("tab-" + next).focus();
  });
  $("step-first").addEventListener("click", () => goToStep(0));
  $("step-prev").addEventListener("click", () => goToStep(state.stepIndex - 1));
  $("step-next").addEventListener("click", () => goToStep(state.stepIndex + 1));
  $("step-last").addEventListener("click", () => goToStep(state.steps.length - 1));
  $("step-slider").addEventListener("input", (event) => goToStep(Number(event.target.value)));
  document.addEventListener("keydown", (event) => {
    if (state.tab !== "backprop" || event.target.closest("input, textarea, [role=tablist]")) return;
    if (event.key === "ArrowRight") goToStep(state.stepIndex + 1);
    else if (event.key === "ArrowLeft") goToStep(state.stepIndex - 1);
  });
  const wanted = readHash();
  if (wanted.run) selectRun(wanted.run, wanted.tab || "curves");
  refreshRuns();
  setInterval(refreshRuns, RUNS_EVERY_MS);
  renderStep();
}

document.addEventListener("DOMContentLoaded", setUp);
