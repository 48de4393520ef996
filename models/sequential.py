"""Always-valid intervals for a difference of means or conversion rates read at daily looks.

A fixed-horizon interval checked every day and acted on the first day it excludes 0 is wrong far more often
than its level says. The confidence sequence here stays valid at every look at once (so at any
data-dependent stopping time): the normal-mixture boundary of Howard, Ramdas, McAuliffe & Sekhon (2021), the
mixture sequential probability ratio test of Johari, Pekelis & Walsh (2017) that Optimizely's and Eppo's
sequential results use:

    difference ± standard_error · sqrt((1 + 1/(n ρ²)) · (log(1 + n ρ²) + 2 log(1/α)))

with ``α = 1 − level`` and ``n`` the observations of both groups together. Any fixed ``ρ`` keeps the
guarantee; it only decides where the boundary is tightest. ``ρ`` comes from ``tuning_n`` (the sample size
the test is planned to reach, fixed before the data are seen) by ``models.intervals.mixing_rho``. The
variance is a plug-in estimate, so the guarantee is asymptotic (many observations per group);
``tests/models/test_sequential.py`` checks the false-positive rate over 30 daily looks by simulation.

The boundary is always wider than the fixed-horizon interval of the same level (``2 log(1/α) > z²`` for
the two-sided ``z`` of level ``1 − α``), and contains it: that width is the price of peeking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from core.errors import InvalidInput
from models.intervals import DEFAULT_TARGET_SESSIONS, always_valid_half_width, mixing_rho

Array = npt.NDArray[np.float64]

DEFAULT_TUNING_N = DEFAULT_TARGET_SESSIONS
"""Observations (both groups) at which the boundary is tightest unless the caller plans another size."""


@dataclass(frozen=True)
class SequentialEstimate:
    """One look at a two-group test: the difference (treatment − control) and its intervals."""

    difference: float
    standard_error: float
    n_treatment: int
    n_control: int
    level: float
    tuning_n: float
    fixed_low: float
    """Fixed-horizon interval: valid for one pre-planned look only, shown for comparison."""
    fixed_high: float
    low: float
    """Always-valid interval: valid at this look and every other one."""
    high: float
    excludes_zero: bool = field(init=False)
    """Whether the always-valid interval excludes 0 (a difference that holds however often one looks)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "excludes_zero", self.low > 0 or self.high < 0)


def _check_level(level: float) -> float:
    if not isinstance(level, Real) or not 0 < level < 1:
        raise InvalidInput(f"level must be between 0 and 1 (e.g. 0.9); got {level!r}")
    return float(level)


def _check_tuning_n(tuning_n: float) -> float:
    if not isinstance(tuning_n, Real) or not math.isfinite(tuning_n) or tuning_n <= 0:
        raise InvalidInput(f"tuning_n must be a positive number of observations; got {tuning_n!r}")
    return float(tuning_n)


def _as_float_array(name: str, values: Any) -> Array:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be numbers") from exc
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{name} has missing or infinite values")
    return array


def confidence_sequence(
    difference: Any,
    standard_error: Any,
    n: Any,
    *,
    level: float = 0.9,
    tuning_n: float = DEFAULT_TUNING_N,
) -> tuple[Array, Array]:
    """Always-valid ``(low, high)`` for a difference with ``standard_error`` from ``n`` observations (both groups).

    Array-likes broadcast together (one entry per look or per simulated test); ``level`` holds at every
    look at once. ``tuning_n`` is the planned sample size where the boundary is tightest; choose it before
    the test starts, not from the data.
    """
    alpha = 1 - _check_level(level)
    rho = mixing_rho(_check_tuning_n(tuning_n), alpha)
    d = _as_float_array("difference", difference)
    se = _as_float_array("standard_error", standard_error)
    size = _as_float_array("n", n)
    if np.any(se < 0):
        raise InvalidInput("standard_error must not be negative")
    if np.any(size < 1):
        raise InvalidInput("n (observations of both groups) must be at least 1")
    d, se, size = np.broadcast_arrays(d, se, size)
    half = always_valid_half_width(se**2, size, alpha, rho)
    return d - half, d + half


def _group(name: str, values: Any) -> Array:
    array = _as_float_array(name, values)
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be one value per unit (a flat list); got shape {array.shape}")
    if array.size < 2:
        raise InvalidInput(f"{name} needs at least 2 observations; got {array.size}")
    return array


def sequential_difference(
    y_treatment: Any,
    y_control: Any,
    level: float = 0.9,
    *,
    tuning_n: float = DEFAULT_TUNING_N,
) -> SequentialEstimate:
    """The current look at ``mean(y_treatment) − mean(y_control)`` (per-unit outcomes, e.g. 0/1 conversions).

    Unequal variances (Welch standard error); the fixed-horizon interval is the normal one of the same level.
    """
    level = _check_level(level)
    treated, control = _group("y_treatment", y_treatment), _group("y_control", y_control)
    difference = float(treated.mean() - control.mean())
    se = math.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    n = treated.size + control.size
    low, high = confidence_sequence(difference, se, n, level=level, tuning_n=tuning_n)
    z = float(norm.ppf(0.5 + level / 2))
    return SequentialEstimate(
        difference=difference,
        standard_error=se,
        n_treatment=int(treated.size),
        n_control=int(control.size),
        level=level,
        tuning_n=float(tuning_n),
        fixed_low=difference - z * se,
        fixed_high=difference + z * se,
        low=float(low),
        high=float(high),
    )
