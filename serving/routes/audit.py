"""Admin: read the append-only audit log (the same entries as ``xmo audit``); it never holds personal data."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from core import audit
from core.layout import CLIENT_ID_PATTERN
from serving.deps import AdminDep, RuntimeDep
from serving.errors import error_responses
from serving.query_params import TimeParam

router = APIRouter(prefix="/v1/audit", tags=["admin"])


class AuditEntryOut(BaseModel):
    """One action: who (a key's prefix, or `cli`), what, when, about which client, with counts."""

    id: int
    at: str
    actor: str
    action: str
    client_id: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    """Entries in order; pass `next_after` as `after` for the next page (null on the last page)."""

    entries: list[AuditEntryOut]
    next_after: int | None = Field(description="The last id of this page when more may follow")


@router.get(
    "",
    response_model=AuditPage,
    responses=error_responses(
        401, 403, 422, e401="Missing or unknown admin key", e403="A key of another kind (an API or site key)"
    ),
)
async def read_audit_log(
    runtime: RuntimeDep,
    _admin: AdminDep,
    client_id: Annotated[str | None, Query(pattern=CLIENT_ID_PATTERN.pattern, description="Only this client")] = None,
    action: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[a-z0-9_.-]+$",
            description="Only actions starting with this, e.g. `client.purge`",
        ),
    ] = None,
    since: Annotated[
        TimeParam, Query(description="Only entries at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z)")
    ] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="Only entries after this id (paging)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size")] = 100,
) -> dict[str, Any]:
    """The audit log, oldest first, filtered and paged."""
    start: datetime | None = since
    page = await asyncio.to_thread(
        audit.entries,
        runtime.tenants.engine,
        client_id,
        action_prefix=action,
        since=start,
        after_id=after,
        limit=limit,
    )
    return {
        "entries": [entry.to_dict() for entry in page],
        "next_after": page[-1].id if len(page) == limit else None,
    }
