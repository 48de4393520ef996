"""Media-mix regression: a daily or weekly KPI explained by baseline, controls and carried-over, saturating spend.

The model, for periods ``t`` of one length (``period_days``: 1 for days, 7 for weeks)::

    kpi[t] = intercept + trend * t + weekday[t] (days only) + yearly Fourier[t] (with ≥ 1 year of periods)
             + Σ_k γ_k · control_k[t] + Σ_c β_c · Hill(adstock_c(spend_c)[t]; κ_c, α_c) + noise,   β_c ≥ 0

with normalized geometric adstock (weights sum to one, so a constant spend per period settles at itself; the
decay is per period and the half-saturation κ_c in spend per period) and ``Hill(x) = x^α / (κ^α + x^α)``. The
settled effect of a constant spend ``S`` per period is therefore ``β_c · Hill(S)``. The curves handed to the
budget allocator answer per DAY whatever the period: a daily spend ``s`` is ``S = s · period_days`` per period,
and its daily effect ``β_c · Hill(S) / period_days`` (:class:`ChannelResponse`).

Why variable projection with bounded least squares (and not Optuna + ridge as in Meta's Robyn): for fixed
carry-over and saturation parameters the model is linear, so the intercept, trend, seasonality and control
coefficients are projected out exactly and the channel coefficients solved by non-negative least squares;
only 3 parameters per channel are left to the nonlinear solver (``scipy.optimize.least_squares``, trust
region with bounds, analytic Jacobian in Kaufman's form). A handful of seeded starts finds the optimum in
well under a second per start for 5 channels × 2 years, the answer is one deterministic fit rather than a
Pareto front of thousands of trials, and no ridge penalty shrinks the channel effects towards zero.

Uncertainty comes from a moving-block bootstrap over blocks of periods (two weeks of days, four weeks of weeks):
each draw refits all parameters, warm-started at the point estimate, with periods weighted by how often their
block was drawn.
Draw ``i`` of every channel curve comes from the same refit, so sums across channels keep their correlation.
Fit quality is reported as the field does: R² and NRMSE in sample, and MAPE, R², NRMSE on a held-out final
period (fitted on the days before it); and the share of effect against the share of spend per channel.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import least_squares, nnls
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from core.errors import InvalidInput
from models.mediamix_calibration import LiftRow, counterfactual, lift_rows
from models.mediamix_design import (
    BaseDesign,
    MediaMixData,
    min_periods,
    period_name,
    prediction_inputs,
    validate_frame,
)
from models.mediamix_families import MAX_LAGS, Families, carry, families_for, saturate

BLOCK_DAYS = {1: 14, 7: 28}  # bootstrap block per period length, in days: two weeks of days, four weeks of weeks
MIN_HOLDOUT = {1: 7, 7: 4}  # the shortest held-out tail, in periods: a week of days, four weeks
HOLDOUT_DRAWS = 30  # bootstrap draws of the held-out fit, for the interval of its predictions
# weak Gaussian priors (centre, SD) per parameter: log half-saturation around log(typical spend), Hill shape around 1
PRIORS = {"log_half_saturation": (0.0, 0.5), "shape": (1.0, 0.5)}
# a shared ROI prior: each channel's ROI ~ N(pooled ROI, (ROI_PRIOR_SD · pooled ROI)²), as a pseudo lift test
ROI_PRIOR_SD = 1.0
NOISE_SAMPLES = 2000  # draws × noise samples per period behind a prediction interval


@dataclass(frozen=True, eq=False)
class ChannelResponse:
    """The settled daily effect of a constant daily spend on one channel, with bootstrap draws.

    The parameters are those of the model's period (``period_days``: 1 or 7): ``beta`` is the KPI per period at
    full saturation, ``half_saturation`` a spend per period, ``decay`` the carry-over per period (the first
    parameter of the ``adstock`` family; all of them in ``adstock_params``). ``draws`` has one row per bootstrap
    refit: ``beta, half_saturation, shape, decay``. ``saturation`` names the curve (``hill``; ``logistic`` and
    ``michaelis_menten`` ignore ``shape``). The ``steady_state*`` methods answer per DAY (a daily spend ``s``
    settles at ``β · f(s · period_days) / period_days`` per day), so weekly and daily fits give the allocator the
    same units. Satisfies :class:`models.response.SpendResponse`.
    """

    channel: str
    beta: float
    half_saturation: float
    shape: float
    decay: float
    draws: np.ndarray = field(repr=False)
    period_days: int = 1
    saturation: str = "hill"
    adstock: str = "geometric"
    adstock_params: tuple[float, ...] = ()

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        """Expected daily KPI from this channel once ``daily_spend`` has settled."""
        k = self.period_days
        x = np.asarray(daily_spend, dtype=float) * k
        return self.beta * saturate(self.saturation, x, self.half_saturation, self.shape) / k

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        """The settled daily effect at ``daily_spend`` under each bootstrap draw, shape ``(n_draws,)``."""
        if len(self.draws) == 0:
            return np.atleast_1d(self.steady_state(daily_spend)).astype(float)
        k = self.period_days
        beta, half, shape = self.draws[:, 0], self.draws[:, 1], self.draws[:, 2]
        x = np.full(len(beta), float(daily_spend) * k)
        return np.asarray(beta * saturate(self.saturation, x, half, shape) / k, dtype=float)

    def steady_state_interval(self, daily_spend: float, level: float = 0.9) -> tuple[float, float]:
        """A bootstrap interval of the settled daily effect at ``daily_spend``."""
        draws = self.steady_state_draws(daily_spend)
        tail = (1.0 - level) / 2.0
        return float(np.quantile(draws, tail)), float(np.quantile(draws, 1.0 - tail))

    def marginal(self, daily_spend: float, step: float = 1.0) -> float:
        """Extra settled daily effect of one more unit of daily spend."""
        return float(self.steady_state(daily_spend + step) - self.steady_state(daily_spend)) / step

    def predict(self, spend: np.ndarray) -> np.ndarray:
        """This channel's effect per period along a sequence of spend per period (carry-over included, settled at
        the first period)."""
        values = np.asarray(spend, dtype=float)
        params = np.asarray(self.adstock_params or (self.decay,), dtype=float)
        carried = carry(self.adstock, values, params, MAX_LAGS.get(self.period_days, 13))
        return self.beta * saturate(self.saturation, carried, self.half_saturation, self.shape)


def fit_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """R², NRMSE (RMSE over the KPI's range, as Robyn reports it) and MAPE (over periods with a non-zero KPI)."""
    residual = y - predicted
    total = float(np.sum((y - y.mean()) ** 2))
    spread = float(y.max() - y.min())
    nonzero = y != 0
    rmse = float(np.sqrt(np.mean(residual**2)))
    return {
        "r2": 1.0 - float(np.sum(residual**2)) / total if total > 0 else None,
        "nrmse": rmse / spread if spread > 0 else None,
        "mape": float(np.mean(np.abs(residual[nonzero] / y[nonzero]))) if nonzero.any() else None,
    }


@dataclass(frozen=True)
class _Draws:
    """Bootstrap refits: parameters (n_draws × P, parameter-major), β and baseline coefficients in KPI units."""

    theta: np.ndarray
    beta: np.ndarray
    base: np.ndarray

    @classmethod
    def empty(cls, n_params: int, n_channels: int, n_base: int) -> _Draws:
        return cls(np.zeros((0, n_params)), np.zeros((0, n_channels)), np.zeros((0, n_base)))

    def __len__(self) -> int:
        return len(self.theta)


def _channel_effects(families: Families, theta: np.ndarray, beta: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Each channel's effect per period ``(n, C)`` for one parameter vector (``beta`` in the units wanted)."""
    c = spend.shape[1]
    params = theta.reshape(families.n_params, c).T
    out = np.zeros(spend.shape)
    for j in range(c):
        if beta[j] > 0:
            out[:, j] = beta[j] * families.transform(spend[:, j], params[j])
    return out


def _interval_samples(
    families: Families,
    base: np.ndarray,
    spend: np.ndarray,
    draws: _Draws,
    point: np.ndarray,
    noise_sd: float,
    seed: int,
) -> np.ndarray:
    """Samples of the KPI per period, ``(samples, n)``: each bootstrap draw's prediction (the point prediction
    when there are no draws) plus Gaussian residual noise; ``base`` is the design matrix."""
    if len(draws):
        centres = draws.base @ base.T
        for i in range(len(draws)):
            centres[i] += _channel_effects(families, draws.theta[i], draws.beta[i], spend).sum(axis=1)
    else:
        centres = point[None, :]
    per_centre = max(NOISE_SAMPLES // len(centres), 1)
    noise = np.random.default_rng(seed).normal(0.0, noise_sd, (len(centres), per_centre, len(point)))
    return np.asarray((centres[:, None, :] + noise).reshape(-1, len(point)), dtype=float)


def _quantiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The central ``level`` interval per column of ``samples``."""
    tail = (1.0 - level) / 2.0
    return np.quantile(samples, tail, axis=0), np.quantile(samples, 1.0 - tail, axis=0)


@dataclass(frozen=True)
class _Fit:
    theta: np.ndarray  # the families' parameters, parameter-major: (n_params × C) flattened
    beta: np.ndarray  # (C,) in scaled KPI units
    base_coef: np.ndarray
    cost: float


class _Problem:
    """Residuals and Jacobian of the variable-projection problem on (weighted) periods of one fit.

    ``lifts``: lift tests as pseudo-observations (:mod:`models.mediamix_calibration`), each row
    ``noise · (measured − β_c · g(θ_c)) / standard_error`` in scaled KPI units, beside the periods' rows
    (``noise``: the residual SD of the periods, scaled, so a test weighs as in a Gaussian likelihood).
    ``prior_mean`` / ``prior_weight``: Gaussian priors on ``theta`` as rows ``prior_weight · (θ − prior_mean)``
    (weight 0: no prior), independent of β, so outside the projection.
    """

    def __init__(
        self,
        spend: np.ndarray,
        base: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        families: Families | None = None,
        lifts: Sequence[LiftRow] = (),
        noise: float = 1.0,
        kpi_scale: float = 1.0,
        prior_mean: np.ndarray | None = None,
        prior_weight: np.ndarray | None = None,
    ) -> None:
        self.spend = spend
        self.families = families or Families()
        self.n_channels = spend.shape[1]
        self.root_w = np.sqrt(weights)
        self.base_w = base * self.root_w[:, None]
        left, singular, _ = np.linalg.svd(self.base_w, full_matrices=False)
        self.q = left[:, singular > singular[0] * 1e-10]
        self.y_w = y * self.root_w
        self.lifts = list(lifts)
        # a test's row: (measured - model) / se, in scaled units, times the data's residual SD (scaled)
        self.lift_scale = np.array([noise * kpi_scale / row.standard_error for row in self.lifts])
        self.prior_mean = prior_mean
        self.prior_rows = np.zeros(0, dtype=int) if prior_weight is None else np.flatnonzero(prior_weight > 0)
        self.prior_weight = np.zeros(0) if prior_weight is None else prior_weight[self.prior_rows]
        lift_y = np.array([row.measured / kpi_scale for row in self.lifts]) * self.lift_scale
        self.y_perp = np.concatenate([self._project(self.y_w), lift_y])
        self._cache: tuple[bytes, np.ndarray, np.ndarray] | None = None

    def _project(self, values: np.ndarray) -> np.ndarray:
        return values - self.q @ (self.q.T @ values)

    def params(self, theta: np.ndarray) -> np.ndarray:
        """Per channel parameters ``(C, n_params)`` from the parameter-major ``theta``."""
        return theta.reshape(self.families.n_params, self.n_channels).T

    def media(self, theta: np.ndarray) -> np.ndarray:
        """Saturated carry-over per channel ``(n, C)``."""
        params = self.params(theta)
        return np.column_stack([self.families.transform(self.spend[:, j], params[j]) for j in range(self.n_channels)])

    def _lift_features(self, theta: np.ndarray) -> np.ndarray:
        """``(T, C)``: each test's model incremental per unit of β (in its channel's column), times its row scale."""
        out = np.zeros((len(self.lifts), self.n_channels))
        params = self.params(theta)
        for t, row in enumerate(self.lifts):
            j = row.channel_index
            spend = self.spend[:, j]
            diff = self.families.transform(spend, params[j]) - self.families.transform(
                counterfactual(spend, row), params[j]
            )
            out[t, j] = float(row.weights @ diff) * self.lift_scale[t]
        return out

    def _solve(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = theta.tobytes()
        if self._cache is None or self._cache[0] != key:
            media_perp = self._project(self.media(theta) * self.root_w[:, None])
            if self.lifts:
                media_perp = np.vstack([media_perp, self._lift_features(theta)])
            beta, _ = nnls(media_perp, self.y_perp, maxiter=50 * self.n_channels)
            self._cache = (key, beta, media_perp)
        return self._cache[1], self._cache[2]

    def _prior_residual(self, theta: np.ndarray) -> np.ndarray:
        if not len(self.prior_rows):
            return np.zeros(0)
        assert self.prior_mean is not None
        return np.asarray(self.prior_weight * (theta - self.prior_mean)[self.prior_rows], dtype=float)

    def residual(self, theta: np.ndarray) -> np.ndarray:
        beta, media_perp = self._solve(theta)
        return np.concatenate([self.y_perp - media_perp @ beta, self._prior_residual(theta)])

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """Kaufman's variable-projection Jacobian ``-P⊥ (∂M/∂θ) β`` (``P⊥``: off the baseline and active channels)."""
        beta, media_perp = self._solve(theta)
        params = self.params(theta)
        c, p, n = self.n_channels, self.families.n_params, len(self.y_w)
        columns = np.zeros((n, p * c))
        lift_columns = np.zeros((len(self.lifts), p * c))
        for j in range(c):
            if beta[j] <= 0:
                continue
            _, derivatives = self.families.transform_with_derivatives(self.spend[:, j], params[j])
            for k in range(p):
                columns[:, k * c + j] = derivatives[:, k] * beta[j] * self.root_w
            for t, row in enumerate(self.lifts):
                if row.channel_index != j:
                    continue
                _, cf_derivatives = self.families.transform_with_derivatives(
                    counterfactual(self.spend[:, j], row), params[j]
                )
                lift_columns[t, j::c] = row.weights @ (derivatives - cf_derivatives) * beta[j] * self.lift_scale[t]
        columns = np.vstack([self._project(columns), lift_columns])
        active = media_perp[:, beta > 0]
        if active.shape[1]:
            q_active, _ = np.linalg.qr(active)
            columns -= q_active @ (q_active.T @ columns)
        prior = np.zeros((len(self.prior_rows), p * c))
        prior[np.arange(len(self.prior_rows)), self.prior_rows] = self.prior_weight
        return np.vstack([-columns, prior])

    def finish(self, theta: np.ndarray) -> _Fit:
        beta, media_perp = self._solve(theta)
        rest = self.y_w - (self.media(theta) * self.root_w[:, None]) @ beta
        base_coef = np.linalg.lstsq(self.base_w, rest, rcond=None)[0]
        residual = np.concatenate([self.y_perp - media_perp @ beta, self._prior_residual(theta)])
        return _Fit(theta.copy(), beta.copy(), base_coef, 0.5 * float(residual @ residual))

    def solve(self, start: np.ndarray, lower: np.ndarray, upper: np.ndarray, max_nfev: int) -> _Fit:
        result = least_squares(
            self.residual,
            np.clip(start, lower, upper),
            jac=self.jacobian,
            bounds=(lower, upper),
            method="trf",
            x_scale="jac",
            max_nfev=max_nfev,
            ftol=1e-8,
            xtol=1e-8,
        )
        return self.finish(np.asarray(result.x, dtype=float))


class MediaMixModel(RegressorMixin, BaseEstimator):
    """A daily or weekly KPI regressed on spend per channel (adstock + saturation, β ≥ 0), trend, seasonality,
    controls.

    ``period_days``: 1 (a row per day) or 7 (a row per week, dated by its first day; no weekday terms).
    ``fit(X, y, lift_tests=None)``: ``X`` holds ``date_column``, one spend column per channel (``channels``; all
    columns but the date and the controls when ``None``) and the ``controls``; ``y`` is the KPI of the same
    periods (revenue or conversions); ``lift_tests`` rows as :func:`tracking.lift.read_lift` returns them
    calibrate the channels they test (:mod:`models.mediamix_calibration`). Periods must be consecutive (use spend 0
    in periods without spend). ``adstock``: ``geometric``, ``weibull`` or ``delayed``; ``saturation``: ``hill``,
    ``logistic`` or ``michaelis_menten`` (:mod:`models.mediamix_families`). Bounds: ``decay_bounds`` per period,
    ``half_saturation_bounds`` as multiples of the channel's mean spend in periods with spend, ``shape_bounds``
    for the Hill exponent. ``n_draws`` block-bootstrap refits give the uncertainty (0 for none), over blocks of
    ``block_days`` days (:data:`BLOCK_DAYS` when ``None``); ``holdout_share`` of the final periods is held out for
    MAPE (0 to skip; at least :data:`MIN_HOLDOUT`). ``min_periods``: the fewest periods to fit (56 days or 26
    weeks when ``None``). ``prior_strength`` scales the weak priors on half-saturation and Hill shape (0: none);
    ``roi_prior_sd`` is the relative standard deviation of a shared ROI prior that draws each channel's ROI
    towards the pooled ROI of all channels (:data:`ROI_PRIOR_SD` by default; 0: none).

    Learned: ``channels_``, ``controls_``, ``dropped_channels_``, ``curves_`` (one
    :class:`ChannelResponse` per channel), ``base_columns_`` / ``base_coef_``, ``draws_`` (n_draws × channels
    × [beta, half_saturation, shape, decay]), ``fitted_`` (in-sample prediction), ``residual_sd_``, ``holdout_``
    (the held-out tail as the fit before it predicts it), ``warnings_`` and ``fit_report_`` (JSON-ready).
    """

    def __init__(
        self,
        channels: Sequence[str] | None = None,
        controls: Sequence[str] = (),
        date_column: str = "date",
        holdout_share: float = 0.125,
        n_draws: int = 100,
        n_starts: int = 4,
        block_days: int | None = None,
        decay_bounds: tuple[float, float] = (0.0, 0.9),
        half_saturation_bounds: tuple[float, float] = (0.1, 10.0),
        shape_bounds: tuple[float, float] = (0.5, 3.0),
        yearly_order: int = 3,
        min_periods: int | None = None,
        interval_level: float = 0.9,
        random_state: int = 0,
        period_days: int = 1,
        adstock: str = "geometric",
        saturation: str = "hill",
        prior_strength: float = 1.0,
        roi_prior_sd: float = ROI_PRIOR_SD,
    ) -> None:
        self.channels = channels
        self.controls = controls
        self.date_column = date_column
        self.holdout_share = holdout_share
        self.n_draws = n_draws
        self.n_starts = n_starts
        self.block_days = block_days
        self.decay_bounds = decay_bounds
        self.half_saturation_bounds = half_saturation_bounds
        self.shape_bounds = shape_bounds
        self.yearly_order = yearly_order
        self.min_periods = min_periods
        self.interval_level = interval_level
        self.random_state = random_state
        self.period_days = period_days
        self.adstock = adstock
        self.saturation = saturation
        self.prior_strength = prior_strength
        self.roi_prior_sd = roi_prior_sd

    # -- fitting -------------------------------------------------------------------------------------------

    def _bounds(self, data: MediaMixData) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of ``theta`` (parameter-major)."""
        spend = data.spend
        typical = [float(spend[spend[:, j] > 0, j].mean()) for j in range(spend.shape[1])]
        per_channel = [
            self.families_.bounds(t, self.decay_bounds, self.half_saturation_bounds, self.shape_bounds) for t in typical
        ]
        lower = np.array([[b[k][0] for b in per_channel] for k in range(self.families_.n_params)]).ravel()
        upper = np.array([[b[k][1] for b in per_channel] for k in range(self.families_.n_params)]).ravel()
        return lower, upper

    def _problem(
        self,
        data: MediaMixData,
        n_rows: int,
        base: np.ndarray,
        weights: np.ndarray,
        lifts: Sequence[LiftRow] = (),
        noise: float | None = None,
    ) -> _Problem:
        """The problem on the first ``n_rows`` periods; ``noise`` (the residual SD, scaled) weighs lift tests
        and priors against the periods (``None``: neither)."""
        rows = slice(0, n_rows)
        mean, weight = self._priors(data, noise) if noise is not None else (None, None)
        return _Problem(
            data.spend[rows],
            base,
            data.kpi[rows] / self.kpi_scale_,
            weights,
            self.families_,
            lifts if noise is not None else (),
            noise or 1.0,
            self.kpi_scale_,
            mean,
            weight,
        )

    def _priors(self, data: MediaMixData, noise: float) -> tuple[np.ndarray, np.ndarray]:
        """Means and row weights of the weak priors on ``theta`` (:data:`PRIORS`, times ``prior_strength``):
        half-saturation near the channel's typical spend, Hill shape near 1."""
        spend = data.spend
        c = spend.shape[1]
        typical = np.log([float(spend[spend[:, j] > 0, j].mean()) for j in range(c)])
        mean = np.zeros(self.families_.n_params * c)
        weight = np.zeros_like(mean)
        if self.prior_strength <= 0:
            return mean, weight
        for k, name in enumerate(self.families_.names):
            if name not in PRIORS:
                continue
            centre, sd = PRIORS[name]
            mean[k * c : (k + 1) * c] = typical + centre if name == "log_half_saturation" else centre
            weight[k * c : (k + 1) * c] = self.prior_strength * noise / sd
        return mean, weight

    def _roi_prior_rows(self, data: MediaMixData, n_rows: int, first: _Fit) -> list[LiftRow]:
        """A shared ROI prior (``roi_prior_sd`` > 0) as one pseudo lift test per channel: switching the channel off
        over the fitted periods loses the pooled ROI of ``first`` (every channel's effect over every channel's
        spend) times its spend, with a standard error of ``roi_prior_sd`` times that. Channels whose data say
        little are drawn towards the pooled ROI; well-measured ones keep their own."""
        if self.roi_prior_sd <= 0:
            return []
        spend = data.spend[:n_rows]
        effects = _channel_effects(self.families_, first.theta, first.beta, spend) * self.kpi_scale_
        pooled = float(effects.sum() / max(spend.sum(), 1e-300))
        if pooled <= 0:
            return []
        dates = data.dates[:n_rows]
        return [
            LiftRow(
                position=-1,
                channel=name,
                channel_index=j,
                start_date=str(dates[0].date()),
                end_date=str(dates[-1].date()),
                scope="immediate",
                measured=pooled * float(spend[:, j].sum()),
                standard_error=self.roi_prior_sd * pooled * float(spend[:, j].sum()),
                weights=np.ones(n_rows),
                change=spend[:, j].copy(),
            )
            for j, name in enumerate(data.channels)
            if spend[:, j].sum() > 0
        ]

    def _fit_rows(
        self, data: MediaMixData, n_rows: int, rng: np.random.Generator, lifts: Sequence[LiftRow] = ()
    ) -> tuple[_Fit, BaseDesign, float, list[LiftRow]]:
        """The best of ``n_starts`` fits on the first ``n_rows`` periods (the first start is the box's centre).

        A first fit from the centre, on the periods alone, gives the residual SD that weighs the priors and the
        lift tests against the periods; the final fits (priors and tests included) start from it (in place of the
        centre) and from the other starts. Returns the fit, its design, that residual SD (scaled) and the rows the
        bootstrap keeps in every refit (the lift tests and the ROI prior's, :meth:`_roi_prior_rows`).
        """
        rows = slice(0, n_rows)
        design = BaseDesign.for_fit(data, rows, self.yearly_order)
        base = design.matrix(data.dates[rows], data.controls[rows])
        lower, upper = self._bounds(data)
        starts = [(lower + upper) / 2.0] + [rng.uniform(lower, upper) for _ in range(max(self.n_starts, 1) - 1)]
        first = self._problem(data, n_rows, base, np.ones(n_rows)).solve(starts[0], lower, upper, max_nfev=100)
        noise = self._residual_sd(data, first, design, n_rows) / self.kpi_scale_
        lifts = [*lifts, *self._roi_prior_rows(data, n_rows, first)]
        problem = self._problem(data, n_rows, base, np.ones(n_rows), lifts, noise)
        if self.prior_strength <= 0 and not lifts:
            fits = [first] + [problem.solve(start, lower, upper, max_nfev=100) for start in starts[1:]]
        else:
            fits = [problem.solve(start, lower, upper, max_nfev=100) for start in [first.theta, *starts[1:]]]
        return min(fits, key=lambda f: f.cost), design, noise, lifts

    def _predict_scaled(
        self, fit: _Fit, design: BaseDesign, dates: pd.DatetimeIndex, spend: np.ndarray, controls: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Baseline (with controls) and per-channel effects, in scaled KPI units."""
        effects = _channel_effects(self.families_, fit.theta, fit.beta, spend)
        base = design.matrix(dates, controls) @ fit.base_coef
        return base, effects

    def _bootstrap(
        self,
        data: MediaMixData,
        fit: _Fit,
        design: BaseDesign,
        rng: np.random.Generator,
        n_rows: int,
        n_draws: int,
        lifts: Sequence[LiftRow] = (),
        noise: float | None = None,
    ) -> _Draws:
        """``n_draws`` refits on block-resampled periods among the first ``n_rows`` (lift tests, if any, kept in
        every refit), warm-started at ``fit``."""
        rows = slice(0, n_rows)
        block_days = BLOCK_DAYS[data.period_days] if self.block_days is None else self.block_days
        blocks = np.arange(n_rows) // max(block_days // data.period_days, 1)
        n_blocks = int(blocks[-1]) + 1
        base = design.matrix(data.dates[rows], data.controls[rows])
        lower, upper = self._bounds(data)
        thetas, betas, bases = [], [], []
        for _ in range(n_draws):
            counts = np.bincount(rng.integers(0, n_blocks, n_blocks), minlength=n_blocks)
            problem = self._problem(data, n_rows, base, counts[blocks].astype(float), lifts, noise)
            refit = problem.solve(fit.theta, lower, upper, max_nfev=30)
            thetas.append(refit.theta)
            betas.append(refit.beta * self.kpi_scale_)
            bases.append(refit.base_coef * self.kpi_scale_)
        if not thetas:
            return _Draws.empty(len(fit.theta), data.spend.shape[1], base.shape[1])
        return _Draws(np.array(thetas), np.array(betas), np.array(bases))

    def _residual_sd(self, data: MediaMixData, fit: _Fit, design: BaseDesign, n_rows: int) -> float:
        """The residual standard deviation of a fit on the first ``n_rows`` periods (KPI units), corrected for the
        parameters fitted: the base columns and β plus the families' parameters per channel with an effect."""
        rows = slice(0, n_rows)
        base, effects = self._predict_scaled(fit, design, data.dates[rows], data.spend[rows], data.controls[rows])
        residual = data.kpi[rows] / self.kpi_scale_ - base - effects.sum(axis=1)
        n_params = len(fit.base_coef) + (1 + self.families_.n_params) * int(np.sum(fit.beta > 0))
        dof = max(n_rows - n_params, 1)
        return float(np.sqrt(residual @ residual / dof)) * self.kpi_scale_

    def fit(self, X: pd.DataFrame, y: ArrayLike, lift_tests: pd.DataFrame | None = None) -> MediaMixModel:
        """Fit on consecutive days or weeks; see the class docstring for the columns and the errors raised.

        Linear algebra runs on one thread: the matrices are small, and threaded BLAS on a busy machine made
        each of the many small decompositions 50 times slower.
        """
        with threadpool_limits(limits=1):
            return self._fit(X, y, lift_tests)

    def _lifts(
        self, lift_tests: pd.DataFrame | None, data: MediaMixData, n_rows: int
    ) -> tuple[list[LiftRow], list[str]]:
        if lift_tests is None or len(lift_tests) == 0:
            return [], []
        return lift_rows(lift_tests, data, n_rows, tuple(self.channels or ()))

    def _fit(self, X: pd.DataFrame, y: ArrayLike, lift_tests: pd.DataFrame | None = None) -> MediaMixModel:
        started = time.perf_counter()
        unit = period_name(self.period_days)
        self.families_ = families_for(self.adstock, self.saturation, self.period_days)
        data = validate_frame(X, y, self.channels, self.controls, self.date_column, self.min_periods, self.period_days)
        warnings = list(data.warnings)
        scale = float(np.std(data.kpi))
        if scale <= 0:
            raise InvalidInput(f"the KPI is the same every {unit}; there is nothing to explain")
        self.kpi_scale_ = scale
        n = len(data.kpi)
        lifts, lift_warnings = self._lifts(lift_tests, data, n)
        warnings += lift_warnings
        rng = np.random.default_rng(self.random_state)
        holdout = self._holdout(data, rng, warnings, lift_tests)
        fit, design, noise, kept = self._fit_rows(data, n, rng, lifts)
        c = len(data.channels)
        base, effects = self._predict_scaled(fit, design, data.dates, data.spend, data.controls)
        self.channels_ = data.channels
        self.controls_ = data.control_names
        self.dropped_channels_ = data.dropped_channels
        self.design_ = design
        self.fit_ = fit
        self.base_columns_ = design.names(data.control_names)
        self.base_coef_ = fit.base_coef * scale
        self.fitted_ = (base + effects.sum(axis=1)) * scale
        self.residual_sd_ = self._residual_sd(data, fit, design, n)
        self.theta_draws_ = (
            self._bootstrap(data, fit, design, rng, n, self.n_draws, kept, noise)
            if self.n_draws > 0
            else _Draws.empty(len(fit.theta), c, len(fit.base_coef))
        )
        self.base_draws_ = self.theta_draws_.base
        params = fit.theta.reshape(self.families_.n_params, c).T
        self.draws_ = np.zeros((len(self.theta_draws_), c, 4))
        for i in range(len(self.theta_draws_)):
            draw_params = self.theta_draws_.theta[i].reshape(self.families_.n_params, c).T
            for j in range(c):
                self.draws_[i, j] = (self.theta_draws_.beta[i, j], *self.families_.curve_parameters(draw_params[j]))
        n_adstock = len(self.families_.adstock_params)
        self.curves_ = {
            name: ChannelResponse(
                name,
                float(fit.beta[j] * scale),
                *self.families_.curve_parameters(params[j]),
                self.draws_[:, j, :],
                data.period_days,
                self.families_.saturation,
                self.families_.adstock,
                tuple(float(v) for v in params[j][:n_adstock]),
            )
            for j, name in enumerate(data.channels)
        }
        warnings += self._parameter_warnings(data, effects.sum(axis=0) * scale)
        r2 = fit_metrics(data.kpi, self.fitted_)["r2"]
        if r2 is not None and r2 < 0.5:
            warnings.append(
                f"the model explains only {r2:.0%} of the KPI's {'daily' if unit == 'day' else 'weekly'} variation "
                "(R²): curves are uncertain"
            )
        calibration = self._calibration(data, lifts, warnings)
        self.warnings_ = warnings
        self.fit_report_ = self._report(data, effects * scale, holdout, warnings, time.perf_counter() - started)
        self.fit_report_["calibration"] = calibration
        self.fit_report_["cross_validation"] = None
        return self

    def _lift_model(self, data: MediaMixData, fit: _Fit, row: LiftRow) -> float:
        """The incremental KPI ``fit`` gives a lift test (KPI units)."""
        c = len(data.channels)
        j = row.channel_index
        params = fit.theta.reshape(self.families_.n_params, c).T[j]
        n = len(row.weights)
        spend = data.spend[:n, j]
        diff = self.families_.transform(spend, params) - self.families_.transform(counterfactual(spend, row), params)
        return float(fit.beta[j] * self.kpi_scale_ * (row.weights @ diff))

    def _calibration(self, data: MediaMixData, lifts: Sequence[LiftRow], warnings: list[str]) -> list[dict[str, Any]]:
        """Per lift test: measured against the fitted model, with ``z`` scores."""
        out = []
        for row in lifts:
            model = self._lift_model(data, self.fit_, row)
            z = (model - row.measured) / row.standard_error
            out.append(
                {
                    "channel": row.channel,
                    "start_date": row.start_date,
                    "end_date": row.end_date,
                    "scope": row.scope,
                    "measured": row.measured,
                    "standard_error": row.standard_error,
                    "model": model,
                    "z": z,
                }
            )
            if abs(z) > 2:
                warnings.append(
                    f"channel {row.channel!r}: the model's incremental KPI for the lift test {row.start_date}.."
                    f"{row.end_date} ({model:,.0f}) is {abs(z):.1f} standard errors from the measured "
                    f"{row.measured:,.0f}: the data and the experiment disagree"
                )
        return out

    def _holdout(
        self,
        data: MediaMixData,
        rng: np.random.Generator,
        warnings: list[str],
        lift_tests: pd.DataFrame | None = None,
    ) -> dict[str, Any] | None:
        """Fit on the periods before the final ``holdout_share`` and score the final periods; sets ``holdout_``
        (the tail as that fit predicts it, with a prediction interval from :data:`HOLDOUT_DRAWS` bootstrap
        draws of that fit and its residual noise). Lift tests inside the fitted periods calibrate that fit too."""
        self.holdout_ = None
        if self.holdout_share <= 0:
            return None
        n, k = len(data.kpi), data.period_days
        unit = period_name(k)
        least = min_periods(k) if self.min_periods is None else self.min_periods
        n_hold = max(MIN_HOLDOUT[k], round(self.holdout_share * n))
        if n - n_hold < least:
            warnings.append(
                f"no held-out check: {n} {unit}s leave fewer than {least} to fit on before the last {n_hold}"
            )
            return None
        lifts, _ = self._lifts(lift_tests, data, n - n_hold)
        fit, design, noise, kept = self._fit_rows(data, n - n_hold, rng, lifts)
        base, effects = self._predict_scaled(fit, design, data.dates, data.spend, data.controls)
        predicted_full = (base + effects.sum(axis=1)) * self.kpi_scale_
        predicted = predicted_full[n - n_hold :]
        metrics = fit_metrics(data.kpi[n - n_hold :], predicted)
        own_rng = np.random.default_rng(self.random_state + 1)  # the main fit's random starts stay as they were
        draws = self._bootstrap(data, fit, design, own_rng, n - n_hold, min(self.n_draws, HOLDOUT_DRAWS), kept, noise)
        samples = _interval_samples(
            self.families_,
            design.matrix(data.dates, data.controls),
            data.spend,
            draws,
            predicted_full,
            self._residual_sd(data, fit, design, n - n_hold),
            self.random_state,
        )
        lower, upper = _quantiles(samples[:, n - n_hold :], self.interval_level)
        actual = data.kpi[n - n_hold :]
        self.holdout_ = pd.DataFrame(
            {"date": data.dates[n - n_hold :], "actual": actual, "predicted": predicted, "lower": lower, "upper": upper}
        )
        metrics["coverage"] = float(np.mean((actual >= lower) & (actual <= upper)))
        mape, r2 = metrics["mape"], metrics["r2"]
        if r2 is not None and r2 < 0:
            warnings.append(
                f"held-out R² is {r2:.2f}: on the last {n_hold} {unit}s the model predicts worse than their own mean "
                "would; its curves are not a basis for decisions until it is refitted or validated on more data"
            )
        if mape is not None and mape > 0.2:
            warnings.append(
                f"held-out MAPE is {mape:.0%}: the model predicts the last {n_hold} {unit}s poorly; treat curves with "
                "caution"
            )
        first = str(data.dates[n - n_hold].date())
        return {"n_days": n_hold * k, "n_periods": n_hold, "first_day": first, **metrics}

    def _parameter_warnings(self, data: MediaMixData, effect_totals: np.ndarray) -> list[str]:
        """Channels without effect, on a bound of saturation or carry-over, or explaining more than the KPI."""
        lower, upper = self._bounds(data)
        c = len(data.channels)
        theta = self.fit_.theta
        names = self.families_.names
        half = names.index("log_half_saturation") * c
        decay = names.index("decay") * c if "decay" in names else None
        kpi_total = float(data.kpi.sum())
        out = []
        for j, name in enumerate(data.channels):
            if self.fit_.beta[j] <= 0:
                out.append(f"channel {name!r} shows no detectable effect on the KPI (coefficient 0)")
                continue
            if effect_totals[j] > kpi_total > 0:
                out.append(
                    f"channel {name!r} is credited with more than the whole KPI ({effect_totals[j] / kpi_total:.2f}× "
                    "over the fitted period): implausible; its curve is not a basis for decisions"
                )
            if theta[half + j] <= lower[half + j] + 1e-3:  # within 0.1 % of the bound
                out.append(
                    f"channel {name!r} saturates far below its usual spend (half-saturation at the lower bound): its "
                    "effect is hard to tell from the baseline"
                )
            if theta[half + j] >= upper[half + j] - 1e-6:
                out.append(
                    f"channel {name!r} shows no saturation within its past spend (half-saturation at the upper bound): "
                    "spend far above the past is extrapolation"
                )
            if decay is not None and theta[decay + j] >= upper[decay + j] - 1e-6:
                unit = period_name(data.period_days)
                out.append(f"channel {name!r}: carry-over at its upper bound ({upper[decay + j]:.2f} per {unit})")
        return out

    # -- reporting -----------------------------------------------------------------------------------------

    def _draw_effects(self, spend: np.ndarray) -> np.ndarray:
        """Total effect per channel over the fitted periods under each draw, ``(n_draws, C)``."""
        draws = self.theta_draws_
        out = np.empty((len(draws), spend.shape[1]))
        for i in range(len(draws)):
            out[i] = _channel_effects(self.families_, draws.theta[i], draws.beta[i], spend).sum(axis=0)
        return out

    def _report(
        self,
        data: MediaMixData,
        effects: np.ndarray,
        holdout: dict[str, Any] | None,
        warnings: list[str],
        seconds: float,
    ) -> dict[str, Any]:
        tail = (1.0 - self.interval_level) / 2.0
        spend_total = data.spend.sum(axis=0)
        effect_total = effects.sum(axis=0)
        media = float(effect_total.sum())
        predicted_total = float(self.fitted_.sum())
        draws = self._draw_effects(data.spend) if len(self.draws_) else np.zeros((0, len(data.channels)))

        def interval(values: np.ndarray) -> list[float | None] | None:
            if len(values) == 0:
                return None
            finite = values[np.isfinite(values)]
            if len(finite) == 0:
                return [None, None]
            return [float(np.quantile(finite, tail)), float(np.quantile(finite, 1.0 - tail))]

        channels = []
        for j, name in enumerate(data.channels):
            curve = self.curves_[name]
            roi_draws = draws[:, j] / spend_total[j]
            share_draws = draws[:, j] / np.maximum(draws.sum(axis=1), 1e-300)
            roi_interval = interval(roi_draws)
            cost_interval: list[float | None] | None = None
            if roi_interval is not None:
                low, high = roi_interval
                cost_interval = [1.0 / high if high else None, 1.0 / low if low else None]
            channels.append(
                {
                    "channel": name,
                    "spend": float(spend_total[j]),
                    "spend_share": float(spend_total[j] / spend_total.sum()),
                    "effect": float(effect_total[j]),
                    "effect_interval": interval(draws[:, j]),
                    "effect_share": float(effect_total[j] / media) if media > 0 else 0.0,
                    "effect_share_interval": interval(share_draws),
                    "roi": float(effect_total[j] / spend_total[j]),
                    "roi_interval": roi_interval,
                    "cost_per_outcome": float(spend_total[j] / effect_total[j]) if effect_total[j] > 0 else None,
                    "cost_per_outcome_interval": cost_interval,
                    "mean_daily_spend": float(data.spend[:, j].mean()) / data.period_days,
                    "mean_spend_per_period": float(data.spend[:, j].mean()),
                    "beta": curve.beta,
                    "half_saturation": curve.half_saturation,
                    "shape": curve.shape,
                    "decay": curve.decay,
                    "adstock_params": dict(
                        zip(self.families_.adstock_params, curve.adstock_params or (curve.decay,), strict=True)
                    ),
                }
            )
        gaps = [ch["effect_share"] - ch["spend_share"] for ch in channels]  # type: ignore[operator]
        unit = period_name(data.period_days)
        return {
            "model": "media_mix",
            "adstock": self.families_.adstock,
            "adstock_note": f"normalized (a constant spend per {unit} settles at itself), carry-over per {unit}",
            "saturation": self.families_.saturation,
            "residual_sd": self.residual_sd_,
            "cadence": unit,
            "period_days": data.period_days,
            "n_days": len(data.kpi) * data.period_days,
            "n_periods": len(data.kpi),
            "first_day": str(data.dates[0].date()),
            "last_day": str(data.dates[-1].date()),
            "channels": list(data.channels),
            "dropped_channels": list(data.dropped_channels),
            "controls": list(data.control_names),
            "yearly_seasonality": self.design_.yearly_order > 0,
            "in_sample": fit_metrics(data.kpi, self.fitted_),
            "holdout": holdout,
            "decomposition": {
                "media_effect": media,
                "media_share_of_kpi": media / predicted_total if predicted_total else None,
                "decomp_rssd": float(np.sqrt(np.sum(np.square(gaps)))),
                "channels": channels,
            },
            "n_draws": len(self.draws_),
            "interval_level": self.interval_level,
            "fit_seconds": seconds,
            "warnings": list(warnings),
        }

    # -- prediction ----------------------------------------------------------------------------------------

    def decompose(self, X: pd.DataFrame) -> pd.DataFrame:
        """KPI per period split into baseline (intercept, trend, seasonality, controls) and each channel's effect."""
        check_is_fitted(self, "fit_")
        dates, spend, controls = prediction_inputs(
            X, self.channels_, self.controls_, self.date_column, self.design_.period_days
        )
        base, effects = self._predict_scaled(self.fit_, self.design_, dates, spend, controls)
        out = pd.DataFrame(effects * self.kpi_scale_, columns=list(self.channels_))
        out.insert(0, "baseline", base * self.kpi_scale_)
        out.insert(0, "date", dates)
        out["predicted"] = out["baseline"] + out[list(self.channels_)].sum(axis=1)
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted KPI of consecutive periods (carry-over settled at the first period's spend)."""
        return self.decompose(X)["predicted"].to_numpy()

    def predict_interval(self, X: pd.DataFrame, level: float | None = None) -> pd.DataFrame:
        """Per-period prediction intervals of consecutive periods (history, future or both): ``date, predicted,
        lower, upper``.

        Each bootstrap draw (all parameters, the baseline's included) predicts the periods, and Gaussian noise of
        the fit's residual standard deviation is added; ``lower`` and ``upper`` are the central ``level``
        (``interval_level`` when ``None``) of those samples. Without draws only the noise is left.
        """
        check_is_fitted(self, "fit_")
        level = self.interval_level if level is None else float(level)
        if not 0.0 < level < 1.0:
            raise InvalidInput(f"the interval level must lie between 0 and 1, not {level}")
        dates, spend, controls = prediction_inputs(
            X, self.channels_, self.controls_, self.date_column, self.design_.period_days
        )
        base, effects = self._predict_scaled(self.fit_, self.design_, dates, spend, controls)
        point = (base + effects.sum(axis=1)) * self.kpi_scale_
        samples = _interval_samples(
            self.families_,
            self.design_.matrix(dates, controls),
            spend,
            self.theta_draws_,
            point,
            self.residual_sd_,
            self.random_state,
        )
        lower, upper = _quantiles(samples, level)
        return pd.DataFrame({"date": dates, "predicted": point, "lower": lower, "upper": upper})

    def predict_draws(self, X: pd.DataFrame) -> np.ndarray:
        """The KPI of consecutive periods under each bootstrap draw, ``(n_draws, n_periods)``, without residual
        noise (no rows without draws): sums over periods keep each draw's errors together (a forward plan's total)."""
        check_is_fitted(self, "fit_")
        dates, spend, controls = prediction_inputs(
            X, self.channels_, self.controls_, self.date_column, self.design_.period_days
        )
        draws = self.theta_draws_
        centres = draws.base @ self.design_.matrix(dates, controls).T
        for i in range(len(draws)):
            centres[i] += _channel_effects(self.families_, draws.theta[i], draws.beta[i], spend).sum(axis=1)
        return np.asarray(centres, dtype=float)

    def response_curves(self) -> dict[str, ChannelResponse]:
        """The settled response of each channel, for the budget allocator (daily amounts, whatever the period)."""
        check_is_fitted(self, "curves_")
        return dict(self.curves_)
