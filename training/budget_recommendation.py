"""Budget recommendations: response curves per paid campaign and a reallocation of a total budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from core.errors import NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client
from models.budget import BudgetPlan, allocate_budget
from models.response import ResponseCurve
from tracking.spend import read_spend
from training.strategy_data import SessionLoader, load_sessions_with

PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}
RECENT_DAYS = 7
Period = Literal["day", "week", "month"]


@dataclass(frozen=True)
class BudgetRecommendation:
    """A budget plan with what it was computed from."""

    client_id: str
    period: str
    total: float
    plan: BudgetPlan  # in daily amounts
    days_of_data: int
    conversion_rates: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, amounts per period."""
        k = PERIOD_DAYS[self.period]
        return {
            "client_id": self.client_id,
            "period": self.period,
            "total": self.total,
            "outcome": "conversions",
            "days_of_data": self.days_of_data,
            "expected_conversions_baseline": self.plan.expected_outcome_baseline * k,
            "expected_conversions_recommended": self.plan.expected_outcome_recommended * k,
            "expected_lift": self.plan.expected_lift,
            "campaigns": [
                {
                    "campaign_id": a.campaign_id,
                    "baseline_spend": a.baseline_spend * k,
                    "recommended_spend": a.recommended_spend * k,
                    "change_ratio": a.change_ratio,
                    "expected_conversions_baseline": a.expected_outcome_baseline * k,
                    "expected_conversions_recommended": a.expected_outcome_recommended * k,
                    "expected_conversions_interval": [a.interval_recommended[0] * k, a.interval_recommended[1] * k],
                    "conversion_rate": self.conversion_rates.get(a.campaign_id),
                    "marginal_cpa": (1.0 / a.marginal_outcome_per_unit) if a.marginal_outcome_per_unit > 0 else None,
                }
                for a in self.plan.allocations
            ],
        }


def daily_campaign_table(sessions: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """Per (date, campaign): spend, sessions and conversions (sessions attributed to their acquisition)."""
    paid = sessions.dropna(subset=["campaign_id"])
    paid = paid.assign(date=paid["started_at"].dt.tz_convert("UTC").dt.date)
    outcome = (
        paid.groupby(["date", "campaign_id"], observed=True)
        .agg(sessions=("converted", "size"), conversions=("converted", "sum"))
        .reset_index()
    )
    spend = spend.assign(date=pd.to_datetime(spend["date"]).dt.date)
    table = spend.merge(outcome, on=["date", "campaign_id"], how="left")
    return table.fillna({"sessions": 0, "conversions": 0}).sort_values(["campaign_id", "date"])


def recommend_budget(
    settings: Settings,
    client: Client,
    total: float,
    *,
    period: Period = "week",
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    load_sessions: SessionLoader | None = None,
) -> BudgetRecommendation:
    """Reallocate ``total`` per ``period`` across paid campaigns to maximize expected conversions.

    Per campaign, a response curve (adstock + Hill, bootstrapped) is fitted to daily sessions against
    daily spend and scaled by the campaign's conversion rate.
    """
    spend = read_spend(StorageLayout.from_settings(settings), client.id)
    if spend.empty:
        raise NotReady(f"no spend for client {client.id!r}; import daily spend per campaign first")
    sessions = load_sessions_with(settings, client, load_sessions)
    table = daily_campaign_table(sessions, spend)
    curves: dict[str, ResponseCurve] = {}
    current: dict[str, float] = {}
    rates: dict[str, float] = {}
    for campaign_id, rows in table.groupby("campaign_id", sort=True):
        if len(rows) < 7 or rows["spend"].sum() <= 0:
            continue
        curves[str(campaign_id)] = ResponseCurve().fit(rows["spend"].to_numpy(), rows["sessions"].to_numpy())
        current[str(campaign_id)] = float(rows["spend"].tail(RECENT_DAYS).mean())
        # Beta(1, 1) posterior mean: a campaign without conversions yet is not worth exactly zero
        rates[str(campaign_id)] = float((rows["conversions"].sum() + 1) / (rows["sessions"].sum() + 2))
    if not curves:
        raise NotReady("no campaign has 7 days of spend yet; response curves need at least a week")
    plan = allocate_budget(curves, current, total / PERIOD_DAYS[period], min_ratio, max_ratio, weights=rates)
    days = int(table["date"].nunique())
    return BudgetRecommendation(client.id, period, total, plan, days, rates)
