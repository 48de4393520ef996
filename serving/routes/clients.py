"""Admin: create, list and update clients, rotate their keys (the operator's admin key; every change is audited).

Keys are returned once and stored only as hashes, as with ``xmo client create``. Rotation revokes the old key
at once: the registry answers every API request, and this process forgets its cached site keys (another
worker's cache keeps a rotated site key for at most 30 s). Purging a client belongs to the privacy lifecycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from core import audit
from core.apikeys import KeyKind
from core.layout import CLIENT_ID_PATTERN
from core.tenants import DEFAULT_RETENTION_DAYS, NewClient
from serving.deps import AdminDep, RuntimeDep
from serving.errors import error_responses
from serving.runtime import ServiceRuntime

router = APIRouter(prefix="/v1/clients", tags=["admin"])

_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]+$"
_ClientId = Annotated[str, Path(pattern=CLIENT_ID_PATTERN.pattern, description="The client's id")]
_ADMIN_ERRORS = error_responses(
    401, 403, e401="Missing or unknown admin key", e403="A key of another kind (an API or site key)"
)


class ClientIn(BaseModel):
    """A client to register, with its privacy policy."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Acme Shop", "domains": ["shop.acme.example"], "timezone": "UTC"}]},
    )

    name: str = Field(min_length=1, max_length=200, pattern=_NO_CONTROL_CHARACTERS, description="Display name")
    domains: list[Annotated[str, Field(min_length=1, max_length=253, pattern=_NO_CONTROL_CHARACTERS)]] = Field(
        min_length=1,
        max_length=100,
        description="Domains the client tracks (`*.example.com` for subdomains); "
        "a public suffix such as `com`, `*.co.uk` or `*.github.io` is refused (400)",
    )
    client_id: str | None = Field(
        default=None, pattern=CLIENT_ID_PATTERN.pattern, description="Default: derived from the name"
    )
    collect_pii: bool = Field(default=False, description="Keep keyed pseudonyms of e-mail/member id, with consent")
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, ge=1, le=3650, description="Days raw events are kept")
    honour_dnt: bool = Field(default=False, description="Treat DNT: 1 as an opt-out (GPC always is)")
    timezone: str = Field(
        default="UTC", min_length=1, max_length=64, pattern=_NO_CONTROL_CHARACTERS, description="IANA time zone"
    )
    benchmarks_opt_in: bool = Field(
        default=False, description="Pool the client's aggregates into cross-client benchmarks (no ids; privacy P8)"
    )
    currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="ISO 4217 code of the client's amounts, e.g. `EUR`"
    )


class ClientUpdate(BaseModel):
    """Policy changes of a client; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"benchmarks_opt_in": True}, {"retention_days": 180}, {"currency": "EUR"}]},
    )

    benchmarks_opt_in: bool | None = Field(default=None, description="Pool into cross-client benchmarks")
    retention_days: int | None = Field(default=None, ge=1, le=3650, description="Days raw events are kept")
    currency: str | None = Field(
        default=None, max_length=3, description='ISO 4217 code of the client\'s amounts; `""` unsets it'
    )


class ClientOut(BaseModel):
    """A client and its privacy policy (no secrets)."""

    client_id: str
    name: str
    allowed_domains: list[str]
    collect_pii: bool
    retention_days: int
    honour_dnt: bool
    timezone: str
    benchmarks_opt_in: bool
    currency: str | None = Field(description="ISO 4217 code of the client's amounts (spend, values); null: not set")
    created_at: str


class ClientCreated(BaseModel):
    """A new client and its keys, shown this once (only their hashes are stored)."""

    client: ClientOut
    site_key: str = Field(description="For pixels, links and server events; public")
    api_key: str = Field(description="For the API; keep it secret")


class ClientList(BaseModel):
    """Every client, oldest first."""

    clients: list[ClientOut]


def _api_key_only() -> list[Literal["api", "site"]]:
    return ["api"]


class KeyRotation(BaseModel):
    """Which of the client's keys to replace."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"kinds": ["api"]}]})

    kinds: list[Literal["api", "site"]] = Field(
        default_factory=_api_key_only,
        min_length=1,
        max_length=2,
        description="`api` and/or `site`; the site key sits in the client's pages, which need the new one",
    )


class RotatedKeys(BaseModel):
    """The new keys, shown this once; the old ones no longer authenticate."""

    client_id: str
    api_key: str | None = None
    site_key: str | None = None
    revoked: list[Literal["api", "site"]] = Field(description="Kinds whose previous keys were revoked")


def _create(runtime: ServiceRuntime, body: ClientIn, actor: str) -> NewClient:
    created = runtime.tenants.create_client(
        body.name,
        body.domains,
        client_id=body.client_id,
        collect_pii=body.collect_pii,
        retention_days=body.retention_days,
        honour_dnt=body.honour_dnt,
        timezone=body.timezone,
        benchmarks_opt_in=body.benchmarks_opt_in,
        currency=body.currency,
        actor=actor,
    )
    runtime.vault.client_key(created.client.id)  # as `xmo client create`: the client's keys exist from the start
    runtime.domains.forget()  # links of the new client redirect at once
    return created


@router.post(
    "",
    status_code=201,
    response_model=ClientCreated,
    responses={**_ADMIN_ERRORS, **error_responses(409, e409="A client with this id already exists")},
)
async def create_client(body: ClientIn, runtime: RuntimeDep, admin: AdminDep) -> dict[str, Any]:
    """Register a client; its site and API keys are in this answer only."""
    created = await asyncio.to_thread(_create, runtime, body, audit.key_actor(admin.key_prefix))
    return {"client": created.client.public(), "site_key": created.site_key, "api_key": created.api_key}


@router.get("", response_model=ClientList, responses=_ADMIN_ERRORS)
async def list_clients(runtime: RuntimeDep, _admin: AdminDep) -> dict[str, Any]:
    """Every client and its privacy policy."""
    clients = await asyncio.to_thread(runtime.tenants.list_clients)
    return {"clients": [c.public() for c in clients]}


@router.patch(
    "/{client_id}",
    response_model=ClientOut,
    responses={**_ADMIN_ERRORS, **error_responses(400, 404, e400="Nothing to change", e404="No such client")},
)
async def update_client(
    client_id: _ClientId, body: ClientUpdate, runtime: RuntimeDep, admin: AdminDep
) -> dict[str, Any]:
    """Change a client's benchmarks opt-in, retention and/or currency; audited with the old and new values."""
    client = await asyncio.to_thread(
        runtime.tenants.update_client,
        client_id,
        benchmarks_opt_in=body.benchmarks_opt_in,
        retention_days=body.retention_days,
        currency=body.currency,
        actor=audit.key_actor(admin.key_prefix),
    )
    return client.public()


def _rotate(runtime: ServiceRuntime, client_id: str, kinds: Sequence[str], actor: str) -> dict[str, Any]:
    result: dict[str, Any] = {"client_id": client_id, "revoked": []}
    for kind in dict.fromkeys(kinds):
        result[f"{kind}_key"] = runtime.tenants.rotate_key(KeyKind(kind), client_id, actor=actor)
        result["revoked"].append(kind)
    runtime.collector.policies.forget()  # this process stops honouring cached answers about the old keys
    return result


@router.post(
    "/{client_id}/keys/rotate",
    response_model=RotatedKeys,
    responses={**_ADMIN_ERRORS, **error_responses(404, e404="No such client")},
)
async def rotate_keys(
    client_id: _ClientId, runtime: RuntimeDep, admin: AdminDep, body: KeyRotation | None = None
) -> dict[str, Any]:
    """Issue new keys of the given kinds (default: the API key) and revoke the old ones at once."""
    kinds = (body or KeyRotation()).kinds
    return await asyncio.to_thread(_rotate, runtime, client_id, kinds, audit.key_actor(admin.key_prefix))
