"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from serving.deps import RuntimeDep
from serving.schemas import HealthResponse
from tracking.spool import pending_in_all

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is alive."""
    return HealthResponse(status="ok")


def _check_database(runtime: RuntimeDep) -> None:
    with runtime.registry.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/metrics", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
async def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Prometheus metrics: hits received, accepted and dropped by reason, requests, latencies, models."""
    pending = await asyncio.to_thread(pending_in_all, runtime.settings)
    models = {cid: m.version for cid, m in runtime.models.loaded().items()}
    return PlainTextResponse(runtime.metrics.render(pending, models), media_type=CONTENT_TYPE_LATEST)


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
