"""A client's sessions (as features builds them from the lake) and training sets, handed over in Parquet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.layout import StorageLayout
from core.settings import Settings
from features.dataset import list_datasets, session_options
from features.session_schema import SESSION_SCHEMA
from features.sessions import build_sessions
from privacy.export import Exported, TableStream

SESSIONS_FILE = "sessions.parquet"
BATCH_ROWS = 64_000


def session_table(sessions: pd.DataFrame) -> pa.Table:
    """Sessions as an Arrow table of ``SESSION_SCHEMA`` (UTC times converted without pandas' deprecated path)."""
    arrays = []
    for spec in SESSION_SCHEMA:
        column = sessions[spec.name]
        if pa.types.is_timestamp(spec.type):
            naive = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            arrays.append(pa.array(naive, type=pa.timestamp("us"), from_pandas=True).cast(spec.type))
        else:
            arrays.append(pa.array(column, type=spec.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=SESSION_SCHEMA)


class SessionsExporter:
    """Every session of the client, sessionized with its time zone and goals (the columns of ``SESSION_SCHEMA``)."""

    name = "sessions"
    description = "one row per visit, built from the events with the client's goals and time zone: sessions.parquet"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def table(self, client_id: str) -> pa.Table:
        """The client's sessions (no rows when the lake holds none of its events)."""
        options = session_options(self.settings, client_id)
        sessions = build_sessions(
            StorageLayout.from_settings(self.settings),
            client_id,
            timeout_minutes=options.timeout_minutes,
            timezone=options.timezone,
            split_at_midnight=options.split_at_midnight,
            goals=options.goals,
        )
        return session_table(sessions)

    def export(self, client_id: str, folder: Path) -> Exported:
        """Write ``folder/sessions.parquet`` (nothing when the client has no sessions)."""
        table = self.table(client_id)
        if table.num_rows == 0:
            return Exported(files=0, records=0, unit="sessions")
        pq.write_table(table, folder / SESSIONS_FILE, compression="zstd")
        return Exported(files=1, records=table.num_rows, unit="sessions")

    def table_stream(self, client_id: str) -> TableStream:
        """The client's sessions as one table."""
        table = self.table(client_id)
        return TableStream(SESSION_SCHEMA, table.num_rows, table.to_batches(max_chunksize=BATCH_ROWS))


class DatasetsExporter:
    """The client's anonymized training sets, each folder copied with its manifest and privacy report."""

    name = "datasets"
    description = (
        "the anonymized training sets, one folder each: data/part-*.parquet, manifest.json, privacy_report.json"
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def export(self, client_id: str, folder: Path) -> Exported:
        """Copy every training set of the client into ``folder/<dataset_id>/``."""
        source = StorageLayout.from_settings(self.settings).client_datasets_dir(client_id)
        datasets = files = 0
        for manifest in list_datasets(self.settings, client_id):
            copied = shutil.copytree(source / manifest.dataset_id, folder / manifest.dataset_id)
            datasets += 1
            files += sum(1 for p in Path(copied).rglob("*") if p.is_file())
        return Exported(files=files, records=datasets, unit="training sets")


def sessions_exporter(settings: Settings) -> SessionsExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's sessions."""
    return SessionsExporter(settings)


def datasets_exporter(settings: Settings) -> DatasetsExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's training sets."""
    return DatasetsExporter(settings)
