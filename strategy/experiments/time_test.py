"""On/off (time) tests: a channel paused or raised for planned weeks, read against a fitted counterfactual.

The series is the KPI per period (``date``, ``kpi``; weekly or daily) — the stored KPI table or the tracked
sessions' metric — and the regressors the other channels' spend in the same periods. The model is
``models.time_test``: an OLS counterfactual on trend, the KPI's own seasonality and the other channels' spend,
fitted on the periods before the test.

* :func:`design_time` plans the test weeks and simulates the power on placebo windows of the history; for a
  pause the expected effect is negative and the power is that of detecting a drop of ``|lift|``.
* :func:`analyze_time` reads the whole periods of the test so far, with placebo checks on the periods before it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from core.errors import InvalidInput, NotReady
from models.time_test import FOURIER_MIN_PERIODS, on_off_power, on_off_regression, prepare_series
from strategy.experiments.geo import detectable
from strategy.experiments.results import Analysis, Design, DesignRequest, MetricEstimate, roi_range

if TYPE_CHECKING:
    from tracking.experiments import Experiment

__all__ = ["N_PLACEBOS", "analyze_time", "design_time"]

N_PLACEBOS = 30
_RECENT_PERIODS = 8  # periods whose mean gives the KPI expected over the test


def _dates(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["date"]).dt.tz_localize(None).dt.normalize()


def _finished(series: pd.DataFrame, before: date) -> tuple[pd.DataFrame, str]:
    """The periods of ``series`` that ended before ``before``, and the series' frequency (``week`` or ``day``)."""
    frequency = prepare_series(series).frequency
    length = 7 if frequency == "week" else 1
    ends = _dates(series) + pd.Timedelta(days=length - 1)
    return series[(ends < pd.Timestamp(before)).to_numpy()].reset_index(drop=True), frequency


def _next_start(series: pd.DataFrame, frequency: str, today: date) -> date:
    """The first period start after ``today`` (weekly series) or the next Monday (daily)."""
    if frequency == "day":
        return today + timedelta(days=7 - today.weekday())
    last = _dates(series).max().date()
    days = (today - last).days
    return last + timedelta(days=7 * (days // 7 + 1))


def design_time(
    request: DesignRequest, series: pd.DataFrame, *, today: date, regressors: pd.DataFrame | None
) -> Design:
    """Plan an on/off test of ``request.weeks`` weeks and its power by placebo windows on the history.

    The history is the series' periods that ended before ``today``. ``InvalidInput`` for a bad series or one too
    short for the placebo windows (the message says how many periods are needed).
    """
    request = request.checked()
    if request.type != "time":
        raise InvalidInput(f"design_time designs time tests; got type {request.type!r}")
    history, frequency = _finished(series, today)
    if history.empty:
        raise InvalidInput(f"the series has no finished period before {today.isoformat()}")
    if not float(history["kpi"].sum()) > 0:
        raise NotReady(f"no {request.kpi or 'KPI'} in the history: nothing to power a time test on")
    action = request.chosen_action
    signed = abs(request.lift) if action == "raise" else -abs(request.lift)
    power = on_off_power(
        history, weeks=request.weeks, lift=signed, regressors=regressors, n_placebos=N_PLACEBOS, level=request.level
    )
    start = request.start or _next_start(history, frequency, today)
    end = start + timedelta(days=7 * request.weeks - 1)
    test_weeks = [(start + timedelta(weeks=k)).isoformat() for k in range(request.weeks)]
    dates = _dates(history)
    length = 7 if frequency == "week" else 1
    per_week = 7 // length
    recent = history["kpi"].astype(float).tail(_RECENT_PERIODS * per_week)
    warnings: list[str] = []
    mdl = detectable(power.minimum_detectable_lift, power.power, request.lift, warnings, power.n_placebos)
    if start < today:
        warnings.append(f"the start {start.isoformat()} is in the past")
    kpi = request.kpi or "kpi"
    notes = [
        f"{action} {request.channel} everywhere from {start.isoformat()} to {end.isoformat()} and keep the "
        "other channels as planned: their spend is part of the counterfactual",
    ]
    if regressors is None:
        notes.append("no other channel's spend is stored: the counterfactual uses trend and seasonality only")
    if frequency == "week" and len(history) < FOURIER_MIN_PERIODS:
        notes.append(f"yearly seasonality is left out until {FOURIER_MIN_PERIODS} weeks of history exist")
    return Design(
        type="time",
        channel=request.channel,
        campaign_id=request.campaign_id,
        kpi=kpi,
        action=action,
        start=start,
        end=end,
        weeks=request.weeks,
        lift=request.lift,
        level=request.level,
        power=power.power,
        minimum_detectable_lift=mdl,
        false_positive_rate=power.false_positive_rate,
        n_simulations=power.n_placebos,
        history_start=dates.min().date(),
        history_end=(dates.max() + pd.Timedelta(days=length - 1)).date(),
        expected_kpi=float(recent.mean()) * request.weeks * per_week if len(recent) else 0.0,
        groups={"test_weeks": test_weeks},
        group_shares={},
        units=None,
        method=(
            f"on/off regression (trend, seasonality, other channels' spend); power from {power.n_placebos} "
            f"placebo tests of {request.weeks} week(s) on {len(history)} {frequency}s of {kpi} history"
        ),
        notes=tuple(notes),
        warnings=tuple(warnings),
    )


def analyze_time(
    experiment: Experiment, series: pd.DataFrame, *, today: date, regressors: pd.DataFrame | None
) -> Analysis:
    """Read an on/off test on its whole periods up to ``min(last_day, today - 1)``.

    A weekly period that straddles the start is left out of both the fit and the sum (not out of the series).
    ``interim`` when read before the planned end; ``NotReady`` before the first whole period of the test.
    """
    if experiment.type != "time":
        raise InvalidInput(f"experiment {experiment.experiment_id!r} is a {experiment.type} test, not a time test")
    read_end = min(experiment.last_day, today - timedelta(days=1))
    frequency = prepare_series(series).frequency
    length = 7 if frequency == "week" else 1
    dates = _dates(series)
    start = pd.Timestamp(experiment.start_date)
    period_end = dates + pd.Timedelta(days=length - 1)
    straddles = (dates < start) & (period_end >= start)
    in_test = (dates >= start) & (period_end <= pd.Timestamp(read_end))
    if not in_test.any():
        raise NotReady(
            f"experiment {experiment.experiment_id!r} starts {experiment.start_date.isoformat()}: no whole "
            f"{frequency} of the test to read yet"
        )
    kept = series[(period_end <= pd.Timestamp(read_end)).to_numpy()].reset_index(drop=True)
    first, last = dates[in_test].min(), dates[in_test].max()
    fit_end = dates[straddles].min() if straddles.any() else first
    est = on_off_regression(kept, first, last, regressors=regressors, level=experiment.level, fit_end=fit_end)
    end = (last + pd.Timedelta(days=length - 1)).date()
    pre = kept[(_dates(kept) < fit_end).to_numpy()]
    weeks = max(1, (est.n_test * length) // 7)
    try:
        placebo = on_off_power(
            pre, weeks=weeks, lift=0.0, regressors=regressors, n_placebos=N_PLACEBOS, level=experiment.level
        )
        rate: float | None = placebo.false_positive_rate
        n_placebos = placebo.n_placebos
    except InvalidInput:
        rate, n_placebos = None, 0
    low, high = est.interval
    estimate = MetricEstimate(
        metric=experiment.kpi,
        incremental=est.incremental,
        low=low,
        high=high,
        standard_error=est.standard_error,
        actual=est.actual,
        counterfactual=est.counterfactual,
        relative_lift=est.relative_lift,
    )
    roi, roi_low, roi_high = roi_range(estimate, experiment.spend_change)
    interim = end < experiment.end_date and experiment.stop_date is None
    warnings: list[str] = []
    if interim:
        warnings.append(
            f"interim read: {est.n_test} {frequency}(s) of the planned {experiment.weeks} week(s); the interval "
            "is not corrected for repeated looks"
        )
    nominal = 1 - experiment.level
    if rate is None:
        warnings.append("too little history before the start for placebo checks")
    elif rate > 2 * nominal:
        warnings.append(
            f"placebo tests on the history called an effect {rate:.0%} of the time (nominal {nominal:.0%}): "
            "the interval is likely too narrow"
        )
    if straddles.any():
        warnings.append(f"the {frequency} holding the start is only partly in the test and is left out")
    return Analysis(
        experiment_id=experiment.experiment_id,
        type="time",
        channel=experiment.channel,
        kpi=experiment.kpi,
        level=experiment.level,
        start=experiment.start_date,
        end=end,
        planned_end=experiment.end_date,
        interim=interim,
        metrics={experiment.kpi: estimate},
        spend_change=experiment.spend_change,
        roi=roi,
        roi_low=roi_low,
        roi_high=roi_high,
        placebo_false_positive_rate=rate,
        n_placebos=n_placebos,
        sample_ratio=None,
        method=(
            f"on/off regression: {experiment.kpi} on {', '.join(est.features)} over {est.n_pre} {frequency}s "
            f"before the start, the counterfactual predicted over {est.n_test} test {frequency}(s); placebo "
            f"checks: {n_placebos} fake tests of the same length on the pre-period"
        ),
        notes=(
            f"incremental = actual − counterfactual {experiment.kpi}, summed over the test "
            f"({experiment.action} of {experiment.channel})",
        ),
        warnings=tuple(warnings),
    )
