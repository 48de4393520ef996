"""A client's one-file tables — spend, KPIs, lift tests — handed over as stored (right of access and portability).

Each table is one Parquet file per client (``spend.parquet``, ``kpi.parquet``, ``lift.parquet``): the folder export
copies it byte for byte, and the streamed export reads it as one Parquet or CSV table. A client without the file
exports nothing for it (and streams an empty table with the table's columns).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.layout import StorageLayout
from core.settings import Settings
from privacy.export import Exported, TableStream
from tracking.kpi import kpi_path
from tracking.lift import LIFT_SCHEMA, lift_dir
from tracking.spend import SPEND_SCHEMA, spend_path

KPI_EMPTY_SCHEMA = pa.schema([pa.field("date", pa.date32(), nullable=False)])  # KPI columns are the client's own


@dataclass(frozen=True)
class StoredTable:
    """Where one kind of table lives and what it holds."""

    name: str
    description: str
    unit: str  # what a row is, for the export report: "spend rows"
    path: Callable[[StorageLayout, str], Path]
    schema: pa.Schema  # the columns of an empty table; a stored table keeps its own (KPI columns vary)


SPEND = StoredTable(
    "spend",
    "daily or weekly spend per campaign and channel, as imported: one Parquet file, spend.parquet",
    "spend rows",
    spend_path,
    SPEND_SCHEMA,
)
KPI = StoredTable(
    "kpi",
    "the KPI and control series by date, as imported: one Parquet file, kpi.parquet",
    "KPI rows",
    kpi_path,
    KPI_EMPTY_SCHEMA,
)
LIFT = StoredTable(
    "lift",
    "every lift test (experiment) as imported and checked: one Parquet file, lift.parquet",
    "lift tests",
    lambda layout, client_id: lift_dir(layout, client_id) / "lift.parquet",
    LIFT_SCHEMA,
)


class StoredTableExporter:
    """Exports one :class:`StoredTable` of a client."""

    def __init__(self, settings: Settings, table: StoredTable) -> None:
        self.layout = StorageLayout.from_settings(settings)
        self.table = table
        self.name = table.name
        self.description = table.description

    def _path(self, client_id: str) -> Path:
        return self.table.path(self.layout, client_id)

    def _read(self, client_id: str) -> pa.Table:
        try:
            return pq.read_table(self._path(client_id))
        except FileNotFoundError:
            return self.table.schema.empty_table()

    def export(self, client_id: str, folder: Path) -> Exported:
        """Copy the client's file into ``folder`` (nothing when it has none)."""
        source = self._path(client_id)
        rows = self._read(client_id).num_rows
        if not rows:
            return Exported(files=0, records=0, unit=self.table.unit)
        try:
            shutil.copyfile(source, folder / source.name)
        except FileNotFoundError:  # deleted meanwhile
            return Exported(files=0, records=0, unit=self.table.unit)
        return Exported(files=1, records=rows, unit=self.table.unit)

    def table_stream(self, client_id: str) -> TableStream:
        """The client's table as one stream."""
        table = self._read(client_id)
        return TableStream(table.schema, table.num_rows, _batches(table))


def _batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches()


def spend_exporter(settings: Settings) -> StoredTableExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's spend."""
    return StoredTableExporter(settings, SPEND)


def kpi_exporter(settings: Settings) -> StoredTableExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's KPI series."""
    return StoredTableExporter(settings, KPI)


def lift_exporter(settings: Settings) -> StoredTableExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's lift tests."""
    return StoredTableExporter(settings, LIFT)
