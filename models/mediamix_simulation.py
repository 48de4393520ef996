"""A small synthetic world for the media-mix model: daily or weekly spend per channel and a KPI from known curves.

The KPI follows the model's own form (baseline with trend, weekdays (daily worlds) and yearly seasonality, a
promotion control, and β · Hill(adstock(spend)) per channel) plus Gaussian noise, so fits can be checked against
the truth and allocations scored under the true curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from models.mediamix import ChannelResponse
from models.mediamix_design import YEAR_DAYS

CHANNEL_NAMES = ("tv", "radio", "print", "ooh", "podcast", "display", "search", "social")
FLIGHTED = frozenset({"tv", "radio", "print", "ooh", "podcast"})  # bought in on/off weekly bursts
WEEKDAY_EFFECT = np.array([0.0, 0.02, 0.03, 0.05, 0.08, -0.06, -0.12])  # Monday..Sunday, share of the base level


@dataclass(frozen=True, eq=False)
class MediaMixWorld:
    """Simulated days (or weeks) and the truth behind them."""

    frame: pd.DataFrame  # date, spend per channel, controls, and the KPI column
    kpi: str
    channels: tuple[str, ...]
    controls: tuple[str, ...]
    truth: dict[str, ChannelResponse]  # true curves (one "draw": the truth itself; daily answers)
    contributions: pd.DataFrame  # date and the true effect of each channel per period
    noise_sd: float
    period_days: int = 1

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - scikit-learn's name for the inputs
        """The model's inputs: date, spend per channel and controls."""
        return self.frame.drop(columns=[self.kpi])

    @property
    def y(self) -> np.ndarray:
        """The observed KPI."""
        return self.frame[self.kpi].to_numpy(dtype=float)

    def current_daily_spend(self, days: int = 28) -> dict[str, float]:
        """Mean daily spend per channel over the last ``days`` days (today's plan)."""
        recent = self.frame.tail(max(days // self.period_days, 1))
        return {c: float(recent[c].mean()) / self.period_days for c in self.channels}

    def true_effect_shares(self) -> dict[str, float]:
        """Each channel's share of the summed true media effect over the simulated days."""
        totals = self.contributions[list(self.channels)].sum()
        return {c: float(totals[c] / totals.sum()) for c in self.channels}


def _spend_path(rng: np.random.Generator, n_days: int, mean: float, flighted: bool) -> np.ndarray:
    n_weeks = n_days // 7 + 1
    weekly = rng.lognormal(0.0, 0.45 if flighted else 0.35, n_weeks)
    if flighted:
        weekly *= rng.random(n_weeks) < 0.7
        weekly[0] = max(weekly[0], 0.5)  # start on air so the first weeks carry information
    daily = np.repeat(weekly, 7)[:n_days] * rng.lognormal(0.0, 0.15 if flighted else 0.2, n_days)
    return daily * mean / daily.mean()


def _weekly_spend_path(rng: np.random.Generator, n_weeks: int, mean: float, flighted: bool) -> np.ndarray:
    weekly = rng.lognormal(0.0, 0.45 if flighted else 0.35, n_weeks)
    if flighted:
        weekly *= rng.random(n_weeks) < 0.7
        weekly[0] = max(weekly[0], 0.5)
    return weekly * mean / weekly.mean()


def simulate_media_mix(
    n_days: int = 730,
    n_channels: int = 4,
    *,
    noise: float = 0.05,
    seed: int = 0,
    kpi: str = "revenue",
    with_control: bool = True,
    start: str = "2023-01-02",
    period_days: int = 1,
) -> MediaMixWorld:
    """Simulate ``n_days`` periods of spend on ``n_channels`` channels and the KPI they drive (seeded).

    ``period_days``: 1 (days) or 7 (``n_days`` weeks, dated by their first day, no weekday effect, carry-over
    per week). ``noise`` is the noise standard deviation as a share of the mean KPI. Channel names come from
    :data:`CHANNEL_NAMES`; flighted channels (TV, radio, print, ...) go on and off air week by week, the
    others spend every period. Media makes roughly 40 % of the KPI.
    """
    if not 1 <= n_channels <= len(CHANNEL_NAMES):
        raise InvalidInput(f"n_channels must be between 1 and {len(CHANNEL_NAMES)}")
    if n_days < 7 or noise < 0:
        raise InvalidInput("need at least 7 periods and a non-negative noise")
    if period_days not in (1, 7):
        raise InvalidInput("period_days must be 1 (days) or 7 (weeks)")
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n_days, freq=f"{period_days}D")
    channels = CHANNEL_NAMES[:n_channels]
    frame = pd.DataFrame({"date": dates})
    truth: dict[str, ChannelResponse] = {}
    effects = pd.DataFrame({"date": dates})
    for name in channels:
        flighted = name in FLIGHTED
        mean = float(rng.uniform(1_000.0, 6_000.0)) * period_days
        if period_days == 1:
            spend = _spend_path(rng, n_days, mean, flighted)
        else:
            spend = _weekly_spend_path(rng, n_days, mean, flighted)
        half = mean * float(rng.uniform(0.5, 1.6))
        shape = float(rng.uniform(1.0, 2.5))
        decay = float(rng.uniform(0.2, 0.7) if flighted else rng.uniform(0.0, 0.3))
        roi = float(rng.uniform(1.5, 4.0))  # average return at the mean daily spend
        beta = roi * mean / (mean**shape / (half**shape + mean**shape))
        curve = ChannelResponse(name, beta, half, shape, decay, np.array([[beta, half, shape, decay]]), period_days)
        truth[name] = curve
        frame[name] = spend
        effects[name] = curve.predict(spend)
    media = effects[list(channels)].sum(axis=1).to_numpy()
    level = 1.5 * float(media.mean())
    days = np.arange(n_days, dtype=float) * period_days
    weekday = WEEKDAY_EFFECT[dates.day_of_week.to_numpy()] if period_days == 1 else 0.0
    baseline = level * (
        1.0
        + 0.10 * days / YEAR_DAYS
        + weekday
        + 0.12 * np.sin(2 * np.pi * days / YEAR_DAYS)
        + 0.05 * np.cos(4 * np.pi * days / YEAR_DAYS)
    )
    controls: tuple[str, ...] = ()
    if with_control:
        promo = (rng.random(n_days) < 0.08).astype(float)
        frame["promo"] = promo
        baseline = baseline + 0.15 * level * promo
        controls = ("promo",)
    clean = baseline + media
    noise_sd = noise * float(clean.mean())
    frame[kpi] = clean + rng.normal(0.0, noise_sd, n_days)
    return MediaMixWorld(frame, kpi, channels, controls, truth, effects, noise_sd, period_days)
