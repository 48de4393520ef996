"""Response curves of paid campaigns: carry-over (geometric adstock) and saturation (Hill).

A curve is fitted on consecutive days of spend and outcome (sessions, conversions, value) by an exhaustive
search over a grid of adstock decays, half-saturation points and Hill shapes, with the Hill height solved in
closed form for each grid point (least squares) and weak priors on the grid parameters, then polished
continuously. The grid search is one matrix product, so refitting it on a few hundred **residual block
bootstrap** series (the fitted days plus residuals redrawn in blocks of up to a week, which keeps their
autocorrelation) costs milliseconds; every resample also re-chooses the decay, so the spread of the draws
includes the uncertainty of the carry-over. ``bootstrap_weights_`` records the same resampled days, so
ratios such as conversions per session can be computed on the same resamples.

The priors (half saturation near the average spend, shape near 1, moderate decay) only matter where the
data say little: a campaign whose spend barely varied gets a curve with a typical curvature through its
observed level instead of an arbitrary one, and :attr:`ResponseCurve.spend_variation_` tells the caller to
say so.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from models.adstock import adstock_matrix, geometric_adstock

FloatArray = npt.NDArray[np.float64]

DEFAULT_DECAYS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DEFAULT_SHAPES: tuple[float, ...] = (0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.4, 1.7, 2.0, 2.5, 3.0)
HALF_SATURATION_RANGE = (0.1, 10.0)  # grid of half-saturation points, as multiples of the mean positive spend
MIN_DAYS = 7


def hill(x: npt.ArrayLike, half_saturation: npt.ArrayLike, shape: npt.ArrayLike) -> FloatArray:
    """Saturation in [0, 1): half of the maximum at ``half_saturation`` (broadcasts over parameters)."""
    ratio = np.maximum(np.asarray(x, dtype=float), 0.0) / np.asarray(half_saturation, dtype=float)
    with np.errstate(over="ignore"):
        powered = np.minimum(ratio ** np.asarray(shape, dtype=float), 1e300)  # ∞ would give ∞/∞
    return np.asarray(powered / (1.0 + powered), dtype=float)


def hill_derivative(
    x: npt.ArrayLike, beta: npt.ArrayLike, half_saturation: npt.ArrayLike, shape: npt.ArrayLike
) -> FloatArray:
    """d/dx of ``beta * hill(x, half_saturation, shape)``."""
    x_arr = np.maximum(np.asarray(x, dtype=float), 1e-12)
    k, s = np.asarray(half_saturation, dtype=float), np.asarray(shape, dtype=float)
    r = (x_arr / k) ** s
    return np.asarray(np.asarray(beta) * s * r / (x_arr * (1.0 + r) ** 2), dtype=float)


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


def block_bootstrap_indices(n_days: int, n_resamples: int, block_days: int, seed: int) -> npt.NDArray[np.int64]:
    """Days drawn by circular moving blocks of ``block_days`` consecutive days: shape ``(n_resamples, n_days)``."""
    rng = np.random.default_rng(seed)
    block = max(1, min(block_days, n_days))
    n_blocks = -(-n_days // block)
    starts = rng.integers(0, n_days, size=(n_resamples, n_blocks))
    return ((starts[:, :, None] + np.arange(block)) % n_days).reshape(n_resamples, -1)[:, :n_days]


def resample_counts(indices: npt.NDArray[np.int64], n_days: int) -> FloatArray:
    """How often each day appears in each resample of :func:`block_bootstrap_indices`."""
    n_resamples = len(indices)
    rows = np.repeat(np.arange(n_resamples), indices.shape[1])
    flat = np.bincount(rows * n_days + indices.ravel(), minlength=n_resamples * n_days)
    return flat.reshape(n_resamples, n_days).astype(float)


def block_bootstrap_weights(n_days: int, n_resamples: int, block_days: int, seed: int) -> FloatArray:
    """How often each day appears in each circular moving-block resample: shape ``(n_resamples, n_days)``."""
    return resample_counts(block_bootstrap_indices(n_days, n_resamples, block_days, seed), n_days)


def _log_prior(decay: FloatArray, half_ratio: FloatArray, shape: FloatArray, strength: float) -> FloatArray:
    """Weak priors: half saturation ~ logN(mean spend, 1), shape ~ logN(1, 0.5), decay ~ N(0.3, 0.3)."""
    return -strength * (
        0.5 * np.log(half_ratio) ** 2 + 0.5 * (np.log(shape) / 0.5) ** 2 + 0.5 * ((decay - 0.3) / 0.3) ** 2
    )


class ResponseCurve(RegressorMixin, BaseEstimator):
    """Expected daily outcome (sessions, conversions, value) of a daily spend: ``beta * hill(adstock(spend))``.

    ``fit(spend, outcome)`` takes consecutive days. Parameters: the grids of adstock ``decays`` and Hill
    ``shapes`` searched, ``n_bootstrap`` residual block-bootstrap refits with blocks of up to ``block_days``
    days (fewer on short series, so there are at least 8 blocks), the
    weight of the priors (``prior_strength``, 0 for none) and the ``random_state`` of the resampling.

    Learned: ``decay_``, ``beta_``, ``half_saturation_``, ``shape_`` (point estimate), ``bootstrap_params_``
    (``(n, 3)``: beta, half saturation, shape of each resample), ``bootstrap_decays_``,
    ``bootstrap_weights_`` (the resamples' day counts, for ratios computed on the same resamples),
    ``residual_std_``, ``mean_spend_``, ``spend_range_`` (lowest and highest adstocked daily spend seen),
    ``spend_variation_`` (coefficient of variation of the adstocked spend), ``n_days_``.
    """

    def __init__(
        self,
        decays: tuple[float, ...] = DEFAULT_DECAYS,
        shapes: tuple[float, ...] = DEFAULT_SHAPES,
        n_half_saturations: int = 36,
        n_bootstrap: int = 200,
        block_days: int = 7,
        prior_strength: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.decays = decays
        self.shapes = shapes
        self.n_half_saturations = n_half_saturations
        self.n_bootstrap = n_bootstrap
        self.block_days = block_days
        self.prior_strength = prior_strength
        self.random_state = random_state

    def _grid(self, scale: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        decays = np.asarray(self.decays, dtype=float)
        ratios = np.geomspace(*HALF_SATURATION_RANGE, self.n_half_saturations)
        shapes = np.asarray(self.shapes, dtype=float)
        d, k, s = np.meshgrid(decays, ratios * scale, shapes, indexing="ij")
        return d.ravel(), k.ravel(), s.ravel()

    def fit(self, spend: npt.ArrayLike, outcome: npt.ArrayLike) -> ResponseCurve:
        """Fit on daily spend and daily outcome of the same days, in order."""
        spend = np.asarray(spend, dtype=float)
        outcome = np.asarray(outcome, dtype=float)
        if spend.shape != outcome.shape or spend.ndim != 1:
            raise ValueError("spend and outcome must be 1-d arrays of the same days")
        if len(spend) < MIN_DAYS:
            raise ValueError(f"a response curve needs at least {MIN_DAYS} days of spend")
        if not (np.all(np.isfinite(spend)) and np.all(np.isfinite(outcome))):
            raise ValueError("spend and outcome must be finite")
        if np.any(spend < 0) or np.any(outcome < 0):
            raise ValueError("spend and outcome cannot be negative")
        if not np.any(spend > 0):
            raise ValueError("a response curve needs days with spend")
        n = len(spend)
        scale = float(spend[spend > 0].mean())
        decay_grid, half_grid, shape_grid = self._grid(scale)
        decays = np.asarray(self.decays, dtype=float)
        adstocked = adstock_matrix(spend, decays)  # (D, n)
        row = np.searchsorted(decays, decay_grid)
        h = hill(adstocked[row], half_grid[:, None], shape_grid[:, None])  # (C, n)
        floor = 1e-6 * max(float(np.mean(outcome**2)), 1e-12)
        prior = _log_prior(decay_grid, half_grid / scale, shape_grid, self.prior_strength)
        hh = (h * h).sum(axis=1)[:, None]

        def grid_fit(targets: FloatArray) -> FloatArray:
            """Best (beta, half saturation, shape, decay) on the grid for each row of ``targets``."""
            shy = h @ targets.T  # (C, rows)
            beta = np.where(hh > 0, shy / np.maximum(hh, 1e-300), 0.0)
            sse = np.maximum((targets * targets).sum(axis=1)[None, :] - beta * shy, 0.0)
            best = np.argmin(0.5 * n * np.log(sse / n + floor) - prior[:, None], axis=0)
            cols = np.arange(len(targets))
            return np.column_stack([beta[best, cols], half_grid[best], shape_grid[best], decay_grid[best]])

        point = self._refine(spend, outcome, grid_fit(outcome[None, :])[0], scale, floor)
        self.beta_, self.half_saturation_, self.shape_, self.decay_ = (float(p) for p in point)
        fitted = self.predict(spend)
        # residual bootstrap in moving blocks (at least 8 blocks): the spend pattern stays, the noise is redrawn
        block = min(self.block_days, max(1, n // 8))
        days = block_bootstrap_indices(n, self.n_bootstrap, block, self.random_state)
        residuals = (outcome - fitted) * np.sqrt(n / max(n - 4, 1))
        params = grid_fit(fitted[None, :] + residuals[days])
        self.bootstrap_params_ = params[:, :3].copy()
        self.bootstrap_decays_ = params[:, 3].copy()
        self.bootstrap_weights_ = resample_counts(days, n)
        fitted = self.predict(spend)
        self.residual_std_ = float(np.sqrt(np.sum((outcome - fitted) ** 2) / max(n - 4, 1)))
        x = geometric_adstock(spend, self.decay_)
        self.mean_spend_ = float(spend.mean())
        self.spend_range_ = (float(x.min()), float(x.max()))
        self.spend_variation_ = float(x.std() / x.mean()) if x.mean() > 0 else 0.0
        self.mean_outcome_ = float(outcome.mean())
        self.n_days_ = n
        return self

    def _refine(
        self, spend: FloatArray, outcome: FloatArray, start: FloatArray, scale: float, floor: float
    ) -> FloatArray:
        """Polish the grid's point estimate continuously (decay, log half saturation, log shape; beta profiled)."""
        n = len(spend)
        d_lo, d_hi = min(self.decays), max(self.decays)
        k_lo, k_hi = (np.log(scale * r) for r in HALF_SATURATION_RANGE)
        s_lo, s_hi = np.log(min(self.shapes)), np.log(max(self.shapes))

        def unpack(theta: FloatArray) -> tuple[float, float, float, float, float]:
            decay = float(np.clip(theta[0], d_lo, d_hi))
            half = float(np.exp(np.clip(theta[1], k_lo, k_hi)))
            shape = float(np.exp(np.clip(theta[2], s_lo, s_hi)))
            h = hill(geometric_adstock(spend, decay), half, shape)
            shh = float(h @ h)
            beta = float(h @ outcome / shh) if shh > 0 else 0.0
            sse = float(np.sum((outcome - beta * h) ** 2))
            return decay, half, shape, beta, sse

        def objective(theta: FloatArray) -> float:
            decay, half, shape, _, sse = unpack(theta)
            prior = _log_prior(np.asarray(decay), np.asarray(half / scale), np.asarray(shape), self.prior_strength)
            return float(0.5 * n * np.log(sse / n + floor) - prior)

        theta0 = np.array([start[3], np.log(start[1]), np.log(start[2])])
        result = minimize(
            objective, theta0, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8, "maxiter": 400}
        )
        theta = result.x if result.fun <= objective(theta0) else theta0
        decay, half, shape, beta, _ = unpack(theta)
        return np.array([beta, half, shape, decay])

    def predict(self, spend: npt.ArrayLike) -> FloatArray:
        """Expected outcome of each day of a spend sequence (carry-over included)."""
        check_is_fitted(self, "beta_")
        x = geometric_adstock(np.asarray(spend, dtype=float), self.decay_)
        return self.beta_ * hill(x, self.half_saturation_, self.shape_)

    def hill_parameters(self) -> tuple[float, float, float]:
        """``(beta, half_saturation, shape)`` of the point estimate."""
        check_is_fitted(self, "beta_")
        return self.beta_, self.half_saturation_, self.shape_

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        """Expected daily outcome once a constant daily spend has settled."""
        check_is_fitted(self, "beta_")
        return self.beta_ * hill(daily_spend, self.half_saturation_, self.shape_)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        """The bootstrap refits' settled daily outcomes at ``daily_spend`` (the point estimate when none)."""
        check_is_fitted(self, "bootstrap_params_")
        if len(self.bootstrap_params_) == 0:
            return np.asarray([float(self.steady_state(daily_spend))])
        p = self.bootstrap_params_
        return p[:, 0] * hill(float(daily_spend), p[:, 1], p[:, 2])

    def steady_state_interval(self, daily_spend: float, level: float = 0.9) -> tuple[float, float]:
        """A bootstrap interval of the steady-state outcome at ``daily_spend``."""
        return interval(self.steady_state_draws(daily_spend), level)

    def marginal(self, daily_spend: float, step: float | None = None) -> float:
        """Extra daily outcome of one more unit of daily spend (the derivative at ``daily_spend``)."""
        check_is_fitted(self, "beta_")
        return float(hill_derivative(daily_spend, self.beta_, self.half_saturation_, self.shape_))


class ScaledResponse:
    """A response curve times a per-curve factor with its own draws (e.g. sessions × conversion rate).

    Draw ``i`` is ``curve draw i × factor draw i``; the factor draws should come from the same resamples as
    the curve's (see :func:`rate_on_resamples`) so the two stay consistent.
    """

    def __init__(self, curve: ResponseCurve, factor: float, factor_draws: FloatArray) -> None:
        self.curve = curve
        self.factor = float(factor)
        self.factor_draws = np.asarray(factor_draws, dtype=float)

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        """Expected daily outcome once a constant daily spend has settled."""
        return self.factor * self.curve.steady_state(daily_spend)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        """Curve draws times factor draws, aligned by index."""
        draws = self.curve.steady_state_draws(daily_spend)
        factors = self.factor_draws if len(self.factor_draws) == len(draws) else np.full(len(draws), self.factor)
        return draws * factors

    def hill_parameters(self) -> tuple[float, float, float]:
        """``(beta, half_saturation, shape)`` of the point estimate, the factor folded into beta."""
        beta, half, shape = self.curve.hill_parameters()
        return beta * self.factor, half, shape

    def marginal(self, daily_spend: float) -> float:
        """Extra daily outcome of one more unit of daily spend."""
        return self.factor * self.curve.marginal(daily_spend)


def rate_on_resamples(
    numerator: npt.ArrayLike,
    denominator: npt.ArrayLike,
    weights: npt.ArrayLike,
    prior_mean: float,
    prior_weight: float,
) -> tuple[float, FloatArray]:
    """A shrunk ratio ``(Σ num + m·w) / (Σ den + w)`` on all days and on each resample of ``weights``.

    With conversions over sessions it is the posterior mean of a conversion rate under a Beta prior of mean
    ``prior_mean`` worth ``prior_weight`` sessions; the resample rows give its bootstrap draws.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    w = np.asarray(weights, dtype=float)
    point = (num.sum() + prior_mean * prior_weight) / (den.sum() + prior_weight)
    draws = (w @ num + prior_mean * prior_weight) / np.maximum(w @ den + prior_weight, 1e-12)
    return float(point), np.asarray(draws, dtype=float)


def interval(draws: npt.ArrayLike, level: float = 0.9) -> tuple[float, float]:
    """The central ``level`` interval of draws."""
    low, high = np.quantile(np.asarray(draws, dtype=float), [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)


def intervals(draws: npt.ArrayLike, level: float = 0.9) -> list[tuple[float, float]]:
    """The central ``level`` interval of each row of a 2-d array of draws."""
    bounds = np.quantile(np.asarray(draws, dtype=float), [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=1)
    return [(float(lo), float(hi)) for lo, hi in bounds.T]
