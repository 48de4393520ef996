"""Tracking's part of a data-subject erasure: exactly the person's events leave the spool and the lake, every
other row is kept as it was, only the files holding the person are rewritten (atomically, under the
compaction lock)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from core.layout import StorageLayout
from core.locks import file_lock
from core.settings import Settings
from privacy.pseudonyms import IdentifierKind, pseudonymize
from privacy.stores import Subject, SubjectStore
from tracking.compactor import compact_all
from tracking.edge import Edge, EdgeConfig, EdgePolicy
from tracking.erasure import find_in_lake, lake_subjects, spool_subjects, subject_mask
from tracking.lake import event_files
from tracking.spool import Spool

KEY = b"k" * 32
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ANN, BOB, CID = "a" * 32, "b" * 32, "c" * 32  # visitor ids
ANN_EMAIL = "ann@example.com"


def _edge() -> Edge:
    return Edge(
        EdgeConfig(),
        lambda c: EdgePolicy(c, collect_pii=True),
        lambda c: KEY,
        clock=lambda: START + timedelta(days=30),
    )


def hits(client: str, visitor: str, days: list[int], prefix: str, email: str | None = None) -> list[dict[str, object]]:
    return [
        {
            "client_id": client,
            "event_type": "pageview",
            "visitor_id": visitor,
            "event_id": f"{prefix}-{i}",
            "ts": START + timedelta(days=day, minutes=i),
            "url": f"https://shop.example/p/{i}",
            "email": email,
            "member_id": f"M-{visitor[:1]}" if visitor == CID else None,
            "consent": True,
        }
        for i, day in enumerate(days)
    ]


def events(*batches: list[dict[str, object]]) -> pa.Table:
    return _edge().process([hit for batch in batches for hit in batch]).events


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    return StorageLayout.from_settings(settings).ensure()


@pytest.fixture
def lake(settings: Settings, layout: StorageLayout) -> dict[Path, pa.Table]:
    """Two compactions over five days: Ann on days 0 and 2 (with her e-mail on day 2), Bob every day, Cid (a
    member) on day 4, and client beta reusing Ann's cookie id. Returns each lake file's table."""
    spool = Spool(layout.spool_dir / "collector-a.db")
    spool.append(events(hits("acme", ANN, [0, 0, 2], "ann1"), hits("acme", BOB, [0, 1, 2], "bob1")))
    spool.append(events(hits("beta", ANN, [0, 2], "beta-ann")))
    compact_all(settings)
    spool.append(events(hits("acme", ANN, [2], "ann2", ANN_EMAIL), hits("acme", BOB, [3], "bob2")))
    spool.append(events(hits("acme", CID, [4], "cid")))
    compact_all(settings)
    spool.close()
    files = [*event_files(layout, "acme"), *event_files(layout, "beta")]
    return {f: pq.ParquetFile(f).read() for f in files}


def ann(client: str = "acme") -> Subject:
    return Subject(client, visitor_ids=frozenset({ANN}))


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_both_are_subject_stores(settings: Settings) -> None:
    assert isinstance(spool_subjects(settings), SubjectStore)
    assert isinstance(lake_subjects(settings), SubjectStore)
    assert (spool_subjects(settings).order, lake_subjects(settings).order) == (10, 20)


def test_lake_erasure_removes_exactly_the_persons_events_and_keeps_the_rest_as_it_was(
    settings: Settings, layout: StorageLayout, lake: dict[Path, pa.Table]
) -> None:
    expected_removed = sum(int(pc.sum(subject_mask(t, ann())).as_py() or 0) for t in lake.values())
    assert expected_removed == 4
    holding = {f for f, t in lake.items() if pc.any(subject_mask(t, ann())).as_py()}
    untouched = {f: _stat(f) for f in lake if f not in holding}
    assert holding and untouched

    assert lake_subjects(settings).forget_subject(ann()) == expected_removed

    for path, before in lake.items():
        if path in holding:
            expected = before.filter(pc.invert(subject_mask(before, ann())))
            if expected.num_rows == 0:
                assert not path.exists()
                continue
            after = pq.ParquetFile(path).read()
            assert after.equals(expected, check_metadata=True)  # every other row, value for value, in order
        else:
            assert _stat(path) == untouched[path], f"{path} was rewritten though it holds nothing of Ann"
    remaining = pa.concat_tables(pq.ParquetFile(f).read() for f in event_files(layout, "acme"))
    assert ANN not in remaining["visitor_id"].to_pylist()
    beta = pa.concat_tables(pq.ParquetFile(f).read() for f in event_files(layout, "beta"))
    assert beta["visitor_id"].to_pylist() == [ANN, ANN], "another client's visitor with the same cookie id is kept"
    assert not [p for p in layout.lake_dir.rglob("*") if p.name.endswith(".tmp")]


def test_lake_erasure_is_idempotent_and_finds_nothing_afterwards(
    settings: Settings, layout: StorageLayout, lake: dict[Path, pa.Table]
) -> None:
    store = lake_subjects(settings)
    assert store.forget_subject(ann()) == 4
    assert store.forget_subject(ann()) == 0
    assert store.subject_records(ann()) is None
    assert find_in_lake(layout, ann(), ("ts",)).num_rows == 0


def test_a_file_left_empty_is_deleted(settings: Settings, layout: StorageLayout, lake: dict[Path, pa.Table]) -> None:
    cid_files = [f for f, t in lake.items() if CID in t["visitor_id"].to_pylist()]
    assert len(cid_files) == 1 and lake[cid_files[0]].num_rows == 1
    assert lake_subjects(settings).forget_subject(Subject("acme", visitor_ids=frozenset({CID}))) == 1
    assert not cid_files[0].exists()


def test_pseudonyms_find_the_person(settings: Settings, layout: StorageLayout, lake: dict[Path, pa.Table]) -> None:
    email = pseudonymize(KEY, IdentifierKind.EMAIL, ANN_EMAIL)
    member = pseudonymize(KEY, IdentifierKind.MEMBER, "M-c")
    by_email = Subject("acme", email_pseudonyms=frozenset({email}))
    records = lake_subjects(settings).subject_records(by_email)
    assert records is not None and records["event_id"].to_pylist() == ["ann2-0"]
    by_member = Subject("acme", member_pseudonyms=frozenset({member}))
    assert lake_subjects(settings).forget_subject(by_member) == 1
    assert lake_subjects(settings).forget_subject(by_email) == 1
    left = pa.concat_tables(pq.ParquetFile(f).read() for f in event_files(layout, "acme"))
    assert sorted(set(left["visitor_id"].to_pylist())) == [ANN, BOB]  # Ann's cookie-only events stay
    assert email not in str(left.to_pylist()) and member not in str(left.to_pylist())


def test_subject_records_are_exactly_the_persons_rows(settings: Settings, lake: dict[Path, pa.Table]) -> None:
    records = lake_subjects(settings).subject_records(ann())
    assert records is not None
    assert set(records["visitor_id"].to_pylist()) == {ANN}
    assert set(records["client_id"].to_pylist()) == {"acme"}
    assert sorted(records["event_id"].to_pylist()) == ["ann1-0", "ann1-1", "ann1-2", "ann2-0"]


def test_a_failed_rewrite_leaves_the_file_as_it_was(
    settings: Settings, lake: dict[Path, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    holding = [f for f, t in lake.items() if pc.any(subject_mask(t, ann())).as_py()]
    before = {f: f.read_bytes() for f in holding}

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr("tracking.lake.pq.write_table", disk_full)
    with pytest.raises(OSError):
        lake_subjects(settings).forget_subject(ann())
    monkeypatch.undo()
    # each file is the old one or the new one, never a torn one: here no new one was written
    assert all(f.read_bytes() == before[f] for f in holding if f.exists())
    left = find_in_lake(StorageLayout.from_settings(settings), ann()).num_rows
    assert left > 0
    assert lake_subjects(settings).forget_subject(ann()) == left  # run again: it finishes the job
    assert lake_subjects(settings).subject_records(ann()) is None


def test_lake_erasure_waits_for_a_running_compaction(
    settings: Settings, layout: StorageLayout, lake: dict[Path, pa.Table]
) -> None:
    done = threading.Event()
    result: list[int] = []

    def erase() -> None:
        result.append(lake_subjects(settings).forget_subject(ann()))
        done.set()

    with file_lock(layout.runtime_dir / "compaction.lock"):
        worker = threading.Thread(target=erase)
        worker.start()
        time.sleep(0.5)
        assert not done.is_set(), "the erasure rewrote files while a compaction held the lock"
    worker.join(timeout=30)
    assert result == [4]


def test_spool_erasure_rewrites_batches_in_every_spool(settings: Settings, layout: StorageLayout) -> None:
    first = Spool(layout.spool_dir / "collector-a.db")
    second = Spool(layout.spool_dir / "collector-b.db")
    mixed = events(hits("acme", ANN, [0, 1], "ann"), hits("acme", BOB, [0], "bob"))
    only_ann = events(hits("acme", ANN, [2], "ann-late"))
    others = events(hits("beta", ANN, [0], "beta-ann"), hits("acme", BOB, [3], "bob-late"))
    first.append(mixed, only_ann)
    second.append(others, events(hits("acme", ANN, [4], "ann-b")))
    for spool in (first, second):
        spool.close()

    store = spool_subjects(settings)
    records = store.subject_records(ann())
    assert records is not None
    assert sorted(records["event_id"].to_pylist()) == ["ann-0", "ann-1", "ann-b-0", "ann-late-0"]
    assert store.forget_subject(ann()) == 4
    assert store.forget_subject(ann()) == 0

    first, second = Spool(first.path), Spool(second.path)
    kept_first = first.read(0, 10**9)
    assert len(kept_first) == 1, "a batch left empty is deleted"
    assert kept_first[0].events.equals(mixed.filter(pc.invert(subject_mask(mixed, ann()))))
    kept_second = second.read(0, 10**9)
    assert len(kept_second) == 1 and kept_second[0].events.equals(others)
    assert first.pending_events() + second.pending_events() == 3
    first.close()
    second.close()
