// A small inline-SVG chart of an issue's rate (posts per hour) over time, with its baseline.

import { formatNumber, t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 360;
const HEIGHT = 120;
const PAD = { left: 8, right: 8, top: 18, bottom: 18 };

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

/**
 * The points the page knows for an issue, oldest first: each signal's window (its count over its
 * width), the rates this page saw while open, and the issue's current rate. With a single point
 * the baseline before the issue opened is the start.
 */
export function ratePoints(issue, seen = []) {
  const points = [];
  for (const facet of issue.facets || []) {
    const count = facet.numbers && facet.numbers.count;
    const width = facet.numbers && facet.numbers.window_seconds;
    if (count > 0 && width > 0) points.push({ at: Date.parse(facet.window_end), rate: (count * 3600) / width });
  }
  points.push(...seen);
  points.push({ at: Date.parse(issue.last_activity), rate: issue.rate_per_hour });
  points.sort((a, b) => a.at - b.at);
  if (points.length === 1) points.unshift({ at: Date.parse(issue.opened_at), rate: issue.baseline_per_hour });
  return points.filter((p) => Number.isFinite(p.at) && Number.isFinite(p.rate));
}

export function rateChart(issue, seen = []) {
  const points = ratePoints(issue, seen);
  const baseline = issue.baseline_per_hour || 0;
  const top = Math.max(baseline, ...points.map((p) => p.rate), 1) * 1.1;
  const first = points[0].at;
  const span = Math.max(points[points.length - 1].at - first, 1);
  const x = (at) => PAD.left + ((at - first) / span) * (WIDTH - PAD.left - PAD.right);
  const y = (rate) => HEIGHT - PAD.bottom - (rate / top) * (HEIGHT - PAD.top - PAD.bottom);

  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img" });
  const now = points[points.length - 1].rate;
  chart.append(svg("title", {}, `${t("chart.title")}: ${t("chart.now", { value: formatNumber(now, 1) })}`));
  chart.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0), class: "axis" }));
  chart.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(baseline), y2: y(baseline), class: "baseline" }));
  chart.append(svg("text", { x: PAD.left, y: y(baseline) - 4, class: "label" }, t("chart.baseline", { value: formatNumber(baseline, 1) })));
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(p.at).toFixed(1)},${y(p.rate).toFixed(1)}`).join(" ");
  const area = `${path} L${x(points[points.length - 1].at).toFixed(1)},${y(0)} L${x(first).toFixed(1)},${y(0)} Z`;
  chart.append(svg("path", { d: area, class: "area" }));
  chart.append(svg("path", { d: path, class: "rate" }));
  for (const p of points) chart.append(svg("circle", { cx: x(p.at), cy: y(p.rate), r: 2.5, class: "point" }));
  const last = points[points.length - 1];
  chart.append(svg("text", { x: WIDTH - PAD.right, y: PAD.top - 6, class: "label end" }, t("chart.now", { value: formatNumber(last.rate, 1) })));
  const time = (at) => new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  chart.append(svg("text", { x: PAD.left, y: HEIGHT - 4, class: "label" }, time(first)));
  chart.append(svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 4, class: "label end" }, time(last.at)));
  return chart;
}
