"""The pixel, end to end over real HTTP on 127.0.0.1: hit → edge → durable spool → lake."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.routes.collect import PIXEL_GIF
from tracking.compactor import compact_all
from tracking.spool import Spool
from xmo.server_process import ServerProcess, free_port

RAW_IP = "203.0.113.77"
RAW_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
EMAIL = "pixel.person@example.com"
MEMBER = "M-PIXEL-0042"


@pytest.fixture
def client(settings: Settings) -> NewClient:
    return Tenants.from_settings(settings).create_client("Pixel Shop", ["shop.example.com"], collect_pii=True)


def all_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_pixel_answers_gif_sets_cookie_and_stores_only_safe_fields(
    serve: Any, settings: Settings, client: NewClient
) -> None:
    with serve(settings) as http:
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
    serve: Any,
    settings: Settings,
    client: NewClient,
    headers: dict[str, str],
    cookies: dict[str, str],
    reason: str,
) -> None:
    with serve(settings) as http:
        cookie_header = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        response = http.get(
            "/t.gif", params={"k": client.site_key}, headers={**headers, **cookie_header, "User-Agent": RAW_UA}
        )
        assert response.status_code == 200 and "set-cookie" not in response.headers
        ready = http.get("/readyz").json()
    assert ready["checks"]["ingest"]["dropped"] == {reason: 1}
    assert Spool.from_settings(settings).pending_events() == 0


def test_unknown_site_key_is_answered_but_not_stored(serve: Any, settings: Settings, client: NewClient) -> None:
    with serve(settings) as http:
        response = http.get("/t.gif", params={"k": "xmo_site_doesnotexist"})
        assert response.status_code == 200 and "set-cookie" not in response.headers
        assert http.get("/readyz").json()["checks"]["ingest"]["dropped"] == {"unknown_site_key": 1}


def test_debug_says_why_a_hit_was_kept_or_dropped(serve: Any, settings: Settings, client: NewClient) -> None:
    """``debug=1`` answers a reason (never personal data) in X-Xmo-Hit; the hit is recorded as any other would be."""
    old = int((datetime.now(UTC) - timedelta(days=10)).timestamp() * 1000)
    with serve(settings) as http:
        cases = [
            ({"k": "xmo_site_doesnotexist"}, {}, "dropped: unknown_site_key"),
            ({"k": client.site_key}, {"Sec-GPC": "1"}, "dropped: gpc"),
            ({"k": client.site_key, "ts": str(old)}, {}, "dropped: invalid_timestamp"),
            ({"k": client.site_key}, {"User-Agent": RAW_UA}, "accepted"),
        ]
        for params, headers, outcome in cases:
            response = http.get("/t.gif", params={**params, "debug": "1"}, headers=headers)
            assert response.status_code == 200 and response.headers["x-xmo-hit"] == outcome, (params, headers)
        quiet = http.get("/t.gif", params={"k": "xmo_site_doesnotexist"})
        assert "x-xmo-hit" not in quiet.headers, "only when asked"
        dropped = http.get("/readyz").json()["checks"]["ingest"]["dropped"]
    assert dropped == {"unknown_site_key": 2, "gpc": 1, "invalid_timestamp": 1}
    assert Spool.from_settings(settings).pending_events() == 1


def test_backdated_hits_need_the_clients_api_key(serve: Any, settings: Settings, client: NewClient) -> None:
    other = Tenants.from_settings(settings).create_client("Other", ["other.example.com"])
    old = int((datetime.now(UTC) - timedelta(days=10)).timestamp() * 1000)
    params = {"k": client.site_key, "ts": str(old)}
    cookie = {"Cookie": "xmo_id=" + "a" * 32}
    with serve(settings) as http:
        http.get("/t.gif", params=params, headers=cookie)
        http.get("/t.gif", params=params, headers={**cookie, "Authorization": f"Bearer {other.api_key}"})
        http.get("/t.gif", params=params, headers={**cookie, "Authorization": f"Bearer {client.api_key}"})
        ingest = http.get("/readyz").json()["checks"]["ingest"]
    assert ingest["dropped"] == {"invalid_timestamp": 2}
    assert ingest["accepted"] == 1


def test_bad_parameters_get_json_errors(serve: Any, settings: Settings, client: NewClient) -> None:
    with serve(settings) as http:
        missing = http.get("/t.gif")
        bad_type = http.get("/t.gif", params={"k": client.site_key, "e": "explode"})
        bad_ts = http.get("/t.gif", params={"k": client.site_key, "ts": "yesterday"})
    for response in (missing, bad_type, bad_ts):
        assert 400 <= response.status_code < 500
        body = response.json()
        assert set(body["error"]) >= {"code", "message"} and body["error"]["message"]
    assert "k" in missing.json()["error"]["message"]


def test_metrics_count_hits_by_reason_and_requests_by_route(serve: Any, settings: Settings, client: NewClient) -> None:
    with serve(settings) as http:
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


REFUSED_PARAMS: list[dict[str, str]] = [
    {"ts": "0001-01-01T00:00:00+14:00"},  # year 0 in UTC: was a 500, and needed no valid key
    {"ts": "9999-12-31T23:59:59-14:00"},  # year 10000 in UTC
    {"ts": "1969-12-31T23:59:59Z"},
    {"ts": "١٧٦٩٨٦٠٨٠٠٠٠٠"},  # epoch ms in Arabic-Indic digits: int() reads them, a pixel does not
    {"value": "1_000"},  # float() reads it as 1000
    {"value": "١٠٠٠"},
    {"value": " 5"},
    {"value": "nan"},
]


def test_times_and_numbers_python_would_stretch_to_read_are_400s(
    serve: Any, settings: Settings, client: NewClient
) -> None:
    with serve(settings) as http:
        for params in REFUSED_PARAMS:
            for key in ("xmo_site_unknown", client.site_key):
                response = http.get("/t.gif", params={"k": key, "e": "goal", **params})
                assert response.status_code == 400, (params, response.text)
                assert response.json()["error"]["code"] in ("invalid_timestamp", "invalid_input")
        assert http.get("/t.gif", params={"k": client.site_key, "e": "goal", "value": "1e3"}).status_code == 200
        ingest = http.get("/readyz").json()["checks"]["ingest"]
    assert ingest["received"] == ingest["accepted"] == 1


def test_head_answers_the_headers_and_records_nothing(serve: Any, settings: Settings, client: NewClient) -> None:
    with serve(settings) as http:
        head = http.head("/t.gif", params={"k": client.site_key}, headers={"User-Agent": RAW_UA})
        assert head.status_code == 200 and head.headers["content-type"] == "image/gif"
        assert "no-store" in head.headers["cache-control"] and "set-cookie" not in head.headers
        assert head.content == b""
        assert http.head("/t.gif", params={"k": client.site_key, "value": "1_000"}).status_code == 400
        assert http.get("/readyz").json()["checks"]["ingest"]["received"] == 0
    assert Spool.from_settings(settings).pending_events() == 0


def test_emails_in_kept_parameters_never_reach_disk(serve: Any, settings: Settings, client: NewClient) -> None:
    with serve(settings) as http:
        response = http.get(
            "/t.gif",
            params={
                "k": client.site_key,
                "url": "https://shop.example.com/u/pixel.person%2540example.com/cart?utm_source=news"
                "&utm_content=pixel.person%40example.com",
                "ref": "https://mail.example.net/inbox/pixel.person%252540example.com",
                "utm_term": EMAIL,
                "goal": f"signup {EMAIL}",
                "e": "goal",
            },
            headers={"User-Agent": RAW_UA},
        )
        assert response.status_code == 200
    compact_all(settings)
    assert b"pixel.person" not in all_bytes(settings.home)
    rows = pa.concat_tables([pq.read_table(p) for p in settings.home.rglob("*.parquet")]).to_pylist()
    assert len(rows) == 1 and "pixel.person" not in repr(rows)  # compression could hide it from the bytes
    assert rows[0]["utm_term"] == "[redacted]" and rows[0]["goal"] == "signup [redacted]"
    assert (
        rows[0]["path"] == "/u/[redacted]/cart" and rows[0]["referrer"] == "https://mail.example.net/inbox/[redacted]"
    )


def test_a_page_url_whose_port_is_no_port_is_recorded_without_it(
    serve: Any, settings: Settings, client: NewClient
) -> None:
    """It used to fail the hit, and every hit committed with it, with a 500."""
    with serve(settings) as http:
        response = http.get("/t.gif", params={"k": client.site_key, "url": "https://shop.example.com:99999/"})
        assert response.status_code == 200
        assert http.get("/readyz").json()["checks"]["ingest"]["accepted"] == 1


def raw_request(port: int, request_line: bytes) -> tuple[bytes, bytes]:
    """Send one request line as given (httpx would refuse such bytes); the status line and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


def test_requests_the_http_parser_refuses_get_the_json_error(settings: Settings, client: NewClient) -> None:
    """``xmo serve`` itself: uvicorn answers these before the app sees them, in xmo's error shape."""
    long_url = b"/t.gif?k=" + client.site_key.encode() + b"&url=" + b"a" * 70_000
    with ServerProcess(settings.home, port=free_port()) as server:
        port = server.port
        cases = {
            "url_too_long": raw_request(port, b"GET " + long_url + b" HTTP/1.1"),
            "invalid_http_request": raw_request(
                port, b"GET /t.gif?k=" + client.site_key.encode() + b"&tz=\xff HTTP/1.1"
            ),
            "invalid_http_request ": raw_request(port, b"GET /t.g\xc3\xa9if HTTP/1.1"),
        }
        encoded = raw_request(port, b"GET /t.gif?k=" + client.site_key.encode() + b"&tz=%FF%FE HTTP/1.1")
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    for code, (status, body) in cases.items():
        assert status == b"HTTP/1.1 400 Bad Request", (code, status)
        assert json.loads(body)["error"]["code"] == code.strip()
    assert encoded[0] == b"HTTP/1.1 400 Bad Request"
    assert "UTF-8" in json.loads(encoded[1])["error"]["message"]
