"""Effectiveness reports for marketers (the same job as `xmo report`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from serving.answers import EffectivenessReportOut
from serving.deps import RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.query_params import DayParam, day_query
from serving.runtime import ServiceRuntime
from strategy.report import effectiveness_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])


async def _report(runtime: ServiceRuntime, client_id: str, since: DayParam, until: DayParam, by: str) -> Any:
    client = runtime.tenants.get_client(client_id)

    def job() -> dict[str, Any]:
        return effectiveness_report(
            runtime.settings, client, since=since, until=until, by=by, load_sessions=runtime.sessions.sessions
        ).to_dict()

    return await asyncio.to_thread(job)


@router.get(
    "/effectiveness",
    response_model=EffectivenessReportOut,
    response_model_exclude_unset=True,
    responses=error_responses(400, 409, e400="since after until", e409="No sessions in the window yet"),
)
async def effectiveness(
    runtime: RuntimeDep,
    client_id: TenantDep,
    since: Annotated[DayParam, day_query("First day, UTC, inclusive")] = None,
    until: Annotated[DayParam, day_query("Last day, UTC, inclusive")] = None,
    by: Annotated[
        Literal["campaign", "creative", "channel", "segment"],
        Query(
            description="Rows per this grouping",
            openapi_examples={"campaigns": {"value": "campaign"}, "creatives": {"value": "creative"}},
        ),
    ] = "campaign",
) -> dict[str, Any]:
    """Conversion rate, value, CPA and ROAS with intervals per group, and verdicts on creatives and campaigns."""
    result: dict[str, Any] = await _report(runtime, client_id, since, until, by)
    return result


@router.get(
    "/campaigns",
    response_model=EffectivenessReportOut,
    response_model_exclude_unset=True,
    responses=error_responses(400, 409, e400="since after until", e409="No sessions in the window yet"),
)
async def campaigns(
    runtime: RuntimeDep,
    client_id: TenantDep,
    since: Annotated[DayParam, day_query("First day, UTC, inclusive")] = None,
    until: Annotated[DayParam, day_query("Last day, UTC, inclusive")] = None,
) -> dict[str, Any]:
    """The campaign overview: sessions, conversions, CR, CPA and ROAS with intervals per campaign, and verdicts."""
    result: dict[str, Any] = await _report(runtime, client_id, since, until, "campaign")
    return result
