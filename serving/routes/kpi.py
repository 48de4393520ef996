"""A client's daily or weekly KPIs (outcomes and controls): import rows (JSON or CSV), read the stored summary and
delete the rows of a date range."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from core.layout import StorageLayout
from serving.answers import ImportGrain
from serving.deps import ActorDep, RuntimeDep, TenantDep
from serving.query_params import AnyDayParam
from serving.request_body import TABLE_BODY_BYTES, TABLE_MAX_ROWS, read_table
from serving.table_routes import (
    AUTH_ERRORS,
    DELETE_ERRORS,
    DRY_RUN,
    IMPORT_ERRORS,
    SINCE,
    UNTIL,
)
from tracking.cadence import parse_cadence
from tracking.kpi import delete_kpi, import_kpi, kpi_cadence, kpi_summary_records, read_kpi
from tracking.wide_tables import split_names, without_columns

CadenceParam = Annotated[
    str | None,
    Query(
        max_length=10,
        description="day or week: the rows' grain (default: detected from the dates; a week is dated by its first day)",
    ),
]
router = APIRouter(prefix="/v1/kpi", tags=["kpi"])


class KpiImported(BaseModel):
    """What an import stored."""

    client_id: str
    rows: int = Field(description="Dates in the request, all stored")
    inserted: int = Field(description="Dates new to the table")
    updated: int = Field(description="Dates the table held already (the request's columns replaced)")
    columns: list[str]
    new_columns: list[str]
    first_date: str
    last_date: str
    cadence: str = Field(description="day or week: the grain of the rows (detected from the dates, or given)")
    grain: ImportGrain
    warnings: list[str]


class KpiDeleted(BaseModel):
    """What a deletion removed (or, with dry_run, would remove)."""

    client_id: str
    dry_run: bool = Field(description="True: nothing was deleted; the figures say what would be")
    rows: int = Field(description="Dates deleted (or that would be), every column")
    first_date: str
    last_date: str
    remaining: int = Field(description="Dates stored afterwards")
    removed_columns: list[str] = Field(description="Columns left without any value, deleted with the rows")


class KpiColumn(BaseModel):
    """One stored KPI series."""

    column: str
    days: int = Field(description="Rows with a value (days, or weeks in a weekly table)")
    first_date: str | None
    last_date: str | None
    total: float
    mean: float | None
    min: float | None
    max: float | None


class KpiSummary(BaseModel):
    """The caller's stored KPI columns."""

    client_id: str
    cadence: str = Field(description="day or week: the grain of the stored rows")
    columns: list[KpiColumn]


_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Rows as JSON or a CSV file (header: date and numeric columns); "
        f"at most {TABLE_MAX_ROWS:,} rows and {TABLE_BODY_BYTES:,} bytes.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {"rows": {"type": "array", "maxItems": TABLE_MAX_ROWS, "items": {"type": "object"}}},
                },
                "example": {"rows": [{"date": "2026-01-31", "revenue": 18250.0, "conversions": 212, "promo": 1}]},
            },
            "text/csv": {"schema": {"type": "string"}, "example": "date,revenue,conversions\n2026-01-31,18250,212\n"},
        },
    }
}


@router.put(
    "",
    response_model=KpiImported,
    responses=IMPORT_ERRORS,
    openapi_extra=_REQUEST_BODY,
    summary="Import KPIs (idempotent)",
    description="The same import as POST (daily or weekly rows; ``cadence`` sets the grain): sending the same "
    "rows again leaves the table as it was.",
)
@router.post("", response_model=KpiImported, responses=IMPORT_ERRORS, openapi_extra=_REQUEST_BODY)
async def post_kpi(
    request: Request,
    runtime: RuntimeDep,
    client_id: TenantDep,
    cadence: CadenceParam = None,
    ignore: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Comma-separated columns to leave out (e.g. the spend columns of a wide table)",
            examples=["tv,search,social"],
        ),
    ] = None,
) -> dict[str, Any]:
    """Import daily or weekly KPIs; the request's columns replace stored values of its dates; a bad row stores none."""
    given = parse_cadence(cadence)
    frame = await read_table(request)
    if ignore is not None:
        frame = without_columns(frame, split_names(ignore), "ignore")
    layout = StorageLayout.from_settings(runtime.settings)
    report = await asyncio.to_thread(import_kpi, layout, client_id, frame, None, given)
    return report.to_dict()


@router.get("", response_model=KpiSummary, responses=AUTH_ERRORS)
async def get_kpi(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The caller's stored KPI columns: days with values, first and last date, totals."""
    layout = StorageLayout.from_settings(runtime.settings)
    rows = await asyncio.to_thread(lambda: kpi_summary_records(read_kpi(layout, client_id)))
    return {"client_id": client_id, "cadence": kpi_cadence(layout, client_id).value, "columns": rows}


@router.delete("", response_model=KpiDeleted, responses=DELETE_ERRORS)
async def delete_kpi_rows(
    runtime: RuntimeDep,
    client_id: TenantDep,
    actor: ActorDep,
    since: Annotated[AnyDayParam, SINCE] = None,
    until: Annotated[AnyDayParam, UNTIL] = None,
    everything: Annotated[bool, Query(alias="all", description="Every stored row (no dates)")] = False,
    dry_run: Annotated[bool, DRY_RUN] = False,
) -> dict[str, Any]:
    """Delete the stored KPI rows (every column) of a date range (since and/or until, or all); audited."""
    layout = StorageLayout.from_settings(runtime.settings)
    report = await asyncio.to_thread(
        lambda: delete_kpi(
            layout,
            runtime.tenants.engine,
            client_id,
            since=since,
            until=until,
            everything=everything,
            actor=actor,
            dry_run=dry_run,
        )
    )
    return report.to_dict()
