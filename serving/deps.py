"""Dependencies of the routes, in one place: the runtime, the caller's key or dashboard sign-in, its client."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.apikeys import KeyKind, display_prefix
from core.audit import key_actor
from core.errors import NotReady
from core.settings import Settings
from core.tenants import Principal
from serving.dashboard.sign_in import signed_in_client
from serving.model_store import LoadedModel
from serving.runtime import ServiceRuntime

_bearer = HTTPBearer(auto_error=False, description="An xmo API key: `Authorization: Bearer xmo_api_…`")


async def get_runtime(request: Request) -> ServiceRuntime:
    """The runtime the lifespan built (async: FastAPI would run a plain function in its thread pool)."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_settings_dep(runtime: RuntimeDep) -> Settings:
    """The service's settings."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_tenant(runtime: RuntimeDep, credentials: BearerDep, request: Request) -> str:
    """The client id an API key belongs to (401 without a valid key, 403 for another kind of key).

    Without an ``Authorization: Bearer`` header, the dashboard's session cookie may name the client instead
    (``serving.dashboard.sign_in``). A plain function on purpose: it queries the registry, so FastAPI runs
    it in the thread pool.
    """
    if credentials is None:
        client_id = signed_in_client(request, runtime.settings, runtime.tenants)
        if client_id is not None:
            request.state.client_id = client_id  # for the access log
            return client_id
    principal = runtime.tenants.authenticate(credentials.credentials if credentials else None, KeyKind.API)
    assert principal.client_id is not None
    request.state.client_id = principal.client_id
    return principal.client_id


TenantDep = Annotated[str, Depends(get_tenant)]

DASHBOARD_ACTOR = "dashboard"


async def get_actor(credentials: BearerDep, _client_id: TenantDep) -> str:
    """Who acts for the tenant, for the audit log: the API key's display prefix (``get_tenant`` checked the key),
    or ``dashboard`` when the signed-in dashboard session named the client."""
    if credentials is None:
        return DASHBOARD_ACTOR
    return key_actor(display_prefix(credentials.credentials))


ActorDep = Annotated[str, Depends(get_actor)]


def get_admin(runtime: RuntimeDep, credentials: BearerDep) -> Principal:
    """The operator, authenticated by the admin key."""
    return runtime.tenants.authenticate(credentials.credentials if credentials else None, KeyKind.ADMIN)


AdminDep = Annotated[Principal, Depends(get_admin)]


def require_model(runtime: ServiceRuntime, client_id: str) -> LoadedModel:
    """The client's champion model (409 when none is registered yet).

    Called in handlers rather than as a dependency, so that a bad request body is reported first.
    """
    model = runtime.models.get(client_id)
    if model is None:
        raise NotReady(f"no champion model for client {client_id!r} yet; train one with `xmo train {client_id}`")
    return model
