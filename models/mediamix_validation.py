"""Rolling-origin (time-slice) cross-validation of the media-mix model.

For each of ``folds`` origins a fresh clone of the model is fitted on every period before the origin and scored on
the next ``horizon`` periods; the test windows are consecutive and the last one ends with the series. The model
predicts the whole series up to the end of the window (so carry-over from the training periods reaches the test
periods) and only the test periods are scored.

Interval coverage per fold is the share of test periods whose KPI lies inside the model's per-period prediction
interval (:meth:`~models.mediamix.MediaMixModel.predict_interval` at the model's ``interval_level``: bootstrap
draws of every parameter plus residual noise); each clone draws ``interval_draws`` bootstrap refits for it
(``None`` when 0: no interval is computed and coverage is not measured).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import clone

from core.errors import InvalidInput
from models.mediamix import MediaMixModel, fit_metrics
from models.mediamix_design import min_periods, period_name

MIN_HORIZON_DAYS = 28  # the shortest test window: four weeks (or 28 days)
HORIZON_SHARE = 0.10  # default test window: a tenth of the series
UNSTABLE_MAPE_RATIO = 2.0  # folds' MAPE spread (worst / best) above which the fit is called unstable
UNSTABLE_MAPE_GAP = 0.05  # ... when the worst fold is also this much worse than the best (absolute)
METRICS = ("mape", "nrmse", "r2", "coverage")
INTERVAL_DRAWS = 20  # bootstrap refits per fold behind the coverage of its prediction interval


@dataclass(frozen=True)
class FoldScore:
    """One origin: the first test date, the sizes of the training and test sets, and the test metrics."""

    origin: str
    n_train: int
    n_test: int
    mape: float | None
    nrmse: float | None
    r2: float | None
    coverage: float | None = None


@dataclass(frozen=True)
class TimeSliceReport:
    """Scores per fold, their mean and worst (highest MAPE / NRMSE, lowest R²), and warnings."""

    cadence: str
    horizon: int
    folds: list[FoldScore]
    mean: dict[str, float | None]
    worst: dict[str, float | None]
    warnings: list[str] = field(default_factory=list)
    level: float | None = None
    coverage_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _default_horizon(n: int, period_days: int) -> int:
    return max(round(HORIZON_SHARE * n), math.ceil(MIN_HORIZON_DAYS / period_days))


def _summaries(folds: list[FoldScore]) -> tuple[dict[str, float | None], dict[str, float | None]]:
    mean: dict[str, float | None] = {}
    worst: dict[str, float | None] = {}
    for name in METRICS:
        values = [v for v in (getattr(f, name) for f in folds) if v is not None]
        mean[name] = float(np.mean(values)) if values else None
        if not values:
            worst[name] = None
        else:
            worst[name] = float(min(values)) if name in ("r2", "coverage") else float(max(values))
    return mean, worst


def _warnings(folds: list[FoldScore]) -> list[str]:
    out = []
    negative = sum(1 for f in folds if f.r2 is not None and f.r2 < 0)
    if negative:
        out.append(
            f"R² below 0 in {negative} of {len(folds)} folds: the model predicts those windows worse than their mean"
        )
    mapes = [f.mape for f in folds if f.mape is not None]
    if len(mapes) > 1:
        low, high = min(mapes), max(mapes)
        if high - low > UNSTABLE_MAPE_GAP and high > UNSTABLE_MAPE_RATIO * low:
            out.append(f"MAPE varies from {low:.1%} to {high:.1%} across folds: unstable")
    return out


def time_slice_validation(
    model: MediaMixModel,
    X: pd.DataFrame,
    y: ArrayLike,
    *,
    folds: int = 4,
    horizon: int | None = None,
    min_train: int | None = None,
    interval_draws: int = INTERVAL_DRAWS,
    lift_tests: pd.DataFrame | None = None,
) -> TimeSliceReport:
    """Rolling-origin cross-validation of ``model`` (unfitted or fitted: a fresh clone is fitted per fold).

    ``X`` and ``y`` are as for :meth:`MediaMixModel.fit` (consecutive periods, oldest first). ``horizon``: test
    periods per fold (a tenth of the series, at least 28 days' worth, when ``None``); ``min_train``: the fewest
    training periods for the first fold (the model's ``min_periods`` or its default when ``None``). The clones
    skip the model's own holdout (``holdout_share=0``) and draw ``interval_draws`` bootstrap refits (``n_draws``)
    for the coverage of their prediction intervals (0: point predictions only, coverage ``None``). Raises
    :class:`InvalidInput` when the series is too short for the folds asked. ``lift_tests`` calibrate every fold's
    fit; each fold uses only the tests whose window lies inside its training periods.
    """
    k = model.period_days
    unit = period_name(k)
    kpi = np.asarray(y, dtype=float)
    n = len(kpi)
    if len(X) != n:
        raise InvalidInput(f"X has {len(X)} rows but y has {n}")
    if folds < 1:
        raise InvalidInput(f"folds must be at least 1, not {folds}")
    if model.date_column not in X.columns:
        raise InvalidInput(f"X has no {model.date_column!r} column")
    dates = pd.to_datetime(X[model.date_column])
    if not dates.is_monotonic_increasing:
        raise InvalidInput(f"the {model.date_column!r} column must be in increasing order")
    size = _default_horizon(n, k) if horizon is None else horizon
    if size < 1:
        raise InvalidInput(f"horizon must be at least 1 {unit}, not {size}")
    least = (model.min_periods or min_periods(k)) if min_train is None else min_train
    first_origin = n - folds * size
    if first_origin < least:
        raise InvalidInput(
            f"{n} {unit}s are too few for {folds} folds of {size} {unit}s after at least {least} to train on "
            f"(need {least + folds * size})"
        )
    scores = []
    for i in range(folds):
        origin = first_origin + i * size
        end = origin + size
        fresh = clone(model).set_params(holdout_share=0.0, n_draws=max(interval_draws, 0))
        fresh.fit(X.iloc[:origin].reset_index(drop=True), kpi[:origin], lift_tests=lift_tests)
        window = X.iloc[:end].reset_index(drop=True)
        coverage = None
        if interval_draws > 0:
            interval = fresh.predict_interval(window).iloc[origin:]
            predicted = interval["predicted"].to_numpy()
            actual = kpi[origin:end]
            coverage = float(
                np.mean((actual >= interval["lower"].to_numpy()) & (actual <= interval["upper"].to_numpy()))
            )
        else:
            predicted = fresh.predict(window)[origin:]
        metrics = fit_metrics(kpi[origin:end], predicted)
        scores.append(
            FoldScore(
                str(dates.iloc[origin].date()),
                origin,
                size,
                metrics["mape"],
                metrics["nrmse"],
                metrics["r2"],
                coverage,
            )
        )
    mean, worst = _summaries(scores)
    if interval_draws > 0:
        note = (
            f"coverage: share of test {unit}s inside the {model.interval_level:.0%} prediction interval "
            f"({interval_draws} bootstrap draws per fold plus residual noise)"
        )
        level: float | None = model.interval_level
    else:
        note, level = "no prediction intervals drawn (interval_draws=0): coverage is not measured", None
    return TimeSliceReport(unit, size, scores, mean, worst, _warnings(scores), level, note)
