"""Creative selection per campaign and audience segment: Beta-Binomial posteriors and chance to be best."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

ALL_SEGMENTS = "all"


def sessions_needed(p_best: float, p_other: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Sessions per creative for a two-sided test at ``alpha`` to detect ``p_best`` vs ``p_other`` with ``power``."""
    delta = abs(p_best - p_other)
    if delta <= 0:
        return 10**9
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    variance = p_best * (1 - p_best) + p_other * (1 - p_other)
    return int(np.ceil(z**2 * variance / delta**2))


class CreativeSelector(BaseEstimator):
    """Which creative to run for which segment of a campaign, with the evidence for it.

    ``fit`` takes sessions with ``campaign_id``, ``creative_id``, ``converted`` and a segment column;
    ``stats_`` holds per-creative posteriors, ``recommendations()`` one row per (campaign, segment).
    """

    def __init__(
        self,
        segment_column: str = "device_class",
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        min_chance_to_be_best: float = 0.9,
        n_draws: int = 4000,
        random_state: int = 0,
    ) -> None:
        self.segment_column = segment_column
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.min_chance_to_be_best = min_chance_to_be_best
        self.n_draws = n_draws
        self.random_state = random_state

    def fit(self, sessions: pd.DataFrame) -> CreativeSelector:
        """Count sessions and conversions per creative, per segment and over all segments."""
        needed = {"campaign_id", "creative_id", "converted", self.segment_column}
        missing = needed - set(sessions.columns)
        if missing:
            raise ValueError(f"sessions lack columns {sorted(missing)}")
        data = sessions.dropna(subset=["campaign_id", "creative_id"])
        data = data.assign(
            segment=data[self.segment_column].astype(object).fillna("unknown").astype(str),
            converted=data["converted"].astype(int),
        )
        per_segment = data.groupby(["campaign_id", "segment", "creative_id"], observed=True)["converted"].agg(
            ["size", "sum"]
        )
        overall = data.groupby(["campaign_id", "creative_id"], observed=True)["converted"].agg(["size", "sum"])
        overall = (
            overall.assign(segment=ALL_SEGMENTS)
            .set_index("segment", append=True)
            .reorder_levels(["campaign_id", "segment", "creative_id"])
        )
        stats = pd.concat([overall, per_segment]).rename(columns={"size": "sessions", "sum": "conversions"})
        stats = stats.reset_index()
        a = self.prior_alpha + stats["conversions"]
        b = self.prior_beta + stats["sessions"] - stats["conversions"]
        stats["rate"] = stats["conversions"] / stats["sessions"]
        stats["posterior_mean"] = a / (a + b)
        stats["ci_low"] = beta_dist.ppf(0.025, a, b)
        stats["ci_high"] = beta_dist.ppf(0.975, a, b)
        stats["chance_to_be_best"] = self._chance_to_be_best(stats, a.to_numpy(), b.to_numpy())
        self.stats_ = stats.sort_values(
            ["campaign_id", "segment", "posterior_mean"], ascending=[True, True, False]
        ).reset_index(drop=True)
        return self

    def _chance_to_be_best(self, stats: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        chance = np.zeros(len(stats))
        for _, idx in stats.groupby(["campaign_id", "segment"], observed=True).indices.items():
            draws = rng.beta(a[idx][:, None], b[idx][:, None], size=(len(idx), self.n_draws))
            winners = np.bincount(draws.argmax(axis=0), minlength=len(idx))
            chance[idx] = winners / self.n_draws
        return chance

    def recommendations(self) -> pd.DataFrame:
        """Per (campaign, segment): the leading creative, its chance to be best, and a decision."""
        check_is_fitted(self, "stats_")
        rows = []
        for (campaign, segment), unsorted in self.stats_.groupby(["campaign_id", "segment"], observed=True, sort=True):
            group = unsorted.sort_values("posterior_mean", ascending=False)
            best = group.iloc[0]
            runner = group.iloc[1] if len(group) > 1 else None
            confident = runner is None or best["chance_to_be_best"] >= self.min_chance_to_be_best
            more = 0
            if not confident and runner is not None:
                need = sessions_needed(float(best["posterior_mean"]), float(runner["posterior_mean"]))
                more = max(0, need - int(min(best["sessions"], runner["sessions"]))) * 2
            rows.append(
                {
                    "campaign_id": campaign,
                    "segment": segment,
                    "best_creative_id": best["creative_id"],
                    "conversion_rate": float(best["posterior_mean"]),
                    "ci_low": float(best["ci_low"]),
                    "ci_high": float(best["ci_high"]),
                    "chance_to_be_best": float(best["chance_to_be_best"]),
                    "runner_up_creative_id": None if runner is None else runner["creative_id"],
                    "sessions": int(group["sessions"].sum()),
                    "decision": "run" if confident else "not_enough_data",
                    "more_sessions_needed": int(more),
                }
            )
        return pd.DataFrame(rows)
