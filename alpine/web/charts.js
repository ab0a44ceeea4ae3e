// Inline SVG charts built with the DOM (no innerHTML, no inline styles: CSS classes only).

import { fmtPrice } from "./format.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function frame(width, height, label) {
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(s("title", {}, label));
  return svg;
}

function scale(lo, hi, top, bottom) {
  const span = hi - lo || Math.abs(hi) || 1;
  return (value) => bottom - ((value - lo) / span) * (bottom - top);
}

/** Entry, target and stop (and exit, when closed) as levels with the reward and risk bands. */
export function levelsChart(signal) {
  const width = 360;
  const height = 200;
  const levels = [
    { key: "target", label: "Target", value: signal.target_price },
    { key: "entry", label: "Entry", value: signal.entry_price },
    { key: "stop", label: "Stop", value: signal.stop_price },
  ];
  if (typeof signal.exit_price === "number") {
    levels.push({ key: "exit", label: "Exit", value: signal.exit_price });
  }
  const values = levels.map((l) => l.value);
  const pad = (Math.max(...values) - Math.min(...values)) * 0.12 || 1;
  const y = scale(Math.min(...values) - pad, Math.max(...values) + pad, 12, height - 12);
  const left = 12;
  const right = width - 118;
  const label = levels.map((l) => `${l.label} ${fmtPrice(l.value)}`).join(", ");
  const svg = frame(width, height, `Price levels: ${label}`);
  const band = (from, to, cls) =>
    s("rect", {
      x: left,
      width: right - left,
      y: Math.min(y(from), y(to)),
      height: Math.abs(y(from) - y(to)),
      class: cls,
    });
  svg.append(band(signal.entry_price, signal.target_price, "band-reward"));
  svg.append(band(signal.entry_price, signal.stop_price, "band-risk"));
  const placed = [];
  for (const level of levels) {
    const at = y(level.value);
    svg.append(s("line", { x1: left, x2: right, y1: at, y2: at, class: `level level-${level.key}` }));
    let textY = at + 4;
    while (placed.some((p) => Math.abs(p - textY) < 13)) textY += 13; // keep labels apart
    placed.push(textY);
    svg.append(
      s("text", { x: right + 8, y: textY, class: `level-label level-${level.key}` },
        `${level.label} ${fmtPrice(level.value)}`),
    );
  }
  return svg;
}

/**
 * A line over time: points [{x: Date, y: number}], y values shown with `format`;
 * `baseline` (e.g. 0) draws a reference line when it falls inside the range; `range`
 * ([lo, hi]) widens the y axis to at least that.
 */
export function lineChart(
  points,
  { label, format, baseline = null, range = null, className = "", width = 640 },
) {
  const height = 220;
  const box = { left: 64, right: width - 16, top: 14, bottom: height - 30 };
  const svg = frame(width, height, label);
  svg.classList.add("line-chart");
  if (className) svg.classList.add(className);
  if (!points.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, class: "empty", "text-anchor": "middle" },
      "No closed signals yet"));
    return svg;
  }
  const ys = points.map((p) => p.y).concat(baseline === null ? [] : [baseline], range ?? []);
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const y = scale(lo, hi, box.top, box.bottom);
  const t0 = points[0].x.getTime();
  const t1 = points[points.length - 1].x.getTime();
  const x = (date) =>
    t1 === t0 ? (box.left + box.right) / 2
      : box.left + ((date.getTime() - t0) / (t1 - t0)) * (box.right - box.left);
  svg.append(s("line", { x1: box.left, x2: box.left, y1: box.top, y2: box.bottom, class: "axis" }));
  svg.append(s("line", { x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom, class: "axis" }));
  for (const value of new Set([lo, hi])) {
    svg.append(s("text", { x: box.left - 6, y: y(value) + 4, class: "tick", "text-anchor": "end" },
      format(value)));
  }
  if (baseline !== null && baseline > lo && baseline < hi) {
    svg.append(s("line", { x1: box.left, x2: box.right, y1: y(baseline), y2: y(baseline),
      class: "baseline" }));
    svg.append(s("text", { x: box.left - 6, y: y(baseline) + 4, class: "tick", "text-anchor": "end" },
      format(baseline)));
  }
  const day = (date) => date.toISOString().slice(0, 16).replace("T", " ");
  svg.append(s("text", { x: box.left, y: height - 10, class: "tick" }, day(points[0].x)));
  if (t1 !== t0) {
    svg.append(s("text", { x: box.right, y: height - 10, class: "tick", "text-anchor": "end" },
      day(points[points.length - 1].x)));
  }
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`);
  svg.append(s("path", { d: path.join(" "), class: "series" }));
  for (const p of points) {
    svg.append(s("circle", { cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: 2.5, class: "dot" }));
  }
  return svg;
}
