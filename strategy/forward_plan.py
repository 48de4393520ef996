"""Forward plans: what a media-mix model expects of the KPI over a future period, for a spend per channel.

A plan's period (a day, a week, a month of 30 days, a quarter of 91 days) is laid on the model's grain (days or
weeks) from ``start``, by default the first period after the data. The model predicts the whole history followed
by the future rows, so the future periods get the model's trend and yearly seasonality, their control values
(known events), and the carry-over of past spend (adstock); between the data's end and ``start`` spend stays at
today's. A plan that spends nothing still gets the tail of what was spent before it (``carryover``).

Future controls come from a file (one row per period of the plan, at the KPI's grain), or are **carried
forward**: each control takes its value of the same period a year earlier (52 weeks or 364 days back, so that
weekdays line up; two years back when the period lies more than a year ahead), or the last value when the
history is shorter than that. Why: media-mix tools expect the user to supply future controls (PyMC-Marketing and
Meridian predict on the data they are given; Robyn's allocator replays a historical window), so a default has to
be a guess; carrying the last value forward (the simplest guess) would stretch a one-week event, a holiday's 0/1
flag, over the whole period, while the same weeks a year earlier put recurring events and seasonal series (a
competitor's sales) in their own weeks. What a one-off event did last year it does again: give a file to say
otherwise.

Intervals (at the model's ``interval_level``): per period, the model's prediction interval
(:meth:`models.mediamix.MediaMixModel.predict_interval`); for the period's total, each bootstrap draw's
prediction (:meth:`~models.mediamix.MediaMixModel.predict_draws`) summed over the periods (a draw's errors move
together from period to period) plus residual noise that is independent from period to period (the same two
sources as the per-period interval).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.amounts import amount
from core.errors import InvalidInput
from models.mediamix import MediaMixModel
from tracking.table_files import parse_dates, parse_numbers, read_table_file

YEAR_BACK_DAYS = 364  # 52 weeks: the same weekday a year earlier
MAX_AHEAD_DAYS = 730  # a plan may start at most two years after the data: the trend is extrapolated that far
PERIOD_LENGTHS = {"day": 1, "week": 7, "month": 30, "quarter": 91}  # the budget's periods, in days
NOISE_SAMPLES = 4000  # draws × noise samples behind the interval of a period's total
ControlsSource = Literal["file", "carried forward"]


@dataclass(frozen=True)
class PlanWindow:
    """Where a plan sits on the model's grain: ``n_periods`` periods from ``start``, ``gap`` periods after the data."""

    period: str  # the budget's period: day, week, month, quarter
    start: pd.Timestamp
    n_periods: int
    period_days: int  # the model's: 1 or 7
    last_period: pd.Timestamp  # the first day of the data's last period
    notes: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        """``day`` or ``week``."""
        return "week" if self.period_days == 7 else "day"

    @property
    def gap(self) -> int:
        """Periods between the data's end and ``start`` (spent at today's level)."""
        return int((self.start - self.last_period).days // self.period_days) - 1

    @property
    def end(self) -> pd.Timestamp:
        """The plan's last day."""
        return self.start + pd.Timedelta(days=self.n_periods * self.period_days - 1)

    @property
    def n_days(self) -> int:
        """Days the plan's periods cover."""
        return self.n_periods * self.period_days

    @property
    def future_dates(self) -> pd.DatetimeIndex:
        """Every period after the data up to the plan's end: the gap, then the plan."""
        step = pd.Timedelta(days=self.period_days)
        return pd.date_range(self.last_period + step, self.end, freq=step)

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The plan's periods."""
        return self.future_dates[self.gap :]


def _day(value: date | str) -> pd.Timestamp:
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InvalidInput(f"start must be a date (YYYY-MM-DD), not {value!r}") from None
    if pd.isna(day):
        raise InvalidInput(f"start must be a date (YYYY-MM-DD), not {value!r}")
    return day.tz_localize(None).normalize() if day.tzinfo is not None else day.normalize()


def plan_window(
    last_period: pd.Timestamp, period_days: int, period: str, plan_days: int, start: date | str | None = None
) -> PlanWindow:
    """The plan's periods on the model's grain; ``start`` defaults to the first period after the data.

    A weekly model plans whole weeks: a start inside a week moves to the next week start (noted), and a month
    of 30 days becomes 4 weeks (a quarter is exactly 13). ``InvalidInput`` for a start on or before the data's
    last day, or more than :data:`MAX_AHEAD_DAYS` after it.
    """
    last_period = pd.Timestamp(last_period).normalize()
    step = pd.Timedelta(days=period_days)
    first_free = last_period + step
    unit = "week" if period_days == 7 else "day"
    notes: list[str] = []
    if start is None:
        first = first_free
    else:
        first = _day(start)
        if first < first_free:
            raise InvalidInput(
                f"start {first.date()} is not after the data: its last {unit} runs to "
                f"{(first_free - pd.Timedelta(days=1)).date()}; plan from {first_free.date()} or later"
            )
        offset = (first - first_free).days % period_days
        if offset:
            moved = first + pd.Timedelta(days=period_days - offset)
            notes.append(
                f"the data's weeks start on {first_free.day_name()}s: the plan starts on {moved.date()}, the first "
                f"week start on or after {first.date()}"
            )
            first = moved
        if (first - first_free).days > MAX_AHEAD_DAYS:
            raise InvalidInput(
                f"start {first.date()} is more than {MAX_AHEAD_DAYS} days after the data ends "
                f"({(first_free - pd.Timedelta(days=1)).date()}): the model's trend cannot be carried that far"
            )
    n_periods = max(1, round(plan_days / period_days))
    if n_periods * period_days != plan_days:
        notes.append(
            f"the model works in {unit}s: the forecast covers {n_periods} {unit}{'s' if n_periods > 1 else ''} "
            f"({n_periods * period_days} days), the budget's {period} {plan_days} days"
        )
    return PlanWindow(period, first, n_periods, period_days, last_period, tuple(notes))


# --- future controls -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FutureControls:
    """The controls of every period after the data (gap and plan), where they come from, and how they were made."""

    frame: pd.DataFrame  # date + one column per control, one row per future period
    source: ControlsSource
    note: str


def read_controls_file(path: Path) -> pd.DataFrame:
    """A controls file (CSV or Parquet): a ``date`` column and one numeric column per control, at the KPI's grain.

    ``InvalidInput`` naming the row and column of an unreadable date or a value that is not a number.
    """
    return parse_controls(read_table_file(path), path.name)


def parse_controls(frame: pd.DataFrame, source: str = "the controls") -> pd.DataFrame:
    """Rows of future controls (a file's, or a request body's): ``date`` plus one numeric column per control.

    ``InvalidInput`` naming ``source`` and the row and column of a missing date or a value that is not a number.
    """
    if "date" not in frame.columns:
        raise InvalidInput(f"{source} has no date column (columns: {', '.join(map(str, frame.columns))})")
    if frame.empty:
        raise InvalidInput(f"{source} has no rows")
    days = parse_dates(frame["date"])
    if any(d is None for d in days):
        raise InvalidInput(f"{source}: row {days.index(None) + 1} has no date")
    out = pd.DataFrame({"date": pd.to_datetime(pd.Series(days))})
    for column in frame.columns:
        if column != "date":
            out[column] = parse_numbers(frame[column], column, required=True)
    return out


def _carried(
    history: pd.DataFrame, controls: Sequence[str], dates: pd.DatetimeIndex, unit: str
) -> tuple[pd.DataFrame, str]:
    """Each future date's controls from the same period a year (or years) earlier, else the last period's."""
    known = history.set_index("date")[list(controls)]
    first, last = known.index[0], known.index[-1]
    sources, fell_back = [], []
    for day in dates:
        back = day - pd.Timedelta(days=YEAR_BACK_DAYS)
        while back > last:
            back -= pd.Timedelta(days=YEAR_BACK_DAYS)
        fell_back.append(back < first)
        sources.append(last if back < first else back)
    source_index = pd.DatetimeIndex(sources)
    frame = known.loc[source_index].reset_index(drop=True)
    frame.insert(0, "date", dates)
    if not controls:
        note = "the model has no controls"
    elif all(fell_back):
        note = f"carried forward from the last {unit} ({last.date()}): the data covers less than a year"
    elif any(fell_back):
        note = (
            f"carried forward from the same {unit}s a year earlier where the data has them, else from the last "
            f"{unit} ({last.date()})"
        )
    else:
        shown = source_index[[not f for f in fell_back]]
        if len(shown) == 1:
            note = f"carried forward from the same {unit} a year earlier ({shown[0].date()})"
        else:
            note = f"carried forward from the same {unit}s a year earlier ({shown[0].date()} to {shown[-1].date()})"
    return frame, note


def future_controls(
    history: pd.DataFrame, controls: Sequence[str], window: PlanWindow, given: pd.DataFrame | None = None
) -> FutureControls:
    """The controls of the periods after the data: from ``given`` (a file's rows) for the plan's periods, else
    carried forward (see the module docstring).

    ``given`` must hold every control of the model and a row for each of the plan's periods (rows for periods
    between the data and the plan are used when present, carried forward when not); ``InvalidInput`` names the
    missing control or period, a date that is not a period start of the data's grain, and a repeated date.
    """
    dates = window.future_dates
    carried, note = _carried(history, controls, dates, window.unit)
    if given is None or not controls:
        return FutureControls(carried, "carried forward", note if given is None else f"{note}: the file is not used")
    columns = {str(c).lower(): c for c in given.columns}
    missing = [c for c in controls if c.lower() not in columns]
    if missing:
        raise InvalidInput(
            f"the controls file has no column {missing[0]!r}; it needs date and {', '.join(controls)}, one row per "
            f"{window.unit} from {window.start.date()} to {window.dates[-1].date()}"
        )
    frame = given.rename(columns={columns[c.lower()]: c for c in controls})
    file_dates = pd.DatetimeIndex(pd.to_datetime(frame["date"])).normalize()
    repeated = file_dates[file_dates.duplicated()]
    if len(repeated):
        raise InvalidInput(f"the controls file has {repeated[0].date()} more than once: one row per {window.unit}")
    off_grid = [d for d in file_dates if (d - window.last_period).days % window.period_days]
    if off_grid:
        raise InvalidInput(
            f"the controls file's date {off_grid[0].date()} is not a week start of the data (its weeks start on "
            f"{window.last_period.day_name()}s)"
        )
    values = frame.assign(date=file_dates).set_index("date")[list(controls)]
    absent = [d for d in window.dates if d not in values.index]
    if absent:
        raise InvalidInput(
            f"the controls file has no row for the {window.unit} of {absent[0].date()} ({len(absent)} of the plan's "
            f"{window.n_periods} {window.unit}s missing; it needs {window.start.date()} to {window.dates[-1].date()})"
        )
    bad = values.loc[window.dates].isna().any(axis=1)
    if bad.any():
        raise InvalidInput(f"the controls file has a missing value on {bad[bad].index[0].date()}")
    merged = carried.set_index("date")
    inside = values.index.intersection(merged.index)
    merged.loc[inside, list(controls)] = values.loc[inside, list(controls)].to_numpy(dtype=float)
    filled = "" if window.gap == 0 or len(inside) >= len(dates) else f"; the {window.unit}s before the plan {note}"
    return FutureControls(merged.reset_index(), "file", f"from the file{filled}")


# --- the forecast --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    """The KPI a plan is expected to bring over its future period, split into baseline and media, with intervals."""

    window: PlanWindow
    kpi: str
    spend: float  # over the plan's periods
    baseline: float
    media_effect: float
    carryover: float  # the media effect in the plan's periods had it spent nothing: the tail of past spend
    predicted: float
    interval: tuple[float, float]
    level: float
    controls: FutureControls
    per_period: pd.DataFrame  # date, baseline, media, predicted, lower, upper

    def sentence(self, total: float) -> str:
        """One paragraph: the period, the total spent per period, the KPI expected (interval), media, controls."""
        w = self.window
        lead = "Next" if w.gap == 0 else "The"
        if w.n_days == PERIOD_LENGTHS.get(w.period, w.n_days):
            head = f"{lead} {w.period} from {w.start.date()} at {_short(total)}"
        else:  # a weekly model plans whole weeks
            span = f"{w.n_periods} {w.unit}{'s' if w.n_periods > 1 else ''}"
            head = f"{lead} {span} from {w.start.date()} at {_short(total)} per {w.period}"
        text = (
            f"{head}: expected {self.kpi} {_short(self.predicted)} ({self.level:.0%} range "
            f"{_short(self.interval[0])}–{_short(self.interval[1])}), of which media {_short(self.media_effect)}"
        )
        if self.carryover > 0:
            text += f" ({_short(self.carryover)} of it carried over from spend before {w.start.date()})"
        return f"{text}; controls {self.controls.note}."

    def to_dict(self, per_period: bool = True) -> dict[str, Any]:
        """JSON-ready; ``per_period=False`` leaves the rows out (a ladder's rungs)."""
        w = self.window
        out: dict[str, Any] = {
            "start": str(w.start.date()),
            "end": str(w.end.date()),
            "period": w.period,
            "n_periods": w.n_periods,
            "cadence": w.unit,
            "n_days": w.n_days,
            "kpi": self.kpi,
            "spend": self.spend,
            "baseline": self.baseline,
            "media_effect": self.media_effect,
            "carryover": self.carryover,
            "predicted": self.predicted,
            "interval": list(self.interval),
            "interval_level": self.level,
            "controls_source": self.controls.source,
            "controls_note": self.controls.note,
            "notes": list(w.notes),
        }
        if per_period:
            rows = self.per_period
            out["per_period"] = [
                {
                    "date": str(day.date()),
                    "baseline": float(rows["baseline"].iloc[i]),
                    "media": float(rows["media"].iloc[i]),
                    "predicted": float(rows["predicted"].iloc[i]),
                    "lower": float(rows["lower"].iloc[i]),
                    "upper": float(rows["upper"].iloc[i]),
                }
                for i, day in enumerate(pd.DatetimeIndex(rows["date"]))
            ]
        return out


def _short(value: float) -> str:
    """``14.1 M``, ``950 k``, ``87``: an amount as a sentence shows it."""
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:,.2f} bn"
    if size >= 1e6:
        return f"{value / 1e6:,.{1 if size >= 1e7 else 2}f} M"
    if size >= 1e4:
        return f"{value / 1e3:,.0f} k"
    return amount(value)


class ForwardPlanner:
    """Forecasts of one plan window from one fitted model: build once, ask :meth:`forecast` for each spend split.

    ``history``: the model's inputs (date, spend per channel per period, controls) up to the data's end;
    ``current``: today's daily spend per channel, spent between the data's end and the plan's start.
    """

    def __init__(
        self,
        model: MediaMixModel,
        history: pd.DataFrame,
        *,
        kpi: str,
        window: PlanWindow,
        controls: FutureControls,
        current: Mapping[str, float],
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.history = history.reset_index(drop=True)
        self.kpi = kpi
        self.window = window
        self.controls = controls
        self.current = dict(current)
        self.random_state = random_state
        self.level = float(model.interval_level)
        self.noise_sd = float(model.residual_sd_)

    def frame(self, daily_spend: Mapping[str, float]) -> pd.DataFrame:
        """History, then the future periods: today's spend until ``start``, ``daily_spend`` from it (per period)."""
        w, k = self.window, self.window.period_days
        channels = list(self.model.channels_)
        future = self.controls.frame.copy()
        planned = np.arange(len(future)) >= w.gap
        for name in channels:
            daily = np.where(planned, float(daily_spend.get(name, 0.0)), float(self.current.get(name, 0.0)))
            future[name] = daily * k
        columns = ["date", *channels, *self.model.controls_]
        return pd.concat([self.history[columns], future[columns]], ignore_index=True)

    def _total_samples(self, frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """Samples of the KPI summed over ``rows`` of ``frame``: each draw's prediction plus independent noise."""
        centres = self.model.predict_draws(frame)[:, rows].sum(axis=1)
        if len(centres) == 0:
            centres = np.array([float(self.model.predict(frame)[rows].sum())])
        per_centre = max(NOISE_SAMPLES // len(centres), 1)
        rng = np.random.default_rng(self.random_state)
        noise = rng.normal(0.0, self.noise_sd * np.sqrt(rows.sum()), (len(centres), per_centre))
        return np.asarray((centres[:, None] + noise).ravel(), dtype=float)

    def forecast(self, daily_spend: Mapping[str, float]) -> Forecast:
        """The KPI over the plan's periods with ``daily_spend`` per channel (daily amounts, as the allocator's)."""
        model, w = self.model, self.window
        frame = self.frame(daily_spend)
        rows = np.arange(len(frame)) >= len(self.history) + w.gap
        parts = model.decompose(frame)
        channels = list(model.channels_)
        media = parts[channels].sum(axis=1).to_numpy()
        interval = model.predict_interval(frame)
        per_period = pd.DataFrame(
            {
                "date": parts["date"][rows].to_numpy(),
                "baseline": parts["baseline"][rows].to_numpy(),
                "media": media[rows],
                "predicted": parts["predicted"][rows].to_numpy(),
                "lower": interval["lower"][rows].to_numpy(),
                "upper": interval["upper"][rows].to_numpy(),
            }
        )
        idle = self.frame(dict.fromkeys(channels, 0.0))
        tail = float(model.decompose(idle)[channels].sum(axis=1).to_numpy()[rows].sum())
        samples = self._total_samples(frame, rows)
        low_q = (1.0 - self.level) / 2.0
        total = float(per_period["predicted"].sum())
        spend = float(sum(float(daily_spend.get(c, 0.0)) for c in channels)) * w.n_days
        return Forecast(
            window=w,
            kpi=self.kpi,
            spend=spend,
            baseline=float(per_period["baseline"].sum()),
            media_effect=float(per_period["media"].sum()),
            carryover=tail,
            predicted=total,
            interval=(float(np.quantile(samples, low_q)), float(np.quantile(samples, 1.0 - low_q))),
            level=self.level,
            controls=self.controls,
            per_period=per_period,
        )
