"""The models a client can score with, and reloading them when an alias moved."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from serving.deps import RuntimeDep, TenantDep

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("")
async def list_models(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The caller's loaded champion model, if any."""
    loaded = runtime.models.get(client_id)
    return {"client_id": client_id, "champion": loaded.public() if loaded else None}


@router.post("/reload")
async def reload_models(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """Load the caller's champion again if its alias moved (requests keep being served meanwhile)."""
    loaded = await asyncio.to_thread(runtime.models.refresh, client_id)
    return {"client_id": client_id, "champion": loaded.public() if loaded else None}
