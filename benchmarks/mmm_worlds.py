"""Simulated WEEKLY media-mix worlds with known truth, for ``bench_mmm.py``.

Each world is a weekly KPI (revenue) made of a baseline (level, trend, yearly seasonality, an unobserved demand
drift), controls (a competitor's sales, events, a newsletter) and the effect of 4–6 channels: spend carried over
by an adstock (geometric, delayed (Jin et al. 2017) or Weibull, weights summing to one so a constant spend settles
at itself) and saturated by a Hill curve, ``β · Hill(adstock(spend); κ, α)``, plus Gaussian noise. A constant
weekly spend ``S`` therefore settles at ``β · Hill(S)``: the true response curve used to score allocations.

Two kinds of world stress the models: one where spend **follows demand** (the marketer sets next week's spend
from the expected baseline, unobserved drift included, so a model that cannot see the drift credits media with
it), and one carrying a **lift test** (a channel's spend switched off in a quarter of the regions for some weeks;
the measured incremental KPI with its standard error, as a row of ``xmo lift import``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import weibull_min

YEAR_WEEKS = 365.25 / 7
MAX_LAG = 13  # weeks of carry-over kept by the adstock weights
FLIGHTED = frozenset({"tv", "radio", "ooh", "print", "podcast"})  # bought in on/off bursts
CHANNEL_SETS = {
    4: ("tv", "display", "search", "social"),
    5: ("tv", "radio", "display", "search", "social"),
    6: ("tv", "radio", "ooh", "display", "search", "social"),
}
CONTROLS = ("competitor_sales", "event", "newsletter")


def hill(x: np.ndarray | float, half: float, shape: float) -> np.ndarray:
    """``x^α / (κ^α + x^α)`` (0 at 0)."""
    ratio = np.maximum(np.asarray(x, dtype=float), 0.0) / half
    powered = ratio**shape
    return np.asarray(powered / (1.0 + powered), dtype=float)


def adstock_weights(family: str, params: tuple[float, ...], lags: int = MAX_LAG) -> np.ndarray:
    """Normalized carry-over weights over ``lags`` weeks: ``geometric (decay,)``, ``delayed (decay, peak)``
    (Jin et al. 2017: ``decay^((l - peak)^2)``) or ``weibull (shape, scale)`` (Robyn's PDF form, in weeks)."""
    lag = np.arange(lags, dtype=float)
    if family == "geometric":
        weights = params[0] ** lag
    elif family == "delayed":
        weights = params[0] ** ((lag - params[1]) ** 2)
    elif family == "weibull":
        weights = weibull_min.pdf(lag + 1.0, params[0], scale=params[1])
    else:
        raise ValueError(f"unknown adstock family {family!r}")
    return np.asarray(weights / weights.sum(), dtype=float)


def carry_over(spend: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``Σ_l w[l] · spend[t - l]`` with the weeks before the series taken as its first week."""
    padded = np.concatenate([np.full(len(weights) - 1, spend[0]), spend])
    return np.asarray(np.convolve(padded, weights, mode="valid"), dtype=float)


@dataclass(frozen=True)
class TrueCurve:
    """A channel's true weekly response: ``β · Hill(adstock(spend))``; satisfies ``models.response.SpendResponse``
    with weekly amounts (one "draw": the truth itself)."""

    channel: str
    beta: float
    half_saturation: float
    shape: float
    adstock: str
    adstock_params: tuple[float, ...]
    weights: np.ndarray = field(repr=False)

    def steady_state(self, weekly_spend: float | np.ndarray) -> np.ndarray:
        """Settled weekly effect of a constant weekly spend."""
        return self.beta * hill(np.asarray(weekly_spend, dtype=float), self.half_saturation, self.shape)

    def steady_state_draws(self, weekly_spend: float) -> np.ndarray:
        """The truth as a single draw."""
        return np.atleast_1d(self.steady_state(weekly_spend)).astype(float)

    def effect(self, spend: np.ndarray) -> np.ndarray:
        """Weekly effect along a spend series (carry-over included)."""
        return self.beta * hill(carry_over(spend, self.weights), self.half_saturation, self.shape)


@dataclass(frozen=True)
class LiftTest:
    """A geo experiment that cut a channel's spend, and the truth behind it."""

    channel: str
    start: pd.Timestamp  # first day of the first test week
    end: pd.Timestamp  # last day of the last test week
    incremental_kpi: float  # measured KPI bought by the withheld spend within the window (positive)
    standard_error: float
    withheld_spend: float  # the spend the test took away (its regions' planned spend in the window)
    spend_as_run: float  # the channel's market-wide spend in the window, as it ran (the spend column's sum)
    true_incremental_kpi: float
    regions_share: float  # share of the market where the channel went dark

    def record(self, kpi: str = "revenue") -> dict[str, Any]:
        """The row ``xmo lift import`` takes (``docs/lift-tests.md``): a cut, so the spend change and the KPI it
        bought are negative; the counterfactual spend is ``spend - spend_change`` (the plan without the cut)."""
        return {
            "channel": self.channel,
            "start_date": str(self.start.date()),
            "end_date": str(self.end.date()),
            "kpi": kpi,
            "incremental_kpi": round(-self.incremental_kpi, 2),
            "standard_error": round(self.standard_error, 2),
            "spend": round(self.spend_as_run, 2),
            "spend_change": round(-self.withheld_spend, 2),
            "scope": "immediate",
            "method": "geo",
        }


@dataclass(frozen=True)
class WeeklyWorld:
    """Simulated weeks and the truth behind them."""

    name: str
    seed: int
    frame: pd.DataFrame  # week (Monday), spend per channel, controls, revenue
    channels: tuple[str, ...]
    controls: tuple[str, ...]
    truth: dict[str, TrueCurve]
    contributions: pd.DataFrame  # true weekly effect per channel (rows aligned with ``frame``)
    baseline: np.ndarray  # true weekly KPI without media (controls included)
    noise_sd: float
    follows_demand: bool
    lift_test: LiftTest | None = None
    kpi: str = "revenue"

    @property
    def weeks(self) -> int:
        return len(self.frame)

    def spend(self, rows: slice | None = None) -> pd.DataFrame:
        """Weekly spend per channel."""
        return self.frame[list(self.channels)].iloc[rows or slice(None)]

    def true_effect_shares(self, rows: slice) -> dict[str, float]:
        """Each channel's share of the summed true media effect over ``rows``."""
        totals = self.contributions[list(self.channels)].iloc[rows].sum()
        return {c: float(totals[c] / totals.sum()) for c in self.channels}

    def true_roi(self, rows: slice) -> dict[str, float]:
        """True effect over spend per channel over ``rows``."""
        effect = self.contributions[list(self.channels)].iloc[rows].sum()
        spend = self.spend(rows).sum()
        return {c: float(effect[c] / spend[c]) for c in self.channels}


def _spend_series(rng: np.random.Generator, weeks: int, mean: float, flighted: bool) -> np.ndarray:
    """Flighted channels go on and off air in bursts of a few weeks; others spend every week, drifting."""
    if flighted:
        on = np.zeros(weeks, dtype=bool)
        t = 0
        while t < weeks:
            burst, pause = int(rng.integers(3, 9)), int(rng.integers(1, 5))
            on[t : t + burst] = True
            t += burst + pause
        level = rng.lognormal(0.0, 0.35, weeks) * on
    else:
        drift = np.cumsum(rng.normal(0.0, 0.03, weeks))
        level = np.exp(drift - drift.mean()) * rng.lognormal(0.0, 0.25, weeks)
    return np.asarray(level * mean / level.mean(), dtype=float)


def _channel_truth(rng: np.random.Generator, name: str, mean: float, family: str, roi: float) -> TrueCurve:
    flighted = name in FLIGHTED
    if family == "geometric" or not flighted:
        params: tuple[float, ...] = (float(rng.uniform(0.3, 0.7) if flighted else rng.uniform(0.0, 0.3)),)
        family = "geometric"
    elif family == "delayed":
        params = (float(rng.uniform(0.4, 0.7)), float(rng.integers(1, 3)))
    else:
        params = (float(rng.uniform(1.5, 2.5)), float(rng.uniform(1.5, 3.5)))
    half = mean * float(rng.uniform(0.6, 1.8))
    shape = float(rng.uniform(1.0, 2.2))
    beta = roi * mean / float(hill(mean, half, shape))
    return TrueCurve(name, beta, half, shape, family, params, adstock_weights(family, params))


def simulate_weekly_world(
    name: str,
    seed: int,
    weeks: int = 156,
    n_channels: int = 5,
    *,
    noise: float = 0.04,
    adstock: str = "geometric",
    follows_demand: bool = False,
    lift_channel: str | None = None,
    start: str = "2021-01-04",
) -> WeeklyWorld:
    """One seeded weekly world; see the module docstring. ``adstock``: the family of flighted channels
    (``geometric``, ``delayed`` or ``weibull``; always-on channels carry over geometrically)."""
    if not 104 <= weeks <= 260 or n_channels not in CHANNEL_SETS:
        raise ValueError("weeks must lie in 104–260 and channels in 4–6")
    rng = np.random.default_rng(seed)
    warm = MAX_LAG  # weeks simulated before the data starts, so carry-over is already running
    total = weeks + warm
    dates = pd.date_range(start, periods=weeks, freq="W-MON")
    t = np.arange(-warm, weeks, dtype=float)
    channels = CHANNEL_SETS[n_channels]

    level = 1_000_000.0
    drift = np.zeros(total)
    drift_sd = 0.035 if follows_demand else 0.006
    for i in range(1, total):
        drift[i] = 0.9 * drift[i - 1] + rng.normal(0.0, drift_sd)  # unobserved demand, share of the level
    phase = rng.uniform(0, 2 * np.pi)
    seasonal = 0.10 * np.sin(2 * np.pi * t / YEAR_WEEKS + phase) + 0.04 * np.cos(4 * np.pi * t / YEAR_WEEKS + phase)
    trend = float(rng.uniform(-0.03, 0.08)) * t / YEAR_WEEKS
    competitor = np.exp(np.cumsum(rng.normal(0.0, 0.03, total)))
    competitor = 500_000.0 * competitor / competitor.mean()
    competitor_z = (competitor - competitor.mean()) / competitor.std()
    week_of_year = np.round(t % YEAR_WEEKS).astype(int)
    event = np.isin(week_of_year, [int(rng.integers(10, 20)), int(rng.integers(46, 49)), 51]).astype(float)
    newsletter = (rng.random(total) < 0.45).astype(float)
    expected = level * (1.0 + trend + seasonal + drift + 0.12 * event)  # what the marketer plans by
    baseline = expected - 0.04 * level * competitor_z + 0.02 * level * newsletter

    spend = np.empty((total, n_channels))
    truth: dict[str, TrueCurve] = {}
    media_budget = 0.18 * level  # weekly spend over all channels
    shares = rng.dirichlet(np.full(n_channels, 3.0))
    # average returns at the mean spend, spread from 0.8 to 3.2 so that today's split is off the optimum
    rois = rng.permutation(np.linspace(0.8, 3.2, n_channels)) * rng.uniform(0.9, 1.1, n_channels)
    for j, channel in enumerate(channels):
        mean = float(media_budget * shares[j])
        series = _spend_series(rng, total, mean, channel in FLIGHTED)
        if follows_demand and channel not in FLIGHTED:  # set from the expected demand, little else
            series = (expected / expected.mean()) ** 4.0 * rng.lognormal(0.0, 0.1, total)
            series *= mean / series.mean()
        spend[:, j] = series
        truth[channel] = _channel_truth(rng, channel, mean, adstock, float(rois[j]))

    effects = np.column_stack([truth[c].effect(spend[:, j]) for j, c in enumerate(channels)])
    lift: LiftTest | None = None
    if lift_channel is not None:
        effects, spend, lift = _geo_holdout(rng, truth[lift_channel], channels, spend, effects, warm, dates)

    keep = slice(warm, None)
    clean = baseline[keep] + effects[keep].sum(axis=1)
    noise_sd = noise * float(clean.mean())
    frame = pd.DataFrame({"week": dates})
    for j, channel in enumerate(channels):
        frame[channel] = spend[keep, j]
    frame["competitor_sales"] = competitor[keep]
    frame["event"] = event[keep]
    frame["newsletter"] = newsletter[keep]
    frame["revenue"] = clean + rng.normal(0.0, noise_sd, weeks)
    contributions = pd.DataFrame(effects[keep], columns=list(channels))
    return WeeklyWorld(
        name, seed, frame, channels, CONTROLS, truth, contributions, baseline[keep], noise_sd, follows_demand, lift
    )


def _geo_holdout(
    rng: np.random.Generator,
    curve: TrueCurve,
    channels: tuple[str, ...],
    spend: np.ndarray,
    effects: np.ndarray,
    warm: int,
    dates: pd.DatetimeIndex,
    regions_share: float = 0.25,
    test_weeks: int = 6,
    relative_se: float = 0.15,
) -> tuple[np.ndarray, np.ndarray, LiftTest]:
    """Switch ``curve``'s channel off in ``regions_share`` of the market for ``test_weeks`` weeks (inside the first
    70 % of the data, in weeks with spend); the market's effect becomes the regions' weighted sum."""
    j = channels.index(curve.channel)
    weeks = len(dates)
    planned = spend[:, j].copy()
    candidates = [s for s in range(weeks // 3, int(0.7 * weeks) - test_weeks) if planned[warm + s] > 0]
    first = int(rng.choice(candidates))
    window = slice(warm + first, warm + first + test_weeks)
    dark = planned.copy()
    dark[window] = 0.0
    on, off = curve.effect(planned), curve.effect(dark)
    market = (1.0 - regions_share) * on + regions_share * off
    true_incremental = float(regions_share * (on - off)[window].sum())
    se = relative_se * true_incremental
    spend = spend.copy()
    spend[window, j] *= 1.0 - regions_share
    effects = effects.copy()
    effects[:, j] = market
    lift = LiftTest(
        channel=curve.channel,
        start=dates[first],
        end=dates[first + test_weeks - 1] + pd.Timedelta(days=6),
        incremental_kpi=true_incremental + float(rng.normal(0.0, se)),
        standard_error=se,
        withheld_spend=float(regions_share * planned[window].sum()),
        spend_as_run=float(spend[window, j].sum()),
        true_incremental_kpi=true_incremental,
        regions_share=regions_share,
    )
    return effects, spend, lift


def standard_worlds(quick: bool = False) -> list[WeeklyWorld]:
    """The benchmark's worlds: four kinds (plain, delayed carry-over at 208 × 6, short, demand-following with a
    lift test), five seeds; ``quick``: two small ones (plain, and demand-following with a lift test)."""
    if quick:
        return [
            simulate_weekly_world("plain", 1, weeks=104, n_channels=4),
            simulate_weekly_world(
                "demand+lift", 4, weeks=104, n_channels=4, follows_demand=True, lift_channel="search"
            ),
        ]
    return [
        simulate_weekly_world("plain", 1, weeks=156, n_channels=5),
        simulate_weekly_world("delayed", 2, weeks=208, n_channels=6, adstock="delayed"),
        simulate_weekly_world("short", 3, weeks=104, n_channels=4, adstock="weibull"),
        simulate_weekly_world("demand+lift", 4, weeks=156, n_channels=5, follows_demand=True, lift_channel="search"),
        simulate_weekly_world("noisy", 5, weeks=182, n_channels=5, noise=0.07, adstock="delayed"),
    ]
