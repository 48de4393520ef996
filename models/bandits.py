"""Beta-Bernoulli bandit arithmetic: empirical-Bayes priors, chance to be best, expected loss, Thompson split,
and a seeded simulator of Thompson sampling against a uniform split.

Arms are rows; Monte Carlo draws are the last axis. Everything takes a ``numpy.random.Generator`` or a seed,
so the same inputs always give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, expit, logit

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_FLOOR = 0.05  # least share of traffic a live creative keeps, so that learning goes on
FADE_BELOW = 0.01  # a creative less likely than this to be best loses its floor (keeps its Thompson share)
WEAK_PRIOR_STRENGTH = 2.0  # a prior worth two sessions: the fallback when too few arms inform one
MAX_PRIOR_STRENGTH = 1000.0  # a fitted prior never counts for more than this many sessions
MIN_PRIOR_ARMS = 5


@dataclass(frozen=True)
class BetaPrior:
    """A Beta(alpha, beta) prior on conversion rates and how it was obtained."""

    alpha: float
    beta: float
    method: str  # "marginal_likelihood", "weak" (too few arms) or "fixed"
    n_arms: int

    @property
    def mean(self) -> float:
        """The prior's mean conversion rate."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def strength(self) -> float:
        """How many sessions the prior is worth (alpha + beta)."""
        return self.alpha + self.beta


def weak_prior(conversions: npt.ArrayLike, sessions: npt.ArrayLike, strength: float = WEAK_PRIOR_STRENGTH) -> BetaPrior:
    """A prior worth ``strength`` sessions, centred on the pooled rate (Beta(1, 1)-like when there is no data)."""
    c = np.asarray(conversions, dtype=np.float64)
    n = np.asarray(sessions, dtype=np.float64)
    total = float(n.sum())
    mean = (float(c.sum()) + 0.5) / (total + 1.0) if total > 0 else 0.5
    return BetaPrior(mean * strength, (1.0 - mean) * strength, "weak", int((n > 0).sum()))


def _moments_strength(c: FloatArray, n: FloatArray, mean: float, cap: float) -> float:
    """Method-of-moments prior strength: spread of the arms' rates beyond binomial noise."""
    rates = c / n
    weights = n / n.sum()
    spread = float(np.sum(weights * (rates - mean) ** 2))
    noise = float(np.sum(weights * mean * (1.0 - mean) / n))
    between = spread - noise
    if between <= 0:
        return cap
    return float(np.clip(mean * (1.0 - mean) / between - 1.0, WEAK_PRIOR_STRENGTH, cap))


def fit_beta_prior(
    conversions: npt.ArrayLike,
    sessions: npt.ArrayLike,
    *,
    min_arms: int = MIN_PRIOR_ARMS,
    max_strength: float = MAX_PRIOR_STRENGTH,
) -> BetaPrior:
    """Empirical-Bayes Beta prior of arms' conversion rates by beta-binomial marginal likelihood.

    Arms without sessions are ignored. With fewer than ``min_arms`` arms (or no conversion at all) the prior
    is ``weak_prior``. The strength (alpha + beta) is kept between ``WEAK_PRIOR_STRENGTH`` and
    ``max_strength``: arms that look alike never make a prior that drowns the data.
    """
    c_all = np.asarray(conversions, dtype=np.float64)
    n_all = np.asarray(sessions, dtype=np.float64)
    if c_all.shape != n_all.shape or np.any(n_all < 0) or np.any(c_all < 0) or np.any(c_all > n_all):
        raise ValueError("conversions and sessions must have one shape, with 0 <= conversions <= sessions")
    keep = n_all > 0
    c, n = c_all[keep], n_all[keep]
    if len(n) < min_arms or c.sum() == 0 or c.sum() == n.sum():
        return weak_prior(c, n)
    pooled = float(np.clip(c.sum() / n.sum(), 1e-6, 1 - 1e-6))
    lo_strength, hi_strength = np.log(WEAK_PRIOR_STRENGTH), np.log(max(max_strength, WEAK_PRIOR_STRENGTH))
    centre = np.array([logit(pooled), np.log(_moments_strength(c, n, pooled, max_strength))])
    step = np.array([0.1, (hi_strength - lo_strength) / 40])
    for half_width in (np.array([1.5, hi_strength - lo_strength]), 2 * step, 0.2 * step):  # coarse to fine grid
        means = expit(np.linspace(centre[0] - half_width[0], centre[0] + half_width[0], 31))
        strengths = np.exp(
            np.clip(np.linspace(centre[1] - half_width[1], centre[1] + half_width[1], 41), lo_strength, hi_strength)
        )
        a = (means[:, None] * strengths[None, :])[..., None]
        b = ((1.0 - means[:, None]) * strengths[None, :])[..., None]
        log_likelihood = np.sum(betaln(c + a, n - c + b) - betaln(a, b), axis=-1)
        i, j = np.unravel_index(np.argmax(log_likelihood), log_likelihood.shape)
        centre = np.array([logit(means[i]), np.log(strengths[j])])
    mean, strength = float(expit(centre[0])), float(np.exp(centre[1]))
    return BetaPrior(mean * strength, (1.0 - mean) * strength, "marginal_likelihood", len(n))


def always_valid_p_value(
    conversions_a: float, sessions_a: float, conversions_b: float, sessions_b: float, tau: float
) -> float:
    """Always-valid p-value that two arms convert alike, from a mixture sequential probability ratio test.

    Normal approximation of the difference of rates with a N(0, ``tau``²) mixture over the true difference
    (Johari et al., "Always valid inference", 2017): the p-value stays valid however often it is looked at, so
    a marketer checking every day does not inflate false winners. ``tau`` is the scale of differences expected.
    """
    if min(sessions_a, sessions_b) <= 0 or tau <= 0:
        return 1.0
    rate_a = (conversions_a + 0.5) / (sessions_a + 1.0)
    rate_b = (conversions_b + 0.5) / (sessions_b + 1.0)
    variance = rate_a * (1 - rate_a) / sessions_a + rate_b * (1 - rate_b) / sessions_b
    tau2 = tau * tau
    log_ratio = 0.5 * np.log(variance / (variance + tau2)) + (rate_a - rate_b) ** 2 * tau2 / (
        2 * variance * (variance + tau2)
    )
    return float(np.exp(-max(log_ratio, 0.0)))


def posterior_draws(alpha: npt.ArrayLike, beta: npt.ArrayLike, n_draws: int, rng: np.random.Generator) -> FloatArray:
    """``n_draws`` draws of each arm's rate from Beta(alpha, beta): shape ``(*alpha.shape, n_draws)``."""
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    return np.asarray(rng.beta(a[..., None], b[..., None], size=(*a.shape, n_draws)), dtype=np.float64)


def chance_to_be_best(draws: FloatArray) -> FloatArray:
    """Share of draws in which each arm (axis 0) has the highest rate."""
    winners = np.argmax(draws, axis=0)
    return np.bincount(winners.ravel(), minlength=draws.shape[0]) / winners.size


def expected_loss(draws: FloatArray) -> FloatArray:
    """Per arm, the expected rate given up by choosing it: E[max over arms - arm] (the 'value remaining')."""
    return np.asarray((draws.max(axis=0)[None, ...] - draws).reshape(draws.shape[0], -1).mean(axis=1))


def thompson_split(
    chance: npt.ArrayLike,
    floor: float = DEFAULT_FLOOR,
    live: npt.ArrayLike | None = None,
    fade_below: float = FADE_BELOW,
) -> FloatArray:
    """Traffic shares proportional to the chance to be best, each plausible live arm getting at least ``floor``.

    Arms not ``live`` (paused) get nothing. A live arm whose chance to be best is under ``fade_below`` is no
    longer plausible: it keeps its plain Thompson share (its chance) without the floor, so clear losers fade out
    while undecided arms keep learning. When the floors alone exceed the whole, live arms share equally.
    """
    p = np.asarray(chance, dtype=np.float64).copy()
    alive = np.ones(len(p), dtype=bool) if live is None else np.asarray(live, dtype=bool)
    if not 0 <= floor < 1:
        raise ValueError(f"floor must be in [0, 1), got {floor}")
    shares = np.zeros(len(p))
    k = int(alive.sum())
    if k == 0:
        return shares
    if floor * k >= 1:
        shares[alive] = 1.0 / k
        return shares
    p = np.where(alive, np.clip(p, 0.0, None), 0.0)
    if p.sum() <= 0:
        p = alive.astype(np.float64)
    p = p / p.sum()
    faded = alive & (p < fade_below)
    if faded.all() or not (alive & ~faded).any():
        faded[:] = False
    shares[faded] = p[faded]
    alive = alive & ~faded
    whole = 1.0 - float(p[faded].sum())
    if floor * int(alive.sum()) >= whole:
        shares[alive] = whole / int(alive.sum())
        return shares
    pinned = np.zeros(len(p), dtype=bool)
    while True:  # water-filling: arms below the floor are pinned to it, the rest share what is left
        free = alive & ~pinned
        rest = whole - floor * pinned.sum()
        weights = p[free]
        scaled = rest * weights / weights.sum() if weights.sum() > 0 else np.full(free.sum(), rest / free.sum())
        low = scaled < floor
        if not low.any():
            shares[pinned] = floor
            shares[free] = scaled
            return shares
        pinned[np.flatnonzero(free)[low]] = True


@dataclass(frozen=True)
class RegretComparison:
    """Cumulative expected regret (conversions lost against always playing the best arm) of two policies."""

    thompson: float
    uniform: float
    days: int
    sessions: int

    @property
    def ratio(self) -> float:
        """Thompson's regret as a share of the uniform split's (the benchmark target is ≤ 0.30 over 30 days)."""
        return self.thompson / self.uniform if self.uniform > 0 else 0.0


def _regret_of(
    rates: FloatArray,
    daily_sessions: int,
    days: int,
    rng: np.random.Generator,
    *,
    thompson: bool,
    floor: float,
    prior: tuple[float, float],
    n_draws: int,
) -> float:
    k = len(rates)
    gaps = rates.max() - rates
    conversions = np.zeros(k)
    sessions = np.zeros(k)
    regret = 0.0
    for _ in range(days):
        if thompson:
            draws = posterior_draws(prior[0] + conversions, prior[1] + sessions - conversions, n_draws, rng)
            shares = thompson_split(chance_to_be_best(draws), floor)
        else:
            shares = np.full(k, 1.0 / k)
        allocated = rng.multinomial(daily_sessions, shares)
        conversions += rng.binomial(allocated, rates)
        sessions += allocated
        regret += float(allocated @ gaps)
    return regret


def simulate_regret(
    true_rates: npt.ArrayLike,
    daily_sessions: int,
    days: int = 30,
    *,
    floor: float = DEFAULT_FLOOR,
    prior: tuple[float, float] = (1.0, 1.0),
    n_draws: int = 2000,
    seed: int = 0,
) -> RegretComparison:
    """Run a cell's Thompson split and a uniform split for ``days`` days of ``daily_sessions`` sessions.

    Each day the Thompson policy splits traffic by the posterior chance to be best (with ``floor`` per arm),
    sessions convert at ``true_rates`` (binomial), and the posteriors are updated. Regret is expected regret:
    sessions given to each arm times its gap to the best arm, summed over the days.
    """
    rates = np.asarray(true_rates, dtype=np.float64)
    if rates.ndim != 1 or len(rates) < 2 or np.any((rates < 0) | (rates > 1)):
        raise ValueError("true_rates must list at least two rates between 0 and 1")
    if daily_sessions < 1 or days < 1:
        raise ValueError("daily_sessions and days must be positive")
    ts_rng, uniform_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return RegretComparison(
        thompson=_regret_of(
            rates, daily_sessions, days, ts_rng, thompson=True, floor=floor, prior=prior, n_draws=n_draws
        ),
        uniform=_regret_of(
            rates, daily_sessions, days, uniform_rng, thompson=False, floor=floor, prior=prior, n_draws=n_draws
        ),
        days=days,
        sessions=daily_sessions * days,
    )
