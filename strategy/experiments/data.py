"""Sessions summed into the series geo and on/off tests read: per region and period, or per period.

A metric is ``conversions`` (the sessions' conversions) or ``revenue`` (their conversion value). Periods are
days or weeks starting on Monday, in UTC; every period between the first and the last with sessions is
present, with 0 where nothing happened, so the models see a regular series.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.errors import InvalidInput
from strategy.experiments.results import METRICS

__all__ = ["PERIODS", "metric_column", "metric_series", "period_start", "regional_panel"]

PERIODS: tuple[str, ...] = ("week", "day")
_COLUMNS = {"conversions": "conversions", "revenue": "conversion_value"}


def metric_column(metric: str) -> str:
    """The session column a metric sums, or ``InvalidInput`` naming the metric."""
    if metric not in _COLUMNS:
        raise InvalidInput(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    return _COLUMNS[metric]


def period_start(stamps: Any, period: str) -> pd.Series:
    """The start (midnight UTC; Monday for weeks) of the period holding each timestamp, tz-naive."""
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    try:
        times = pd.to_datetime(pd.Series(stamps), utc=True)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"started_at must be timestamps: {error}") from None
    days = times.dt.tz_localize(None).dt.normalize()
    if period == "week":
        days = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days


def _checked(sessions: Any, metric: str, extra: tuple[str, ...] = ()) -> tuple[pd.DataFrame, str]:
    column = metric_column(metric)
    if not isinstance(sessions, pd.DataFrame):
        raise InvalidInput("sessions must be a DataFrame of session rows")
    missing = [c for c in ("started_at", column, *extra) if c not in sessions.columns]
    if missing:
        raise InvalidInput(f"sessions lack column(s) {', '.join(missing)}")
    return sessions, column


def _periods(first: pd.Timestamp, last: pd.Timestamp, period: str) -> pd.DatetimeIndex:
    return pd.date_range(first, last, freq="7D" if period == "week" else "D")


def regional_panel(sessions: pd.DataFrame, metric: str, *, period: str = "week") -> pd.DataFrame:
    """One row per region and period: ``date`` (period start), ``region``, ``kpi`` (the metric summed).

    Sessions without a region are dropped; region × period cells without sessions between the first and the
    last period are 0. Empty sessions give an empty frame with those columns.
    """
    frame, column = _checked(sessions, metric, ("region",))
    frame = frame[frame["region"].notna() & (frame["region"].astype(str) != "")]
    if frame.empty:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "region": [], "kpi": []})
    dates = period_start(frame["started_at"], period)
    values = pd.to_numeric(frame[column], errors="coerce").fillna(0.0).astype(float)
    summed = (
        pd.DataFrame({"date": dates.to_numpy(), "region": frame["region"].astype(str).to_numpy(), "kpi": values})
        .groupby(["date", "region"])["kpi"]
        .sum()
    )
    grid = pd.MultiIndex.from_product(
        [_periods(dates.min(), dates.max(), period), sorted(summed.index.get_level_values("region").unique())],
        names=["date", "region"],
    )
    return summed.reindex(grid, fill_value=0.0).reset_index()


def metric_series(sessions: pd.DataFrame, metric: str, *, period: str = "week") -> pd.DataFrame:
    """One row per period: ``date`` (period start) and ``kpi`` (the metric over all sessions), zero-filled."""
    frame, column = _checked(sessions, metric)
    if frame.empty:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "kpi": pd.Series(dtype=float)})
    dates = period_start(frame["started_at"], period)
    values = pd.to_numeric(frame[column], errors="coerce").fillna(0.0).astype(float)
    summed = pd.Series(values.to_numpy(), index=dates.to_numpy()).groupby(level=0).sum()
    summed = summed.reindex(_periods(dates.min(), dates.max(), period), fill_value=0.0)
    return pd.DataFrame({"date": summed.index, "kpi": summed.to_numpy(dtype=float)})
