// The xmo dashboard: reads the view (date range, budget period) from the URL, then fills each section from the API.

import { loadAttribution } from "./attribution.js";
import { setupBudget } from "./budget.js";
import { setupCreatives } from "./creatives.js";
import { showFirstRun } from "./firstrun.js";
import { useCurrency } from "./format.js";
import { loadMediaMix } from "./mediamix.js";
import { loadModel } from "./model.js";
import { loadOverview } from "./overview.js";

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const PERIODS = ["week", "month"];

/** The view in the URL: ?since=YYYY-MM-DD&until=YYYY-MM-DD&period=week|month (anything else is left out). */
function readView() {
  const params = new URLSearchParams(window.location.search);
  const day = (name) => (DAY.test(params.get(name) || "") ? params.get(name) : "");
  const period = params.get("period");
  return { since: day("since"), until: day("until"), period: PERIODS.includes(period) ? period : "week" };
}

function writeView(view) {
  const params = new URLSearchParams();
  if (view.since) params.set("since", view.since);
  if (view.until) params.set("until", view.until);
  if (view.period !== "week") params.set("period", view.period);
  const search = params.toString();
  window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
}

function setupRange(view) {
  document.getElementById("since").value = view.since;
  document.getElementById("until").value = view.until;
  document.getElementById("range-period").value = view.period;
  // The form submits with GET to "/": the range lands in the URL, so a reload or a shared link keeps it
}

function setupCurrency() {
  const code = useCurrency(document.body.dataset.currency || "");
  document.getElementById("currency-note").textContent = code
    ? `Amounts are in ${code}.`
    : "Amounts are plain numbers in the currency your spend was imported in (no currency is set for this client).";
}

async function main() {
  const clientId = document.body.dataset.clientId || "";
  const view = readView();
  setupCurrency();
  setupRange(view);
  const overview = await loadOverview(view);
  if (overview.firstRun) {
    // No sessions yet; a client with KPI and spend series still sees its media mix under the first steps
    const mediamix = document.getElementById("mediamix");
    showFirstRun(clientId);
    document.querySelector("main").append(mediamix);
    if (!(await loadMediaMix(clientId))) mediamix.remove();
    document.body.setAttribute("data-ready", "true");
    return;
  }
  const level = document.getElementById("attribution-level");
  level.addEventListener("change", () => loadAttribution(level.value, view));
  await Promise.all([
    setupCreatives(overview.report),
    setupBudget(view, (period) => {
      view.period = period;
      document.getElementById("range-period").value = period;
      writeView(view);
    }),
    loadAttribution(level.value, view),
    loadModel(clientId),
    loadMediaMix(clientId),
  ]);
  document.body.setAttribute("data-ready", "true");
}

main();
