"""Audience recommendations for marketers (the same job as `xmo recommend audiences`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from serving.answers import AudienceRecommendationOut
from serving.deps import RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.query_params import DayParam, day_query
from strategy.audiences import MAX_TOP, Champion, recommend_audiences

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


@router.get(
    "/audiences",
    response_model=AudienceRecommendationOut,
    response_model_exclude_unset=True,
    responses=error_responses(
        400,
        409,
        e400="since after until",
        e409="No champion model, or no sessions (of paid campaigns) in the window, yet",
    ),
)
async def audiences(
    runtime: RuntimeDep,
    client_id: TenantDep,
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="How many segments to list")] = 20,
    since: Annotated[DayParam, day_query("First day (client's time zone)")] = None,
    until: Annotated[DayParam, day_query("Last day (client's time zone)")] = None,
) -> dict[str, Any]:
    """Audience segments of paid traffic ranked by the champion's predicted conversion rate, to bid up or exclude."""
    client = runtime.tenants.get_client(client_id)
    loaded = runtime.models.get(client_id)

    def job() -> dict[str, Any]:
        champion = None
        if loaded is not None:  # the served champion; without one, the registry decides (NotReady if none)
            champion = Champion(loaded.name, loaded.version, loaded.model.unwrap_python_model().scorer)
        return recommend_audiences(
            runtime.settings,
            client,
            load_sessions=runtime.sessions.sessions,
            since=since,
            until=until,
            top=top,
            champion=champion,
        ).to_dict()

    return await asyncio.to_thread(job)
