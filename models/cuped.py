"""CUPED: a two-group difference in a per-unit metric, with a pre-period covariate taking out variance.

Deng, Xu, Kohavi & Walker (2013, "Improving the sensitivity of online controlled experiments by utilizing
pre-experiment data"), as GrowthBook, Statsig and Eppo use it. Each unit's outcome ``y`` (conversions or
revenue per visitor during the test) is replaced by

    y_adj = y − θ · (x − x̄)

where ``x`` is the same unit's pre-period figure (conversions or sessions before the test), ``x̄`` its mean
over both groups, and ``θ = cov(x, y) / var(x)`` pooled over both groups: the moments are taken within each
group (each around its own means) and summed, so the treatment's own shift of ``y`` does not leak into θ.
With this θ the adjusted difference equals the treatment coefficient of the regression ``y ~ 1 + group + x``
(ANCOVA). Because ``x`` was measured before assignment it is independent of the group, so the adjusted
difference estimates the same effect as the raw one, with variance smaller by about ``corr(x, y)²``.

The interval is Welch's: each group's variance of ``y_adj`` over its size, and a t quantile with the
Welch–Satterthwaite degrees of freedom (a normal quantile for large groups, in effect). The raw difference
and its interval are computed the same way from ``y`` and returned beside the adjusted ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import t as student_t

from core.errors import InvalidInput

Array = npt.NDArray[np.float64]

__all__ = ["CupedEstimate", "cuped_difference"]


@dataclass(frozen=True)
class CupedEstimate:
    """A treatment − control difference in mean outcome per unit, CUPED-adjusted, beside the raw one.

    ``relative_lift`` is the difference over the (adjusted) control mean, ``None`` when that mean is not
    positive. ``variance_reduction`` is ``1 − standard_error² / raw_standard_error²``: 0 when no adjustment
    was made, slightly negative when an unrelated covariate only adds noise. ``notes`` says when and why an
    adjustment or the relative lift was skipped.
    """

    difference: float
    relative_lift: float | None
    interval: tuple[float, float]
    standard_error: float
    theta: float
    variance_reduction: float
    raw_difference: float
    raw_interval: tuple[float, float]
    raw_standard_error: float
    treatment_mean: float
    control_mean: float
    n_treatment: int
    n_control: int
    level: float
    notes: tuple[str, ...] = ()


def _vector(values: Any, name: str) -> Array:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{name} must be numbers: {error}") from None
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be one value per unit (1-D); got shape {array.shape}")
    if array.size == 0:
        raise InvalidInput(f"{name} is empty: each group needs at least 2 units")
    if array.size < 2:
        raise InvalidInput(f"{name} has 1 unit: each group needs at least 2 units for a variance")
    bad = ~np.isfinite(array)
    if bad.any():
        raise InvalidInput(
            f"{name} has {int(bad.sum())} missing or infinite values (first at index {int(np.argmax(bad))})"
        )
    return array


def _welch(y_t: Array, y_c: Array, level: float) -> tuple[float, float, tuple[float, float]]:
    """Difference of means, its standard error and its Welch interval at ``level``."""
    n_t, n_c = y_t.size, y_c.size
    v_t, v_c = float(np.var(y_t, ddof=1)) / n_t, float(np.var(y_c, ddof=1)) / n_c
    difference = float(y_t.mean() - y_c.mean())
    variance = v_t + v_c
    se = float(np.sqrt(variance))
    if variance > 0:
        df = variance**2 / (v_t**2 / (n_t - 1) + v_c**2 / (n_c - 1))
        half = float(student_t.ppf(0.5 + level / 2, df)) * se
    else:
        half = 0.0
    return difference, se, (difference - half, difference + half)


def cuped_difference(
    y_treatment: Any,
    y_control: Any,
    x_treatment: Any,
    x_control: Any,
    *,
    level: float = 0.9,
) -> CupedEstimate:
    """CUPED estimate of ``mean(y_treatment) − mean(y_control)`` with pre-period covariate ``x``.

    ``y_*`` are the per-unit outcomes of each group, ``x_*`` the same units' pre-period covariate (same
    lengths, same order). ``level`` is the two-sided interval's coverage (0.9 → 5 % each side). A covariate
    that does not vary within the groups cannot adjust anything: the raw estimate is returned with a note.
    Raises InvalidInput for empty or one-unit groups, mismatched lengths, non-finite values or a bad level.
    """
    if not 0 < level < 1:
        raise InvalidInput(f"level must be between 0 and 1 (0.9 for a 90 % interval); got {level}")
    y_t, y_c = _vector(y_treatment, "y_treatment"), _vector(y_control, "y_control")
    x_t, x_c = _vector(x_treatment, "x_treatment"), _vector(x_control, "x_control")
    if x_t.size != y_t.size:
        raise InvalidInput(f"x_treatment has {x_t.size} values but y_treatment has {y_t.size}: one of each per unit")
    if x_c.size != y_c.size:
        raise InvalidInput(f"x_control has {x_c.size} values but y_control has {y_c.size}: one of each per unit")

    raw_difference, raw_se, raw_interval = _welch(y_t, y_c, level)
    notes: list[str] = []
    if np.ptp(x_t) == 0 and np.ptp(x_c) == 0:
        theta = 0.0
        notes.append("the covariate does not vary within the groups: no CUPED adjustment (variance reduction 0)")
    else:
        dx_t, dx_c = x_t - x_t.mean(), x_c - x_c.mean()
        sxy = float(dx_t @ (y_t - y_t.mean()) + dx_c @ (y_c - y_c.mean()))
        theta = sxy / float(dx_t @ dx_t + dx_c @ dx_c)
    x_bar = float(np.concatenate([x_t, x_c]).mean())
    adj_t, adj_c = y_t - theta * (x_t - x_bar), y_c - theta * (x_c - x_bar)
    difference, se, interval = _welch(adj_t, adj_c, level)
    variance_reduction = 1.0 - se**2 / raw_se**2 if theta != 0.0 and raw_se > 0 else 0.0

    control_mean = float(adj_c.mean())
    relative_lift = difference / control_mean if control_mean > 0 else None
    if relative_lift is None:
        notes.append(f"the control mean is {control_mean:.4g}: no relative lift")
    return CupedEstimate(
        difference=difference,
        relative_lift=relative_lift,
        interval=interval,
        standard_error=se,
        theta=theta,
        variance_reduction=variance_reduction,
        raw_difference=raw_difference,
        raw_interval=raw_interval,
        raw_standard_error=raw_se,
        treatment_mean=float(adj_t.mean()),
        control_mean=control_mean,
        n_treatment=int(y_t.size),
        n_control=int(y_c.size),
        level=level,
        notes=tuple(notes),
    )
