"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from serving.deps import RuntimeDep
from serving.schemas import HealthResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is alive."""
    return HealthResponse(status="ok")


def _check_database(runtime: RuntimeDep) -> None:
    with runtime.registry.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Database reachable, spool writable, which models are loaded."""
    checks: dict[str, object] = {}
    ok = True
    try:
        await asyncio.to_thread(_check_database, runtime)
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure as data
        ok, checks["database"] = False, f"error: {type(exc).__name__}"
    try:
        checks["spool_pending_events"] = await asyncio.to_thread(runtime.collector.spool.pending_events)
    except Exception as exc:  # readiness reports any failure as data
        ok, checks["spool"] = False, f"error: {type(exc).__name__}"
    checks["models"] = {cid: m.version for cid, m in runtime.models.loaded().items()}
    checks["ingest"] = runtime.collector.counters.snapshot()
    body = HealthResponse(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
