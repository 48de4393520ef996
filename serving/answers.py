"""What the report, attribution, recommendation and dashboard routes answer: the contract of their JSON.

The strategy jobs build their answers as plain dicts (``to_dict()``, shared with the CLI); each route declares
one of these models as its ``response_model``, so that ``/openapi.json`` describes the answer and FastAPI checks
every answer against it. Fields follow the order in which the jobs write them, and keys a job writes only for
some requests (the grouping's columns, a model's own columns, the outcome's figures) are optional here: the
routes answer with ``response_model_exclude_unset=True``, so that such a key stays out of the JSON when the job
did not write it, as before. Numbers are kept as the job gave them (a ``float`` field here is a float there, an
``int`` field an int), so the JSON is the one the routes wrote when they declared ``dict[str, Any]``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from models.attribution import MODELS
from models.audiences import SUGGESTIONS
from models.budget import TargetBasis, TargetKind
from models.creatives import ACTIONS, DECISIONS
from strategy.attribution import MODEL_CHOICES
from strategy.budget import FitOn, Mode, Outcome, Period
from strategy.creatives import SegmentBy

Day = Annotated[str, Field(description="A date, YYYY-MM-DD")]
Pair = Annotated[list[float], Field(min_length=2, max_length=2, description="[low, high]")]
Bounds = Annotated[
    list[float | None],
    Field(min_length=2, max_length=2, description="[low, high]; null where a bound does not exist"),
]
# A whole number that pandas may hand over as a float (an integer column with a missing value turns float): kept as
# given, so that the JSON stays as the job wrote it, and documented as the integer it is.
WholeNumber = Annotated[int | float, WithJsonSchema({"type": "integer"})]


# GET /v1/reports/effectiveness and /v1/reports/campaigns ------------------------------------------------------
class EffectivenessTotals(BaseModel):
    """Sessions, conversions, value and spend over the whole period, with rates and their intervals."""

    sessions: int
    conversions: int
    conversion_rate: float | None = Field(description="Conversions / sessions (null without sessions)")
    conversion_rate_interval: Bounds = Field(description="Wilson interval at the report's confidence")
    value: float = Field(description="Value of the conversions")
    value_interval: Bounds
    spend: float | None = Field(description="Recorded spend (null without any)")
    cpa: float | None = Field(description="Spend / conversions (null without spend or conversions)")
    cpa_interval: Bounds = Field(description="Null upper bound: no conversion yet, the CPA is unbounded")
    roas: float | None = Field(description="Value / spend (null without spend)")
    roas_interval: Bounds


class EffectivenessRow(BaseModel):
    """One group of the report: its key columns (which depend on ``by``), then the figures of the totals."""

    segment: str | None = Field(default=None, description="by=segment: device, visitor or region")
    segment_value: str | None = Field(default=None, description="by=segment: the segment's value")
    campaign_id: str | None = Field(default=None, description="by=campaign or creative (null: untagged sessions)")
    creative_id: str | None = Field(default=None, description="by=creative")
    channel: str | None = Field(default=None, description="by=channel, and by=campaign: the campaign's channel")
    sessions: int
    conversions: int
    conversion_rate: float | None
    conversion_rate_interval: Bounds
    value: float
    value_interval: Bounds
    spend: float | None = Field(description="Spend of the group (null when none is recorded for it)")
    cpa: float | None
    cpa_interval: Bounds
    roas: float | None
    roas_interval: Bounds


class ArmComparison(BaseModel):
    """An arm (a creative within its campaign, or a campaign within its channel) against its group's reference."""

    comparison: Literal["creative", "campaign"]
    group: str = Field(description="The campaign (comparing creatives) or channel (comparing campaigns)")
    arm: str
    reference: str = Field(description="The arm of the group with the highest posterior conversion rate")
    is_reference: bool
    sessions: int
    conversions: int
    conversion_rate: float | None
    conversion_rate_interval: Bounds
    lift: float | None = Field(description="Conversion rate relative to the reference's, minus 1 (null: reference)")
    lift_interval: Bounds
    always_valid_lift_interval: Bounds = Field(description="Valid however often the report is read")
    chance_to_beat_reference: float | None
    p_value: float | None
    q_value: float | None = Field(
        description="Benjamini-Hochberg within the comparison's family (the arms of one test), not the whole report"
    )
    family: str = Field(description='The test whose arms are adjusted together, e.g. "creatives of campaign brand"')
    verdict: str = Field(description="winner, loser, no detectable difference, or not enough data yet (…)")
    sessions_needed: WholeNumber | None = Field(description="More sessions the verdict waits for (null: unknown)")
    sample_ratio_mismatch: bool
    variance_reduction: float | None = Field(
        default=None,
        description="Share of the variance of the comparison removed by the visitors' pre-period history (CUPED: "
        "earlier sessions and conversions); 0 without such history. On the reference: its test's pooled share",
    )


class SampleRatioCheck(BaseModel):
    """A campaign's planned creative split against the sessions each creative received."""

    campaign_id: str
    observed_sessions: dict[str, int]
    planned_shares: dict[str, float]
    unplanned_sessions: dict[str, int]
    p_value: float
    mismatch: bool


class EffectivenessReportOut(BaseModel):
    """Conversion rate, value, CPA and ROAS with intervals per group, and comparisons of creatives and campaigns."""

    client_id: str
    since: Day = Field(description="First day of the report, UTC")
    until: Day = Field(description="Last day of the report, UTC")
    by: Literal["campaign", "creative", "channel", "segment"]
    confidence: float
    minimum_detectable_effect: float
    decision_rule: str = Field(description="The rule behind every verdict, in words")
    totals: EffectivenessTotals
    rows: list[EffectivenessRow]
    comparisons: list[ArmComparison]
    sample_ratio_checks: list[SampleRatioCheck]
    warnings: list[str]


# GET /v1/attribution ---------------------------------------------------------------------------------------------
class AttributionCredit(BaseModel):
    """What one model credits to one channel or campaign (its key column depends on the level)."""

    channel: str | None = Field(default=None, description="by=channel")
    campaign_id: str | None = Field(
        default=None, description="by=campaign (a campaign-less session counts as its channel, e.g. <direct>)"
    )
    journeys: int = Field(description="Journeys that touched it")
    converting_journeys: int
    conversions: float = Field(description="Conversions credited")
    value: float = Field(description="Value credited")
    conversion_share: float
    value_share: float
    removal_effect: float | None = Field(default=None, description="markov only")
    conversions_std_error: float | None = Field(default=None, description="shapley only (0 when exact)")
    value_std_error: float | None = Field(default=None, description="shapley only (0 when exact)")


class ModelCredits(BaseModel):
    """The credits of one attribution model, largest first."""

    model: str = Field(json_schema_extra={"enum": list(MODELS)})
    level: Literal["channel", "campaign"]
    method: str = Field(description="How the credits were computed")
    journeys: int
    converting_journeys: int
    conversions: float
    value: float
    notes: list[str]
    credits: list[AttributionCredit]


class AttributionReportOut(BaseModel):
    """Conversions and value credited per channel or campaign by one attribution model, or all side by side."""

    client_id: str
    model: str = Field(description="The model asked for, or all", json_schema_extra={"enum": list(MODEL_CHOICES)})
    level: Literal["channel", "campaign"]
    since: Day | None
    until: Day | None
    lookback_days: int
    journeys: int
    converting_journeys: int
    conversions: float = Field(description="Conversions to credit: one per converting journey")
    value: float = Field(description="Value of the converting journeys")
    models: dict[str, ModelCredits] = Field(description="Model name → its credits")


# GET /v1/recommendations/budget ----------------------------------------------------------------------------------
class BudgetTarget(BaseModel):
    """The target the total was chosen for."""

    kind: TargetKind
    value: float
    basis: TargetBasis
    achieved_average: float | None = Field(description="The plan's average CPA or ROAS")


class BudgetCampaign(BaseModel):
    """One campaign (or channel) of the plan; amounts and outcomes per period."""

    campaign_id: str
    current_spend: float
    baseline_spend: float = Field(description="Today's split scaled to the total")
    recommended_spend: float
    change: float = Field(description="Recommended minus baseline spend")
    change_ratio: float = Field(description="Recommended over baseline spend")
    bounds: Pair = Field(description="[lowest, highest] spend allowed")
    expected_outcome_current: float
    expected_outcome_baseline: float
    expected_outcome_recommended: float
    expected_outcome_interval: Pair
    expected_change_interval: Pair
    marginal_outcome_per_unit: float
    marginal_cpa: float | None
    marginal_roas: float | None
    at_bound: Literal["lower", "upper"] | None = Field(
        description="The bound the recommendation sits on (min_ratio or max_ratio × today's spend), if any"
    )
    outcome_per_session: float | None = Field(description="Attributed mode, fitted on sessions")
    warnings: list[str]
    expected_conversions_baseline: float | None = Field(default=None, description="outcome=conversions")
    expected_conversions_recommended: float | None = Field(default=None, description="outcome=conversions")
    expected_conversions_interval: Pair | None = Field(default=None, description="outcome=conversions")
    conversion_rate: float | None = Field(default=None, description="outcome=conversions: conversions per session")


class BudgetMove(BaseModel):
    """Budget taken from one campaign and given to another, per period."""

    source: str = Field(alias="from")
    destination: str = Field(alias="to")
    amount: float
    expected_gain: float
    expected_gain_interval: Pair
    uncertain: bool = Field(description="The interval of the gain includes 0")


class AttributedFit(BaseModel):
    """mode=attributed: how the campaign curves were fitted."""

    fit_on: FitOn
    attribution: str = Field(description="The attribution model crediting conversions, or own-session")
    prior_sessions: float = Field(description="Weight of the client's paid average in each outcome per session")


class FitMetrics(BaseModel):
    """How well the media-mix model reproduces the KPI."""

    r2: float | None
    nrmse: float | None
    mape: float | None


class HoldoutMetrics(BaseModel):
    """The fit's check on the final days or weeks, fitted without them."""

    n_days: int = Field(description="Days the held-out periods cover")
    n_periods: int = Field(description="Held-out days or weeks")
    first_day: Day
    r2: float | None
    nrmse: float | None
    mape: float | None


class MediaMixChannel(BaseModel):
    """One channel of the media-mix decomposition (totals over the fitted days)."""

    channel: str
    spend: float
    spend_share: float
    effect: float
    effect_share: float
    effect_share_interval: Bounds | None
    roi: float
    roi_interval: Bounds | None
    cost_per_outcome: float | None
    cost_per_outcome_interval: Bounds | None
    mean_daily_spend: float
    beta: float
    half_saturation: float
    shape: float
    decay: float


class MediaMixDecomposition(BaseModel):
    """The KPI's media part and each channel's share of it."""

    media_effect: float
    media_share_of_kpi: float | None
    decomp_rssd: float
    channels: list[MediaMixChannel]


class MediaMixFit(BaseModel):
    """mode=media-mix: the KPI series and the fit of the media-mix model."""

    kpi: str
    model: str
    adstock: str
    saturation: str
    cadence: Literal["day", "week"] = Field(description="The grain the model was fitted at: the KPI's")
    period_days: int = Field(description="Days in one fitted period (1 or 7)")
    n_periods: int = Field(description="Fitted days or weeks")
    n_days: int = Field(description="Days the fitted periods cover")
    first_day: Day
    last_day: Day
    channels: list[str]
    dropped_channels: list[str]
    controls: list[str]
    yearly_seasonality: bool
    in_sample: FitMetrics
    holdout: HoldoutMetrics | None
    decomposition: MediaMixDecomposition
    n_draws: int
    interval_level: float
    fit_seconds: float
    warnings: list[str]


class ForecastPeriod(BaseModel):
    """One future day or week of a media-mix plan's forecast."""

    date: Day = Field(description="The period's first day")
    baseline: float = Field(description="Intercept, trend, seasonality and controls")
    media: float = Field(description="The channels' effect, carry-over of earlier spend included")
    predicted: float
    lower: float
    upper: float


class ForecastWindow(BaseModel):
    """Where a media-mix plan's forecast lies and what it assumes of the future controls."""

    start: Day = Field(description="The plan's first day (a period start of the data's grain)")
    end: Day = Field(description="The plan's last day")
    period: Period
    n_periods: int = Field(description="Days or weeks of the model the forecast covers")
    cadence: Literal["day", "week"]
    n_days: int = Field(description="Days the forecast covers (a weekly model plans whole weeks)")
    kpi: str
    interval_level: float
    controls_source: Literal["file", "carried forward"]
    controls_note: str = Field(description="Where the future control values come from")
    notes: list[str]


class BudgetForecast(ForecastWindow):
    """mode=media-mix: the KPI the plan is expected to bring over its period, with the model's trend,
    seasonality, controls and the carry-over of past spend."""

    spend: float = Field(description="The plan's spend over the forecast's days")
    baseline: float
    media_effect: float
    carryover: float = Field(description="The media effect had the plan spent nothing: the tail of past spend")
    predicted: float
    interval: Pair
    sentence: str
    per_period: list[ForecastPeriod]


class BudgetRecommendationOut(BaseModel):
    """A split of the budget that maximizes the expected outcome, with intervals, moves and sentences."""

    client_id: str
    mode: Mode
    outcome: Outcome
    period: Period
    period_days: int
    total: float = Field(description="The budget split, per period")
    requested_total: float = Field(description="The total asked for (with a target: the total found)")
    total_source: Literal["today", "given", "target"] = Field(
        description="Where the total comes from: today's total (none given), the total given, or found for a target"
    )
    current_total: float = Field(description="Today's spend, per period")
    baseline: str = Field(
        description="What the plan is compared with: today's split at this total (\"today's split\" at today's total)"
    )
    days_of_data: int
    target: BudgetTarget | None
    expected_outcome_current: float
    expected_outcome_baseline: float
    expected_outcome_recommended: float
    expected_outcome_interval: Pair
    expected_gain: float = Field(description="Recommended minus baseline outcome")
    expected_gain_interval: Pair
    gain_uncertain: bool = Field(description="The interval of the gain includes 0")
    expected_change_vs_current: float
    expected_change_vs_current_interval: Pair
    expected_lift: float
    marginal_outcome_per_unit: float
    interval_level: float
    n_draws: int
    campaigns: list[BudgetCampaign]
    moves: list[BudgetMove]
    excluded: list[str] = Field(description="Campaigns left out of the plan (the warnings say why)")
    sentences: list[str]
    warnings: list[str]
    fit: AttributedFit | MediaMixFit
    expected_conversions_baseline: float | None = Field(default=None, description="outcome=conversions")
    expected_conversions_recommended: float | None = Field(default=None, description="outcome=conversions")
    expected_value_baseline: float | None = Field(default=None, description="outcome=value")
    expected_value_recommended: float | None = Field(default=None, description="outcome=value")
    model_version: str | None = Field(
        default=None,
        description="mode=media-mix: the registered model version that planned (null: a model fitted for the request)",
    )
    forecast: BudgetForecast | None = Field(default=None, description="mode=media-mix")


# GET /v1/recommendations/budget/ladder -------------------------------------------------------------------------
class BudgetLadderRow(BaseModel):
    """What one total would buy, split optimally; per period."""

    total: float
    expected_outcome: float
    expected_outcome_interval: Pair
    average_cpa: float | None = Field(default=None, description="outcome=conversions: total / expected conversions")
    marginal_cpa: float | None = Field(default=None, description="outcome=conversions: spend per extra conversion")
    average_roas: float | None = Field(default=None, description="outcome=value: expected value / total")
    marginal_roas: float | None = Field(default=None, description="outcome=value: value of the next unit spent")
    campaigns_at_upper_bound: int = Field(description="Campaigns held at max_ratio × today's spend")
    campaigns_at_lower_bound: int = Field(description="Campaigns held at min_ratio × today's spend")
    forecast_predicted: float | None = Field(default=None, description="mode=media-mix: the KPI over the period")
    forecast_interval: Pair | None = Field(default=None, description="mode=media-mix")
    forecast_media_effect: float | None = Field(default=None, description="mode=media-mix")


class BudgetLadderOut(BaseModel):
    """Plans at several totals from one fit of the response curves."""

    client_id: str
    period: Period
    outcome: Outcome
    current_total: float = Field(description="Today's spend, per period")
    rows: list[BudgetLadderRow]
    warnings: list[str]
    model_version: str | None = Field(default=None, description="mode=media-mix (null: fitted for the request)")
    forecast: ForecastWindow | None = Field(default=None, description="mode=media-mix: the rows' forecast period")


# GET /v1/recommendations/creatives -------------------------------------------------------------------------------
class CreativeStats(BaseModel):
    """One creative in one cell: its posterior, chance to be best, share of the traffic split and action."""

    creative_id: str
    sessions: int
    conversions: int
    rate: float = Field(description="Observed conversions / sessions")
    posterior_mean: float
    ci_low: float
    ci_high: float
    chance_to_be_best: float
    expected_loss: float
    relative_loss: float
    lift_vs_leader: float
    share: float = Field(description="Share of the traffic split")
    action: str = Field(json_schema_extra={"enum": list(ACTIONS)})
    more_sessions_needed: int


class CreativeCell(BaseModel):
    """One (campaign, segment) cell (``segment`` all: the campaign over all segments) and its decision."""

    campaign_id: str
    segment: str
    best_creative_id: str
    conversion_rate: float
    ci_low: float
    ci_high: float
    chance_to_be_best: float
    runner_up_creative_id: str | None
    sessions: int
    decision: str = Field(json_schema_extra={"enum": list(DECISIONS)})
    more_sessions_needed: int
    conversions: int
    creatives: list[CreativeStats]
    expected_loss: float
    relative_loss: float
    sentences: list[str]


class CreativePrior(BaseModel):
    """The Beta prior of a campaign's conversion rates."""

    alpha: float
    beta: float
    mean: float
    strength: float = Field(description="Sessions the prior is worth (alpha + beta)")
    method: Literal["marginal_likelihood", "weak", "fixed"]
    arms: int


class CreativeCampaign(BaseModel):
    """One campaign's verdict, winners per segment and sentence."""

    campaign_id: str
    verdict: Literal["segment_winners", "overall_winner", "equivalent", "single_creative", "keep_testing"]
    winners: dict[str, str] = Field(description="Segment → the creative to run there")
    sentence: str
    prior: CreativePrior
    shrinkage: str = Field(description="One line on how far rates are pulled toward the campaign's average, and why")


class CreativeReportOut(BaseModel):
    """Which creative to run per campaign and segment: posteriors, chance to be best, split and actions."""

    client_id: str
    segment_by: SegmentBy
    recommendations: list[CreativeCell]
    campaigns: list[CreativeCampaign]
    warnings: list[str]


# GET /v1/recommendations/audiences -------------------------------------------------------------------------------
class AudienceModel(BaseModel):
    """The champion model version that scored the sessions."""

    name: str
    version: str


class AudienceOverall(BaseModel):
    """The figures over all sessions of the window, which segments are compared with."""

    sessions: int
    predicted_rate: float
    predicted_value_per_session: float
    average_order_value: float
    conversions: int
    observed_rate: float
    observed_rate_low: float
    observed_rate_high: float


class AudienceSegment(BaseModel):
    """A segment of one dimension (or pair of dimensions) and what to do with it."""

    dimension: str = Field(description="e.g. device_class, or device_class × channel")
    dimension_label: str = Field(description='The dimension in words, e.g. "device type × channel"')
    segment: str = Field(description="The segment's values as recorded, e.g. mobile × social, Europe/Berlin")
    segment_label: str = Field(
        description='The segment in words, e.g. "Mobile × Social", "time zone: Berlin (Europe)", "Mon", "18:00–19:00"'
    )
    targetable: bool = Field(
        description="Whether an ad platform can target or exclude it (device, OS, browser, location, ad schedule, "
        "paid channel); if not (new vs returning, direct or referral traffic, unknown values), the suggestion is "
        "'insight only'"
    )
    sessions: int
    share: float
    predicted_rate: float
    predicted_lift: float = Field(description="Predicted rate over the overall predicted rate")
    predicted_value_per_session: float
    average_order_value: float
    conversions: int
    observed_rate: float
    observed_rate_low: float
    observed_rate_high: float
    suggestion: str = Field(json_schema_extra={"enum": list(SUGGESTIONS)})
    reason: str


class AudienceRecommendationOut(BaseModel):
    """Audience segments ranked by the champion's predicted conversion rate, to bid up or exclude."""

    client_id: str
    model: AudienceModel
    since: Day | None
    until: Day | None
    k: int = Field(description="Segments with fewer sessions or visitors are hidden")
    scope: str = Field(description="Which sessions the advice is about: those of paid campaigns")
    scope_note: str = Field(description="The scope in one sentence for people (and the time zone of days and hours)")
    timezone: str = Field(description="The client's time zone: days of week and hours of day are in it")
    all_sessions: int = Field(description="Sessions in the window, paid or not (overall.sessions counts the paid)")
    overall: AudienceOverall
    segments: list[AudienceSegment]
    bid_up: list[AudienceSegment]
    exclude: list[AudienceSegment]
    hidden_segments: int
    warnings: list[str]


# GET /dashboard/api/trend and /dashboard/api/model-health --------------------------------------------------------
class TrendDay(BaseModel):
    """One UTC day of the trend chart."""

    date: Day
    sessions: int
    conversions: int
    value: float
    conversion_rate: float | None = Field(description="Null on a day without sessions")
    conversion_rate_interval: Bounds = Field(description="Wilson interval; [null, null] without sessions")


class DailyTrendOut(BaseModel):
    """Sessions and conversions per day from the first to the last day with sessions (the report's days)."""

    client_id: str
    since: Day
    until: Day
    confidence: float
    days: list[TrendDay]


class HealthChampion(BaseModel):
    """The loaded champion, and the training run behind it."""

    name: str
    version: str
    alias: str
    loaded_at: str = Field(description="When this service loaded it (ISO 8601, UTC)")
    trained_at: str | None = Field(description="When its training run started (ISO 8601, UTC)")
    dataset_id: str | None = Field(description="The training set it was fitted on")


class HealthMetrics(BaseModel):
    """The training run's metrics on its test split (those it logged)."""

    roc_auc: float | None = None
    pr_auc: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    ece: float | None = Field(default=None, description="Expected calibration error")
    lift_at_10: float | None = None
    conversion_rate: float | None = None
    sessions: float | None = None


class ImportGrain(BaseModel):
    """The grain of an imported spend or KPI table: detected from its dates, or given as ``cadence``."""

    cadence: Literal["day", "week"]
    week_start: str | None = Field(description="The weekday weekly rows start on (Monday); null for daily rows")
    detected: bool = Field(description="True: read from the dates; false: the request's cadence")
    first_date: Day
    last_date: Day
    periods: int = Field(description="Distinct dates (days or weeks)")
    missing_periods: list[Day] = Field(description="Days or weeks between the first and last date with no row")
    text: str = Field(description="One line: weekly rows (weeks starting Monday), 2022-01-03 to 2025-12-29, 209 weeks")


class CalibrationBin(BaseModel):
    """Predicted against observed conversion rate in one equal-count bin of the test split."""

    predicted: float
    observed: float
    sessions: float


class ModelHealthOut(BaseModel):
    """The champion the caller is scored with (null before one is trained), its test metrics and calibration."""

    client_id: str
    champion: HealthChampion | None
    metrics: HealthMetrics
    calibration: list[CalibrationBin] = Field(description="Empty when the run logged no calibration table")


class LiftImported(BaseModel):
    """What a lift-test import stored (``POST /v1/lift``)."""

    client_id: str
    tests: int = Field(description="Tests in the request, all stored")
    inserted: int = Field(description="Tests new to the table")
    replaced: int = Field(description="Stored tests (same test_id) replaced by the request's")
    test_ids: list[str] = Field(description="The ids of the stored tests (given, or channel-campaign-start-end)")
    channels: list[str]
    warnings: list[str]
    mapped_columns: dict[str, str] = Field(description="Request column → lift-test column, where they differ")


class LiftTestOut(BaseModel):
    """One stored lift test: its window, its result in both measures with standard errors, and its spend."""

    test_id: str
    channel: str
    campaign_id: str | None = Field(description="The tested campaign; null for a test of the whole channel")
    start_date: Day
    end_date: Day
    days: int = Field(description="Days of the window, both ends included")
    kpi: str = Field(description="The stored KPI column the lift is measured in")
    measure: Literal["incremental_kpi", "roi"] = Field(description="Which of the two the test reported")
    incremental_kpi: float = Field(description="KPI bought by spend_change over the window, in the KPI's units")
    incremental_kpi_se: float = Field(description="Its standard error")
    roi: float = Field(description="incremental_kpi / spend_change")
    roi_se: float = Field(description="Its standard error")
    ci_lower: float | None = Field(description="The reported interval, in the units of measure (null: none given)")
    ci_upper: float | None
    ci_level: float | None = Field(description="The interval's level, e.g. 0.95")
    se_source: Literal["standard_error", "interval"] = Field(description="Given, or derived from the interval")
    spend: float = Field(description="Spend of the channel (or campaign) in the window, as it ran")
    spend_source: Literal["given", "stored"] = Field(description="Given with the test, or summed from stored spend")
    stored_spend: float = Field(description="The stored spend of the window (weekly rows prorated by day)")
    spend_change: float = Field(description="The spend whose effect was measured (counterfactual: spend − this)")
    scope: Literal["immediate", "total"] = Field(description="Effect within the window, or with its carry-over")
    method: str | None = Field(description="geo, conversion_lift, holdout, matched_market or other")
    note: str | None
    imported_at: str = Field(description="When it was stored (UTC, ISO 8601)")


class LiftTestsOut(BaseModel):
    """The caller's stored lift tests, by channel and start date."""

    client_id: str
    tests: list[LiftTestOut]


class LiftDeleted(BaseModel):
    """What a deletion removed (or, with dry_run, would remove)."""

    client_id: str
    dry_run: bool = Field(description="True: nothing was deleted; the figures say what would be")
    tests: int = Field(description="Tests deleted (or that would be)")
    test_ids: list[str]
    remaining: int = Field(description="Tests stored afterwards")


# /v1/mmm: the client's registered media-mix model --------------------------------------------------------------
MMM_REPORT = (
    "The model's fit report as logged with the run (fit_report.json): grain, periods, channels, controls, "
    "families, in-sample and held-out metrics, decomposition with intervals, calibration, cross-validation, warnings"
)


class MmmFamilies(BaseModel):
    """The carry-over (adstock) and saturation families of a fit."""

    adstock: str = Field(description="geometric, weibull or delayed")
    saturation: str = Field(description="hill, logistic or michaelis_menten")


class MmmFitOut(BaseModel):
    """A media-mix fit: the version it registered (or the one it matched), its metrics and its fit report."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "shop",
                    "model_name": "xmo-mmm-shop",
                    "version": "2",
                    "run_id": "5f0c…",
                    "aliases": ["challenger"],
                    "kpi": "revenue",
                    "period_days": 7,
                    "data_sha256": "9b1d…",
                    "families": {"adstock": "geometric", "saturation": "hill"},
                    "metrics": {"in_sample_r2": 0.93, "holdout_mape": 0.061},
                    "fit_report": {"cadence": "week", "n_periods": 208},
                    "warnings": [],
                    "comparison": None,
                    "lift_tests_used": 1,
                    "registered": True,
                    "identical_to": None,
                }
            ]
        }
    )

    client_id: str
    model_name: str = Field(description="xmo-mmm-<client> in the model registry")
    version: str
    run_id: str
    aliases: list[str] = Field(description="champion for a first version, challenger for later ones")
    kpi: str
    period_days: int = Field(description="Days in one fitted period (1 or 7)")
    data_sha256: str = Field(description="Digest of the data it was fitted on")
    families: MmmFamilies
    metrics: dict[str, float] = Field(description="In-sample and held-out R², NRMSE, MAPE; CV means when chosen")
    fit_report: dict[str, Any] = Field(description=MMM_REPORT)
    warnings: list[str]
    comparison: dict[str, Any] | None = Field(
        description="Against the champion: effect shares, ROI per channel, allocation, accuracy (null: no champion)"
    )
    lift_tests_used: int
    registered: bool = Field(description="False: the champion or challenger already is this fit (same data)")
    identical_to: str | None = Field(description="The alias of that version when not registered")


class MmmPromoteOut(BaseModel):
    """What the promotion gate decided and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "shop",
                    "model_name": "xmo-mmm-shop",
                    "challenger_version": "2",
                    "champion_version": "1",
                    "promoted": True,
                    "forced": False,
                    "decision": "promoted",
                    "reasons": ["the challenger predicts the held-out weeks no worse"],
                    "comparison": None,
                }
            ]
        }
    )

    client_id: str
    model_name: str
    challenger_version: str = Field(description="The version considered")
    champion_version: str | None = Field(description="The champion before the decision")
    promoted: bool
    forced: bool
    decision: Literal["promoted", "forced", "refused"]
    reasons: list[str]
    comparison: dict[str, Any] | None


class MmmPrediction(BaseModel):
    """One period: the actual KPI and the model's prediction with its interval."""

    date: Day = Field(description="The period's first day")
    actual: float | None
    predicted: float | None
    lower: float | None
    upper: float | None
    split: Literal["fit", "holdout", "after"] = Field(
        description="fit: fitted on; holdout: predicted by the fit without the held-out tail; after: imported since"
    )


class MmmPredictionsOut(BaseModel):
    """Fitted and held-out predictions per period, the actuals beside them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "shop",
                    "kpi": "revenue",
                    "version": "1",
                    "period_days": 7,
                    "interval_level": 0.9,
                    "rows": [
                        {
                            "date": "2025-11-24",
                            "actual": 1830500.0,
                            "predicted": 1792210.4,
                            "lower": 1655100.0,
                            "upper": 1931800.0,
                            "split": "holdout",
                        }
                    ],
                }
            ]
        }
    )

    client_id: str
    kpi: str | None
    version: str | None
    period_days: int | None = Field(description="Days in one period (1 or 7)")
    interval_level: float | None
    rows: list[MmmPrediction]


class MmmDecompositionRow(BaseModel):
    """One period's predicted KPI split into the baseline, each control's and each channel's contribution."""

    date: Day = Field(description="The period's first day")
    baseline: float | None = Field(description="Intercept, trend and seasonality")
    controls: dict[str, float | None] = Field(description="Control → its contribution (relative to its mean)")
    contributions: dict[str, float | None] = Field(description="Channel → its effect on the KPI")
    predicted: float | None


class MmmPart(BaseModel):
    """One part's total over the periods: the baseline, a control or a channel."""

    name: str
    kind: Literal["baseline", "control", "channel"]
    total: float
    share: float | None = Field(description="Of the predicted KPI over the periods")
    interval: Bounds | None = Field(description="From the bootstrap draws (null: no draws for this part)")


class MmmDecompositionOut(BaseModel):
    """The KPI per period split into baseline, controls and channels, and each part's total with its interval."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "shop",
                    "kpi": "revenue",
                    "version": "1",
                    "channels": ["tv", "search"],
                    "controls": ["events"],
                    "n_periods": 1,
                    "first_day": "2025-11-24",
                    "last_day": "2025-11-24",
                    "predicted": 1792210.4,
                    "media_effect": 402000.0,
                    "interval_level": 0.9,
                    "parts": [
                        {"name": "baseline", "kind": "baseline", "total": 1390210.4, "share": 0.776, "interval": None},
                        {"name": "tv", "kind": "channel", "total": 250000.0, "share": 0.139, "interval": [2e5, 3e5]},
                    ],
                    "rows": [
                        {
                            "date": "2025-11-24",
                            "baseline": 1390210.4,
                            "controls": {"events": 0.0},
                            "contributions": {"tv": 250000.0, "search": 152000.0},
                            "predicted": 1792210.4,
                        }
                    ],
                }
            ]
        }
    )

    client_id: str
    kpi: str
    version: str
    channels: list[str]
    controls: list[str]
    n_periods: int
    first_day: Day | None
    last_day: Day | None
    predicted: float = Field(description="The predicted KPI over the periods")
    media_effect: float = Field(description="The channels' part of it")
    interval_level: float
    parts: list[MmmPart]
    rows: list[MmmDecompositionRow]


class MmmObserved(BaseModel):
    """A channel's fitted periods: each one's spend and the effect the model gives it (carry-over included)."""

    date: list[Day]
    spend: list[float]
    effect: list[float]


class MmmCurve(BaseModel):
    """One channel's response curve per period: the settled effect of a spend held period after period."""

    spend: list[float] = Field(description="Spend per period, 0 to 1.5× the largest observed")
    effect: list[float]
    lower: list[float | None]
    upper: list[float | None]
    observed: MmmObserved
    current_spend: float = Field(description="Today's spend per period: the mean of the last four weeks")
    current_effect: float


class MmmCurvesOut(BaseModel):
    """Each channel's response curve with its interval, the observed periods and today's spend."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "shop",
                    "kpi": "revenue",
                    "version": "1",
                    "period_days": 7,
                    "unit": "week",
                    "interval_level": 0.9,
                    "channels": {
                        "tv": {
                            "spend": [0.0, 150000.0, 300000.0],
                            "effect": [0.0, 310000.0, 420000.0],
                            "lower": [0.0, 250000.0, 330000.0],
                            "upper": [0.0, 380000.0, 540000.0],
                            "observed": {"date": ["2025-12-22"], "spend": [120500.0], "effect": [281000.0]},
                            "current_spend": 98000.0,
                            "current_effect": 240000.0,
                        }
                    },
                }
            ]
        }
    )

    client_id: str
    kpi: str
    version: str
    period_days: int
    unit: Literal["day", "week"]
    interval_level: float
    channels: dict[str, MmmCurve]


class MmmChannel(BaseModel):
    """One channel of the fit: totals over the fitted periods, with intervals, and its curve's parameters."""

    model_config = ConfigDict(extra="allow")

    channel: str
    spend: float
    effect: float
    effect_interval: Bounds | None = None
    effect_share: float | None = None
    effect_share_interval: Bounds | None = None
    roi: float | None = None
    roi_interval: Bounds | None = None
    cost_per_outcome: float | None = None


class MmmVersion(BaseModel):
    """A registered version."""

    version: str
    aliases: list[str]
    created: str = Field(description="When it was registered (UTC, ISO 8601)")
    kpi: str | None
    families: str | None
    data_sha256: str | None
    metrics: dict[str, float]
    promotion: str | None = Field(description="The gate's last decision on it")
    promotion_reasons: str | None


class MmmSummaryOut(BaseModel):
    """The client's media-mix model behind an alias (the champion): fit, families, channels, and every version."""

    model_config = ConfigDict(
        extra="allow",  # a key strategy.mmm_report adds later is answered (and allowed by the schema), not dropped
        json_schema_extra={
            "examples": [
                {
                    "client_id": "shop",
                    "model_name": "xmo-mmm-shop",
                    "alias": "champion",
                    "version": "1",
                    "run_id": "5f0c…",
                    "aliases": ["champion"],
                    "kpi": "revenue",
                    "cadence": "week",
                    "period_days": 7,
                    "n_periods": 208,
                    "first_day": "2022-01-03",
                    "last_day": "2025-12-22",
                    "families": {"adstock": "geometric", "saturation": "hill"},
                    "in_sample": {"r2": 0.96, "nrmse": 0.05, "mape": 0.021},
                    "holdout": {"n_days": 182, "n_periods": 26, "first_day": "2025-06-30", "r2": 0.95, "mape": 0.023},
                    "cross_validation": None,
                    "calibration": [],
                    "channels": [
                        {"channel": "tv", "spend": 1.376e7, "effect": 4.718e7, "roi": 3.43, "roi_interval": [3, 5]}
                    ],
                    "media_share_of_kpi": 0.29,
                    "controls": ["competitor_sales_b", "events", "newsletter"],
                    "interval_level": 0.9,
                    "data_sha256": "9b1d…",
                    "data_changed": False,
                    "warnings": [],
                    "versions": [
                        {
                            "version": "1",
                            "aliases": ["champion"],
                            "created": "2026-12-07T23:50:00+00:00",
                            "kpi": "revenue",
                            "families": "geometric/hill",
                            "data_sha256": "9b1d…",
                            "metrics": {"holdout_mape": 0.023},
                            "promotion": None,
                            "promotion_reasons": None,
                        }
                    ],
                }
            ]
        },
    )

    client_id: str
    model_name: str
    alias: str
    version: str
    run_id: str
    aliases: list[str]
    kpi: str
    cadence: str | None = Field(description="day or week: the grain fitted")
    period_days: int | None
    n_periods: int | None
    first_day: Day | None
    last_day: Day | None
    families: MmmFamilies
    in_sample: dict[str, Any] | None = Field(description="R², NRMSE, MAPE on the fitted periods")
    holdout: dict[str, Any] | None = Field(description="The same on the held-out tail, fitted without it")
    cross_validation: dict[str, Any] | None = Field(description="The family choice's time-slice cross-validation")
    calibration: list[dict[str, Any]] | None = Field(description="Each lift test used: measured against the model")
    channels: list[MmmChannel]
    media_share_of_kpi: float | None
    controls: list[str]
    interval_level: float | None
    data_sha256: str
    data_changed: bool | None = Field(description="The client's data differ from the fit's (time to refit)")
    warnings: list[str]
    versions: list[MmmVersion]


# /v1/holdout: which running visitor holdouts hold a visitor out -------------------------------------------------
class HoldoutExperimentOut(BaseModel):
    """A visitor holdout running today."""

    experiment_id: str
    channel: str = Field(description="The channel withheld from the holdout's visitors")
    holdout_share: float = Field(description="The share of visitors held out, 0.01 to 0.5")


class HoldoutVisitorOut(BaseModel):
    """One visitor and the running holdouts that hold it out (empty: treat it as usual)."""

    visitor_id: str
    holdout: list[str] = Field(description="Ids of the running holdouts this visitor is held out of")


class HoldoutFlagsOut(BaseModel):
    """The client's visitor holdouts running on ``day`` and, per visitor asked, those that hold it out."""

    day: Day
    experiments: list[HoldoutExperimentOut]
    visitors: list[HoldoutVisitorOut]


# /v1/experiments: designs, stored experiments and their reads ----------------------------------------------------
class ExperimentDesignOut(BaseModel):
    """A test's plan and its power, from simulation on the client's own history."""

    type: str = Field(description="geo, time or holdout")
    channel: str
    campaign_id: str | None
    kpi: str = Field(description="The metric the test is read on: conversions, revenue or a stored KPI column")
    action: str = Field(description="raise or pause: what changes in the treated group")
    start: Day
    end: Day = Field(description="Planned last day, inclusive")
    weeks: int
    lift: float = Field(description="The relative lift the test is powered for (0.1: +10 %)")
    level: float = Field(description="Level of the intervals (0.9: 90 %)")
    power: float | None = Field(description="The chance of detecting ``lift`` (share of simulated tests)")
    minimum_detectable_lift: float | None = Field(description="The smallest relative lift detected with 80 % power")
    false_positive_rate: float | None = Field(description="Placebo tests on the history (no change) that found one")
    n_simulations: int
    history_start: Day
    history_end: Day
    expected_kpi: float | None = Field(description="The tested group's KPI expected over the test without a change")
    groups: dict[str, list[str]] = Field(description="geo: treatment and control regions; time: the test weeks")
    group_shares: dict[str, float | None] = Field(description="Each group's share of the KPI in the history")
    holdout_share: float | None
    units: int | None = Field(description="holdout: visitors expected in the test; geo: regions")
    method: str
    notes: list[str]
    warnings: list[str]


class ExperimentMetricOut(BaseModel):
    """The incremental effect on one metric, summed over the tested group and the days read."""

    metric: str
    incremental: float | None
    low: float | None = Field(description="Lower end of the interval at the analysis' level")
    high: float | None
    standard_error: float | None
    actual: float | None = Field(description="The tested group's metric over the days read")
    counterfactual: float | None = Field(description="What it would have been without the change")
    relative_lift: float | None
    always_valid_low: float | None = Field(default=None, description="holdout: valid at every daily look")
    always_valid_high: float | None = None
    raw_low: float | None = Field(default=None, description="holdout: the interval without CUPED")
    raw_high: float | None = None
    variance_reduction: float | None = Field(default=None, description="holdout: CUPED's cut of the variance")


class ExperimentAnalysisOut(BaseModel):
    """A read of a running or finished test."""

    experiment_id: str
    type: str
    channel: str
    kpi: str
    level: float
    start: Day
    end: Day = Field(description="The last day read")
    planned_end: Day
    interim: bool = Field(description="Read before the planned end: the interval may still move")
    metrics: dict[str, ExperimentMetricOut]
    spend_change: float | None
    roi: float | None = Field(description="Incremental KPI per unit of spend change")
    roi_low: float | None
    roi_high: float | None
    placebo_false_positive_rate: float | None = Field(description="geo and time: fake tests on the history")
    n_placebos: int | None
    sample_ratio: dict[str, Any] | None = Field(description="holdout: expected and observed share, p-value, ok")
    method: str
    notes: list[str]
    warnings: list[str]
    handoff: dict[str, Any] | None = Field(
        default=None, description="In a stored result: the lift test made for the media-mix model, or why none"
    )


class ExperimentOut(BaseModel):
    """A stored experiment: its plan, status and, once stopped, its result."""

    experiment_id: str
    client_id: str
    type: str
    channel: str
    campaign_id: str | None
    kpi: str
    action: str
    start_date: Day
    end_date: Day = Field(description="Planned last day, inclusive")
    weeks: int
    lift: float
    level: float
    treatment_regions: list[str]
    control_regions: list[str]
    holdout_share: float | None
    spend_change: float | None
    design: ExperimentDesignOut
    status: str = Field(description="running or stopped")
    created_at: str
    stopped_at: str | None
    stop_date: Day | None = Field(description="The last day when stopped before the planned end")
    result: ExperimentAnalysisOut | None = Field(description="The read at stop, with its hand-off")
    lift_test_id: str | None = Field(description="The lift test made from it (GET /v1/lift)")
    note: str | None


class ExperimentsOut(BaseModel):
    """The client's experiments, running first, then finished, newest first."""

    experiments: list[ExperimentOut]


class ExperimentStoppedOut(BaseModel):
    """A stopped experiment and its final read."""

    experiment: ExperimentOut
    analysis: ExperimentAnalysisOut
