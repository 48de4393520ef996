"""The models a client can score with, and reloading them when an alias moved."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from serving.deps import RuntimeDep, TenantDep
from serving.errors import error_responses

router = APIRouter(prefix="/v1/models", tags=["models"])


class ChampionInfo(BaseModel):
    """The loaded champion: the registered model, its version and the alias that chose it."""

    name: str
    version: str
    alias: str
    loaded_at: str = Field(description="When this service loaded it (ISO 8601, UTC)")


class ClientModels(BaseModel):
    """The caller's champion, or null before one is trained (`xmo train <client>`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "acme",
                    "champion": {
                        "name": "xmo-conversion-acme",
                        "version": "3",
                        "alias": "champion",
                        "loaded_at": "2026-01-31T12:00:00.123456+00:00",
                    },
                },
                {"client_id": "fresh", "champion": None},
            ]
        }
    )

    client_id: str
    champion: ChampionInfo | None


@router.get("", response_model=ClientModels)
async def list_models(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The caller's loaded champion model, if any."""
    loaded = runtime.models.get(client_id)
    return {"client_id": client_id, "champion": loaded.public() if loaded else None}


@router.post(
    "/reload",
    response_model=ClientModels,
    responses=error_responses(
        409, e409="The alias names a version that cannot be served (the loaded one, if any, keeps serving)"
    ),
)
async def reload_models(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """Load the caller's champion again if its alias moved (requests keep being served meanwhile)."""
    loaded = await asyncio.to_thread(runtime.models.refresh, client_id)
    return {"client_id": client_id, "champion": loaded.public() if loaded else None}
