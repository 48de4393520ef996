"""``POST /v1/erasure`` and ``POST /v1/subject-export`` over real HTTP: the client's API key erases or exports
exactly one of its own data subjects, another client's key changes nothing, bad bodies are refused, and the
raw identifiers of a request reach no file and no log line."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from core import audit
from core.apikeys import display_prefix
from core.database import get_engine
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.app import create_app
from serving.logs import configure_logging
from tests.conftest import LiveServer
from tracking.collector import Collector
from tracking.compactor import compact_all
from tracking.lake import event_files

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)


@dataclass
class Api:
    http: httpx.Client
    acme: NewClient
    other: NewClient
    settings: Settings
    log: io.StringIO


@dataclass(frozen=True)
class People:
    """Ann (cookie id, plus an e-mail and a member id on two events) and Bob, fresh for each test."""

    ann: str
    bob: str
    email: str
    member: str


def _hits(visitor: str, n: int, prefix: str, **extra: Any) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "client_id": "acme",
            "event_type": "pageview",
            "visitor_id": visitor,
            "event_id": f"{prefix}-{i}",
            "ts": now - timedelta(days=2, hours=i),
            "url": f"https://acme.example/p/{i}",
            "consent": True,
            **extra,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def api(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the module (starting one takes seconds); each test brings its own people."""
    home = tmp_path_factory.mktemp("erasure-api") / "xmo-home"
    with home_at(home) as settings:
        tenants = Tenants.from_settings(settings)
        acme = tenants.create_client("Acme", ["acme.example"], client_id="acme", collect_pii=True)
        other = tenants.create_client("Other", ["other.example"], client_id="other")
        log = io.StringIO()
        server = LiveServer(create_app(settings))
        with server, httpx.Client(base_url=server.url, timeout=60) as http:
            configure_logging("json", "DEBUG", stream=log)
            try:
                yield Api(http, acme, other, settings, log)
            finally:
                for handler in [h for h in logging.getLogger().handlers if getattr(h, "_xmo_handler", False)]:
                    logging.getLogger().removeHandler(handler)


@pytest.fixture
def people(api: Api) -> People:
    """Ann's 6 lake events and 1 spooled one, Bob's 3 lake events, under ids no other test uses."""
    tag = secrets.token_hex(6)
    who = People(f"ann-{tag}-visitor", f"bob-{tag}-visitor", f"ann.{tag}@example.com", f"member-{tag}")
    tenants = Tenants.from_settings(api.settings)
    collector = Collector.from_settings(api.settings, tenants)
    collector.ingest(_hits(who.ann, 4, f"ann-{tag}") + _hits(who.bob, 3, f"bob-{tag}"))
    collector.ingest(_hits(who.ann, 2, f"ann-id-{tag}", email=who.email, member_id=who.member))
    compact_all(api.settings)
    collector.ingest(_hits(who.ann, 1, f"ann-late-{tag}"))
    collector.spool.close()
    return who


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert "Traceback" not in response.text
    return body["error"]


def lake(settings: Settings) -> pa.Table:
    files = event_files(StorageLayout.from_settings(settings), "acme")
    return pa.concat_tables(pq.ParquetFile(f).read() for f in files)


def lake_bytes(settings: Settings) -> dict[Path, bytes]:
    return {f: f.read_bytes() for f in event_files(StorageLayout.from_settings(settings), "acme")}


def subject_audit(settings: Settings, after: int = 0) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(get_engine(settings)) if e.action.startswith("subject.") and e.id > after]


def last_audit_id(settings: Settings) -> int:
    return max((e.id for e in audit.entries(get_engine(settings))), default=0)


def test_erasure_removes_exactly_that_visitor_and_is_audited_with_the_key_prefix(api: Api, people: People) -> None:
    before, mark = lake(api.settings), last_audit_id(api.settings)
    response = api.http.post("/v1/erasure", json={"visitor_ids": [people.ann]}, headers=auth(api.acme))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_id"] == "acme"
    assert body["counts"] == {"spooled events": 1, "stale training sets": 0, "lake events": 6}
    assert body["identifiers"] == {"visitor_ids": 1, "email_pseudonyms": 0, "member_pseudonyms": 0}
    after = lake(api.settings)
    kept = before.filter(pc.not_equal(before["visitor_id"], people.ann))
    assert after.sort_by("event_id").equals(kept.sort_by("event_id"))
    [entry] = subject_audit(api.settings, mark)
    assert entry.actor == f"key:{display_prefix(api.acme.api_key)}" and entry.action == "subject.erase"
    again = api.http.post("/v1/erasure", json={"visitor_ids": [people.ann]}, headers=auth(api.acme))
    assert again.status_code == 404 and "already erased" in error_of(again)["message"]


def test_another_clients_key_erases_and_exports_nothing(api: Api, people: People) -> None:
    before, mark = lake_bytes(api.settings), last_audit_id(api.settings)
    for path in ("/v1/erasure", "/v1/subject-export"):
        body = {"visitor_ids": [people.ann], "emails": [people.email]}
        response = api.http.post(path, json=body, headers=auth(api.other))
        assert response.status_code == 404, response.text
        assert error_of(response)["code"] == "not_found"
        assert people.ann not in response.text and people.email not in response.text
    assert lake_bytes(api.settings) == before
    assert subject_audit(api.settings, mark) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"visitor_ids": [], "emails": [], "member_ids": []}, 400),
        ({"emails": ["   "]}, 400),
        ({"visitor_ids": ["short"]}, 422),
        ({"visitor_ids": ["ann0visitor0000000000000000000a"], "client_id": "other"}, 422),
        ({"member_ids": [""]}, 422),
        ({"visitor_ids": [f"visitor{i:020d}" for i in range(101)]}, 422),
        ({"emails": "ann@example.com"}, 422),
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(api: Api, people: People, body: dict[str, Any], status: int) -> None:
    before, mark = lake_bytes(api.settings), last_audit_id(api.settings)
    response = api.http.post("/v1/erasure", json=body, headers=auth(api.acme))
    assert response.status_code == status, response.text
    error_of(response)
    assert lake_bytes(api.settings) == before
    assert subject_audit(api.settings, mark) == []


def test_keys_are_required(api: Api, people: People) -> None:
    body = {"visitor_ids": [people.ann]}
    assert api.http.post("/v1/erasure", json=body).status_code == 401
    site = api.http.post("/v1/erasure", json=body, headers={"Authorization": f"Bearer {api.acme.site_key}"})
    assert site.status_code == 403
    assert people.ann in lake(api.settings)["visitor_id"].to_pylist()


def test_subject_export_answers_the_persons_records_only(api: Api, people: People) -> None:
    mark, rows_before = last_audit_id(api.settings), lake(api.settings).num_rows
    response = api.http.post("/v1/subject-export", json={"visitor_ids": [people.ann]}, headers=auth(api.acme))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"] == {"spooled events": 1, "lake events": 6}
    rows = [row for records in body["records"].values() for row in records]
    assert len(rows) == 7 and {r["visitor_id"] for r in rows} == {people.ann}
    assert {r["client_id"] for r in rows} == {"acme"}
    assert people.bob not in response.text
    assert [e.action for e in subject_audit(api.settings, mark)] == ["subject.export"]
    assert lake(api.settings).num_rows == rows_before, "an export changes nothing"


def test_raw_identifiers_reach_no_file_and_no_log(api: Api, people: People) -> None:
    body = {"emails": [people.email.upper()], "member_ids": [people.member]}
    exported = api.http.post("/v1/subject-export", json=body, headers=auth(api.acme))
    assert exported.status_code == 200 and exported.json()["counts"] == {"lake events": 2}
    erased = api.http.post("/v1/erasure", json=body, headers=auth(api.acme))
    assert erased.status_code == 200, erased.text
    assert erased.json()["counts"]["lake events"] == 2
    planted = [people.email.encode(), people.email.upper().encode(), people.member.encode()]
    for path in api.settings.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [p for p in planted if p in data], f"a raw identifier reached {path}"
    log = api.log.getvalue()
    assert people.email not in log.lower() and people.member not in log
    assert "/v1/erasure" in log, "the access log did run"
