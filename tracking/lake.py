"""The event lake: Parquet files under ``lake/events/client_id=<id>/date=<YYYY-MM-DD>/``."""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.files import fsync_dir
from core.layout import StorageLayout
from core.locks import file_lock
from core.processes import process_is_alive
from tracking.event_index import StoredEventIds
from tracking.events import EVENT_SCHEMA


def compaction_lock(layout: StorageLayout) -> AbstractContextManager[None]:
    """The lock that compaction, retention, erasure and purge hold while they change (or must see stable) lake
    files: one of them at a time, across processes."""
    return file_lock(layout.runtime_dir / "compaction.lock")


def partition_dir(layout: StorageLayout, client_id: str, date: str) -> Path:
    """The folder of one client's events of one UTC day."""
    return layout.client_events_dir(client_id) / f"date={date}"


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` so that readers see the whole file or none of it.

    A temporary file that a killed writer left for the same path is removed first; this call's own is removed
    if the write fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if not _writer_is_alive(stale):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


_TEMP_NAME = re.compile(r"\..+\.(?P<pid>\d+)(?:\.[0-9a-f]+)?\.tmp")


def _writer_is_alive(temp_file: Path) -> bool:
    """Whether the process named in a temporary file's name (``.<name>.<pid>[.<token>].tmp``) still runs."""
    match = _TEMP_NAME.fullmatch(temp_file.name)
    if match is None:
        return False
    return process_is_alive(int(match["pid"]))


def remove_stale_temp_files(layout: StorageLayout) -> int:
    """Delete the temporary files that killed writers left in the event lake; returns how many.

    Call it holding ``compaction_lock``: every writer of lake files holds it, so no live write is touched.
    """
    removed = 0
    for stale in layout.events_dir.glob("client_id=*/date=*/.*.tmp"):
        if not _writer_is_alive(stale):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed


@dataclass
class LakeWrite:
    """What a write added to the lake."""

    partitions: dict[tuple[str, str], int] = field(default_factory=dict)  # events per (client id, date)
    duplicates: int = 0  # events whose (client, event id) the batch or the lake already held
    superseded: int = 0  # stored copies replaced by a copy of the same event received earlier


def first_of_each_event(events: pa.Table) -> pa.Table:
    """The first received copy of each (client id, event id): earliest ``received_at``, then earliest row."""
    keys = pa.table({"client_id": events["client_id"], "event_id": events["event_id"]})
    if keys.group_by(["client_id", "event_id"], use_threads=False).aggregate([]).num_rows == events.num_rows:
        return events
    rows = pa.array(range(events.num_rows), type=pa.int64())
    order = pa.table({"received_at": events["received_at"], "_row": rows}).sort_by(
        [("received_at", "ascending"), ("_row", "ascending")]
    )["_row"]
    ranked = keys.take(order).append_column("_rank", pa.array(range(events.num_rows), type=pa.int64()))
    firsts = ranked.group_by(["client_id", "event_id"], use_threads=False).aggregate([("_rank", "min")])["_rank_min"]
    return events.take(order.take(firsts.combine_chunks().sort()))


# A retry that the server timestamps itself (a pixel hit without ``ts``) can land on the next UTC day: a copy
# counts as stored when the partition of its day or of a neighbouring day holds it.
DEDUPLICATION_DAYS = (-1, 0, 1)
_SCAN_ROWS = 65_536


@dataclass(frozen=True)
class StoredCopy:
    """Where the lake already holds an event, and when that copy was received."""

    event_id: str
    received_at: Any  # a datetime
    file: Path


def stored_copies(
    folders: list[Path], event_ids: pa.Array, skip: str, index: StoredEventIds | None = None
) -> list[StoredCopy]:
    """The copies of ``event_ids`` that the Parquet files in ``folders`` hold (the file named ``skip`` aside).

    With an ``index``, only the files it says may hold one are read. Files are read a slice of two columns at a
    time: memory grows with ``event_ids``, not with the partitions.
    """
    if index is None:
        paths = [p for folder in folders for p in sorted(folder.glob("*.parquet")) if p.name != skip]
    else:
        paths = list(index.files_that_may_hold(folders, event_ids.to_pylist(), skip))
    found: list[StoredCopy] = []
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=_SCAN_ROWS, columns=["event_id", "received_at"]):
            hits = pc.is_in(batch.column(0), value_set=event_ids)
            if hits.true_count:
                matched = batch.filter(hits)
                found.extend(
                    StoredCopy(event_id, received_at, path)
                    for event_id, received_at in zip(
                        matched.column(0).to_pylist(), matched.column(1).to_pylist(), strict=True
                    )
                )
    return found


def _neighbour_folders(layout: StorageLayout, client_id: str, date: str) -> list[Path]:
    day = dt.date.fromisoformat(date)
    folders = (partition_dir(layout, client_id, (day + dt.timedelta(days=d)).isoformat()) for d in DEDUPLICATION_DAYS)
    return [f for f in folders if f.is_dir()]


def _without_events(path: Path, event_ids: set[str]) -> None:
    """Rewrite a lake file without the given events (deleted when nothing is left)."""
    table = pq.read_table(path)
    kept = table.filter(pc.invert(pc.is_in(table["event_id"], value_set=pa.array(sorted(event_ids)))))
    if kept.num_rows:
        write_parquet_atomically(kept, path)
    else:
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)


def write_events(
    layout: StorageLayout, events: pa.Table, file_stem: str, index: StoredEventIds | None = None
) -> LakeWrite:
    """Split events by client and UTC day and write one file per partition named ``<file_stem>.parquet``.

    The lake keeps one copy of each (client, event id), the first received: a copy that the batch, the same
    partition or a neighbouring day's partition holds already is left out, unless this batch's copy was received
    earlier, in which case it replaces the stored one (written first, then removed from the older file, so a
    crash in between leaves a copy that the replay removes). Writing the same events under the same stem again
    replaces the files: replays and retries are idempotent. An ``index`` kept between calls spares reading every
    file of those days each time (``tracking.event_index``).
    """
    report = LakeWrite()
    if events.num_rows == 0:
        return report
    unique = first_of_each_event(events.cast(EVENT_SCHEMA))
    report.duplicates = events.num_rows - unique.num_rows
    keyed = unique.append_column("_date", pc.strftime(unique["ts"], format="%Y-%m-%d")).sort_by(
        [("client_id", "ascending"), ("_date", "ascending"), ("ts", "ascending")]
    )
    groups = (
        keyed.group_by(["client_id", "_date"], use_threads=False)
        .aggregate([("_date", "count")])
        .sort_by([("client_id", "ascending"), ("_date", "ascending")])
    )
    name = f"{file_stem}.parquet"
    superseded: dict[Path, set[str]] = {}
    offset = 0
    for client_id, date, count in zip(
        *(groups[c].to_pylist() for c in ("client_id", "_date", "_date_count")), strict=True
    ):
        part = keyed.slice(offset, count).drop_columns(["_date"])
        offset += count
        folder = partition_dir(layout, client_id, date)
        folders = _neighbour_folders(layout, client_id, date)
        copies = stored_copies(folders, part["event_id"].combine_chunks(), name, index)
        if copies:
            received = dict(zip(part["event_id"].to_pylist(), part["received_at"].to_pylist(), strict=True))
            earliest: dict[str, Any] = {}
            for copy in copies:
                earliest[copy.event_id] = min(earliest.get(copy.event_id, copy.received_at), copy.received_at)
            stale = {event_id for event_id, at in earliest.items() if received[event_id] < at}
            for copy in copies:
                if copy.event_id in stale:
                    superseded.setdefault(copy.file, set()).add(copy.event_id)
            known = pa.array(sorted(earliest.keys() - stale), type=pa.string())
            fresh = part.filter(pc.invert(pc.is_in(part["event_id"], value_set=known)))
            report.duplicates += part.num_rows - fresh.num_rows
            part = fresh
        if part.num_rows:
            write_parquet_atomically(part, folder / name)
            if index is not None:
                index.remember(folder / name, part["event_id"].to_pylist())
            report.partitions[(client_id, date)] = part.num_rows
    for path, event_ids in superseded.items():
        _without_events(path, event_ids)
        report.superseded += len(event_ids)
        report.duplicates += len(event_ids)
    return report


def event_files(layout: StorageLayout, client_id: str) -> list[Path]:
    """Every lake file of one client, oldest day first."""
    return sorted(layout.client_events_dir(client_id).glob("date=*/*.parquet"))


def count_events(layout: StorageLayout, client_id: str) -> int:
    """How many events of a client the lake holds (from Parquet footers; no data is read)."""
    return sum(pq.read_metadata(path).num_rows for path in event_files(layout, client_id))
