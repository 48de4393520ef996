"""Retention of the event lake: a client's whole day partitions older than its cutoff are deleted.

Only the lake is touched, not the spool: the edge and the importer already refuse events dated before a
client's retention, and the spool holds what they accept for seconds (the compactor runs every
``XMO_COMPACT_INTERVAL_S``) against a retention of at least one day. An event that ages past the cutoff in
between, or a client whose retention was just shortened, is caught by the next pass over the lake.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from core.files import TOMBSTONE_PREFIX, fsync_dir, remove_tree
from core.layout import StorageLayout
from core.settings import Settings
from tracking.lake import compaction_lock

PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
EXPIRED_PREFIX = TOMBSTONE_PREFIX  # a partition being deleted: renamed first (core.files.remove_tree)


def expired_partitions(layout: StorageLayout, client_id: str, cutoff: date) -> list[Path]:
    """The client's ``date=YYYY-MM-DD`` folders dated before ``cutoff``, oldest first."""
    folder = layout.client_events_dir(client_id)
    if not folder.is_dir():
        return []
    limit = cutoff.isoformat()
    found = []
    for path in folder.iterdir():
        match = PARTITION.fullmatch(path.name)
        if match and path.is_dir() and match.group(1) < limit:
            found.append(path)
    return sorted(found)


def partition_events(folder: Path) -> int:
    """How many events a partition holds (from the Parquet footers; no data is read)."""
    return sum(pq.read_metadata(path).num_rows for path in folder.glob("*.parquet"))


class LakeRetention:
    """The lake as a ``RetentionStore`` (and ``RetentionPreview`` for dry runs)."""

    name = "lake"
    order = 20

    def __init__(self, settings: Settings) -> None:
        self.layout = StorageLayout.from_settings(settings)

    def count_before(self, client_id: str, cutoff: date) -> int:
        """How many of the client's events lie in partitions dated before ``cutoff``."""
        return sum(partition_events(p) for p in expired_partitions(self.layout, client_id, cutoff))

    def forget_before(self, client_id: str, cutoff: date) -> int:
        """Delete the client's partitions dated before ``cutoff``; the number of events they held."""
        folder = self.layout.client_events_dir(client_id)
        if not folder.is_dir():
            return 0
        deleted = 0
        # the compactor writes into partitions: one of us at a time
        with compaction_lock(self.layout):
            for leftover in folder.glob(f"{EXPIRED_PREFIX}*"):  # a pass interrupted after the rename
                shutil.rmtree(leftover)
            for partition in expired_partitions(self.layout, client_id, cutoff):
                deleted += partition_events(partition)
                remove_tree(partition)
            fsync_dir(folder)
        return deleted


def lake_retention(settings: Settings) -> LakeRetention:
    """Entry point of ``xmo.privacy.stores``: the lake's retention."""
    return LakeRetention(settings)
