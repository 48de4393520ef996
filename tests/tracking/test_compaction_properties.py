"""Exactly once, as a property: whatever the retries, spools, compaction points and crashes, the lake holds every
acknowledged (client, event id) once, as the copy that was received first."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.layout import StorageLayout
from tracking.compactor import compact_spool
from tracking.event_index import StoredEventIds
from tracking.events import EVENT_SCHEMA
from tracking.lake import event_files, first_of_each_event
from tracking.spool import Spool

MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)
CLIENTS = ("acme", "beta")
CRASHES = ("none", "after the lake write", "while forgetting batches")


@dataclass(frozen=True)
class Copy:
    """One acknowledged copy of an event: which event, and when (and so on which day) it was received."""

    client_id: str
    event_id: str
    received_at: datetime

    @property
    def tag(self) -> str:
        """What the lake row carries to tell this copy from other copies of the same event."""
        return f"https://shop.example.com/copy/{self.received_at.timestamp():.6f}"


def event_table(copies: list[Copy]) -> pa.Table:
    """Spool rows of the copies; like a pixel hit without ``ts``, each is timestamped when it was received."""
    n = len(copies)
    columns = {name: pa.nulls(n, type=EVENT_SCHEMA.field(name).type) for name in EVENT_SCHEMA.names}
    columns |= {
        "event_id": pa.array([c.event_id for c in copies]),
        "client_id": pa.array([c.client_id for c in copies]),
        "ts": pa.array([c.received_at for c in copies], type=EVENT_SCHEMA.field("ts").type),
        "received_at": pa.array([c.received_at for c in copies], type=EVENT_SCHEMA.field("received_at").type),
        "event_type": pa.array(["pageview"] * n),
        "visitor_id": pa.array(["v" * 32] * n),
        "url": pa.array([c.tag for c in copies]),
        "consent": pa.array([False] * n),
        "source": pa.array(["pixel"] * n),
    }
    return pa.table(columns, schema=EVENT_SCHEMA)


# One step of a run: a batch appended to a spool (event ids drawn from a few, so they repeat), or a compaction
# of one spool that may crash after writing the lake, or in the middle of forgetting the range's batches.
append_step = st.tuples(
    st.just("append"),
    st.integers(0, 2),  # which spool (one per worker)
    st.lists(st.tuples(st.sampled_from(CLIENTS), st.integers(0, 7)), min_size=1, max_size=6),
)
compact_step = st.tuples(st.just("compact"), st.integers(0, 2), st.sampled_from(CRASHES), st.sampled_from([1, 3, 100]))
runs = st.lists(st.one_of(append_step, compact_step), min_size=1, max_size=14)


def _stored(layout: StorageLayout) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for client_id in CLIENTS:
        for path in event_files(layout, client_id):
            table = pq.read_table(path, columns=["client_id", "event_id", "url"])
            rows.extend(zip(*(table[c].to_pylist() for c in ("client_id", "event_id", "url")), strict=True))
    return rows


def _compact(spool: Spool, layout: StorageLayout, crash: str, max_events: int, index: StoredEventIds | None) -> None:
    """A compaction pass; or one whose process dies after writing the lake, or after forgetting one batch."""
    if crash == "none":
        compact_spool(spool, layout, max_events=max_events, index=index)
        return
    forget_some = spool._forget_some

    def power_cut(*_args: object) -> int:
        raise RuntimeError("power cut")

    def one_then_power_cut(pending: object, _limit: int) -> int:
        forget_some(pending, 1)  # type: ignore[arg-type]
        raise RuntimeError("power cut")

    spool._forget_some = power_cut if crash == CRASHES[1] else one_then_power_cut  # type: ignore[method-assign,assignment]
    try:
        compact_spool(spool, layout, max_events=max_events, index=index)
    except RuntimeError:
        pass
    finally:
        del spool._forget_some


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs, st.booleans())
@example(  # a crash after one of a range's batches was forgotten: the replay must not write the range again
    [("append", 0, [("acme", 1)]), ("append", 0, [("acme", 2)]), ("compact", 0, CRASHES[2], 100)], True
)
@example(  # a retry in the same range, then one in another spool, compacted first, across midnight
    [
        ("append", 1, [("acme", 1), ("acme", 2), ("acme", 1), ("acme", 3)]),
        ("append", 0, [("acme", 1)]),
        ("compact", 0, CRASHES[0], 100),
        ("compact", 1, CRASHES[1], 100),
    ],
    True,
)
def test_the_lake_holds_each_acknowledged_event_once_as_its_first_received_copy(
    steps: list[tuple], long_running: bool
) -> None:
    """``long_running``: one compactor process keeps its index of stored ids from pass to pass, across crashes."""
    with tempfile.TemporaryDirectory() as home:
        layout = StorageLayout(Path(home)).ensure()
        spools = [Spool(layout.spool_dir / f"spool-{i}.db") for i in range(3)]
        index = StoredEventIds() if long_running else None
        acknowledged: list[Copy] = []
        clock = MIDNIGHT - timedelta(minutes=5)  # retries cross midnight: copies of one event land on two days
        for step in steps:
            if step[0] == "append":
                _, which, hits = step
                batch = []
                for client_id, number in hits:
                    clock += timedelta(seconds=37)
                    batch.append(Copy(client_id, f"e{number}", clock))
                spools[which].append(event_table(batch))  # durable: acknowledged from here on
                acknowledged.extend(batch)
            else:
                _, which, crash, max_events = step
                _compact(spools[which], layout, crash, max_events, index)
        for spool in spools:  # the compactor comes back and finishes
            compact_spool(spool, layout, index=index)

        first: dict[tuple[str, str], Copy] = {}
        for copy in acknowledged:
            first.setdefault((copy.client_id, copy.event_id), copy)
        stored = _stored(layout)
        keys = [(client_id, event_id) for client_id, event_id, _ in stored]
        assert len(keys) == len(set(keys)), "no event is stored twice"
        assert set(keys) == set(first), "every acknowledged event is stored"
        assert {(c, e): url for c, e, url in stored} == {key: copy.tag for key, copy in first.items()}, (
            "each as the copy received first"
        )
        assert all(spool.pending_events() == 0 for spool in spools)
        for spool in spools:
            spool.close()


def test_first_of_each_event_keeps_the_first_copy_and_every_other_event() -> None:
    """The defect the attack run found: ids a, a, b, c gave a, a, b (c lost, a doubled)."""
    t = MIDNIGHT
    copies = [Copy("c", "a", t), Copy("c", "a", t + timedelta(seconds=1)), Copy("c", "b", t), Copy("c", "c", t)]
    kept = first_of_each_event(event_table(copies))
    assert sorted(kept["event_id"].to_pylist()) == ["a", "b", "c"]
    assert kept.filter(pa.compute.equal(kept["event_id"], "a"))["url"].to_pylist() == [copies[0].tag]
