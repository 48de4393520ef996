// The overview: totals of the chosen period against the previous period of the same length, the trend chart,
// and the campaign table. A client with no sessions at all gets the first-run panel instead (firstrun.js).

import { trendChart } from "./charts.js";
import { ApiError, api, cell, el, problem, showProblem, table, tile } from "./dom.js";
import { dayText, daysIn, fmt, missing, previousPeriod, range } from "./format.js";

export function rangeQuery(since, until) {
  const query = new URLSearchParams();
  if (since) query.set("since", since);
  if (until) query.set("until", until);
  return query.toString();
}

function overlaps(a, b) {
  if (!a || !b || [a[0], a[1], b[0], b[1]].some(missing)) return false;
  return a[0] <= b[1] && b[0] <= a[1];
}

/** "▲ 12 % vs previous period", coloured good or bad, and "within noise" when both ranges overlap. */
function comparison(id, now, before, { better = "up", nowRange = null, beforeRange = null } = {}) {
  if (before === undefined) return null;
  if (missing(now) || missing(before)) return el("div", { class: "delta flat", id: `${id}-delta` }, "no previous figure to compare");
  if (before === 0) return el("div", { class: "delta flat", id: `${id}-delta` }, now === 0 ? "same as previous period" : "new: none in the previous period");
  const change = (now - before) / Math.abs(before);
  const noise = overlaps(nowRange, beforeRange);
  const direction = Math.abs(change) < 0.005 ? "flat" : change > 0 ? "up" : "down";
  const arrow = { up: "▲", down: "▼", flat: "■" }[direction];
  const tone = noise || direction === "flat" || better === "none" ? "flat" : direction === better ? "good" : "bad";
  const text = `${arrow} ${change > 0 ? "+" : ""}${(change * 100).toFixed(1)} % vs previous period${noise ? " (within noise: the ranges overlap)" : ""}`;
  return el("div", { class: `delta ${direction} ${tone}`, id: `${id}-delta`, "data-direction": direction, "data-noise": noise }, text);
}

async function previousReport(report) {
  const days = daysIn(report.since, report.until);
  const [since, until] = previousPeriod(report.since, days);
  try {
    return { since, until, days, report: await api(`/v1/reports/effectiveness?${rangeQuery(since, until)}`) };
  } catch (error) {
    return { since, until, days, report: null, error };
  }
}

function tiles(report, previous) {
  const t = report.totals;
  const p = previous.report ? previous.report.totals : undefined;
  const before = (key) => (p === undefined ? undefined : p[key]);
  const ranges = (key) => ({ nowRange: t[`${key}_interval`], beforeRange: p ? p[`${key}_interval`] : null });
  return [
    tile("total-sessions", "Sessions", fmt.int(t.sessions), null, comparison("total-sessions", t.sessions, before("sessions"))),
    tile("total-conversions", "Conversions", fmt.int(t.conversions), null, comparison("total-conversions", t.conversions, before("conversions"))),
    tile("total-cr", "Conversion rate", fmt.pct(t.conversion_rate), range(t.conversion_rate_interval, fmt.pct),
      comparison("total-cr", t.conversion_rate, before("conversion_rate"), ranges("conversion_rate"))),
    tile("total-value", "Conversion value", fmt.money(t.value), range(t.value_interval, fmt.money),
      comparison("total-value", t.value, before("value"), ranges("value"))),
    tile("total-spend", "Spend", fmt.money(t.spend), null, comparison("total-spend", t.spend, before("spend"), { better: "none" })),
    tile("total-cpa", "CPA (spend per conversion)", fmt.money(t.cpa), range(t.cpa_interval, fmt.money),
      comparison("total-cpa", t.cpa, before("cpa"), { better: "down", ...ranges("cpa") })),
    tile("total-roas", "ROAS (value per unit spent)", fmt.ratio(t.roas), range(t.roas_interval, fmt.ratio),
      comparison("total-roas", t.roas, before("roas"), ranges("roas"))),
  ];
}

function periodText(report, previous) {
  const days = daysIn(report.since, report.until);
  const now = `${dayText(report.since)} to ${dayText(report.until)} (${days} UTC ${days === 1 ? "day" : "days"})`;
  const ranges = `Ranges are ${Math.round(report.confidence * 100)} % ranges.`;
  if (previous.report) return `${now}, compared with the ${days} days before (${dayText(previous.since)} to ${dayText(previous.until)}). ${ranges}`;
  if (previous.error instanceof ApiError && previous.error.notReady) return `${now}; no sessions in the ${days} days before to compare with. ${ranges}`;
  return `${now}. ${ranges}`;
}

function campaignTable(report) {
  const rows = report.rows.map((r) => ({
    attrs: { "data-campaign": r.campaign_id ?? "" },
    cells: [
      el("th", { scope: "row" }, r.campaign_id ?? "no campaign (organic, direct, referral)"),
      r.channel ?? "—",
      cell(fmt.int(r.sessions), { class: "num sessions" }),
      cell(fmt.int(r.conversions), { class: "num conversions" }),
      cell(fmt.pct(r.conversion_rate), { class: "num" }, range(r.conversion_rate_interval, fmt.pct)),
      cell(fmt.money(r.spend), { class: "num money" }),
      cell(fmt.money(r.cpa), { class: "num money" }, r.spend ? range(r.cpa_interval, fmt.money) : null),
      cell(fmt.ratio(r.roas), { class: "num" }, r.spend ? range(r.roas_interval, fmt.ratio) : null),
    ],
  }));
  return table(["Campaign", "Channel", "Sessions", "Conversions", "Conversion rate", "Spend", "CPA", "ROAS"], rows, { id: "campaigns" });
}

/**
 * Draw the overview of ``view`` ({since, until}). Answers the report, or null; ``firstRun`` is true when the client
 * has no sessions at all (no date range asked and the API answers not_ready).
 */
export async function loadOverview(view) {
  const period = document.getElementById("overview-period");
  const tilesBox = document.getElementById("overview-tiles");
  const chart = document.getElementById("trend-chart");
  const campaigns = document.getElementById("campaign-table");
  let report;
  try {
    report = await api(`/v1/reports/effectiveness?${rangeQuery(view.since, view.until)}`);
  } catch (error) {
    if (error instanceof ApiError && error.notReady && !view.since && !view.until) return { report: null, firstRun: true };
    period.replaceChildren(problem(error, "overview"));
    for (const box of [tilesBox, chart, campaigns]) box.replaceChildren();
    return { report: null, firstRun: false, error };
  }
  const previous = await previousReport(report);
  period.textContent = periodText(report, previous);
  tilesBox.replaceChildren(...tiles(report, previous));
  campaigns.replaceChildren(campaignTable(report));
  document.getElementById("overview-warnings").replaceChildren(...report.warnings.map((w) => el("li", {}, w)));
  try {
    const trend = await api(`/dashboard/api/trend?${rangeQuery(report.since, report.until)}`);
    chart.replaceChildren(trendChart(trend.days));
  } catch (error) {
    showProblem(chart, error, "daily trend");
  }
  return { report, firstRun: false };
}

