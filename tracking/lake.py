"""The event lake: Parquet files under ``lake/events/client_id=<id>/date=<YYYY-MM-DD>/``."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.files import fsync_dir
from core.layout import StorageLayout
from tracking.events import EVENT_SCHEMA


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


def write_events(layout: StorageLayout, events: pa.Table, file_stem: str) -> dict[tuple[str, str], int]:
    """Split events by client and UTC day and write one file per partition named ``<file_stem>.parquet``.

    Writing the same events under the same stem again replaces the files: replays are idempotent.
    Returns the number of events written per (client id, date).
    """
    if events.num_rows == 0:
        return {}
    events = events.cast(EVENT_SCHEMA)
    dates = pc.strftime(events["ts"], format="%Y-%m-%d")
    keyed = events.append_column("_date", dates)
    written: dict[tuple[str, str], int] = {}
    groups = keyed.group_by(["client_id", "_date"]).aggregate([]).to_pylist()
    for group in groups:
        client_id, date = group["client_id"], group["_date"]
        mask = pc.and_(pc.equal(keyed["client_id"], client_id), pc.equal(keyed["_date"], date))
        part = keyed.filter(mask).drop_columns(["_date"]).sort_by("ts")
        write_parquet_atomically(part, partition_dir(layout, client_id, date) / f"{file_stem}.parquet")
        written[(client_id, date)] = part.num_rows
    return written


def event_files(layout: StorageLayout, client_id: str) -> list[Path]:
    """Every lake file of one client, oldest day first."""
    return sorted(layout.client_events_dir(client_id).glob("date=*/*.parquet"))


def count_events(layout: StorageLayout, client_id: str) -> int:
    """How many events of a client the lake holds (from Parquet footers; no data is read)."""
    return sum(pq.read_metadata(path).num_rows for path in event_files(layout, client_id))
