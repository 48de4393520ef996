from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.layout import StorageLayout
from core.settings import Settings
from tracking.compactor import compact_spool
from tracking.edge import Edge, EdgeConfig, EdgePolicy, raw_frame
from tracking.lake import event_files
from tracking.spool import HOST_TAG, Spool

DAY1 = datetime(2026, 11, 19, 23, 59, tzinfo=UTC)


def events(n: int, client: str = "acme", start: datetime = DAY1, prefix: str = "e") -> object:
    edge = Edge(EdgeConfig(), EdgePolicy, lambda c: b"k" * 32, clock=lambda: start + timedelta(days=2))
    hits = [
        {
            "client_id": client,
            "event_type": "pageview",
            "visitor_id": "v" * 32,
            "event_id": f"{prefix}{i}",
            "ts": start + timedelta(minutes=i),
        }
        for i in range(n)
    ]
    return edge.process(raw_frame(hits)).events


def test_appended_batches_survive_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool" / "a.db")
    assert spool.append(events(3), events(2, prefix="f")) == 5
    spool.close()
    reopened = Spool(tmp_path / "spool" / "a.db")
    assert reopened.pending_events() == 5
    batches = reopened.read(0, 10**9)
    assert [b.events.num_rows for b in batches] == [3, 2]


def test_compaction_partitions_by_client_and_day_and_empties_spool(tmp_path: Path) -> None:
    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    spool.append(events(3, "acme"), events(4, "beta"))
    report = compact_spool(spool, layout)
    assert report.events == 7 and spool.pending_events() == 0
    # 23:59, 00:00, 00:01 → two days for acme
    assert report.partitions == {
        ("acme", "2026-11-19"): 1,
        ("acme", "2026-11-20"): 2,
        ("beta", "2026-11-19"): 1,
        ("beta", "2026-11-20"): 3,
    }
    files = event_files(layout, "acme")
    assert [f.parent.name for f in files] == ["date=2026-11-19", "date=2026-11-20"]
    assert all(
        pq.read_table(f).column("client_id").to_pylist() == ["acme"] * pq.read_metadata(f).num_rows for f in files
    )


def test_crash_between_lake_write_and_spool_delete_is_replayed_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    spool.append(events(5))

    def crash(_pending: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(spool, "finish_compaction", crash)
    with pytest.raises(RuntimeError):
        compact_spool(spool, layout)
    monkeypatch.undo()
    spool.append(events(2, prefix="late"))  # arrives while the compactor is down
    compact_spool(spool, layout)
    compact_spool(spool, layout)
    ids = sorted(i for f in event_files(layout, "acme") for i in pq.read_table(f).column("event_id").to_pylist())
    assert ids == sorted([f"e{i}" for i in range(5)] + ["late0", "late1"])
    assert spool.pending_events() == 0


def test_compaction_in_slices(tmp_path: Path) -> None:
    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    for i in range(4):
        spool.append(events(3, prefix=f"b{i}-"))
    report = compact_spool(spool, layout, max_events=6)
    assert report.batches == 4 and report.events == 12
    assert len(event_files(layout, "acme")) == 4  # two slices × two days


def test_retried_events_are_stored_once(tmp_path: Path) -> None:
    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    spool.append(events(3, prefix="r"))
    compact_spool(spool, layout)
    spool.append(events(3, prefix="r"), events(2, prefix="n"))  # the same three again, retried, plus two new
    report = compact_spool(spool, layout)
    assert report.duplicates == 3
    ids = [i for f in event_files(layout, "acme") for i in pq.read_table(f).column("event_id").to_pylist()]
    assert sorted(ids) == ["n0", "n1", "r0", "r1", "r2"]


def test_spools_of_ended_processes_are_removed_once_empty(settings: Settings) -> None:
    from tracking.compactor import compact_all
    from tracking.spool import pending_in_all

    layout = StorageLayout.from_settings(settings).ensure()
    gone = Spool(layout.spool_dir / f"spool-{HOST_TAG}-999999.db")  # no such process
    gone.append(events(2, prefix="g"))
    gone.close()
    mine = Spool.from_settings(settings)
    mine.append(events(1, prefix="m"))
    assert pending_in_all(settings) == 3
    assert compact_all(settings).events == 3
    assert not gone.path.exists(), "an empty spool of an ended process is removed"
    assert mine.path.exists(), "this process's spool stays"


def test_lake_files_carry_the_event_schema_and_its_version(tmp_path: Path) -> None:
    from tracking.events import EVENT_SCHEMA, EVENT_SCHEMA_VERSION

    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    spool.append(events(2))
    compact_spool(spool, layout)
    for path in event_files(layout, "acme"):
        schema = pq.read_schema(path)
        assert schema.remove_metadata().equals(EVENT_SCHEMA.remove_metadata())
        assert schema.metadata[b"xmo.events.schema_version"] == str(EVENT_SCHEMA_VERSION).encode()
