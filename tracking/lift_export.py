"""A client's lift tests, handed over as stored: one Parquet file (or streamed as one Parquet or CSV table)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.layout import StorageLayout
from core.settings import Settings
from privacy.export import Exported, TableStream
from tracking.lift import LIFT_SCHEMA, lift_dir


class LiftExporter:
    """The client's ``lift.parquet`` (one row per lift test), copied byte for byte."""

    name = "lift"
    description = "every lift test (experiment) as imported and checked: one Parquet file, lift.parquet"

    def __init__(self, settings: Settings) -> None:
        self.layout = StorageLayout.from_settings(settings)

    def _path(self, client_id: str) -> Path:
        return lift_dir(self.layout, client_id) / "lift.parquet"

    def _table(self, client_id: str) -> pa.Table:
        try:
            return pq.read_table(self._path(client_id)).cast(LIFT_SCHEMA)
        except FileNotFoundError:
            return LIFT_SCHEMA.empty_table()

    def export(self, client_id: str, folder: Path) -> Exported:
        """Copy the client's ``lift.parquet`` into ``folder`` (nothing when it has no tests)."""
        tests = self._table(client_id).num_rows
        if not tests:
            return Exported(files=0, records=0, unit="lift tests")
        try:
            shutil.copyfile(self._path(client_id), folder / "lift.parquet")
        except FileNotFoundError:  # deleted meanwhile
            return Exported(files=0, records=0, unit="lift tests")
        return Exported(files=1, records=tests, unit="lift tests")

    def table_stream(self, client_id: str) -> TableStream:
        """The client's lift tests as one table."""
        table = self._table(client_id)
        return TableStream(LIFT_SCHEMA, table.num_rows, self._batches(table))

    @staticmethod
    def _batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
        yield from table.to_batches()


def lift_exporter(settings: Settings) -> LiftExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's lift tests."""
    return LiftExporter(settings)
