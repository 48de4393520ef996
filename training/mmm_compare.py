"""A new media-mix version against the champion: what changed in the advice, and which predicts better.

- **Advice**: each channel's effect share and ROI (from each version's fit report), and the split that the budget
  allocator (:func:`models.budget.allocate_budget`, each channel within 0.5–2× today's spend) recommends on each
  version's curves at the same total: today's spend (the mean of the last four weeks of the newer data). A
  channel's *move* is the difference of the two recommendations as a share of that total.
- **Accuracy** on the held-out periods both versions were scored on: each version's held-out tail was predicted by
  a fit on the periods before it, so where the two tails overlap both predictions are out of sample. The ratio of
  mean absolute errors (challenger / champion) over the shared periods, with a moving-block bootstrap interval,
  is the figure; with fewer than :data:`MIN_SHARED` shared periods each version's own held-out MAPE is compared
  instead (different periods: weaker evidence, and said so).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from models.budget import allocate_budget
from models.mediamix import MediaMixModel
from models.mmm_tables import current_spend_per_period
from models.response import SpendResponse

MIN_RATIO, MAX_RATIO = 0.5, 2.0
MIN_SHARED = 4  # the fewest shared held-out periods for the paired comparison
BLOCK = 4  # periods per bootstrap block (four weeks of weeks)
N_BOOT = 1000
LEVEL = 0.9


@dataclass(frozen=True)
class ChannelChange:
    """One channel in both versions (``None`` where a version has no such channel)."""

    channel: str
    effect_share: tuple[float | None, float | None]  # champion, challenger
    roi: tuple[float | None, float | None]
    allocation: tuple[float | None, float | None]  # recommended spend per period at the same total
    move_share: float | None  # |challenger - champion| / total


@dataclass(frozen=True)
class Accuracy:
    """How the two versions predict held-out periods (``ratio`` > 1: the challenger errs more)."""

    method: str  # "shared_holdout", "own_holdout" or "none"
    ratio: float | None
    interval: tuple[float, float] | None = None
    n_periods: int = 0
    first_day: str | None = None
    last_day: str | None = None
    champion: float | None = None  # MAE (shared) or MAPE (own)
    challenger: float | None = None


@dataclass(frozen=True)
class VersionComparison:
    """The challenger against the champion."""

    champion_version: str
    challenger_version: str
    total_per_period: float
    period_days: int
    channels: list[ChannelChange]
    accuracy: Accuracy
    new_days: int  # days of data the challenger has after the champion's last fitted day
    notes: list[str] = field(default_factory=list)

    @property
    def max_move_share(self) -> float:
        """The largest move of one channel, as a share of the total."""
        return max((c.move_share for c in self.channels if c.move_share is not None), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        document = asdict(self)
        document["max_move_share"] = self.max_move_share
        return document


def _report_channels(model: MediaMixModel) -> dict[str, dict[str, Any]]:
    return {c["channel"]: c for c in model.fit_report_["decomposition"]["channels"]}


def _allocation(model: MediaMixModel, current: dict[str, float], total: float) -> dict[str, float]:
    """Spend per period the allocator recommends on ``model``'s curves (channels of ``current`` with spend)."""
    period_days = int(model.fit_report_.get("period_days", 1))
    curves: dict[str, SpendResponse] = {n: c for n, c in model.response_curves().items() if n in current}
    daily = {n: current[n] / period_days for n in curves if current[n] > 0}
    if not daily:
        return {}
    plan = allocate_budget(
        {n: curves[n] for n in daily},
        daily,
        total / period_days,
        MIN_RATIO,
        MAX_RATIO,
        unit=period_days,
        unit_label="week" if period_days == 7 else "day",
    )
    return {a.campaign_id: a.recommended_spend * period_days for a in plan.allocations}


def _block_bootstrap_ratio(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Moving-block bootstrap interval of ``mean(b) / mean(a)`` (paired periods)."""
    n = len(a)
    rng = np.random.default_rng(seed)
    block = min(BLOCK, n)
    starts = np.arange(n - block + 1)
    n_blocks = int(np.ceil(n / block))
    ratios = np.empty(N_BOOT)
    for i in range(N_BOOT):
        picked = rng.choice(starts, n_blocks)
        rows = (picked[:, None] + np.arange(block)[None, :]).ravel()[:n]
        ratios[i] = b[rows].mean() / max(a[rows].mean(), 1e-300)
    tail = (1.0 - LEVEL) / 2.0
    return float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1.0 - tail))


def compare_accuracy(champion: MediaMixModel, challenger: MediaMixModel) -> Accuracy:
    """Held-out accuracy of the two versions (see the module docstring)."""
    a, b = getattr(champion, "holdout_", None), getattr(challenger, "holdout_", None)
    if a is not None and b is not None and len(a) and len(b):
        shared = b.merge(a[["date", "predicted"]], on="date", suffixes=("", "_champion"))
        if len(shared) >= MIN_SHARED:
            actual = shared["actual"].to_numpy(dtype=float)
            err_a = np.abs(actual - shared["predicted_champion"].to_numpy(dtype=float))
            err_b = np.abs(actual - shared["predicted"].to_numpy(dtype=float))
            mae_a, mae_b = float(err_a.mean()), float(err_b.mean())
            return Accuracy(
                "shared_holdout",
                mae_b / mae_a if mae_a > 0 else None,
                _block_bootstrap_ratio(err_a, err_b) if mae_a > 0 else None,
                len(shared),
                str(pd.Timestamp(shared["date"].min()).date()),
                str(pd.Timestamp(shared["date"].max()).date()),
                mae_a,
                mae_b,
            )
    own_a = (champion.fit_report_.get("holdout") or {}).get("mape")
    own_b = (challenger.fit_report_.get("holdout") or {}).get("mape")
    if own_a is None or own_b is None:
        return Accuracy("none", None)
    return Accuracy("own_holdout", own_b / own_a if own_a > 0 else None, champion=own_a, challenger=own_b)


def compare_versions(
    champion: MediaMixModel,
    challenger: MediaMixModel,
    X: pd.DataFrame,
    *,
    champion_version: str,
    challenger_version: str,
) -> VersionComparison:
    """Compare ``challenger`` with ``champion``; ``X`` is the newer data (today's spend comes from its tail)."""
    period_days = int(challenger.fit_report_.get("period_days", 1))
    if int(champion.fit_report_.get("period_days", 1)) != period_days:
        raise InvalidInput("the two versions are fitted at different grains (days and weeks): they cannot be compared")
    current = current_spend_per_period(challenger, X)
    shared = [n for n in challenger.channels_ if n in set(champion.channels_)]
    notes = []
    if set(shared) != set(challenger.channels_) | set(champion.channels_):
        only = sorted((set(challenger.channels_) | set(champion.channels_)) - set(shared))
        notes.append(f"channels in one version only: {', '.join(only)} (left out of the allocation)")
    common = {n: current[n] for n in shared if current[n] > 0}
    total = float(sum(common.values()))
    before = _allocation(champion, common, total) if common else {}
    after = _allocation(challenger, common, total) if common else {}
    if not common:
        notes.append("no channel has spend in the last four weeks: allocations not compared")
    rep_a, rep_b = _report_channels(champion), _report_channels(challenger)
    channels = []
    for name in sorted(set(rep_a) | set(rep_b)):
        a, b = rep_a.get(name, {}), rep_b.get(name, {})
        spend_a, spend_b = before.get(name), after.get(name)
        move = abs(spend_b - spend_a) / total if spend_a is not None and spend_b is not None and total else None
        channels.append(
            ChannelChange(
                name,
                (a.get("effect_share"), b.get("effect_share")),
                (a.get("roi"), b.get("roi")),
                (spend_a, spend_b),
                move,
            )
        )
    last_a = pd.Timestamp(champion.fit_report_["last_day"])
    last_b = pd.Timestamp(challenger.fit_report_["last_day"])
    return VersionComparison(
        champion_version,
        challenger_version,
        total,
        period_days,
        channels,
        compare_accuracy(champion, challenger),
        int((last_b - last_a).days),
        notes,
    )
