// The dashboard's charts, drawn by Chart.js (vendored: /dashboard/static/vendor/chartjs/, loaded before this module).
// Each chart sits in a box of fixed height that follows the width of the page, on a phone too.

import { el } from "./dom.js";
import { dayText, fmt } from "./format.js";

const Chart = window.Chart;
export const COLORS = ["#2f6fb0", "#e07b39", "#3a9a5b", "#b8463f", "#7a5bb0", "#8c6d3f", "#c2569b", "#5f6b77"];
export const GREY = "#8c959f";
const GREEN = "#3a9a5b";

if (Chart) {
  Chart.defaults.animation = false; // drawn once, at once (and the same in every screenshot)
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", sans-serif';
  Chart.defaults.color = "#57606a";
  Chart.defaults.maintainAspectRatio = false;
}

/** A canvas in a box, its chart drawn once the box is in the page; ``label`` is read out by screen readers. */
function chartBox(id, label, config, { height = 280, points = 0 } = {}) {
  const canvas = el("canvas", { role: "img", "aria-label": label, "data-points": points });
  const box = el("div", { class: "chart-box", id }, canvas);
  box.style.height = `${height}px`; // through the CSSOM, which the page's CSP allows (a style attribute it would not)
  if (!Chart) {
    box.replaceChildren(el("p", { class: "problem", role: "alert" }, "The chart library did not load: the numbers are in the table."));
    return box;
  }
  new Chart(canvas, config);
  return box;
}

/** Sessions (bars, left axis) and conversions (line, right axis) per day. */
export function trendChart(days) {
  return chartBox("trend-canvas", "Sessions (bars, left axis) and conversions (line, right axis) per day", {
    type: "bar",
    data: {
      labels: days.map((d) => dayText(d.date, true)),
      datasets: [
        { type: "bar", label: "sessions", data: days.map((d) => d.sessions), backgroundColor: COLORS[0] + "cc", yAxisID: "y", order: 2 },
        { type: "line", label: "conversions", data: days.map((d) => d.conversions), borderColor: COLORS[1], backgroundColor: COLORS[1], yAxisID: "y1", order: 1, pointRadius: 3 },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { autoSkip: true, maxRotation: 0 } },
        y: { beginAtZero: true, position: "left", title: { display: true, text: "sessions" } },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "conversions" } },
      },
    },
  }, { points: days.length });
}

/** Grouped bars: one group per name, one bar per series ({name, values: {group: number}, color}). */
export function barChart(id, groups, series, { label, unit, format = fmt.short }) {
  return chartBox(id, label, {
    type: "bar",
    data: {
      labels: groups,
      datasets: series.map((s, i) => ({
        label: s.name,
        data: groups.map((g) => s.values[g] || 0),
        backgroundColor: s.color || COLORS[i % COLORS.length],
      })),
    },
    options: {
      scales: {
        x: { ticks: { autoSkip: false, maxRotation: 45, callback(value) { const name = this.getLabelForValue(value); return name.length > 18 ? `${name.slice(0, 17)}…` : name; } } },
        y: { beginAtZero: true, title: { display: true, text: unit }, ticks: { callback: (v) => format(v) } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${format(c.parsed.y)}` } } },
    },
  }, { height: 320, points: groups.length * series.length });
}

/** What several totals would buy: expected outcome against the total, its interval as a band, today's total marked. */
export function ladderChart(rows, currentTotal, outcome, period) {
  const points = rows.map((r) => ({ x: r.total, y: r.expected_outcome }));
  const low = rows.map((r) => ({ x: r.total, y: r.expected_outcome_interval ? r.expected_outcome_interval[0] : null }));
  const high = rows.map((r) => ({ x: r.total, y: r.expected_outcome_interval ? r.expected_outcome_interval[1] : null }));
  const today = rows.reduce((best, r) => (best === null || Math.abs(r.total - currentTotal) < Math.abs(best.total - currentTotal) ? r : best), null);
  return chartBox("ladder-canvas", `Expected ${outcome} per ${period} against the total budget per ${period}`, {
    type: "line",
    data: {
      datasets: [
        { label: "90 % range (low)", data: low, borderColor: "transparent", pointRadius: 0, fill: false },
        { label: "90 % range", data: high, borderColor: "transparent", backgroundColor: COLORS[0] + "33", pointRadius: 0, fill: "-1" },
        { label: `expected ${outcome}`, data: points, borderColor: COLORS[0], backgroundColor: COLORS[0], pointRadius: 4 },
        { label: "today's total", data: today ? [{ x: today.total, y: today.expected_outcome }] : [], type: "scatter", backgroundColor: GREY, borderColor: "#57606a", pointRadius: 7, pointStyle: "rectRot" },
      ],
    },
    options: {
      parsing: false,
      scales: {
        x: { type: "linear", title: { display: true, text: `total per ${period}` }, ticks: { callback: (v) => fmt.money(v), maxTicksLimit: 6 } },
        y: { beginAtZero: true, title: { display: true, text: `${outcome} per ${period}` } },
      },
      plugins: {
        legend: { labels: { filter: (item) => item.text !== "90 % range (low)" } },
        tooltip: { callbacks: { title: (items) => items.length ? `total ${fmt.money(items[0].parsed.x)}` : "", label: (c) => `${c.dataset.label}: ${fmt.one(c.parsed.y)}` } },
      },
    },
  }, { points: rows.length });
}

/** Spend per campaign: today's split at this total (grey) against the recommended split (green). */
export function spendChart(campaigns, period) {
  const names = campaigns.map((c) => c.campaign_id);
  return barChart("spend-canvas", names, [
    { name: "today's split at this total", values: Object.fromEntries(campaigns.map((c) => [c.campaign_id, c.baseline_spend])), color: GREY },
    { name: "recommended", values: Object.fromEntries(campaigns.map((c) => [c.campaign_id, c.recommended_spend])), color: GREEN },
  ], { label: "Spend per campaign: today's split at this total, and recommended", unit: `spend per ${period}`, format: (v) => fmt.money(v) });
}

/** Predicted against observed conversion rate per bin of held-out sessions, with the diagonal of a perfect model. */
export function reliabilityChart(rows) {
  const top = Math.max(0.01, ...rows.flatMap((r) => [r.predicted, r.observed])) * 1.1;
  return chartBox("calibration-canvas", "Predicted against observed conversion rate per bin of held-out sessions", {
    type: "scatter",
    data: {
      datasets: [
        { label: "bins of held-out sessions", data: rows.map((r) => ({ x: r.predicted, y: r.observed, n: r.sessions })), backgroundColor: COLORS[1], pointRadius: 5 },
        { label: "perfect calibration", type: "line", data: [{ x: 0, y: 0 }, { x: top, y: top }], borderColor: GREY, borderDash: [4, 3], pointRadius: 0 },
      ],
    },
    options: {
      scales: {
        x: { min: 0, suggestedMax: top, title: { display: true, text: "predicted conversion rate" }, ticks: { callback: (v) => fmt.share(v) } },
        y: { min: 0, suggestedMax: top, title: { display: true, text: "observed" }, ticks: { callback: (v) => fmt.share(v) } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => `predicted ${fmt.pct(c.parsed.x)}, observed ${fmt.pct(c.parsed.y)}${c.raw.n ? ` (${fmt.int(c.raw.n)} sessions)` : ""}` } } },
    },
  }, { height: 300, points: rows.length });
}
