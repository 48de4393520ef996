"""Data ownership over HTTP: a client streams its own events or sessions (its API key), and the operator
discloses a client's data to a named recipient on a stated legal basis (the admin key); both are audited."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from core import audit
from core.layout import CLIENT_ID_PATTERN
from privacy.export import MAX_LEGAL_BASIS_CHARS, MAX_RECIPIENT_CHARS, ExportFormat, ExportStream, stream_export
from serving.deps import ActorDep, AdminDep, RuntimeDep, TenantDep
from serving.errors import error_responses

router = APIRouter(tags=["exports"])

ROWS_HEADER = "X-Export-Rows"
_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]+$"

What = Annotated[
    Literal["events", "sessions", "spend", "kpi", "lift"],
    Query(
        description="events (as stored in the lake), sessions (one row per visit), spend, kpi (the KPI and control "
        "series) or lift (lift tests)",
        examples=["events"],
    ),
]
Format = Annotated[
    Literal["parquet", "csv"], Query(alias="format", description="File format of the answer", examples=["parquet"])
]
Recipient = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_RECIPIENT_CHARS,
        pattern=_NO_CONTROL_CHARACTERS,
        description="Who receives the data (recorded in the audit log)",
        examples=["Analytics Partner GmbH"],
    ),
]
LegalBasis = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_LEGAL_BASIS_CHARS,
        pattern=_NO_CONTROL_CHARACTERS,
        description="Why the recipient may have it: an NDA, a court order (recorded in the audit log)",
        examples=["NDA of 2026-03-01"],
    ),
]
ClientId = Annotated[str, Path(pattern=CLIENT_ID_PATTERN.pattern, description="The client's id")]

_FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One Parquet or CSV file, streamed (Content-Disposition names it)",
        "content": {
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            "text/csv": {
                "schema": {"type": "string"},
                "example": '"event_id","client_id","ts"\n"9b1f…","acme","2026-04-06 10:00:00.000000Z"\n',
            },
        },
        "headers": {
            "Content-Disposition": {"description": "attachment; filename=…", "schema": {"type": "string"}},
            ROWS_HEADER: {"description": "Rows in the file", "schema": {"type": "integer"}},
        },
    }
}


def _response(stream: ExportStream) -> StreamingResponse:
    headers = {
        "Content-Disposition": f'attachment; filename="{stream.filename}"',
        ROWS_HEADER: str(stream.rows),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(stream.chunks, media_type=stream.media_type, headers=headers)


@router.get(
    "/v1/export",
    response_class=StreamingResponse,
    responses={**_FILE_RESPONSE, **error_responses(401, 403)},
    summary="Export your own data",
)
async def export_own(
    what: What, runtime: RuntimeDep, client_id: TenantDep, actor: ActorDep, fmt: Format = "parquet"
) -> StreamingResponse:
    """Stream the caller's events or sessions as one Parquet or CSV file, pseudonymized as stored; audited."""
    stream = await asyncio.to_thread(stream_export, runtime.settings, client_id, what, ExportFormat(fmt), actor=actor)
    return _response(stream)


@router.get(
    "/v1/clients/{client_id}/export",
    response_class=StreamingResponse,
    responses={**_FILE_RESPONSE, **error_responses(400, 401, 403, 404, e404="No such client")},
    tags=["admin"],
    summary="Disclose a client's data to a third party",
)
async def export_third_party(
    client_id: ClientId,
    what: What,
    recipient: Recipient,
    legal_basis: LegalBasis,
    runtime: RuntimeDep,
    admin: AdminDep,
    fmt: Format = "parquet",
) -> StreamingResponse:
    """Stream a client's events or sessions to a named recipient on a stated legal basis; audited with both."""
    stream = await asyncio.to_thread(
        stream_export,
        runtime.settings,
        client_id,
        what,
        ExportFormat(fmt),
        actor=audit.key_actor(admin.key_prefix),
        recipient=recipient,
        legal_basis=legal_basis,
    )
    return _response(stream)
