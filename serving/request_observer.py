"""The outermost middleware: every HTTP request counted, timed and logged once.

Nothing personal reaches the access line: it names the route template (never the URL or its query string), the
status, the duration and the client id, never addresses, user agents or keys.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from core.apikeys import hash_key
from core.tenants import Tenants
from serving.logs import ACCESS_LOGGER, QUIET_PATHS
from serving.metrics import ServiceMetrics
from serving.ratelimit import bearer_token


class ClientIds:
    """Which client a presented key belongs to, for log lines (cached by key hash, one tenants query a minute)."""

    def __init__(
        self, registry_of: Callable[[], Tenants | None], ttl_s: float = 60.0, max_entries: int = 10_000
    ) -> None:
        self._registry_of = registry_of  # None until the lifespan has built the runtime
        self._ttl = ttl_s
        self._max = max_entries
        self._cache: dict[str, tuple[float, str | None]] = {}

    def cached(self, token: str) -> tuple[str, str | None] | None:
        """(key hash, client id) when known and fresh; None when the tenants must be asked."""
        digest = hash_key(token)
        entry = self._cache.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return digest, entry[1]
        return None

    def lookup(self, token: str) -> str | None:
        """Ask the tenants (blocking) and remember the answer."""
        tenants: Tenants | None = self._registry_of()
        client_id = None
        if tenants is not None:
            try:
                client_id = tenants.authenticate(token).client_id
            except Exception:  # unknown, revoked or malformed: no client to name
                client_id = None
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[hash_key(token)] = (time.monotonic() + self._ttl, client_id)
        return client_id


class RequestObserver:
    """Watches every HTTP request once, outermost: counts and times it in the metrics (by route template, never by
    URL) and logs one line: method, route template, status, duration and the caller's client id.

    The collection and probe paths (:data:`QUIET_PATHS`) are logged only when they fail with a 5xx; they are
    counted like every other request (the pixel's fast path included).
    """

    def __init__(self, app: Any, metrics: ServiceMetrics, client_ids: ClientIds) -> None:
        self.app = app
        self.metrics = metrics
        self.client_ids = client_ids
        self.logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        except Exception:
            self._count(scope, 500, started)
            self._log(scope, 500, started, None)
            raise
        self._count(scope, status, started)
        if scope["path"] in QUIET_PATHS and status < 500:
            return
        self._log(scope, status, started, await self._client_id(scope, status))

    def _count(self, scope: Any, status: int, started: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.observe(route, scope["method"], status, time.perf_counter() - started)

    async def _client_id(self, scope: Any, status: int) -> str | None:
        state = scope.get("state") or {}
        if state.get("client_id"):
            return str(state["client_id"])
        if status == 401:
            return None
        token = bearer_token(scope["headers"])
        if token is None:
            return None
        known = self.client_ids.cached(token)
        if known is not None:
            return known[1]
        return await asyncio.to_thread(self.client_ids.lookup, token)

    def _log(self, scope: Any, status: int, started: float, client_id: str | None) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        level = logging.ERROR if status >= 500 else logging.INFO
        if self.logger.isEnabledFor(level):
            fields = {
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "client_id": client_id,
            }
            self.logger.log(level, "%s %s %d", scope["method"], route, status, extra=fields)
