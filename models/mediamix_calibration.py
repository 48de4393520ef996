"""Lift tests as calibration of the media-mix model: what the model says a test should have measured.

A test (a row of :func:`tracking.lift.read_lift`, see docs/lift-tests.md) changed a channel's spend by
``spend_change`` over its window (``start_date``..``end_date``, days included): the spend as it ran is the spend
column, the counterfactual is ``spend − spend_change`` in the window (the change spread over the window's periods
in proportion to the spend that ran, or evenly when none ran). The model's incremental KPI for the test is

    Σ_t w[t] · β_c · (f_c(spend as run)[t] − f_c(counterfactual spend)[t])

over the periods of the window (``w`` the share of each period inside the window), and with ``scope = total``
also over every fitted period after it (the carry-over of the change). Carry-over from before the window is the
same in both series, so it cancels. For fixed carry-over and saturation parameters this is linear in ``β_c``: each
test becomes one pseudo-observation of the least squares, ``(measured − model) / standard_error``, scaled by the
residual standard deviation of the data so that a test and a period count as a Gaussian likelihood would weigh
them (PyMC-Marketing's lift-test likelihood, here on the test's own window and spend path rather than a steady
state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from models.mediamix_design import MediaMixData, period_name


@dataclass(frozen=True, eq=False)
class LiftRow:
    """One lift test in the model's periods."""

    position: int  # row of the lift table
    channel: str
    channel_index: int
    start_date: str
    end_date: str
    scope: str
    measured: float  # incremental KPI of the test (KPI units; negative for a cut)
    standard_error: float
    weights: np.ndarray  # (n_rows,) how much each fitted period counts (its share inside the window; after it: 1)
    change: np.ndarray  # (n_rows,) spend as run − counterfactual spend per period


def _column(tests: pd.DataFrame, *names: str) -> pd.Series | None:
    for name in names:
        if name in tests.columns:
            return tests[name]
    return None


def _number(value: object, what: str, position: int) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        raise InvalidInput(f"lift test {position + 1}: {what} is missing or not a number")
    return number


def _optional(series: pd.Series | None, position: int) -> float | None:
    if series is None:
        return None
    value = pd.to_numeric(pd.Series([series.iloc[position]]), errors="coerce").iloc[0]
    return float(value) if np.isfinite(value) else None


def lift_rows(
    tests: pd.DataFrame, data: MediaMixData, n_rows: int, requested: Sequence[str] = ()
) -> tuple[list[LiftRow], list[str]]:
    """The tests usable on the first ``n_rows`` periods of ``data``, and warnings for those skipped.

    ``InvalidInput``: a missing column, a value that is not a number, a standard error of 0 or below, or a channel
    the model does not know (neither among its channels nor in ``requested``, the channels asked for). Skipped with
    a warning: a test whose window is not wholly inside the fitted periods, and a test of a channel dropped for
    lack of spend variation.
    """
    if not isinstance(tests, pd.DataFrame):
        raise InvalidInput("lift tests are a table (one row per test: channel, start_date, end_date, ...)")
    missing = [c for c in ("channel", "start_date", "end_date") if c not in tests.columns]
    if missing:
        raise InvalidInput(f"lift tests need the column(s) {', '.join(missing)}")
    incremental, roi = _column(tests, "incremental_kpi"), _column(tests, "roi")
    if incremental is None and roi is None:
        raise InvalidInput("lift tests need incremental_kpi or roi")
    se = _column(tests, "standard_error", "incremental_kpi_se")
    roi_se = _column(tests, "roi_se")
    if se is None and roi_se is None:
        raise InvalidInput("lift tests need standard_error (or incremental_kpi_se)")
    spend_change = _column(tests, "spend_change")
    scope = _column(tests, "scope")
    k = data.period_days
    unit = period_name(k)
    starts = data.dates[:n_rows]
    first_day, last_day = starts[0], starts[-1] + pd.Timedelta(days=k - 1)
    rows: list[LiftRow] = []
    warnings: list[str] = []
    known = set(data.channels) | set(data.dropped_channels) | set(requested)
    for position in range(len(tests)):
        channel = str(tests["channel"].iloc[position])
        if channel not in known:
            raise InvalidInput(
                f"lift test {position + 1} is of channel {channel!r}, which the model does not have "
                f"(channels: {', '.join(data.channels)})"
            )
        try:
            start = pd.Timestamp(tests["start_date"].iloc[position]).normalize()
            end = pd.Timestamp(tests["end_date"].iloc[position]).normalize()
        except (TypeError, ValueError) as bad_date:
            raise InvalidInput(f"lift test {position + 1}: unreadable start_date or end_date") from bad_date
        if pd.isna(start) or pd.isna(end) or end < start:
            raise InvalidInput(f"lift test {position + 1}: its end_date must be a date on or after its start_date")
        window = f"{start.date()}..{end.date()}"
        if channel not in data.channels:
            warnings.append(f"lift test of {channel!r} ({window}) skipped: the channel was dropped from the model")
            continue
        if start < first_day or end > last_day:
            warnings.append(
                f"lift test of {channel!r} ({window}) skipped: its window is not inside the fitted {unit}s "
                f"({first_day.date()}..{last_day.date()})"
            )
            continue
        j = data.channels.index(channel)
        period_start = starts.to_numpy()
        period_end = period_start + np.timedelta64(k, "D")
        overlap_start = np.maximum(period_start, start.to_datetime64())
        overlap_end = np.minimum(period_end, (end + pd.Timedelta(days=1)).to_datetime64())
        days = np.clip((overlap_end - overlap_start).astype("timedelta64[D]").astype(float), 0.0, None)
        share = days / k
        spend = data.spend[:n_rows, j]
        change_total = _optional(spend_change, position)
        in_window = float(share @ spend)
        if change_total is None:
            change_total = in_window  # a test against no spend at all
        spread = share * spend / in_window if in_window > 0 else share / share.sum()
        change = change_total * spread
        measured = _optional(incremental, position)
        error = _optional(se, position)
        if measured is None:
            measured = _number(roi.iloc[position] if roi is not None else None, "roi", position) * change_total
        if error is None:
            error = _number(roi_se.iloc[position] if roi_se is not None else None, "roi_se", position) * abs(
                change_total
            )
        if error <= 0:
            raise InvalidInput(f"lift test {position + 1}: the standard error must be above 0, not {error:g}")
        test_scope = "immediate" if scope is None or pd.isna(scope.iloc[position]) else str(scope.iloc[position])
        if test_scope not in ("immediate", "total"):
            raise InvalidInput(f"lift test {position + 1}: scope is immediate or total, not {test_scope!r}")
        weights = share.copy()
        if test_scope == "total":
            weights[period_start >= (end + pd.Timedelta(days=1)).to_datetime64()] = 1.0
        rows.append(
            LiftRow(
                position,
                channel,
                j,
                str(start.date()),
                str(end.date()),
                test_scope,
                float(measured),
                float(error),
                weights,
                change,
            )
        )
    return rows, warnings


def counterfactual(spend: np.ndarray, row: LiftRow) -> np.ndarray:
    """The channel's spend per period had the test not changed it (never below 0)."""
    return np.asarray(np.maximum(spend - row.change, 0.0), dtype=float)
