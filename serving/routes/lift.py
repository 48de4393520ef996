"""A client's lift tests (experiments): import them (JSON or CSV), list and delete them, with the client's API key."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from core.layout import StorageLayout
from serving.answers import LiftDeleted, LiftImported, LiftTestsOut
from serving.deps import ActorDep, RuntimeDep, TenantDep
from serving.query_params import DayParam, day_query
from serving.request_body import TABLE_BODY_BYTES, TABLE_MAX_ROWS, read_table
from serving.table_routes import AUTH_ERRORS, DELETE_ERRORS, DRY_RUN, IMPORT_ERRORS
from tracking.lift import MAX_ID_LENGTH, delete_lift, import_lift, lift_records, read_lift

router = APIRouter(prefix="/v1/lift", tags=["lift"])

_EXAMPLE_ROWS = [
    {
        "test_id": "tv-geo-2026-02",
        "channel": "tv",
        "start_date": "2026-02-01",
        "end_date": "2026-02-28",
        "kpi": "revenue",
        "incremental_kpi": 5600,
        "standard_error": 700,
        "method": "geo",
    },
    {
        "channel": "search",
        "campaign_id": "brand",
        "start_date": "2026-03-02",
        "end_date": "2026-03-15",
        "kpi": "revenue",
        "roi": 1.8,
        "ci_lower": 1.1,
        "ci_upper": 2.5,
        "ci_level": 0.9,
        "spend": 4000,
        "spend_change": 1000,
    },
]
_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Lift tests as JSON rows or a CSV file, one test a row: channel, start_date, end_date, kpi, "
        "incremental_kpi or roi, standard_error or ci_lower and ci_upper (ci_level, default 0.95), and optionally "
        "test_id, campaign_id, spend, spend_change, scope, method, note (docs/lift-tests.md); at most "
        f"{TABLE_MAX_ROWS:,} rows and {TABLE_BODY_BYTES:,} bytes.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {"rows": {"type": "array", "maxItems": TABLE_MAX_ROWS, "items": {"type": "object"}}},
                },
                "example": {"rows": _EXAMPLE_ROWS},
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "channel,start,end,kpi,roi,se\ntv,2026-02-01,2026-02-28,revenue,2.0,0.25\n",
            },
        },
    }
}


@router.put(
    "",
    response_model=LiftImported,
    responses=IMPORT_ERRORS,
    openapi_extra=_REQUEST_BODY,
    summary="Import lift tests (idempotent)",
    description="The same import as POST: sending the same tests again leaves the table as it was.",
)
@router.post("", response_model=LiftImported, responses=IMPORT_ERRORS, openapi_extra=_REQUEST_BODY)
async def post_lift(request: Request, runtime: RuntimeDep, client_id: TenantDep, actor: ActorDep) -> dict[str, Any]:
    """Import lift tests, checked against the stored spend and KPIs; one bad test stores nothing."""
    frame = await read_table(request)
    layout = StorageLayout.from_settings(runtime.settings)
    report = await asyncio.to_thread(lambda: import_lift(layout, runtime.tenants.engine, client_id, frame, actor=actor))
    return report.to_dict()


@router.get("", response_model=LiftTestsOut, responses=AUTH_ERRORS)
async def get_lift(
    runtime: RuntimeDep,
    client_id: TenantDep,
    channel: Annotated[str | None, Query(max_length=100, description="Only this channel's tests (any case)")] = None,
) -> dict[str, Any]:
    """The caller's stored lift tests: window, result in both measures with standard errors, spend."""
    layout = StorageLayout.from_settings(runtime.settings)
    tests = await asyncio.to_thread(lambda: lift_records(read_lift(layout, client_id), channel))
    return {"client_id": client_id, "tests": tests}


@router.delete("", response_model=LiftDeleted, responses=DELETE_ERRORS)
async def delete_lift_tests(
    runtime: RuntimeDep,
    client_id: TenantDep,
    actor: ActorDep,
    test_id: Annotated[str | None, Query(max_length=MAX_ID_LENGTH, description="Only this test")] = None,
    since: Annotated[DayParam, day_query("Tests whose window ends on or after this day")] = None,
    until: Annotated[DayParam, day_query("Tests whose window starts on or before this day")] = None,
    channel: Annotated[str | None, Query(max_length=100, description="Only this channel's tests (any case)")] = None,
    everything: Annotated[bool, Query(alias="all", description="Every stored test (no other filter)")] = False,
    dry_run: Annotated[bool, DRY_RUN] = False,
) -> dict[str, Any]:
    """Delete stored lift tests by id, dates (windows that overlap them) and channel (at least one, or all); audited."""
    layout = StorageLayout.from_settings(runtime.settings)
    report = await asyncio.to_thread(
        lambda: delete_lift(
            layout,
            runtime.tenants.engine,
            client_id,
            test_id=test_id,
            since=since,
            until=until,
            channel=channel,
            everything=everything,
            actor=actor,
            dry_run=dry_run,
        )
    )
    return report.to_dict()
