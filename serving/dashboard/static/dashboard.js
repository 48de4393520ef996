// The xmo dashboard: reads the API with the session cookie and draws tables and SVG charts.
// Every value from the API reaches the page through textContent or an attribute, never as HTML.

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2f6fb0", "#e07b39", "#3a9a5b", "#b8463f", "#7a5bb0", "#8c6d3f", "#c2569b", "#5f6b77"];
const INT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const MONEY = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const ONE = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const ACTIONS = {
  scale: "winner: give it the traffic",
  keep: "keep (as good as the leader)",
  keep_testing: "keep testing",
  pause: "pause it",
};

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// --- small helpers --------------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = String(text);
  return node;
}

function missing(value) {
  return value === null || value === undefined || Number.isNaN(value);
}

const fmt = {
  int: (v) => (missing(v) ? "n/a" : INT.format(v)),
  money: (v) => (missing(v) ? "n/a" : MONEY.format(v)),
  one: (v) => (missing(v) ? "n/a" : ONE.format(v)),
  pct: (v) => (missing(v) ? "n/a" : `${(v * 100).toFixed(2)} %`),
  share: (v) => (missing(v) ? "n/a" : `${Math.round(v * 100)} %`),
  ratio: (v) => (missing(v) ? "n/a" : `${v.toFixed(2)}×`),
  num: (v, digits = 3) => (missing(v) ? "n/a" : Number(v).toFixed(digits)),
};

function range(interval, format) {
  if (!interval || missing(interval[0]) || missing(interval[1])) return "range n/a";
  return `${format(interval[0])} – ${format(interval[1])}`;
}

async function api(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    window.location.assign("/sign-in");
    throw new ApiError("signed out", 401, "unauthorized");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error ? body.error : {};
    throw new ApiError(error.message || `the server answered ${response.status}`, response.status, error.code);
  }
  return body;
}

function showError(container, error) {
  const notReady = error instanceof ApiError && (error.code === "not_ready" || error.status === 409);
  const title = notReady ? "Not enough data yet." : "This part could not be loaded.";
  container.replaceChildren(el("p", { class: notReady ? "empty" : "empty error", role: "status" }, `${title} `, error.message));
}

function table(headers, rows, attrs = {}) {
  const head = el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h))));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", row.attrs || {});
    for (const cell of row.cells) {
      tr.append(cell instanceof Node ? cell : el("td", {}, cell));
    }
    body.append(tr);
  }
  return el("div", { class: "table-wrap" }, el("table", attrs, head, body));
}

function cell(text, attrs = {}, sub = null) {
  const td = el("td", attrs, text);
  if (sub) td.append(el("span", { class: "range" }, sub));
  return td;
}

function list(items, attrs = {}) {
  const ul = el("ul", attrs);
  for (const item of items) ul.append(el("li", {}, item));
  return ul;
}

function warnings(items, one = "warning", many = "warnings") {
  if (!items || items.length === 0) return null;
  const details = el("details", { class: "warnings" }, el("summary", {}, `${items.length} ${items.length === 1 ? one : many}`));
  details.append(list(items));
  return details;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function ticks(max) {
  // niceMax gives 1, 2, 2.5 or 5 times a power of ten: 2 splits in quarters, the others in fifths
  const leading = max / 10 ** Math.floor(Math.log10(max));
  const count = Math.abs(leading - 2) < 1e-9 ? 4 : 5;
  return Array.from({ length: count + 1 }, (_, i) => (max * i) / count);
}

function shortNumber(v) {
  if (v >= 1000) return `${INT.format(v / 1000)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

function chartFrame(width, height, label) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart-svg" });
}

function legend(root, entries, x, y) {
  entries.forEach(([text, color], i) => {
    const cx = x + i * 150;
    root.append(svg("rect", { x: cx, y: y - 9, width: 12, height: 12, fill: color }));
    root.append(svg("text", { x: cx + 17, y: y + 1, class: "legend" }, text));
  });
}

// --- charts ---------------------------------------------------------------------------------------------------

function trendChart(days) {
  const W = 860, H = 280, L = 56, R = 56, T = 30, B = 40;
  const root = chartFrame(W, H, "Sessions (bars, left axis) and conversions (line, right axis) per day");
  const maxS = niceMax(Math.max(...days.map((d) => d.sessions)));
  const maxC = niceMax(Math.max(...days.map((d) => d.conversions)));
  const plotW = W - L - R, plotH = H - T - B;
  const step = plotW / days.length;
  const y = (v, max) => T + plotH - (v / max) * plotH;
  for (const t of ticks(maxS)) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(t, maxS), y2: y(t, maxS), class: "grid" }));
    root.append(svg("text", { x: L - 6, y: y(t, maxS) + 4, class: "tick end" }, shortNumber(t)));
  }
  for (const t of ticks(maxC)) {
    root.append(svg("text", { x: W - R + 6, y: y(t, maxC) + 4, class: "tick" }, shortNumber(t)));
  }
  root.append(svg("text", { x: 12, y: T + plotH / 2, class: "axis-label", transform: `rotate(-90 12 ${T + plotH / 2})` }, "sessions"));
  root.append(svg("text", { x: W - 10, y: T + plotH / 2, class: "axis-label", transform: `rotate(90 ${W - 10} ${T + plotH / 2})` }, "conversions"));
  const labelEvery = Math.max(1, Math.ceil(days.length / 12));
  const points = [];
  days.forEach((d, i) => {
    const x = L + i * step;
    const bar = svg("rect", { x: x + step * 0.15, y: y(d.sessions, maxS), width: step * 0.7, height: T + plotH - y(d.sessions, maxS), class: "bar" });
    bar.append(svg("title", {}, `${d.date}: ${fmt.int(d.sessions)} sessions, ${fmt.int(d.conversions)} conversions`));
    root.append(bar);
    points.push(`${x + step / 2},${y(d.conversions, maxC)}`);
    if (i % labelEvery === 0) root.append(svg("text", { x: x + step / 2, y: H - B + 16, class: "tick middle" }, d.date.slice(5)));
  });
  root.append(svg("polyline", { points: points.join(" "), class: "line" }));
  days.forEach((d, i) => root.append(svg("circle", { cx: L + i * step + step / 2, cy: y(d.conversions, maxC), r: 3, class: "dot" })));
  root.append(svg("line", { x1: L, x2: W - R, y1: T + plotH, y2: T + plotH, class: "axis" }));
  legend(root, [["sessions", COLORS[0]], ["conversions", COLORS[1]]], L, 16);
  return root;
}

function groupedBars(groups, series, { label, unit, format = shortNumber }) {
  // groups: names on the x axis; series: [{name, values: {group: number}}]
  const W = 860, H = 340, L = 96, R = 16, B = 110;
  const T = 34 + 16 * Math.floor((series.length - 1) / 5);
  const root = chartFrame(W, H, label);
  const max = niceMax(Math.max(0, ...series.flatMap((s) => groups.map((g) => s.values[g] || 0))));
  const plotW = W - L - R, plotH = H - T - B;
  const y = (v) => T + plotH - (v / max) * plotH;
  for (const t of ticks(max)) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(t), y2: y(t), class: "grid" }));
    root.append(svg("text", { x: L - 6, y: y(t) + 4, class: "tick end" }, format(t)));
  }
  root.append(svg("text", { x: 40, y: T + plotH / 2, class: "axis-label", transform: `rotate(-90 40 ${T + plotH / 2})` }, unit));
  const groupW = plotW / Math.max(1, groups.length);
  const barW = (groupW * 0.8) / Math.max(1, series.length);
  groups.forEach((g, gi) => {
    series.forEach((s, si) => {
      const v = s.values[g] || 0;
      const x = L + gi * groupW + groupW * 0.1 + si * barW;
      const bar = svg("rect", { x, y: y(v), width: Math.max(1, barW - 1), height: T + plotH - y(v), fill: COLORS[si % COLORS.length] });
      bar.append(svg("title", {}, `${g} · ${s.name}: ${format(v)} ${unit}`));
      root.append(bar);
    });
    const name = g.length > 24 ? `${g.slice(0, 23)}…` : g;
    const lx = L + gi * groupW + groupW / 2, ly = T + plotH + 14;
    const text = svg("text", { x: lx, y: ly, class: "tick end", transform: `rotate(-25 ${lx} ${ly})` }, name);
    text.append(svg("title", {}, g));
    root.append(text);
  });
  root.append(svg("line", { x1: L, x2: W - R, y1: T + plotH, y2: T + plotH, class: "axis" }));
  series.forEach((s, i) => {
    const x = L + (i % 5) * 150, row = Math.floor(i / 5);
    root.append(svg("rect", { x, y: 8 + row * 16, width: 12, height: 12, fill: COLORS[i % COLORS.length] }));
    root.append(svg("text", { x: x + 17, y: 18 + row * 16, class: "legend" }, s.name));
  });
  return root;
}

function shareBar(share) {
  const root = svg("svg", { viewBox: "0 0 100 10", class: "share", role: "img", "aria-label": fmt.share(share) });
  root.append(svg("rect", { x: 0, y: 0, width: 100, height: 10, class: "share-bg" }));
  root.append(svg("rect", { x: 0, y: 0, width: Math.max(0, Math.min(1, share)) * 100, height: 10, class: "share-fg" }));
  return root;
}

function reliabilityChart(rows) {
  const W = 420, H = 320, L = 56, R = 16, T = 20, B = 46;
  const root = chartFrame(W, H, "Predicted against observed conversion rate per bin of held-out sessions");
  const max = niceMax(Math.max(0.01, ...rows.flatMap((r) => [r.predicted, r.observed])));
  const plotW = W - L - R, plotH = H - T - B;
  const x = (v) => L + (v / max) * plotW;
  const y = (v) => T + plotH - (v / max) * plotH;
  for (const t of ticks(max)) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(t), y2: y(t), class: "grid" }));
    root.append(svg("text", { x: L - 6, y: y(t) + 4, class: "tick end" }, fmt.share(t)));
    root.append(svg("text", { x: x(t), y: H - B + 16, class: "tick middle" }, fmt.share(t)));
  }
  root.append(svg("line", { x1: x(0), y1: y(0), x2: x(max), y2: y(max), class: "diagonal" }));
  for (const r of rows) {
    const dot = svg("circle", { cx: x(r.predicted), cy: y(r.observed), r: 5, class: "dot" });
    dot.append(svg("title", {}, `predicted ${fmt.pct(r.predicted)}, observed ${fmt.pct(r.observed)} (${fmt.int(r.sessions)} sessions)`));
    root.append(dot);
  }
  root.append(svg("text", { x: L + plotW / 2, y: H - 8, class: "axis-label middle" }, "predicted conversion rate"));
  root.append(svg("text", { x: 12, y: T + plotH / 2, class: "axis-label", transform: `rotate(-90 12 ${T + plotH / 2})` }, "observed"));
  return root;
}

// --- sections -------------------------------------------------------------------------------------------------

const state = { report: null, currentTotal: null, lastTotal: null };

function tile(id, label, value, sub = null) {
  return el("div", { class: "tile" }, el("div", { class: "tile-label" }, label), el("div", { class: "tile-value", id }, value), sub ? el("div", { class: "range" }, sub) : null);
}

async function loadOverview() {
  const period = document.getElementById("overview-period");
  const tiles = document.getElementById("overview-tiles");
  try {
    const report = await api("/v1/reports/effectiveness");
    state.report = report;
    const t = report.totals;
    period.textContent = `${report.since} to ${report.until} (UTC days). Ranges are ${Math.round(report.confidence * 100)} % intervals.`;
    tiles.replaceChildren(
      tile("total-sessions", "Sessions", fmt.int(t.sessions)),
      tile("total-conversions", "Conversions", fmt.int(t.conversions)),
      tile("total-cr", "Conversion rate", fmt.pct(t.conversion_rate), range(t.conversion_rate_interval, fmt.pct)),
      tile("total-value", "Conversion value", fmt.money(t.value), range(t.value_interval, fmt.money)),
      tile("total-spend", "Spend", fmt.money(t.spend)),
      tile("total-cpa", "CPA (spend per conversion)", fmt.money(t.cpa), range(t.cpa_interval, fmt.money)),
      tile("total-roas", "ROAS (value per unit spent)", fmt.ratio(t.roas), range(t.roas_interval, fmt.ratio)),
    );
    const rows = report.rows.map((r) => ({
      attrs: { "data-campaign": r.campaign_id ?? "" },
      cells: [
        el("th", { scope: "row" }, r.campaign_id ?? "no campaign (organic, direct, referral)"),
        r.channel ?? "—",
        cell(fmt.int(r.sessions), { class: "num sessions" }),
        cell(fmt.int(r.conversions), { class: "num conversions" }),
        cell(fmt.pct(r.conversion_rate), { class: "num" }, range(r.conversion_rate_interval, fmt.pct)),
        cell(fmt.money(r.spend), { class: "num" }),
        cell(fmt.money(r.cpa), { class: "num" }, r.spend ? range(r.cpa_interval, fmt.money) : null),
        cell(fmt.ratio(r.roas), { class: "num" }, r.spend ? range(r.roas_interval, fmt.ratio) : null),
      ],
    }));
    document.getElementById("campaign-table").replaceChildren(
      table(["Campaign", "Channel", "Sessions", "Conversions", "Conversion rate", "Spend", "CPA", "ROAS"], rows, { id: "campaigns" }),
    );
    document.getElementById("overview-warnings").replaceChildren(...report.warnings.map((w) => el("li", {}, w)));
    const trend = await api(`/dashboard/api/trend?since=${encodeURIComponent(report.since)}&until=${encodeURIComponent(report.until)}`);
    document.getElementById("trend-chart").replaceChildren(trendChart(trend.days));
  } catch (error) {
    period.textContent = "";
    showError(tiles, error);
  }
  return state.report;
}

async function loadCreatives(campaign) {
  const body = document.getElementById("creative-body");
  body.replaceChildren(el("p", { class: "empty" }, "Loading…"));
  try {
    const result = await api(`/v1/recommendations/creatives?campaign=${encodeURIComponent(campaign)}`);
    const verdict = result.campaigns.find((c) => c.campaign_id === campaign);
    const parts = [];
    if (verdict) parts.push(el("p", { class: "verdict" }, verdict.sentence));
    const recs = result.recommendations.filter((r) => r.campaign_id === campaign);
    const overall = recs.find((r) => r.segment === "all") || recs[0];
    const creativeTable = (rec) =>
      table(
        ["Creative", "Sessions", "Conversions", "Conversion rate (estimate)", "Chance to be best", "Recommended split", "Action"],
        rec.creatives.map((c) => ({
          attrs: { "data-creative": c.creative_id },
          cells: [
            el("th", { scope: "row" }, c.creative_id),
            cell(fmt.int(c.sessions), { class: "num" }),
            cell(fmt.int(c.conversions), { class: "num" }),
            cell(fmt.pct(c.posterior_mean), { class: "num" }, range([c.ci_low, c.ci_high], fmt.pct)),
            cell(fmt.share(c.chance_to_be_best), { class: "num" }),
            el("td", { class: "split" }, shareBar(c.share), el("span", { class: "share-text" }, fmt.share(c.share))),
            cell(ACTIONS[c.action] || String(c.action).replaceAll("_", " ")),
          ],
        })),
        { class: "creatives" },
      );
    if (overall) {
      parts.push(el("h3", {}, "All traffic"), creativeTable(overall), list(overall.sentences || []));
      const segments = recs.filter((r) => r !== overall);
      if (segments.length) {
        const details = el("details", {}, el("summary", {}, `By ${result.segment_by} (${segments.length} segments)`));
        for (const rec of segments) details.append(el("h4", {}, rec.segment), creativeTable(rec));
        parts.push(details);
      }
    } else {
      parts.push(el("p", { class: "empty" }, "Not enough data yet: no sessions with a creative in this campaign."));
    }
    const w = warnings(result.warnings);
    if (w) parts.push(w);
    body.replaceChildren(...parts);
  } catch (error) {
    showError(body, error);
  }
}

function setupCreatives(report) {
  const select = document.getElementById("creative-campaign");
  const campaigns = (report ? report.rows : []).map((r) => r.campaign_id).filter((c) => c);
  if (!campaigns.length) {
    document.getElementById("creative-body").replaceChildren(el("p", { class: "empty" }, "Not enough data yet: no campaign has sessions."));
    return;
  }
  select.replaceChildren(...campaigns.map((c) => el("option", { value: c }, c)));
  select.addEventListener("change", () => loadCreatives(select.value));
  loadCreatives(campaigns[0]);
}

async function loadBudget(total) {
  const body = document.getElementById("budget-body");
  const curves = document.getElementById("budget-curves");
  const input = document.getElementById("budget-total");
  input.value = String(Math.round(total * 100) / 100);
  state.lastTotal = total;
  body.setAttribute("aria-busy", "true");
  const query = `total=${encodeURIComponent(total.toFixed(2))}`;
  try {
    const r = await api(`/v1/recommendations/budget?${query}`);
    if (state.lastTotal !== total) return; // a newer request is on its way
    state.currentTotal = r.current_total;
    const per = `per ${r.period}`;
    const parts = [
      el("p", { class: "summary", id: "budget-summary" },
        `Split ${fmt.money(r.total)} ${per}: about ${fmt.one(r.expected_outcome_recommended)} ${r.outcome} ${per} `,
        `(90 % interval ${range(r.expected_outcome_interval, fmt.one)}), `,
        `${fmt.one(r.expected_gain)} more than today's split at this total (${range(r.expected_gain_interval, fmt.one)}). `,
        `Today you spend ${fmt.money(r.current_total)} ${per}.`),
    ];
    if (r.gain_uncertain) parts.push(el("p", { class: "notice" }, "The gain is uncertain: its interval includes no gain at all."));
    const names = r.campaigns.map((c) => c.campaign_id);
    parts.push(
      groupedBars(names, [
        { name: `today (${per})`, values: Object.fromEntries(r.campaigns.map((c) => [c.campaign_id, c.current_spend])) },
        { name: `recommended (${per})`, values: Object.fromEntries(r.campaigns.map((c) => [c.campaign_id, c.recommended_spend])) },
      ], { label: "Spend per campaign: today and recommended", unit: `spend ${per}` }),
    );
    parts.push(
      table(
        ["Campaign", `Today (${per})`, "Today's split of this total", `Recommended (${per})`, "Change vs today's split", `Expected ${r.outcome} (${per})`],
        r.campaigns.map((c) => ({
          attrs: { "data-campaign": c.campaign_id },
          cells: [
            el("th", { scope: "row" }, c.campaign_id),
            cell(fmt.money(c.current_spend), { class: "num" }),
            cell(fmt.money(c.baseline_spend), { class: "num" }),
            cell(fmt.money(c.recommended_spend), { class: "num recommended", "data-value": c.recommended_spend }),
            cell(`${c.change >= 0 ? "+" : ""}${fmt.money(c.change)}`, { class: "num" }),
            cell(fmt.one(c.expected_outcome_recommended), { class: "num" }, range(c.expected_outcome_interval, fmt.one)),
          ],
        })),
        { id: "allocation" },
      ),
    );
    if (r.sentences && r.sentences.length) parts.push(el("h3", {}, "Moves"), list(r.sentences, { class: "sentences" }));
    const w = warnings(r.warnings, "thing to know before acting", "things to know before acting");
    if (w) parts.push(w);
    body.replaceChildren(...parts);
    body.setAttribute("data-total", String(r.total));
    const img = el("img", { src: `/v1/recommendations/budget/curves.png?${query}`, alt: "Response curve of each campaign with today's and the recommended spend", id: "curves-img" });
    curves.replaceChildren(img);
  } catch (error) {
    showError(body, error);
    body.setAttribute("data-total", "error");
    curves.replaceChildren();
  } finally {
    body.removeAttribute("aria-busy");
  }
}

function setupBudget(report) {
  const form = document.getElementById("budget-form");
  const input = document.getElementById("budget-total");
  const t = report ? report.totals : null;
  if (!t || !t.spend) {
    form.hidden = true;
    document.getElementById("budget-body").replaceChildren(
      el("p", { class: "empty" }, "Not enough data yet: no spend recorded. Import spend (PUT /v1/spend or `xmo spend import`) to get a budget recommendation."),
    );
    return;
  }
  const days = (Date.parse(report.until) - Date.parse(report.since)) / 86400000 + 1;
  const weekly = (t.spend / days) * 7;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = Number(input.value);
    if (value > 0) loadBudget(value);
  });
  document.getElementById("budget-minus").addEventListener("click", () => loadBudget((state.lastTotal || weekly) * 0.8));
  document.getElementById("budget-plus").addEventListener("click", () => loadBudget((state.lastTotal || weekly) * 1.2));
  document.getElementById("budget-today").addEventListener("click", () => loadBudget(state.currentTotal || weekly));
  loadBudget(weekly);
}

async function loadAttribution(level) {
  const body = document.getElementById("attribution-body");
  body.replaceChildren(el("p", { class: "empty" }, "Loading…"));
  try {
    const r = await api(`/v1/attribution?model=all&by=${encodeURIComponent(level)}`);
    const models = Object.keys(r.models);
    const key = (c) => c.channel ?? c.campaign_id ?? c.campaign ?? "unknown";
    const groups = [];
    for (const m of models) for (const c of r.models[m].credits) if (!groups.includes(key(c))) groups.push(key(c));
    const series = models.map((m) => ({ name: m, values: Object.fromEntries(r.models[m].credits.map((c) => [key(c), c.conversions])) }));
    const notes = [...new Set(models.flatMap((m) => r.models[m].notes || []))];
    body.replaceChildren(
      el("p", { class: "summary" }, `${fmt.int(r.conversions)} conversions from ${fmt.int(r.journeys)} journeys (${r.lookback_days}-day lookback), credited by ${models.length} models.`),
      groupedBars(groups, series, { label: `Conversions credited per ${level} by each model`, unit: "conversions", format: (v) => fmt.one(v) }),
      table(
        [level === "channel" ? "Channel" : "Campaign", ...models],
        groups.map((g) => ({ attrs: { "data-group": g }, cells: [el("th", { scope: "row" }, g), ...series.map((s) => cell(fmt.one(s.values[g] || 0), { class: "num" }))] })),
        { id: "attribution-table" },
      ),
      notes.length ? list(notes, { class: "notes" }) : null,
    );
  } catch (error) {
    showError(body, error);
  }
}

async function loadModel(clientId) {
  const body = document.getElementById("model-body");
  try {
    const [models, health] = await Promise.all([api("/v1/models"), api("/dashboard/api/model-health")]);
    const champion = models.champion;
    if (!champion) {
      body.replaceChildren(el("p", { class: "empty" }, `Not enough data yet: no model scores your sessions. Train one with \`xmo train ${clientId}\`.`));
      return;
    }
    const m = health.metrics || {};
    body.replaceChildren(
      el("div", { class: "tiles" },
        tile("model-version", "Version", `v${champion.version}`, `${champion.name} (${champion.alias})`),
        tile("model-auc", "AUC (0.5 = guessing, 1 = perfect)", fmt.num(m.roc_auc)),
        tile("model-ece", "Calibration error (ECE)", fmt.pct(m.ece), "gap between predicted and observed rates"),
        tile("model-logloss", "Log loss (lower is better)", fmt.num(m.log_loss)),
        tile("model-brier", "Brier score (lower is better)", fmt.num(m.brier, 4)),
        tile("model-lift", "Lift in the top 10 %", fmt.ratio(m.lift_at_10)),
        tile("model-tested", "Held-out sessions", fmt.int(m.sessions)),
      ),
      el("p", { class: "hint" }, `Loaded ${champion.loaded_at}; trained ${health.champion ? health.champion.trained_at ?? "n/a" : "n/a"}.`),
      el("h3", {}, "Calibration"),
      health.calibration && health.calibration.length
        ? el("div", { class: "chart small" }, reliabilityChart(health.calibration),
            el("p", { class: "hint" }, "Each dot is a tenth of the held-out sessions: near the diagonal, predicted rates match what happened."))
        : el("p", { class: "empty" }, "No calibration table was logged for this model."),
    );
  } catch (error) {
    showError(body, error);
  }
}

async function main() {
  const clientId = document.body.dataset.clientId || "";
  const report = await loadOverview();
  setupCreatives(report);
  setupBudget(report);
  const level = document.getElementById("attribution-level");
  level.addEventListener("change", () => loadAttribution(level.value));
  await Promise.all([loadAttribution(level.value), loadModel(clientId)]);
  document.body.setAttribute("data-ready", "true");
}

main();
