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
export function chartBox(id, label, config, { height = 280, points = 0 } = {}) {
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

// Media mix ---------------------------------------------------------------------------------------------------

/** A shaded stretch of a category x axis (labels ``from`` to ``to``, by index), drawn under the datasets. */
function xRangeShade(from, to, color, text) {
  return {
    id: "xmoRangeShade",
    beforeDatasetsDraw(chart) {
      if (from === null || to === null) return;
      const { ctx, chartArea, scales } = chart;
      const step = scales.x.ticks.length > 1 || to > from ? (scales.x.getPixelForValue(to) - scales.x.getPixelForValue(from)) / Math.max(1, to - from) : 0;
      const left = Math.max(chartArea.left, scales.x.getPixelForValue(from) - step / 2);
      const right = Math.min(chartArea.right, scales.x.getPixelForValue(to) + step / 2);
      ctx.save();
      ctx.fillStyle = color;
      ctx.fillRect(left, chartArea.top, right - left, chartArea.bottom - chartArea.top);
      if (text) {
        ctx.fillStyle = "#57606a";
        ctx.font = "12px system-ui, sans-serif";
        ctx.textAlign = "right";
        ctx.fillText(text, right - 4, chartArea.top + 14);
      }
      ctx.restore();
    },
  };
}

/** The band of an interval: a transparent lower line and an upper line filled down to it (labels with "(low)" are
 * left out of the legend and tooltips). */
function band(label, lower, upper, color) {
  return [
    { label: `${label} (low)`, data: lower, borderColor: "transparent", backgroundColor: "transparent", pointRadius: 0, fill: false },
    { label, data: upper, borderColor: "transparent", backgroundColor: color + "33", pointRadius: 0, fill: "-1" },
  ];
}

/** The x axis of a chart per period over months or years: ticks read "Jan 2024", fewer on a narrow screen. */
function periodAxis() {
  return {
    ticks: {
      autoSkip: true,
      autoSkipPadding: 16,
      maxRotation: 0,
      maxTicksLimit: window.innerWidth < 600 ? 4 : 8,
      callback(value) {
        const label = this.getLabelForValue(value); // "3 Jan 2022"
        return label.split(" ").slice(1).join(" ");
      },
    },
  };
}

const hideLow = { labels: { filter: (item) => !item.text.endsWith("(low)") } };
const tooltipNoLow = (format) => ({
  filter: (item) => !item.dataset.label.endsWith("(low)"),
  callbacks: { label: (c) => `${c.dataset.label}: ${format(c.parsed.y)}` },
});

/** Actual KPI (line) against the model's prediction (line and interval band) per period, the held-out periods
 * shaded. ``rows``: {date, actual, predicted, lower, upper, split: "fit"|"holdout"}. */
export function mediaMixFitChart(rows, { kpi, format = fmt.short, level = 0.9 }) {
  const first = rows.findIndex((r) => r.split === "holdout");
  const from = first < 0 ? null : first;
  const to = first < 0 ? null : rows.findLastIndex((r) => r.split === "holdout");
  const box = chartBox("mmm-fit-canvas", `Actual ${kpi} against the model's prediction per period${from === null ? "" : ", the held-out periods shaded"}`, {
    type: "line",
    data: {
      labels: rows.map((r) => dayText(r.date)),
      datasets: [
        ...band(`${Math.round(level * 100)} % prediction interval`, rows.map((r) => r.lower), rows.map((r) => r.upper), COLORS[0]),
        { label: "predicted", data: rows.map((r) => r.predicted), borderColor: COLORS[0], backgroundColor: COLORS[0], pointRadius: 0, borderWidth: 2 },
        { label: `actual ${kpi}`, data: rows.map((r) => r.actual), borderColor: "#1f2328", backgroundColor: "#1f2328", pointRadius: 0, borderWidth: 1.5 },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: periodAxis(),
        y: { title: { display: true, text: kpi }, ticks: { callback: (v) => format(v) } },
      },
      plugins: { legend: hideLow, tooltip: tooltipNoLow(format) },
    },
    plugins: [xRangeShade(from, to, "#e07b3926", from === null ? "" : "held out")],
  }, { height: 300, points: rows.length });
  if (from !== null) {
    box.dataset.holdoutFrom = rows[from].date;
    box.dataset.holdoutTo = rows[to].date;
  }
  return box;
}

/** The baseline (with the controls' part) and each channel's contribution per period, stacked. ``rows``: {date,
 * baseline, controls: {name: value}, contributions: {channel: value}}. */
export function decompositionChart(rows, channels, { kpi, format = fmt.short }) {
  const base = (r) => r.baseline + Object.values(r.controls || {}).reduce((a, b) => a + (b ?? 0), 0);
  const series = [
    { name: "baseline and controls", values: rows.map(base), color: GREY },
    ...channels.map((c, i) => ({ name: c, values: rows.map((r) => r.contributions[c] ?? 0), color: COLORS[i % COLORS.length] })),
  ];
  return chartBox("mmm-decomposition-canvas", `The ${kpi} per period split into the baseline and each channel's contribution, stacked`, {
    type: "line",
    data: {
      labels: rows.map((r) => dayText(r.date)),
      datasets: series.map((s, i) => ({ label: s.name, data: s.values, borderColor: s.color, backgroundColor: s.color + (i === 0 ? "55" : "bb"), pointRadius: 0, borderWidth: 1, fill: i === 0 ? "origin" : "-1" })),
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: periodAxis(),
        y: { stacked: true, title: { display: true, text: kpi }, ticks: { callback: (v) => format(v) } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${format(c.parsed.y)}` } } },
    },
  }, { height: 300, points: rows.length * series.length });
}

/** One channel's response curve: effect per period against spend per period with its interval, each period's
 * spend and effect as a dot, today's spend marked. ``curve``: {spend, effect, lower, upper, observed: {spend: [],
 * effect: []}, current_spend, current_effect} (GET /v1/mmm/curves). */
export function responseCurveChart(id, channel, curve, { kpi, period, format = fmt.short, color = COLORS[0] }) {
  const xy = (xs, ys) => xs.map((x, i) => ({ x, y: ys[i] }));
  const today = curve.current_spend === null || curve.current_spend === undefined ? [] : [{ x: curve.current_spend, y: curve.current_effect }];
  const observed = curve.observed || { spend: [], effect: [] };
  return chartBox(id, `${channel}: ${kpi} per ${period} bought against spend per ${period}, with each ${period}'s spend as a dot and today's spend marked`, {
    type: "line",
    data: {
      datasets: [
        ...band("interval", xy(curve.spend, curve.lower), xy(curve.spend, curve.upper), color),
        { label: "expected", data: xy(curve.spend, curve.effect), borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 2 },
        { label: `each ${period}`, type: "scatter", data: xy(observed.spend, observed.effect), backgroundColor: GREY + "99", borderColor: GREY, pointRadius: 2.5 },
        { label: "today", type: "scatter", data: today, backgroundColor: "#fff", borderColor: "#1f2328", borderWidth: 2, pointRadius: 7, pointStyle: "rectRot" },
      ],
    },
    options: {
      parsing: false,
      scales: {
        x: { type: "linear", min: 0, title: { display: true, text: `spend per ${period}` }, ticks: { callback: (v) => fmt.compactMoney(v), maxTicksLimit: 5 } },
        y: { beginAtZero: true, title: { display: true, text: `${kpi} per ${period}` }, ticks: { callback: (v) => format(v), maxTicksLimit: 6 } },
      },
      plugins: {
        title: { display: true, text: channel },
        legend: hideLow,
        tooltip: { filter: (item) => !item.dataset.label.endsWith("(low)"), callbacks: { title: (items) => (items.length ? `spend ${fmt.money(items[0].parsed.x)}` : ""), label: (c) => `${c.dataset.label}: ${format(c.parsed.y)}` } },
      },
    },
  }, { height: 260, points: curve.spend.length + observed.spend.length });
}

/** The plan's forecast per period: baseline and predicted KPI with its interval. ``rows``: {date, baseline,
 * predicted, lower, upper}. */
export function forecastChart(rows, { kpi, format = fmt.short, level = 0.9 }) {
  return chartBox("mmm-forecast-canvas", `Forecast ${kpi} per period of the plan, with its interval and the baseline`, {
    type: "line",
    data: {
      labels: rows.map((r) => dayText(r.date, true)),
      datasets: [
        ...band(`${Math.round(level * 100)} % range`, rows.map((r) => r.lower), rows.map((r) => r.upper), COLORS[2]),
        { label: `predicted ${kpi}`, data: rows.map((r) => r.predicted), borderColor: COLORS[2], backgroundColor: COLORS[2], pointRadius: 3 },
        { label: "baseline (no media)", data: rows.map((r) => r.baseline), borderColor: GREY, backgroundColor: GREY, borderDash: [4, 3], pointRadius: 0 },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { autoSkip: true, maxRotation: 0 } },
        y: { beginAtZero: true, title: { display: true, text: kpi }, ticks: { callback: (v) => format(v) } },
      },
      plugins: { legend: hideLow, tooltip: tooltipNoLow(format) },
    },
  }, { height: 260, points: rows.length });
}
