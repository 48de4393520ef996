"""Response curves of paid campaigns: carry-over (geometric adstock) and saturation (Hill)."""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted


def geometric_adstock(spend: np.ndarray, decay: float) -> np.ndarray:
    """Carry-over with weights summing to one: ``a[t] = (1 - decay) * s[t] + decay * a[t-1]``.

    A constant spend ``s`` settles at ``a = s``, so steady-state answers are in spend units.
    """
    spend = np.asarray(spend, dtype=float)
    out = np.empty_like(spend)
    level = spend[0] if len(spend) else 0.0  # start settled at the first day's spend
    for t, s in enumerate(spend):
        level = (1.0 - decay) * s + decay * level
        out[t] = level
    return out


def hill(x: np.ndarray, half_saturation: float, shape: float) -> np.ndarray:
    """Saturation in [0, 1): half of the maximum at ``half_saturation``."""
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    return x**shape / (half_saturation**shape + x**shape)


def _response(x: np.ndarray, beta: float, half_saturation: float, shape: float) -> np.ndarray:
    return beta * hill(x, half_saturation, shape)


class SpendResponse(Protocol):
    """What the budget allocator needs of a response curve, whether fitted per campaign or by a media-mix model.

    Amounts are daily; outcomes are in the curve's unit (conversions or value per day).
    """

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        """Expected daily outcome once a constant daily spend has settled (the point estimate)."""
        ...

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        """Draws of the settled daily outcome at ``daily_spend`` from the curve's uncertainty, shape ``(n_draws,)``.

        Draw ``i`` of every curve comes from the same resample or posterior draw index, so sums over spend
        levels of one curve keep their correlation.
        """
        ...


class ResponseCurve(RegressorMixin, BaseEstimator):
    """Expected daily outcome (sessions, conversions, value) of a daily spend.

    ``fit(spend, outcome)`` takes consecutive days. The adstock decay is chosen from ``decays`` by least
    squares; ``n_bootstrap`` refits on resampled days give the spread of the steady-state response.
    """

    def __init__(
        self, decays: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6), n_bootstrap: int = 60, random_state: int = 0
    ) -> None:
        self.decays = decays
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    @staticmethod
    def _fit_params(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
        scale = max(float(np.median(x[x > 0])) if np.any(x > 0) else 1.0, 1e-9)
        top = max(float(np.max(y)), 1e-9)
        p0 = (2.0 * top, scale, 1.0)
        bounds = ([0.0, scale * 0.05, 0.5], [top * 50.0, scale * 50.0, 3.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                params, _ = curve_fit(_response, x, y, p0=p0, bounds=bounds, maxfev=4000)
            except RuntimeError:
                params = np.asarray(p0)
        sse = float(np.sum((y - _response(x, *params)) ** 2))
        return params, sse

    def fit(self, spend: np.ndarray, outcome: np.ndarray) -> ResponseCurve:
        """Fit on daily spend and daily outcome of the same days, in order."""
        spend = np.asarray(spend, dtype=float)
        outcome = np.asarray(outcome, dtype=float)
        if spend.shape != outcome.shape or spend.ndim != 1:
            raise ValueError("spend and outcome must be 1-d arrays of the same days")
        if len(spend) < 7:
            raise ValueError("a response curve needs at least 7 days of spend")
        if np.any(spend < 0) or np.any(outcome < 0):
            raise ValueError("spend and outcome cannot be negative")
        fits = {d: self._fit_params(geometric_adstock(spend, d), outcome) for d in self.decays}
        self.decay_ = min(fits, key=lambda d: fits[d][1])
        params, sse = fits[self.decay_]
        self.beta_, self.half_saturation_, self.shape_ = (float(p) for p in params)
        self.residual_std_ = float(np.sqrt(sse / max(len(spend) - 3, 1)))
        x = geometric_adstock(spend, self.decay_)
        rng = np.random.default_rng(self.random_state)
        samples = []
        for _ in range(self.n_bootstrap):
            idx = rng.integers(0, len(x), len(x))
            boot, _ = self._fit_params(x[idx], outcome[idx])
            samples.append(boot)
        self.bootstrap_params_ = np.asarray(samples).reshape(-1, 3)
        self.mean_spend_ = float(spend.mean())
        self.n_days_ = len(spend)
        return self

    def predict(self, spend: np.ndarray) -> np.ndarray:
        """Expected outcome of each day of a spend sequence (carry-over included)."""
        check_is_fitted(self, "beta_")
        x = geometric_adstock(np.asarray(spend, dtype=float), self.decay_)
        return _response(x, self.beta_, self.half_saturation_, self.shape_)

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        """Expected daily outcome once a constant daily spend has settled."""
        check_is_fitted(self, "beta_")
        return _response(np.asarray(daily_spend, dtype=float), self.beta_, self.half_saturation_, self.shape_)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        """The bootstrap refits' settled daily outcomes at ``daily_spend`` (the point estimate when none)."""
        check_is_fitted(self, "bootstrap_params_")
        if len(self.bootstrap_params_) == 0:
            return np.asarray([float(self.steady_state(daily_spend))])
        return np.array([_response(np.asarray(daily_spend), *p) for p in self.bootstrap_params_], dtype=float)

    def steady_state_interval(self, daily_spend: float, level: float = 0.9) -> tuple[float, float]:
        """A bootstrap interval of the steady-state outcome at ``daily_spend``."""
        check_is_fitted(self, "bootstrap_params_")
        if len(self.bootstrap_params_) == 0:
            value = float(self.steady_state(daily_spend))
            return value, value
        draws = np.array([_response(np.asarray(daily_spend), *p) for p in self.bootstrap_params_], dtype=float)
        tail = (1.0 - level) / 2.0
        return float(np.quantile(draws, tail)), float(np.quantile(draws, 1.0 - tail))

    def marginal(self, daily_spend: float, step: float = 1.0) -> float:
        """Extra daily outcome of one more unit of daily spend."""
        return float(self.steady_state(daily_spend + step) - self.steady_state(daily_spend)) / step
