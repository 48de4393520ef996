"""``/v1/lift`` over real HTTP: JSON rows or CSV bodies checked like the CLI's, clear 400s that store nothing,
audited deletions, and a client's API key that sees and changes only that client's tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pandas as pd
import pytest

from core import audit
from core.apikeys import display_prefix
from core.database import get_engine
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from tracking.kpi import import_kpi
from tracking.lift import read_lift
from tracking.spend import import_spend

Api = tuple[httpx.Client, NewClient, NewClient]
DAYS = [date(2026, 1, 1) + timedelta(days=i) for i in range(59)]  # January and February


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    other = tenants.create_client("Other", ["other.example.com"])
    layout = StorageLayout.from_settings(settings)
    import_spend(layout, "acme", pd.DataFrame({"date": DAYS, "channel": "tv", "spend": 100.0}))
    import_kpi(layout, "acme", pd.DataFrame({"date": DAYS, "revenue": 1000.0}))
    with serve(settings, timeout=30) as http:
        yield http, acme, other


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    assert "Traceback" not in response.text
    return body["error"]


ROW = {
    "test_id": "tv-feb",
    "channel": "TV",
    "start_date": "2026-02-01",
    "end_date": "2026-02-14",
    "kpi": "revenue",
    "incremental_kpi": 2800,
    "standard_error": 350,
    "method": "geo",
}


def test_post_json_and_csv_then_get_and_delete(api: Api, settings: Settings) -> None:
    http, acme, other = api
    created = http.post("/v1/lift", json={"rows": [ROW]}, headers=auth(acme))
    assert created.status_code == 200, created.text
    assert {k: created.json()[k] for k in ("tests", "inserted", "test_ids", "channels")} == {
        "tests": 1,
        "inserted": 1,
        "test_ids": ["tv-feb"],
        "channels": ["tv"],
    }
    csv_body = "channel,start,end,kpi,roi,ci_lower,ci_upper,ci_level\ntv,2026-01-05,2026-01-11,revenue,2,1,3,0.9\n"
    again = http.put("/v1/lift", content=csv_body, headers={**auth(acme), "Content-Type": "text/csv"})
    assert again.status_code == 200, again.text
    assert again.json()["mapped_columns"] == {"start": "start_date", "end": "end_date"}
    listed = http.get("/v1/lift", headers=auth(acme)).json()
    assert [(t["test_id"], t["roi"], t["incremental_kpi"], t["se_source"]) for t in listed["tests"]] == [
        ("tv-20260105-20260111", 2.0, 1400.0, "interval"),
        ("tv-feb", 2.0, 2800.0, "standard_error"),
    ]
    assert http.get("/v1/lift", headers=auth(other)).json() == {"client_id": "other", "tests": []}
    assert http.delete("/v1/lift", params={"all": "true"}, headers=auth(other)).status_code == 404
    preview = http.delete("/v1/lift", params={"since": "2026-02-14", "dry_run": "true"}, headers=auth(acme))
    assert preview.json() == {"client_id": "acme", "dry_run": True, "tests": 1, "test_ids": ["tv-feb"], "remaining": 1}
    gone = http.delete("/v1/lift", params={"test_id": "tv-feb"}, headers=auth(acme))
    assert gone.status_code == 200 and gone.json()["remaining"] == 1
    assert list(read_lift(StorageLayout.from_settings(settings), "acme")["test_id"]) == ["tv-20260105-20260111"]
    actors = {e.action: e.actor for e in audit.entries(get_engine(settings), "acme", action_prefix="lift.")}
    assert actors == {"lift.import": f"key:{display_prefix(acme.api_key)}", "lift.delete": actors["lift.import"]}


BAD = [
    ({"channel": "radio"}, "row 1 (tv-feb): no spend is stored for channel 'radio'; channels with spend: tv"),
    ({"end_date": "2026-03-05"}, "row 1 (tv-feb): the test window 2026-02-01 to 2026-03-05 is outside the stored"),
    ({"standard_error": -2}, "row 1, column standard_error: -2 must be above 0"),
    ({"roi": 2}, "row 1: give the result as incremental_kpi or roi, not both"),
    ({"incremental_kpi": "a lot"}, "row 1, column incremental_kpi: 'a lot' is not a number"),
]


def test_bad_tests_are_400_and_store_nothing(api: Api, settings: Settings) -> None:
    http, acme, _ = api
    for change, message in BAD:
        response = http.post("/v1/lift", json={"rows": [{**ROW, **change}]}, headers=auth(acme))
        assert response.status_code == 400, change
        error = error_of(response)
        assert error["code"] == "invalid_input" and error["message"].startswith(message), error
    assert read_lift(StorageLayout.from_settings(settings), "acme").empty
    assert http.post("/v1/lift", json={"rows": [ROW]}).status_code == 401
    assert error_of(http.delete("/v1/lift", headers=auth(acme)))["message"].startswith("say which lift tests")
