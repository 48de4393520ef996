"""Data-subject rights with the client's API key: erase one person's data, or hand over what xmo holds of them.

E-mail addresses and member ids in a body are turned into the client's keyed pseudonyms at once and never
stored or logged (the access log names the route, never the body; error messages never quote identifiers).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.errors import Forbidden
from privacy.erasure import (
    MAX_EMAIL_CHARS,
    MAX_IDENTIFIERS,
    MAX_MEMBER_ID_CHARS,
    VISITOR_ID_PATTERN,
    erase_subject,
    export_subject,
    subject_for,
)
from privacy.stores import Subject
from serving.deps import DASHBOARD_ACTOR, ActorDep, RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["data subjects"])

VisitorId = Annotated[str, StringConstraints(pattern=VISITOR_ID_PATTERN)]
Email = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EMAIL_CHARS)]
MemberId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MEMBER_ID_CHARS)]
_EXAMPLE_VISITOR = "5f0c1e9a7b3d4c2e8f1a6b9d0e3c7a21"


class SubjectIn(BaseModel):
    """The person, by any identifiers xmo may hold of them (at least one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"visitor_ids": [_EXAMPLE_VISITOR]},
                {"emails": ["ann@example.com"], "member_ids": ["M-1042"]},
            ]
        },
    )

    visitor_ids: list[VisitorId] = Field(
        default_factory=list, max_length=MAX_IDENTIFIERS, description="Cookie ids (the xmo visitor cookie)"
    )
    emails: list[Email] = Field(
        default_factory=list,
        max_length=MAX_IDENTIFIERS,
        description="E-mail addresses; only their keyed pseudonyms are used, never stored",
    )
    member_ids: list[MemberId] = Field(
        default_factory=list,
        max_length=MAX_IDENTIFIERS,
        description="The client's member ids; only their keyed pseudonyms are used, never stored",
    )


class ErasureOut(BaseModel):
    """What the erasure removed, per store."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "acme",
                    "counts": {"spooled events": 2, "stale training sets": 1, "lake events": 41},
                    "identifiers": {"visitor_ids": 1, "email_pseudonyms": 0, "member_pseudonyms": 0},
                }
            ]
        }
    )

    client_id: str
    counts: dict[str, int] = Field(description="Per store: events deleted, or training sets marked stale")
    identifiers: dict[str, int] = Field(description="How many identifiers of each kind named the person")


class SubjectExportOut(BaseModel):
    """What xmo holds of the person, per store, as stored (pseudonyms, never raw identifiers)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "acme",
                    "exported_at": "2026-04-07T10:00:00+00:00",
                    "counts": {"lake events": 1},
                    "records": {
                        "lake events": [
                            {
                                "event_id": "e-1",
                                "client_id": "acme",
                                "ts": "2026-04-06T09:30:00+00:00",
                                "event_type": "pageview",
                                "visitor_id": _EXAMPLE_VISITOR,
                                "path": "/shoes",
                            }
                        ]
                    },
                }
            ]
        }
    )

    client_id: str
    exported_at: str
    counts: dict[str, int] = Field(description="Records per store")
    records: dict[str, list[dict[str, Any]]] = Field(description="Per store, the person's records")


def get_key_actor(actor: ActorDep, client_id: TenantDep) -> str:
    """The audit actor: the API key's display prefix (a dashboard session may not erase or export)."""
    if actor == DASHBOARD_ACTOR:
        raise Forbidden(
            f"erasure and subject export of client {client_id!r} need its API key (Authorization: Bearer xmo_api_…)"
        )
    return actor


KeyActorDep = Annotated[str, Depends(get_key_actor)]
ERRORS = error_responses(
    400,
    404,
    e400="No identifier, or a blank or overlong one; nothing was changed",
    e404="The client holds no data of this person (never collected, or already erased); nothing was changed",
)


def _subject(runtime: ServiceRuntime, client_id: str, body: SubjectIn) -> Subject:
    return subject_for(
        runtime.settings,
        client_id,
        visitor_ids=body.visitor_ids,
        emails=body.emails,
        member_ids=body.member_ids,
        vault=runtime.vault,
        tenants=runtime.tenants,
    )


def _erase(runtime: ServiceRuntime, client_id: str, body: SubjectIn, actor: str) -> dict[str, object]:
    report = erase_subject(runtime.settings, _subject(runtime, client_id, body), actor)
    runtime.sessions.forget(client_id)
    return report.to_dict()


def _export(runtime: ServiceRuntime, client_id: str, body: SubjectIn, actor: str) -> dict[str, Any]:
    return export_subject(runtime.settings, _subject(runtime, client_id, body), actor).to_dict()


@router.post("/erasure", response_model=ErasureOut, responses=ERRORS)
async def post_erasure(runtime: RuntimeDep, client_id: TenantDep, actor: KeyActorDep, body: SubjectIn) -> Any:
    """Erase one person's events (spool and lake) and mark training sets that may hold them stale."""
    return await asyncio.to_thread(_erase, runtime, client_id, body, actor)


@router.post("/subject-export", response_model=SubjectExportOut, responses=ERRORS)
async def post_subject_export(runtime: RuntimeDep, client_id: TenantDep, actor: KeyActorDep, body: SubjectIn) -> Any:
    """What xmo holds of one person (right of access), without anyone else's data."""
    return await asyncio.to_thread(_export, runtime, client_id, body, actor)
