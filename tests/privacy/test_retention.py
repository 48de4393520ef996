"""``apply_retention``: each client's own cutoff (today minus its retention days), every retention store called,
counts audited per client (only when something was deleted), dry runs that change nothing."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from core import audit
from core.database import get_engine
from core.errors import NotFound
from core.layout import StorageLayout
from core.schema import clients
from core.settings import Settings
from core.tenants import Tenants
from privacy.retention import ACTION, apply_retention
from tracking.compactor import compact_all
from tracking.lake import count_events, event_files
from xmo.simulator.cli import run_simulation

START = date(2026, 4, 6)  # partitions 2026-04-06 … 2026-04-09
TODAY = date(2026, 4, 12)


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    """alpha keeps 4 days (cutoff 04-08), bravo 5 (cutoff 04-07), charlie the default 395 (nothing expires)."""
    tenants = Tenants.from_settings(settings)
    for cid in ("alpha", "bravo", "charlie"):
        tenants.create_client(cid.title(), [f"{cid}.example"], client_id=cid)
        run_simulation(settings, cid, days=4, visitors_per_day=25, seed=11, start=START)
    compact_all(settings)
    # shortened after collection: the edge refuses hits already past a client's retention
    with tenants.engine.begin() as connection:
        for cid, days in (("alpha", 4), ("bravo", 5)):
            connection.execute(update(clients).where(clients.c.id == cid).values(retention_days=days))
    return StorageLayout.from_settings(settings)


def events_before(layout: StorageLayout, client_id: str, cutoff: str) -> int:
    return sum(pq.read_metadata(p).num_rows for p in event_files(layout, client_id) if p.parent.name < f"date={cutoff}")


def retention_entries(settings: Settings) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(get_engine(settings)) if e.action == ACTION]


def test_each_client_is_cut_at_its_own_retention_and_audited(settings: Settings, layout: StorageLayout) -> None:
    expected = {
        "alpha": events_before(layout, "alpha", "2026-04-08"),
        "bravo": events_before(layout, "bravo", "2026-04-07"),
    }
    kept = {cid: count_events(layout, cid) - expected.get(cid, 0) for cid in ("alpha", "bravo", "charlie")}
    assert all(expected.values())

    report = apply_retention(settings, today=TODAY, actor="tester")

    by_client = {c.client_id: c for c in report.clients}
    assert {cid: c.cutoff for cid, c in by_client.items()} == {
        "alpha": date(2026, 4, 8),
        "bravo": date(2026, 4, 7),
        "charlie": date(2025, 3, 13),
    }
    assert {cid: c.deleted for cid, c in by_client.items()} == {
        "alpha": {"lake": expected["alpha"]},
        "bravo": {"lake": expected["bravo"]},
        "charlie": {"lake": 0},
    }
    assert report.total == sum(expected.values()) and not report.dry_run
    assert {cid: count_events(layout, cid) for cid in kept} == kept
    entries = retention_entries(settings)
    assert [(e.client_id, e.actor) for e in entries] == [("alpha", "tester"), ("bravo", "tester")]  # not charlie
    assert entries[0].details == {"retention_days": 4, "cutoff": "2026-04-08", "deleted": {"lake": expected["alpha"]}}
    text = json.dumps([e.details for e in entries])
    assert "visitor" not in text and "@" not in text  # counts only

    again = apply_retention(settings, today=TODAY, actor="tester")
    assert again.total == 0 and len(retention_entries(settings)) == 2  # nothing deleted: nothing audited


def test_a_dry_run_counts_and_changes_nothing(settings: Settings, layout: StorageLayout) -> None:
    before = {cid: count_events(layout, cid) for cid in ("alpha", "bravo", "charlie")}
    report = apply_retention(settings, today=TODAY, actor="tester", dry_run=True)
    assert report.dry_run and report.to_dict()["dry_run"] is True
    assert report.clients[0].deleted == {"lake": events_before(layout, "alpha", "2026-04-08")} and report.total > 0
    assert {cid: count_events(layout, cid) for cid in before} == before
    assert retention_entries(settings) == []
    assert apply_retention(settings, today=TODAY, actor="tester").total == report.total


def test_one_client_only(settings: Settings, layout: StorageLayout) -> None:
    bravo = count_events(layout, "bravo")
    report = apply_retention(settings, client_id="alpha", today=TODAY, actor="tester")
    assert [c.client_id for c in report.clients] == ["alpha"] and report.total > 0
    assert count_events(layout, "bravo") == bravo
    with pytest.raises(NotFound):
        apply_retention(settings, client_id="nobody", today=TODAY, actor="tester")
    assert [e.client_id for e in retention_entries(settings)] == ["alpha"]


def test_no_clients_is_an_empty_report(settings: Settings) -> None:
    report = apply_retention(settings, actor="tester")
    assert report.clients == [] and report.total == 0 and report.today <= date.today()
