"""Rate limits per key: a token bucket per presented bearer key, in this process's memory.

Keyed by the SHA-256 of the key (the raw key is never kept), so each API, admin or site key has its own
budget; dashboard requests by their session cookie, and sign-in attempts by the peer address (hashed, in
memory only). Other requests without a key are not limited here (they fail authentication cheaply). Collection
(``/t.gif``, ``/r``, ``/v1/events``) is exempt: site keys are public, so a limit keyed by them would let a
stranger silence a client's tracking; the edge defends those routes with size limits and typed drops.
With several workers each process keeps its own buckets, so a key may reach ``workers ×`` the limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import cookie_parser

from core.apikeys import hash_key
from serving.errors import error_body

SIGN_IN_PATH = "/sign-in"
EXEMPT_PATHS = frozenset({"/t.gif", "/r", "/v1/events", "/healthz", "/readyz", "/metrics"})


class TokenBucketLimiter:
    """``burst`` requests at once, refilled at ``per_minute / 60`` per second, per key.

    Not thread-safe on purpose: it runs in the event loop only.
    """

    def __init__(
        self, per_minute: int, burst: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a limiter needs per_minute > 0 and burst >= 1")
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, updated]

    def acquire(self, key: str) -> float:
        """Take one token: 0.0 when allowed, else the seconds until a token is available."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget full buckets (same as absent); if most are still busy, forget all (fail open, never grow)."""
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full_after}
        if len(self._buckets) > self.max_keys * 3 // 4:
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)


def cookie_value(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    """The value of cookie ``name`` in raw ASGI headers (parsed as Starlette parses ``request.cookies``), or None."""
    for header, value in headers:
        if header == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(name) or None
    return None


def credential(scope: Any, dashboard_cookie: str) -> str | None:
    """What a request is limited by: its bearer key, else its dashboard session cookie, else (sign-in only)
    the peer address, kept hashed in memory and never logged."""
    headers = scope["headers"]
    token = bearer_token(headers)
    if token is not None:
        return token
    session = cookie_value(headers, dashboard_cookie)
    if session is not None:
        return "cookie:" + session
    if scope["path"] == SIGN_IN_PATH and scope.get("client"):
        return "sign-in:" + str(scope["client"][0])
    return None


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header in raw ASGI headers, or None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


class RateLimitMiddleware:
    """Answers 429 (JSON, ``Retry-After``) when a key has spent its bucket; other requests pass untouched."""

    def __init__(
        self, app: Any, limiter: TokenBucketLimiter, dashboard_cookie: str, exempt: frozenset[str] = EXEMPT_PATHS
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.dashboard_cookie = dashboard_cookie
        self.exempt = exempt

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in self.exempt:
            token = credential(scope, self.dashboard_cookie)
            if token is not None:
                wait = self.limiter.acquire(hash_key(token))
                if wait > 0:
                    retry_after = max(1, math.ceil(wait))
                    response = JSONResponse(
                        error_body(
                            "rate_limited",
                            f"more than {self.limiter.per_minute} requests per minute with this key; "
                            f"retry in {retry_after} s",
                        ),
                        status_code=429,
                        headers={"Retry-After": str(retry_after)},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
