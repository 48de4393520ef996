// Experiments: the client's geo tests, on/off tests and visitor holdouts (GET /v1/experiments), running ones
// first, then finished ones, and the latest read of the one selected (GET /v1/experiments/{id}/analysis while it
// runs, the stored result once stopped): incremental conversions and revenue with their ranges, ROI, whether the
// read is interim, and the lift test it became for the media-mix model. Loaded by its own script tag.

import { chartBox, COLORS, GREY } from "./charts.js";
import { ApiError, api, cell, el, problem, table, tile, warnings } from "./dom.js";
import { dayText, fmt, missing } from "./format.js";

const TYPE_TEXT = { geo: "geo test", time: "on/off test", holdout: "visitor holdout" };
const ACTION_TEXT = { raise: "spend raised", pause: "paused" };
const METRIC_TEXT = { conversions: "conversions", revenue: "revenue" };

function pctText(level) {
  return `${Math.round((level ?? 0.9) * 100)} % range`;
}

function signedShare(v) {
  return missing(v) ? "n/a" : `${v >= 0 ? "+" : "−"}${Math.round(Math.abs(v) * 1000) / 10} %`;
}

/** How to show a metric's amounts: money for revenue, one decimal for counts. */
function show(metric) {
  if (metric === "revenue") return { text: fmt.money, axis: fmt.compactMoney };
  return { text: fmt.one, axis: fmt.short };
}

function signed(format) {
  return (v) => (missing(v) ? "n/a" : `${v >= 0 ? "+" : "−"}${format(Math.abs(v))}`);
}

function rangeText(low, high, format) {
  return missing(low) || missing(high) ? "range n/a" : `${format(low)} to ${format(high)}`;
}

function noExperiments(clientId) {
  return el("div", { class: "empty", role: "status", id: "experiments-none" },
    el("p", {}, el("strong", {}, "No experiments yet. "),
      "An experiment measures what a channel really adds: design one on your own history (groups, dates, power), then start it:"),
    el("pre", {},
      el("code", {}, `xmo experiment design ${clientId} --type holdout --channel email --lift 0.1 --weeks 4`), "\n",
      el("code", {}, `xmo experiment start ${clientId} --type holdout --channel email --weeks 4`)),
    el("p", { class: "hint" }, "--type geo splits your regions into test and control; --type time pauses or raises a channel for some weeks. The API does the same: POST /v1/experiments/design, then POST /v1/experiments."));
}

/** The stored result's estimate of the test's own KPI, for the list. */
function resultText(e) {
  const m = e.result && e.result.metrics ? e.result.metrics[e.kpi] : null;
  if (!m) return "";
  const f = show(e.kpi).text;
  return `${signed(f)(m.incremental)} ${e.kpi}`;
}

function listTable(experiments, onSelect) {
  return table(["Test", "Channel", "Dates", "Status", "Planned lift", "Power", "Result", "Read"],
    experiments.map((e) => {
      const design = e.design || {};
      const button = el("button", { type: "button", class: "experiment-pick", "aria-pressed": "false", "data-experiment": e.experiment_id }, "Show read");
      button.addEventListener("click", () => onSelect(e));
      const result = resultText(e);
      const m = e.result && e.result.metrics ? e.result.metrics[e.kpi] : null;
      return {
        attrs: { "data-experiment": e.experiment_id, "data-status": e.status },
        cells: [
          el("th", { scope: "row" }, e.experiment_id, el("span", { class: "badge" }, TYPE_TEXT[e.type] ?? e.type)),
          cell(`${e.channel}${e.campaign_id ? ` / ${e.campaign_id}` : ""}`, {}, ACTION_TEXT[e.action] ?? e.action),
          cell(`${dayText(e.start_date)} – ${dayText(e.stop_date || e.end_date)}`, { class: "dates" }, `${e.weeks} ${e.weeks === 1 ? "week" : "weeks"} planned`),
          cell(e.status === "running" ? "running" : "finished", { class: `status ${e.status}` }, e.stopped_at ? `stopped ${dayText(e.stopped_at.slice(0, 10))}` : null),
          cell(signedShare(e.lift), { class: "num" }),
          cell(fmt.share(design.power), { class: "num" }, missing(design.minimum_detectable_lift) ? null : `detects ${signedShare(design.minimum_detectable_lift)}`),
          cell(result || "–", { class: "num" }, m ? rangeText(m.low, m.high, show(e.kpi).text) : null),
          el("td", {}, button),
        ],
      };
    }), { id: "experiments-table" });
}

/** Each metric's incremental effect: the estimate as a dot on its range (and the always-valid range, and the range
 * without CUPED, for a holdout), zero marked. */
function effectChart(id, name, m, level) {
  const rows = [[[pctText(level)], m.low, m.high, COLORS[0]]];
  if (!missing(m.always_valid_low)) rows.push([["range valid at", "every daily look"], m.always_valid_low, m.always_valid_high, COLORS[1]]);
  if (!missing(m.raw_low)) rows.push([[pctText(level), "without CUPED"], m.raw_low, m.raw_high, GREY]);
  const f = show(name);
  const labels = rows.map((r) => r[0]); // lines of each label
  const ends = rows.flatMap((r) => [r[1], r[2]]).filter((v) => !missing(v));
  return chartBox(id, `Incremental ${name}: the estimate on its ${labels.map((l) => l.join(" ")).join(", ")}`, {
    type: "bar",
    data: {
      labels,
      datasets: [
        { type: "bar", label: "range", data: rows.map((r) => [r[1], r[2]]), backgroundColor: rows.map((r) => r[3] + "55"), borderColor: rows.map((r) => r[3]), borderWidth: 1, barPercentage: 0.6, order: 2 },
        { type: "scatter", label: "estimate", data: labels.map((_, i) => ({ x: m.incremental, y: i })), backgroundColor: "#1f2328", pointRadius: 5, pointStyle: "rectRot", order: 1 },
      ],
    },
    options: {
      indexAxis: "y",
      scales: {
        x: { suggestedMin: Math.min(0, ...ends), suggestedMax: Math.max(0, ...ends), grid: { color: (c) => (c.tick && c.tick.value === 0 ? "#57606a" : "#d0d7de") }, title: { display: true, text: `incremental ${name}` }, ticks: { callback: (v) => f.axis(v), maxTicksLimit: 6 } },
        y: { type: "category", labels },
      },
      plugins: {
        legend: { display: false },
        title: { display: true, text: `Incremental ${name}` },
        tooltip: { callbacks: { label: (c) => (c.dataset.type === "scatter" ? `estimate: ${f.text(c.parsed.x)}` : `${labels[c.dataIndex].join(" ")}: ${rangeText(c.raw[0], c.raw[1], f.text)}`) } },
      },
    },
  }, { height: 80 + 40 * rows.length, points: rows.length });
}

/** POST to a route with the session cookie (the page's own origin), with an optional JSON body; a failure throws an
 * ApiError as api() does. */
async function post(path, body = null) {
  const headers = { Accept: "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method: "POST", credentials: "same-origin", headers, body: body ? JSON.stringify(body) : null });
  if (response.status === 401) {
    window.location.assign("/sign-in");
    throw new ApiError("signed out", 401, "unauthorized");
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = answer && answer.error ? answer.error : {};
    throw new ApiError(error.message || `the server answered ${response.status}`, response.status, error.code);
  }
  return answer;
}

/** A button that stops the test after a second click (the read up to yesterday becomes its result). */
function stopButton(e, clientId) {
  const button = el("button", { type: "button", id: "experiment-stop" }, "Stop this test now");
  const note = el("span", { class: "hint", id: "experiment-stop-note" });
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = "Click again to stop it and keep this read";
      return;
    }
    button.disabled = true;
    note.textContent = " Stopping…";
    try {
      await post(`/v1/experiments/${encodeURIComponent(e.experiment_id)}/stop`);
      await loadExperiments(clientId, e.experiment_id);
    } catch (error) {
      button.replaceWith(problem(error, "stop of this test"));
      note.textContent = "";
    }
  });
  return el("p", { class: "actions" }, button, note);
}

function handoffPart(e, clientId) {
  if (e.status === "running") {
    return el("div", { id: "experiment-handoff" },
      el("p", { class: "hint" },
        "When it stops, this test becomes a lift test that calibrates the media-mix model (no extra step). Stop it here, or with ",
        el("code", {}, `xmo experiment stop ${clientId} ${e.experiment_id}`), "."),
      stopButton(e, clientId));
  }
  const handoff = (e.result && e.result.handoff) || {};
  if (handoff.lift_test_id) {
    return el("p", { class: "notice", id: "experiment-handoff" },
      `Handed to the media-mix model as lift test ${handoff.lift_test_id}: it calibrates ${e.channel}'s return at the next fit (`,
      el("code", {}, `xmo lift list ${clientId}`), ").");
  }
  return el("p", { class: "notice", id: "experiment-handoff" },
    `Not handed to the media-mix model${handoff.reason ? `: ${handoff.reason}` : "."}`);
}

function checksText(a) {
  if (a.sample_ratio) {
    const s = a.sample_ratio;
    return s.ok
      ? `Group sizes as planned: ${fmt.share(s.observed_holdout_share)} of visitors held out (planned ${fmt.share(s.expected_holdout_share)}).`
      : `The groups' sizes differ from the plan (${fmt.share(s.observed_holdout_share)} held out, planned ${fmt.share(s.expected_holdout_share)}): check that every page carries the pixel before trusting this read.`;
  }
  if (!missing(a.placebo_false_positive_rate)) {
    return `Placebo check: fake tests on the history before the test found an effect ${fmt.share(a.placebo_false_positive_rate)} of the time (${fmt.int(a.n_placebos)} tries; about ${fmt.share(1 - a.level)} expected).`;
  }
  return null;
}

function readPart(e, a, clientId) {
  const level = a.level;
  const metricNames = Object.keys(a.metrics);
  const tiles = metricNames.map((name) => {
    const m = a.metrics[name];
    const f = show(name).text;
    return tile(`experiment-${name}`, `Incremental ${METRIC_TEXT[name] ?? name}`, signed(f)(m.incremental),
      `${pctText(level)}: ${rangeText(m.low, m.high, f)}`,
      missing(m.relative_lift) ? null : el("div", { class: "range" }, `${signedShare(m.relative_lift)} against ${f(m.counterfactual)} without the change`));
  });
  const roi = missing(a.roi)
    ? tile("experiment-roi", `ROI (${a.kpi} per unit of spend)`, "n/a", "no spend change was given for this test")
    : tile("experiment-roi", `ROI (${a.kpi} per unit of spend)`, fmt.ratio(a.roi), `${pctText(level)}: ${rangeText(a.roi_low, a.roi_high, fmt.ratio)}`);
  const interim = a.interim
    ? el("p", { class: "notice", id: "experiment-interim" }, el("strong", {}, "Interim read: "),
      `the test runs until ${dayText(a.planned_end)}, so this read stops at ${dayText(a.end)} and its range may still move.`,
      a.type === "holdout" ? " The range valid at every daily look is the one to act on before the end." : "")
    : el("p", { class: "hint", id: "experiment-interim" }, `Final read: ${dayText(a.start)} to ${dayText(a.end)}.`);
  const checks = checksText(a);
  return [
    el("h3", {}, `Latest read: ${e.experiment_id}`),
    interim,
    el("div", { class: "tiles" }, ...tiles, roi),
    el("div", { class: "chart-grid", id: "experiment-charts" },
      ...metricNames.map((name, i) => effectChart(`experiment-chart-${i}`, name, a.metrics[name], level))),
    checks ? el("p", { class: "hint", id: "experiment-checks" }, checks) : "",
    el("p", { class: "hint" }, `Method: ${a.method}.`),
    warnings(a.warnings, "thing to know about this read", "things to know about this read") ?? "",
    handoffPart(e, clientId),
  ];
}

async function showRead(box, e, clientId) {
  box.replaceChildren(el("p", { class: "empty loading" }, "Loading…"));
  box.dataset.experiment = e.experiment_id;
  for (const button of document.querySelectorAll("#experiments-table .experiment-pick")) {
    button.setAttribute("aria-pressed", String(button.dataset.experiment === e.experiment_id));
  }
  try {
    const a = e.status !== "running" && e.result ? e.result : await api(`/v1/experiments/${encodeURIComponent(e.experiment_id)}/analysis`);
    if (box.dataset.experiment !== e.experiment_id) return; // another test was picked meanwhile
    box.replaceChildren(...readPart(e, a, clientId));
  } catch (error) {
    if (box.dataset.experiment !== e.experiment_id) return;
    box.replaceChildren(el("h3", {}, `Latest read: ${e.experiment_id}`), problem(error, "read of this test"), handoffPart(e, clientId));
  }
}

/** Fill the section from the API: the list, then the read of test ``pick`` (default: the first, a running one when
 * any). */
export async function loadExperiments(clientId, pick = null) {
  const section = document.getElementById("experiments");
  const body = document.getElementById("experiments-body");
  if (!section || !body) return;
  try {
    const { experiments } = await api("/v1/experiments");
    if (!experiments.length) {
      body.replaceChildren(noExperiments(clientId));
    } else {
      const read = el("div", { id: "experiment-read", class: "mmm-part" });
      body.replaceChildren(
        el("p", { class: "hint" }, `Running tests first, then finished ones. Power: the chance the test detects its planned lift; ranges are ${pctText(experiments[0].level)}s.`),
        listTable(experiments, (e) => showRead(read, e, clientId)),
        read,
      );
      await showRead(read, experiments.find((e) => e.experiment_id === pick) ?? experiments[0], clientId);
    }
  } catch (error) {
    body.replaceChildren(problem(error, "experiments"));
  }
  section.dataset.ready = "true";
}

/** The form's test as the API takes it: percentages become fractions, the start only when given. */
function formRequest(form) {
  const value = (name) => form.elements[name].value;
  const request = { type: value("type"), channel: value("channel").trim(), lift: Number(value("lift")) / 100, weeks: Number(value("weeks")) };
  if (request.type === "holdout") request.holdout_share = Number(value("holdout_share")) / 100;
  if (value("start")) request.start = value("start");
  return request;
}

function regionsText(label, regions) {
  return regions && regions.length ? `${label} (${regions.length}): ${regions.join(", ")}.` : null;
}

/** The design's groups in words: regions for a geo test, the share held out for a holdout, the weeks for a time test. */
function groupsText(d) {
  const groups = d.groups || {};
  if (d.type === "geo") {
    return [regionsText(`Regions where ${d.channel} is ${ACTION_TEXT[d.action] ?? d.action}`, groups.treatment), regionsText("Control regions (unchanged)", groups.control)].filter(Boolean).join(" ");
  }
  if (d.type === "holdout") {
    return `${fmt.share(d.holdout_share)} of visitors are kept away from ${d.channel}${missing(d.units) ? "" : `; about ${fmt.int(d.units)} visitors expected over the test`}.`;
  }
  const weeks = groups.test_weeks || [];
  return `${d.channel} ${ACTION_TEXT[d.action] ?? d.action} in ${weeks.length === 1 ? "the week" : "the weeks"} of ${weeks.map((w) => dayText(w)).join(", ")}; the other weeks are the comparison.`;
}

function planPart(d, request, clientId, plan) {
  const start = el("button", { type: "button", id: "experiment-start-test" }, "Start this test");
  const note = el("span", { class: "hint" });
  const failed = el("div", { id: "experiment-start-problem" });
  start.addEventListener("click", async () => {
    start.disabled = true;
    note.textContent = " Starting…";
    failed.replaceChildren();
    try {
      const created = await post("/v1/experiments", request);
      plan.replaceChildren(el("p", { class: "notice", role: "status" }, `Started ${created.experiment_id} on ${dayText(created.start_date)}: it is selected in the list above.`));
      await loadExperiments(clientId, created.experiment_id);
    } catch (error) {
      note.textContent = "";
      start.disabled = false;
      failed.replaceChildren(problem(error, "start of this test"));
    }
  });
  const cautions = warnings(d.warnings, "warning about this plan", "warnings about this plan");
  if (cautions) cautions.open = true;
  return [
    el("h4", {}, `Plan: ${TYPE_TEXT[d.type] ?? d.type} on ${d.channel}${d.campaign_id ? ` / ${d.campaign_id}` : ""}`),
    el("p", { id: "experiment-plan-dates" }, `${dayText(d.start)} to ${dayText(d.end)} (${d.weeks} ${d.weeks === 1 ? "week" : "weeks"}), read on ${d.kpi}. `, groupsText(d)),
    el("div", { class: "tiles" },
      tile("experiment-plan-power", `Chance of detecting ${signedShare(d.lift)}`, fmt.share(d.power), `${fmt.int(d.n_simulations)} simulated tests on your history`),
      tile("experiment-plan-mdl", "Smallest lift it can detect (80 % chance)", signedShare(d.minimum_detectable_lift)),
      tile("experiment-plan-placebo", "False alarms (placebo tests, no change)", fmt.share(d.false_positive_rate), `about ${fmt.share(1 - d.level)} expected`)),
    d.notes && d.notes.length ? el("ul", { class: "hint" }, ...d.notes.map((n) => el("li", {}, n))) : "",
    cautions ?? "",
    el("p", { class: "actions" }, start, note),
    failed,
  ];
}

/** Channels to suggest: those with stored spend and those already tested (no suggestion when neither answers). */
async function suggestChannels(list) {
  const [spend, tested] = await Promise.all([api("/v1/spend").catch(() => null), api("/v1/experiments").catch(() => null)]);
  const channels = new Set([...(spend ? spend.campaigns : []), ...(tested ? tested.experiments : [])].map((c) => c.channel).filter(Boolean));
  list.replaceChildren(...[...channels].sort().map((c) => el("option", { value: c })));
}

/** The form that designs a test (POST /v1/experiments/design) and starts the plan shown (POST /v1/experiments). */
function setUpForm(clientId) {
  const form = document.getElementById("experiment-form");
  const plan = document.getElementById("experiment-plan");
  if (!form || !plan) return;
  const share = document.getElementById("experiment-share-field");
  const showShare = () => {
    share.hidden = form.elements.type.value !== "holdout";
  };
  showShare();
  form.elements.type.addEventListener("change", showShare);
  form.addEventListener("input", () => plan.replaceChildren()); // a plan shown is the plan of the fields shown
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const request = formRequest(form);
    const button = document.getElementById("experiment-design");
    button.disabled = true;
    plan.replaceChildren(el("p", { class: "empty loading" }, "Designing on your history…"));
    try {
      const d = await post("/v1/experiments/design", request);
      plan.replaceChildren(...planPart(d, request, clientId, plan));
    } catch (error) {
      plan.replaceChildren(problem(error, "design"));
    } finally {
      button.disabled = false;
    }
  });
  const channels = document.getElementById("experiment-channels");
  if (channels) suggestChannels(channels);
}

setUpForm(document.body.dataset.clientId || "");
loadExperiments(document.body.dataset.clientId || "");
