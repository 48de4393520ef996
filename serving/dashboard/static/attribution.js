// Attribution: conversions credited to each channel or campaign by every attribution model, in the date range.

import { barChart } from "./charts.js";
import { api, cell, el, list, loading, showProblem, table } from "./dom.js";
import { fmt } from "./format.js";
import { rangeQuery } from "./overview.js";

export async function loadAttribution(level, view) {
  const body = document.getElementById("attribution-body");
  body.replaceChildren(loading());
  const range = rangeQuery(view.since, view.until);
  try {
    const r = await api(`/v1/attribution?model=all&by=${encodeURIComponent(level)}${range ? `&${range}` : ""}`);
    const models = Object.keys(r.models);
    const key = (c) => c.channel ?? c.campaign_id ?? c.campaign ?? "unknown";
    const groups = [];
    for (const m of models) for (const c of r.models[m].credits) if (!groups.includes(key(c))) groups.push(key(c));
    const series = models.map((m) => ({ name: m, values: Object.fromEntries(r.models[m].credits.map((c) => [key(c), c.conversions])) }));
    const notes = [...new Set(models.flatMap((m) => r.models[m].notes || []))];
    body.replaceChildren(
      el("p", { class: "summary" }, `${fmt.int(r.conversions)} conversions from ${fmt.int(r.journeys)} journeys (${r.lookback_days}-day lookback), credited by ${models.length} models.`),
      barChart("attribution-canvas", groups, series, { label: `Conversions credited per ${level} by each model`, unit: "conversions", format: (v) => fmt.one(v) }),
      table(
        [level === "channel" ? "Channel" : "Campaign", ...models],
        groups.map((g) => ({ attrs: { "data-group": g }, cells: [el("th", { scope: "row" }, g), ...series.map((s) => cell(fmt.one(s.values[g] || 0), { class: "num" }))] })),
        { id: "attribution-table" },
      ),
      notes.length ? list(notes, { class: "notes" }) : "",
    );
  } catch (error) {
    showProblem(body, error, "attribution");
  }
}
