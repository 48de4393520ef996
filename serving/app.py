"""The FastAPI application: collection, scoring, recommendations, operations."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from core.settings import Settings, get_settings
from serving.errors import ErrorShieldMiddleware, install_error_handlers
from serving.fastpath import FastPathMiddleware
from serving.metrics import ServiceMetrics
from serving.routes import (
    attribution,
    audiences,
    budget,
    collect,
    creatives,
    events,
    goals,
    health,
    kpi,
    models,
    optout,
    redirect,
    reports,
    scoring,
    spend,
)
from serving.runtime import ServiceRuntime
from tracking.compactor import compact_all
from tracking.useragents import parse_user_agent

logger = logging.getLogger("xmo.serving")
WARM_UP_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


async def _every(interval_s: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Run ``job`` every ``interval_s`` seconds; a failure is logged and the loop goes on."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except Exception as exc:  # a background job must never kill the service
            logger.error("%s failed: %s", name, type(exc).__name__)


class MetricsMiddleware:
    """Counts and times every HTTP request (by route template, never by URL)."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = metrics.middleware(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _client_ids(runtime: ServiceRuntime) -> list[str]:
    return [c.id for c in runtime.registry.list_clients()]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; stores are opened and models loaded in the lifespan, not here."""
    metrics = ServiceMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await asyncio.to_thread(ServiceRuntime.build, settings or get_settings(), metrics)
        app.state.runtime = runtime
        await runtime.committer.start()
        await asyncio.to_thread(lambda: runtime.models.refresh_all(_client_ids(runtime)))
        tasks = []
        if runtime.settings.compact_interval_s > 0:
            tasks.append(
                asyncio.create_task(
                    _every(
                        runtime.settings.compact_interval_s,
                        lambda: asyncio.to_thread(compact_all, runtime.settings),
                        "compaction",
                    )
                )
            )
        if runtime.settings.model_reload_interval_s > 0:
            tasks.append(
                asyncio.create_task(
                    _every(
                        runtime.settings.model_reload_interval_s,
                        lambda: asyncio.to_thread(lambda: runtime.models.refresh_all(_client_ids(runtime))),
                        "model reload",
                    )
                )
            )
        parse_user_agent(WARM_UP_USER_AGENT)  # ua-parser compiles its rules on first use: not on a visitor's hit
        # Everything loaded so far lives as long as the process: keep it out of the collector's way
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.committer.stop()
            runtime.collector.spool.close()

    app = FastAPI(
        title="xmo",
        summary="Privacy-first campaign tracking and optimization",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(ErrorShieldMiddleware)
    app.add_middleware(FastPathMiddleware, handlers={"/t.gif": collect.record_pixel})
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts fast-path requests too
    for module in (
        health,
        collect,
        events,
        redirect,
        optout,
        scoring,
        models,
        budget,
        creatives,
        goals,
        spend,
        kpi,
        reports,
        audiences,
        attribution,
    ):
        app.include_router(module.router)
    return app
