"""Creative (and audience) recommendations for marketers (the same jobs as `xmo recommend creatives`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from serving.deps import RuntimeDep, TenantDep
from training.creative_recommendation import recommend_creatives

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


@router.get("/creatives")
async def creatives(
    runtime: RuntimeDep,
    client_id: TenantDep,
    campaign: Annotated[str | None, Query(max_length=200, description="Only this campaign")] = None,
) -> dict[str, Any]:
    """Which creative to run per campaign and device class, with its chance to be best."""
    client = runtime.registry.get_client(client_id)

    def job() -> dict[str, Any]:
        table = recommend_creatives(runtime.settings, client, campaign, load_sessions=runtime.sessions.sessions)
        return {"client_id": client_id, "recommendations": table.to_dict("records")}

    return await asyncio.to_thread(job)
