"""Budget recommendations for marketers (the same job as `xmo recommend budget`).

The media-mix mode plans with the client's registered media-mix model; when none is registered yet, the first
request fits and registers one (``training.mmm.fit_mmm``, as ``POST /v1/mmm/fit`` does) and plans with it. Future
controls are carried forward from the same weeks a year earlier, unless the plan is ``POST``-ed with their rows
(``xmo recommend budget --controls FILE`` takes them from a file).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response

from core.csv_cells import safe_text
from core.errors import InvalidInput, NotReady
from core.settings import Settings
from serving.answers import BudgetLadderOut, BudgetRecommendationOut
from serving.deps import RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.query_params import DayParam, day_query
from serving.request_body import TABLE_MAX_ROWS, read_table
from serving.runtime import ServiceRuntime
from strategy.budget import (
    BudgetRecommendation,
    FitOn,
    ForwardOptions,
    Mode,
    Outcome,
    Period,
    budget_ladder,
    recommend_budget,
)
from strategy.forward_plan import parse_controls
from strategy.media_mix_source import MediaMixLoader, registered_media_mix

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


@dataclass(frozen=True)
class BudgetQuery:
    """The parameters both budget routes take."""

    total: Annotated[
        float | None,
        Query(
            gt=0,
            le=1e12,
            allow_inf_nan=False,
            description="Budget per period to split (default: today's total; with a target: the most to spend)",
            openapi_examples={"week": {"summary": "A weekly budget", "value": 5000}},
        ),
    ] = None
    period: Annotated[Period, Query(description="The period the total covers")] = "week"
    min_ratio: Annotated[
        float, Query(ge=0, le=100, allow_inf_nan=False, description="Lowest multiple of today's spend per campaign")
    ] = 0.5
    max_ratio: Annotated[
        float, Query(gt=0, le=100, allow_inf_nan=False, description="Highest multiple of today's spend per campaign")
    ] = 2.0
    target_cpa: Annotated[
        float | None,
        Query(gt=0, le=1e9, allow_inf_nan=False, description="Largest total keeping the CPA at or below"),
    ] = None
    target_roas: Annotated[
        float | None,
        Query(gt=0, le=1e6, allow_inf_nan=False, description="Largest total keeping the ROAS at or above"),
    ] = None
    target_basis: Annotated[
        str, Query(pattern="^(average|marginal)$", description="average (the plan's) or marginal (the last unit's)")
    ] = "average"
    mode: Annotated[Mode, Query(description="attributed (tracked campaigns) or media-mix (KPI series)")] = "attributed"
    outcome: Annotated[
        Outcome | None,
        Query(description="conversions or value (default: conversions; media-mix: the KPI's kind; target ROAS: value)"),
    ] = None
    fit_on: Annotated[FitOn, Query(description="Fit curves on sessions (× outcome per session) or the outcome")] = (
        "sessions"
    )
    attribution: Annotated[
        str | None, Query(max_length=32, description="Attribution model crediting conversions (default: own session)")
    ] = None
    kpi: Annotated[str | None, Query(max_length=64, description="KPI column of the media-mix mode")] = None
    start: Annotated[
        DayParam,
        day_query(
            "media-mix: the planned period's first day, after the data (default: the period after the data); "
            "future controls are carried forward from the same weeks a year earlier"
        ),
    ] = None

    @property
    def media_mix(self) -> MediaMixLoader | None:
        """The registered model's loader (fitting and registering one when none exists) in the media-mix mode."""
        return registered_media_mix(register_first_model) if self.mode == "media-mix" else None

    @property
    def forward(self) -> ForwardOptions:
        """Where the media-mix forecast starts."""
        return ForwardOptions(start=self.start)


QueryDep = Annotated[BudgetQuery, Depends()]
_FIT_LOCK = threading.Lock()


def register_first_model(settings: Settings, client_id: str, kpi: str | None) -> None:
    """Fit and register a client's media-mix model for a plan, one fit at a time (the request waiting on the lock
    uses the model the other one registered)."""
    from models.mmm_registry import load_media_mix
    from training.mmm import fit_mmm

    with _FIT_LOCK:
        try:
            load_media_mix(settings, client_id)
            return
        except NotReady:
            pass
        fit_mmm(settings, client_id, kpi=kpi)


async def _recommend(
    runtime: ServiceRuntime, client_id: str, q: BudgetQuery, controls: pd.DataFrame | None = None
) -> BudgetRecommendation:
    client = runtime.tenants.get_client(client_id)
    forward = q.forward if controls is None else ForwardOptions(start=q.start, controls=controls)

    def job() -> BudgetRecommendation:
        return recommend_budget(
            runtime.settings,
            client,
            q.total,
            period=q.period,
            min_ratio=q.min_ratio,
            max_ratio=q.max_ratio,
            mode=q.mode,
            outcome=q.outcome,
            target_cpa=q.target_cpa,
            target_roas=q.target_roas,
            target_basis="marginal" if q.target_basis == "marginal" else "average",
            fit_on=q.fit_on,
            attribution=q.attribution,
            kpi=q.kpi,
            load_sessions=runtime.sessions.sessions,
            load_media_mix=q.media_mix,
            forward=forward,
        )

    return await asyncio.to_thread(job)


_ERRORS = error_responses(
    400,
    409,
    e400="Both targets, a total the bounds do not allow, a start within the data, or options that do not fit together "
    "(the message says which)",
    e409="No spend or sessions to fit the response curves yet (the message names the import to run)",
)


@router.get("/budget", response_model=BudgetRecommendationOut, response_model_exclude_unset=True, responses=_ERRORS)
async def budget(runtime: RuntimeDep, client_id: TenantDep, q: QueryDep) -> dict[str, Any]:
    """Where to move budget: a split that maximizes expected conversions or value, with intervals and sentences."""
    return (await _recommend(runtime, client_id, q)).to_dict()


_CONTROLS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The media-mix model's controls for the planned periods (and any between the data and them): "
        "a date per period start and one column per control, as JSON rows or a CSV file.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {"rows": {"type": "array", "maxItems": TABLE_MAX_ROWS, "items": {"type": "object"}}},
                },
                "example": {"rows": [{"date": "2026-01-05", "events": 0, "newsletter": 1}]},
            },
            "text/csv": {"schema": {"type": "string"}, "example": "date,events,newsletter\n2026-01-05,0,1\n"},
        },
    }
}


@router.post(
    "/budget",
    response_model=BudgetRecommendationOut,
    response_model_exclude_unset=True,
    responses=error_responses(
        400,
        409,
        413,
        415,
        e400="A controls row that is missing, repeated, not a period start or not a number, a mode other than "
        "media-mix, or the errors of GET",
        e409="No KPI or spend to fit the media-mix model yet (the message names the import to run)",
    ),
    openapi_extra=_CONTROLS_BODY,
    summary="Plan forward with the future controls given",
)
async def budget_with_controls(
    request: Request, runtime: RuntimeDep, client_id: TenantDep, q: QueryDep
) -> dict[str, Any]:
    """The media-mix plan of GET, with the model's controls for the planned periods taken from the body (known
    events, a newsletter schedule, a competitor's expected sales) instead of carried forward."""
    if q.mode != "media-mix":
        raise InvalidInput("future controls are for the media-mix mode: add mode=media-mix")
    controls = parse_controls(await read_table(request), "the controls rows")
    return (await _recommend(runtime, client_id, q, controls)).to_dict()


def _csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text; text cells neutralised for spreadsheets (``core.csv_cells.safe_text``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = list(rows[0]) if rows else []
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else safe_text(v) if isinstance(v, str) else v for v in row.values()])
    return buffer.getvalue()


@router.get("/budget.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}, **_ERRORS})
async def budget_csv(runtime: RuntimeDep, client_id: TenantDep, q: QueryDep) -> Response:
    """The plan as a CSV file: one row per campaign, with today's split at this total and the recommendation."""
    result = await _recommend(runtime, client_id, q)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", client_id)
    return Response(
        content=_csv(result.rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="xmo-budget-{name}-{result.period}.csv"'},
    )


@router.get(
    "/budget/ladder",
    response_model=BudgetLadderOut,
    response_model_exclude_unset=True,
    responses=error_responses(
        400,
        409,
        e400="Totals that are not positive numbers or lie outside the bounds, a target, or options that do not fit",
        e409="No spend or sessions to fit the response curves yet (the message names the import to run)",
    ),
)
async def budget_ladder_route(
    runtime: RuntimeDep,
    client_id: TenantDep,
    q: QueryDep,
    totals: Annotated[
        str | None,
        Query(
            max_length=400,
            description="Totals per period, comma-separated (default: 50, 75, 100, 125, 150, 200 % of today's)",
            openapi_examples={"three": {"summary": "Three weekly totals", "value": "1000,2000,4000"}},
        ),
    ] = None,
) -> dict[str, Any]:
    """What several totals would buy, each split optimally: one fit of the curves, one plan per total."""
    if q.target_cpa is not None or q.target_roas is not None:
        raise InvalidInput("the ladder takes totals (totals=1000,2000), not a target CPA or ROAS")
    if q.total is not None:
        totals = f"{totals},{q.total}" if totals else f"{q.total}"
    client = runtime.tenants.get_client(client_id)

    def job() -> dict[str, Any]:
        return budget_ladder(
            runtime.settings,
            client,
            totals,
            period=q.period,
            min_ratio=q.min_ratio,
            max_ratio=q.max_ratio,
            mode=q.mode,
            outcome=q.outcome,
            fit_on=q.fit_on,
            attribution=q.attribution,
            kpi=q.kpi,
            load_sessions=runtime.sessions.sessions,
            load_media_mix=q.media_mix,
            forward=q.forward,
        ).to_dict()

    return await asyncio.to_thread(job)


@router.get("/budget/curves.png", response_class=Response, responses={200: {"content": {"image/png": {}}}, **_ERRORS})
async def budget_curves(runtime: RuntimeDep, client_id: TenantDep, q: QueryDep) -> Response:
    """The response curves behind the recommendation, with today's split and the recommended spend marked."""
    from models.curve_plots import figure_png

    result = await _recommend(runtime, client_id, q)
    png = await asyncio.to_thread(lambda: figure_png(result.figure()))
    return Response(content=png, media_type="image/png")
