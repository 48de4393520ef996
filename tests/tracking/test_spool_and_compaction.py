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


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*"))


def test_compaction_gives_the_freed_space_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracking import spool as spool_module
    from tracking.lake import count_events

    monkeypatch.setattr(spool_module, "MERGE_ROWS", 64)  # batches are merged as they are read, many times here
    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    for i in range(300):  # live traffic: many small group commits
        spool.append(events(20, prefix=f"s{i}-"))
    full = _file_bytes(spool.path)
    report = compact_spool(spool, layout)
    assert report.events == 6000 and report.batches == 300 and count_events(layout, "acme") == 6000
    spool.release_free_space(headroom_bytes=0)
    assert _file_bytes(spool.path) < full / 4, "an empty spool does not keep its high-water mark"
    spool.append(events(2, prefix="after"))
    assert spool.pending_events() == 2 and compact_spool(spool, layout).events == 2


def test_spools_written_by_the_previous_version_are_compacted_and_shrunk(tmp_path: Path) -> None:
    """Before, each payload was an Arrow IPC stream, and spools were made without incremental vacuum."""
    import sqlite3
    import time

    import pyarrow as pa

    from tracking import spool as spool_module
    from tracking.events import EVENT_SCHEMA

    layout = StorageLayout(tmp_path).ensure()
    path = layout.spool_dir / "spool-old.db"
    legacy = sqlite3.connect(path, isolation_level=None)
    legacy.execute("PRAGMA journal_mode=WAL")
    legacy.executescript(spool_module._SCHEMA)
    for i in range(200):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, EVENT_SCHEMA) as writer:
            writer.write_table(events(5, prefix=f"old{i}-"))
        legacy.execute(
            "INSERT INTO batches (created_at, events, payload) VALUES (?, 5, ?)",
            (time.time(), sink.getvalue().to_pybytes()),
        )
    legacy.close()
    spool = Spool(path)
    full = _file_bytes(path)
    assert spool.pending_events() == 1000
    assert compact_spool(spool, layout).events == 1000
    ids = {i for f in event_files(layout, "acme") for i in pq.read_table(f).column("event_id").to_pylist()}
    assert len(ids) == 1000 and "old199-4" in ids
    assert _file_bytes(path) < full / 4
    assert spool._connection().execute("PRAGMA auto_vacuum").fetchone()[0] == 2, "incremental from now on"


def test_a_payload_is_a_compressed_record_batch_much_smaller_than_a_stream(tmp_path: Path) -> None:
    from tracking.spool import PAYLOAD_MAGIC, decode_events, encode_events

    table = events(7)
    payload = encode_events(table)
    assert payload.startswith(PAYLOAD_MAGIC) and len(payload) < 2000
    assert decode_events(payload).equals(table)
    assert decode_events(encode_events(table.slice(0, 0))).num_rows == 0


def test_small_group_commits_are_json_lines_read_back_with_larger_batches_in_order(tmp_path: Path) -> None:
    from tracking.edge import event_table
    from tracking.spool import ROWS_MAGIC, encode_rows

    edge = Edge(EdgeConfig(), EdgePolicy, lambda c: b"k" * 32, clock=lambda: DAY1 + timedelta(days=2))
    hits = [
        {
            "client_id": "acme",
            "event_type": "goal",
            "goal": "achat-été ✓",  # not ASCII
            "value": 12.5 if i % 2 else None,
            "visitor_id": "v" * 32,
            "event_id": f"j{i}",
            "url": 'https://shop.example.com/p?utm_source=a"b\\c\nd',
            "ts": DAY1 + timedelta(minutes=i),
        }
        for i in range(3)
    ]
    rows = edge.process(raw_frame(hits)).rows
    (encoded,) = encode_rows(rows)
    assert encoded[2].startswith(ROWS_MAGIC) and encoded[1] == 3
    spool = Spool(tmp_path / "spool.db")
    spool.write([encoded])
    spool.append(events(2, prefix="arrow"))  # a large batch (an import) is an Arrow batch
    spool.write(encode_rows({name: values[:1] for name, values in rows.items()} | {"event_id": ["j9"]}))
    table = spool.read_events(0, 10**9)
    assert table.column("event_id").to_pylist() == ["j0", "j1", "j2", "arrow0", "arrow1", "j9"]
    assert table.slice(0, 3).equals(event_table(rows))
    nan = {name: list(values) for name, values in rows.items()} | {"value": [float("nan")] * 3}
    (as_arrow,) = encode_rows(nan)  # JSON has no NaN: such a batch is stored as Arrow
    assert not as_arrow[2].startswith(ROWS_MAGIC)


def test_a_pass_leaves_what_arrives_meanwhile_to_the_next_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load a spool is never empty: a pass that chased new batches never moved on to the other spools."""
    from tracking import compactor

    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    for i in range(3):
        spool.append(events(1, prefix=f"before{i}-"))
    write_events = compactor.write_events
    arrivals = iter(range(20))

    def write_while_hits_arrive(*args: object) -> object:
        if (number := next(arrivals, None)) is not None:
            spool.append(events(1, prefix=f"during{number}-"))  # a worker appends while the range is written
        return write_events(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(compactor, "write_events", write_while_hits_arrive)
    report = compact_spool(spool, layout, max_events=1)
    assert report.events == 3, "the pass took what was there when it began"
    assert spool.pending_events() == 3, "and left the three that arrived meanwhile"


def test_a_backlog_is_given_back_by_the_next_quiet_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under steady load a recurring pass keeps the space it found in use (the next batches fill it again); once
    traffic stops, a pass finds little in use and the file shrinks: no spool stays at its high-water mark. A one-off
    pass (``xmo compact``) gives the space back at once."""
    from tracking import compactor

    monkeypatch.setattr(compactor, "FREE_HEADROOM_BYTES", 64 << 10)
    layout = StorageLayout(tmp_path).ensure()
    spool = Spool(layout.spool_dir / "spool.db")
    for i in range(200):
        spool.append(events(20, prefix=f"s{i}-"))
    in_use = spool.bytes_in_use()

    def file_bytes() -> int:
        connection = spool._connection()
        return int(connection.execute("PRAGMA page_count").fetchone()[0]) * 4096

    compact_spool(spool, layout, recurring=True)
    assert spool.pending_events() == 0 and file_bytes() >= in_use, "the busy pass kept its space for what comes"
    compact_spool(spool, layout, recurring=True)  # nothing arrived
    assert file_bytes() < in_use / 2

    for i in range(200):
        spool.append(events(20, prefix=f"t{i}-"))
    compact_spool(spool, layout)
    assert spool.pending_events() == 0 and file_bytes() < in_use / 2, "a one-off pass keeps only the headroom"
