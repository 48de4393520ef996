"""Client purge end to end (P10): a client goes through tracking, features, tuning, training and serving, is
purged over the API, and then nothing of it is found — not by ``xmo privacy scan``, and not by this test's own
brute-force search of every file and table under XMO_HOME for its id, planted e-mails, member ids, their
keyed pseudonyms, its visitor ids and its IP prefix. The other client's data and model are untouched and serve.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from core.apikeys import KeyKind
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from features.dataset import build_dataset
from features.definitions import EXAMPLE_SESSIONS
from features.goals import GoalDefinition, GoalStore
from privacy.keyvault import KeyVault
from privacy.pseudonyms import IdentifierKind, pseudonymize
from privacy.scan import scan_client, scan_home
from serving.app import create_app
from tests.conftest import LiveServer
from tracking.compactor import compact_all
from tracking.lake import event_files
from tracking.spool import Spool, decode_events
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

TARGET, KEEPER = "purge7x", "keeper4m"
TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
EMAILS = ("Ann.Planted@Example.org", "bo.planted@example.net")
MEMBERS = ("member-planted-90817", "member-planted-55512")
PLANTED_IP = "100.64.77.5"
PLANTED_PREFIX = "100.64.77.0"
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class World:
    settings: Settings
    target: NewClient
    keeper: NewClient
    admin_key: str
    needles: dict[str, bytes]  # what must not be found anywhere after the purge, by what it is


def _planted_events(day: datetime) -> list[dict[str, Any]]:
    events = []
    for n, (email, member) in enumerate(zip(EMAILS, MEMBERS, strict=True)):
        events.append(
            {
                "event_type": "goal",
                "goal": "purchase",
                "value": 42.0,
                "currency": "EUR",
                "visitor_id": f"plantedvisitor{n:04d}abcdef",
                "timestamp": (day + timedelta(hours=n)).isoformat(),
                "url": "https://purge.example/checkout",
                "email": email,
                "member_id": member,
                "consent": True,
                "ip": PLANTED_IP,
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            }
        )
    return events


def _visitor_ids(settings: Settings, client_id: str, limit: int = 200) -> set[str]:
    files = event_files(StorageLayout.from_settings(settings), client_id)
    table = pa.concat_tables([pq.read_table(f, columns=["visitor_id"]) for f in files])
    return set(pc.unique(table["visitor_id"]).to_pylist()[:limit])


@pytest.fixture(scope="module")
def world(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("purge") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        target = tenants.create_client("Purge Target", ["purge.example"], client_id=TARGET, collect_pii=True)
        keeper = tenants.create_client("Keeper", ["keeper.example"], client_id=KEEPER)
        admin_key = tenants.rotate_key(KeyKind.ADMIN)
        for client_id, seed in ((TARGET, 5), (KEEPER, 6)):
            run_simulation(settings, client_id, days=7, visitors_per_day=150, seed=seed, start=date(2026, 4, 6))
        compact_all(settings)
        build_dataset(settings, TARGET)
        build_dataset(settings, KEEPER)
        train_conversion_model(settings, TARGET, trials=2, baselines=False)  # an Optuna study too
        train_conversion_model(settings, KEEPER, params=TINY, baselines=False)
        GoalStore(tenants.engine).add_goal(TARGET, GoalDefinition.create("purge7x-goal"))
        vault = KeyVault.from_settings(settings)
        pseudonym_key = vault.derived_key(TARGET, "pseudonym")
        needles = {"client id": TARGET.encode(), "ip prefix": PLANTED_PREFIX.encode()}
        for value in EMAILS:
            needles[f"email {value}"] = value.encode()
            needles[f"email pseudonym of {value}"] = pseudonymize(pseudonym_key, IdentifierKind.EMAIL, value).encode()
        for value in MEMBERS:
            needles[f"member {value}"] = value.encode()
            needles[f"member pseudonym of {value}"] = pseudonymize(pseudonym_key, IdentifierKind.MEMBER, value).encode()
        for visitor in _visitor_ids(settings, TARGET):
            needles[f"visitor {visitor}"] = visitor.encode()
        yield World(settings, target, keeper, admin_key, needles)


@pytest.fixture(scope="module")
def app(world: World) -> FastAPI:
    return create_app(world.settings)


@pytest.fixture(scope="module")
def http(app: FastAPI) -> Iterator[httpx.Client]:
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=300) as client:
        yield client


def _search_bytes(data: bytes, needles: dict[str, bytes], skip: set[str]) -> list[str]:
    return [name for name, needle in needles.items() if name not in skip and needle in data]


def _search_table(table: pa.Table, needles: dict[str, bytes], skip: set[str]) -> list[str]:
    found = []
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        for name, needle in needles.items():
            if name not in skip and pc.any(pc.match_substring(column, needle.decode())).as_py():
                found.append(name)
    return found


def _search_sqlite(path: Path, needles: dict[str, bytes]) -> list[str]:
    """Rows of every table (spool payloads decoded); the audit log may name the client id, nothing else."""
    found = _search_bytes(path.read_bytes(), needles, skip={"client id"})  # free pages, personal values
    connection = sqlite3.connect(path)
    try:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            skip = {"client id"} if table == "audit_log" else set()
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, str):
                        found += [f"{table}: {n}" for n in _search_bytes(cell.encode(), needles, skip)]
                    elif isinstance(cell, bytes):
                        try:
                            events = decode_events(cell)
                        except (pa.ArrowInvalid, OSError):
                            found += [f"{table}: {n}" for n in _search_bytes(cell, needles, skip)]
                        else:
                            found += [f"{table} (spool batch): {n}" for n in _search_table(events, needles, skip)]
    finally:
        connection.close()
    return found


def brute_force_search(home: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Every file under ``home`` whose content or name holds a needle, decoded where it is stored encoded."""
    hits: dict[str, list[str]] = {}
    for path in home.rglob("*"):
        found = _search_bytes(str(path.relative_to(home)).encode(), needles, skip=set())
        if path.is_file():
            head = path.read_bytes()[:16]
            if path.suffix == ".parquet":
                found += _search_table(pq.read_table(path), needles, skip=set())
            elif head == SQLITE_MAGIC:
                found += _search_sqlite(path, needles)
            else:  # the registry's log holds audit pages, which name the client (its deletion certificate)
                skip = {"client id"} if path.name == "xmo.db-wal" else set()
                found += _search_bytes(path.read_bytes(), needles, skip=skip)
        if found:
            hits[str(path.relative_to(home))] = found
    return hits


@pytest.fixture(scope="module")
def purged(world: World, http: httpx.Client) -> dict[str, Any]:
    """Plant personal values through the API (some still in the spool), check they are stored, then purge."""
    day = datetime(2026, 4, 12, 9, tzinfo=UTC)
    site = {"Authorization": f"Bearer {world.target.site_key}"}
    assert http.post("/v1/events", json=_planted_events(day), headers=site).status_code == 202
    compact_all(world.settings)
    assert http.post("/v1/events", json=_planted_events(day + timedelta(days=1)), headers=site).status_code == 202
    spooled = sum(s.pending_events() for s in Spool.all_in(world.settings))
    assert spooled > 0, "some planted events must still wait in the spool when the purge starts"
    before = brute_force_search(world.settings.home, world.needles)
    for stored in ("email pseudonym of", "member pseudonym of", "ip prefix", "client id"):
        assert any(any(n.startswith(stored) for n in names) for names in before.values()), f"{stored} not planted"
    assert not any(n.startswith(("email Ann", "member member")) for names in before.values() for n in names)
    admin = {"Authorization": f"Bearer {world.admin_key}"}
    response = http.delete(f"/v1/clients/{TARGET}", headers=admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_purge_certificate_counts_every_kind_of_data(purged: dict[str, Any]) -> None:
    deleted = purged["deleted"]
    assert purged["client_id"] == TARGET and not purged["already_purged"] and not purged["resumed"]
    assert purged["actor"].startswith("key:xmo_admin_")
    assert deleted["API keys"] == 2 and deleted["client key (crypto-shredded)"] == 1
    assert deleted["lake events"] > 1000 and deleted["spooled events"] == len(EMAILS)
    assert deleted["training sets"] == 1 and deleted["tuning studies"] == 1
    assert deleted["MLflow experiments and models"] >= 4  # runs, logged model, registered version, experiment
    assert deleted["spend and KPI tables"] > 0 and deleted["registry (client, goals)"] == 2


def test_nothing_of_the_purged_client_is_left_anywhere(world: World, purged: dict[str, Any]) -> None:
    assert scan_client(world.settings, TARGET).clean
    assert all(result.clean for result in scan_home(world.settings))
    assert brute_force_search(world.settings.home, world.needles) == {}


def test_the_other_client_keeps_its_data_and_model(world: World, purged: dict[str, Any], http: httpx.Client) -> None:
    assert event_files(StorageLayout.from_settings(world.settings), KEEPER)
    api = {"Authorization": f"Bearer {world.keeper.api_key}"}
    scored = http.post("/v1/score", json={"sessions": [dict(EXAMPLE_SESSIONS[0])]}, headers=api)
    assert scored.status_code == 200, scored.text
    assert scored.json()["model"]["name"] == f"xmo-conversion-{KEEPER}"
    assert http.get("/v1/reports/campaigns", headers=api).status_code == 200


def test_the_purged_clients_keys_no_longer_work(world: World, purged: dict[str, Any], http: httpx.Client) -> None:
    api = {"Authorization": f"Bearer {world.target.api_key}"}
    assert http.get("/v1/reports/campaigns", headers=api).status_code == 401
    site = {"Authorization": f"Bearer {world.target.site_key}"}
    assert http.post("/v1/events", json=_planted_events(datetime.now(UTC)), headers=site).status_code == 401


def test_purging_again_returns_the_same_certificate(world: World, purged: dict[str, Any], http: httpx.Client) -> None:
    admin = {"Authorization": f"Bearer {world.admin_key}"}
    again = http.delete(f"/v1/clients/{TARGET}", headers=admin)
    assert again.status_code == 200
    assert again.json()["certificate_id"] == purged["certificate_id"] and again.json()["already_purged"]
    audit = http.get("/v1/audit", params={"client_id": TARGET, "action": "client.purge"}, headers=admin).json()
    actions = [e["action"] for e in audit["entries"]]
    assert actions[0] == "client.purge.started" and actions.count("client.purge") == 1
    certificate = next(e for e in audit["entries"] if e["action"] == "client.purge")["details"]
    assert certificate["certificate_id"] == purged["certificate_id"]
    assert not brute_force_search(world.settings.home, {k: v for k, v in world.needles.items() if k != "client id"})
