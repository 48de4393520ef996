"""The ridge-regression reference of ``bench_mmm.py``: the practitioner's weekly media-mix model, as Robyn builds it.

Per channel, geometric adstock (normalized: a constant spend settles at itself) then Hill saturation
``x^α / (κ^α + x^α)`` with ``κ = γ · mean adstocked spend`` of the training weeks; a linear trend, yearly Fourier
terms (order 2) and the controls; one ridge regression on standardized columns with non-negative media
coefficients (columns with a negative coefficient are dropped and the rest refitted). The hyper-parameters
(decay, γ, α per channel, and the penalty) are chosen by time-series cross-validation on the training weeks
(``sklearn.model_selection.TimeSeriesSplit``, mean squared error of the following block): coordinate search over a
grid, channel by channel, for a few rounds. Robyn searches the same space with Nevergrad and also weighs
decomposition distance (DECOMP.RSSD); this reference keeps prediction error only. Lift tests calibrate by
selection, as in Robyn (see :meth:`RidgeMMM.fit`): the effect of the test's spend change within the test's window.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import TimeSeriesSplit

YEAR_WEEKS = 365.25 / 7
DECAYS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
GAMMAS = (0.3, 0.5, 0.75, 1.0, 1.5, 2.5)  # half-saturation as a multiple of the mean adstocked spend
SHAPES = (0.8, 1.2, 1.8, 2.6)
PENALTIES = (1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3)  # on the standardized columns, per row


def geometric_adstock(spend: np.ndarray, decay: float) -> np.ndarray:
    """``a[t] = (1 - decay) s[t] + decay a[t-1]``, starting settled at the first week."""
    out = np.empty(len(spend))
    previous = float(spend[0])
    for i, value in enumerate(spend):
        previous = (1.0 - decay) * value + decay * previous
        out[i] = previous
    return out


def hill(x: np.ndarray | float, half: float, shape: float) -> np.ndarray:
    """``x^α / (κ^α + x^α)``."""
    ratio = np.maximum(np.asarray(x, dtype=float), 0.0) / half
    powered = ratio**shape
    return np.asarray(powered / (1.0 + powered), dtype=float)


@dataclass(frozen=True)
class RidgeCurve:
    """A channel's settled weekly response ``β · Hill(S)`` (weekly amounts; satisfies ``SpendResponse``)."""

    channel: str
    beta: float
    half_saturation: float
    shape: float
    decay: float

    def steady_state(self, weekly_spend: float | np.ndarray) -> np.ndarray:
        return self.beta * hill(np.asarray(weekly_spend, dtype=float), self.half_saturation, self.shape)

    def steady_state_draws(self, weekly_spend: float) -> np.ndarray:
        return np.atleast_1d(self.steady_state(weekly_spend)).astype(float)


def baseline_columns(weeks: np.ndarray, controls: np.ndarray, yearly_order: int = 2) -> np.ndarray:
    """Trend (per year) and yearly Fourier terms of week numbers, then the controls."""
    columns = [weeks / YEAR_WEEKS]
    for k in range(1, yearly_order + 1):
        angle = 2.0 * np.pi * k * weeks / YEAR_WEEKS
        columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack([*columns, controls]) if controls.size else np.column_stack(columns)


def _solve(X: np.ndarray, y: np.ndarray, penalty: float, media: int) -> tuple[np.ndarray, float]:
    """Ridge on standardized ``X`` (the first ``media`` columns kept non-negative): coefficients in ``X``'s units
    and the intercept."""
    mean, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    Z = (X - mean) / sd
    y_mean = float(y.mean())
    yc = y - y_mean
    n, p = Z.shape
    keep = np.ones(p, dtype=bool)
    coef = np.zeros(p)
    for _ in range(p):
        Zk = Z[:, keep]
        gram = Zk.T @ Zk / n + penalty * np.eye(int(keep.sum()))
        coef[:] = 0.0
        coef[keep] = np.linalg.solve(gram, Zk.T @ yc / n)
        negative = keep & (coef < 0)
        negative[media:] = False
        if not negative.any():
            break
        keep &= ~negative
    beta = coef / sd
    return beta, y_mean - float(mean @ beta)


@dataclass
class RidgeMMM:
    """The reference model on weekly rows (``fit`` on the training weeks, ``predict`` on any weeks of the same
    series from its first week: carry-over runs from there)."""

    channels: tuple[str, ...]
    controls: tuple[str, ...]
    n_splits: int = 4
    rounds: int = 2
    yearly_order: int = 2
    params_: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # decay, gamma, shape
    penalty_: float = 0.01
    coef_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    intercept_: float = 0.0
    halves_: dict[str, float] = field(default_factory=dict)
    fit_seconds_: float = 0.0
    objective_: float = 0.0  # cross-validated MSE (times the lift tests' penalty)

    def _lifts(
        self, frame: pd.DataFrame, spend: np.ndarray, grid: list[tuple[float, float, float]], lift_tests: Sequence[Any]
    ) -> list[tuple[int, np.ndarray, float, float]]:
        """Per lift test (a row of ``xmo lift import``: channel, start_date, end_date, incremental_kpi,
        standard_error, spend_change): its channel's index, the effect in its window of the spend as it ran minus
        that of the counterfactual (``spend - spend_change``, the change spread over the window's weeks in
        proportion to their spend) per unit of β for each grid point, the measured incremental KPI and its error."""
        weeks = pd.to_datetime(frame["week"])
        out = []
        for test in lift_tests:
            if test["channel"] not in self.channels:
                raise ValueError(f"lift test on unknown channel {test['channel']!r}")
            first, last = pd.Timestamp(test["start_date"]), pd.Timestamp(test["end_date"])
            window = ((weeks >= first) & (weeks <= last)).to_numpy()
            if not window.any():
                raise ValueError(f"lift test {first.date()} to {last.date()} lies outside the data")
            j = self.channels.index(test["channel"])
            ran = spend[:, j] * window
            share = ran / ran.sum() if ran.sum() > 0 else window / window.sum()
            counterfactual = spend[:, j] - float(test.get("spend_change", ran.sum())) * share
            extra = np.empty(len(grid))
            for g, (decay, gamma, shape) in enumerate(grid):
                observed = geometric_adstock(spend[:, j], decay)
                half = gamma * float(observed.mean())
                gap = hill(observed, half, shape) - hill(geometric_adstock(counterfactual, decay), half, shape)
                extra[g] = float(gap[window].sum())
            out.append((j, extra, float(test["incremental_kpi"]), float(test["standard_error"])))
        return out

    def fit(self, frame: pd.DataFrame, y: np.ndarray, lift_tests: Sequence[Any] = ()) -> RidgeMMM:
        """Choose the hyper-parameters by time-series cross-validation, then fit on all of ``frame``'s rows.

        ``lift_tests`` (rows of ``xmo lift import``, see :meth:`_lifts`) calibrate as Robyn does, by selection: a
        candidate whose implied incremental KPI in a test's window (the full fit's β times the effect of the spend
        change) lies more than one standard error from the measurement has its cross-validated error multiplied
        by ``1 + (|z| - 1)²``.
        """
        started = time.perf_counter()
        n = len(frame)
        spend = frame[list(self.channels)].to_numpy(dtype=float)
        base = baseline_columns(np.arange(n, dtype=float), frame[list(self.controls)].to_numpy(dtype=float))
        grid = list(itertools.product(DECAYS, GAMMAS, SHAPES))
        # every channel's transformed column for every grid point, computed once
        adstocked = {(j, d): geometric_adstock(spend[:, j], d) for j in range(len(self.channels)) for d in DECAYS}
        table = np.empty((len(self.channels), len(grid), n))
        for j in range(len(self.channels)):
            for g, (d, gamma, shape) in enumerate(grid):
                carried = adstocked[(j, d)]
                table[j, g] = hill(carried, gamma * float(carried.mean()), shape)
        lifts = self._lifts(frame, spend, grid, lift_tests)
        folds = list(TimeSeriesSplit(n_splits=self.n_splits, test_size=max(4, n // (self.n_splits + 2))).split(base))
        media = len(self.channels)

        def objective(choice: list[int], penalty: float) -> float:
            X = np.column_stack([*(table[j, g] for j, g in enumerate(choice)), base])
            errors = []
            for train, test in folds:
                beta, intercept = _solve(X[train], y[train], penalty, media)
                errors.append(np.mean((y[test] - X[test] @ beta - intercept) ** 2))
            score = float(np.mean(errors))
            if lifts:
                beta, _ = _solve(X, y, penalty, media)
                for j, extra, measured, se in lifts:
                    z = (beta[j] * extra[choice[j]] - measured) / se
                    score *= 1.0 + max(0.0, abs(z) - 1.0) ** 2
            return score

        choice = [grid.index((0.3, 1.0, 1.2))] * media
        penalty = 0.01
        best = objective(choice, penalty)
        for _ in range(self.rounds):
            for j in range(media):
                for g in range(len(grid)):
                    trial = [*choice[:j], g, *choice[j + 1 :]]
                    score = objective(trial, penalty)
                    if score < best:
                        best, choice = score, trial
            for lam in PENALTIES:
                score = objective(choice, lam)
                if score < best:
                    best, penalty = score, lam
        self.params_ = {c: grid[g] for c, g in zip(self.channels, choice, strict=True)}
        self.penalty_ = penalty
        self.objective_ = best
        X = np.column_stack([*(table[j, g] for j, g in enumerate(choice)), base])
        self.coef_, self.intercept_ = _solve(X, y, penalty, media)
        self.halves_ = {
            c: self.params_[c][1] * float(adstocked[(j, self.params_[c][0])].mean())
            for j, c in enumerate(self.channels)
        }
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def decompose(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Weekly effect per channel and the prediction, for rows from the series' first week."""
        n = len(frame)
        spend = frame[list(self.channels)].to_numpy(dtype=float)
        base = baseline_columns(np.arange(n, dtype=float), frame[list(self.controls)].to_numpy(dtype=float))
        out = pd.DataFrame(index=range(n))
        for j, c in enumerate(self.channels):
            decay, _, shape = self.params_[c]
            out[c] = self.coef_[j] * hill(geometric_adstock(spend[:, j], decay), self.halves_[c], shape)
        media = len(self.channels)
        out["predicted"] = out[list(self.channels)].sum(axis=1) + base @ self.coef_[media:] + self.intercept_
        return out

    def curves(self) -> dict[str, RidgeCurve]:
        """Settled weekly response per channel."""
        return {
            c: RidgeCurve(c, float(self.coef_[j]), self.halves_[c], self.params_[c][2], self.params_[c][0])
            for j, c in enumerate(self.channels)
        }
