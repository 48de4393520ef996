"""Geo-test design on a client's own regional history: matched pairs, time-based regression, simulated power.

The idea follows Google's matched-markets and time-based regression (TBR) papers (Kerman, Wang & Vaver 2017,
"Estimating ad effectiveness using geo experiments in a time-based regression framework"), written here from
the method, not from their code. The input is one row per region and period: ``date``, ``region``, ``kpi``.

* :func:`matched_split` pairs regions whose pre-period series are closest (a relative squared distance, so
  pairs match in level and in shape), randomises a coin within each pair, and reports each group's share of
  the KPI and how well the treatment total is fitted by the control total over the history.
* :func:`time_based_regression` regresses the treatment total on the control total over the periods before
  the test, predicts the test period's counterfactual and reports the incremental KPI summed over the test,
  with a t interval from the prediction-error variance of that sum.
* :func:`design_power` runs placebo tests in windows of the real history: TBR on each window as if the test
  ran there, with and without a planted relative lift on the treatment. The planted lift moves the
  incremental estimate by exactly ``lift × treatment KPI in the window`` and leaves the standard error as it
  is, so each window's smallest detected lift is solved for exactly; the power at any lift and the minimum
  detectable lift at 80 % power follow without a grid search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import InvalidInput
from models.prediction_error import prediction_sum

Array = npt.NDArray[np.float64]

__all__ = [
    "MIN_REGIONS",
    "GeoPower",
    "GeoSplit",
    "TbrEstimate",
    "design_power",
    "matched_split",
    "min_pre_periods",
    "placebo_checks",
    "time_based_regression",
]

MIN_REGIONS = 4
TARGET_POWER = 0.8


def min_pre_periods(weeks: int) -> int:
    """Periods of history a placebo window of ``weeks`` periods needs before it: twice its length, at least 8."""
    return max(2 * weeks, 8)


@dataclass(frozen=True)
class GeoSplit:
    """Regions split into treatment and control within matched pairs.

    ``pairs`` are (treatment, control) in the order they were matched, closest first; ``odd_region`` is the
    region left unpaired (it goes to control). Shares are of the KPI summed over the history and the included
    regions. ``pre_r2`` and ``pre_correlation`` describe the fit of the treatment total on the control total
    period by period; ``pre_mape`` is the fit's mean absolute percentage error.
    """

    treatment: tuple[str, ...]
    control: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    odd_region: str | None
    excluded: tuple[str, ...]
    treatment_share: float
    control_share: float
    pre_r2: float
    pre_correlation: float
    pre_mape: float
    seed: int


@dataclass(frozen=True)
class TbrEstimate:
    """Time-based regression: the treatment's incremental KPI summed over the test, with its interval.

    ``relative_lift`` is the incremental KPI over the counterfactual total (``None`` when that total is not
    positive). ``alpha`` and ``beta`` are the pre-period fit ``treatment ≈ alpha + beta · control``.
    """

    incremental: float
    interval: tuple[float, float]
    standard_error: float
    relative_lift: float | None
    actual: float
    counterfactual: float
    alpha: float
    beta: float
    pre_r2: float
    residual_sd: float
    n_pre: int
    n_test: int
    level: float


@dataclass(frozen=True)
class GeoPower:
    """Power of a geo test of ``weeks`` periods, by placebo tests on the real history.

    ``power`` is the share of placebo windows whose interval, with ``lift`` planted on the treatment, lies
    above 0; ``false_positive_rate`` the share of the same windows without lift whose interval excludes 0.
    ``minimum_detectable_lift`` is the smallest relative lift detected in at least 80 % of the windows.
    ``window_lifts`` is each window's smallest detected lift, in the order of ``window_starts``.
    """

    weeks: int
    lift: float
    level: float
    power: float
    false_positive_rate: float
    minimum_detectable_lift: float
    n_placebos: int
    window_starts: tuple[pd.Timestamp, ...]
    window_lifts: tuple[float, ...]

    def power_at(self, lift: float) -> float:
        """Share of the placebo windows that detect a planted relative ``lift``."""
        return float(np.mean(np.asarray(self.window_lifts) <= lift))


@dataclass(frozen=True)
class _Panel:
    dates: tuple[pd.Timestamp, ...]
    regions: tuple[str, ...]
    values: Array  # periods × regions

    def column(self, names: Iterable[str]) -> Array:
        index = {region: i for i, region in enumerate(self.regions)}
        return np.asarray(self.values[:, [index[name] for name in names]].sum(axis=1), dtype=np.float64)


def _panel(history: Any) -> _Panel:
    if not isinstance(history, pd.DataFrame):
        raise InvalidInput("history must be a DataFrame with columns date, region, kpi")
    missing = [c for c in ("date", "region", "kpi") if c not in history.columns]
    if missing:
        raise InvalidInput(f"history lacks column(s) {', '.join(missing)}: it needs date, region, kpi")
    if len(history) == 0:
        raise InvalidInput("history is empty")
    if not pd.api.types.is_numeric_dtype(history["kpi"]) or pd.api.types.is_bool_dtype(history["kpi"]):
        raise InvalidInput(f"kpi must be numeric; got dtype {history['kpi'].dtype}")
    kpi = history["kpi"].to_numpy(dtype=np.float64)
    if not np.isfinite(kpi).all():
        raise InvalidInput(f"kpi has {int((~np.isfinite(kpi)).sum())} missing or infinite values")
    try:
        dates = pd.to_datetime(history["date"])
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"date must be dates: {error}") from None
    frame = pd.DataFrame({"date": dates, "region": history["region"].astype(str), "kpi": kpi})
    if frame.duplicated(["date", "region"]).any():
        raise InvalidInput("history has more than one row for some (date, region)")
    wide = frame.pivot(index="date", columns="region", values="kpi").sort_index()
    if wide.isna().to_numpy().any():
        holes = wide.columns[wide.isna().any()].tolist()
        raise InvalidInput(f"history misses periods for region(s) {', '.join(map(str, holes[:5]))}")
    return _Panel(
        dates=tuple(pd.Timestamp(d) for d in wide.index),
        regions=tuple(str(c) for c in wide.columns),
        values=wide.to_numpy(dtype=np.float64),
    )


def _known(panel: _Panel, names: Iterable[Any], what: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise InvalidInput(f"{what} must be a list of regions, not one string")
    regions = tuple(str(name) for name in names)
    unknown = sorted(set(regions) - set(panel.regions))
    if unknown:
        raise InvalidInput(f"{what} has region(s) not in history: {', '.join(unknown[:5])}")
    if len(set(regions)) != len(regions):
        raise InvalidInput(f"{what} lists a region twice")
    return regions


def _fit(y: Array, x: Array) -> tuple[float, float, Array, float]:
    """OLS ``y ≈ alpha + beta · x``: (alpha, beta, residuals, R²)."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coef
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(residuals @ residuals) / total if total > 0 else 0.0
    return float(coef[0]), float(coef[1]), residuals, r2


def matched_split(history: Any, *, seed: int = 0, exclude: Sequence[str] = ()) -> GeoSplit:
    """Pair regions by the closeness of their series, and randomise treatment/control within each pair.

    The distance between regions i and j is ``Σ (y_i − y_j)² / Σ ((y_i + y_j) / 2)²`` over the periods: 0 for
    identical series, it grows with differences in both level and shape. Pairs are formed greedily, closest
    first; with an odd number of regions the one left over goes to control.
    """
    panel = _panel(history)
    excluded = _known(panel, exclude, "exclude")
    regions = [r for r in panel.regions if r not in excluded]
    if len(regions) < MIN_REGIONS:
        raise InvalidInput(f"a geo split needs at least {MIN_REGIONS} regions; history has {len(regions)}")
    columns = np.column_stack([panel.column([r]) for r in regions])
    diff = columns[:, :, None] - columns[:, None, :]
    mean = (columns[:, :, None] + columns[:, None, :]) / 2
    denominator = np.sum(mean**2, axis=0)
    distance = np.sum(diff**2, axis=0) / np.where(denominator > 0, denominator, 1.0)
    np.fill_diagonal(distance, np.inf)

    rng = np.random.default_rng(seed)
    free = set(range(len(regions)))
    pairs: list[tuple[str, str]] = []
    for flat in np.argsort(distance, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(regions))
        if i < j and i in free and j in free:
            free -= {i, j}
            first, second = regions[i], regions[j]
            pairs.append((first, second) if rng.random() < 0.5 else (second, first))
            if len(free) < 2:
                break
    odd = regions[free.pop()] if free else None
    treatment = tuple(t for t, _ in pairs)
    control = tuple(c for _, c in pairs) + ((odd,) if odd is not None else ())

    y, x = panel.column(treatment), panel.column(control)
    total = float(y.sum() + x.sum())
    _, _, residuals, r2 = _fit(y, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.abs(residuals) / np.abs(y)
    correlation = float(np.corrcoef(y, x)[0, 1]) if y.std() > 0 and x.std() > 0 else 0.0
    return GeoSplit(
        treatment=treatment,
        control=control,
        pairs=tuple(pairs),
        odd_region=odd,
        excluded=excluded,
        treatment_share=float(y.sum()) / total if total else 0.0,
        control_share=float(x.sum()) / total if total else 0.0,
        pre_r2=r2,
        pre_correlation=correlation,
        pre_mape=float(np.mean(ape[np.isfinite(ape)])) if np.isfinite(ape).any() else float("nan"),
        seed=seed,
    )


def _level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise InvalidInput(f"level must be a number between 0 and 1; got {level!r}")
    if not 0 < float(level) < 1:
        raise InvalidInput(f"level must be between 0 and 1 (e.g. 0.9); got {level}")
    return float(level)


def _groups(panel: _Panel, treatment: Any, control: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    treat, ctrl = _known(panel, treatment, "treatment"), _known(panel, control, "control")
    if not treat or not ctrl:
        raise InvalidInput("treatment and control each need at least one region")
    both = sorted(set(treat) & set(ctrl))
    if both:
        raise InvalidInput(f"region(s) in both treatment and control: {', '.join(both[:5])}")
    if len(treat) + len(ctrl) < MIN_REGIONS:
        raise InvalidInput(f"a geo test needs at least {MIN_REGIONS} regions; got {len(treat) + len(ctrl)}")
    return treat, ctrl


def _tbr(y_pre: Array, x_pre: Array, y_test: Array, x_test: Array, level: float) -> TbrEstimate:
    n, m = y_pre.size, y_test.size
    alpha, beta, _, r2 = _fit(y_pre, x_pre)
    design_pre = np.column_stack([np.ones(n), x_pre])
    design_test = np.column_stack([np.ones(m), x_test])
    incremental, half, se, actual, counterfactual, residual_sd = prediction_sum(
        y_pre, design_pre, y_test, design_test, level
    )
    return TbrEstimate(
        incremental=incremental,
        interval=(incremental - half, incremental + half),
        standard_error=se,
        relative_lift=incremental / counterfactual if counterfactual > 0 else None,
        actual=actual,
        counterfactual=counterfactual,
        alpha=alpha,
        beta=beta,
        pre_r2=r2,
        residual_sd=residual_sd,
        n_pre=n,
        n_test=m,
        level=level,
    )


def _date(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{name} must be a date: {error}") from None
    if pd.isna(stamp):
        raise InvalidInput(f"{name} must be a date; got {value!r}")
    return stamp


def time_based_regression(
    history: Any,
    treatment: Sequence[str],
    control: Sequence[str],
    test_start: Any,
    test_end: Any,
    level: float = 0.9,
) -> TbrEstimate:
    """Incremental KPI of the treatment over ``[test_start, test_end]`` by time-based regression.

    The pre-period is every period before ``test_start``; periods after ``test_end`` are ignored. The
    variance of the summed prediction error over the test periods is taken under AR(1) errors in full
    (:func:`models.prediction_error.prediction_sum`: the test periods' correlation, the fit's and the one
    between them, with the residual autocorrelation's bias corrected), and the interval uses a t quantile with
    ``n_pre − 2`` degrees of freedom. Noise in the control
    total attenuates ``beta`` a little (errors in variables), which biases the counterfactual when the test's
    control level lies far from the pre-period mean; the interval does not account for it.
    """
    level = _level(level)
    panel = _panel(history)
    treat, ctrl = _groups(panel, treatment, control)
    start, end = _date(test_start, "test_start"), _date(test_end, "test_end")
    if end < start:
        raise InvalidInput(f"test_end {end.date()} is before test_start {start.date()}")
    dates = pd.DatetimeIndex(panel.dates)
    pre = np.asarray(dates < start)
    test = np.asarray((dates >= start) & (dates <= end))
    if not test.any():
        raise InvalidInput(f"history has no period between {start.date()} and {end.date()}")
    if pre.sum() < 3:
        raise InvalidInput(f"time-based regression needs at least 3 pre-period periods; got {int(pre.sum())}")
    y, x = panel.column(treat), panel.column(ctrl)
    return _tbr(y[pre], x[pre], y[test], x[test], level)


def design_power(
    history: Any,
    split: GeoSplit,
    *,
    weeks: int,
    lift: float,
    n_placebos: int = 30,
    level: float = 0.9,
) -> GeoPower:
    """Power of a ``weeks``-period test of ``split`` against a relative ``lift``, by placebo tests.

    Placebo windows of ``weeks`` periods start where at least :func:`min_pre_periods` periods lie before them
    and the window fits in the history; ``n_placebos`` starts are spread evenly over those possible (all of
    them when fewer). Each window is analysed by TBR on the periods before it, with the treatment's KPI in
    the window multiplied by ``1 + lift`` (power) and as it is (false-positive rate).
    """
    level = _level(level)
    if isinstance(weeks, bool) or not isinstance(weeks, (int, np.integer)) or weeks < 1:
        raise InvalidInput(f"weeks must be a whole number of periods ≥ 1; got {weeks!r}")
    if isinstance(n_placebos, bool) or not isinstance(n_placebos, (int, np.integer)) or n_placebos < 1:
        raise InvalidInput(f"n_placebos must be a whole number ≥ 1; got {n_placebos!r}")
    if not isinstance(lift, (int, float, np.integer, np.floating)) or not np.isfinite(lift):
        raise InvalidInput(f"lift must be a finite number (0.05 for +5 %); got {lift!r}")
    panel = _panel(history)
    treat, ctrl = _groups(panel, split.treatment, split.control)
    starts, reads = _placebo_reads(panel, treat, ctrl, int(weeks), int(n_placebos), level)
    window_lifts: list[float] = []
    false_positives = 0
    for est in reads:
        low, high = est.interval
        false_positives += int(low > 0 or high < 0)
        # with lift l the estimate moves by l · actual, the half-width stays: detected iff low + l · actual > 0
        window_lifts.append(-low / est.actual if est.actual > 0 else float("inf"))
    needed = np.asarray(window_lifts)
    mdl = float(np.quantile(needed, TARGET_POWER, method="inverted_cdf"))
    return GeoPower(
        weeks=int(weeks),
        lift=float(lift),
        level=level,
        power=float(np.mean(needed <= float(lift))),
        false_positive_rate=false_positives / len(starts),
        minimum_detectable_lift=max(mdl, 0.0),
        n_placebos=len(starts),
        window_starts=tuple(panel.dates[int(s)] for s in starts),
        window_lifts=tuple(float(v) for v in needed),
    )


def _placebo_reads(
    panel: _Panel, treat: tuple[str, ...], ctrl: tuple[str, ...], weeks: int, n_placebos: int, level: float
) -> tuple[npt.NDArray[np.int_], list[TbrEstimate]]:
    """Window starts and TBR reads of ``weeks``-period placebo windows spread evenly over the history."""
    first = min_pre_periods(weeks)
    last = len(panel.dates) - weeks
    if last < first:
        raise InvalidInput(
            f"history has {len(panel.dates)} periods; a {weeks}-period test needs at least "
            f"{first + weeks} ({first} before the window)"
        )
    starts = np.unique(np.round(np.linspace(first, last, min(n_placebos, last - first + 1))).astype(int))
    y, x = panel.column(treat), panel.column(ctrl)
    reads = [
        _tbr(y[: int(s)], x[: int(s)], y[int(s) : int(s) + weeks], x[int(s) : int(s) + weeks], level) for s in starts
    ]
    return starts, reads


def placebo_checks(
    history: Any,
    treatment: Sequence[str],
    control: Sequence[str],
    *,
    weeks: int,
    n_placebos: int = 30,
    level: float = 0.9,
) -> tuple[float, int]:
    """``(false-positive rate, windows)`` of fake ``weeks``-period tests of the groups on ``history``.

    Each placebo window is read by TBR on the periods before it, as :func:`design_power` does; the rate is the
    share of windows whose interval at ``level`` excludes 0. ``InvalidInput`` when the history is too short.
    """
    level = _level(level)
    if isinstance(weeks, bool) or not isinstance(weeks, (int, np.integer)) or weeks < 1:
        raise InvalidInput(f"weeks must be a whole number of periods ≥ 1; got {weeks!r}")
    panel = _panel(history)
    treat, ctrl = _groups(panel, treatment, control)
    _, reads = _placebo_reads(panel, treat, ctrl, int(weeks), int(n_placebos), level)
    hits = sum(int(est.interval[0] > 0 or est.interval[1] < 0) for est in reads)
    return hits / len(reads), len(reads)
