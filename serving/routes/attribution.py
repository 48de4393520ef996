"""Attribution reports for marketers (the same job as `xmo attribution`)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from serving.deps import RuntimeDep, TenantDep
from training.attribution import attribution_report

router = APIRouter(prefix="/v1", tags=["attribution"])


@router.get("/attribution")
async def attribution(
    runtime: RuntimeDep,
    client_id: TenantDep,
    model: Annotated[
        str, Query(description="last, first, linear, position, time-decay, markov, shapley, or all")
    ] = "markov",
    by: Annotated[str, Query(description="channel or campaign")] = "channel",
    since: Annotated[date | None, Query(description="First day (client's time zone), inclusive")] = None,
    until: Annotated[date | None, Query(description="Last day (client's time zone), inclusive")] = None,
    lookback_days: Annotated[int, Query(le=3650, description="Touchpoints up to this many days before")] = 30,
) -> dict[str, Any]:
    """Conversions and value credited per channel or campaign by an attribution model."""
    client = runtime.registry.get_client(client_id)

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
