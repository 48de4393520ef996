"""Interval estimates and tests for conversion rates, lifts, CPA and ROAS (pure numpy/scipy, vectorized).

Conventions: counts are array-likes broadcast together; ``confidence`` is two-sided (0.95 → 2.5 % each
side); results are float arrays (a bound that does not exist, such as the upper CPA bound with no
conversion in sight, is ``inf``).

**Always-valid intervals.** A fixed-sample interval checked every day is wrong more often than its label
says: over 30 daily looks a 95 % interval misses the truth at *some* look far more than 5 % of the time.
The confidence sequences here stay valid at every look at once (and so at any data-dependent stopping
time). They are the normal-mixture boundary of Howard, Ramdas, McAuliffe & Sekhon (2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences"), used with a plug-in variance as the asymptotic
confidence sequence of Waudby-Smith et al. (2023, "Time-uniform central limit theory"); it is the
mixture sequential probability ratio test (mSPRT) behind Optimizely's and Eppo's sequential results:

    estimate ± sqrt(V) · sqrt((1 + 1/(n ρ²)) · (log(n ρ² + 1) + 2 log(1/α)))

for an estimate with variance ``V`` from ``n`` sessions. ``ρ`` is the mixing parameter: the mixture of
likelihood ratios puts a normal prior with standard deviation ``ρ`` (in units of one session's standard
deviation) on the effect. Any fixed ``ρ`` gives valid intervals; it only decides *when* they are
narrowest. ``mixing_rho(target_sessions)`` picks the ρ that makes the boundary tightest near
``target_sessions`` (ρ² = (2 log(1/α) + log(1 + 2 log(1/α))) / n*, Waudby-Smith et al., eq. for the
optimal ρ); the default target is ``DEFAULT_TARGET_SESSIONS``. With a plug-in variance the guarantee is
asymptotic (large counts); ``tests/models/test_intervals.py`` checks ≥ 95 % coverage over 30 daily looks.

**Money.** CPA treats spend as fixed and conversions as Poisson (exact Garwood interval); value and ROAS
use Fay & Feuer's gamma interval for a sum of conversion values, with the values' spread pooled across
groups (``pooled_sum_of_squares``) so that a few conversions do not understate a heavy tail.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, logsumexp
from scipy.stats import chi2, chisquare, fisher_exact, norm

Array = npt.NDArray[np.float64]
Interval = tuple[Array, Array]

DEFAULT_TARGET_SESSIONS = 2_000
"""Sessions at which the always-valid intervals are narrowest by default (the mixing parameter's target)."""


def _f(values: Any) -> Array:
    return np.asarray(values, dtype=np.float64)


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: Any, trials: Any, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion (``(0, 1)`` where ``trials`` is 0)."""
    x, n = np.broadcast_arrays(_f(successes), _f(trials))
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        center = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low = np.where(n > 0, np.clip(center - half, 0.0, 1.0), 0.0)
    high = np.where(n > 0, np.clip(center + half, 0.0, 1.0), 1.0)
    low = np.where((n > 0) & (x <= 0), 0.0, low)  # exact ends: rounding must not move them
    high = np.where((n > 0) & (x >= n), 1.0, high)
    return low, high


def newcombe_difference_interval(x_a: Any, n_a: Any, x_b: Any, n_b: Any, confidence: float = 0.95) -> Interval:
    """Newcombe's hybrid score interval for ``p_b − p_a`` (method 10 of Newcombe 1998), from Wilson intervals."""
    x_a, n_a, x_b, n_b = np.broadcast_arrays(_f(x_a), _f(n_a), _f(x_b), _f(n_b))
    la, ua = wilson_interval(x_a, n_a, confidence)
    lb, ub = wilson_interval(x_b, n_b, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = x_a / n_a, x_b / n_b
    d = pb - pa
    low = d - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return low, high


def _log_ratio(x_a: Array, n_a: Array, x_b: Array, n_b: Array) -> tuple[Array, Array]:
    """log(p_b / p_a) and its delta-method variance (Katz), with 0.5 added to zero counts."""
    zero = (x_a <= 0) | (x_b <= 0)
    xa = np.where(zero, x_a + 0.5, x_a)
    xb = np.where(zero, x_b + 0.5, x_b)
    na = np.where(zero, n_a + 0.5, n_a)
    nb = np.where(zero, n_b + 0.5, n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(xb / nb) - np.log(xa / na)
        variance = 1 / xa - 1 / na + 1 / xb - 1 / nb
    return log_ratio, variance


def lift(x_a: Any, n_a: Any, x_b: Any, n_b: Any) -> Array:
    """Relative lift of b over a, ``p_b / p_a − 1`` (NaN where ``p_a`` is 0 or a count is missing)."""
    x_a, n_a, x_b, n_b = np.broadcast_arrays(_f(x_a), _f(n_a), _f(x_b), _f(n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (x_b / n_b) / (x_a / n_a) - 1
    return np.where(np.isfinite(value), value, np.nan)


def lift_interval(x_a: Any, n_a: Any, x_b: Any, n_b: Any, confidence: float = 0.95) -> Interval:
    """Fixed-sample interval for the lift ``p_b / p_a − 1``: Katz log-ratio (delta method) interval."""
    x_a, n_a, x_b, n_b = np.broadcast_arrays(_f(x_a), _f(n_a), _f(x_b), _f(n_b))
    log_ratio, variance = _log_ratio(x_a, n_a, x_b, n_b)
    half = _z(confidence) * np.sqrt(variance)
    return _ratio_bounds(log_ratio, half, x_a, n_a, x_b, n_b)


def _ratio_bounds(log_ratio: Array, half: Array, x_a: Array, n_a: Array, x_b: Array, n_b: Array) -> Interval:
    """Lift bounds from a log-ratio interval; no conversion in b (in a) opens the lower (upper) end fully."""
    ok = (n_a > 0) & (n_b > 0) & np.isfinite(half)
    with np.errstate(over="ignore", invalid="ignore"):
        low = np.where(ok, np.where(x_b <= 0, -1.0, np.expm1(log_ratio - half)), np.nan)
        high = np.where(ok, np.where(x_a <= 0, np.inf, np.expm1(log_ratio + half)), np.nan)
    return low, high


def mixing_rho(target_sessions: float = DEFAULT_TARGET_SESSIONS, alpha: float = 0.05) -> float:
    """The mixing parameter ρ that makes the always-valid boundary tightest near ``target_sessions``."""
    if target_sessions <= 0 or not 0 < alpha < 1:
        raise ValueError("need target_sessions > 0 and 0 < alpha < 1")
    log_term = 2 * np.log(1 / alpha)
    return float(np.sqrt((log_term + np.log(1 + log_term)) / target_sessions))


def always_valid_half_width(variance: Any, sessions: Any, alpha: float = 0.05, rho: float | None = None) -> Array:
    """Half-width of the normal-mixture confidence sequence for an estimate of ``variance`` from ``sessions``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    rho = mixing_rho(alpha=alpha) if rho is None else rho
    v, n = np.broadcast_arrays(_f(variance), _f(sessions))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = n * rho**2
        factor = (1 + 1 / t) * (np.log1p(t) + 2 * np.log(1 / alpha))
        half = np.sqrt(v * factor)
    return np.where(n > 0, half, np.inf)


def _smoothed_rate(x: Array, n: Array) -> Array:
    """Rate for plug-in variances, kept off 0 and 1 (adds half a success and half a failure)."""
    return (x + 0.5) / (n + 1)


def always_valid_proportion_interval(
    successes: Any, trials: Any, alpha: float = 0.05, rho: float | None = None
) -> Interval:
    """Confidence sequence for a proportion: covers the true rate at every look with probability ≥ 1 − α."""
    x, n = np.broadcast_arrays(_f(successes), _f(trials))
    p_var = _smoothed_rate(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, 0.5)
        half = always_valid_half_width(p_var * (1 - p_var) / n, n, alpha, rho)
    return np.clip(p - half, 0.0, 1.0), np.clip(p + half, 0.0, 1.0)


def always_valid_difference_interval(
    x_a: Any, n_a: Any, x_b: Any, n_b: Any, alpha: float = 0.05, rho: float | None = None
) -> Interval:
    """Confidence sequence for ``p_b − p_a``; ``n`` in the boundary is the sessions of both arms together."""
    x_a, n_a, x_b, n_b = np.broadcast_arrays(_f(x_a), _f(n_a), _f(x_b), _f(n_b))
    pa, pb = _smoothed_rate(x_a, n_a), _smoothed_rate(x_b, n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = pa * (1 - pa) / n_a + pb * (1 - pb) / n_b
        d = x_b / n_b - x_a / n_a
    half = always_valid_half_width(variance, n_a + n_b, alpha, rho)
    ok = (n_a > 0) & (n_b > 0)
    return np.where(ok, d - half, -1.0), np.where(ok, d + half, 1.0)


def always_valid_lift_interval(
    x_a: Any, n_a: Any, x_b: Any, n_b: Any, alpha: float = 0.05, rho: float | None = None
) -> Interval:
    """Confidence sequence for the lift ``p_b / p_a − 1`` (on the log-ratio scale, as ``lift_interval``)."""
    x_a, n_a, x_b, n_b = np.broadcast_arrays(_f(x_a), _f(n_a), _f(x_b), _f(n_b))
    log_ratio, variance = _log_ratio(x_a, n_a, x_b, n_b)
    # The boundary is scale-free in ``variance``; each session carries variance (n_a + n_b) · V of the estimate.
    half = always_valid_half_width(variance, n_a + n_b, alpha, rho)
    return _ratio_bounds(log_ratio, half, x_a, n_a, x_b, n_b)


def benjamini_hochberg(p_values: Any) -> Array:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries stay NaN and do not count as tests."""
    p = _f(p_values).ravel()
    q = np.full(p.shape, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    m = present.size
    if m == 0:
        return q.reshape(np.shape(p_values))
    order = present[np.argsort(p[present], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q.reshape(np.shape(p_values))


def chance_to_beat(x_a: Any, n_a: Any, x_b: Any, n_b: Any, prior_alpha: float = 1, prior_beta: float = 1) -> Array:
    """P(p_b > p_a) under independent Beta posteriors, exactly (Evan Miller's closed form; integer priors).

    The sum runs over the arm with fewer successes, so its cost is the smaller conversion count.
    """
    if int(prior_alpha) != prior_alpha or int(prior_beta) != prior_beta or prior_alpha < 1 or prior_beta < 1:
        raise ValueError("the closed form needs integer priors >= 1, e.g. the uniform Beta(1, 1)")
    x_a, n_a, x_b, n_b = np.broadcast_arrays(_f(x_a), _f(n_a), _f(x_b), _f(n_b))
    result = np.empty(x_a.shape)
    for index in np.ndindex(x_a.shape):
        a_a = prior_alpha + x_a[index]
        b_a = prior_beta + n_a[index] - x_a[index]
        a_b = prior_alpha + x_b[index]
        b_b = prior_beta + n_b[index] - x_b[index]
        if a_b <= a_a:
            result[index] = _beta_beats(a_a, b_a, a_b, b_b)
        else:
            result[index] = 1.0 - _beta_beats(a_b, b_b, a_a, b_a)
    return result


def _beta_beats(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """P(B > A) for A ~ Beta(a_a, b_a), B ~ Beta(a_b, b_b), with integer ``a_b`` (the number of terms)."""
    i = np.arange(round(a_b), dtype=np.float64)
    terms = betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a)
    return float(np.clip(np.exp(logsumexp(terms)), 0.0, 1.0))


def two_proportion_p_value(x_a: Any, n_a: Any, x_b: Any, n_b: Any, min_expected: float = 5.0) -> Array:
    """Two-sided p-value for ``p_a = p_b``: pooled z test, or Fisher's exact test where an expected cell
    count is under ``min_expected``. NaN where an arm has no sessions."""
    x_a, n_a, x_b, n_b = np.broadcast_arrays(_f(x_a), _f(n_a), _f(x_b), _f(n_b))
    n = n_a + n_b
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x_a + x_b) / n
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        z = (x_b / n_b - x_a / n_a) / se
        p = np.where(se > 0, 2 * norm.sf(np.abs(z)), 1.0)
        expected = np.minimum.reduce([pooled * n_a, (1 - pooled) * n_a, pooled * n_b, (1 - pooled) * n_b])
    small = (expected < min_expected) & (se > 0)
    p = np.array(p, dtype=np.float64, ndmin=1)
    for i in np.flatnonzero(small):
        table = [[x_a.flat[i], n_a.flat[i] - x_a.flat[i]], [x_b.flat[i], n_b.flat[i] - x_b.flat[i]]]
        p.flat[i] = fisher_exact(np.asarray(table, dtype=np.int64)).pvalue
    p = p.reshape(small.shape)
    return np.where((n_a > 0) & (n_b > 0), p, np.nan)


def sample_ratio_p_value(observed: Any, planned_shares: Any) -> float:
    """Chi-square goodness-of-fit p-value of observed sessions per arm against a planned split.

    ``planned_shares`` are positive weights (normalized here). A small p-value (industry practice: < 0.001)
    means the traffic split is broken and the comparison between the arms cannot be trusted.
    """
    counts = _f(observed)
    shares = _f(planned_shares)
    if counts.shape != shares.shape or counts.ndim != 1 or counts.size < 2:
        raise ValueError("need one observed count and one planned share per arm, for two arms or more")
    if np.any(shares <= 0) or np.any(counts < 0):
        raise ValueError("planned shares must be positive and counts non-negative")
    total = counts.sum()
    if total == 0:
        return 1.0
    return float(chisquare(counts, f_exp=total * shares / shares.sum()).pvalue)


def sessions_per_arm(
    p_reference: Any,
    relative_effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    sequential: bool = False,
    rho: float | None = None,
) -> Array:
    """Sessions each of two equal arms needs to detect a relative change ``relative_effect`` of ``p_reference``.

    Fixed-sample (``sequential=False``): the textbook two-sided z-test size
    ``(z_{1−α/2} + z_power)² (p_a q_a + p_b q_b) / δ²``. Sequential: the smallest size at which the
    always-valid difference interval is expected to exclude zero with probability ``power``
    (``δ ≥ z_power·sd + always-valid half-width``), found on a fine geometric grid (≈ 0.5 % steps).
    """
    if relative_effect == 0 or not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("need a non-zero effect, 0 < alpha < 1 and 0 < power < 1")
    p_a = np.clip(_f(p_reference), 1e-9, 1 - 1e-9)
    p_b = np.clip(p_a * (1 + relative_effect), 1e-9, 1 - 1e-9)
    delta = np.abs(p_b - p_a)
    var_one = p_a * (1 - p_a) + p_b * (1 - p_b)  # variance of the difference times the sessions per arm
    z_power = float(norm.ppf(power))
    if not sequential:
        return np.ceil((_z(1 - alpha) + z_power) ** 2 * var_one / delta**2)
    grid = np.unique(np.round(np.geomspace(2, 1e10, 4_000)))
    flat_var, flat_delta = var_one.ravel(), delta.ravel()
    sd = np.sqrt(flat_var[:, None] / grid[None, :])
    needed = z_power * sd + always_valid_half_width(sd**2, 2 * grid[None, :], alpha, rho)
    enough = needed <= flat_delta[:, None]
    first = np.where(enough.any(axis=1), grid[np.argmax(enough, axis=1)], np.inf)
    return first.reshape(delta.shape)


def poisson_interval(count: Any, confidence: float = 0.95) -> Interval:
    """Exact (Garwood) interval for a Poisson mean from one observed ``count``."""
    c = _f(count)
    tail = (1 - confidence) / 2
    low = np.where(c > 0, chi2.ppf(tail, 2 * c) / 2, 0.0)
    high = chi2.ppf(1 - tail, 2 * c + 2) / 2
    return low, high


def cpa_interval(spend: Any, conversions: Any, confidence: float = 0.95) -> Interval:
    """Interval for the cost per acquisition ``spend / conversions``, spend fixed, conversions Poisson.

    The upper bound is ``inf`` when the conversion interval reaches 0 (no conversion observed).
    """
    s = _f(spend)
    low_c, high_c = poisson_interval(conversions, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = s / high_c
        high = np.where(low_c > 0, s / low_c, np.inf)
    return low, high


def value_interval(total_value: Any, sum_squared_values: Any, max_value: Any, confidence: float = 0.95) -> Interval:
    """Interval for the expected total conversion value: Fay & Feuer's (1997) gamma interval for a weighted
    sum of Poisson counts, each conversion weighted by its value.

    ``total_value`` = Σv, ``sum_squared_values`` = Σv² and ``max_value`` = the largest value (with no
    conversion, pass a typical value: the upper bound is then the Poisson bound of zero counts times it).
    Conservative for skewed values and small counts, where the normal approximation fails.
    """
    y, v, w = np.broadcast_arrays(_f(total_value), _f(sum_squared_values), _f(max_value))
    tail = (1 - confidence) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where((y > 0) & (v > 0), v / (2 * y) * chi2.ppf(tail, 2 * y**2 / v), 0.0)
        upper_v, upper_y = v + w**2, y + w
        high = np.where(upper_v > 0, upper_v / (2 * upper_y) * chi2.ppf(1 - tail, 2 * upper_y**2 / upper_v), 0.0)
    return low, high


def pooled_sum_of_squares(
    sum_squared_values: Any, conversions: Any, pooled_mean_square: float, prior_conversions: float = 5.0
) -> Array:
    """Σv² of a group for ``value_interval``, its mean square shrunk toward a pooled one.

    ``C · (Σv² + k·m²) / (C + k)`` with ``k = prior_conversions`` pseudo-conversions of mean square ``m²``
    (e.g. over every conversion of a report). A few conversions say little about how skewed values are;
    without the pooling, heavy-tailed values (a rare large order) make the upper bound too low.
    """
    squares, count = np.broadcast_arrays(_f(sum_squared_values), _f(conversions))
    return count * (squares + prior_conversions * pooled_mean_square) / (count + prior_conversions)


def roas_interval(
    spend: Any, total_value: Any, sum_squared_values: Any, max_value: Any, confidence: float = 0.95
) -> Interval:
    """Interval for the return on ad spend ``value / spend``: ``value_interval`` over a fixed spend (NaN
    where spend is 0)."""
    s = _f(spend)
    low, high = value_interval(total_value, sum_squared_values, max_value, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, low / s, np.nan), np.where(s > 0, high / s, np.nan)
