"""Fixtures of the feature tests: small hand-built lakes in the test's XMO_HOME (``settings`` of tests/conftest.py).

Test modules use these through fixtures only (no imports from here), so they run under any pytest import mode.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.events import EVENT_SCHEMA
from tracking.lake import partition_dir, write_events, write_parquet_atomically


class LakeWriter:
    """Builds lake events of one client and writes them as the compactor does (one file per day and stem)."""

    client_id = "shop"
    t0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday
    visitor_a = "visitorAAAAAAAAAAAAAAAA01"
    visitor_b = "visitorBBBBBBBBBBBBBBBB02"

    def __init__(self, layout: StorageLayout) -> None:
        self.layout = layout
        self._event_ids = itertools.count()
        self._stems = itertools.count()

    def hit(
        self, visitor_id: str | None = None, minutes: float = 0.0, event_type: str = "pageview", **fields: Any
    ) -> dict[str, Any]:
        """One event ``minutes`` after ``t0`` (or at ``ts=``), every column of ``EVENT_SCHEMA`` present."""
        ts = fields.pop("ts", self.t0 + timedelta(minutes=minutes))
        row: dict[str, Any] = dict.fromkeys(EVENT_SCHEMA.names)
        row.update(
            event_id=f"ev-{next(self._event_ids):08d}",
            client_id=self.client_id,
            ts=ts,
            received_at=ts,
            event_type=event_type,
            visitor_id=visitor_id or self.visitor_a,
            path="/",
            url="https://shop.example/",
            consent=False,
            source="pixel",
            browser_family="Chrome",
            browser_version="120.0",
            os_family="Windows",
            os_version="10",
            device_class="desktop",
            region="DE-BE",
        )
        row.update(fields)
        return row

    @staticmethod
    def table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
        """A lake table of event dicts."""
        return pa.Table.from_pylist(list(rows), schema=EVENT_SCHEMA)

    def write(self, rows: Iterable[Mapping[str, Any]], stem: str | None = None) -> None:
        """Write events to the lake (a new file per call unless ``stem`` repeats)."""
        write_events(self.layout, self.table(rows), stem or f"part-test-{next(self._stems):04d}")

    def write_unchecked(self, rows: Iterable[Mapping[str, Any]], date: str) -> None:
        """Write events into one day's partition as they are, duplicates included (a lake that a crash, an
        older writer or another tool left), so readers must cope with them."""
        folder = partition_dir(self.layout, self.client_id, date)
        write_parquet_atomically(self.table(rows), folder / f"part-unchecked-{next(self._stems):04d}.parquet")


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    """The storage layout of the fresh home, created."""
    return StorageLayout.from_settings(settings).ensure()


@pytest.fixture
def lake(settings: Settings, layout: StorageLayout) -> LakeWriter:
    """A writer of hand-built events into the fresh home's lake, for the registered client ``shop``."""
    Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id=LakeWriter.client_id)
    return LakeWriter(layout)
