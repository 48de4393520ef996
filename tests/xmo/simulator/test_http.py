"""Hits over HTTP: the request format, retries only for connection failures, and the real pixel end to end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI, Request, Response

from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from serving.app import create_app
from tracking.compactor import compact_all
from tracking.lake import event_files
from xmo.simulator.http import pixel_endpoint, send_via_http
from xmo.simulator.traffic import Traffic, simulate
from xmo.simulator.world import build_world

from .conftest import recent_start


def _recorder() -> tuple[FastAPI, list[Request]]:
    app = FastAPI()
    seen: list[Request] = []

    @app.get("/collect/t.gif")
    async def pixel(request: Request) -> Response:
        seen.append(request)
        return Response(status_code=204)

    return app, seen


def _row(hits: pd.DataFrame, mask: pd.Series) -> pd.Series:
    return hits[mask].iloc[0]


def test_each_hit_becomes_one_pixel_request_with_browser_headers(small_traffic: Traffic) -> None:
    app, seen = _recorder()
    every = small_traffic.hits
    picks = [
        every["goal"] == "purchase",
        every["optout"],
        every["gpc"] & every["dnt"],
        every["email"].notna() & every["member_id"].notna() & every["consent"],
    ]
    hits = pd.concat([every.head(200), *(every[m].head(3) for m in picks)]).drop_duplicates("event_id")
    report = send_via_http(
        hits,
        "http://collector.test/collect/",
        "site-key",
        "api-key",
        concurrency=8,
        transport=httpx.ASGITransport(app=app),
    )
    assert report.sent == report.ok == len(hits) == len(seen) and report.failed == 0
    by_eid = {r.query_params["eid"]: r for r in seen}
    assert set(by_eid) == set(hits["event_id"])
    assert all(r.url.path == "/collect/t.gif" and r.query_params["k"] == "site-key" for r in seen)
    assert all(r.headers["authorization"] == "Bearer api-key" and r.query_params["send_image"] == "0" for r in seen)

    purchase = _row(hits, hits["goal"] == "purchase")
    request = by_eid[purchase["event_id"]]
    q, h = request.query_params, request.headers
    assert q["e"] == "goal" and q["goal"] == "purchase" and float(q["value"]) == purchase["value"]
    assert q["currency"] == "EUR" and q["tz"] == purchase["region"] and q["url"] == purchase["url"]
    assert q["ref"] == purchase["referrer"]
    assert int(q["ts"]) == purchase["ts"].value // 1_000_000, "epoch milliseconds (value is in ns)"
    assert h["user-agent"] == purchase["user_agent"] and h["x-forwarded-for"] == purchase["ip"]
    opted_out = _row(hits, hits["optout"])
    assert by_eid[opted_out["event_id"]].cookies == {"xmo_id": opted_out["visitor_id"], "xmo_optout": "1"}

    pii = _row(hits, hits["email"].notna() & hits["member_id"].notna() & hits["consent"])
    q = by_eid[pii["event_id"]].query_params
    assert q["em"] == pii["email"] and q["uid"] == pii["member_id"] and q["consent"] == "1"
    plain = _row(
        hits,
        ~hits["consent"]
        & hits["referrer"].isna()
        & hits["email"].isna()
        & hits["member_id"].isna()
        & ~hits["gpc"]
        & ~hits["dnt"]
        & ~hits["optout"],
    )
    request = by_eid[plain["event_id"]]
    assert not {"consent", "ref", "em", "uid", "goal", "value"} & set(request.query_params)
    assert not {"sec-gpc", "dnt"} & set(request.headers) and "xmo_optout" not in request.cookies
    gpc = by_eid[_row(hits, hits["gpc"] & hits["dnt"])["event_id"]]
    assert gpc.headers["sec-gpc"] == "1" and gpc.headers["dnt"] == "1"


def _flaky(fail_with: type[httpx.TransportError], failures: int) -> tuple[httpx.MockTransport, list[int]]:
    calls: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= failures:
            raise fail_with("boom", request=request)
        return httpx.Response(204)

    return httpx.MockTransport(handler), calls


@pytest.mark.parametrize(
    ("error", "failures", "answered", "retries", "calls"),
    [(httpx.ConnectError, 2, 1, 2, 3), (httpx.ConnectError, 9, 0, 3, 4), (httpx.ReadError, 1, 0, 0, 1)],
)
def test_only_connection_failures_are_retried(
    small_traffic: Traffic, error: type[httpx.TransportError], failures: int, answered: int, retries: int, calls: int
) -> None:
    transport, made = _flaky(error, failures)
    report = send_via_http(small_traffic.hits.iloc[:1], "http://collector.test", "k", None, transport=transport)
    assert (report.sent, report.retries, len(made), report.failed) == (answered, retries, calls, 1 - answered)


@pytest.mark.parametrize("url", ["ftp://example.com", "127.0.0.1:8000", "http://", "http://h/?x=1"])
def test_only_http_base_urls_are_accepted(url: str) -> None:
    with pytest.raises(InvalidInput, match="base URL"):
        pixel_endpoint(url)


def test_through_the_real_pixel_into_the_lake(settings: Settings, live_server_factory: Callable[[Any], Any]) -> None:
    created = Tenants.from_settings(settings).create_client(
        "Sim Shop", ["shop.example.com"], client_id="sim-shop", collect_pii=True
    )
    world = build_world(seed=3, days=2, visitors_per_day=40, start=recent_start(2))
    traffic = simulate(world, client_id="sim-shop", domain="shop.example.com")
    with live_server_factory(create_app(settings)) as server:
        report = send_via_http(traffic.hits, server.url, created.site_key, created.api_key, concurrency=16)
    assert report.statuses == {204: len(traffic.hits)}
    compact_all(settings)
    lake = pa.concat_tables([pq.read_table(p) for p in event_files(StorageLayout(settings.home), "sim-shop")])
    events = lake.to_pandas()
    hits = traffic.hits.set_index("event_id")
    kept = hits[~(hits["optout"] | hits["gpc"] | hits["user_agent"].str.contains("bot|curl|python|Headless"))]
    assert set(events["event_id"]) == set(kept.index), "exactly the hits without opt-out, GPC or bot arrive"
    sent = kept.loc[events["event_id"]]
    assert (events["visitor_id"].to_numpy() == sent["visitor_id"].to_numpy()).all(), "visitor id from the cookie"
    assert (events["region"].to_numpy() == sent["region"].to_numpy()).all()
    sent_ms = sent["ts"].dt.floor("ms").dt.tz_convert(None).to_numpy()
    assert (events["ts"].dt.tz_convert(None).to_numpy() == sent_ms).all(), "event time from ts (milliseconds)"
    assert events["ip_prefix"].str.match(r"(192\.0\.2|198\.51\.100|203\.0\.113)\.0$|2001:db8:").all(), (
        "addresses come from X-Forwarded-For and are truncated"
    )
    assert (events["source"] == "pixel").all()
