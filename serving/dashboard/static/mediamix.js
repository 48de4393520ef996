// Media mix: the client's registered media-mix model of its KPI and spend per channel (GET /v1/mmm/*): how well
// it follows the KPI (the held-out periods shaded), what each channel contributed, each channel's response curve
// with the periods it saw, and the plan for the next quarter at today's total (the budget's media-mix mode).
// Shown only to a client with KPI and spend data; without a model yet, a grey panel says how to fit one.

import { decompositionChart, forecastChart, mediaMixFitChart, responseCurveChart, COLORS } from "./charts.js";
import { ApiError, api, cell, el, problem, table, tile, warnings } from "./dom.js";
import { dayText, fmt, missing, range } from "./format.js";

const VALUE_KPIS = ["revenue", "sales", "value", "gmv", "turnover"]; // amounts (features.media_mix_data.VALUE_KPIS)
const MS_PER_DAY = 86400000;

/** The first Monday after ``day`` ("YYYY-MM-DD", UTC), as "YYYY-MM-DD". */
function mondayAfter(day) {
  const time = Date.parse(`${day}T00:00:00Z`);
  const ahead = ((8 - new Date(time).getUTCDay()) % 7) || 7; // Sunday 0 → 1 day, Monday 1 → 7 days
  return new Date(time + ahead * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Where the plan for the next quarter starts: next Monday, or the Monday after the data's last period when the
 * data reach further (a plan starts after the data). */
export function planStart(lastPeriod, periodDays, now = new Date()) {
  const today = now.toISOString().slice(0, 10);
  if (!lastPeriod) return mondayAfter(today);
  const lastDay = new Date(Date.parse(`${lastPeriod}T00:00:00Z`) + (periodDays - 1) * MS_PER_DAY).toISOString().slice(0, 10);
  return mondayAfter(lastDay > today ? lastDay : today);
}

/** How to show amounts of the KPI: money for a value KPI (revenue, sales…), plain numbers for counts. */
function kpiFormat(summary) {
  const value = summary.outcome ? summary.outcome === "value" : VALUE_KPIS.includes(String(summary.kpi).toLowerCase());
  return value ? { show: fmt.money, axis: fmt.compactMoney } : { show: fmt.one, axis: fmt.short };
}

function periodName(days) {
  return days === 7 ? "week" : "day";
}

/** Show or hide the section and its link in the header (hidden until the client is known to have the data). */
function show(section, shown) {
  section.hidden = !shown;
  const link = document.querySelector('header nav a[href="#mediamix"]');
  if (link) link.hidden = !shown;
}

/** Whether the client has both a KPI series and spend (else the section stays hidden). */
async function hasKpiAndSpend() {
  try {
    const [kpi, spend] = await Promise.all([api("/v1/kpi"), api("/v1/spend")]);
    return kpi.columns.length > 0 && spend.campaigns.length > 0;
  } catch {
    return false;
  }
}

function notFitted(clientId, error) {
  return el("div", { class: "empty", role: "status", id: "mmm-none" },
    el("p", {}, el("strong", {}, "No media-mix model yet: "), "your KPI and spend are in, so fit one from the command line or the API (under a minute), then reload this page:"),
    el("pre", {}, el("code", {}, `xmo mmm fit ${clientId}`), "\n", el("code", {}, "POST /v1/mmm/fit")),
    el("p", { class: "hint" }, `The API says: ${error.message}`));
}

function metric(m, key) {
  return m && !missing(m[key]) ? m[key] : null;
}

function summaryTiles(s, per) {
  const holdout = s.holdout || null;
  return el("div", { class: "tiles" },
    tile("mmm-version", "Model", `v${s.version}`, `${s.alias}, explains ${s.kpi}`),
    tile("mmm-periods", `Fitted ${per}s`, fmt.int(s.n_periods), s.first_day && s.last_day ? `${dayText(s.first_day)} – ${dayText(s.last_day)}` : null),
    tile("mmm-holdout-mape", "Error on held-out periods (MAPE)", holdout ? fmt.pct(metric(holdout, "mape")) : "no holdout",
      holdout ? `${fmt.int(holdout.n_periods)} ${per}s from ${dayText(holdout.first_day)}` : null),
    tile("mmm-holdout-r2", "R² on held-out periods", holdout ? fmt.num(metric(holdout, "r2"), 2) : "n/a",
      s.in_sample ? `${fmt.num(metric(s.in_sample, "r2"), 2)} on the fitted periods` : null),
    tile("mmm-media-share", "Share of the KPI from media", fmt.share(s.media_share_of_kpi)),
    tile("mmm-families", "Carry-over · saturation", `${s.families.adstock} · ${s.families.saturation}`),
  );
}

function fitPart(p, s, kf, per) {
  const held = p.rows.filter((r) => r.split === "holdout").length;
  const level = p.interval_level ?? 0.9;
  return [
    el("h3", {}, "Fit against actuals"),
    el("p", { class: "hint" }, `The ${s.kpi} per ${per} and what the model predicts, with its ${Math.round(level * 100)} % interval. `,
      held ? `The shaded ${held} ${per}s were held out: fitted without them, then predicted.` : "No periods were held out."),
    mediaMixFitChart(p.rows, { kpi: s.kpi, format: kf.axis, level }),
    el("p", { class: "actions" }, el("a", { href: "/v1/mmm/predictions.csv", class: "button", id: "mmm-predictions-csv", download: "media-mix-predictions.csv" }, "Export predictions CSV")),
  ];
}

const KIND_TEXT = { baseline: "baseline (trend, season)", control: "control", channel: "channel" };

function decompositionPart(d, s, kf) {
  const level = Math.round((d.interval_level ?? 0.9) * 100);
  const channels = Object.fromEntries((s.channels || []).map((c) => [c.channel, c]));
  return [
    el("h3", {}, "What each channel contributed"),
    el("p", { class: "hint" }, `The ${s.kpi} per period split into the baseline (with the controls' part) and each channel's contribution, stacked. `,
      `The table gives each part's total over the ${d.n_periods} periods with its ${level} % range, and each channel's return per unit spent.`),
    decompositionChart(d.rows, d.channels, { kpi: s.kpi, format: kf.axis }),
    table(["Part", `Total ${s.kpi}`, "Share of the predicted KPI", "Spend", "Return per unit spent"],
      d.parts.map((part) => {
        const c = part.kind === "channel" ? channels[part.name] : null;
        return {
          attrs: { "data-part": part.name, "data-kind": part.kind },
          cells: [
            el("th", { scope: "row" }, part.name, el("span", { class: "badge" }, KIND_TEXT[part.kind] ?? part.kind)),
            cell(kf.show(part.total), { class: "num" }, range(part.interval, kf.show)),
            cell(fmt.share(part.share), { class: "num" }),
            cell(c ? fmt.money(c.spend) : "", { class: c ? "num money" : "num" }),
            cell(c ? fmt.ratio(c.roi) : "", { class: "num" }, c ? range(c.roi_interval, fmt.ratio) : null),
          ],
        };
      }), { id: "mmm-totals" }),
  ];
}

function curvesPart(c, s, kf) {
  const names = Object.keys(c.channels);
  const per = c.unit;
  return [
    el("h3", {}, "Response curves"),
    el("p", { class: "hint" }, `What a spend per ${per} held ${per} after ${per} buys, with its ${Math.round((c.interval_level ?? 0.9) * 100)} % range; grey dots: each fitted ${per}'s spend and the effect the model gives it; the diamond: today's spend (the last four weeks' mean).`),
    el("div", { class: "chart-grid", id: "mmm-curves" },
      ...names.map((name, i) => responseCurveChart(`mmm-curve-${i}`, name, c.channels[name], { kpi: s.kpi, period: per, format: kf.axis, color: COLORS[i % COLORS.length] }))),
  ];
}

function forecastSummary(f, plan, kf) {
  return el("p", { class: "summary", id: "mmm-forecast-summary" },
    `From ${dayText(f.start)} to ${dayText(f.end)} (${f.n_periods} ${f.n_periods === 1 ? "period" : "periods"}), spending ${fmt.money(plan.total)} per ${plan.period} split as recommended: `,
    `about ${kf.show(f.predicted)} ${f.kpi} (${range(f.interval, kf.show)}), of which ${kf.show(f.media_effect)} from media. `,
    `Controls: ${f.controls_source}.`);
}

function planTable(plan) {
  return table(["Channel", `Today (per ${plan.period})`, `Recommended (per ${plan.period})`, "Change"],
    plan.campaigns.map((c) => ({
      attrs: { "data-channel": c.campaign_id },
      cells: [
        el("th", { scope: "row" }, c.campaign_id),
        cell(fmt.money(c.baseline_spend), { class: "num money" }),
        cell(fmt.money(c.recommended_spend), { class: "num money" }),
        cell(fmt.signedMoney(c.change), { class: "num money" }),
      ],
    })), { id: "mmm-plan-table" });
}

function ladderTable(ladder, kpi, kf) {
  return table([`Total per ${ladder.period}`, `Expected ${kpi} (range)`, "Of it from media"],
    ladder.rows.map((row) => {
      const today = Math.abs(row.total - ladder.current_total) < 0.005;
      const forecast = row.forecast_predicted !== undefined && row.forecast_predicted !== null;
      return {
        attrs: { "data-total": row.total, class: today ? "today" : null },
        cells: [
          el("th", { scope: "row" }, fmt.money(row.total), today ? el("span", { class: "badge" }, "today") : null),
          forecast
            ? cell(kf.show(row.forecast_predicted), { class: "num" }, range(row.forecast_interval, kf.show))
            : cell("n/a", { class: "num" }),
          cell(kf.show(row.forecast_media_effect ?? row.expected_outcome), { class: "num" }, forecast ? null : range(row.expected_outcome_interval, kf.show)),
        ],
      };
    }), { id: "mmm-ladder" });
}

async function planPart(box, s, kf) {
  const query = new URLSearchParams({ mode: "media-mix", period: "quarter", start: planStart(s.last_day, s.period_days ?? 1) });
  try {
    const plan = await api(`/v1/recommendations/budget?${query}`);
    const f = plan.forecast;
    box.replaceChildren(
      f ? forecastSummary(f, plan, kf) : el("p", { class: "summary" }, `${fmt.money(plan.total)} per ${plan.period}, split as below.`),
      f && f.per_period && f.per_period.length ? forecastChart(f.per_period, { kpi: f.kpi, format: kf.axis, level: f.interval_level ?? 0.9 }) : "",
      planTable(plan),
      warnings(plan.warnings, "thing to know before acting", "things to know before acting") ?? "",
    );
    box.dataset.total = String(plan.total);
  } catch (error) {
    box.replaceChildren(problem(error, "plan for the next quarter"));
    return;
  }
  try {
    const ladder = await api(`/v1/recommendations/budget/ladder?${query}`);
    box.append(el("h4", {}, "What other totals would buy"), ladderTable(ladder, s.kpi, kf));
  } catch (error) {
    box.append(problem(error, "budget ladder"));
  }
}

/** One part of the section: ``draw`` the answer of ``path`` into a new box, or the problem in its place. */
function part(id, path, what, draw) {
  const box = el("div", { id, class: "mmm-part" }, el("p", { class: "empty loading" }, "Loading…"));
  const done = api(path).then((answer) => box.replaceChildren(...draw(answer)), (error) => box.replaceChildren(problem(error, what)));
  return [box, done];
}

/** Fill the section from the API, or keep it hidden for a client without KPI and spend; answers whether shown. */
export async function loadMediaMix(clientId) {
  const section = document.getElementById("mediamix");
  const body = document.getElementById("mediamix-body");
  let s;
  try {
    s = await api("/v1/mmm");
  } catch (error) {
    if (error instanceof ApiError && error.notReady) {
      if (!(await hasKpiAndSpend())) return false;
      body.replaceChildren(notFitted(clientId, error));
    } else {
      body.replaceChildren(problem(error, "media-mix model"));
    }
    show(section, true);
    return true;
  }
  show(section, true);
  const kf = kpiFormat(s);
  const per = periodName(s.period_days);
  const [fitBox, fitDone] = part("mmm-fit", "/v1/mmm/predictions", "fit against actuals", (p) => fitPart(p, s, kf, per));
  const [decBox, decDone] = part("mmm-decomposition", "/v1/mmm/decomposition", "decomposition", (d) => decompositionPart(d, s, kf));
  const [curveBox, curveDone] = part("mmm-curves-box", "/v1/mmm/curves", "response curves", (c) => curvesPart(c, s, kf));
  const planBox = el("div", { id: "mmm-plan", class: "mmm-part" }, el("p", { class: "empty loading" }, "Loading…"));
  body.replaceChildren(
    summaryTiles(s, per),
    s.data_changed ? el("p", { class: "notice", id: "mmm-data-changed" }, "Your KPI or spend changed since this model was fitted: refit it to use the new data.") : "",
    warnings(s.warnings, "warning about this fit", "warnings about this fit") ?? "",
    fitBox, decBox, curveBox,
    el("h3", {}, "Plan for the next quarter"),
    el("p", { class: "hint" }, "Today's spend for a quarter from next Monday (13 weeks), split across the channels the best way the model knows: the KPI it should bring with its range, the season, trend and carry-over included."),
    planBox,
  );
  await Promise.all([fitDone, decDone, curveDone, planPart(planBox, s, kf)]);
  return true;
}
