"""The FastAPI application: collection, scoring, recommendations, operations."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from core.settings import Settings, get_settings
from serving.api_docs import add_api_docs
from serving.dashboard import routes as dashboard
from serving.errors import ErrorResponse, ErrorShieldMiddleware, install_error_handlers
from serving.fastpath import FastPathMiddleware
from serving.limits import BodySizeLimitMiddleware
from serving.logs import configure_logging
from serving.metrics import ServiceMetrics
from serving.ratelimit import RateLimitMiddleware, TokenBucketLimiter
from serving.request_observer import ClientIds, RequestObserver
from serving.routes import (
    attribution,
    audiences,
    audit,
    budget,
    client_purge,
    clients,
    collect,
    creatives,
    erasure,
    events,
    experiments,
    exports,
    goals,
    health,
    holdout,
    industry,
    kpi,
    lift,
    mmm,
    models,
    optout,
    redirect,
    reports,
    scoring,
    spend,
)
from serving.runtime import ServiceRuntime
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


# Every keyed API route may answer these (the middlewares below), so the OpenAPI document says so
API_LIMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "The request body is over XMO_MAX_REQUEST_BYTES"},
    429: {
        "model": ErrorResponse,
        "description": "Over XMO_RATE_LIMIT_PER_MINUTE requests with this key; see Retry-After",
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    },
}


def _add_operational_middlewares(app: FastAPI, settings: Settings, metrics: ServiceMetrics) -> None:
    """Outermost first: the request observer (metrics, access log), the pixel's fast path, CORS, rate limit, body
    size, error shield."""
    app.add_middleware(ErrorShieldMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    if settings.rate_limit_per_minute > 0:
        limiter = TokenBucketLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.add_middleware(RateLimitMiddleware, limiter=limiter, dashboard_cookie=settings.dashboard_cookie_name)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "X-Xmo-Holdout"],  # the pixel's holdout flag, for fetch() callers
            max_age=600,
        )

    def tenants() -> Any:  # the runtime exists once the lifespan has run
        return getattr(getattr(app.state, "runtime", None), "tenants", None)

    app.add_middleware(FastPathMiddleware, handlers={"/t.gif": collect.record_pixel})  # ahead of all but the observer
    app.add_middleware(RequestObserver, metrics=metrics, client_ids=ClientIds(tenants))  # outermost: sees every one


def _client_ids(runtime: ServiceRuntime) -> list[str]:
    return [c.id for c in runtime.tenants.list_clients()]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; stores are opened, logging configured and models loaded in the lifespan, not here."""
    metrics = ServiceMetrics()
    config = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(config.log_format, config.log_level)
        app.state.models_loaded = False
        runtime = await asyncio.to_thread(ServiceRuntime.build, config, metrics)
        app.state.runtime = runtime
        await runtime.committer.start()
        await asyncio.to_thread(lambda: runtime.models.refresh_all(_client_ids(runtime)))
        app.state.models_loaded = True
        tasks = []
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
        if runtime.settings.purge_watch_interval_s > 0:
            tasks.append(
                asyncio.create_task(
                    _every(
                        runtime.settings.purge_watch_interval_s,
                        lambda: asyncio.to_thread(runtime.forget_purged_clients),
                        "purge watch",
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
        docs_url=None,  # serving.api_docs serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    add_api_docs(app)
    install_error_handlers(app)
    _add_operational_middlewares(app, config, metrics)
    for module in (health, collect, events, redirect, optout):
        app.include_router(module.router)
    for module in (
        clients,
        scoring,
        models,
        budget,
        creatives,
        goals,
        spend,
        kpi,
        lift,
        experiments,
        holdout,
        mmm,
        reports,
        audiences,
        attribution,
        client_purge,
        audit,
        erasure,
        exports,
        industry,
        dashboard,
    ):
        app.include_router(module.router, responses=API_LIMIT_ERRORS)
    return app
