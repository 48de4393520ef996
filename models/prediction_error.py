"""The summed prediction error of a regression forecast over a test window, with AR(1) errors.

Both on/off (time) tests and geo tests (time-based regression) read a test as the sum of actual minus predicted
KPI over the test periods, the prediction coming from an OLS fit on the periods before. Weekly and daily KPI
errors are autocorrelated, so the variance of that sum is taken under AR(1) errors in full — the test periods'
own correlation, the fit's, and the correlation between the two — with the residuals' autocorrelation corrected
for its downward bias. Checked by simulation in ``tests/models/test_time_test.py`` and
``benchmarks/bench_experiments.py``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import t as student_t

Array = npt.NDArray[np.float64]

__all__ = ["prediction_sum"]


def _rho(residuals: Array, hat: Array) -> float:
    """AR(1) coefficient of the errors from the fit's residuals, corrected for the downward bias of residual
    autocorrelation (the fit's own ``−Σ H[t, t−1] / (n − p)`` under white noise, scaled by Kendall's
    ``1 + 3ρ``), clipped to [0, 0.95]."""
    n = residuals.size
    denominator = float(residuals @ residuals)
    if n < 4 or denominator <= 0:
        return 0.0
    raw = float(residuals[1:] @ residuals[:-1]) / denominator
    p = float(np.trace(hat))
    bias = float(np.sum(np.diagonal(hat, offset=1))) / max(n - p, 1.0)  # −E[ρ̂] under white noise
    return float(np.clip(raw + bias * (1 + 3 * max(raw, 0.0)), 0.0, 0.95))


def prediction_sum(
    y_pre: Array, x_pre: Array, y_test: Array, x_test: Array, level: float, gap: int = 0
) -> tuple[float, float, float, float, float, float]:
    """(incremental, half-width, se, actual, counterfactual, residual sd) of the test periods by an OLS fit on
    the periods before them, ``gap`` periods apart (any design matrix: also TBR's ``[1, control]``).

    The errors are taken as AR(1) with correlation ``ρ^|i−j|`` (``ρ`` from :func:`_rho`): the variance of the
    summed prediction error ``Σ e_test − aᵀ e_pre`` (``a = X (XᵀX)⁺ s``, ``s`` the test rows' sum) is
    ``σ² (1ᵀR_tt1 + aᵀR_pp a − 2 aᵀR_pt 1)``, and ``σ²`` is the residual sum of squares over ``n − tr(H R_pp)``,
    its expectation under that correlation.
    """
    n, m = y_pre.size, y_test.size
    pinv = np.linalg.pinv(x_pre)
    coef = pinv @ y_pre
    hat = x_pre @ pinv
    residuals = y_pre - x_pre @ coef
    rank = round(float(np.trace(hat)))
    rho = _rho(residuals, hat)
    index = np.arange(n, dtype=np.float64)
    corr_pp = rho ** np.abs(index[:, None] - index[None, :])
    effective = max(n - float(np.sum(hat * corr_pp)), 1.0)
    sigma2 = float(residuals @ residuals) / effective
    summed = x_test.sum(axis=0)
    weights = pinv.T @ summed
    lags = np.arange(1, m)
    test_part = m + 2.0 * float(np.sum((m - lags) * rho**lags))
    to_test = rho ** (n + gap - index) * (1 - rho**m) / (1 - rho)  # Σ_j corr(e_i, e_test_j); ρ ≤ 0.95
    variance = sigma2 * (test_part + float(weights @ corr_pp @ weights) - 2.0 * float(weights @ to_test))
    se = float(np.sqrt(max(variance, 0.0)))
    counterfactual = float(summed @ coef)
    actual = float(y_test.sum())
    dof = max(n - rank, 1)
    half = float(student_t.ppf(0.5 + level / 2, dof)) * se
    return actual - counterfactual, half, se, actual, counterfactual, float(np.sqrt(sigma2))
