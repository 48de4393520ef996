"""Sending simulated hits to a running pixel (``GET /t.gif``) over HTTP, as browsers would.

Each hit becomes one request: query parameters of the pixel, and the headers a browser or proxy sets
(``User-Agent``, ``X-Forwarded-For``, the ``xmo_id`` cookie, ``Sec-GPC``, ``DNT``), plus the client's API key
as a Bearer token, because the pixel accepts event times older than 24 h only with it. Requests go only to
the base URL given, with bounded concurrency over keep-alive connections; only connection failures are
retried (the request never reached the server), everything else is counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import numpy as np
import pandas as pd

from core.errors import InvalidInput

PIXEL_PATH = "/t.gif"
RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout)
_ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1)

PixelRequest = tuple[dict[str, str], dict[str, str]]  # (query parameters, headers)


@dataclass(frozen=True)
class HttpReport:
    """What sending hits to the pixel did."""

    hits: int  # hits given
    sent: int  # requests the server answered (any status)
    ok: int  # answered with 2xx
    failed: int  # never answered (connection failed after retries, or a transport error)
    retries: int
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # transport error type → count
    wall_s: float = 0.0

    @property
    def requests_per_s(self) -> float:
        """Answered requests per second."""
        return self.sent / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "hits": self.hits,
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "retries": self.retries,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "errors": dict(self.errors),
            "wall_s": round(self.wall_s, 3),
        }


def pixel_endpoint(base_url: str) -> str:
    """``{base_url}/t.gif`` for an http(s) base URL; ``InvalidInput`` for anything else."""
    problem = f"invalid URL {base_url!r}: give the collector's base URL, e.g. http://127.0.0.1:8000"
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidInput(problem) from exc
    if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
        raise InvalidInput(problem)
    return str(url.copy_with(path=url.path.rstrip("/") + PIXEL_PATH))


def _text(values: pd.Series) -> list[str | None]:
    """A column as Python values, missing ones as None."""
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values.tolist()]


def pixel_requests(
    hits: pd.DataFrame,
    site_key: str,
    api_key: str | None = None,
    *,
    cookie_name: str = "xmo_id",
    optout_cookie_name: str = "xmo_optout",
) -> Iterator[PixelRequest]:
    """The query parameters and headers of one pixel request per hit (raw-hit columns in, in order)."""
    n = len(hits)

    def column(name: str) -> list[str | None]:
        return _text(hits[name]) if name in hits else [None] * n

    def flag(name: str) -> list[bool]:
        return hits[name].fillna(False).astype(bool).tolist() if name in hits else [False] * n

    ts = pd.to_datetime(hits["ts"], utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[ms]")
    epoch_ms = ts.astype(np.int64).tolist()
    values = [
        None if v is None or np.isnan(v) else repr(float(v))
        for v in pd.to_numeric(hits.get("value", pd.Series(np.nan, index=hits.index))).tolist()
    ]
    params_columns = {
        "e": column("event_type"),
        "url": column("url"),
        "ref": column("referrer"),
        "cid": column("campaign_id"),
        "crid": column("creative_id"),
        "goal": column("goal"),
        "value": values,
        "currency": column("currency"),
        "eid": column("event_id"),
        "uid": column("member_id"),
        "em": column("email"),
        "tz": column("region"),
    }
    visitor, agent, ip = column("visitor_id"), column("user_agent"), column("ip")
    consent, optout, gpc, dnt = flag("consent"), flag("optout"), flag("gpc"), flag("dnt")
    names = list(params_columns)
    for i, row in enumerate(zip(*params_columns.values(), strict=True)):
        params = {"k": site_key, "send_image": "0", "ts": str(epoch_ms[i])}
        params.update({name: value for name, value in zip(names, row, strict=True) if value is not None})
        if consent[i]:
            params["consent"] = "1"
        headers: dict[str, str] = {}
        if agent[i] is not None:
            headers["User-Agent"] = agent[i]  # type: ignore[assignment]
        if ip[i] is not None:
            headers["X-Forwarded-For"] = ip[i]  # type: ignore[assignment]
        cookies = [f"{cookie_name}={visitor[i]}"] if visitor[i] is not None else []
        if optout[i]:
            cookies.append(f"{optout_cookie_name}=1")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        if gpc[i]:
            headers["Sec-GPC"] = "1"
        if dnt[i]:
            headers["DNT"] = "1"
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        yield params, headers


def _no_cookie_jar() -> httpx.Cookies:
    """A jar that stores nothing, so one simulated visitor's cookie never rides on another's request."""
    return httpx.Cookies(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))


async def send_via_http_async(
    hits: pd.DataFrame,
    base_url: str,
    site_key: str,
    api_key: str | None,
    concurrency: int = 64,
    *,
    timeout_s: float = 10.0,
    max_retries: int = 3,
    cookie_name: str = "xmo_id",
    optout_cookie_name: str = "xmo_optout",
    transport: httpx.AsyncBaseTransport | None = None,
) -> HttpReport:
    """Send every hit as a pixel request, ``concurrency`` at a time; see ``send_via_http``."""
    if concurrency < 1:
        raise InvalidInput("concurrency must be at least 1")
    endpoint = pixel_endpoint(base_url)
    requests = pixel_requests(hits, site_key, api_key, cookie_name=cookie_name, optout_cookie_name=optout_cookie_name)
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    retries = 0
    started = time.perf_counter()

    async def send(client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]) -> None:
        nonlocal retries
        for attempt in range(max_retries + 1):
            try:
                response = await client.get(endpoint, params=params, headers=headers)
            except RETRYABLE as exc:
                if attempt == max_retries:
                    errors[type(exc).__name__] += 1
                    return
                retries += 1
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            except httpx.TransportError as exc:  # it may have reached the server: never resend
                errors[type(exc).__name__] += 1
                return
            statuses[response.status_code] += 1
            return

    async def lane(client: httpx.AsyncClient) -> None:
        for params, headers in requests:  # one shared iterator: each request is taken once
            await send(client, params, headers)

    # One client with one keep-alive connection per lane: a single pool shared by many concurrent requests
    # spends more time managing itself than sending as concurrency grows. Clients close only after every lane
    # is done, since closing a client closes a transport the caller may have shared between them.
    tls = httpx.create_ssl_context()  # one TLS context for all lanes (each costs ~15 ms to build)
    lanes = max(1, min(concurrency, len(hits)))
    clients = [
        httpx.AsyncClient(
            timeout=timeout_s,
            limits=_ONE_CONNECTION,
            transport=transport,
            verify=tls,
            trust_env=False,
            follow_redirects=False,
            cookies=_no_cookie_jar(),
        )
        for _ in range(lanes)
    ]
    try:
        await asyncio.gather(*(lane(client) for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    answered = sum(statuses.values())
    return HttpReport(
        hits=len(hits),
        sent=answered,
        ok=sum(n for s, n in statuses.items() if 200 <= s < 300),
        failed=sum(errors.values()),
        retries=retries,
        statuses=dict(sorted(statuses.items())),
        errors=dict(errors),
        wall_s=time.perf_counter() - started,
    )


def send_via_http(
    hits: pd.DataFrame,
    base_url: str,
    site_key: str,
    api_key: str | None,
    concurrency: int = 64,
    *,
    timeout_s: float = 10.0,
    max_retries: int = 3,
    cookie_name: str = "xmo_id",
    optout_cookie_name: str = "xmo_optout",
    transport: httpx.AsyncBaseTransport | None = None,
) -> HttpReport:
    """Send every hit to ``{base_url}/t.gif`` and count the answers (from synchronous code only).

    ``api_key`` (the client's) lets the pixel accept event times older than 24 h; ``transport`` replaces the
    network (tests). Connection failures are retried ``max_retries`` times with backoff; nothing else is.
    """
    return asyncio.run(
        send_via_http_async(
            hits,
            base_url,
            site_key,
            api_key,
            concurrency,
            timeout_s=timeout_s,
            max_retries=max_retries,
            cookie_name=cookie_name,
            optout_cookie_name=optout_cookie_name,
            transport=transport,
        )
    )
