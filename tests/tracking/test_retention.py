"""The lake's retention store: whole day partitions before the cutoff go (counted from their footers), every
other partition and every other client's partition stays byte for byte."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from privacy.retention import RetentionPreview
from privacy.stores import RetentionStore, retention_stores
from tracking.compactor import compact_all
from tracking.lake import count_events
from tracking.retention import EXPIRED_PREFIX, LakeRetention, lake_retention
from xmo.simulator.cli import run_simulation

START = date(2026, 4, 6)  # partitions 2026-04-06 … 2026-04-09


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


def days_of(layout: StorageLayout, client_id: str) -> list[str]:
    return sorted(p.name for p in layout.client_events_dir(client_id).iterdir())


@pytest.fixture
def lake(settings: Settings) -> StorageLayout:
    tenants = Tenants.from_settings(settings)
    for cid in ("alpha", "bravo"):
        tenants.create_client(cid.title(), [f"{cid}.example"], client_id=cid)
        run_simulation(settings, cid, days=4, visitors_per_day=30, seed=3, start=START)
    compact_all(settings)
    layout = StorageLayout.from_settings(settings)
    assert days_of(layout, "alpha") == [f"date=2026-04-0{d}" for d in (6, 7, 8, 9)]
    return layout


def test_partitions_before_the_cutoff_go_and_the_rest_stays(settings: Settings, lake: StorageLayout) -> None:
    store = lake_retention(settings)
    assert isinstance(store, RetentionStore) and isinstance(store, RetentionPreview)
    alpha = lake.client_events_dir("alpha")
    expired = sum(pq.read_metadata(p).num_rows for p in alpha.glob("date=2026-04-0[67]/*.parquet"))
    kept = snapshot(alpha)
    kept = {k: v for k, v in kept.items() if k.startswith(("date=2026-04-08", "date=2026-04-09"))}
    bravo = snapshot(lake.client_events_dir("bravo"))
    total = count_events(lake, "alpha")

    assert store.count_before("alpha", date(2026, 4, 8)) == expired > 0
    assert days_of(lake, "alpha")[0] == "date=2026-04-06"  # counting deletes nothing
    assert store.forget_before("alpha", date(2026, 4, 8)) == expired
    assert days_of(lake, "alpha") == ["date=2026-04-08", "date=2026-04-09"]
    assert snapshot(alpha) == kept
    assert count_events(lake, "alpha") == total - expired
    assert snapshot(lake.client_events_dir("bravo")) == bravo  # another client's old days are not touched
    assert store.forget_before("alpha", date(2026, 4, 8)) == 0  # idempotent
    assert store.count_before("alpha", date(2026, 4, 8)) == 0


def test_a_cutoff_before_every_partition_deletes_nothing_and_one_after_all_deletes_all(
    settings: Settings, lake: StorageLayout
) -> None:
    store = LakeRetention(settings)
    before = snapshot(lake.client_events_dir("alpha"))
    assert store.forget_before("alpha", date(2026, 4, 6)) == 0
    assert snapshot(lake.client_events_dir("alpha")) == before
    total = count_events(lake, "alpha")
    assert store.forget_before("alpha", date(2026, 4, 10)) == total
    assert days_of(lake, "alpha") == [] and count_events(lake, "alpha") == 0


def test_a_client_without_a_lake_and_a_bad_client_id(settings: Settings) -> None:
    store = LakeRetention(settings)
    assert store.forget_before("nobody", date(2026, 4, 8)) == 0
    assert store.count_before("nobody", date(2026, 4, 8)) == 0
    with pytest.raises(InvalidInput):
        store.forget_before("../alpha", date(2026, 4, 8))


def test_a_partition_left_half_deleted_by_a_crash_is_cleared(settings: Settings, lake: StorageLayout) -> None:
    alpha = lake.client_events_dir("alpha")
    (alpha / "date=2026-04-06").rename(alpha / f"{EXPIRED_PREFIX}date=2026-04-06")  # renamed, then the crash
    assert days_of(lake, "alpha")[0] == f"{EXPIRED_PREFIX}date=2026-04-06"
    LakeRetention(settings).forget_before("alpha", date(2026, 4, 7))
    assert days_of(lake, "alpha") == ["date=2026-04-07", "date=2026-04-08", "date=2026-04-09"]


def test_the_store_is_discovered_through_its_entry_point(settings: Settings) -> None:
    assert any(isinstance(s, LakeRetention) for s in retention_stores(settings))
