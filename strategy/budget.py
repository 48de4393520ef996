"""Budget recommendations: response curves per paid campaign (or per channel) and a reallocation of a budget.

Two modes give the allocator (:mod:`models.budget`) its curves:

- **attributed** (digital campaigns xmo tracks): per campaign, a response curve of the daily outcome on
  daily spend. By default (``fit_on="sessions"``) the curve is fitted on the campaign's daily *sessions* —
  many more events than conversions, so a much less noisy curve — and multiplied by the campaign's outcome
  per session (conversions or value per session, shrunk toward the client's paid average), computed on the
  same block-bootstrap resamples so the draws stay aligned. ``fit_on="outcome"`` fits the daily outcome
  directly. The outcome per day comes from a pluggable :data:`OutcomeSource`: each session's own
  conversions (the default) or an attribution model over touchpoint paths (``attribution="markov"`` …).
- **media-mix** (channels pixels cannot see): the channel curves of the client's registered media-mix model
  (or one fitted for the request; :mod:`strategy.media_mix_source` says which, and the answer's
  ``model_version``), and a forecast of the KPI over the planned period (:mod:`strategy.forward_plan`: trend,
  seasonality, controls, the carry-over of past spend, intervals) from ``start`` (default: the period after the
  data).

Amounts in the output are per ``period`` (day, week = 7 days, month = 30 days, quarter = 91 days = 13 weeks); the
models work in days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from core.amounts import amount
from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client
from models.budget import (
    API_OPTIONS,
    LEVEL,
    BudgetPlan,
    CampaignAllocation,
    RatioOptions,
    Target,
    TargetBasis,
    allocate_budget,
    baseline_label,
    bounds_range,
    plan_for_target,
    plan_ladder,
    plan_sentences,
)
from models.curve_plots import response_curves_figure
from models.response import MIN_DAYS, ResponseCurve, ScaledResponse, SpendResponse, rate_on_resamples
from strategy.forward_plan import Forecast, ForwardPlanner, future_controls, plan_window
from strategy.media_mix import RECENT_DAYS as RECENT_MEDIA_DAYS
from strategy.media_mix_source import MediaMixLoader, fitted_for_request
from strategy.sessions import SessionLoader, load_sessions_with
from tracking.spend import channel_level, read_spend

PERIOD_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 91}
RECENT_DAYS = 7  # today's spend: the mean of the last week with spend data
ROUGH_DAYS = 14  # fewer days than this: the curve is rough
FLAT_SPEND = 0.10  # coefficient of variation of the adstocked spend below which the shape is extrapolated
PRIOR_SESSIONS = 200.0  # weight of the client's paid average in each campaign's outcome per session
EXTRAPOLATION_MARGIN = 1.2  # recommended spend this far beyond the observed range gets a warning
QUANTILE_LEVELS: dict[str, tuple[float, float]] = {"sessions": (0.90, 0.95), "outcome": (0.95, 0.98)}
"""Quantile levels of the 90 % intervals per ``fit_on`` (attributed mode): (gain and moves, expected outcome).

Calibrated (Loh 1987) so that the intervals hold the truth about 90 % of the time on 60 simulated clients
(seeds 41–100 of ``benchmarks/bench_strategy.py --parts coverage --coverage-levels 0.9,0.95,0.98``). With the
optimiser re-run in each draw the 0.90 quantiles of the gain held it 91 % (sessions) and 88 % (outcome) of the
time, those of the expected outcome 82 % and 75 %: what is left is uncertainty the curves' bootstrap does not
see (the per-campaign draws are a little narrower than the errors, most of all when fitted on the outcome, and
a sum over campaigns adds the shortfalls up). ``--parts coverage`` re-measures it on other seeds (1–40)."""
LADDER_SHARES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)  # default ladder: these shares of today's total
MAX_LADDER_ROWS = 20
Period = Literal["day", "week", "month", "quarter"]
TotalSource = Literal["today", "given", "target"]
Mode = Literal["attributed", "media-mix"]
Outcome = Literal["conversions", "value"]
FitOn = Literal["sessions", "outcome"]
OutcomeSource = Callable[[pd.DataFrame, str], pd.DataFrame]
"""Sessions and a time zone in, daily outcome per campaign out: columns date, campaign_id, conversions, value."""


@dataclass
class CampaignCurves:
    """Fitted curves of the campaigns of one client, what today's spend is, and what to warn about."""

    curves: dict[str, SpendResponse]
    current: dict[str, float]
    outcome_per_session: dict[str, float]
    days: dict[str, int]
    spend_range: dict[str, tuple[float, float]]
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def warn(self, campaign_id: str, text: str) -> None:
        """Attach a warning to a campaign."""
        self.warnings.setdefault(campaign_id, []).append(text)


@dataclass(frozen=True)
class BudgetRecommendation:
    """A budget plan with what it was computed from."""

    client_id: str
    period: Period
    total: float  # per period
    plan: BudgetPlan  # in daily amounts
    days_of_data: int
    mode: Mode
    outcome: Outcome
    curves: dict[str, SpendResponse]
    conversion_rates: dict[str, float]  # outcome per session (attributed mode, fitted on sessions)
    campaign_warnings: dict[str, list[str]]
    warnings: tuple[str, ...]
    fit: dict[str, Any]
    total_source: TotalSource = "given"  # today's total (none given), the total given, or found for a target
    forecast: Forecast | None = None  # media-mix mode: the KPI over the planned period
    model_version: str | None = None  # media-mix mode: the registered version that planned (None: fitted for it)

    @property
    def period_days(self) -> int:
        """Days in the period."""
        return PERIOD_DAYS[self.period]

    def sentences(self, options: RatioOptions = API_OPTIONS) -> list[str]:
        """Plain sentences a marketer can act on (``options``: how to name the bounds' options)."""
        return plan_sentences(
            self.plan,
            unit=self.period_days,
            unit_label=self.period,
            outcome=self.outcome,
            options=options,
            outcome_label=self.outcome_label,
            item="campaign" if self.mode == "attributed" else "channel",
        )

    @property
    def outcome_label(self) -> str:
        """The outcome as sentences name it: the KPI's own name in media-mix mode (``revenue``, ``y``)."""
        kpi = self.fit.get("kpi") if self.mode == "media-mix" else None
        return str(kpi) if kpi else self.outcome

    def figure(self) -> Figure:
        """The response curves with today's split at this total and the recommendation marked (per period)."""
        return response_curves_figure(
            self.curves, self.plan, unit=self.period_days, unit_label=self.period, outcome=self.outcome
        )

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per campaign (per period): the plan as a spreadsheet or ``--format csv`` shows it."""
        k = self.period_days
        kind = "cpa" if self.outcome == "conversions" else "roas"
        rows = []
        for a in self.plan.allocations:
            marginal = a.marginal_outcome_per_unit
            low, high = a.interval_recommended
            rows.append(
                {
                    "campaign_id": a.campaign_id,
                    "todays_spend": a.current_spend * k,
                    "todays_split_at_this_total": a.baseline_spend * k,
                    "recommended_spend": a.recommended_spend * k,
                    "change": (a.recommended_spend - a.baseline_spend) * k,
                    "at_bound": a.at_bound or "",
                    f"expected_{self.outcome}": a.expected_outcome_recommended * k,
                    f"expected_{self.outcome}_low": low * k,
                    f"expected_{self.outcome}_high": high * k,
                    f"marginal_{kind}": (1.0 / marginal if marginal > 0 else None) if kind == "cpa" else marginal,
                }
            )
        return rows

    def to_dict(self, options: RatioOptions = API_OPTIONS) -> dict[str, Any]:
        """JSON-ready, amounts and outcomes per period (``options``: how the sentences name the bounds' options)."""
        k = self.period_days
        plan = self.plan
        conversions = self.outcome == "conversions"

        def per(pair: tuple[float, float]) -> list[float]:
            return [pair[0] * k, pair[1] * k]

        campaigns = []
        for a in plan.allocations:
            marginal = a.marginal_outcome_per_unit
            entry: dict[str, Any] = {
                "campaign_id": a.campaign_id,
                "current_spend": a.current_spend * k,
                "baseline_spend": a.baseline_spend * k,
                "recommended_spend": a.recommended_spend * k,
                "change": (a.recommended_spend - a.baseline_spend) * k,
                "change_ratio": a.change_ratio,
                "bounds": [a.lower_bound * k, a.upper_bound * k],
                "expected_outcome_current": a.expected_outcome_current * k,
                "expected_outcome_baseline": a.expected_outcome_baseline * k,
                "expected_outcome_recommended": a.expected_outcome_recommended * k,
                "expected_outcome_interval": per(a.interval_recommended),
                "expected_change_interval": per(a.interval_change),
                "marginal_outcome_per_unit": marginal,
                "marginal_cpa": (1.0 / marginal if marginal > 0 else None) if conversions else None,
                "marginal_roas": None if conversions else marginal,
                "at_bound": a.at_bound,
                "outcome_per_session": self.conversion_rates.get(a.campaign_id),
                "warnings": list(self.campaign_warnings.get(a.campaign_id, [])),
            }
            if conversions:
                entry |= {
                    "expected_conversions_baseline": a.expected_outcome_baseline * k,
                    "expected_conversions_recommended": a.expected_outcome_recommended * k,
                    "expected_conversions_interval": per(a.interval_recommended),
                    "conversion_rate": self.conversion_rates.get(a.campaign_id),
                }
            campaigns.append(entry)
        gain = plan.expected_outcome_recommended - plan.expected_outcome_baseline
        low, high = plan.interval_gain
        result: dict[str, Any] = {
            "client_id": self.client_id,
            "mode": self.mode,
            "outcome": self.outcome,
            "outcome_label": self.outcome_label,
            "period": self.period,
            "period_days": k,
            "total": plan.total * k,
            "requested_total": self.total,
            "total_source": self.total_source,
            "current_total": plan.current_total * k,
            "baseline": baseline_label(plan),
            "days_of_data": self.days_of_data,
            "target": None
            if plan.target is None
            else {
                "kind": plan.target.kind,
                "value": plan.target.value,
                "basis": plan.target.basis,
                "achieved_average": (1.0 / plan.average_outcome_per_unit if plan.average_outcome_per_unit else None)
                if plan.target.kind == "cpa"
                else plan.average_outcome_per_unit,
            },
            "expected_outcome_current": plan.expected_outcome_current * k,
            "expected_outcome_baseline": plan.expected_outcome_baseline * k,
            "expected_outcome_recommended": plan.expected_outcome_recommended * k,
            "expected_outcome_interval": per(plan.interval_recommended),
            "expected_gain": gain * k,
            "expected_gain_interval": per(plan.interval_gain),
            "gain_uncertain": bool(low <= 0 <= high),
            "expected_change_vs_current": (plan.expected_outcome_recommended - plan.expected_outcome_current) * k,
            "expected_change_vs_current_interval": per(plan.interval_change_vs_current),
            "expected_lift": plan.expected_lift,
            "marginal_outcome_per_unit": plan.marginal_outcome_per_unit,
            "interval_level": 0.9,
            "n_draws": plan.n_draws,
            "campaigns": campaigns,
            "moves": [
                {
                    "from": m.source,
                    "to": m.destination,
                    "amount": m.amount * k,
                    "expected_gain": m.gain * k,
                    "expected_gain_interval": per(m.interval),
                    "uncertain": bool(m.interval[0] <= 0 <= m.interval[1]),
                }
                for m in plan.moves
            ],
            "excluded": list(plan.excluded),
            "sentences": self.sentences(options),
            "warnings": list(self.warnings),
            "fit": self.fit,
        }
        if self.mode == "media-mix":
            result["model_version"] = self.model_version
            if self.forecast is not None:
                result["forecast"] = self.forecast.to_dict() | {"sentence": self.forecast.sentence(plan.total * k)}
        if conversions:
            result |= {
                "expected_conversions_baseline": plan.expected_outcome_baseline * k,
                "expected_conversions_recommended": plan.expected_outcome_recommended * k,
            }
        else:
            result |= {
                "expected_value_baseline": plan.expected_outcome_baseline * k,
                "expected_value_recommended": plan.expected_outcome_recommended * k,
            }
        return result


@dataclass(frozen=True)
class BudgetLadder:
    """Plans at several totals from one fit of the curves: what each total would buy."""

    client_id: str
    period: Period
    outcome: Outcome
    current_total: float  # per period
    plans: tuple[BudgetPlan, ...]  # daily amounts
    warnings: tuple[str, ...]
    forecasts: tuple[Forecast, ...] = ()  # media-mix mode: one per plan
    mode: Mode = "attributed"
    model_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, per period: one row per total (media-mix: with the KPI forecast over the planned period)."""
        k = PERIOD_DAYS[self.period]
        cpa = self.outcome == "conversions"
        rows = []
        for i, plan in enumerate(self.plans):
            average, marginal = plan.average_outcome_per_unit, plan.marginal_outcome_per_unit
            row: dict[str, Any] = {
                "total": plan.total * k,
                "expected_outcome": plan.expected_outcome_recommended * k,
                "expected_outcome_interval": [x * k for x in plan.interval_recommended],
            }
            if cpa:
                row["average_cpa"] = 1.0 / average if average > 0 else None
                row["marginal_cpa"] = 1.0 / marginal if marginal > 0 else None
            else:
                row["average_roas"], row["marginal_roas"] = average, marginal
            row["campaigns_at_upper_bound"] = len(plan.at_bound("upper"))
            row["campaigns_at_lower_bound"] = len(plan.at_bound("lower"))
            if self.forecasts:
                forecast = self.forecasts[i]
                row["forecast_predicted"] = forecast.predicted
                row["forecast_interval"] = list(forecast.interval)
                row["forecast_media_effect"] = forecast.media_effect
            rows.append(row)
        out: dict[str, Any] = {
            "client_id": self.client_id,
            "period": self.period,
            "outcome": self.outcome,
            "current_total": self.current_total,
            "rows": rows,
            "warnings": list(self.warnings),
        }
        if self.mode == "media-mix":
            out["model_version"] = self.model_version
            if self.forecasts:
                window = self.forecasts[0].to_dict(per_period=False)
                keep = ("start", "end", "period", "n_periods", "cadence", "n_days", "kpi", "interval_level")
                out["forecast"] = {key: window[key] for key in (*keep, "controls_source", "controls_note", "notes")}
        return out


# --- outcome sources -----------------------------------------------------------------------------------------


def _local_dates(times: pd.Series, timezone: str) -> pd.Series:
    return pd.to_datetime(times, utc=True).dt.tz_convert(timezone).dt.date


def own_session_outcomes(sessions: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """Each converting session credited to its own campaign on its start date (no attribution model)."""
    paid = sessions.dropna(subset=["campaign_id"])
    value = paid["conversion_value"] if "conversion_value" in paid else pd.Series(0.0, index=paid.index)
    frame = pd.DataFrame(
        {
            "date": _local_dates(paid["started_at"], timezone),
            "campaign_id": paid["campaign_id"].astype(str),
            "conversions": paid["converted"].astype(float),
            "value": value.fillna(0.0).astype(float) * paid["converted"].astype(float),
        }
    )
    return frame.groupby(["date", "campaign_id"], as_index=False)[["conversions", "value"]].sum()


def attributed_outcomes(model: str) -> OutcomeSource:
    """An outcome source crediting conversions by an attribution model over the sessions' touchpoint paths."""
    from features.paths import touchpoint_paths
    from models.attribution import check_model, daily_attributed_outcomes

    check_model(model)

    def source(sessions: pd.DataFrame, timezone: str) -> pd.DataFrame:
        paths = touchpoint_paths(sessions)
        daily = daily_attributed_outcomes(paths, model=model, level="campaign", timezone=timezone)
        return daily[~daily["campaign_id"].astype(str).str.startswith("<")]

    return source


def daily_campaign_table(
    sessions: pd.DataFrame, spend: pd.DataFrame, outcomes: OutcomeSource | None = None, timezone: str = "UTC"
) -> pd.DataFrame:
    """Per (date, campaign) with spend: spend, sessions acquired, conversions and value (from ``outcomes``)."""
    source = outcomes or own_session_outcomes
    paid = sessions.dropna(subset=["campaign_id"])
    acquired = (
        pd.DataFrame(
            {"date": _local_dates(paid["started_at"], timezone), "campaign_id": paid["campaign_id"].astype(str)}
        )
        .groupby(["date", "campaign_id"])
        .size()
        .rename("sessions")
        .reset_index()
    )
    credited = source(sessions, timezone)
    credited = credited.assign(
        date=pd.to_datetime(credited["date"]).dt.date, campaign_id=credited["campaign_id"].astype(str)
    )
    spent = spend.assign(date=pd.to_datetime(spend["date"]).dt.date, campaign_id=spend["campaign_id"].astype(str))
    days: pd.DataFrame = spent.groupby(["date", "campaign_id"], as_index=False)[["spend"]].sum()
    table = days.merge(acquired, on=["date", "campaign_id"], how="left").merge(
        credited[["date", "campaign_id", "conversions", "value"]], on=["date", "campaign_id"], how="left"
    )
    table = table.fillna({"sessions": 0, "conversions": 0.0, "value": 0.0})
    return table.sort_values(["campaign_id", "date"]).reset_index(drop=True)


# --- attributed curves ---------------------------------------------------------------------------------------


def _consecutive(rows: pd.DataFrame) -> pd.DataFrame:
    """The campaign's days from its first to its last spend row, missing days as zero spend and outcome."""
    dates = pd.to_datetime(rows["date"])
    full = pd.date_range(dates.min(), dates.max(), freq="D")
    return (
        rows.assign(date=dates)
        .set_index("date")[["spend", "sessions", "conversions", "value"]]
        .reindex(full, fill_value=0.0)
        .rename_axis("date")
        .reset_index()
    )


def fit_campaign_curves(
    table: pd.DataFrame,
    *,
    outcome: Outcome = "conversions",
    fit_on: FitOn = "sessions",
    recent_days: int = RECENT_DAYS,
    n_bootstrap: int = 200,
    random_state: int = 0,
) -> CampaignCurves:
    """Response curves per campaign from a :func:`daily_campaign_table`, with warnings per campaign.

    Campaigns with fewer than ``MIN_DAYS`` days of spend get no curve (a warning says so); today's spend is
    the mean of the last ``recent_days`` days.
    """
    if outcome not in ("conversions", "value"):
        raise InvalidInput(f"outcome must be conversions or value, not {outcome!r}")
    if fit_on not in ("sessions", "outcome"):
        raise InvalidInput(f"fit_on must be sessions or outcome, not {fit_on!r}")
    paid_sessions = float(table["sessions"].sum())
    prior = float(table[outcome].sum()) / paid_sessions if paid_sessions > 0 else 0.0
    result = CampaignCurves({}, {}, {}, {}, {})
    for campaign_id, group in table.groupby("campaign_id", sort=True):
        name = str(campaign_id)
        rows = _consecutive(group)
        n = len(rows)
        result.days[name] = n
        result.current[name] = float(rows["spend"].tail(recent_days).mean())
        if n < MIN_DAYS or not (rows["spend"] > 0).any():
            result.warn(name, f"only {n} days of spend (a curve needs {MIN_DAYS}): left out of the plan")
            continue
        spend = rows["spend"].to_numpy(float)
        target = rows["sessions" if fit_on == "sessions" else outcome].to_numpy(float)
        curve = ResponseCurve(n_bootstrap=n_bootstrap, random_state=random_state).fit(spend, target)
        if fit_on == "sessions":
            rate, draws = rate_on_resamples(
                rows[outcome].to_numpy(float), target, curve.bootstrap_weights_, prior, PRIOR_SESSIONS
            )
            result.curves[name] = ScaledResponse(curve, rate, draws)
            result.outcome_per_session[name] = rate
        else:
            result.curves[name] = curve
        result.spend_range[name] = curve.spend_range_
        if n < ROUGH_DAYS:
            result.warn(name, f"only {n} days of data: the curve is rough (two weeks or more are better)")
        if curve.spend_variation_ < FLAT_SPEND:
            result.warn(
                name,
                f"daily spend barely varied (±{curve.spend_variation_:.0%}): how the outcome changes with spend is "
                "extrapolated (from priors), so test a spend change before trusting a big move",
            )
        if float(rows[outcome].sum()) <= 0:
            what = "conversions" if outcome == "conversions" else "conversion value"
            basis = "the client's paid average per session" if fit_on == "sessions" else "nothing"
            result.warn(name, f"no {what} in {n} days: its expected {outcome} rest on {basis}")
        if fit_on == "sessions" and float(rows["sessions"].sum()) <= 0:
            result.warn(name, f"no sessions in {n} days despite spend: check its tracking links (utm_campaign)")
    return result


def _extrapolation_warnings(plan: BudgetPlan, curves: CampaignCurves, unit: int, label: str) -> None:
    for a in plan.allocations:
        low, high = curves.spend_range.get(a.campaign_id, (0.0, float("inf")))
        if a.recommended_spend > high * EXTRAPOLATION_MARGIN:
            curves.warn(
                a.campaign_id,
                f"recommended {amount(a.recommended_spend * unit)} per {label} is above the most it spent "
                f"({amount(high * unit)} per {label}, carry-over included): the curve is extrapolated there",
            )
        elif a.recommended_spend < low / EXTRAPOLATION_MARGIN:
            curves.warn(
                a.campaign_id,
                f"recommended {amount(a.recommended_spend * unit)} per {label} is below the least it spent "
                f"({amount(low * unit)} per {label}): the curve is extrapolated there",
            )


# --- the job -------------------------------------------------------------------------------------------------


def _target(target_cpa: float | None, target_roas: float | None, outcome: Outcome, basis: TargetBasis) -> Target | None:
    if target_cpa is not None and target_roas is not None:
        raise InvalidInput("give a target CPA or a target ROAS, not both")
    if basis not in ("average", "marginal"):
        raise InvalidInput(f"the target basis must be average or marginal, not {basis!r}")
    if target_cpa is not None:
        if outcome != "conversions":
            raise InvalidInput("a target CPA needs --outcome conversions")
        return Target("cpa", float(target_cpa), basis)
    if target_roas is not None:
        if outcome != "value":
            raise InvalidInput("a target ROAS needs --outcome value")
        return Target("roas", float(target_roas), basis)
    return None


def _attributed(
    settings: Settings,
    client: Client,
    outcome: Outcome,
    fit_on: FitOn,
    attribution: str | None,
    load_sessions: SessionLoader | None,
) -> tuple[CampaignCurves, int, list[str], dict[str, Any]]:
    stored = read_spend(StorageLayout.from_settings(settings), client.id)
    spend = stored[~channel_level(stored)]  # TV, print…: no tracked sessions; media-mix mode models them
    weekly = sorted(set(spend.loc[spend["period_days"] != 1, "campaign_id"].astype(str)))
    spend = spend[spend["period_days"] == 1]  # daily curves: a weekly total is never one day's spend
    if spend.empty:
        raise NotReady(
            f"no daily spend per campaign for client {client.id!r}; import it with `xmo spend import`"
            + (f" (weekly spend of {', '.join(weekly[:10])} needs --mode media-mix)" if weekly else "")
        )
    sessions = load_sessions_with(settings, client, load_sessions)
    source = attributed_outcomes(attribution) if attribution else own_session_outcomes
    table = daily_campaign_table(sessions, spend, source, client.timezone)
    curves = fit_campaign_curves(table, outcome=outcome, fit_on=fit_on)
    notes: list[str] = []
    unpaid = sorted(set(sessions["campaign_id"].dropna().astype(str)) - set(table["campaign_id"]))
    if unpaid:
        notes.append(f"campaigns with sessions but no spend rows are not in the plan: {', '.join(unpaid[:10])}")
    if weekly:
        notes.append(f"weekly spend of {', '.join(weekly[:10])} is left out: campaign curves need daily spend")
    if channel_level(stored).any():
        channels = sorted(set(stored.loc[channel_level(stored), "campaign_id"].astype(str)))
        notes.append(f"channel-level spend ({', '.join(channels)}) is left out here: use --mode media-mix for it")
    fit = {"fit_on": fit_on, "attribution": attribution or "own-session", "prior_sessions": PRIOR_SESSIONS}
    return curves, int(table["date"].nunique()), notes, fit


@dataclass(frozen=True)
class ForwardOptions:
    """What a media-mix plan forecasts: from ``start`` (None: the first period after the data), with the
    ``controls`` of the future periods (a file's rows; None: carried forward)."""

    start: date | str | None = None
    controls: pd.DataFrame | None = None


def _media_mix(
    settings: Settings,
    client: Client,
    outcome: Outcome | None,
    kpi: str | None,
    loader: MediaMixLoader | None,
    period: Period,
    forward: ForwardOptions,
) -> _Fitted:
    """Channel curves of the client's media-mix model; without an ``outcome`` it follows the KPI (revenue: value)."""
    from features.media_mix_data import COUNT_KPIS, VALUE_KPIS

    if kpi is None and outcome is not None:
        from tracking.kpi import read_kpi

        columns = [c for c in read_kpi(StorageLayout.from_settings(settings), client.id).columns if c != "date"]
        wanted = VALUE_KPIS if outcome == "value" else COUNT_KPIS
        kpi = next((c for c in wanted if c in columns), None)
    source = (loader or fitted_for_request)(settings, client, kpi)
    notes = list(source.warnings)
    kind = "value" if source.kpi in VALUE_KPIS else "count"
    if outcome is None:
        outcome = "value" if kind == "value" else "conversions"
    elif kind != ("value" if outcome == "value" else "count"):
        notes.append(f"the KPI {source.kpi!r} is not a {outcome} series; outcomes below are in {source.kpi}")
    model, inputs = source.model, source.inputs
    current = source.current_daily_spend()
    for name, value in current.items():
        if value <= 0:
            notes.append(f"channel {name!r} has had no spend in the last {RECENT_MEDIA_DAYS} days")
    curves = CampaignCurves(dict(model.response_curves()), current, {}, {}, {})
    window = plan_window(inputs.dates[-1], inputs.period_days, period, PERIOD_DAYS[period], forward.start)
    controls = future_controls(inputs.X, list(model.controls_), window, forward.controls)
    planner = ForwardPlanner(model, inputs.X, kpi=source.kpi, window=window, controls=controls, current=current)
    days = int(source.fit_report.get("n_days", 0) or 0)
    fit = {**source.fit_report, "kpi": source.kpi}
    return _Fitted(curves, days, list(dict.fromkeys(notes)), fit, outcome, planner, source.version)


@dataclass(frozen=True)
class _Fitted:
    """What every budget question starts from: the curves, today's spend, notes, and the outcome they are in."""

    curves: CampaignCurves
    days: int
    notes: list[str]
    fit: dict[str, Any]
    outcome: Outcome
    planner: ForwardPlanner | None = None  # media-mix mode
    model_version: str | None = None

    @property
    def todays_daily_total(self) -> float:
        """Today's daily spend over the campaigns a plan includes (a curve and spend today)."""
        return float(sum(v for n, v in self.curves.current.items() if n in self.curves.curves and v > 0))

    def forecast(self, plan: BudgetPlan) -> Forecast | None:
        """The KPI over the planned period with the plan's spend (media-mix mode; None otherwise)."""
        if self.planner is None:
            return None
        return self.planner.forecast({a.campaign_id: a.recommended_spend for a in plan.allocations})


def _checked(period: str, mode: str, outcome: str | None, forward: ForwardOptions | None = None) -> None:
    if period not in PERIOD_DAYS:
        raise InvalidInput(f"period must be day, week, month or quarter, not {period!r}")
    if mode not in ("attributed", "media-mix"):
        raise InvalidInput(f"mode must be attributed or media-mix, not {mode!r}")
    if outcome is not None and outcome not in ("conversions", "value"):
        raise InvalidInput(f"outcome must be conversions or value, not {outcome!r}")
    if mode == "attributed" and forward is not None and (forward.start is not None or forward.controls is not None):
        raise InvalidInput("a start date and future controls go with the media-mix mode (--mode media-mix)")


def _fitted(
    settings: Settings,
    client: Client,
    mode: Mode,
    outcome: Outcome | None,
    fit_on: FitOn,
    attribution: str | None,
    kpi: str | None,
    load_sessions: SessionLoader | None,
    load_media_mix: MediaMixLoader | None = None,
    period: Period = "week",
    forward: ForwardOptions | None = None,
) -> _Fitted:
    if mode == "attributed":
        outcome = outcome or "conversions"
        curves, days, notes, fit = _attributed(settings, client, outcome, fit_on, attribution, load_sessions)
        fitted = _Fitted(curves, days, notes, fit, outcome)
    else:
        fitted = _media_mix(settings, client, outcome, kpi, load_media_mix, period, forward or ForwardOptions())
    if not fitted.curves.curves:
        raise NotReady(
            f"no campaign has {MIN_DAYS} days of spend yet; response curves need at least a week of daily spend"
        )
    return fitted


def _ladder_extrapolation(fitted: _Fitted, plans: list[BudgetPlan], unit: int, label: str) -> list[str]:
    """One warning naming the totals at which some campaign goes beyond the spend it has seen."""
    ranges = fitted.curves.spend_range

    def beyond(a: CampaignAllocation) -> bool:
        low, high = ranges.get(a.campaign_id, (0.0, float("inf")))
        return not low / EXTRAPOLATION_MARGIN <= a.recommended_spend <= high * EXTRAPOLATION_MARGIN

    totals = [plan.total * unit for plan in plans if any(beyond(a) for a in plan.allocations)]
    if not totals:
        return []
    shown = ", ".join(amount(t) for t in totals)
    return [
        f"at totals of {shown} per {label} some campaigns get more or less than they have ever spent: their curves "
        "are extrapolated there (the plan at that total names them)"
    ]


def _warnings(
    fitted: _Fitted, plans: list[BudgetPlan], unit: int, label: str
) -> tuple[list[str], dict[str, list[str]]]:
    """The notes, the plans' warnings (not repeating a campaign's own) and each campaign's warnings."""
    curves = fitted.curves
    if len(plans) == 1:
        _extrapolation_warnings(plans[0], curves, unit, label)
    else:
        fitted.notes.extend(_ladder_extrapolation(fitted, plans, unit, label))
    own = {f"{name}:" for name in curves.warnings}
    warnings = [*fitted.notes, *(w for plan in plans for w in plan.warnings if w.split(" ", 1)[0] not in own)]
    warnings += [f"{name}: {text}" for name, texts in sorted(curves.warnings.items()) for text in texts]
    return list(dict.fromkeys(warnings)), {k: list(dict.fromkeys(v)) for k, v in curves.warnings.items()}


def recommend_budget(
    settings: Settings,
    client: Client,
    total: float | None = None,
    *,
    period: Period = "week",
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    mode: Mode = "attributed",
    outcome: Outcome | None = None,
    target_cpa: float | None = None,
    target_roas: float | None = None,
    target_basis: TargetBasis = "average",
    fit_on: FitOn = "sessions",
    attribution: str | None = None,
    kpi: str | None = None,
    load_sessions: SessionLoader | None = None,
    load_media_mix: MediaMixLoader | None = None,
    forward: ForwardOptions | None = None,
) -> BudgetRecommendation:
    """Split ``total`` per ``period`` across paid campaigns (or channels) to maximize the expected outcome.

    Without ``total`` and target the total is today's (the plan then only moves money between campaigns).
    With ``target_cpa``/``target_roas`` the total is found instead (``total``, when given, caps it); see
    :mod:`models.budget` for the average and marginal definitions. ``attribution`` names an attribution model
    crediting conversions over touchpoint paths (attributed mode; default: each session's own conversions).
    ``kpi`` picks the KPI column of the media-mix mode; ``load_media_mix`` gives its model
    (:func:`strategy.media_mix_source.registered_media_mix`; without one a model is fitted for the request), and
    ``forward`` where its forecast starts and the future controls.
    """
    _checked(period, mode, outcome, forward)
    if outcome is None and (target_cpa is not None or target_roas is not None):
        outcome = "value" if target_roas is not None else "conversions"
    target = _target(target_cpa, target_roas, outcome or "conversions", target_basis)
    if total is not None and (not np.isfinite(total) or total <= 0):
        raise InvalidInput("the total budget must be a positive amount")
    k = PERIOD_DAYS[period]
    fitted = _fitted(
        settings, client, mode, outcome, fit_on, attribution, kpi, load_sessions, load_media_mix, period, forward
    )
    curves = fitted.curves
    source: TotalSource = "target" if target is not None else "given" if total is not None else "today"
    daily = None if total is None else total / k
    level, outcome_level = QUANTILE_LEVELS[fit_on] if mode == "attributed" else (LEVEL, LEVEL)
    if target is None:
        daily = fitted.todays_daily_total if daily is None else daily
        plan = allocate_budget(
            curves.curves,
            curves.current,
            daily,
            min_ratio,
            max_ratio,
            level=level,
            outcome_level=outcome_level,
            unit=k,
            unit_label=period,
        )
    else:
        plan = plan_for_target(
            curves.curves,
            curves.current,
            target,
            min_ratio,
            max_ratio,
            max_total=daily,
            level=level,
            outcome_level=outcome_level,
            unit=k,
            unit_label=period,
        )
    warnings, campaign_warnings = _warnings(fitted, [plan], k, period)
    return BudgetRecommendation(
        client_id=client.id,
        period=period,
        total=plan.total * k if total is None else float(total),
        plan=plan,
        days_of_data=fitted.days,
        mode=mode,
        outcome=fitted.outcome,
        curves=curves.curves,
        conversion_rates=curves.outcome_per_session,
        campaign_warnings=campaign_warnings,
        warnings=tuple(warnings),
        fit=fitted.fit,
        total_source=source,
        forecast=fitted.forecast(plan),
        model_version=fitted.model_version,
    )


def ladder_totals(text: str) -> list[float]:
    """Totals per period from a comma-separated list, checked (positive numbers, at most ``MAX_LADDER_ROWS``)."""
    totals = []
    for part in text.split(","):
        try:
            value = float(part.strip().replace("_", ""))
        except ValueError:
            raise InvalidInput(
                f"totals must be numbers separated by commas, e.g. 1000,2000,4000; not {part.strip()!r}"
            ) from None
        if not np.isfinite(value) or value <= 0:
            raise InvalidInput(f"every total must be a positive amount, not {part.strip()!r}")
        totals.append(value)
    if len(totals) > MAX_LADDER_ROWS:
        raise InvalidInput(f"give at most {MAX_LADDER_ROWS} totals, not {len(totals)}")
    return sorted(set(totals))


def budget_ladder(
    settings: Settings,
    client: Client,
    totals: str | None = None,
    *,
    period: Period = "week",
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    mode: Mode = "attributed",
    outcome: Outcome | None = None,
    fit_on: FitOn = "sessions",
    attribution: str | None = None,
    kpi: str | None = None,
    load_sessions: SessionLoader | None = None,
    load_media_mix: MediaMixLoader | None = None,
    forward: ForwardOptions | None = None,
) -> BudgetLadder:
    """What several totals per ``period`` would buy, each split optimally: one fit of the curves, one plan per total.

    ``totals`` is a comma-separated list (default: ``LADDER_SHARES`` of today's total; those the bounds do not
    allow are left out with a warning, while a given total outside them is an error naming the range). In the
    media-mix mode each total also gets its forecast of the KPI over the planned period (see
    :func:`recommend_budget` for ``load_media_mix`` and ``forward``).
    """
    _checked(period, mode, outcome, forward)
    k = PERIOD_DAYS[period]
    given = ladder_totals(totals) if totals is not None and totals.strip() else None  # bad totals: before fitting
    fitted = _fitted(
        settings, client, mode, outcome, fit_on, attribution, kpi, load_sessions, load_media_mix, period, forward
    )
    curves = fitted.curves
    today = fitted.todays_daily_total * k
    asked = given or [share * today for share in LADDER_SHARES]
    notes: list[str] = []
    if given is None:
        low, high = bounds_range(curves.curves, curves.current, min_ratio, max_ratio)
        kept = [t for t in asked if low * k * (1 - 1e-9) <= t <= high * k * (1 + 1e-9)]
        if len(kept) < len(asked):
            notes.append(
                f"totals outside the bounds ({amount(low * k)} to {amount(high * k)} per {period} with min_ratio "
                f"{min_ratio:g} and max_ratio {max_ratio:g}) are left out"
            )
        asked = kept or [today]
    level, outcome_level = QUANTILE_LEVELS[fit_on] if mode == "attributed" else (LEVEL, LEVEL)
    plans = plan_ladder(
        curves.curves,
        curves.current,
        [t / k for t in asked],
        min_ratio,
        max_ratio,
        level=level,
        outcome_level=outcome_level,
        unit=k,
        unit_label=period,
    )
    warnings, _ = _warnings(fitted, plans, k, period)
    forecasts = tuple(f for f in (fitted.forecast(plan) for plan in plans) if f is not None)
    return BudgetLadder(
        client.id,
        period,
        fitted.outcome,
        today,
        tuple(plans),
        tuple([*notes, *warnings]),
        forecasts,
        mode,
        fitted.model_version,
    )
