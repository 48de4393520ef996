"""Simulated worlds with a known truth for ``bench_strategy.py``: true response curves and creative rates.

The simulator (``xmo.simulator``) draws each campaign's sessions from a response curve (unnormalized geometric
adstock ``a[t] = s[t] + decay * a[t-1]``, then Hill saturation) and each session's conversion from a true
probability. A constant daily spend ``s`` settles at ``a = s / (1 - decay)``, so a campaign's true steady-state
conversions per day are ``max_sessions * hill(s / (1 - decay)) * p_c``, with ``p_c`` the mean true probability
of the campaign's sessions (bots included: they never convert). A creative's true rate in a cell (campaign,
device class) is the mean true probability of its sessions there: creatives are assigned at random by weight,
so the other factors of the truth model average out equally across them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from xmo.simulator.curves import hill
from xmo.simulator.traffic import Traffic, simulate
from xmo.simulator.world import Campaign, World, build_world


@dataclass(frozen=True)
class TrueCampaignCurve:
    """A campaign's true settled conversions per day at a constant daily spend (a ``SpendResponse``)."""

    campaign: Campaign
    conversion_rate: float

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        r = self.campaign.response
        settled = np.asarray(daily_spend, dtype=float) / (1.0 - r.adstock_decay)
        return np.asarray(r.max_daily_sessions * hill(settled, r.half_saturation, r.shape) * self.conversion_rate)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        return np.atleast_1d(self.steady_state(daily_spend))


def simulated(seed: int, days: int, visitors_per_day: int, equal_creatives: bool = False) -> Traffic:
    """The traffic of a seeded world; with ``equal_creatives`` every creative of a campaign converts alike."""
    world = build_world(seed, days, visitors_per_day)
    if equal_creatives:
        world = _with_equal_creatives(world)
    return simulate(world)


def _with_equal_creatives(world: World) -> World:
    campaigns = tuple(
        replace(c, creatives=tuple(replace(cr, effects=tuple(0.0 for _ in cr.effects)) for cr in c.creatives))
        for c in world.campaigns
    )
    return replace(world, campaigns=campaigns)


def session_frame(traffic: Traffic) -> pd.DataFrame:
    """The simulator's sessions in the shape of ``features.sessions.build_sessions`` (bots left out, as the edge does).

    Only the columns the strategy jobs read are filled; ``visitor_id`` is the simulated cookie.
    """
    s = traffic.sessions[~traffic.sessions["bot"].to_numpy()]
    campaign_of = {c.id: c for c in traffic.world.campaigns}
    campaign = s["campaign_id"].astype(object)
    utm = {
        name: campaign.map(lambda cid, n=name: getattr(campaign_of[cid], n) if isinstance(cid, str) else None)
        for name in ("utm_source", "utm_medium", "utm_campaign")
    }
    s = s.reset_index(drop=True)
    campaign = campaign.reset_index(drop=True)
    utm = {name: values.reset_index(drop=True) for name, values in utm.items()}
    return pd.DataFrame(
        {
            "session_id": s["session_id"].astype(str).to_numpy(),
            "visitor_id": s["visitor_id"].to_numpy(),
            "started_at": s["session_start"].reset_index(drop=True),
            "ended_at": s["session_end"].reset_index(drop=True),
            "utm_source": utm["utm_source"].to_numpy(),
            "utm_medium": utm["utm_medium"].to_numpy(),
            "utm_campaign": utm["utm_campaign"].to_numpy(),
            "campaign_id": campaign.to_numpy(),
            "creative_id": s["creative_id"].astype(object).to_numpy(),
            "referrer_host": None,
            "landing_path": "/",
            "pageviews": s["pageviews"].to_numpy(),
            "clicks": s["clicks"].to_numpy(),
            "device_class": s["device_class"].astype(str).to_numpy(),
            "region": s["region"].astype(str).to_numpy(),
            "browser_family": "Chrome",
            "os_family": "Other",
            "prev_sessions": s["is_returning"].astype(np.int64).to_numpy(),
            "converted": s["converted"].to_numpy(dtype=bool),
            "conversion_value": s["value"].fillna(0.0).to_numpy(dtype=float),
        }
    )


def true_campaign_curves(traffic: Traffic) -> dict[str, TrueCampaignCurve]:
    """Each campaign's true steady-state conversions per day as a function of daily spend.

    The curve's sessions include bots (whose true probability is 0), so the rate is averaged over them too.
    """
    rates = traffic.sessions.groupby("campaign_id", observed=True)["true_p"].mean()
    return {c.id: TrueCampaignCurve(c, float(rates.get(c.id, 0.0))) for c in traffic.world.campaigns}


def true_creative_rates(traffic: Traffic) -> pd.DataFrame:
    """Per (campaign, device class, creative): sessions and the true conversion rate (mean true probability)."""
    s = traffic.sessions[~traffic.sessions["bot"].to_numpy()].dropna(subset=["creative_id"])
    grouped = s.groupby(["campaign_id", "device_class", "creative_id"], observed=True)
    table = grouped.agg(sessions=("true_p", "size"), true_rate=("true_p", "mean")).reset_index()
    return table.astype({"campaign_id": str, "device_class": str, "creative_id": str})


def true_creative_cells(rates: pd.DataFrame, days: int) -> list[dict[str, Any]]:
    """One entry per (campaign, device class): creatives' true rates, the true best, its lift, daily sessions."""
    cells = []
    for (campaign, device), group in rates.groupby(["campaign_id", "device_class"], sort=True):
        ordered = group.sort_values("true_rate", ascending=False)
        best, second = ordered.iloc[0], ordered.iloc[1] if len(ordered) > 1 else ordered.iloc[0]
        cells.append(
            {
                "campaign_id": campaign,
                "segment": device,
                "sessions": int(group["sessions"].sum()),
                "daily_sessions": float(group["sessions"].sum()) / days,
                "true_best": str(best["creative_id"]),
                "best_lift": float(best["true_rate"] / second["true_rate"] - 1.0) if second["true_rate"] else 0.0,
                "rates": dict(zip(group["creative_id"], group["true_rate"].astype(float), strict=True)),
            }
        )
    return cells
