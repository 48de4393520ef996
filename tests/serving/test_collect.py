"""The pixel, end to end over real HTTP on 127.0.0.1: hit → edge → durable spool → lake."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, TenantRegistry
from serving.app import create_app
from serving.routes.collect import PIXEL_GIF
from tracking.compactor import compact_all
from tracking.spool import Spool

RAW_IP = "203.0.113.77"
RAW_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
EMAIL = "pixel.person@example.com"
MEMBER = "M-PIXEL-0042"


@pytest.fixture
def client(settings: Settings) -> NewClient:
    return TenantRegistry.from_settings(settings).create_client("Pixel Shop", ["shop.example.com"], collect_pii=True)


def all_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_pixel_answers_gif_sets_cookie_and_stores_only_safe_fields(
    settings: Settings, client: NewClient, live_server_factory
) -> None:
    with live_server_factory(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        response = http.get(
            "/t.gif",
            params={
                "k": client.site_key,
                "url": "https://shop.example.com/p?utm_source=news&session_token=Zq9TokenValue",
                "em": EMAIL,
                "uid": MEMBER,
                "consent": "1",
                "tz": "Europe/Berlin",
            },
            headers={"User-Agent": RAW_UA, "X-Forwarded-For": RAW_IP},
        )
        assert response.status_code == 200
        assert response.content == PIXEL_GIF and len(response.content) == 43
        assert response.headers["content-type"] == "image/gif"
        assert "no-store" in response.headers["cache-control"]
        cookie = response.headers["set-cookie"]
        visitor = re.search(r"xmo_id=([0-9a-f]{32})", cookie)
        assert visitor, cookie
        assert "samesite=lax" in cookie.lower() and "max-age=" in cookie.lower()
        # the cookie is reused, not replaced
        again = http.get(
            "/t.gif",
            params={"k": client.site_key, "send_image": "0"},
            headers={"Cookie": f"xmo_id={visitor.group(1)}", "User-Agent": RAW_UA},
        )
        assert again.status_code == 204 and "set-cookie" not in again.headers
    assert Spool.from_settings(settings).pending_events() == 2
    compact_all(settings)
    stored = all_bytes(settings.home)
    for secret in (RAW_IP, RAW_UA, EMAIL, MEMBER, "session_token", "Zq9TokenValue"):
        assert secret.encode() not in stored, f"{secret!r} reached disk"
    assert b"203.0.113.0" in stored, "the truncated prefix is what is kept"


@pytest.mark.parametrize(
    ("headers", "cookies", "reason"),
    [({"Sec-GPC": "1"}, {}, "gpc"), ({}, {"xmo_optout": "1"}, "opt_out")],
)
def test_opted_out_hits_are_dropped_and_get_no_cookie(
    settings: Settings,
    client: NewClient,
    live_server_factory,
    headers: dict[str, str],
    cookies: dict[str, str],
    reason: str,
) -> None:
    with live_server_factory(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        cookie_header = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        response = http.get(
            "/t.gif", params={"k": client.site_key}, headers={**headers, **cookie_header, "User-Agent": RAW_UA}
        )
        assert response.status_code == 200 and "set-cookie" not in response.headers
        ready = http.get("/readyz").json()
    assert ready["checks"]["ingest"]["dropped"] == {reason: 1}
    assert Spool.from_settings(settings).pending_events() == 0


def test_unknown_site_key_is_answered_but_not_stored(
    settings: Settings, client: NewClient, live_server_factory
) -> None:
    with live_server_factory(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        response = http.get("/t.gif", params={"k": "xmo_site_doesnotexist"})
        assert response.status_code == 200 and "set-cookie" not in response.headers
        assert http.get("/readyz").json()["checks"]["ingest"]["dropped"] == {"unknown_site_key": 1}


def test_backdated_hits_need_the_clients_api_key(settings: Settings, client: NewClient, live_server_factory) -> None:
    other = TenantRegistry.from_settings(settings).create_client("Other", ["other.example.com"])
    old = int((datetime.now(UTC) - timedelta(days=10)).timestamp() * 1000)
    params = {"k": client.site_key, "ts": str(old)}
    cookie = {"Cookie": "xmo_id=" + "a" * 32}
    with live_server_factory(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        http.get("/t.gif", params=params, headers=cookie)
        http.get("/t.gif", params=params, headers={**cookie, "Authorization": f"Bearer {other.api_key}"})
        http.get("/t.gif", params=params, headers={**cookie, "Authorization": f"Bearer {client.api_key}"})
        ingest = http.get("/readyz").json()["checks"]["ingest"]
    assert ingest["dropped"] == {"invalid_timestamp": 2}
    assert ingest["accepted"] == 1


def test_bad_parameters_get_json_errors(settings: Settings, client: NewClient, live_server_factory) -> None:
    with live_server_factory(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        missing = http.get("/t.gif")
        bad_type = http.get("/t.gif", params={"k": client.site_key, "e": "explode"})
        bad_ts = http.get("/t.gif", params={"k": client.site_key, "ts": "yesterday"})
    for response in (missing, bad_type, bad_ts):
        assert 400 <= response.status_code < 500
        body = response.json()
        assert set(body["error"]) >= {"code", "message"} and body["error"]["message"]
    assert "k" in missing.json()["error"]["message"]


def test_metrics_count_hits_by_reason_and_requests_by_route(
    settings: Settings, client: NewClient, live_server_factory
) -> None:
    with live_server_factory(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        http.get("/t.gif", params={"k": client.site_key}, headers={"User-Agent": RAW_UA})
        http.get("/t.gif", params={"k": client.site_key}, headers={"User-Agent": RAW_UA, "Sec-GPC": "1"})
        http.get("/t.gif", params={"k": client.site_key, "em": EMAIL}, headers={"User-Agent": "Googlebot/2.1"})
        text = http.get("/metrics").text
    assert "xmo_hits_received_total 3.0" in text
    assert "xmo_hits_accepted_total 1.0" in text
    assert 'xmo_hits_dropped_total{reason="gpc"} 1.0' in text
    assert 'xmo_hits_dropped_total{reason="bot"} 1.0' in text
    assert 'xmo_http_requests_total{method="GET",route="/t.gif",status="200"} 3.0' in text
    assert "xmo_spool_pending_events 1.0" in text
    assert EMAIL not in text and client.site_key not in text, "metrics carry counts, never values"
