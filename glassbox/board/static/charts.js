// glassbox board: SVG line charts and sparklines drawn by hand, and number formatting (used by board.js).
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const MAX_DRAWN_POINTS = 1500; // longer series are thinned for drawing (the data is kept whole)

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  return node;
}

function fmt(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e5 || size < 1e-3)) {  // 1.230e-5 -> 1.23e-5, 1.000e-4 -> 1e-4
    return value.toExponential(3).replace(/\.?0+e/, "e").replace("e+", "e");
  }
  return String(Number(value.toPrecision(4)));
}

// ----- an SVG line chart, drawn by hand ---------------------------------------------------------------------------
function niceTicks(low, high, count) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function logTicks(low, high) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(low)); e <= Math.ceil(Math.log10(high)); e += 1) {
    const t = Math.pow(10, e);
    if (t >= low * 0.999 && t <= high * 1.001) ticks.push(t);
  }
  return ticks.length >= 2 ? ticks : [low, high];
}

function thin(points) {
  if (points.length <= MAX_DRAWN_POINTS) return points;
  const stride = Math.ceil(points.length / MAX_DRAWN_POINTS);
  const out = points.filter((_, i) => i % stride === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
  return out;
}

// series: [{label, role ('batch' | 'epoch' | 'val' | other), points: [[x, y-or-null]...]}];
// options: {xLabel, title, logX, logY, markX (an x to mark with a vertical line), markLabel}
function lineChart(series, options) {
  const width = 640, height = 260, left = 58, right = 14, top = 12, bottom = 38;
  const logX = Boolean(options.logX), logY = Boolean(options.logY);
  const usable = (v, isLog) => typeof v === "number" && Number.isFinite(v) && (!isLog || v > 0);
  const all = series.flatMap((s) => s.points).filter((p) => usable(p[0], logX) && usable(p[1], logY));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "line-chart",
    preserveAspectRatio: "xMidYMid meet" });
  const summary = series.map((s) => {
    const last = [...s.points].reverse().find((p) => p[1] !== null);
    return s.label + " " + (last ? fmt(last[1]) : "no value");
  }).join(", ");
  root.setAttribute("aria-label", (options.title || "chart") + ": " + summary);
  if (!all.length) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty",
      text: "waiting for data" }));
    return root;
  }
  const tx = logX ? Math.log10 : (v) => v, ty = logY ? Math.log10 : (v) => v;
  let x0 = Math.min(...all.map((p) => tx(p[0]))), x1 = Math.max(...all.map((p) => tx(p[0])));
  let y0 = Math.min(...all.map((p) => ty(p[1]))), y1 = Math.max(...all.map((p) => ty(p[1])));
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  if (y1 === y0) { const pad = Math.abs(y0) * 0.1 || 0.5; y0 -= pad; y1 += pad; }
  const padY = (y1 - y0) * 0.05;
  y0 -= padY; y1 += padY;
  const sx = (v) => left + (tx(v) - x0) / (x1 - x0) * (width - left - right);
  const sy = (v) => top + (1 - (ty(v) - y0) / (y1 - y0)) * (height - top - bottom);

  const axes = svg("g", { class: "axes" });
  const xTicks = logX ? logTicks(Math.pow(10, x0), Math.pow(10, x1)) : niceTicks(x0, x1, 6);
  const yTicks = logY ? logTicks(Math.pow(10, y0), Math.pow(10, y1)) : niceTicks(y0, y1, 5);
  for (const t of yTicks) {
    const y = sy(t);
    axes.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
    axes.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", text: fmt(t) }));
  }
  for (const t of xTicks) {
    const x = sx(t);
    axes.append(svg("line", { x1: x, x2: x, y1: height - bottom, y2: height - bottom + 4, class: "tick" }));
    axes.append(svg("text", { x, y: height - bottom + 16, "text-anchor": "middle", text: fmt(t) }));
  }
  axes.append(svg("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom, class: "axis" }));
  axes.append(svg("line", { x1: left, x2: left, y1: top, y2: height - bottom, class: "axis" }));
  axes.append(svg("text", { x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle",
    class: "axis-label", text: options.xLabel || "" }));
  root.append(axes);

  if (options.markX !== undefined && usable(options.markX, logX)) {
    const x = sx(options.markX);
    root.append(svg("line", { x1: x, x2: x, y1: top, y2: height - bottom, class: "mark" }));
    root.append(svg("text", { x: x + 4, y: top + 12, class: "mark-label", text: options.markLabel || "" }));
  }
  series.forEach((s, index) => {
    const drawn = thin(s.points);
    let d = "", pen = false, count = 0;
    for (const [x, y] of drawn) {
      if (!usable(x, logX) || !usable(y, logY)) { pen = false; continue; }  // a gap where the value is missing
      d += (pen ? "L" : "M") + sx(x).toFixed(1) + " " + sy(y).toFixed(1);
      pen = true;
      count += 1;
    }
    const group = svg("g", { class: "series role-" + s.role + " series-" + index });
    const path = svg("path", { d: d || "M0 0", class: "line", "data-series": s.label, "data-points": count });
    path.append(svg("title", { text: s.label }));
    group.append(path);
    if (s.role !== "batch" && drawn.length <= 200) {  // dots for epoch values, where there are few of them
      for (const [x, y] of drawn) {
        if (!usable(x, logX) || !usable(y, logY)) continue;
        const dot = svg("circle", { cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: 3, class: "dot" });
        dot.append(svg("title", { text: `${s.label} at ${fmt(x)}: ${fmt(y)}` }));
        group.append(dot);
      }
    }
    root.append(group);
  });
  return root;
}

function sparkline(values) {
  const points = (values || []).map((v, i) => [i, v]).filter((p) => typeof p[1] === "number");
  const root = svg("svg", { viewBox: "0 0 100 24", class: "sparkline", "aria-hidden": "true" });
  if (points.length < 2) return root;
  const ys = points.map((p) => p[1]);
  const low = Math.min(...ys), high = Math.max(...ys);
  const last = points[points.length - 1][0] || 1;
  const d = points.map(([i, v], k) => (k ? "L" : "M") + (i / last * 98 + 1).toFixed(1) + " " +
    (high > low ? 22 - (v - low) / (high - low) * 20 : 12).toFixed(1)).join("");
  root.append(svg("path", { d }));
  return root;
}
