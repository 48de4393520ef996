"""Attribution reports for marketers (the same job as `xmo attribution`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from models.attribution import LEVELS
from serving.answers import AttributionReportOut
from serving.deps import RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.query_params import DayParam, day_query
from strategy.attribution import MODEL_CHOICES, attribution_report

router = APIRouter(prefix="/v1", tags=["attribution"])


@router.get(
    "/attribution",
    response_model=AttributionReportOut,
    response_model_exclude_unset=True,
    responses=error_responses(
        400,
        409,
        e400="An unknown model or level, or since after until (the message lists the choices)",
        e409="No converting journey in the window yet",
    ),
)
async def attribution(
    runtime: RuntimeDep,
    client_id: TenantDep,
    model: Annotated[
        str,
        Query(
            description="last, first, linear, position, time-decay, markov, shapley, or all",
            json_schema_extra={"enum": list(MODEL_CHOICES)},
            openapi_examples={"data-driven": {"value": "markov"}, "compare all": {"value": "all"}},
        ),
    ] = "markov",
    by: Annotated[str, Query(description="channel or campaign", json_schema_extra={"enum": list(LEVELS)})] = "channel",
    since: Annotated[DayParam, day_query("First day (client's time zone), inclusive")] = None,
    until: Annotated[DayParam, day_query("Last day (client's time zone), inclusive")] = None,
    lookback_days: Annotated[
        int,
        Query(
            le=3650,
            description="Touchpoints up to this many days before (at least 1; 400 below)",
            json_schema_extra={"minimum": 1},
        ),
    ] = 30,
) -> dict[str, Any]:
    """Conversions and value credited per channel or campaign by an attribution model."""
    client = runtime.tenants.get_client(client_id)

    def job() -> dict[str, Any]:
        return attribution_report(
            runtime.settings,
            client,
            model=model,
            level=by,
            since=since,
            until=until,
            lookback_days=lookback_days,
            load_sessions=runtime.sessions.sessions,
        ).to_dict()

    return await asyncio.to_thread(job)
