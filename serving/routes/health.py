"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import os
import shutil

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from core.layout import StorageLayout
from core.maintenance_status import read_status
from serving.deps import RuntimeDep
from serving.runtime import ServiceRuntime
from serving.schemas import HealthResponse
from tracking.spool import pending_in_all

router = APIRouter(tags=["operations"])
MIN_SPOOL_FREE_BYTES = 16 << 20


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is alive."""
    return HealthResponse(status="ok")


def _check_database(runtime: ServiceRuntime) -> None:
    with runtime.tenants.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/metrics", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
async def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Prometheus metrics: hits received, accepted and dropped by reason, requests, latencies, models."""
    pending = await asyncio.to_thread(pending_in_all, runtime.settings)
    models = {cid: m.version for cid, m in runtime.models.loaded().items()}
    return PlainTextResponse(runtime.metrics.render(pending, models), media_type=CONTENT_TYPE_LATEST)


def _check_spool(runtime: ServiceRuntime) -> tuple[int, str | None]:
    """Events waiting in every spool (those of ended workers too), and why this worker's cannot take more."""
    spool = runtime.collector.spool
    pending = pending_in_all(runtime.settings)
    if not (os.access(spool.path.parent, os.W_OK) and os.access(spool.path, os.W_OK)):
        return pending, "spool not writable"
    if shutil.disk_usage(spool.path.parent).free < MIN_SPOOL_FREE_BYTES:
        return pending, f"less than {MIN_SPOOL_FREE_BYTES >> 20} MiB free for the spool"
    return pending, None


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Ready when the database answers, the spool can take hits and the champions are loaded (503 with reasons).

    Also shows the events waiting in every spool and what the background jobs (compaction, retention) last did.
    """
    checks: dict[str, object] = {}
    reasons: list[str] = []
    try:
        await asyncio.to_thread(_check_database, runtime)
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure as data
        checks["database"] = f"error: {type(exc).__name__}"
        reasons.append("database unreachable")
    try:
        checks["spool_pending_events"], spool_problem = await asyncio.to_thread(_check_spool, runtime)
    except Exception as exc:  # readiness reports any failure as data
        spool_problem = f"spool unreadable: {type(exc).__name__}"
    checks["spool"] = spool_problem or "ok"
    if spool_problem:
        reasons.append(spool_problem)
    checks["background_jobs"] = read_status(StorageLayout.from_settings(runtime.settings)) or "not started"
    models_loaded = bool(getattr(request.app.state, "models_loaded", False))
    checks["model_store"] = "ok" if models_loaded else "loading"
    if not models_loaded:
        reasons.append("champion models not loaded yet")
    checks["models"] = {cid: m.version for cid, m in runtime.models.loaded().items()}
    checks["process"] = os.getpid()  # which worker answered: ingest counts are per worker
    checks["ingest"] = runtime.collector.counters.snapshot()
    if reasons:
        checks["reasons"] = reasons
    body = HealthResponse(status="unavailable" if reasons else "ok", checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if reasons else 200)
