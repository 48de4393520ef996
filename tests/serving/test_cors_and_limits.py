"""CORS only for configured origins, and the request size limit (413 JSON), over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.app import create_app

ALLOWED = "https://dashboard.acme.example"
PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}


def serve(xmo_home: Any, live_server_factory: Any, **overrides: Any) -> tuple[Any, NewClient]:
    settings = Settings(home=xmo_home, compact_interval_s=0, model_reload_interval_s=0, **overrides)
    acme = Tenants.from_settings(settings).create_client("Acme", ["acme.example.com"])
    return live_server_factory(create_app(settings)), acme


@pytest.fixture
def cors(xmo_home: Any, live_server_factory: Any) -> Iterator[tuple[httpx.Client, NewClient]]:
    server, acme = serve(xmo_home, live_server_factory, cors_origins=(ALLOWED,))
    with server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http, acme


def test_configured_origin_may_call_the_api(cors: tuple[httpx.Client, NewClient]) -> None:
    http, acme = cors
    preflight = http.options("/v1/goals", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = http.get("/v1/goals", headers={"Origin": ALLOWED, "Authorization": f"Bearer {acme.api_key}"})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-credentials" not in response.headers, "keys travel as bearer tokens, not cookies"


def test_other_origins_get_no_cors_headers(cors: tuple[httpx.Client, NewClient]) -> None:
    http, acme = cors
    evil = "https://evil.example"
    preflight = http.options("/v1/goals", headers={"Origin": evil, **PREFLIGHT})
    assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers
    response = http.get("/v1/goals", headers={"Origin": evil, "Authorization": f"Bearer {acme.api_key}"})
    assert "access-control-allow-origin" not in response.headers


def test_no_cors_by_default(xmo_home: Any, live_server_factory: Any) -> None:
    server, acme = serve(xmo_home, live_server_factory)
    with server, httpx.Client(base_url=server.url, timeout=30) as http:
        preflight = http.options("/v1/goals", headers={"Origin": ALLOWED, **PREFLIGHT})
        response = http.get("/v1/goals", headers={"Origin": ALLOWED, "Authorization": f"Bearer {acme.api_key}"})
    assert preflight.status_code == 405 and preflight.json()["error"]["code"] == "method_not_allowed"
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in response.headers


def test_bodies_over_the_limit_get_a_json_413(xmo_home: Any, live_server_factory: Any) -> None:
    server, acme = serve(xmo_home, live_server_factory, max_request_bytes=4096)
    auth = {"Authorization": f"Bearer {acme.api_key}", "Content-Type": "application/json"}
    big = b'{"name": "purchase", "match": "' + b"x" * 5000 + b'"}'

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must count what arrives
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    with server, httpx.Client(base_url=server.url, timeout=30) as http:
        declared = http.post("/v1/goals", content=big, headers=auth)
        chunked = http.post("/v1/goals", content=chunks(), headers=auth)
        chunked_stream = http.post(
            "/v1/events", content=chunks(), headers={**auth, "Authorization": f"Bearer {acme.site_key}"}
        )
        small = http.post("/v1/goals", json={"name": "purchase"}, headers=auth)
        still_served = http.get("/v1/goals", headers=auth)
    for response in (declared, chunked, chunked_stream):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "too_large" and "4,096 bytes" in response.json()["error"]["message"]
        assert "Traceback" not in response.text
    assert small.status_code == 201 and still_served.status_code == 200
    assert [g["name"] for g in still_served.json()["goals"]] == ["purchase"]


def test_bad_bodies_stay_json(xmo_home: Any, live_server_factory: Any) -> None:
    server, acme = serve(xmo_home, live_server_factory)
    auth = {"Authorization": f"Bearer {acme.api_key}", "Content-Type": "application/json"}
    with server, httpx.Client(base_url=server.url, timeout=30) as http:
        answers = [
            http.post("/v1/goals", content=b"{not json", headers=auth),
            http.post("/v1/goals", content=b'{"name": NaN}', headers=auth),
            http.post("/v1/score", json={"sessions": [{}] * 10_001}, headers=auth),
            http.post("/v1/score", json={"sessions": [{"pageviews": "many"}]}, headers=auth),
            http.get("/v1/nothing-here", headers=auth),
        ]
    assert [a.status_code for a in answers] == [422, 422, 422, 422, 404]
    for answer in answers:
        body = answer.json()
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
        assert "Traceback" not in answer.text
