// The first-run panel: what a client with no sessions yet does to fill the dashboard (the real commands).

import { el } from "./dom.js";

function step(title, ...body) {
  return el("li", {}, el("strong", {}, title), " ", ...body);
}

function code(text, attrs = {}) {
  return el("code", attrs, text);
}

/** Replace the sections with one full-width panel of first steps for ``clientId``. */
export function showFirstRun(clientId) {
  const origin = window.location.origin;
  const pixel = `<img src="${origin}/t.gif?k=SITE_KEY" width="1" height="1" alt="" referrerpolicy="no-referrer-when-downgrade">`;
  const panel = el("section", { id: "first-run", class: "first-run", "aria-labelledby": "first-run-title" },
    el("h2", { id: "first-run-title" }, "No sessions yet: three steps to fill this dashboard"),
    el("p", { class: "lead" }, "This page fills in as soon as visits reach xmo. Until then there is nothing to report, recommend or score."),
    el("ol", { class: "steps" },
      step("Put the pixel on every page of your site.",
        "It is the tag ", code("xmo client create"), " printed with your site key (ask whoever runs xmo if you do not have it):",
        el("pre", {}, code(pixel, { id: "pixel-tag" })),
        "Add ", code("&debug=1"), " to its address while installing: the answer's X-Xmo-Hit header says whether a hit was accepted or why it was dropped."),
      step("Import your ad spend",
        "(a CSV of date, campaign, spend per day) so that CPA, ROAS and the budget plan can be worked out:",
        el("pre", {}, code(`xmo spend import ${clientId} spend.csv`))),
      step("Optionally, import past events",
        "from another tracker, and train the conversion model once sessions are in:",
        el("pre", {}, code(`xmo import events ${clientId} events.csv`), "\n", code(`xmo train ${clientId}`))),
    ),
    el("p", { class: "hint" }, "Reload this page after the first visits: sessions appear within minutes."),
  );
  const main = document.querySelector("main");
  main.replaceChildren(panel);
  document.querySelector("header nav").hidden = true; // its sections are not there yet
  document.body.classList.add("first-run-mode");
}
