"""CUPED for the effectiveness report: the visitors' history before a session takes noise out of its comparisons.

Deng, Xu, Kohavi & Walker (2013); ``models.cuped`` is the two-group, one-covariate version that experiment
analysis uses. Here the units are sessions, the outcome ``y`` is the session's conversion (0/1) and the
covariates are the visitor's history *before* the session, which the arm shown in it cannot change:
``log(1 + prev_sessions)`` and ``log(1 + prev_conversions)`` (the logarithm keeps a few very busy visitors
from steering θ; any function of pre-period data keeps the estimate unbiased). A covariate that is missing,
or constant over the whole frame, is dropped; with none left nothing changes.

Within each comparison family (the creatives of one campaign, the campaigns of one channel):

* θ is the OLS slope of ``y`` on the covariates, on data centred within each arm and pooled over the
  family's arms (so a difference between arms does not leak into θ);
* each arm's adjusted rate is ``m = p − θ·(x̄_arm − x̄_family)``: the arm's rate moved by what its visitors'
  history predicts beyond the family's average history (unbiased under randomisation, as the raw rate);
* each arm's variance ratio ``r = S²_adj / S²_raw`` is its within-arm residual sum of squares over its raw
  one (``S²_adj = S_yy − 2θ·S_xy + θᵀS_xxθ``): the share of the arm's noise left after the adjustment.

``adjusted_comparisons`` turns these into the comparison's figures: lift ``m_b / m_a − 1`` with a
log-ratio interval of variance ``r_a p_a q_a / (n_a m_a²) + r_b p_b q_b / (n_b m_b²)`` (the Katz variance
with each arm's share of noise left, which equals Katz when nothing is adjusted), fixed and always-valid;
a z test of ``m_b − m_a`` with the pooled variance scaled by ``r``; and ``variance_reduction``, the share of
the variance of the difference that the adjustment removed (``1 − R²`` is what remains, and the sessions a
verdict still waits for shrink by that factor). Fisher's exact test, used where an expected cell count is
under 5, stays unadjusted: it is exact on the raw counts and has no CUPED form. A comparison with an arm
without conversions (or converting every session), or whose adjusted rate is not positive, is not adjusted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from models import intervals

Array = npt.NDArray[np.float64]

COVARIATES: tuple[str, ...] = ("prev_sessions", "prev_conversions")
PREFIX = "cuped_"
ADJUSTMENT_COLUMNS: tuple[str, ...] = ("shift", "variance_ratio", "family_variance_reduction")


def covariate_columns(sessions: pd.DataFrame) -> dict[str, Array]:
    """``{PREFIX + name: log(1 + value)}`` for each pre-period covariate that varies in ``sessions``.

    A missing or negative value is replaced by the mean of the others (a pre-period figure too, so the
    adjustment stays unbiased); a covariate with no value at all, or one value only, is left out.
    """
    columns: dict[str, Array] = {}
    for name in COVARIATES:
        if name not in sessions:
            continue
        values = pd.to_numeric(sessions[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        known = np.isfinite(values) & (values >= 0)
        if not known.any():
            continue
        transformed = np.log1p(np.where(known, values, 0.0))
        transformed = np.where(known, transformed, transformed[known].mean())
        if np.ptp(transformed) > 0:
            columns[f"{PREFIX}{name}"] = transformed
    return columns


def _empty_adjustments() -> pd.DataFrame:
    return pd.DataFrame({"group": pd.Series(dtype=object), "arm": pd.Series(dtype=object)}).assign(
        **{name: pd.Series(dtype=float) for name in ADJUSTMENT_COLUMNS}
    )


def arm_adjustments(data: pd.DataFrame, group_key: str, arm_key: str) -> pd.DataFrame:
    """Per arm of each family: ``group``, ``arm``, ``shift`` (``p − m``), ``variance_ratio`` (``r``) and the
    family's ``family_variance_reduction`` (1 − its pooled residual over its pooled raw sum of squares).

    ``data`` has the 0/1 ``converted`` column and the ``PREFIX`` covariate columns of ``covariate_columns``;
    without any covariate column the frame is empty (nothing to adjust).
    """
    names = [column for column in data.columns if str(column).startswith(PREFIX)]
    if not names:
        return _empty_adjustments()
    group_codes, groups = pd.factorize(data[group_key], sort=True)
    arm_codes, arms = pd.factorize(data[arm_key], sort=True)
    tagged = (group_codes >= 0) & (arm_codes >= 0)
    if not tagged.any():
        return _empty_adjustments()
    k = len(names)
    combined = group_codes[tagged].astype(np.int64) * len(arms) + arm_codes[tagged]
    cells, cell = np.unique(combined, return_inverse=True)

    def total(values: Array) -> Array:
        return np.bincount(cell, weights=values, minlength=len(cells)).astype(np.float64)

    y = data["converted"].to_numpy(dtype=np.float64)[tagged]
    x = data[names].to_numpy(dtype=np.float64)[tagged]
    n, sum_y = total(np.ones_like(y)), total(y)
    sum_x = np.column_stack([total(x[:, i]) for i in range(k)])
    mean_x = sum_x / n[:, None]
    s_yy = sum_y - sum_y**2 / n  # y is 0/1: the sum of squares is the sum
    s_xy = np.column_stack([total(x[:, i] * y) for i in range(k)]) - sum_x * (sum_y / n)[:, None]
    s_xx = np.empty((len(cells), k, k))
    for i in range(k):
        for j in range(i, k):
            s_xx[:, i, j] = s_xx[:, j, i] = total(x[:, i] * x[:, j]) - sum_x[:, i] * mean_x[:, j]
    codes, families = pd.factorize(cells // len(arms))
    family_xx = np.zeros((len(families), k, k))
    family_xy = np.zeros((len(families), k))
    family_x = np.zeros((len(families), k))
    family_n = np.zeros(len(families))
    np.add.at(family_xx, codes, s_xx)
    np.add.at(family_xy, codes, s_xy)
    np.add.at(family_x, codes, sum_x)
    np.add.at(family_n, codes, n)
    theta = _slopes(family_xx, family_xy)[codes]
    shift = np.einsum("ak,ak->a", theta, mean_x - (family_x / family_n[:, None])[codes])
    residual = s_yy - 2 * np.einsum("ak,ak->a", theta, s_xy) + np.einsum("ai,aij,aj->a", theta, s_xx, theta)
    residual = np.clip(residual, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(s_yy > 0, residual / s_yy, 1.0)
    family_raw, family_residual = np.zeros(len(families)), np.zeros(len(families))
    np.add.at(family_raw, codes, s_yy)
    np.add.at(family_residual, codes, residual)
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = np.where(family_raw > 0, 1 - family_residual / family_raw, 0.0)
    adjusted = np.any(theta != 0, axis=1)
    return pd.DataFrame(
        {
            "group": np.asarray(groups, dtype=object)[cells // len(arms)],
            "arm": np.asarray(arms, dtype=object)[cells % len(arms)],
            "shift": np.where(adjusted, shift, 0.0),
            "variance_ratio": np.where(adjusted, ratio, 1.0),
            "family_variance_reduction": np.where(adjusted, np.maximum(reduction[codes], 0.0), 0.0),
        }
    )


def _slopes(s_xx: Array, s_xy: Array) -> Array:
    """θ per family: OLS slopes from the pooled within-arm moments; a covariate that does not vary within
    the family's arms gets no slope (0), and so does every covariate of a family without such variation."""
    diagonal = np.diagonal(s_xx, axis1=1, axis2=2)
    varies = diagonal > 1e-9 * np.maximum(diagonal.max(axis=1, keepdims=True), 1e-300)
    theta = np.zeros(s_xy.shape)
    for family in np.flatnonzero(varies.any(axis=1)):
        used = np.flatnonzero(varies[family])
        matrix = s_xx[family][np.ix_(used, used)]
        theta[family, used] = np.linalg.lstsq(matrix, s_xy[family, used], rcond=None)[0]
    return theta


def adjusted_comparisons(
    counts_a: tuple[Any, Any],
    counts_b: tuple[Any, Any],
    adjustment_a: tuple[Any, Any],
    adjustment_b: tuple[Any, Any],
    *,
    confidence: float,
    rho: float,
) -> dict[str, Array]:
    """Lift of arm b over reference a with its fixed and always-valid intervals, the two-sided p-value and the
    variance reduction, CUPED-adjusted where an adjustment exists (raw figures, and reduction 0, elsewhere).

    ``counts_*`` are ``(conversions, sessions)``, ``adjustment_*`` ``(shift, variance_ratio)`` per row.
    Returns arrays ``lift``, ``lift_low``, ``lift_high``, ``always_valid_lift_low``, ``always_valid_lift_high``,
    ``p_value`` and ``variance_reduction``.
    """
    x_a, n_a = (np.asarray(v, dtype=np.float64) for v in counts_a)
    x_b, n_b = (np.asarray(v, dtype=np.float64) for v in counts_b)
    shift_a, r_a = (np.asarray(v, dtype=np.float64) for v in adjustment_a)
    shift_b, r_b = (np.asarray(v, dtype=np.float64) for v in adjustment_b)
    alpha = 1 - confidence
    out: dict[str, Array] = {"lift": intervals.lift(x_a, n_a, x_b, n_b)}
    out["lift_low"], out["lift_high"] = intervals.lift_interval(x_a, n_a, x_b, n_b, confidence)
    out["always_valid_lift_low"], out["always_valid_lift_high"] = intervals.always_valid_lift_interval(
        x_a, n_a, x_b, n_b, alpha, rho
    )
    out["p_value"] = intervals.two_proportion_p_value(x_a, n_a, x_b, n_b)
    out["variance_reduction"] = np.zeros(np.broadcast(x_a, x_b).shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = x_a / n_a, x_b / n_b
        m_a, m_b = p_a - shift_a, p_b - shift_b
        inside = (x_a > 0) & (x_a < n_a) & (x_b > 0) & (x_b < n_b)
        changed = (shift_a != 0) | (shift_b != 0) | (r_a != 1) | (r_b != 1)
        adjusted = inside & changed & (m_a > 0) & (m_b > 0)
        raw_a, raw_b = p_a * (1 - p_a) / n_a, p_b * (1 - p_b) / n_b
        log_ratio = np.log(m_b / m_a)
        variance = r_a * raw_a / m_a**2 + r_b * raw_b / m_b**2
        half = float(norm.ppf(0.5 + confidence / 2)) * np.sqrt(variance)
        av_half = intervals.always_valid_half_width(variance, n_a + n_b, alpha, rho)
        pooled = (x_a + x_b) / (n_a + n_b)
        se = np.sqrt(pooled * (1 - pooled) * (r_a / n_a + r_b / n_b))
        p_value = 2 * norm.sf(np.abs((m_b - m_a) / se))
        expected = np.minimum.reduce([pooled * n_a, (1 - pooled) * n_a, pooled * n_b, (1 - pooled) * n_b])
        reduction = 1 - (r_a * raw_a + r_b * raw_b) / (raw_a + raw_b)
        adjusted_values = {
            "lift": np.expm1(log_ratio),
            "lift_low": np.expm1(log_ratio - half),
            "lift_high": np.expm1(log_ratio + half),
            "always_valid_lift_low": np.expm1(log_ratio - av_half),
            "always_valid_lift_high": np.expm1(log_ratio + av_half),
            "p_value": np.where(expected < 5, out["p_value"], p_value),  # Fisher's exact test stays as it is
            "variance_reduction": reduction,
        }
    return {key: np.where(adjusted, adjusted_values[key], value) for key, value in out.items()}
