"""Admin: purge a client when its service ends (privacy promise P10), the same purge as ``xmo client purge``.

The purge revokes the client's keys, destroys its vault key, deletes its data from every store and certifies
the result after a verification scan; this process then drops what it cached of the client (model, sessions,
policies, link domains). Other workers (and every worker after ``xmo client purge``) drop theirs within
``XMO_PURGE_WATCH_INTERVAL_S`` (5 s); hits they accept in that time are dropped by compaction (the client is
purged), and a purge run again deletes anything that still arrived.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from core.audit import key_actor
from core.layout import CLIENT_ID_PATTERN
from privacy.purge import DeletionCertificate, purge_client
from serving.deps import AdminDep, RuntimeDep
from serving.errors import error_responses
from serving.runtime import ServiceRuntime

router = APIRouter(prefix="/v1/clients", tags=["admin"])

_ClientId = Annotated[str, Path(pattern=CLIENT_ID_PATTERN.pattern, description="The client to purge")]


class CertificateOut(BaseModel):
    """The deletion certificate: what kinds of data were deleted, how many of each, when; no personal data."""

    certificate_id: str
    client_id: str
    actor: str = Field(description="Who purged: the admin key's prefix or `cli`")
    started_at: str
    completed_at: str
    deleted: dict[str, int] = Field(description="Items deleted per kind of data (events, runs, keys, …)")
    verification: str
    already_purged: bool = Field(description="True when the client had been purged before (same certificate)")
    resumed: bool = Field(description="True when this call finished a purge that had stopped midway")


def _purge(runtime: ServiceRuntime, client_id: str, actor: str) -> DeletionCertificate:
    certificate = purge_client(runtime.settings, client_id, actor=actor)
    runtime.forget_client(client_id)
    return certificate


@router.delete(
    "/{client_id}",
    response_model=CertificateOut,
    responses=error_responses(
        401,
        403,
        404,
        e401="Missing or unknown admin key",
        e403="A key of another kind (an API or site key)",
        e404="No such client, and none of that id was ever purged",
    ),
)
async def purge(client_id: _ClientId, runtime: RuntimeDep, admin: AdminDep) -> dict[str, Any]:
    """Destroy everything of the client for good and return the deletion certificate.

    Idempotent: calling it again for a purged client returns the same certificate (`already_purged`); a
    purge that stopped midway is finished (`resumed`).
    """
    certificate = await asyncio.to_thread(_purge, runtime, client_id, key_actor(admin.key_prefix))
    return certificate.to_dict()
