"""Tracking's part of forgetting a client: its spooled events, its lake partitions, its spend and KPI tables.

Registered in the entry-point group ``xmo.privacy.stores`` (see ``privacy.stores``). Each step is idempotent:
a purge interrupted midway and run again finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.files import remove_tree
from core.layout import StorageLayout, check_client_id
from core.settings import Settings
from privacy.stores import Trace, folder_client_ids, tree_traces
from tracking.experiments import count_experiments, experiments_dir, experiments_root
from tracking.lake import compaction_lock
from tracking.lift import lift_dir, lift_root
from tracking.spool import Spool


def _parquet_rows(folder: Path) -> int:
    rows = 0
    for path in folder.rglob("*.parquet"):
        try:
            rows += pq.read_metadata(path).num_rows
        except (OSError, ValueError):
            continue  # a torn or foreign file: deleted all the same, counted as nothing
    return rows


@dataclass(frozen=True)
class SpoolClientStore:
    """Events of the client still waiting in any spool under ``XMO_HOME`` (every collector's file)."""

    settings: Settings
    name: str = "spooled events"
    order: int = 10

    def _remove(self, client_id: str, *, dry_run: bool) -> int:
        found = 0
        for spool in Spool.all_in(self.settings):
            try:
                found += spool.remove_events(lambda events: pc.equal(events["client_id"], client_id), dry_run=dry_run)
            finally:
                spool.close()
        return found

    def forget_client(self, client_id: str) -> int:
        layout = StorageLayout.from_settings(self.settings).ensure()
        with compaction_lock(layout):
            return self._remove(check_client_id(client_id), dry_run=False)

    def client_traces(self, client_id: str) -> list[Trace]:
        count = self._remove(check_client_id(client_id), dry_run=True)
        return [Trace(self.name, "spool", count)] if count else []


@dataclass(frozen=True)
class LakeClientStore:
    """The client's event partitions in the lake."""

    settings: Settings
    name: str = "lake events"
    order: int = 20

    def forget_client(self, client_id: str) -> int:
        layout = StorageLayout.from_settings(self.settings).ensure()
        folder = layout.client_events_dir(client_id)
        with compaction_lock(layout):
            events = _parquet_rows(folder) if folder.exists() else 0
            remove_tree(folder)
        return events

    def client_traces(self, client_id: str) -> list[Trace]:
        layout = StorageLayout.from_settings(self.settings)
        return tree_traces(self.name, layout.client_events_dir(client_id))

    def held_client_ids(self) -> set[str]:
        return folder_client_ids(StorageLayout.from_settings(self.settings).events_dir)


@dataclass(frozen=True)
class TablesClientStore:
    """The client's imported spend, KPI and lift-test tables, and its experiments."""

    settings: Settings
    name: str = "spend and KPI tables"
    order: int = 30

    def _folders(self, client_id: str) -> list[Path]:
        layout = StorageLayout.from_settings(self.settings)
        return [
            layout.client_spend_dir(client_id),
            layout.client_kpi_dir(client_id),
            lift_dir(layout, client_id),
            experiments_dir(layout, client_id),
        ]

    def forget_client(self, client_id: str) -> int:
        rows = 0
        for folder in self._folders(client_id):
            rows += (_parquet_rows(folder) + count_experiments(folder)) if folder.exists() else 0
            remove_tree(folder)
        return rows

    def client_traces(self, client_id: str) -> list[Trace]:
        return [trace for folder in self._folders(client_id) for trace in tree_traces(self.name, folder)]

    def held_client_ids(self) -> set[str]:
        layout = StorageLayout.from_settings(self.settings)
        return folder_client_ids(layout.spend_dir, layout.kpi_dir, lift_root(layout), experiments_root(layout))


def spool_store(settings: Settings) -> SpoolClientStore:
    """Entry point ``spool`` of ``xmo.privacy.stores``."""
    return SpoolClientStore(settings)


def lake_store(settings: Settings) -> LakeClientStore:
    """Entry point ``lake`` of ``xmo.privacy.stores``."""
    return LakeClientStore(settings)


def tables_store(settings: Settings) -> TablesClientStore:
    """Entry point ``tables`` of ``xmo.privacy.stores``."""
    return TablesClientStore(settings)
