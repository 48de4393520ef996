"""What the registered media-mix model says, read back for the CLI, API and dashboard: predictions beside the
actuals (the held-out tail as the earlier fit predicted it), a decomposition whose parts add up, curves with the
observed periods, and the summary with its versions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from features.media_mix_data import media_mix_inputs
from strategy.mmm_report import mmm_curves, mmm_decomposition, mmm_predictions, mmm_summary
from tracking.kpi import import_kpi_file
from tracking.spend import import_spend_file
from training.mmm import MmmFitResult, fit_mmm

HomeAt = Callable[[Path], AbstractContextManager[Settings]]
DATA = Path(__file__).parents[1] / "tracking" / "data"
CHANNELS = ["facebook", "ooh", "print", "search", "tv"]


@dataclass
class Registered:
    settings: Settings
    fit: MmmFitResult


@pytest.fixture(scope="module")
def registered(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registered]:
    home = tmp_path_factory.mktemp("mmm-report") / "xmo-home"
    with home_at(home) as settings:
        Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop")
        layout = StorageLayout.from_settings(settings)
        import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
        import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
        yield Registered(settings, fit_mmm(settings, "shop", n_draws=8, select_families=False))


def test_predictions_put_actuals_beside_fitted_and_held_out_periods(registered: Registered) -> None:
    frame = mmm_predictions(registered.settings, "shop")
    inputs = media_mix_inputs(registered.settings, "shop")
    assert list(frame.columns) == ["date", "actual", "predicted", "lower", "upper", "split"]
    assert len(frame) == 208 and np.allclose(frame["actual"], inputs.y)
    assert frame["split"].value_counts().to_dict() == {"fit": 182, "holdout": 26}
    held = frame[frame["split"] == "holdout"]
    assert held["date"].min() == pd.Timestamp(registered.fit.fit_report["holdout"]["first_day"])
    assert (frame["lower"] <= frame["predicted"]).all() and (frame["predicted"] <= frame["upper"]).all()
    mape = float(np.mean(np.abs(held["actual"] - held["predicted"]) / held["actual"]))
    assert mape == pytest.approx(registered.fit.fit_report["holdout"]["mape"])  # the earlier fit's predictions
    window = mmm_predictions(registered.settings, "shop", since="2025-01-01", until=date(2025, 3, 31))
    assert len(window) == 13 and window["date"].min() == pd.Timestamp("2025-01-06")


def test_decomposition_parts_add_up_to_the_prediction(registered: Registered) -> None:
    frame, totals = mmm_decomposition(registered.settings, "shop")
    controls = ["competitor_sales_b", "events", "newsletter"]
    assert list(frame.columns) == ["date", "baseline", *controls, *CHANNELS, "predicted"]
    parts = frame[["baseline", *controls, *CHANNELS]].sum(axis=1)
    assert np.allclose(parts, frame["predicted"])
    predicted = mmm_predictions(registered.settings, "shop")
    fitted = predicted["split"] == "fit"
    assert np.allclose(frame.loc[fitted.to_numpy(), "predicted"], predicted.loc[fitted, "predicted"])
    by_name = {p["name"]: p for p in totals["parts"]}
    assert set(by_name) == {"baseline", *controls, *CHANNELS}
    assert sum(p["total"] for p in totals["parts"]) == pytest.approx(totals["predicted"])
    for name in CHANNELS:
        low, high = by_name[name]["interval"]
        assert by_name[name]["kind"] == "channel" and low <= high and frame[name].min() >= 0
    report = {c["channel"]: c for c in registered.fit.fit_report["decomposition"]["channels"]}
    assert by_name["tv"]["total"] == pytest.approx(report["tv"]["effect"])
    quarter, q_totals = mmm_decomposition(registered.settings, "shop", since="2025-01-01", until="2025-03-31")
    assert len(quarter) == 13 and q_totals["n_periods"] == 13 and q_totals["first_day"] == "2025-01-06"


def test_curves_give_the_grid_and_the_observed_periods(registered: Registered) -> None:
    curves = mmm_curves(registered.settings, "shop", points=11)
    assert (curves["unit"], curves["period_days"], sorted(curves["channels"])) == ("week", 7, CHANNELS)
    tv = curves["channels"]["tv"]
    assert len(tv["spend"]) == len(tv["effect"]) == len(tv["lower"]) == 11 and tv["effect"][0] == 0.0
    assert all(a <= b for a, b in zip(tv["effect"], tv["effect"][1:], strict=False))  # more spend, no less effect
    assert len(tv["observed"]["spend"]) == 208 and tv["current_spend"] > 0
    with pytest.raises(InvalidInput, match="points"):
        mmm_curves(registered.settings, "shop", points=1)


def test_summary_names_the_champion_and_its_versions(registered: Registered) -> None:
    summary = mmm_summary(registered.settings, "shop")
    assert (summary["version"], summary["kpi"], summary["cadence"], summary["n_periods"]) == (
        "1",
        "revenue",
        "week",
        208,
    )
    assert summary["families"] == {"adstock": "geometric", "saturation": "hill"}
    assert summary["data_changed"] is False and summary["holdout"]["n_periods"] == 26
    assert [v["version"] for v in summary["versions"]] == ["1"] and summary["versions"][0]["aliases"] == ["champion"]
    assert [c["channel"] for c in summary["channels"]] == CHANNELS
    assert summary["warnings"] == registered.fit.warnings


def test_errors(registered: Registered) -> None:
    with pytest.raises(InvalidInput, match="since must be a date as YYYY-MM-DD"):
        mmm_predictions(registered.settings, "shop", since="01/02/2025")
    with pytest.raises(InvalidInput, match="is after until"):
        mmm_predictions(registered.settings, "shop", since="2025-03-01", until="2025-01-01")
    with pytest.raises(InvalidInput, match="no period"):
        mmm_decomposition(registered.settings, "shop", since="2030-01-01")
    Tenants.from_settings(registered.settings).create_client("Other", ["other.example"], client_id="other")
    with pytest.raises(NotReady, match="`xmo mmm fit other`"):
        mmm_summary(registered.settings, "other")


def test_weeks_imported_after_the_fit_are_predicted_apart(registered: Registered, tmp_path: Path) -> None:
    """Runs last in this module: it adds two weeks to the client's data."""
    layout = StorageLayout.from_settings(registered.settings)
    kpi = tmp_path / "kpi.csv"
    kpi.write_text(
        "DATE,revenue,competitor_sales_B,events,newsletter\n"
        "2025-12-29,2000000,7000000,0,20000\n2026-01-05,1900000,6500000,0,15000\n"
    )
    spend = tmp_path / "spend.csv"
    rows = [
        f"{day},{channel},{1000 * (i + 1)}"
        for day in ("2025-12-29", "2026-01-05")
        for i, channel in enumerate(CHANNELS)
    ]
    spend.write_text("DATE,channel,spend\n" + "\n".join(rows) + "\n")
    import_kpi_file(layout, "shop", kpi)
    import_spend_file(layout, "shop", spend)
    frame = mmm_predictions(registered.settings, "shop", since="2025-12-22")
    assert frame["split"].tolist() == ["holdout", "after", "after"]
    assert frame["actual"].tolist()[1:] == [2000000.0, 1900000.0]
    assert mmm_summary(registered.settings, "shop")["data_changed"] is True
