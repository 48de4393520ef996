"""Visitor holdouts: a stable, keyed random share of cookies is withheld from a channel, and the groups compared.

Assignment. A visitor's position is ``HMAC-SHA256(key, experiment_id + "\\0" + visitor_id)``'s first 8 bytes
over ``2**64``, a number in ``[0, 1)``; it is in the holdout when the position is below the experiment's share.
The key is the client's derived key (``KeyVault.derived_key(client_id, HOLDOUT_KEY_PURPOSE)``), so nobody without
it can tell or steer the groups; a visitor keeps its group for the whole test, and the experiment id in the
message makes two experiments' groups independent.

Units and outcomes. The units of a test are the visitors seen in the lookback (the ``weeks`` before the start, at
most 8) or in the test window ``[start, min(last_day, today - 1)]`` (days are UTC). A unit's outcome is its
conversions and revenue (``conversion_value``) in the window, 0 when it was not seen; its covariates are the same
metric and its session count in the lookback.

Reading. Treated (the channel ran) minus holdout, with CUPED on two covariates: θ is the pooled within-group
OLS of the outcome on (pre-period metric, pre-period sessions) — the multi-covariate extension of
``models.cuped`` — and ``cuped_difference`` then runs on the single covariate ``z = X θ`` (whose pooled slope is
1, so its intervals are those of the two-covariate adjustment). Each metric's difference per visitor is scaled
to the whole treated group (× treated visitors): what running the channel bought. Beside it: the raw interval,
CUPED's variance reduction, and an always-valid interval for daily looks (``models.sequential``). A chi-square
test of the group counts against the share flags a sample-ratio mismatch.

Design. Power by simulation on the client's own visitors: the last ``weeks`` of per-visitor outcomes with their
pre-period covariates are resampled, split by the share, the relative lift planted on the treated visitors, and
read with CUPED at the level; null draws of the same resamples give the false-positive rate. The minimum
detectable lift at 80 % power comes from the CUPED variance.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import chi2, norm

from core.errors import InvalidInput, NotReady
from models.cuped import cuped_difference
from models.sequential import confidence_sequence
from strategy.experiments.results import METRICS, Analysis, Design, DesignRequest, MetricEstimate, roi_range

if TYPE_CHECKING:
    from tracking.experiments import Experiment

Array = npt.NDArray[np.float64]

__all__ = [
    "HOLDOUT_KEY_PURPOSE",
    "analyze_holdout",
    "design_holdout",
    "holdout_audience",
    "holdout_position",
    "holdout_positions",
    "in_holdout",
]

HOLDOUT_KEY_PURPOSE = "holdout"
MAX_LOOKBACK_WEEKS = 8
N_SIMULATIONS = 200
TARGET_POWER = 0.8
SRM_P_VALUE = 0.001
MIN_VISITORS = 20
MAX_MDL = 5.0  # the largest lift a design request may ask for (+500 %)
_CELLS_PER_BATCH = 2_000_000  # resampled visitor outcomes held at once while simulating
_METRIC_COLUMNS = {"conversions": "conversions", "revenue": "conversion_value"}


def holdout_position(key: bytes, experiment_id: str, visitor_id: str) -> float:
    """The visitor's keyed position in ``[0, 1)`` for this experiment (HMAC-SHA256, first 8 bytes / 2**64)."""
    digest = hmac.new(key, f"{experiment_id}\0{visitor_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def holdout_positions(key: bytes, experiment_id: str, visitor_ids: Iterable[str]) -> Array:
    """:func:`holdout_position` of many visitors."""
    return np.fromiter((holdout_position(key, experiment_id, v) for v in visitor_ids), dtype=np.float64)


def _share(experiment: Experiment) -> float:
    share = experiment.holdout_share
    if experiment.type != "holdout" or share is None or not 0 < share < 1:
        raise InvalidInput(f"experiment {experiment.experiment_id!r} is not a visitor holdout with a share")
    return float(share)


def in_holdout(key: bytes, experiment: Experiment, visitor_id: str) -> bool:
    """Whether the visitor is in the experiment's holdout (its position is below the holdout share)."""
    return holdout_position(key, experiment.experiment_id, visitor_id) < _share(experiment)


def holdout_audience(experiment: Experiment, sessions: pd.DataFrame, key: bytes) -> list[str]:
    """Sorted ids of the visitors in ``sessions`` who are in the experiment's holdout (to exclude client-side)."""
    share = _share(experiment)
    if sessions.empty:
        return []
    visitors = pd.unique(sessions["visitor_id"].dropna().astype(str))
    held = holdout_positions(key, experiment.experiment_id, visitors) < share
    return sorted(str(v) for v in visitors[held])


def _lookback_weeks(weeks: int) -> int:
    return max(1, min(int(weeks), MAX_LOOKBACK_WEEKS))


def _units(sessions: pd.DataFrame, start: date, end: date, lookback_weeks: int) -> pd.DataFrame:
    """One row per visitor seen in the lookback or ``[start, end]``: outcomes in the window, covariates before.

    Columns: ``conversions``, ``revenue`` (window), ``pre_conversions``, ``pre_revenue``, ``pre_sessions``.
    """
    columns = ["conversions", "revenue", "pre_conversions", "pre_revenue", "pre_sessions"]
    if sessions.empty:
        return pd.DataFrame(columns=columns, dtype=float)
    days = pd.to_datetime(sessions["started_at"], utc=True).dt.tz_convert(None).dt.normalize()
    pre_start = pd.Timestamp(start - timedelta(weeks=lookback_weeks))
    in_pre = (days >= pre_start) & (days < pd.Timestamp(start))
    in_test = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
    frame = pd.DataFrame(
        {
            "visitor_id": sessions["visitor_id"].astype(str).to_numpy(),
            "conversions": np.where(in_test, sessions["conversions"].fillna(0).astype(float), 0.0),
            "revenue": np.where(in_test, sessions["conversion_value"].fillna(0.0).astype(float), 0.0),
            "pre_conversions": np.where(in_pre, sessions["conversions"].fillna(0).astype(float), 0.0),
            "pre_revenue": np.where(in_pre, sessions["conversion_value"].fillna(0.0).astype(float), 0.0),
            "pre_sessions": in_pre.astype(float).to_numpy(),
        }
    )[(in_pre | in_test).to_numpy()]
    return frame.groupby("visitor_id", sort=True)[columns].sum()


def _covariates(units: pd.DataFrame, metric: str) -> npt.NDArray[np.float64]:
    return units[[f"pre_{metric}", "pre_sessions"]].to_numpy(dtype=np.float64)


def _combined_covariate(y: Array, x: npt.NDArray[np.float64], groups: npt.NDArray[np.bool_]) -> Array:
    """``X θ`` with θ the pooled within-group OLS slope of ``y`` on the columns of ``x`` (0 for dead columns)."""
    xc, yc = x.copy(), y.copy()
    for mask in (groups, ~groups):
        if mask.any():
            xc[mask] -= xc[mask].mean(axis=0)
            yc[mask] -= yc[mask].mean()
    theta, *_ = np.linalg.lstsq(xc, yc, rcond=None)
    return np.asarray(x @ theta, dtype=np.float64)


def _sample_ratio(n_holdout: int, n_total: int, share: float) -> dict[str, object]:
    expected_holdout = n_total * share
    expected_treated = n_total - expected_holdout
    statistic = (n_holdout - expected_holdout) ** 2 / expected_holdout + (
        (n_total - n_holdout) - expected_treated
    ) ** 2 / expected_treated
    p_value = float(chi2.sf(statistic, 1))
    return {
        "expected_holdout_share": share,
        "observed_holdout_share": n_holdout / n_total,
        "holdout_visitors": n_holdout,
        "treated_visitors": n_total - n_holdout,
        "chi_square": float(statistic),
        "p_value": p_value,
        "ok": p_value >= SRM_P_VALUE,
    }


def _metric_estimate(
    metric: str, y: Array, z: Array, held: npt.NDArray[np.bool_], *, level: float, tuning_n: float
) -> MetricEstimate:
    treated = ~held
    estimate = cuped_difference(y[treated], y[held], z[treated], z[held], level=level)
    n_treated = int(treated.sum())
    scale = float(n_treated)
    av_low, av_high = confidence_sequence(
        estimate.difference, estimate.standard_error, held.size, level=level, tuning_n=tuning_n
    )
    actual = float(y[treated].sum())
    incremental = estimate.difference * scale
    return MetricEstimate(
        metric=metric,
        incremental=incremental,
        low=estimate.interval[0] * scale,
        high=estimate.interval[1] * scale,
        standard_error=estimate.standard_error * scale,
        actual=actual,
        counterfactual=actual - incremental,
        relative_lift=estimate.relative_lift,
        always_valid_low=float(av_low) * scale,
        always_valid_high=float(av_high) * scale,
        raw_low=estimate.raw_interval[0] * scale,
        raw_high=estimate.raw_interval[1] * scale,
        variance_reduction=estimate.variance_reduction,
    )


def analyze_holdout(experiment: Experiment, sessions: pd.DataFrame, key: bytes, *, today: date) -> Analysis:
    """Read a visitor holdout on the client's sessions (``interim`` before its planned end).

    ``NotReady`` before the first full day of the test or with fewer than 2 visitors in a group.
    """
    share = _share(experiment)
    end = min(experiment.last_day, today - timedelta(days=1))
    if end < experiment.start_date:
        raise NotReady(
            f"experiment {experiment.experiment_id!r} starts {experiment.start_date.isoformat()}: "
            "no full day of the test to read yet"
        )
    units = _units(sessions, experiment.start_date, end, _lookback_weeks(experiment.weeks))
    held = holdout_positions(key, experiment.experiment_id, units.index) < share
    n_held, n_total = int(held.sum()), int(held.size)
    if n_held < 2 or n_total - n_held < 2:
        raise NotReady(
            f"experiment {experiment.experiment_id!r} has {n_total - n_held} treated and {n_held} holdout "
            "visitors so far: at least 2 in each group are needed"
        )
    planned = experiment.design.get("units") if isinstance(experiment.design, dict) else None
    tuning_n = float(planned) if isinstance(planned, (int, float)) and planned >= 1 else float(n_total)
    metrics: dict[str, MetricEstimate] = {}
    for metric in METRICS:
        y = units[metric].to_numpy(dtype=np.float64)
        z = _combined_covariate(y, _covariates(units, metric), held)
        metrics[metric] = _metric_estimate(metric, y, z, held, level=experiment.level, tuning_n=tuning_n)

    sample_ratio = _sample_ratio(n_held, n_total, share)
    warnings: list[str] = []
    if not sample_ratio["ok"]:
        warnings.append(
            f"sample ratio mismatch: {n_held} of {n_total} visitors in the holdout "
            f"({n_held / n_total:.2%} against {share:.2%} planned, p = {sample_ratio['p_value']:.2g}); "
            "check that every visitor carries its cookie and that the flag is read the same way everywhere"
        )
    interim = end < experiment.end_date and experiment.stop_date is None
    if interim:
        warnings.append(
            f"interim read: {(end - experiment.start_date).days + 1} of {experiment.weeks * 7} planned days; "
            "act on the always-valid interval, not the fixed one"
        )
    # treated minus holdout is what the spend bought, whichever sign the change was given with
    spend = abs(experiment.spend_change) if experiment.spend_change else None
    roi, roi_low, roi_high = roi_range(metrics.get(experiment.kpi), spend)
    notes = (
        "incremental = (treated − holdout) per visitor × treated visitors: what running the channel bought",
        f"{n_total} visitors seen in the lookback or the test; CUPED covariates: the metric and sessions in the "
        f"{_lookback_weeks(experiment.weeks)} weeks before the start",
    )
    return Analysis(
        experiment_id=experiment.experiment_id,
        type="holdout",
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
        placebo_false_positive_rate=None,
        n_placebos=None,
        sample_ratio=sample_ratio,
        method="visitor holdout: keyed-hash groups, CUPED (pre-period metric and sessions), Welch interval, "
        "always-valid confidence sequence",
        notes=notes,
        warnings=tuple(warnings),
    )


def _choose_kpi(request: DesignRequest, sessions: pd.DataFrame) -> str:
    if request.kpi is not None:
        if request.kpi not in METRICS:
            raise InvalidInput(f"a holdout's kpi must be one of {', '.join(METRICS)}; got {request.kpi!r}")
        return request.kpi
    has_value = not sessions.empty and float(sessions["conversion_value"].fillna(0.0).sum()) > 0
    return "revenue" if has_value else "conversions"


def _minimum_detectable_lift(residual_sd: float, mean: float, n_treated: float, n_held: float, z_sum: float) -> float:
    """The relative lift detected with the target power, from the CUPED residual variance (at most ``MAX_MDL``).

    A lift ``L`` planted by scaling the treated outcomes scales their variance by ``(1 + L)²``, so ``L`` solves
    ``L = s · sqrt((1 + L)² / n_treated + 1 / n_held)`` with ``s = z_sum · sd / mean`` (the simulation's planting):
    with ``a = s² / n_treated`` and ``b = s² / n_held``, ``L = (a + sqrt(a² + (1 − a)(a + b))) / (1 − a)``; no
    lift is detectable with that power when ``a ≥ 1``.
    """
    if mean <= 0:
        return MAX_MDL
    s2 = (z_sum * residual_sd / mean) ** 2
    a, b = s2 / n_treated, s2 / n_held
    if a >= 1:
        return MAX_MDL
    return min((a + math.sqrt(a * a + (1 - a) * (a + b))) / (1 - a), MAX_MDL)


def _simulate_power(
    y: Array, z: Array, *, share: float, lift: float, level: float, n_draws: int, seed: int
) -> tuple[float, float]:
    """Power and false-positive rate of CUPED reads on ``n_draws`` resamples of the visitors (vectorised)."""
    rng = np.random.default_rng(seed)
    n = y.size
    critical = float(norm.ppf(0.5 + level / 2))
    batch = max(1, _CELLS_PER_BATCH // max(n, 1))
    hits = false_hits = 0
    done = 0
    while done < n_draws:
        size = min(batch, n_draws - done)
        index = rng.integers(0, n, size=(size, n))
        held = rng.random((size, n)) < share
        base, cov = y[index], z[index]
        significant = np.abs(_cuped_t(base, cov, held)) > critical
        false_hits += int(significant.sum())
        t_stat = _cuped_t(np.where(held, base, base * (1 + lift)), cov, held)
        hits += int(((np.abs(t_stat) > critical) & (np.sign(t_stat) == np.sign(lift))).sum())
        done += size
    return hits / n_draws, false_hits / n_draws


def _cuped_t(y: Array, z: Array, held: npt.NDArray[np.bool_]) -> Array:
    """Row-wise CUPED t statistic of treated − holdout (pooled within-group θ on ``z``, Welch variance)."""
    treated = ~held
    n_t = np.maximum(treated.sum(axis=1), 2)
    n_c = np.maximum(held.sum(axis=1), 2)

    def group_mean(values: Array, mask: npt.NDArray[np.bool_], n: Array) -> Array:
        return np.asarray(np.where(mask, values, 0.0).sum(axis=1) / n, dtype=np.float64)

    my_t, my_c = group_mean(y, treated, n_t), group_mean(y, held, n_c)
    mz_t, mz_c = group_mean(z, treated, n_t), group_mean(z, held, n_c)
    dz = z - np.where(treated, mz_t[:, None], mz_c[:, None])
    dy = y - np.where(treated, my_t[:, None], my_c[:, None])
    szz = (dz * dz).sum(axis=1)
    theta = np.divide((dz * dy).sum(axis=1), szz, out=np.zeros_like(szz), where=szz > 0)
    resid = dy - theta[:, None] * dz
    var_t = np.where(treated, resid**2, 0.0).sum(axis=1) / (n_t - 1)
    var_c = np.where(held, resid**2, 0.0).sum(axis=1) / (n_c - 1)
    se = np.sqrt(var_t / n_t + var_c / n_c)
    difference = (my_t - my_c) - theta * (mz_t - mz_c)
    return np.asarray(np.divide(difference, se, out=np.zeros_like(se), where=se > 0), dtype=np.float64)


def design_holdout(request: DesignRequest, sessions: pd.DataFrame, *, today: date) -> Design:
    """Plan a visitor holdout and its power by simulation on the client's last ``weeks`` of visitors.

    ``NotReady`` when the history has fewer than ``MIN_VISITORS`` visitors or no conversion of the KPI.
    """
    request = request.checked()
    if request.type != "holdout":
        raise InvalidInput(f"design_holdout designs holdouts; got type {request.type!r}")
    share = float(request.holdout_share)
    start = request.start or today
    end = start + timedelta(days=7 * request.weeks - 1)
    kpi = _choose_kpi(request, sessions)
    lookback = _lookback_weeks(request.weeks)
    history_end = today - timedelta(days=1)
    window_start = today - timedelta(weeks=request.weeks)
    units = _units(sessions, window_start, history_end, lookback)
    n = len(units)
    if n < MIN_VISITORS:
        raise NotReady(
            f"only {n} visitors in the last {request.weeks + lookback} weeks: a holdout needs at least "
            f"{MIN_VISITORS} visitors of history to be designed"
        )
    y = units[kpi].to_numpy(dtype=np.float64)
    if not (y > 0).any():
        raise NotReady(f"no {kpi} in the last {request.weeks} weeks: nothing to power a holdout on")
    z = _combined_covariate(y, _covariates(units, kpi), np.zeros(n, dtype=bool))
    power, false_positive_rate = _simulate_power(
        y, z, share=share, lift=request.lift, level=request.level, n_draws=N_SIMULATIONS, seed=request.seed
    )
    # Minimum detectable lift at 80 % from the CUPED variance (θ = 1 on z fitted over all units).
    residual_sd = float(np.std(y - z, ddof=1))
    z_sum = float(norm.ppf(0.5 + request.level / 2) + norm.ppf(TARGET_POWER))
    mdl = _minimum_detectable_lift(residual_sd, float(y.mean()), n * (1 - share), n * share, z_sum)
    raw_sd = float(np.std(y, ddof=1))
    reduction = 1 - (residual_sd / raw_sd) ** 2 if raw_sd > 0 else 0.0

    warnings: list[str] = []
    if power < TARGET_POWER:
        warnings.append(
            f"power {power:.0%} is below 80 % for a {request.lift:+.0%} lift: the minimum detectable lift is "
            f"{'over ' if mdl >= MAX_MDL else ''}{mdl:.1%}; run more weeks or hold out a larger share"
        )
    return Design(
        type="holdout",
        channel=request.channel,
        campaign_id=request.campaign_id,
        kpi=kpi,
        action="pause",
        start=start,
        end=end,
        weeks=request.weeks,
        lift=request.lift,
        level=request.level,
        power=power,
        minimum_detectable_lift=mdl,
        false_positive_rate=false_positive_rate,
        n_simulations=N_SIMULATIONS,
        history_start=window_start - timedelta(weeks=lookback),
        history_end=history_end,
        expected_kpi=float(y.sum()) * (1 - share),
        group_shares={"treated": 1 - share, "holdout": share},
        holdout_share=share,
        units=n,
        method=f"simulation: {N_SIMULATIONS} resamples of {n} visitors of the last {request.weeks} weeks, "
        "read with CUPED (pre-period metric and sessions)",
        notes=(
            f"expected_kpi: the treated visitors' {kpi} over {request.weeks} weeks at the recent rate",
            f"CUPED takes out {reduction:.0%} of the variance on this history",
        ),
        warnings=tuple(warnings),
    )
