"""Budget recommendations for marketers (the same job as `xmo recommend budget`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from serving.deps import RuntimeDep, TenantDep
from training.budget_recommendation import Period, recommend_budget

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


@router.get("/budget")
async def budget(
    runtime: RuntimeDep,
    client_id: TenantDep,
    total: Annotated[float, Query(gt=0, le=1e12, description="Budget to split across paid campaigns")],
    period: Annotated[Period, Query(description="The period the total covers")] = "week",
    min_ratio: Annotated[float, Query(ge=0, le=1, description="Lowest share of today's spend per campaign")] = 0.5,
    max_ratio: Annotated[float, Query(ge=1, le=100, description="Highest multiple of today's spend")] = 2.0,
) -> dict[str, Any]:
    """Where to move budget: a split of ``total`` that maximizes expected conversions, with intervals."""
    client = runtime.registry.get_client(client_id)

    def job() -> dict[str, Any]:
        return recommend_budget(
            runtime.settings,
            client,
            total,
            period=period,
            min_ratio=min_ratio,
            max_ratio=max_ratio,
            load_sessions=runtime.sessions.sessions,
        ).to_dict()

    return await asyncio.to_thread(job)
