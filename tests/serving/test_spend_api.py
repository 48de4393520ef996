"""``/v1/spend`` and ``/v1/kpi`` over real HTTP: JSON rows or CSV bodies, the same validation and idempotency
as the CLI, size limits, and a client's API key that sees and changes only that client's tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core import audit
from core.apikeys import display_prefix
from core.database import get_engine
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.request_body import TABLE_BODY_BYTES, TABLE_MAX_ROWS
from tracking.kpi import read_kpi
from tracking.spend import read_spend

Api = tuple[httpx.Client, NewClient, NewClient]


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    other = tenants.create_client("Other", ["other.example.com"])
    with serve(settings, timeout=30) as http:
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
    too_many = [{"date": "2026-01-01", "campaign_id": f"c{i}", "spend": 1} for i in range(TABLE_MAX_ROWS + 1)]
    response = http.post("/v1/spend", json={"rows": too_many}, headers=auth(acme))
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"
    huge = b"date,campaign,spend\n" + b"2026-01-01,a,1\n" * (TABLE_BODY_BYTES // 15 + 1)
    response = http.post("/v1/spend", content=huge, headers={**auth(acme), "Content-Type": "text/csv"})
    assert response.status_code == 413


def test_every_route_needs_the_clients_api_key(api: Api) -> None:
    http, acme, _ = api
    routes = [(method, path) for path in ("/v1/spend", "/v1/kpi") for method in ("GET", "POST", "PUT", "DELETE")]
    for method, path in routes:
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
    assert http.get("/v1/kpi", headers=auth(other)).json() == {"client_id": "other", "cadence": "day", "columns": []}
    bad = http.post("/v1/kpi", json={"rows": [{"date": "2026-01-03", "revenue": "n/a"}]}, headers=auth(acme))
    assert bad.status_code == 400 and error_of(bad)["message"] == "row 1, column revenue: 'n/a' is not a number"
    assert len(read_kpi(StorageLayout.from_settings(settings), "acme")) == 2


def test_hostile_json_and_dates_outside_the_window_are_400s_that_store_nothing(api: Api, settings: Settings) -> None:
    http, acme, _ = api
    row = '{"date": "2026-01-01", "campaign_id": "brand", "spend": 1, "impressions": %s}'
    cases = [
        ("/v1/spend", '{"rows": [' + row % 2**70 + "]}", "integer out of range, 1180591620717411303424"),
        ("/v1/spend", '{"rows": [' + row % ("9" * 4000) + "]}", "integer out of range, one of 4,000 digits"),
        ("/v1/spend", "[" * 100_000 + "]" * 100_000, "deeper than 32 levels"),
        ("/v1/kpi", '{"rows": [{"date": "2026-01-01", "revenue": ' + "9" * 4000 + "}]}", "one of 4,000 digits"),
        ("/v1/kpi", '{"rows": ' + "[" * 100_000 + "]" * 100_000 + "}", "deeper than 32 levels"),
        ("/v1/kpi", '{"rows": [{"date": "2026-01-01", "revenue": 1e999}]}', "number out of range, 1e999"),
    ]
    for path, body, message in cases:
        headers = {**auth(acme), "Content-Type": "application/json"}
        for method in ("POST", "PUT"):
            response = http.request(method, path, content=body, headers=headers)
            assert response.status_code == 400, (method, path, response.text)
            error = error_of(response)
            assert error["code"] == "invalid_json" and message in error["message"], (path, error)
    for path, fields in (("/v1/spend", {"campaign_id": "brand", "spend": 1}), ("/v1/kpi", {"revenue": 1})):
        for day in ("0001-01-01", "9999-12-31"):  # once stored, and every budget request answered 500
            response = http.post(path, json={"rows": [{**fields, "date": day}]}, headers=auth(acme))
            assert response.status_code == 400, response.text
            assert f"row 1, column date: {day} is outside 2000-01-01 to " in error_of(response)["message"]
    assert read_spend(StorageLayout.from_settings(settings), "acme").empty
    assert read_kpi(StorageLayout.from_settings(settings), "acme").empty
    assert http.get("/healthz").status_code == 200


def test_delete_spend_and_kpi_rows(api: Api, settings: Settings) -> None:
    http, acme, other = api
    assert http.post("/v1/spend", json={"rows": ROWS}, headers=auth(acme)).status_code == 200
    kpi_rows = [{"date": "2026-01-01", "revenue": 1}, {"date": "2026-01-02", "revenue": 2}]
    assert http.post("/v1/kpi", json={"rows": kpi_rows}, headers=auth(acme)).status_code == 200
    # another client's key finds nothing of acme's to delete
    assert http.delete("/v1/spend", params={"all": "true"}, headers=auth(other)).status_code == 404
    preview = http.delete("/v1/spend", params={"channel": "tv", "dry_run": "true"}, headers=auth(acme))
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "client_id": "acme",
        "dry_run": True,
        "rows": 1,
        "first_date": "2026-01-01",
        "last_date": "2026-01-01",
        "campaigns": ["tv"],
        "total_spend": 2500.0,
        "remaining": 1,
    }
    assert len(read_spend(StorageLayout.from_settings(settings), "acme")) == 2
    done = http.delete("/v1/spend", params={"since": "2026-01-01", "campaign": "brand"}, headers=auth(acme))
    assert done.status_code == 200 and (done.json()["rows"], done.json()["remaining"]) == (1, 1)
    assert read_spend(StorageLayout.from_settings(settings), "acme")["campaign_id"].tolist() == ["tv"]
    kpi = http.delete("/v1/kpi", params={"until": "2026-01-01"}, headers=auth(acme))
    assert kpi.status_code == 200 and (kpi.json()["rows"], kpi.json()["remaining"]) == (1, 1)
    entries = [e for e in audit.entries(get_engine(settings), "acme") if e.action.endswith(".delete")]
    assert [(e.action, e.actor) for e in entries] == [
        ("spend.delete", f"key:{display_prefix(acme.api_key)}"),
        ("kpi.delete", f"key:{display_prefix(acme.api_key)}"),
    ]
    refused = [
        ("/v1/spend", {}, 400, "invalid_input", "say which spend to delete"),
        ("/v1/spend", {"all": "true", "channel": "tv"}, 400, "invalid_input", "(alone)"),
        ("/v1/spend", {"since": "2026-02-01", "until": "2026-01-01"}, 400, "invalid_input", "is after until"),
        ("/v1/spend", {"campaign": "brand"}, 404, "not_found", "matches: campaign brand"),
        ("/v1/spend", {"since": "yesterday"}, 422, "invalid_request", "since"),
        # Unix time is not a day: pydantic alone read since=0 as 1970-01-01, which deleted every row
        ("/v1/spend", {"since": "0"}, 422, "invalid_request", "since"),
        ("/v1/kpi", {"until": "86400"}, 422, "invalid_request", "until"),
        ("/v1/kpi", {}, 400, "invalid_input", "say which KPI dates to delete"),
        ("/v1/kpi", {"since": "2026-03-01"}, 404, "not_found", "no stored KPI row since 2026-03-01"),
        ("/v1/kpi", {"until": "2026-13-01"}, 422, "invalid_request", "until"),
    ]
    for path, params, status, code, fragment in refused:
        response = http.delete(path, params=params, headers=auth(acme))
        assert response.status_code == status, (path, params, response.text)
        error = error_of(response)
        assert error["code"] == code and fragment in error["message"], (path, params, error)
    assert len(read_spend(StorageLayout.from_settings(settings), "acme")) == 1
    assert len(read_kpi(StorageLayout.from_settings(settings), "acme")) == 1


def test_weekly_rows_say_their_grain_and_a_cadence_is_checked(api: Api, settings: Settings) -> None:
    http, acme, _ = api
    weeks = "date,channel,spend\n2026-01-04,tv,700\n2026-01-11,tv,710\n2026-01-18,tv,720\n"
    created = http.post("/v1/spend", content=weeks, headers={**auth(acme), "Content-Type": "text/csv"})
    assert created.status_code == 200, created.text
    grain = created.json()["grain"]
    assert (created.json()["cadence"], grain["week_start"], grain["periods"], grain["detected"]) == (
        "week",
        "Sunday",
        3,
        True,
    )
    tv = http.get("/v1/spend", headers=auth(acme)).json()["campaigns"][0]
    assert (tv["cadence"], tv["days"]) == ("week", 21)
    kpi = {"rows": [{"date": "2026-01-04", "revenue": 5000}, {"date": "2026-01-06", "revenue": 5100}]}
    refused = http.post("/v1/kpi?cadence=week", json=kpi, headers=auth(acme))
    assert refused.status_code == 400 and "2026-01-06" in error_of(refused)["message"]
    unknown = http.post("/v1/kpi?cadence=monthly", json=kpi, headers=auth(acme))
    assert unknown.status_code == 400
    assert error_of(unknown)["message"] == "unknown cadence 'monthly': use day or week"
    one_week = http.post("/v1/kpi?cadence=week", json={"rows": kpi["rows"][:1]}, headers=auth(acme))
    assert one_week.status_code == 200 and one_week.json()["grain"]["cadence"] == "week"
    assert http.get("/v1/kpi", headers=auth(acme)).json()["cadence"] == "week"
    assert len(read_kpi(StorageLayout.from_settings(settings), "acme")) == 1


def test_a_wide_table_posts_as_spend_and_as_kpis(api: Api, settings: Settings) -> None:
    http, acme, _ = api
    table = "date_week,y,tv,search\n2026-01-05,4000,300,0\n2026-01-12,4100,0,90\n"
    csv = {**auth(acme), "Content-Type": "text/csv"}
    spend = http.post("/v1/spend?wide=tv,search", content=table, headers=csv)
    assert spend.status_code == 200, spend.text
    assert (spend.json()["channels"], spend.json()["rows"], spend.json()["ignored_columns"]) == (2, 4, ["y"])
    kpi = http.post("/v1/kpi?ignore=tv,search", content=table, headers=csv)
    assert kpi.status_code == 200 and kpi.json()["columns"] == ["y"], kpi.text
    unknown = http.post("/v1/spend?wide=tv,radio", content=table, headers=csv)
    assert unknown.status_code == 400 and error_of(unknown)["message"].startswith("wide: no column 'radio' in the file")
    stored = read_spend(StorageLayout.from_settings(settings), "acme")
    assert sorted(stored["channel"].unique()) == ["search", "tv"] and stored["spend"].sum() == 390
