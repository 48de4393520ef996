"""Small hand-built lakes for the feature tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from core.layout import StorageLayout
from core.settings import Settings
from tracking.events import EVENT_SCHEMA
from tracking.lake import write_events

CLIENT = "shop"
T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday
VISITOR_A = "visitorAAAAAAAAAAAAAAAA01"
VISITOR_B = "visitorBBBBBBBBBBBBBBBB02"

_ids = itertools.count()


def hit(visitor_id: str = VISITOR_A, minutes: float = 0.0, event_type: str = "pageview", **fields: Any) -> dict[str, Any]:
    """One lake event ``minutes`` after ``T0`` (every field of ``EVENT_SCHEMA`` present)."""
    ts = fields.pop("ts", T0 + timedelta(minutes=minutes))
    row: dict[str, Any] = dict.fromkeys(EVENT_SCHEMA.names)
    row.update(
        event_id=f"ev-{next(_ids):08d}", client_id=CLIENT, ts=ts, received_at=ts, event_type=event_type,
        visitor_id=visitor_id, path="/", url="https://shop.example/", consent=False, source="pixel",
        browser_family="Chrome", browser_version="120.0", os_family="Windows", os_version="10",
        device_class="desktop", region="DE-BE",
    )
    row.update(fields)
    return row


def events_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """A lake table from event dicts."""
    return pa.Table.from_pylist(list(rows), schema=EVENT_SCHEMA)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh XMO_HOME."""
    return Settings(home=tmp_path / "home")


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    """The storage layout of the fresh home, created."""
    return StorageLayout.from_settings(settings).ensure()


WriteLake = Callable[..., None]


@pytest.fixture
def write_lake(layout: StorageLayout) -> WriteLake:
    """Write event dicts to the lake as the compactor does (one file per day and stem)."""
    counter = itertools.count()

    def write(rows: Iterable[Mapping[str, Any]], stem: str | None = None) -> None:
        write_events(layout, events_table(rows), stem or f"part-test-{next(counter):04d}")

    return write
