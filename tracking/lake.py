"""The event lake: Parquet files under ``lake/events/client_id=<id>/date=<YYYY-MM-DD>/``."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.files import fsync_dir
from core.layout import StorageLayout
from core.locks import file_lock
from tracking.events import EVENT_SCHEMA


def compaction_lock(layout: StorageLayout) -> AbstractContextManager[None]:
    """The lock that compaction, retention, erasure and purge hold while they change (or must see stable) lake
    files: one of them at a time, across processes."""
    return file_lock(layout.runtime_dir / "compaction.lock")


def partition_dir(layout: StorageLayout, client_id: str, date: str) -> Path:
    """The folder of one client's events of one UTC day."""
    return layout.client_events_dir(client_id) / f"date={date}"


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` so that readers see the whole file or none of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass
class LakeWrite:
    """What a write added to the lake."""

    partitions: dict[tuple[str, str], int] = field(default_factory=dict)  # events per (client id, date)
    duplicates: int = 0  # events whose (client, event id) the batch or the lake already held


def first_of_each_event(events: pa.Table) -> pa.Table:
    """The events with the first occurrence of each (client id, event id) only (retried hits)."""
    rows = pa.array(range(events.num_rows), type=pa.int64())
    firsts = (
        pa.table({"client_id": events["client_id"], "event_id": events["event_id"], "_row": rows})
        .group_by(["client_id", "event_id"], use_threads=False)
        .aggregate([("_row", "min")])
        .column("_row_min")
    )
    return events if len(firsts) == events.num_rows else events.take(pc.sort_indices(firsts))


def _event_ids_in(folder: Path, skip: str) -> pa.Array:
    """Event ids already stored in a partition (except in the file named ``skip``)."""
    tables = [pq.read_table(f, columns=["event_id"]) for f in sorted(folder.glob("*.parquet")) if f.name != skip]
    if not tables:
        return pa.array([], type=pa.string())
    return pa.concat_tables(tables).column("event_id").combine_chunks()


def write_events(layout: StorageLayout, events: pa.Table, file_stem: str) -> LakeWrite:
    """Split events by client and UTC day and write one file per partition named ``<file_stem>.parquet``.

    Events whose (client, event id) the batch or the partition already holds are left out, and writing the
    same events under the same stem again replaces the files: replays and retries are idempotent.
    """
    report = LakeWrite()
    if events.num_rows == 0:
        return report
    unique = first_of_each_event(events.cast(EVENT_SCHEMA))
    report.duplicates = events.num_rows - unique.num_rows
    keyed = unique.append_column("_date", pc.strftime(unique["ts"], format="%Y-%m-%d"))
    groups = keyed.group_by(["client_id", "_date"]).aggregate([]).to_pylist()
    name = f"{file_stem}.parquet"
    for group in groups:
        client_id, date = group["client_id"], group["_date"]
        folder = partition_dir(layout, client_id, date)
        mask = pc.and_(pc.equal(keyed["client_id"], client_id), pc.equal(keyed["_date"], date))
        part = keyed.filter(mask).drop_columns(["_date"])
        known = _event_ids_in(folder, skip=name)
        if len(known):
            fresh = part.filter(pc.invert(pc.is_in(part["event_id"], value_set=known)))
            report.duplicates += part.num_rows - fresh.num_rows
            part = fresh
        if part.num_rows:
            write_parquet_atomically(part.sort_by("ts"), folder / name)
            report.partitions[(client_id, date)] = part.num_rows
    return report


def event_files(layout: StorageLayout, client_id: str) -> list[Path]:
    """Every lake file of one client, oldest day first."""
    return sorted(layout.client_events_dir(client_id).glob("date=*/*.parquet"))


def count_events(layout: StorageLayout, client_id: str) -> int:
    """How many events of a client the lake holds (from Parquet footers; no data is read)."""
    return sum(pq.read_metadata(path).num_rows for path in event_files(layout, client_id))
