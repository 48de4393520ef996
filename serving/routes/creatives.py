"""Creative recommendations for marketers (the same job as `xmo recommend creatives`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from serving.answers import CreativeReportOut
from serving.deps import RuntimeDep, TenantDep
from serving.errors import error_responses
from strategy.creatives import SegmentBy, creative_report

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


@router.get(
    "/creatives",
    response_model=CreativeReportOut,
    response_model_exclude_unset=True,
    responses=error_responses(
        404,
        409,
        e404="No sessions of that campaign (the message lists known campaigns)",
        e409="No sessions with a campaign and a creative (utm_content) yet",
    ),
)
async def creatives(
    runtime: RuntimeDep,
    client_id: TenantDep,
    campaign: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Only this campaign id (404 when it has no sessions; the message lists known ones)",
            openapi_examples={"one campaign": {"value": "spring-sale"}},
        ),
    ] = None,
    segment: Annotated[SegmentBy, Query(description="Segments: device, returning, region or channel")] = "device",
) -> dict[str, Any]:
    """Which creative to run per campaign and segment: posteriors, chance to be best, split and actions."""
    client = runtime.tenants.get_client(client_id)

    def job() -> dict[str, Any]:
        return creative_report(
            runtime.settings, client, campaign, load_sessions=runtime.sessions.sessions, segment_by=segment
        ).to_dict()

    return await asyncio.to_thread(job)
