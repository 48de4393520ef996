// Model health: the champion that scores the sessions, its held-out metrics and its calibration.

import { reliabilityChart } from "./charts.js";
import { api, el, showProblem, tile, timeEl } from "./dom.js";
import { fmt } from "./format.js";

export async function loadModel(clientId) {
  const body = document.getElementById("model-body");
  try {
    const [models, health] = await Promise.all([api("/v1/models"), api("/dashboard/api/model-health")]);
    const champion = models.champion;
    if (!champion) {
      body.replaceChildren(el("p", { class: "empty", role: "status" }, "No model scores your sessions yet. Train one with ", el("code", {}, `xmo train ${clientId}`), "."));
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
      el("p", { class: "hint", id: "model-times" },
        "Trained ", timeEl(health.champion ? health.champion.trained_at : null, { id: "model-trained" }),
        "; loaded by this server ", timeEl(champion.loaded_at, { id: "model-loaded" }), " (your local time)."),
      el("h3", {}, "Calibration"),
      health.calibration && health.calibration.length
        ? el("div", { class: "chart small" }, reliabilityChart(health.calibration),
            el("p", { class: "hint" }, "Each dot is a tenth of the held-out sessions: near the diagonal, predicted rates match what happened."))
        : el("p", { class: "empty" }, "No calibration table was logged for this model."),
    );
  } catch (error) {
    showProblem(body, error, "model health");
  }
}
