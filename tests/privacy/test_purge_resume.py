"""A purge that stops midway (a crash, a killed process) finishes when run again, and its certificate counts
the work of both runs; refusals (an unknown client) change nothing. Runs on SQLite and PostgreSQL registries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import audit
from core.audit import PURGE_STEP
from core.database import get_engine
from core.errors import NotFound
from core.layout import StorageLayout
from core.settings import Settings, get_settings
from core.tenants import Tenants
from features.dataset import build_dataset
from privacy.keyvault import KeyVault
from privacy.purge import purge_client
from privacy.scan import scan_client
from privacy.stores import ClientStore, Trace, client_stores
from tracking.compactor import compact_all
from tracking.lake import count_events, event_files, write_parquet_atomically
from tracking.spool import Spool
from xmo.simulator.cli import run_simulation

CLIENT, OTHER = "crash5t", "stays9b"


class PowerCut(Exception):
    """Stands for the process dying in the middle of a store."""


class CutAfterDeleting:
    """The real store, but the 'machine' dies right after it deleted and before the step is recorded."""

    def __init__(self, store: ClientStore) -> None:
        self.store, self.name, self.order = store, store.name, store.order

    def forget_client(self, client_id: str) -> int:
        self.store.forget_client(client_id)
        raise PowerCut(self.name)

    def client_traces(self, client_id: str) -> list[Trace]:
        return self.store.client_traces(client_id)


@pytest.fixture
def home(database_url: str, xmo_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("XMO_DATABASE_URL", database_url)
    get_settings.cache_clear()
    settings = Settings(home=xmo_home, database_url=database_url, compact_interval_s=0, model_reload_interval_s=0)
    tenants = Tenants.from_settings(settings)
    for client_id in (CLIENT, OTHER):
        tenants.create_client(client_id.title(), [f"{client_id}.example"], client_id=client_id)
        KeyVault.from_settings(settings).client_key(client_id)
        run_simulation(settings, client_id, days=3, visitors_per_day=60, seed=3, start=date(2026, 3, 2))
    compact_all(settings)
    build_dataset(settings, CLIENT)
    yield settings


def test_a_purge_cut_midway_resumes_and_certifies_both_runs(home: Settings) -> None:
    events = count_events(StorageLayout.from_settings(home), CLIENT)
    other_events = count_events(StorageLayout.from_settings(home), OTHER)
    stores = client_stores(home)
    cut = [CutAfterDeleting(s) if s.name == "training sets" else s for s in stores]
    with pytest.raises(PowerCut):
        purge_client(home, CLIENT, actor="cli", stores=cut)
    left = scan_client(home, CLIENT)
    assert not left.clean and any(t.store == "registry" for t in left.traces), "the registry row goes last"
    assert not KeyVault.from_settings(home).has_key(CLIENT), "the key is shredded before any store runs"

    certificate = purge_client(home, CLIENT, actor="cli")
    assert certificate.resumed and not certificate.already_purged
    assert certificate.deleted["lake events"] == events, "the first run's count is kept"
    assert certificate.deleted["client key (crypto-shredded)"] == 1
    assert scan_client(home, CLIENT).clean
    assert count_events(StorageLayout.from_settings(home), OTHER) == other_events
    steps = [e for e in audit.entries(get_engine(home), CLIENT) if e.action == PURGE_STEP]
    assert {e.details["certificate_id"] for e in steps} == {certificate.certificate_id}


def test_purging_an_unknown_client_is_refused_and_changes_nothing(home: Settings) -> None:
    before = audit.entries(get_engine(home))
    with pytest.raises(NotFound, match="unknown client 'nobody1'"):
        purge_client(home, "nobody1", actor="cli")
    assert audit.entries(get_engine(home)) == before


def test_late_events_of_a_purged_client_are_dropped_or_purged_again(home: Settings) -> None:
    """A worker that had not heard of the purge yet may still spool a hit: compaction drops it, and data that
    reached the lake anyway makes a second purge run instead of returning the old certificate."""
    layout = StorageLayout.from_settings(home)
    first = purge_client(home, CLIENT, actor="cli")
    late = pq.read_table(event_files(layout, OTHER)[0]).slice(0, 3)
    late = late.set_column(late.schema.get_field_index("client_id"), "client_id", pa.array([CLIENT] * 3))
    spool = Spool.from_settings(home)
    spool.append(late)
    spool.close()
    report = compact_all(home)
    assert report.purged == 3 and not layout.client_events_dir(CLIENT).exists()
    assert purge_client(home, CLIENT, actor="cli").already_purged

    write_parquet_atomically(late, layout.client_events_dir(CLIENT) / "date=2026-03-02" / "late.parquet")
    again = purge_client(home, CLIENT, actor="cli")
    assert not again.already_purged and again.certificate_id != first.certificate_id
    assert again.deleted["lake events"] == 3 and scan_client(home, CLIENT).clean
