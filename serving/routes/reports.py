"""Effectiveness reports for marketers (the same job as `xmo report`)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from serving.deps import RuntimeDep, TenantDep
from training.report import effectiveness_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/effectiveness")
async def effectiveness(
    runtime: RuntimeDep,
    client_id: TenantDep,
    since: Annotated[date | None, Query(description="First day, YYYY-MM-DD (UTC, inclusive)")] = None,
    until: Annotated[date | None, Query(description="Last day, YYYY-MM-DD (UTC, inclusive)")] = None,
    by: Annotated[
        Literal["campaign", "creative", "channel", "segment"], Query(description="Rows per this grouping")
    ] = "campaign",
) -> dict[str, Any]:
    """Conversion rate, value, CPA and ROAS with intervals per group, and verdicts on creatives and campaigns."""
    client = runtime.registry.get_client(client_id)

    def job() -> dict[str, Any]:
        return effectiveness_report(
            runtime.settings, client, since=since, until=until, by=by, load_sessions=runtime.sessions.sessions
        ).to_dict()

    return await asyncio.to_thread(job)
