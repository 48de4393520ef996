"""``GET /v1/export`` (a client's own events or sessions, streamed with its API key) and
``GET /v1/clients/{id}/export`` (a disclosure with the admin key, a recipient and a legal basis) over real
HTTP: readable Parquet/CSV with the caller's rows only, audited with the key's prefix."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from core import audit
from core.apikeys import KeyKind, display_prefix
from core.database import get_engine
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from tracking.compactor import compact_all
from tracking.lake import count_events, event_files
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)


@dataclass(frozen=True)
class Home:
    settings: Settings
    alpha: NewClient
    bravo: NewClient
    admin_key: str
    visitors: dict[str, frozenset[str]]


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    path = tmp_path_factory.mktemp("export-api") / "xmo-home"
    with home_at(path) as _settings:
        settings = Settings(home=path, compact_interval_s=0, model_reload_interval_s=0, rate_limit_per_minute=0)
        tenants = Tenants.from_settings(settings)
        alpha = tenants.create_client("Alpha", ["alpha.example"], client_id="alpha")
        bravo = tenants.create_client("Bravo", ["bravo.example"], client_id="bravo")
        for seed, cid in enumerate(("alpha", "bravo")):
            run_simulation(settings, cid, days=3, visitors_per_day=40, seed=seed, start=date(2026, 4, 6))
        compact_all(settings)
        layout = StorageLayout.from_settings(settings)
        visitors = {
            cid: frozenset(v for p in event_files(layout, cid) for v in pq.read_table(p)["visitor_id"].to_pylist())
            for cid in ("alpha", "bravo")
        }
        assert not visitors["alpha"] & visitors["bravo"]
        yield Home(settings, alpha, bravo, tenants.rotate_key(KeyKind.ADMIN), visitors)


@pytest.fixture
def http(home: Home, serve: Any) -> Iterator[httpx.Client]:
    with serve(home.settings, timeout=60) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def exports(settings: Settings) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(get_engine(settings)) if e.action.startswith("export.")]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and "message" in body["error"], body
    return str(body["error"]["code"])


def test_a_client_streams_its_own_events_and_sessions(home: Home, http: httpx.Client) -> None:
    before = len(exports(home.settings))
    events = http.get("/v1/export", params={"what": "events"}, headers=bearer(home.alpha.api_key))
    assert events.status_code == 200, events.text
    assert events.headers["content-type"] == "application/vnd.apache.parquet"
    assert events.headers["content-disposition"].startswith('attachment; filename="alpha-events-')
    table = pq.read_table(io.BytesIO(events.content))
    rows = count_events(StorageLayout.from_settings(home.settings), "alpha")
    assert table.num_rows == int(events.headers["x-export-rows"]) == rows
    assert set(table["client_id"].to_pylist()) == {"alpha"}
    assert set(table["visitor_id"].to_pylist()) == home.visitors["alpha"]

    sessions = http.get("/v1/export", params={"what": "sessions", "format": "csv"}, headers=bearer(home.alpha.api_key))
    assert sessions.status_code == 200 and sessions.headers["content-type"].startswith("text/csv")
    frame = pa_csv.read_csv(io.BytesIO(sessions.content)).to_pandas()
    assert len(frame) == int(sessions.headers["x-export-rows"]) > 0
    assert set(frame["visitor_id"]) <= home.visitors["alpha"]

    spend = http.get("/v1/export", params={"what": "spend", "format": "csv"}, headers=bearer(home.alpha.api_key))
    assert spend.status_code == 200 and spend.headers["content-type"].startswith("text/csv")
    spent = pa_csv.read_csv(io.BytesIO(spend.content)).to_pandas()
    assert len(spent) == int(spend.headers["x-export-rows"]) > 0 and {"date", "campaign_id", "spend"} <= set(spent)

    prefix = display_prefix(home.alpha.api_key)
    assert [(e.action, e.actor, e.client_id, e.details["what"]) for e in exports(home.settings)[before:]] == [
        ("export.client", audit.key_actor(prefix), "alpha", "events"),
        ("export.client", audit.key_actor(prefix), "alpha", "sessions"),
        ("export.client", audit.key_actor(prefix), "alpha", "spend"),
    ]


def test_another_clients_key_gets_only_its_own_rows(home: Home, http: httpx.Client) -> None:
    response = http.get("/v1/export", params={"what": "events", "format": "csv"}, headers=bearer(home.bravo.api_key))
    assert response.status_code == 200
    frame = pa_csv.read_csv(io.BytesIO(response.content)).to_pandas()
    assert set(frame["client_id"]) == {"bravo"} and set(frame["visitor_id"]) == home.visitors["bravo"]
    assert not any(v in response.text for v in home.visitors["alpha"])


def test_bad_requests_are_refused_and_not_audited(home: Home, http: httpx.Client) -> None:
    before = len(exports(home.settings))
    key = bearer(home.alpha.api_key)
    assert http.get("/v1/export", params={"what": "events"}).status_code == 401
    assert http.get("/v1/export", params={"what": "events"}, headers=bearer(home.admin_key)).status_code == 403
    assert error_code(http.get("/v1/export", params={"what": "datasets"}, headers=key)) == "invalid_request"
    assert (
        error_code(http.get("/v1/export", params={"what": "events", "format": "xml"}, headers=key)) == "invalid_request"
    )
    assert http.get("/v1/export", headers=key).status_code == 422
    assert len(exports(home.settings)) == before


def test_the_operator_discloses_with_a_recipient_and_a_legal_basis(home: Home, http: httpx.Client) -> None:
    before = len(exports(home.settings))
    admin = bearer(home.admin_key)
    path = "/v1/clients/alpha/export"
    basis = {"what": "sessions", "recipient": "Court of Example", "legal_basis": "Order 12/2026"}
    assert http.get(path, params=basis, headers=bearer(home.alpha.api_key)).status_code == 403
    missing = http.get(path, params={"what": "events", "recipient": "Court of Example"}, headers=admin)
    assert missing.status_code == 422 and "legal_basis" in missing.json()["error"]["message"]
    blank = http.get(path, params={**basis, "legal_basis": "   "}, headers=admin)
    assert blank.status_code == 400 and "legal basis must not be empty" in blank.json()["error"]["message"]
    unknown = http.get("/v1/clients/nobody/export", params=basis, headers=admin)
    assert unknown.status_code == 404 and error_code(unknown) == "not_found"
    assert len(exports(home.settings)) == before

    response = http.get(path, params={**basis, "format": "csv"}, headers=admin)
    assert response.status_code == 200, response.text
    assert set(pa_csv.read_csv(io.BytesIO(response.content)).to_pandas()["visitor_id"]) <= home.visitors["alpha"]
    (entry,) = exports(home.settings)[before:]
    assert (entry.action, entry.actor, entry.client_id) == (
        "export.third_party",
        audit.key_actor(display_prefix(home.admin_key)),
        "alpha",
    )
    assert entry.details == {
        "form": "stream",
        "what": "sessions",
        "format": "csv",
        "rows": int(response.headers["x-export-rows"]),
        "recipient": "Court of Example",
        "legal_basis": "Order 12/2026",
    }


HOSTILE = {
    "utm_campaign": "=cmd|' /C calc'!A0",
    "utm_source": '=HYPERLINK("https://evil.example","x")',  # an @ would not get this far: the edge redacts it
    "utm_medium": "+1+1",
    "utm_content": '-2+3+HYPERLINK("https://evil.example","x")',
    "utm_term": "\t=1+1",
}


def test_a_csv_export_does_not_run_formulas_hidden_in_campaign_names(settings: Settings, serve: Any) -> None:
    created = Tenants.from_settings(settings).create_client("Delta", ["delta.example"], client_id="delta")
    event = {"event_type": "goal", "visitor_id": "v" * 20, "goal": "purchase", "value": 3.5, **HOSTILE}
    with serve(settings, timeout=60) as http:
        sent = http.post("/v1/events", json=[event], headers=bearer(created.site_key))
        assert sent.status_code == 202 and sent.json()["accepted"] == 1, sent.text
        compact_all(settings)
        response = http.get("/v1/export", params={"what": "events", "format": "csv"}, headers=bearer(created.api_key))
    assert response.status_code == 200, response.text
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert {name: row[name] for name in HOSTILE} == {name: "'" + value for name, value in HOSTILE.items()}
    assert row["value"] == "3.5" and row["consent"] == "false"  # numbers and booleans as they are
    for value in HOSTILE.values():
        quoted = value.replace('"', '""')
        assert f'"\'{quoted}"' in response.text  # each such cell is quoted, starting with the quote mark
