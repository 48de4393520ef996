"""``/v1/spend`` and ``/v1/kpi`` over real HTTP: JSON rows or CSV bodies, the same validation and idempotency
as the CLI, size limits, and a client's API key that sees and changes only that client's tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, TenantRegistry
from serving.app import create_app
from serving.routes.spend import MAX_BODY_BYTES, MAX_ROWS
from tracking.kpi import read_kpi
from tracking.spend import read_spend

Api = tuple[httpx.Client, NewClient, NewClient]


@pytest.fixture
def api(settings: Settings, live_server_factory: Any) -> Iterator[Api]:
    registry = TenantRegistry.from_settings(settings)
    acme = registry.create_client("Acme", ["acme.example.com"])
    other = registry.create_client("Other", ["other.example.com"])
    with live_server_factory(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http, acme, other


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    assert "Traceback" not in response.text
    return body["error"]


ROWS = [
    {"date": "2026-01-01", "campaign_id": "brand", "channel": "search", "spend": 120.5, "clicks": 40},
    {"date": "2026-01-01", "channel": "TV", "spend": 2500},
]


def test_post_json_and_csv_then_get(api: Api, settings: Settings) -> None:
    http, acme, other = api
    created = http.post("/v1/spend", json={"rows": ROWS}, headers=auth(acme))
    assert created.status_code == 200, created.text
    body = created.json()
    assert (body["rows"], body["inserted"], body["campaigns"], body["channels"]) == (2, 2, 1, 1)
    assert (body["channel_rows"], body["unknown_campaigns"]) == (1, ["brand"])
    assert "cannot be checked" in body["warnings"][0]
    csv_body = "date,campaign,spend\n2026-01-01,brand,130\n2026-01-02,brand,90\n"
    again = http.post("/v1/spend", content=csv_body, headers={**auth(acme), "Content-Type": "text/csv"})
    assert again.status_code == 200, again.text
    assert (again.json()["inserted"], again.json()["replaced"]) == (1, 1)
    stored = read_spend(StorageLayout.from_settings(settings), "acme")
    assert len(stored) == 3 and stored["spend"].sum() == pytest.approx(2720.0)
    summary = http.get("/v1/spend", headers=auth(acme)).json()
    assert summary["client_id"] == "acme"
    assert [(c["campaign_id"], c["days"], c["spend"]) for c in summary["campaigns"]] == [
        ("brand", 2, 220.0),
        ("tv", 1, 2500.0),
    ]
    assert http.get("/v1/spend", headers=auth(other)).json() == {"client_id": "other", "campaigns": []}


def test_bad_rows_are_400_and_store_nothing(api: Api, settings: Settings) -> None:
    http, acme, _ = api
    bad = [ROWS[0], {"date": "2026-01-02", "campaign_id": "brand", "spend": -1}]
    response = http.post("/v1/spend", json={"rows": bad}, headers=auth(acme))
    assert response.status_code == 400
    assert error_of(response) == {"code": "invalid_input", "message": "row 2, column spend: -1.0 is negative"}
    twice = http.post("/v1/spend", json={"rows": [ROWS[0], ROWS[0]]}, headers=auth(acme))
    assert twice.status_code == 400 and "rows 1 and 2 repeat (2026-01-01, brand)" in error_of(twice)["message"]
    assert read_spend(StorageLayout.from_settings(settings), "acme").empty
    shape = http.post("/v1/spend", json=ROWS, headers=auth(acme))
    assert shape.status_code == 400 and 'the body must be an object {"rows": [...]}' in error_of(shape)["message"]
    empty = http.post("/v1/spend", json={"rows": []}, headers=auth(acme))
    assert empty.status_code == 400 and error_of(empty)["message"] == "no rows to import"
    not_json = http.post("/v1/spend", content=b"{rows", headers={**auth(acme), "Content-Type": "application/json"})
    assert not_json.status_code == 400 and error_of(not_json)["code"] == "invalid_json"
    xml = http.post("/v1/spend", content=b"<rows/>", headers={**auth(acme), "Content-Type": "application/xml"})
    assert xml.status_code == 415


def test_limits(api: Api) -> None:
    http, acme, _ = api
    too_many = [{"date": "2026-01-01", "campaign_id": f"c{i}", "spend": 1} for i in range(MAX_ROWS + 1)]
    response = http.post("/v1/spend", json={"rows": too_many}, headers=auth(acme))
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"
    huge = b"date,campaign,spend\n" + b"2026-01-01,a,1\n" * (MAX_BODY_BYTES // 15 + 1)
    response = http.post("/v1/spend", content=huge, headers={**auth(acme), "Content-Type": "text/csv"})
    assert response.status_code == 413


def test_every_route_needs_the_clients_api_key(api: Api) -> None:
    http, acme, _ = api
    for method, path in (("GET", "/v1/spend"), ("POST", "/v1/spend"), ("GET", "/v1/kpi"), ("POST", "/v1/kpi")):
        response = http.request(method, path, json={"rows": ROWS})
        assert response.status_code == 401, (method, path)
        site_key = http.request(method, path, json={"rows": ROWS}, headers={"Authorization": f"Bearer {acme.site_key}"})
        assert site_key.status_code == 403, (method, path)


def test_kpi_post_and_get(api: Api, settings: Settings) -> None:
    http, acme, other = api
    rows = [{"date": "2026-01-02", "revenue": 200, "orders": 2}, {"date": "2026-01-01", "revenue": 100, "orders": 1}]
    created = http.post("/v1/kpi", json={"rows": rows}, headers=auth(acme))
    assert created.status_code == 200, created.text
    assert created.json()["columns"] == ["revenue", "orders"] and created.json()["inserted"] == 2
    csv_body = "date,promo\n2026-01-01,1\n2026-01-02,0\n"
    merged = http.post("/v1/kpi", content=csv_body, headers={**auth(acme), "Content-Type": "text/csv"})
    assert merged.status_code == 200 and merged.json()["updated"] == 2 and merged.json()["new_columns"] == ["promo"]
    kpi = read_kpi(StorageLayout.from_settings(settings), "acme")
    assert list(kpi.columns) == ["date", "revenue", "orders", "promo"] and kpi["revenue"].tolist() == [100.0, 200.0]
    summary = http.get("/v1/kpi", headers=auth(acme)).json()
    assert [c["column"] for c in summary["columns"]] == ["revenue", "orders", "promo"]
    assert http.get("/v1/kpi", headers=auth(other)).json() == {"client_id": "other", "columns": []}
    bad = http.post("/v1/kpi", json={"rows": [{"date": "2026-01-03", "revenue": "n/a"}]}, headers=auth(acme))
    assert bad.status_code == 400 and error_of(bad)["message"] == "row 1, column revenue: 'n/a' is not a number"
    assert len(read_kpi(StorageLayout.from_settings(settings), "acme")) == 2
