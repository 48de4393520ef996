"""Sessions summed per region and period, and per period: Monday weeks, zero-filled, regionless rows dropped."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import InvalidInput
from strategy.experiments.data import metric_series, regional_panel

SESSIONS = pd.DataFrame(
    {
        "started_at": pd.to_datetime(
            ["2026-03-04 10:00", "2026-03-08 23:30", "2026-03-18 01:00", "2026-03-19 00:00", "2026-03-05 12:00"],
            utc=True,
        ),
        "region": ["Europe/Paris", "Europe/Berlin", None, "Europe/Paris", "Europe/Paris"],
        "conversions": [1, 2, 5, 3, 0],
        "conversion_value": [10.0, 20.0, 50.0, 30.0, 0.0],
    }
)


def test_regional_panel_sums_by_monday_week_and_fills_zeros() -> None:
    panel = regional_panel(SESSIONS, "conversions")
    assert list(panel.columns) == ["date", "region", "kpi"]
    assert set(pd.to_datetime(panel["date"]).dt.day_of_week) == {0}
    cells = {(str(d.date()), r): k for d, r, k in panel.itertuples(index=False)}
    assert cells == {
        ("2026-03-02", "Europe/Berlin"): 2.0,
        ("2026-03-02", "Europe/Paris"): 1.0,
        ("2026-03-09", "Europe/Berlin"): 0.0,  # a week with no session at all
        ("2026-03-09", "Europe/Paris"): 0.0,
        ("2026-03-16", "Europe/Berlin"): 0.0,
        ("2026-03-16", "Europe/Paris"): 3.0,  # the regionless session is dropped
    }


def test_daily_revenue_panel() -> None:
    panel = regional_panel(SESSIONS, "revenue", period="day")
    assert len(panel) == 2 * 16  # 4 to 19 March, two regions
    paris = panel[panel["region"] == "Europe/Paris"].set_index("date")["kpi"]
    assert paris[pd.Timestamp("2026-03-04")] == 10.0 and paris[pd.Timestamp("2026-03-19")] == 30.0
    assert float(panel["kpi"].sum()) == 60.0


def test_metric_series_keeps_every_session() -> None:
    series = metric_series(SESSIONS, "revenue")
    assert list(series["kpi"]) == [30.0, 0.0, 80.0]
    assert [d.date().isoformat() for d in series["date"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert metric_series(SESSIONS.iloc[:0], "conversions").empty


def test_bad_metric_and_period() -> None:
    with pytest.raises(InvalidInput, match="'clicks'"):
        regional_panel(SESSIONS, "clicks")
    with pytest.raises(InvalidInput, match="'month'"):
        metric_series(SESSIONS, "conversions", period="month")
    with pytest.raises(InvalidInput, match="lack column"):
        regional_panel(SESSIONS.drop(columns="region"), "conversions")
