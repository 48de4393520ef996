"""Inputs of the media-mix model: validation of the daily or weekly frame, and the baseline design.

Kept apart from the estimator so the checks and the columns of the regression can be read (and tested) alone.
A series has one period length, ``period_days``: 1 (days) or 7 (weeks, dated by each week's first day).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.errors import InvalidInput

MIN_DAYS = 56  # eight weeks: fewer days cannot separate carry-over, saturation, trend and weekdays
MIN_WEEKS = 26  # half a year of weeks: fewer cannot separate carry-over, saturation and trend
YEAR_DAYS = 365.25
PERIOD_NAMES = {1: "day", 7: "week"}


def period_name(period_days: int) -> str:
    """``day`` or ``week``; ``InvalidInput`` for any other period length."""
    if period_days not in PERIOD_NAMES:
        raise InvalidInput(f"the media-mix model fits days (period_days=1) or weeks (7), not {period_days}-day periods")
    return PERIOD_NAMES[period_days]


def min_periods(period_days: int) -> int:
    """The fewest periods a fit needs by default: :data:`MIN_DAYS` days or :data:`MIN_WEEKS` weeks."""
    return MIN_WEEKS if period_name(period_days) == "week" else MIN_DAYS


@dataclass(frozen=True)
class MediaMixData:
    """A validated series of consecutive periods (days or weeks): spend per channel, controls and the KPI."""

    dates: pd.DatetimeIndex  # each period's first day
    spend: np.ndarray  # (n_periods, n_channels), spend per period
    controls: np.ndarray  # (n_periods, n_controls)
    kpi: np.ndarray  # (n_periods,), KPI per period
    channels: tuple[str, ...]
    control_names: tuple[str, ...]
    dropped_channels: tuple[str, ...]
    warnings: tuple[str, ...]
    period_days: int = 1


def _dates(frame: pd.DataFrame, date_column: str, unit: str = "day") -> pd.DatetimeIndex:
    if date_column not in frame.columns:
        raise InvalidInput(f"the media-mix frame needs a {date_column!r} column")
    dates = pd.to_datetime(frame[date_column], errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    if dates.isna().any():
        raise InvalidInput(f"{int(dates.isna().sum())} rows have no readable {date_column!r}")
    dates = dates.dt.normalize()
    if dates.duplicated().any():
        raise InvalidInput(
            f"{unit} {dates[dates.duplicated()].iloc[0].date()} appears more than once; one row per {unit}"
        )
    return pd.DatetimeIndex(dates)


def _check_consecutive(dates: pd.DatetimeIndex, period_days: int = 1) -> None:
    steps = np.diff(dates.to_numpy()).astype("timedelta64[D]").astype(int)
    gaps = np.nonzero(steps != period_days)[0]
    if not len(gaps):
        return
    first = gaps[0]
    if period_days == 1:
        missing = int(steps[steps > 1].sum() - (steps > 1).sum())
        raise InvalidInput(
            f"missing days: none between {dates[first].date()} and {dates[first + 1].date()} "
            f"({missing} days missing in all); the model needs every day (use spend 0 on days without spend)"
        )
    raise InvalidInput(
        f"weeks must follow each other every {period_days} days: {dates[first].date()} is followed by "
        f"{dates[first + 1].date()}; the model needs every week, each dated by its first day (use spend 0 in weeks "
        "without spend)"
    )


def _numeric(frame: pd.DataFrame, column: str, what: str, dates: pd.DatetimeIndex) -> np.ndarray:
    if column not in frame.columns:
        raise InvalidInput(f"{what} column {column!r} is not in the frame")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InvalidInput(
            f"{what} {column!r} is missing or not a number on {int(bad.sum())} days (first {dates[bad][0].date()})"
        )
    return values


def prediction_inputs(
    frame: pd.DataFrame,
    channels: Sequence[str],
    controls: Sequence[str],
    date_column: str = "date",
    period_days: int = 1,
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Dates, spend and controls of consecutive periods to predict (sorted by date; no minimum length)."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput("the media-mix model takes a DataFrame with a date column and one spend column per channel")
    unit = period_name(period_days)
    dates = _dates(frame, date_column, unit)
    order = np.argsort(dates.to_numpy(), kind="stable")
    frame, dates = frame.iloc[order], dates[order]
    if len(dates) == 0:
        raise InvalidInput(f"no {unit}s to predict")
    _check_consecutive(dates, period_days)
    spend = np.column_stack([_numeric(frame, c, "spend of channel", dates) for c in channels])
    if (spend < 0).any():
        raise InvalidInput("spend cannot be negative")
    extra = [_numeric(frame, c, "control", dates) for c in controls]
    return dates, spend, np.column_stack(extra) if extra else np.zeros((len(dates), 0))


def validate_frame(
    frame: pd.DataFrame,
    kpi: ArrayLike,
    channels: Sequence[str] | None,
    controls: Sequence[str],
    date_column: str = "date",
    min_days: int | None = None,
    period_days: int = 1,
) -> MediaMixData:
    """Check a daily or weekly frame and the KPI of the same rows; channels with no usable variation are dropped.

    ``period_days``: 1 (one row per day) or 7 (one row per week, dated by its first day). ``min_days``: the
    fewest periods (days or weeks; :func:`min_periods` when ``None``). Errors (``InvalidInput``): no date
    column, unreadable or repeated dates, missing periods, too few periods, a KPI that is missing or not a
    number, negative or missing spend, a missing column, and no channel left to fit. A channel with no spend at
    all or the same spend every period cannot be told apart from the baseline: it is dropped and named in the
    warnings. A constant control is dropped likewise.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput("the media-mix model takes a DataFrame with a date column and one spend column per channel")
    unit = period_name(period_days)
    least = min_periods(period_days) if min_days is None else min_days
    y = np.asarray(pd.to_numeric(pd.Series(np.asarray(kpi).ravel()), errors="coerce"), dtype=float)
    if len(y) != len(frame):
        raise InvalidInput(f"the KPI has {len(y)} values for {len(frame)} {unit}s")
    dates = _dates(frame, date_column, unit)
    order = np.argsort(dates.to_numpy(), kind="stable")
    frame, y, dates = frame.iloc[order], y[order], dates[order]
    if len(frame) < least:
        weeks = f" ({least // 7} weeks)" if period_days == 1 else ""
        raise InvalidInput(
            f"the media-mix model needs at least {least} {unit}s{weeks} of KPI and spend; got {len(frame)}"
        )
    _check_consecutive(dates, period_days)
    bad = ~np.isfinite(y)
    if bad.any():
        raise InvalidInput(
            f"the KPI is missing or not a number on {int(bad.sum())} {unit}s (first {dates[bad][0].date()})"
        )
    controls = list(controls)
    if channels is None:
        channels = [c for c in frame.columns if c != date_column and c not in controls]
    if not channels:
        raise InvalidInput("no spend channel given")
    overlap = set(channels) & set(controls)
    if overlap:
        raise InvalidInput(f"columns {sorted(overlap)} cannot be both a channel and a control")
    warnings: list[str] = []
    kept: list[str] = []
    spend_columns: list[np.ndarray] = []
    dropped: list[str] = []
    for name in channels:
        values = _numeric(frame, name, "spend of channel", dates)
        if (values < 0).any():
            raise InvalidInput(f"spend of channel {name!r} is negative on {int((values < 0).sum())} {unit}s")
        if values.sum() <= 0:
            dropped.append(name)
            warnings.append(f"channel {name!r} has no spend in the period: dropped from the model")
            continue
        if values.std() <= 1e-9 * values.mean():
            dropped.append(name)
            warnings.append(
                f"channel {name!r} spends the same every {unit}, so its effect cannot be told apart from the "
                "baseline: dropped"
            )
            continue
        active = int((values > 0).sum())
        if active < (14 if period_days == 1 else 8):
            warnings.append(f"channel {name!r} has spend in only {active} {unit}s: its curve is weakly identified")
        kept.append(name)
        spend_columns.append(values)
    if not kept:
        raise InvalidInput("no channel has spend that varies over the period; nothing to fit")
    control_columns: list[np.ndarray] = []
    control_names: list[str] = []
    for name in controls:
        values = _numeric(frame, name, "control", dates)
        if values.std() <= 1e-12 * max(abs(values.mean()), 1.0):
            warnings.append(f"control {name!r} is constant over the period: dropped")
            continue
        control_names.append(name)
        control_columns.append(values)
    return MediaMixData(
        dates=dates,
        spend=np.column_stack(spend_columns),
        controls=np.column_stack(control_columns) if control_columns else np.zeros((len(y), 0)),
        kpi=y,
        channels=tuple(kept),
        control_names=tuple(control_names),
        dropped_channels=tuple(dropped),
        warnings=tuple(warnings),
        period_days=period_days,
    )


@dataclass(frozen=True)
class BaseDesign:
    """How the baseline columns are built: the day counted as zero, the yearly Fourier order, control scaling.

    Time is counted in days whatever the period, so trend and yearly terms mean the same for days and weeks
    (a year is 365.25 days, 52.18 weeks); weekday indicators only exist for daily series.
    """

    origin: pd.Timestamp
    yearly_order: int
    control_mean: np.ndarray
    control_scale: np.ndarray
    period_days: int = 1

    @classmethod
    def for_fit(cls, data: MediaMixData, rows: slice, yearly_order: int) -> BaseDesign:
        """The design of a fit on ``rows``: yearly terms only with at least a year of days to fit them on."""
        dates = data.dates[rows]
        order = yearly_order if len(dates) * data.period_days >= 365 else 0
        controls = data.controls[rows]
        mean = controls.mean(axis=0) if controls.size else np.zeros(0)
        scale = controls.std(axis=0) if controls.size else np.zeros(0)
        return cls(dates[0], order, mean, np.where(scale > 0, scale, 1.0), data.period_days)

    @property
    def weekdays(self) -> bool:
        """Whether the design has weekday indicators (daily series only)."""
        return self.period_days == 1

    def names(self, control_names: Sequence[str]) -> list[str]:
        """Column names in the order of :meth:`matrix`."""
        weekdays = ["tue", "wed", "thu", "fri", "sat", "sun"] if self.weekdays else []
        yearly = [f"{f}_year_{k}" for k in range(1, self.yearly_order + 1) for f in ("sin", "cos")]
        return ["intercept", "trend", *(f"weekday_{d}" for d in weekdays), *yearly, *control_names]

    def matrix(self, dates: pd.DatetimeIndex, controls: np.ndarray) -> np.ndarray:
        """Intercept, linear trend (per year), weekday indicators (Monday the reference; days only), yearly
        Fourier, controls."""
        days = (dates - self.origin).days.to_numpy(dtype=float)
        columns = [np.ones_like(days), days / YEAR_DAYS]
        if self.weekdays:
            weekday = dates.day_of_week.to_numpy()
            columns += [(weekday == d).astype(float) for d in range(1, 7)]
        for k in range(1, self.yearly_order + 1):
            angle = 2.0 * np.pi * k * days / YEAR_DAYS
            columns += [np.sin(angle), np.cos(angle)]
        base = np.column_stack(columns)
        if controls.shape[1]:
            base = np.column_stack([base, (controls - self.control_mean) / self.control_scale])
        return base
