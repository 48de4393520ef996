// Budget: the plan at today's total (or a total asked for) per week or month, campaigns that sit on a bound,
// the ladder of what several totals would buy, the response curves and the plan as CSV.

import { ladderChart, spendChart } from "./charts.js";
import { api, cell, el, list, showProblem, table, warnings } from "./dom.js";
import { fmt, range } from "./format.js";

const BOUND_TEXT = { lower: "at its lowest allowed spend", upper: "at its highest allowed spend" };
const state = { total: null, period: "week", currentTotal: null, request: 0 };

/** "lower", "upper" or null: the API's ``at_bound``. */
function atBound(c) {
  return c.at_bound ?? null;
}

function planQuery(total, period) {
  const query = new URLSearchParams({ period });
  if (total !== null) query.set("total", total.toFixed(2));
  return query.toString();
}

function summary(r) {
  const per = `per ${r.period}`;
  const source = { today: " (today's total)", given: "", target: " (the largest total meeting the target)" }[r.total_source] ?? "";
  return el("p", { class: "summary", id: "budget-summary" },
    `Split ${fmt.money(r.total)} ${per}${source}: about ${fmt.one(r.expected_outcome_recommended)} ${r.outcome} ${per} `,
    `(90 % range ${range(r.expected_outcome_interval, fmt.one)}), `,
    `${fmt.one(r.expected_gain)} more than today's split at this total (${range(r.expected_gain_interval, fmt.one)}). `,
    `Today you spend ${fmt.money(r.current_total)} ${per}.`);
}

function boundBadge(c) {
  const side = atBound(c);
  if (!side) return null;
  const limit = side === "upper" ? c.bounds[1] : c.bounds[0];
  return el("span", { class: `badge bound ${side}`, title: `Allowed range ${range(c.bounds, fmt.money)}` }, `${BOUND_TEXT[side]} (${fmt.money(limit)})`);
}

function allocationTable(r) {
  const per = `per ${r.period}`;
  return table(
    ["Campaign", `Today (${per})`, "Today's split at this total", `Recommended (${per})`, "Change vs today's split", `Expected ${r.outcome} (${per})`],
    r.campaigns.map((c) => ({
      attrs: { "data-campaign": c.campaign_id, "data-at-bound": atBound(c) ?? "" },
      cells: [
        el("th", { scope: "row" }, c.campaign_id, boundBadge(c)),
        cell(fmt.money(c.current_spend), { class: "num money" }),
        cell(fmt.money(c.baseline_spend), { class: "num money" }),
        cell(fmt.money(c.recommended_spend), { class: "num money recommended", "data-value": c.recommended_spend }),
        cell(fmt.signedMoney(c.change), { class: "num money" }),
        cell(fmt.one(c.expected_outcome_recommended), { class: "num" }, range(c.expected_outcome_interval, fmt.one)),
      ],
    })),
    { id: "allocation" },
  );
}

function ladderTable(ladder, period) {
  const byValue = ladder.rows.some((row) => row.average_roas !== undefined);
  const average = byValue ? "average_roas" : "average_cpa";
  const marginal = byValue ? "marginal_roas" : "marginal_cpa";
  const show = byValue ? fmt.ratio : fmt.money;
  return table(
    [`Total per ${period}`, "Expected outcome (90 % range)", byValue ? "Average ROAS" : "Average CPA", byValue ? "ROAS of the last unit" : "CPA of the last conversion", "Campaigns at their highest / lowest"],
    ladder.rows.map((row) => ({
      attrs: { "data-total": row.total, class: Math.abs(row.total - ladder.current_total) < 0.005 ? "today" : null },
      cells: [
        el("th", { scope: "row" }, fmt.money(row.total), Math.abs(row.total - ladder.current_total) < 0.005 ? el("span", { class: "badge" }, "today") : null),
        cell(fmt.one(row.expected_outcome), { class: "num" }, range(row.expected_outcome_interval, fmt.one)),
        cell(show(row[average]), { class: "num" }),
        cell(show(row[marginal]), { class: "num" }),
        cell(`${row.campaigns_at_upper_bound} / ${row.campaigns_at_lower_bound}`, { class: "num" }),
      ],
    })),
    { id: "ladder" },
  );
}

/** The ladder at the API's totals (50 % to 200 % of today's), the total shown now among them. */
async function loadLadder(r, query) {
  const box = document.getElementById("budget-ladder");
  const params = new URLSearchParams(query);
  try {
    const ladder = await api(`/v1/recommendations/budget/ladder?${params}`);
    box.replaceChildren(ladderChart(ladder.rows, ladder.current_total, r.outcome, r.period), ladderTable(ladder, r.period),
      warnings(ladder.warnings) ?? "");
  } catch (error) {
    showProblem(box, error, "budget ladder");
  }
}

/** Plan the budget at ``total`` (null: today's total) per ``period``. */
export async function loadBudget(total, period = state.period) {
  const body = document.getElementById("budget-body");
  const curves = document.getElementById("budget-curves");
  const request = ++state.request;
  state.period = period;
  document.getElementById("budget-total-label").textContent = `Total per ${period}`;
  body.setAttribute("aria-busy", "true");
  const query = planQuery(total, period);
  try {
    const r = await api(`/v1/recommendations/budget?${query}`);
    if (request !== state.request) return; // a newer request is on its way
    state.total = r.total;
    state.currentTotal = r.current_total;
    document.getElementById("budget-total").value = String(Math.round(r.total * 100) / 100);
    const csv = el("a", { href: `/v1/recommendations/budget.csv?${query}`, id: "budget-csv", class: "button", download: `budget-${period}.csv` }, "Export CSV");
    const bound = r.campaigns.filter((c) => atBound(c));
    body.replaceChildren(
      summary(r),
      r.gain_uncertain ? el("p", { class: "notice" }, "The gain is uncertain: its range includes no gain at all.") : "",
      bound.length ? el("p", { class: "notice", id: "bound-note" }, `${bound.length} of ${r.campaigns.length} campaigns sit at the edge of what they may spend (½× to 2× today): the plan would move more if it could.`) : "",
      spendChart(r.campaigns, r.period),
      allocationTable(r),
      el("p", { class: "actions" }, csv),
      r.sentences && r.sentences.length ? el("h3", {}, "Moves") : "",
      r.sentences && r.sentences.length ? list(r.sentences, { class: "sentences" }) : "",
      warnings(r.warnings, "thing to know before acting", "things to know before acting") ?? "",
    );
    body.setAttribute("data-total", String(r.total));
    body.setAttribute("data-total-source", r.total_source ?? "");
    curves.replaceChildren(el("img", { src: `/v1/recommendations/budget/curves.png?${query}`, alt: "Response curve of each campaign with today's split at this total and the recommended spend", id: "curves-img" }));
    await loadLadder(r, query);
  } catch (error) {
    if (request !== state.request) return;
    showProblem(body, error, "budget plan");
    body.setAttribute("data-total", "error");
    curves.replaceChildren();
    document.getElementById("budget-ladder").replaceChildren();
  } finally {
    body.removeAttribute("aria-busy");
  }
}

/** Wire the form: recompute at a total, ±20 %, back to today's total, and the period (kept in the URL). */
export function setupBudget(view, onPeriod) {
  const form = document.getElementById("budget-form");
  const input = document.getElementById("budget-total");
  const period = document.getElementById("budget-period");
  period.value = view.period;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = Number(input.value);
    if (value > 0) loadBudget(value);
  });
  document.getElementById("budget-minus").addEventListener("click", () => state.total && loadBudget(state.total * 0.8));
  document.getElementById("budget-plus").addEventListener("click", () => state.total && loadBudget(state.total * 1.2));
  document.getElementById("budget-today").addEventListener("click", () => loadBudget(null));
  period.addEventListener("change", () => {
    onPeriod(period.value);
    loadBudget(null, period.value);
  });
  return loadBudget(null, view.period);
}
