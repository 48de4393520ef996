// Creatives: per campaign, the verdict, the winner per device (visible at once), and every creative's shrunk
// estimate, chance it is best, recommended split and action.

import { api, cell, el, list, loading, showProblem, table, warnings } from "./dom.js";
import { fmt, range } from "./format.js";

const ACTIONS = {
  scale: "winner: give it the traffic",
  keep: "keep (as good as the leader)",
  keep_testing: "keep testing",
  pause: "pause it",
};
const DECISIONS = { run: "run it", equivalent: "about the same as the others", not_enough_data: "not enough data yet: keep testing", single_creative: "only creative" };
const SHRUNK = "Rates are shrunk estimates: each creative's rate is pulled toward its campaign's average until its own sessions outweigh it, so a lucky small sample does not look like a winner.";

function shareBar(share) {
  const bar = el("span", { class: "share", role: "img", "aria-label": fmt.share(share) }, el("span", { class: "share-fg" }));
  bar.firstChild.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return bar;
}

function creativeTable(rec) {
  return table(
    ["Creative", "Sessions", "Conversions", "Conversion rate (shrunk estimate, 95 % range)", "Chance it is best", "Recommended split", "Action"],
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
}

/** The winner per segment (device by default), right under the campaign's verdict. */
function segmentWinners(segmentBy, segments) {
  return table(
    [segmentBy === "device" ? "Device" : segmentBy, "Run this creative", "Chance it is best", "Sessions", "Verdict"],
    segments.map((r) => ({
      attrs: { "data-segment": r.segment },
      cells: [
        el("th", { scope: "row" }, r.segment),
        cell(r.best_creative_id, { class: "winner" }),
        cell(fmt.share(r.chance_to_be_best), { class: "num" }),
        cell(fmt.int(r.sessions), { class: "num" }),
        cell(DECISIONS[r.decision] || String(r.decision).replaceAll("_", " ")),
      ],
    })),
    { id: "segment-winners", class: "compact" },
  );
}

async function loadCreatives(campaign) {
  const body = document.getElementById("creative-body");
  body.replaceChildren(loading());
  try {
    const result = await api(`/v1/recommendations/creatives?campaign=${encodeURIComponent(campaign)}`);
    const verdict = result.campaigns.find((c) => c.campaign_id === campaign);
    const recs = result.recommendations.filter((r) => r.campaign_id === campaign);
    const overall = recs.find((r) => r.segment === "all") || recs[0];
    const segments = recs.filter((r) => r !== overall);
    const parts = [];
    if (verdict) parts.push(el("p", { class: "verdict" }, verdict.sentence));
    if (segments.length) parts.push(el("h3", {}, `Winner per ${result.segment_by}`), segmentWinners(result.segment_by, segments));
    if (overall) {
      const shrunk = verdict && verdict.shrinkage ? `Shrunk estimates: ${verdict.shrinkage}` : SHRUNK;
      parts.push(el("h3", {}, "All traffic"), el("p", { class: "hint", id: "shrunk-note" }, shrunk), creativeTable(overall), list(overall.sentences || []));
      if (segments.length) {
        const details = el("details", {}, el("summary", {}, `Every creative per ${result.segment_by} (${segments.length} tables)`));
        for (const rec of segments) details.append(el("h4", {}, rec.segment), creativeTable(rec));
        parts.push(details);
      }
    } else {
      parts.push(el("p", { class: "empty", role: "status" }, "No sessions with a creative (utm_content) in this campaign yet."));
    }
    parts.push(warnings(result.warnings));
    body.replaceChildren(...parts.filter((p) => p));
  } catch (error) {
    showProblem(body, error, "creative recommendation");
  }
}

/** Fill the campaign picker (from the overview's report, else from the creatives route) and show the first. */
export async function setupCreatives(report) {
  const select = document.getElementById("creative-campaign");
  const body = document.getElementById("creative-body");
  let campaigns = (report ? report.rows : []).map((r) => r.campaign_id).filter((c) => c);
  if (!report) {
    try {
      campaigns = (await api("/v1/recommendations/creatives")).campaigns.map((c) => c.campaign_id);
    } catch (error) {
      showProblem(body, error, "creative recommendations");
      return;
    }
  }
  if (!campaigns.length) {
    body.replaceChildren(el("p", { class: "empty", role: "status" }, "No campaign has sessions in this period."));
    return;
  }
  select.replaceChildren(...campaigns.map((c) => el("option", { value: c }, c)));
  select.addEventListener("change", () => loadCreatives(select.value));
  await loadCreatives(campaigns[0]);
}
