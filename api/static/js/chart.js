// A small inline-SVG chart of an issue's rate (posts per hour) over time, with its baseline: from its
// stored timeline (GET issues/{id}/timeline) when there is one, else estimated from what the page knows.

import { formatDuration, formatNumber, t } from "./i18n.js";

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

/**
 * The issue's timeline as rates: each bucket's posts per hour (posts × 3600 / bucket width), at the
 * bucket's start, so the line reads on the same scale as the baseline and the issue's own rate.
 * Empty when there is no timeline or it holds no posts.
 */
export function timelinePoints(timeline) {
  if (!timeline || !(timeline.bucket_seconds > 0) || !Array.isArray(timeline.points)) return [];
  const perHour = 3600 / timeline.bucket_seconds;
  const points = timeline.points.map((p) => ({ at: Date.parse(p.at), rate: p.posts * perHour }));
  return points.every((p) => Number.isFinite(p.at) && Number.isFinite(p.rate)) ? points : [];
}

/**
 * The chart: from the timeline when it has points (its svg says data-source="timeline", with the
 * bucket width and point count), else from ratePoints (data-source="estimate").
 */
export function rateChart(issue, seen = [], timeline = null) {
  const stored = timelinePoints(timeline);
  const fromTimeline = stored.length > 0;
  const points = fromTimeline ? [...stored] : ratePoints(issue, seen);
  // A lone bucket still needs a width to draw: it spans its own bucket.
  if (fromTimeline && points.length === 1) points.push({ at: points[0].at + timeline.bucket_seconds * 1000, rate: points[0].rate });
  const baseline = issue.baseline_per_hour || 0;
  const top = Math.max(baseline, ...points.map((p) => p.rate), 1) * 1.1;
  const first = points[0].at;
  const span = Math.max(points[points.length - 1].at - first, 1);
  const x = (at) => PAD.left + ((at - first) / span) * (WIDTH - PAD.left - PAD.right);
  const y = (rate) => HEIGHT - PAD.bottom - (rate / top) * (HEIGHT - PAD.top - PAD.bottom);

  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart",
    role: "img",
    "data-source": fromTimeline ? "timeline" : "estimate",
    "data-points": fromTimeline ? stored.length : points.length,
  });
  if (fromTimeline) chart.setAttribute("data-bucket-seconds", timeline.bucket_seconds);
  // The last bucket is still filling: "now" is the issue's own current rate, not that bucket's.
  const now = fromTimeline ? issue.rate_per_hour : points[points.length - 1].rate;
  chart.append(svg("title", {}, `${t("chart.title")}: ${t("chart.now", { value: formatNumber(now, 1) })}`));
  chart.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0), class: "axis" }));
  chart.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(baseline), y2: y(baseline), class: "baseline" }));
  chart.append(svg("text", { x: PAD.left, y: y(baseline) - 4, class: "label" }, t("chart.baseline", { value: formatNumber(baseline, 1) })));
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(p.at).toFixed(1)},${y(p.rate).toFixed(1)}`).join(" ");
  const area = `${path} L${x(points[points.length - 1].at).toFixed(1)},${y(0)} L${x(first).toFixed(1)},${y(0)} Z`;
  chart.append(svg("path", { d: area, class: "area" }));
  chart.append(svg("path", { d: path, class: "rate" }));
  for (const p of fromTimeline ? stored : points) chart.append(svg("circle", { cx: x(p.at), cy: y(p.rate), r: 2.5, class: "point" }));
  chart.append(svg("text", { x: WIDTH - PAD.right, y: PAD.top - 6, class: "label end" }, t("chart.now", { value: formatNumber(now, 1) })));
  // Past a day the hour alone would be ambiguous: the ends say their date too.
  const clock = { hour: "2-digit", minute: "2-digit" };
  const time = (at) => (span > 20 * 3600 * 1000 ? new Date(at).toLocaleString([], { day: "numeric", month: "short", ...clock }) : new Date(at).toLocaleTimeString([], clock));
  chart.append(svg("text", { x: PAD.left, y: HEIGHT - 4, class: "label" }, time(first)));
  chart.append(svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 4, class: "label end" }, time(points[points.length - 1].at)));
  return chart;
}

/** What the chart was drawn from, for its caption. */
export function chartSource(timeline) {
  if (!timelinePoints(timeline).length) return t("chart.estimate");
  return t("chart.timeline", { width: formatDuration(timeline.bucket_seconds) });
}
