"""``/v1/recommendations/budget?mode=media-mix`` over real HTTP: the first plan fits and registers the model, later
plans and the ladder use it; forward plans from a start date, and the errors."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import training.mmm
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.cadence import Cadence
from tracking.kpi import import_kpi_file
from tracking.spend import import_spend_file

DATA = Path(__file__).parents[1] / "tracking" / "data"


def test_media_mix_plans_use_the_registered_model_and_plan_forward(
    settings: Settings, serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    created = Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop")
    layout = StorageLayout.from_settings(settings)
    import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
    import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
    small = functools.partial(training.mmm.fit_mmm, n_draws=5, select_families=False)
    monkeypatch.setattr(training.mmm, "fit_mmm", small)  # the same job, with fewer bootstrap draws
    headers = {"Authorization": f"Bearer {created.api_key}"}
    query = {"mode": "media-mix", "period": "quarter", "start": "2026-01-05"}
    with serve(settings, timeout=120) as http:
        first = http.get("/v1/recommendations/budget", params=query, headers=headers)
        assert first.status_code == 200, first.text
        plan = first.json()
        assert plan["model_version"] == "1" and any("was fitted, registered" in w for w in plan["warnings"])
        forecast = plan["forecast"]
        assert (forecast["start"], forecast["end"], forecast["period"]) == ("2026-01-05", "2026-04-05", "quarter")
        assert forecast["controls_source"] == "carried forward" and len(forecast["per_period"]) == 13
        assert forecast["spend"] == pytest.approx(plan["total"]) and plan["period_days"] == 91
        assert forecast["notes"] == [], "a Monday and 13 whole weeks: nothing to adjust"

        ladder = http.get("/v1/recommendations/budget/ladder", params=query, headers=headers)
        assert ladder.status_code == 200, ladder.text
        rungs = ladder.json()
        assert rungs["model_version"] == "1" and not any("was fitted" in w for w in rungs["warnings"])
        assert rungs["forecast"]["start"] == "2026-01-05" and "per_period" not in rungs["forecast"]
        today = next(r for r in rungs["rows"] if r["total"] == pytest.approx(rungs["current_total"]))
        assert today["forecast_predicted"] == pytest.approx(forecast["predicted"]), "the same plan, the same model"

        def plan_with(**changed: str) -> Any:
            return http.get("/v1/recommendations/budget", params=query | changed, headers=headers)

        early = plan_with(start="2025-12-01")
        assert early.status_code == 400 and "2025-12-01 is not after the data" in early.json()["error"]["message"]
        assert plan_with(start="soon").status_code == 422
        attributed = plan_with(mode="attributed")
        assert attributed.status_code == 400 and "media-mix mode" in attributed.json()["error"]["message"]

        kpi, spend = tmp_path / "kpi.csv", tmp_path / "spend.csv"  # one more week of data after the fit
        kpi.write_text("date,revenue,competitor_sales_B,events,newsletter\n2025-12-29,2000000,5000000,0,20000\n")
        spend.write_text("date,channel,spend\n" + "".join(f"2025-12-29,{c},1000\n" for c in plan["fit"]["channels"]))
        import_kpi_file(layout, "shop", kpi, cadence=Cadence.WEEK)
        import_spend_file(layout, "shop", spend, cadence=Cadence.WEEK)
        later = http.get("/v1/recommendations/budget", params={"mode": "media-mix"}, headers=headers).json()
        assert later["model_version"] == "1" and later["forecast"]["start"] == "2026-01-05", "after the new week"
        assert any("changed since version 1 was fitted" in w for w in later["warnings"])

        # Future controls posted with the plan replace the carried-forward ones (here: a newsletter every week).
        weeks = [str(d.date()) for d in pd.date_range("2026-01-05", periods=13, freq="7D")]
        rows = [{"date": w, "competitor_sales_b": 5_000_000, "events": 0, "newsletter": 60_000} for w in weeks]
        posted = http.post("/v1/recommendations/budget", params=query, json={"rows": rows}, headers=headers)
        assert posted.status_code == 200, posted.text
        given = posted.json()["forecast"]
        assert given["controls_source"] == "file" and given["start"] == "2026-01-05"
        assert given["baseline"] != pytest.approx(later["forecast"]["baseline"])
        csv_rows = "date,competitor_sales_b,events,newsletter\n" + "".join(f"{w},5000000,0,60000\n" for w in weeks)
        as_csv = http.post(
            "/v1/recommendations/budget",
            params=query,
            content=csv_rows,
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert as_csv.status_code == 200 and as_csv.json()["forecast"]["predicted"] == pytest.approx(given["predicted"])
        short = http.post("/v1/recommendations/budget", params=query, json={"rows": rows[:12]}, headers=headers)
        assert short.status_code == 400 and "no row for the week of 2026-03-30" in short.json()["error"]["message"]
        bad = [{**rows[0], "events": "lots"}, *rows[1:]]
        wrong = http.post("/v1/recommendations/budget", params=query, json={"rows": bad}, headers=headers)
        assert wrong.status_code == 400 and "row 1, column events" in wrong.json()["error"]["message"]
        not_mmm = http.post(
            "/v1/recommendations/budget", params={"period": "week"}, json={"rows": rows}, headers=headers
        )
        assert not_mmm.status_code == 400 and "media-mix mode" in not_mmm.json()["error"]["message"]
