"""Data-subject erasure and access, orchestrated over every registered store: identifiers become the client's
pseudonyms exactly as at the edge, exactly the person's data goes, the action is audited with counts only, and
bad requests change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from privacy.erasure import ERASE_ACTION, EXPORT_ACTION, erase_subject, export_subject, subject_for
from privacy.keyvault import KeyVault
from privacy.stores import subject_stores
from tracking.collector import Collector
from tracking.compactor import compact_all
from tracking.lake import event_files
from tracking.spool import Spool

ANN, BOB = "ann0visitor0000000000000000000a", "bob0visitor0000000000000000000b"
ANN_EMAIL, ANN_MEMBER = "Ann.Lee@Example.com", "M-77123"


def _hits(visitor: str, n: int, prefix: str, email: str | None = None, member: str | None = None) -> list[dict]:
    now = datetime.now(UTC)
    return [
        {
            "client_id": "acme",
            "event_type": "pageview",
            "visitor_id": visitor,
            "event_id": f"{prefix}-{i}",
            "ts": now - timedelta(days=3, hours=i),
            "url": f"https://acme.example/p/{i}",
            "email": email,
            "member_id": member,
            "consent": True,
        }
        for i in range(n)
    ]


@pytest.fixture
def home(settings: Settings) -> Iterator[Settings]:
    """Client acme (collects pseudonyms with consent) and client zeta; Ann and Bob in acme's lake and spool."""
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Acme", ["acme.example"], client_id="acme", collect_pii=True)
    tenants.create_client("Zeta", ["zeta.example"], client_id="zeta")
    collector = Collector.from_settings(settings, tenants)
    collector.ingest(_hits(ANN, 6, "ann") + _hits(BOB, 5, "bob"))
    collector.ingest(_hits(ANN, 2, "ann-mail", email=ANN_EMAIL) + _hits(ANN, 1, "ann-member", member=ANN_MEMBER))
    compact_all(settings)
    collector.ingest(_hits(ANN, 3, "ann-late") + _hits(BOB, 2, "bob-late"))  # still in the spool
    collector.spool.close()
    yield settings


def _lake(settings: Settings, client: str = "acme") -> pa.Table:
    layout = StorageLayout.from_settings(settings)
    return pa.concat_tables(pq.ParquetFile(f).read() for f in event_files(layout, client))


def _spooled(settings: Settings) -> pa.Table:
    tables = []
    for spool in Spool.all_in(settings):
        tables += [b.events for b in spool.read(0, 10**9)]
        spool.close()
    return pa.concat_tables(tables)


def _audit(settings: Settings) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(get_engine(settings)) if e.action.startswith("subject.")]


def test_the_stores_join_in_order(settings: Settings) -> None:
    names = [(s.name, s.order) for s in subject_stores(settings)]
    assert names[:3] == [("spooled events", 10), ("stale training sets", 15), ("lake events", 20)]


def test_identifiers_become_the_same_pseudonyms_the_edge_stored(home: Settings) -> None:
    subject = subject_for(home, "acme", emails=["  ann.lee@example.COM "], member_ids=[ANN_MEMBER])
    stored = _lake(home)
    assert set(stored.filter(pc.is_valid(stored["email_pseudonym"]))["email_pseudonym"].to_pylist()) == set(
        subject.email_pseudonyms
    )
    assert set(stored.filter(pc.is_valid(stored["member_pseudonym"]))["member_pseudonym"].to_pylist()) == set(
        subject.member_pseudonyms
    )
    assert ANN_EMAIL.lower() not in str(subject)


def test_erasure_of_one_visitor_removes_exactly_that_visitors_events(home: Settings) -> None:
    lake_before, spool_before = _lake(home), _spooled(home)
    report = erase_subject(home, subject_for(home, "acme", visitor_ids=[ANN]), actor="cli")
    assert report.counts == {"spooled events": 3, "stale training sets": 0, "lake events": 9}
    lake_after, spool_after = _lake(home), _spooled(home)
    assert ANN not in lake_after["visitor_id"].to_pylist() + spool_after["visitor_id"].to_pylist()
    others = pc.not_equal(lake_before["visitor_id"], ANN)
    assert lake_after.sort_by("event_id").equals(lake_before.filter(others).sort_by("event_id"))
    assert spool_after.equals(spool_before.filter(pc.not_equal(spool_before["visitor_id"], ANN)))

    [entry] = _audit(home)
    assert (entry.action, entry.actor, entry.client_id) == (ERASE_ACTION, "cli", "acme")
    assert entry.details == {
        "counts": report.counts,
        "identifiers": {"visitor_ids": 1, "email_pseudonyms": 0, "member_pseudonyms": 0},
    }
    assert ANN not in str(entry)


def test_erasure_by_email_and_member_id_removes_the_events_that_carry_them(home: Settings) -> None:
    subject = subject_for(home, "acme", emails=[ANN_EMAIL], member_ids=[ANN_MEMBER])
    report = erase_subject(home, subject, actor="key:xmo_api_abcd…")
    assert report.counts["lake events"] == 3 and report.total == 3
    left = _lake(home)
    assert left["email_pseudonym"].null_count == left.num_rows == left["member_pseudonym"].null_count
    entry = _audit(home)[-1]
    assert entry.actor == "key:xmo_api_abcd…"
    assert not any(p in str(entry.details) for p in subject.email_pseudonyms | subject.member_pseudonyms)


def test_nothing_held_is_not_found_and_changes_nothing(home: Settings) -> None:
    lake_before, spool_before = _lake(home), _spooled(home)
    nobody = subject_for(home, "acme", visitor_ids=["nobody00visitor00000000000000000"])
    with pytest.raises(NotFound, match="holds no data of this person"):
        erase_subject(home, nobody, actor="cli")
    with pytest.raises(NotFound):
        export_subject(home, nobody, actor="cli")
    # Ann's cookie id under another client: that client holds nothing of her
    with pytest.raises(NotFound):
        erase_subject(home, subject_for(home, "zeta", visitor_ids=[ANN]), actor="cli")
    erase_subject(home, subject_for(home, "acme", visitor_ids=[ANN]), actor="cli")
    with pytest.raises(NotFound, match="already erased"):
        erase_subject(home, subject_for(home, "acme", visitor_ids=[ANN]), actor="cli")
    assert [e.action for e in _audit(home)] == [ERASE_ACTION]
    assert _lake(home).num_rows == lake_before.num_rows - 9 and _spooled(home).num_rows == spool_before.num_rows - 3


def test_bad_identifiers_are_refused_without_quoting_them(home: Settings) -> None:
    with pytest.raises(NotFound, match="unknown client"):
        subject_for(home, "nobody", visitor_ids=[ANN])
    with pytest.raises(InvalidInput, match="at least one"):
        subject_for(home, "acme")
    for kwargs in ({"emails": ["   "]}, {"member_ids": [""]}, {"visitor_ids": [" "]}):
        with pytest.raises(InvalidInput, match="empty"):
            subject_for(home, "acme", **kwargs)
    with pytest.raises(InvalidInput, match="malformed visitor id") as caught:
        subject_for(home, "acme", visitor_ids=["ann@example.com"])
    assert "ann@example.com" not in str(caught.value)
    with pytest.raises(InvalidInput, match="longer than"):
        subject_for(home, "acme", emails=["x" * 400 + "@example.com"])
    with pytest.raises(InvalidInput, match="at most"):
        subject_for(home, "acme", visitor_ids=[f"visitor{i:020d}" for i in range(101)])


def test_a_client_without_a_key_gets_none_made(settings: Settings, xmo_home: Path) -> None:
    Tenants.from_settings(settings).create_client("Keyless", ["k.example"], client_id="keyless")
    subject = subject_for(settings, "keyless", emails=[ANN_EMAIL])
    assert subject.is_empty() and not KeyVault.from_settings(settings).has_key("keyless")
    with pytest.raises(NotFound):
        erase_subject(settings, subject, actor="cli")


def test_export_hands_over_exactly_the_persons_records(home: Settings) -> None:
    export = export_subject(home, subject_for(home, "acme", visitor_ids=[ANN]), actor="cli")
    assert export.counts == {"spooled events": 3, "lake events": 9}
    for table in export.records.values():
        assert set(table["visitor_id"].to_pylist()) == {ANN} and set(table["client_id"].to_pylist()) == {"acme"}
    document = export.to_dict()
    assert BOB not in str(document) and ANN_EMAIL.lower() not in str(document).lower()
    assert document["records"]["lake events"][0]["ts"].endswith("+00:00")
    [entry] = _audit(home)
    assert entry.action == EXPORT_ACTION and entry.details["counts"] == export.counts
    assert _lake(home)["visitor_id"].to_pylist().count(ANN) == 9, "an export changes nothing"


def test_an_erasure_that_fails_midway_is_recorded_and_finished_by_a_rerun(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr("tracking.lake.pq.write_table", disk_full)  # the lake's rewrite fails after the spool's part
    with pytest.raises(OSError):
        erase_subject(home, subject_for(home, "acme", visitor_ids=[ANN]), actor="cli")
    monkeypatch.undo()
    [failed] = _audit(home)
    assert failed.details["complete"] is False and failed.details["counts"]["spooled events"] == 3
    assert ANN not in _spooled(home)["visitor_id"].to_pylist()
    report = erase_subject(home, subject_for(home, "acme", visitor_ids=[ANN]), actor="cli")
    assert report.counts["spooled events"] == 0 and report.counts["lake events"] > 0
    assert ANN not in _lake(home)["visitor_id"].to_pylist()
    assert "complete" not in _audit(home)[-1].details
