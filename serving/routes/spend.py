"""A client's daily or weekly spend: import rows (JSON or CSV), read the stored summary and delete rows, with the
client's API key."""

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
from serving.table_routes import AUTH_ERRORS, DELETE_ERRORS, DRY_RUN, IMPORT_ERRORS, SINCE, UNTIL
from tracking.cadence import parse_cadence
from tracking.spend import MAX_ID_LENGTH, delete_spend, import_spend, read_spend, spend_summary_records
from tracking.wide_tables import spend_from_wide, split_names

CadenceParam = Annotated[
    str | None,
    Query(
        max_length=10,
        description="day or week: the rows' grain (default: detected from the dates; a week is dated by its first day)",
    ),
]
router = APIRouter(prefix="/v1/spend", tags=["spend"])


class SpendImported(BaseModel):
    """What an import stored."""

    client_id: str
    rows: int = Field(description="Rows in the request, all stored")
    inserted: int = Field(description="(date, campaign) pairs new to the table")
    replaced: int = Field(description="Stored (date, campaign) pairs replaced by the request's rows")
    campaigns: int = Field(description="Distinct campaigns (channel-level spend not counted)")
    channels: int = Field(description="Distinct channels with channel-level spend")
    channel_rows: int = Field(description="Channel-level rows (no campaign: stored with campaign_id = channel)")
    first_date: str
    last_date: str
    total_spend: float
    cadence: str = Field(description="day or week: the grain of the rows (detected from the dates, or given)")
    grain: ImportGrain
    ignored_columns: list[str]
    unknown_campaigns: list[str] = Field(description="Campaign ids never seen in the client's tracked traffic")
    warnings: list[str]


class CampaignSpend(BaseModel):
    """Stored spend of one campaign (or of one channel without campaigns)."""

    campaign_id: str
    channel: str | None
    level: str = Field(description="campaign, or channel for channel-level spend")
    cadence: str = Field(description="day, week, or day+week for a series stored at both grains (apart)")
    days: int = Field(description="Days its rows cover (7 per weekly row)")
    first_date: str
    last_date: str
    spend: float
    impressions: int | None
    clicks: int | None


class SpendDeleted(BaseModel):
    """What a deletion removed (or, with dry_run, would remove)."""

    client_id: str
    dry_run: bool = Field(description="True: nothing was deleted; the figures say what would be")
    rows: int = Field(description="Rows deleted (or that would be)")
    first_date: str
    last_date: str
    campaigns: list[str] = Field(description="Campaign ids of those rows (a channel's name for channel-level spend)")
    total_spend: float
    remaining: int = Field(description="Rows stored afterwards")


class SpendSummary(BaseModel):
    """The caller's stored spend per campaign."""

    client_id: str
    campaigns: list[CampaignSpend]


_EXAMPLE_ROWS = [
    {"date": "2026-01-31", "campaign_id": "search-brand", "spend": 120.5, "impressions": 5300, "clicks": 410},
    {"date": "2026-01-31", "channel": "tv", "spend": 2500},
]
_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"Rows as JSON or a CSV file (header: date, campaign_id or campaign, channel, spend, "
        f"impressions, clicks); at most {TABLE_MAX_ROWS:,} rows and {TABLE_BODY_BYTES:,} bytes.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {"rows": {"type": "array", "maxItems": TABLE_MAX_ROWS, "items": {"type": "object"}}},
                },
                "example": {"rows": _EXAMPLE_ROWS},
            },
            "text/csv": {"schema": {"type": "string"}, "example": "date,campaign,spend\n2026-01-31,brand,120.5\n"},
        },
    }
}


@router.put(
    "",
    response_model=SpendImported,
    responses=IMPORT_ERRORS,
    openapi_extra=_REQUEST_BODY,
    summary="Import spend (idempotent)",
    description="The same import as POST (daily or weekly rows; ``cadence`` sets the grain): sending the same "
    "rows again leaves the table as it was.",
)
@router.post("", response_model=SpendImported, responses=IMPORT_ERRORS, openapi_extra=_REQUEST_BODY)
async def post_spend(
    request: Request,
    runtime: RuntimeDep,
    client_id: TenantDep,
    cadence: CadenceParam = None,
    wide: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Comma-separated channel columns of a wide table (one spend column per channel, as "
            "Robyn, PyMC-Marketing and Meridian take it); its other columns are ignored",
            examples=["tv,search,social"],
        ),
    ] = None,
) -> dict[str, Any]:
    """Import daily or weekly spend; a stored (date, campaign) is replaced, and one bad row stores nothing."""
    given = parse_cadence(cadence)
    frame = await read_table(request)
    if wide is not None:
        frame = spend_from_wide(frame, split_names(wide), "wide")
    layout = StorageLayout.from_settings(runtime.settings)
    report = await asyncio.to_thread(import_spend, layout, client_id, frame, None, given)
    return report.to_dict()


@router.get("", response_model=SpendSummary, responses=AUTH_ERRORS)
async def get_spend(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The caller's stored spend per campaign: days, first and last date, totals."""
    layout = StorageLayout.from_settings(runtime.settings)
    rows = await asyncio.to_thread(lambda: spend_summary_records(read_spend(layout, client_id)))
    return {"client_id": client_id, "campaigns": rows}


@router.delete("", response_model=SpendDeleted, responses=DELETE_ERRORS)
async def delete_spend_rows(
    runtime: RuntimeDep,
    client_id: TenantDep,
    actor: ActorDep,
    since: Annotated[AnyDayParam, SINCE] = None,
    until: Annotated[AnyDayParam, UNTIL] = None,
    campaign: Annotated[
        str | None, Query(max_length=MAX_ID_LENGTH, description="Only this campaign id (as written)")
    ] = None,
    channel: Annotated[
        str | None, Query(max_length=100, description="Only this channel (any case; channel-level rows too)")
    ] = None,
    everything: Annotated[bool, Query(alias="all", description="Every stored row (no other filter)")] = False,
    dry_run: Annotated[bool, DRY_RUN] = False,
) -> dict[str, Any]:
    """Delete stored spend rows by date range, campaign and channel (at least one, or all); audited."""
    layout = StorageLayout.from_settings(runtime.settings)
    report = await asyncio.to_thread(
        lambda: delete_spend(
            layout,
            runtime.tenants.engine,
            client_id,
            since=since,
            until=until,
            campaign_id=campaign,
            channel=channel,
            everything=everything,
            actor=actor,
            dry_run=dry_run,
        )
    )
    return report.to_dict()
