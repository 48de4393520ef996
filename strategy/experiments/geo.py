"""Geo tests on the client's tracked regions: matched-market design and time-based-regression reads.

Regions are the sessions' ``region`` (a time zone from the pixel). The KPI is summed per region over weeks of 7
days: at design time weeks end yesterday (the current, unfinished week is left out), at analysis they start on
the test's first day, so test weeks are whole and the weeks before it are the pre-period. Weeks before the
first day with sessions are left out; region × week cells without sessions are 0.

* :func:`design_geo` pairs the regions (``models.geo_design.matched_split``), and simulates the test's power on
  placebo windows of the history (``design_power``).
* :func:`analyze_geo` reads the treatment regions' incremental conversions and revenue by time-based regression
  on the control regions, with placebo checks on the pre-period and ROI per unit of spend change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import InvalidInput, NotReady
from models.geo_design import (
    MIN_REGIONS,
    TARGET_POWER,
    design_power,
    matched_split,
    placebo_checks,
    time_based_regression,
)
from strategy.experiments.data import regional_panel
from strategy.experiments.results import METRICS, Analysis, Design, DesignRequest, MetricEstimate, roi_range

if TYPE_CHECKING:
    from tracking.experiments import Experiment

__all__ = ["MAX_LIFT", "N_PLACEBOS", "analyze_geo", "design_geo", "detectable", "read_geo_panel", "weekly_panel"]

N_PLACEBOS = 30
MAX_LIFT = 5.0  # the largest |lift| a request may ask for; larger detectable lifts are reported as this
FEW_PLACEBOS = 10  # fewer placebo windows than this make the design's power and false-alarm figures rough
_RECENT_WEEKS = 8  # weeks whose mean gives the KPI expected over the test


def weekly_panel(sessions: pd.DataFrame, metric: str, *, anchor: date, last_day: date) -> pd.DataFrame:
    """``date``, ``region``, ``kpi``: the metric summed per region over 7-day weeks aligned on ``anchor``.

    Only whole weeks that start on or after the first day with sessions and end on or before ``last_day``
    are kept; every region with sessions has a row for every kept week (0 when none).
    """
    daily = regional_panel(sessions, metric, period="day")
    if daily.empty:
        return daily
    days = pd.to_datetime(daily["date"])
    offset = (days - pd.Timestamp(anchor)).dt.days.to_numpy()
    week_start = pd.Timestamp(anchor) + pd.to_timedelta(7 * np.floor_divide(offset, 7), unit="D")
    first = days.min()
    keep = (week_start >= first) & (week_start + pd.Timedelta(days=6) <= pd.Timestamp(last_day))
    regions = sorted(daily["region"].astype(str).unique())
    if not keep.any():
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "region": [], "kpi": []})
    frame = pd.DataFrame(
        {"date": week_start[keep].to_numpy(), "region": daily["region"][keep].astype(str), "kpi": daily["kpi"][keep]}
    )
    weeks = pd.date_range(frame["date"].min(), frame["date"].max(), freq="7D")
    grid = pd.MultiIndex.from_product([weeks, regions], names=["date", "region"])
    return frame.groupby(["date", "region"])["kpi"].sum().reindex(grid, fill_value=0.0).reset_index()


def _kpi(request: DesignRequest, sessions: pd.DataFrame) -> str:
    if request.kpi is not None:
        if request.kpi not in METRICS:
            raise InvalidInput(f"a geo test's kpi must be one of {', '.join(METRICS)}; got {request.kpi!r}")
        return request.kpi
    values = pd.to_numeric(sessions.get("conversion_value", pd.Series(dtype=float)), errors="coerce")
    return "revenue" if float(values.fillna(0.0).sum()) > 0 else "conversions"


def _next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


def detectable(mdl: float, power: float, lift: float, warnings: list[str], n_placebos: int | None = None) -> float:
    """The minimum detectable lift, capped at ``MAX_LIFT`` (windows without KPI never detect), with the warnings
    an underpowered design, or one whose power rests on few placebo windows, gets appended to ``warnings``."""
    if n_placebos is not None and n_placebos < FEW_PLACEBOS:
        warnings.append(
            f"only {n_placebos} placebo test(s) fit in the history: the power and false-alarm figures are rough; "
            "they firm up as the history grows"
        )
    if power < TARGET_POWER:
        can = f"{mdl:.0%}" if mdl <= MAX_LIFT else f"no change up to {MAX_LIFT:.0%}"
        warnings.append(
            f"power {power:.0%} for a {abs(lift):.0%} change: the test can detect {can} with 80 % chance; "
            "run more weeks or test a larger change"
        )
    return float(min(mdl, MAX_LIFT))


def _regions_with_sessions(sessions: pd.DataFrame, exclude: Sequence[str]) -> list[str]:
    if "region" not in sessions.columns:
        return []
    regions = sessions["region"].dropna().astype(str)
    return sorted(set(regions[regions != ""]) - set(exclude))


def design_geo(request: DesignRequest, sessions: pd.DataFrame, *, today: date) -> Design:
    """Plan a geo test: matched treatment and control regions, dates, and power by placebo tests.

    ``InvalidInput`` with fewer than ``MIN_REGIONS`` regions with sessions (after ``exclude_regions``), an
    excluded region that is not in the history, or a history too short for placebo windows of ``weeks``.
    """
    request = request.checked()
    if request.type != "geo":
        raise InvalidInput(f"design_geo designs geo tests; got type {request.type!r}")
    kpi = _kpi(request, sessions)
    regions = _regions_with_sessions(sessions, request.exclude_regions)
    if len(regions) < MIN_REGIONS:
        raise InvalidInput(
            f"a geo test needs at least {MIN_REGIONS} regions with sessions; found {len(regions)}: "
            f"{', '.join(regions) or 'none'}"
        )
    history_end = today - timedelta(days=1)
    panel = weekly_panel(sessions, kpi, anchor=today, last_day=history_end)
    if panel.empty:
        raise InvalidInput("the sessions hold no whole week of history before today: a geo test needs weeks of it")
    if not float(panel["kpi"].sum()) > 0:
        raise NotReady(f"no {kpi} in the regions' history: nothing to power a geo test on")
    split = matched_split(panel, seed=request.seed, exclude=request.exclude_regions)
    power = design_power(
        panel, split, weeks=request.weeks, lift=abs(request.lift), n_placebos=N_PLACEBOS, level=request.level
    )
    start = request.start or _next_monday(today)
    end = start + timedelta(days=7 * request.weeks - 1)
    wide = panel.pivot(index="date", columns="region", values="kpi").sort_index()
    recent = wide[list(split.treatment)].sum(axis=1).tail(_RECENT_WEEKS)
    action = request.chosen_action
    warnings: list[str] = []
    mdl = detectable(power.minimum_detectable_lift, power.power, request.lift, warnings, power.n_placebos)
    if split.pre_r2 < 0.5:
        warnings.append(
            f"the control regions track the treatment poorly in the history (R² {split.pre_r2:.2f}): "
            "reads will be noisy"
        )
    if start < today:
        warnings.append(f"the start {start.isoformat()} is in the past")
    dates = pd.to_datetime(panel["date"])
    pairs = "; ".join(f"{t} vs {c}" for t, c in split.pairs)
    notes = [
        f"{action} {request.channel} only in the treatment regions "
        f"from {start.isoformat()} to {end.isoformat()}; leave the control regions as they are",
        f"matched pairs (treatment vs control): {pairs}",
        f"history fit of the treatment total on the control total: R² {split.pre_r2:.2f}",
    ]
    if split.odd_region:
        notes.append(f"{split.odd_region} has no pair and stays in control")
    if split.excluded:
        notes.append(f"excluded: {', '.join(split.excluded)}")
    return Design(
        type="geo",
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
        history_end=(dates.max() + pd.Timedelta(days=6)).date(),
        expected_kpi=float(recent.mean()) * request.weeks if len(recent) else 0.0,
        groups={"treatment": list(split.treatment), "control": list(split.control)},
        group_shares={"treatment": split.treatment_share, "control": split.control_share},
        units=len(split.treatment) + len(split.control),
        method=(
            f"matched markets and time-based regression; power from {power.n_placebos} placebo tests of "
            f"{request.weeks} week(s) on {wide.shape[0]} weeks of {kpi} history"
        ),
        notes=tuple(notes),
        warnings=tuple(warnings),
    )


def read_geo_panel(
    panel: pd.DataFrame,
    treatment: Sequence[str],
    control: Sequence[str],
    start: date,
    end: date,
    *,
    level: float,
    metric: str,
) -> tuple[MetricEstimate, float | None, int]:
    """TBR read of ``[start, end]`` on ``panel`` and placebo checks of the same length on the weeks before.

    Returns the estimate, the placebo false-positive rate (``None`` when the pre-period is too short for
    placebo windows) and the number of placebo windows.
    """
    est = time_based_regression(panel, treatment, control, start, end, level=level)
    pre = panel[pd.to_datetime(panel["date"]) < pd.Timestamp(start)]
    try:
        rate, n = placebo_checks(pre, treatment, control, weeks=est.n_test, n_placebos=N_PLACEBOS, level=level)
    except InvalidInput:
        rate, n = None, 0
    low, high = est.interval
    estimate = MetricEstimate(
        metric=metric,
        incremental=est.incremental,
        low=low,
        high=high,
        standard_error=est.standard_error,
        actual=est.actual,
        counterfactual=est.counterfactual,
        relative_lift=est.relative_lift,
    )
    return estimate, rate, n


def read_window(experiment: Experiment, today: date) -> tuple[date, int]:
    """``(last day read, whole weeks read)``: the test's whole weeks up to ``min(last_day, today - 1)``.

    ``NotReady`` before the test's first whole week is over.
    """
    read_end = min(experiment.last_day, today - timedelta(days=1))
    weeks = ((read_end - experiment.start_date).days + 1) // 7
    if weeks < 1:
        first = experiment.start_date + timedelta(days=7)
        raise NotReady(
            f"experiment {experiment.experiment_id!r} starts {experiment.start_date.isoformat()}: its first whole "
            f"week can be read from {first.isoformat()}"
        )
    return experiment.start_date + timedelta(days=7 * weeks - 1), weeks


def analyze_geo(experiment: Experiment, sessions: pd.DataFrame, *, today: date) -> Analysis:
    """Read a geo test: incremental conversions and revenue of the treatment regions, by TBR on the control.

    ``interim`` when read before the planned end; ``NotReady`` before its first whole week.
    """
    if experiment.type != "geo":
        raise InvalidInput(f"experiment {experiment.experiment_id!r} is a {experiment.type} test, not a geo test")
    treatment, control = list(experiment.treatment_regions), list(experiment.control_regions)
    end, weeks = read_window(experiment, today)
    metrics: dict[str, MetricEstimate] = {}
    placebo: tuple[float | None, int] = (None, 0)
    warnings: list[str] = []
    for metric in METRICS:
        panel = weekly_panel(sessions, metric, anchor=experiment.start_date, last_day=end)
        panel = _with_regions(panel, [*treatment, *control])
        estimate, rate, n = read_geo_panel(
            panel, treatment, control, experiment.start_date, end, level=experiment.level, metric=metric
        )
        metrics[metric] = estimate
        if metric == experiment.kpi or (experiment.kpi not in METRICS and metric == METRICS[0]):
            placebo = (rate, n)
    n_pre = len(pd.unique(panel["date"])) - weeks
    interim = end < experiment.end_date and experiment.stop_date is None
    if interim:
        warnings.append(
            f"interim read: {weeks} of {experiment.weeks} planned weeks; the interval is not corrected for "
            "repeated looks, wait for the planned end before acting on a borderline result"
        )
    if experiment.last_day > end and not interim:
        warnings.append(f"the days after {end.isoformat()} do not make a whole week and are not read")
    rate, n_placebos = placebo
    nominal = 1 - experiment.level
    if rate is not None and rate > 2 * nominal:
        warnings.append(
            f"placebo tests on the weeks before the start called an effect {rate:.0%} of the time "
            f"(nominal {nominal:.0%}): the interval is likely too narrow"
        )
    elif rate is None:
        warnings.append("too few weeks before the start for placebo checks")
    roi, roi_low, roi_high = roi_range(metrics.get(experiment.kpi), experiment.spend_change)
    return Analysis(
        experiment_id=experiment.experiment_id,
        type="geo",
        channel=experiment.channel,
        kpi=experiment.kpi,
        level=experiment.level,
        start=experiment.start_date,
        end=end,
        planned_end=experiment.end_date,
        interim=interim,
        metrics=metrics,
        spend_change=experiment.spend_change,
        roi=roi,
        roi_low=roi_low,
        roi_high=roi_high,
        placebo_false_positive_rate=rate,
        n_placebos=n_placebos,
        sample_ratio=None,
        method=(
            f"time-based regression (TBR): the treatment regions' weekly total regressed on the control regions' "
            f"over {n_pre} weeks before the start, the counterfactual predicted over {weeks} test week(s); "
            f"placebo checks: {n_placebos} fake tests of the same length on the pre-period"
        ),
        notes=(
            f"treatment: {', '.join(treatment)}; control: {', '.join(control)}",
            "incremental = actual − counterfactual of the treatment regions, summed over the test weeks",
        ),
        warnings=tuple(warnings),
    )


def _with_regions(panel: pd.DataFrame, regions: Sequence[str]) -> pd.DataFrame:
    """The panel with a zero row for every week of a region that has no sessions at all."""
    if panel.empty:
        raise NotReady("no sessions with a region in the test's weeks: nothing to read")
    missing = sorted(set(regions) - set(panel["region"].astype(str)))
    if not missing:
        return panel
    weeks = np.asarray(pd.unique(panel["date"]))
    extra = pd.DataFrame({"date": np.repeat(weeks, len(missing)), "region": missing * len(weeks), "kpi": 0.0})
    return pd.concat([panel, extra], ignore_index=True)
