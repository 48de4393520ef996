"""Features' part of a data-subject erasure: the training sets that may hold the person's sessions are marked
stale (and refused by ``load_dataset``), the others are left alone."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.errors import Conflict
from core.layout import StorageLayout
from core.settings import Settings
from features.dataset import STALE_FILE, build_dataset, load_dataset
from features.erasure import dataset_staleness, is_stale
from privacy.stores import Subject, SubjectStore
from tracking.erasure import lake_subjects

CLIENT = "shop"  # the client of the ``lake`` fixture (tests/features/conftest.py)
EARLY = [f"earlyvisitor{i:04d}xx" for i in range(10)]  # sessions on 4-5 March 2024 only
LATE = [f"latevisitor{i:04d}xxx" for i in range(10)]  # sessions on 7-8 March 2024 only


def _sessions(lake: Any, visitors: list[str], first_minute: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(40):
        start = first_minute + i * 30
        visitor = visitors[i % len(visitors)]
        rows.append(lake.hit(visitor, start, utm_source="google", utm_medium="cpc", campaign_id=f"c-{i % 2}"))
        rows.append(lake.hit(visitor, start + 2, event_type="click"))
        if i % 4 == 0:
            rows.append(lake.hit(visitor, start + 3, event_type="goal", goal="purchase", value=10.0))
    return rows


@pytest.fixture
def datasets(settings: Settings, lake: Any) -> dict[str, Path]:
    """Two training sets: ``early`` (sessions up to 5 March) and ``all`` (4-8 March)."""
    lake.write(_sessions(lake, EARLY, 0))
    lake.write(_sessions(lake, LATE, 3 * 24 * 60))
    early = build_dataset(settings, CLIENT, timezone="UTC", until=date(2024, 3, 5), k=2)
    everything = build_dataset(settings, CLIENT, timezone="UTC", k=2)
    folder = StorageLayout.from_settings(settings).client_datasets_dir(CLIENT)
    return {"early": folder / early.dataset_id, "all": folder / everything.dataset_id}


def subject(visitor: str) -> Subject:
    return Subject(CLIENT, visitor_ids=frozenset({visitor}))


def test_it_is_a_subject_store_with_no_records(settings: Settings) -> None:
    store = dataset_staleness(settings)
    assert isinstance(store, SubjectStore)
    assert store.order == 15
    assert store.subject_records(subject(EARLY[0])) is None


def test_only_the_sets_that_may_hold_the_persons_sessions_are_marked(
    settings: Settings, datasets: dict[str, Path]
) -> None:
    store = dataset_staleness(settings)
    assert store.forget_subject(subject(LATE[3])) == 1
    assert is_stale(datasets["all"]) and not is_stale(datasets["early"])
    marker = json.loads((datasets["all"] / STALE_FILE).read_text())
    assert marker["reason"] == "erasure" and set(marker) == {"stale", "reason", "marked_at"}
    assert LATE[3] not in (datasets["all"] / STALE_FILE).read_text()

    with pytest.raises(Conflict, match=f"xmo dataset build {CLIENT}"):
        load_dataset(settings, CLIENT, datasets["all"].name)
    with pytest.raises(Conflict, match="stale"):
        load_dataset(settings, CLIENT)  # the newest set is the stale one: no silent fallback to an older one
    assert load_dataset(settings, CLIENT, datasets["early"].name).frame.shape[0] > 0

    assert store.forget_subject(subject(LATE[3])) == 0, "a set already stale is not counted again"
    assert store.forget_subject(subject(EARLY[0])) == 1
    assert is_stale(datasets["early"])


def test_a_person_the_lake_does_not_hold_marks_nothing(settings: Settings, datasets: dict[str, Path]) -> None:
    assert dataset_staleness(settings).forget_subject(subject("nobodyvisitor0000xx")) == 0
    assert not any(is_stale(path) for path in datasets.values())


def test_events_that_reached_the_lake_after_a_build_do_not_stale_it(
    settings: Settings, lake: Any, datasets: dict[str, Path]
) -> None:
    """A late hit inside a set's time range, compacted after the set was built, was never read by it."""
    straggler = "stragglervisitor0001"
    lake.write([lake.hit(straggler, 60)])
    assert dataset_staleness(settings).forget_subject(subject(straggler)) == 0
    assert not any(is_stale(path) for path in datasets.values())


def test_erasure_after_the_lake_forgot_the_person_finds_nothing_to_mark(
    settings: Settings, datasets: dict[str, Path]
) -> None:
    """Order matters: staleness (15) runs before the lake (20) deletes the events it looks for."""
    assert lake_subjects(settings).forget_subject(subject(LATE[0])) > 0
    assert dataset_staleness(settings).forget_subject(subject(LATE[0])) == 0


def test_an_unreadable_manifest_is_marked_when_the_person_is_in_the_lake(
    settings: Settings, datasets: dict[str, Path]
) -> None:
    manifest = datasets["early"] / "manifest.json"
    data = json.loads(manifest.read_text())
    data["time_range_start"] = "not a time"
    manifest.write_text(json.dumps(data))
    assert dataset_staleness(settings).forget_subject(subject(LATE[0])) == 2  # unsure → stale
    assert all(is_stale(path) for path in datasets.values())
