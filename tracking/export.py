"""A client's events, handed over as stored: its lake Parquet files, or one Parquet or CSV table."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.layout import StorageLayout
from core.settings import Settings
from privacy.export import Exported, TableStream
from tracking.events import EVENT_SCHEMA
from tracking.lake import event_files

BATCH_ROWS = 64_000


def _rows(path: Path) -> int | None:
    """Events in one lake file, or None when it is gone (a retention pass or purge deleted it meanwhile)."""
    try:
        return pq.read_metadata(path).num_rows
    except FileNotFoundError:
        return None


class EventsExporter:
    """The client's lake partitions ``date=YYYY-MM-DD/*.parquet``, copied byte for byte."""

    name = "events"
    description = "every event, as stored: Parquet files in one folder per UTC day (date=YYYY-MM-DD)"

    def __init__(self, settings: Settings) -> None:
        self.layout = StorageLayout.from_settings(settings)

    def export(self, client_id: str, folder: Path) -> Exported:
        """Copy the client's lake files into ``folder/date=…/``."""
        files = rows = 0
        for path in event_files(self.layout, client_id):
            count = _rows(path)
            if count is None:
                continue
            target = folder / path.parent.name / path.name
            target.parent.mkdir(exist_ok=True)
            try:
                shutil.copyfile(path, target)
            except FileNotFoundError:
                continue
            files, rows = files + 1, rows + count
        return Exported(files=files, records=rows, unit="events")

    def table_stream(self, client_id: str) -> TableStream:
        """The client's events as one table, oldest day first (read one lake file at a time)."""
        files = [(path, n) for path in event_files(self.layout, client_id) if (n := _rows(path)) is not None]
        return TableStream(EVENT_SCHEMA, sum(n for _, n in files), self._batches([p for p, _ in files]))

    @staticmethod
    def _batches(files: list[Path]) -> Iterator[pa.RecordBatch]:
        for path in files:
            try:
                table = pq.read_table(path, columns=EVENT_SCHEMA.names)
            except FileNotFoundError:
                continue
            yield from table.cast(EVENT_SCHEMA).to_batches(max_chunksize=BATCH_ROWS)


def events_exporter(settings: Settings) -> EventsExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's events."""
    return EventsExporter(settings)
