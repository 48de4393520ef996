"""Simulated regional and weekly worlds for the geo and on/off (time) designs of ``bench_experiments.py``.

* :func:`simulate_geo_panel`: ``n_regions`` regions with weekly KPI. Region sizes are lognormal (a few regions
  are much bigger than the rest); each region's KPI is its level × a national trend and yearly seasonality (with a
  small regional phase and amplitude of its own) × a national shock shared by every region × ``1 + e`` with
  ``e`` an AR(1) noise whose relative size falls with the region's size. The planted effect multiplies the
  treatment regions' KPI over the test weeks by ``1 + lift`` (:func:`plant_lift`).
* :func:`simulate_time_series`: one weekly KPI made of a level, a trend, yearly seasonality, the linear effect
  of the other channels' spend (drifting, partly flighted series: the regressors) and AR(1) noise. The tested
  channel spends every week before the test and is paused for the test weeks (:func:`plant_pause`).
* :func:`regionalize`: a national media-mix world of ``mmm_worlds`` split into regions with shares, whose
  regional KPI adds up to the world's, with an idiosyncratic regional AR(1) noise on top; :func:`run_dark_test`
  switches a channel off in chosen regions for chosen weeks, the KPI responding through the channel's true
  curve, and gives back the world as the media-mix model sees it (national spend and KPI) with the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from mmm_worlds import YEAR_WEEKS, WeeklyWorld

Array = npt.NDArray[np.float64]


def _ar1(rng: np.random.Generator, shape: tuple[int, int], rho: float) -> Array:
    """AR(1) series along axis 0 with unit marginal variance (stationary from the first period)."""
    shocks = rng.normal(0.0, 1.0, shape)
    out = np.empty(shape)
    out[0] = shocks[0]
    scale = np.sqrt(1.0 - rho**2)
    for t in range(1, shape[0]):
        out[t] = rho * out[t - 1] + scale * shocks[t]
    return out


def _region_names(n: int) -> list[str]:
    return [f"region-{i:02d}" for i in range(n)]


@dataclass(frozen=True)
class GeoWorld:
    """A regional world for geo tests."""

    name: str
    n_regions: int
    pre_weeks: int
    test_weeks: int
    lift: float
    """Relative lift of the treatment regions' KPI in the planted worlds."""
    noise: float
    """Relative sd of the AR(1) noise in a region of median size (bigger regions are relatively less noisy)."""
    rho: float = 0.5
    size_sigma: float = 1.0
    season_spread: float = 1.0
    """Regional differences of seasonality: phase sd 0.15 rad and amplitude ±20 % times this."""
    start: str = "2024-01-01"

    @property
    def weeks(self) -> int:
        return self.pre_weeks + self.test_weeks


GEO_WORLDS = (
    GeoWorld("geo 30 regions", n_regions=30, pre_weeks=104, test_weeks=6, lift=0.05, noise=0.06),
    GeoWorld("geo 20 regions", n_regions=20, pre_weeks=78, test_weeks=4, lift=0.08, noise=0.08, rho=0.6),
)


def simulate_geo_panel(world: GeoWorld, rng: np.random.Generator) -> pd.DataFrame:
    """The world's weekly panel without any test: columns ``date`` (Mondays), ``region``, ``kpi``."""
    n, weeks = world.n_regions, world.weeks
    sizes = rng.lognormal(0.0, world.size_sigma, n)
    level = 2_000.0 * sizes / np.median(sizes)
    t = np.arange(weeks, dtype=float)[:, None]
    phase = rng.uniform(0, 2 * np.pi) + world.season_spread * rng.normal(0.0, 0.15, n)
    amplitude = 0.15 * (1.0 + world.season_spread * rng.uniform(-0.2, 0.2, n))
    seasonal = 1.0 + amplitude * np.sin(2 * np.pi * t / YEAR_WEEKS + phase)
    trend = 1.0 + float(rng.uniform(-0.05, 0.1)) * t / YEAR_WEEKS
    shock = 1.0 + 0.03 * _ar1(rng, (weeks, 1), 0.7)  # national: every region feels it, it cancels in TBR
    sd = world.noise * (sizes / np.median(sizes)) ** -0.25
    noise = 1.0 + sd * _ar1(rng, (weeks, n), world.rho)
    kpi = level * seasonal * trend * shock * np.clip(noise, 0.05, None)
    dates = pd.date_range(world.start, periods=weeks, freq="W-MON")
    return pd.DataFrame(
        {
            "date": np.repeat(dates, n),
            "region": np.tile(_region_names(n), weeks),
            "kpi": kpi.ravel(),
        }
    )


def geo_window(world: GeoWorld, panel: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the test weeks (the panel's last ``test_weeks`` weeks)."""
    dates = pd.DatetimeIndex(sorted(panel["date"].unique()))
    start = dates[world.pre_weeks]
    return start, dates[-1] + pd.Timedelta(days=6)


def plant_lift(
    panel: pd.DataFrame, treatment: tuple[str, ...], start: pd.Timestamp, lift: float
) -> tuple[pd.DataFrame, float]:
    """The panel with the treatment regions' KPI from ``start`` on multiplied by ``1 + lift``, and the true
    incremental KPI (the treatment's KPI over the test without the change, times ``lift``)."""
    rows = (panel["date"] >= start) & panel["region"].isin(treatment)
    out = panel.copy()
    out.loc[rows, "kpi"] = panel.loc[rows, "kpi"] * (1.0 + lift)
    return out, float(lift * panel.loc[rows, "kpi"].sum())


@dataclass(frozen=True)
class TimeWorld:
    """A weekly world for on/off tests of one channel."""

    name: str
    pre_weeks: int
    test_weeks: int
    lift: float
    """Relative change of the KPI over the test weeks in the planted worlds (the paused channel's share)."""
    noise: float
    """Relative sd of the AR(1) noise."""
    rho: float = 0.4
    n_regressors: int = 3
    start: str = "2023-01-02"

    @property
    def weeks(self) -> int:
        return self.pre_weeks + self.test_weeks


TIME_WORLDS = (
    TimeWorld("time 3 channels", pre_weeks=104, test_weeks=6, lift=-0.08, noise=0.03),
    TimeWorld("time 2 years+", pre_weeks=130, test_weeks=4, lift=-0.1, noise=0.04, rho=0.5, n_regressors=2),
)


def simulate_time_series(world: TimeWorld, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The KPI without any test (``date``, ``kpi``) and the other channels' spend (``date`` + one column each).

    KPI = 100,000 × (1 + trend + seasonality) + Σ ROI_k × spend_k + noise, the tested channel's own (steady)
    contribution included in the level."""
    weeks = world.weeks
    t = np.arange(weeks, dtype=float)
    dates = pd.date_range(world.start, periods=weeks, freq="W-MON")
    base = 100_000.0
    phase = rng.uniform(0, 2 * np.pi)
    seasonal = 0.12 * np.sin(2 * np.pi * t / YEAR_WEEKS + phase) + 0.04 * np.cos(4 * np.pi * t / YEAR_WEEKS + phase)
    trend = float(rng.uniform(-0.05, 0.1)) * t / YEAR_WEEKS
    regressors = pd.DataFrame({"date": dates})
    media = np.zeros(weeks)
    for k in range(world.n_regressors):
        mean = base * float(rng.uniform(0.02, 0.05))
        drift = np.cumsum(rng.normal(0.0, 0.05, weeks))
        spend = mean * np.exp(drift - drift.mean()) * rng.lognormal(0.0, 0.3, weeks)
        if k == 0:  # a flighted channel: on and off in bursts
            spend *= (np.arange(weeks) // int(rng.integers(4, 8))) % 2 == 0
        regressors[f"channel_{k + 1}"] = spend
        media += float(rng.uniform(0.5, 2.0)) * spend
    noise = world.noise * base * _ar1(rng, (weeks, 1), world.rho)[:, 0]
    kpi = base * (1.0 + trend + seasonal) + media + noise
    return pd.DataFrame({"date": dates, "kpi": kpi}), regressors


def time_window(world: TimeWorld, series: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the test weeks (the series' last ``test_weeks`` weeks)."""
    dates = pd.DatetimeIndex(series["date"])
    return dates[world.pre_weeks], dates[-1] + pd.Timedelta(days=6)


def plant_pause(series: pd.DataFrame, start: pd.Timestamp, lift: float) -> tuple[pd.DataFrame, float]:
    """The series with the KPI from ``start`` on multiplied by ``1 + lift`` (a pause: ``lift < 0``), and the true
    incremental KPI over the test (negative for a pause)."""
    rows = series["date"] >= start
    out = series.copy()
    out.loc[rows, "kpi"] = series.loc[rows, "kpi"] * (1.0 + lift)
    return out, float(lift * series.loc[rows, "kpi"].sum())


@dataclass(frozen=True)
class RegionalWorld:
    """A media-mix world split into regions: fixed shares of the market and its spend, a small seasonal wobble of
    each region's share, and an idiosyncratic AR(1) noise per region (relative sd ``noise / √share`` of the
    national mean times the share, so regional noise adds up to ``noise`` of the national KPI)."""

    world: WeeklyWorld
    shares: pd.Series  # region -> share of the market (spend and KPI)
    panel: pd.DataFrame  # date, region, kpi: the world's KPI split by region, regional noise included
    idiosyncratic: Array  # weeks × regions: the regional noise added to the world's KPI


def regionalize(
    world: WeeklyWorld, rng: np.random.Generator, n_regions: int = 20, noise: float = 0.015, rho: float = 0.5
) -> RegionalWorld:
    """Split ``world`` into ``n_regions`` regions (lognormal shares); see :class:`RegionalWorld`."""
    weeks = world.weeks
    sizes = rng.lognormal(0.0, 0.8, n_regions)
    shares = sizes / sizes.sum()
    t = np.arange(weeks, dtype=float)[:, None]
    wobble = 1.0 + 0.03 * np.sin(2 * np.pi * t / YEAR_WEEKS + rng.uniform(0, 2 * np.pi, n_regions))
    weekly_shares = shares * wobble
    weekly_shares /= weekly_shares.sum(axis=1, keepdims=True)
    kpi = world.frame[world.kpi].to_numpy(dtype=float)
    scale = noise * float(kpi.mean())
    idiosyncratic = scale * np.sqrt(shares) * _ar1(rng, (weeks, n_regions), rho)
    regional = weekly_shares * kpi[:, None] + idiosyncratic
    names = _region_names(n_regions)
    panel = pd.DataFrame(
        {
            "date": np.repeat(world.frame["week"].to_numpy(), n_regions),
            "region": np.tile(names, weeks),
            "kpi": regional.ravel(),
        }
    )
    return RegionalWorld(world, pd.Series(shares, index=names), panel, idiosyncratic)


@dataclass(frozen=True)
class DarkTest:
    """A channel switched off in some regions for some weeks, as it ran in the world, and its truth."""

    world: WeeklyWorld  # the national world as the media-mix model sees it: spend as run, KPI with the test
    panel: pd.DataFrame  # the regional KPI with the test
    channel: str
    first_week: int
    weeks: int
    spend_share: float  # the treatment regions' share of the channel's spend
    withheld_spend: float  # planned spend of the treatment regions over the test weeks
    spend_as_run: float  # the channel's national spend over the test weeks, as it ran
    true_incremental_kpi: float  # KPI change in the treatment regions over the test weeks (negative)


def run_dark_test(
    regional: RegionalWorld, channel: str, treatment: tuple[str, ...], first_week: int, weeks: int
) -> DarkTest:
    """Switch ``channel`` off in ``treatment`` for ``weeks`` weeks from ``first_week``: each region's effect of the
    channel is its share of the true curve's response to the national spend, so the treatment regions lose their
    share of ``curve.effect(planned) − curve.effect(dark)`` (carry-over included, after the window too)."""
    world = regional.world
    curve = world.truth[channel]
    planned = world.frame[channel].to_numpy(dtype=float)
    window = slice(first_week, first_week + weeks)
    dark = planned.copy()
    dark[window] = 0.0
    loss = curve.effect(planned) - curve.effect(dark)  # ≥ 0, from the first test week on
    share = float(regional.shares[list(treatment)].sum())
    names = list(regional.shares.index)
    in_treatment = np.isin(names, treatment)
    panel = regional.panel.copy()
    change = -np.outer(loss, regional.shares.to_numpy() * in_treatment)
    panel["kpi"] = panel["kpi"].to_numpy() + change.ravel()
    frame = world.frame.copy()
    frame.loc[frame.index[window], channel] = planned[window] * (1.0 - share)
    frame[world.kpi] = panel.groupby("date", sort=True)["kpi"].sum().to_numpy()
    contributions = world.contributions.copy()
    contributions[channel] = contributions[channel].to_numpy() - share * loss
    national = replace(world, frame=frame, contributions=contributions, lift_test=None)
    return DarkTest(
        world=national,
        panel=panel,
        channel=channel,
        first_week=first_week,
        weeks=weeks,
        spend_share=share,
        withheld_spend=float(share * planned[window].sum()),
        spend_as_run=float(frame[channel].iloc[window].sum()),
        true_incremental_kpi=float(-share * loss[window].sum()),
    )
