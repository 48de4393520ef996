"""Features' part of forgetting one data subject: training sets built from their events become stale.

Training sets hold no identifiers (rows are keyed by salted per-dataset pseudonyms whose salt is not kept),
so a person's rows cannot be found in them; instead every set that may hold the person's sessions is marked
stale (``stale.json``, no personal data) before the lake forgets the events, and ``load_dataset`` refuses it
until a new set is built. Registered in the entry-point group ``xmo.privacy.stores`` (see ``privacy.stores``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from core.files import atomic_write
from core.layout import StorageLayout
from core.settings import Settings
from features.dataset import DATASET_ID_PATTERN, MANIFEST_FILE, STALE_FILE
from features.manifest import DatasetManifest
from privacy.stores import Subject
from tracking.erasure import find_in_lake
from tracking.lake import compaction_lock

STALE_REASON = "erasure"


def is_stale(dataset_dir: Path) -> bool:
    """Whether the training set in ``dataset_dir`` was marked stale."""
    return (dataset_dir / STALE_FILE).is_file()


def mark_stale(dataset_dir: Path, reason: str = STALE_REASON) -> bool:
    """Mark a training set stale (reason and time only); False when it already was."""
    if is_stale(dataset_dir):
        return False
    marker = {"stale": True, "reason": reason, "marked_at": datetime.now(UTC).isoformat(timespec="seconds")}
    atomic_write(dataset_dir / STALE_FILE, (json.dumps(marker, indent=2) + "\n").encode())
    return True


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def may_hold(manifest: DatasetManifest, home: Path, events: pa.Table) -> bool:
    """Whether a training set may hold sessions of the person whose lake events are ``events``.

    ``events`` has ``filename`` (absolute lake path) and ``ts``. A set holds the sessions that started in its
    time range, read from its source files: it may hold the person when one of their events lies in that
    range in one of those files (a session starts with an event). Anything unreadable counts as a yes.
    """
    try:
        start, end = _utc(manifest.time_range_start), _utc(manifest.time_range_end)
        sources = {str(home / source) for source in manifest.source_partitions}
    except (TypeError, ValueError):
        return True
    in_sources = pc.is_in(events["filename"], value_set=pa.array(sorted(sources), pa.string()))
    in_range = pc.and_(
        pc.greater_equal(events["ts"], pa.scalar(start, events.schema.field("ts").type)),
        pc.less_equal(events["ts"], pa.scalar(end, events.schema.field("ts").type)),
    )
    return bool(pc.any(pc.and_(in_sources, in_range)).as_py())


def _dataset_dirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if DATASET_ID_PATTERN.fullmatch(p.name) and (p / MANIFEST_FILE).is_file())


def _manifest(dataset_dir: Path) -> DatasetManifest | None:
    try:
        return DatasetManifest.from_json((dataset_dir / MANIFEST_FILE).read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None


@dataclass(frozen=True)
class DatasetStaleness:
    """Marks the client's training sets that may hold a person's sessions as stale (they hold no identifiers)."""

    settings: Settings
    name: str = "stale training sets"
    order: int = 15  # after the spool (whose events no set holds), before the lake forgets the events

    def subject_records(self, subject: Subject) -> pa.Table | None:
        """None: training sets hold no identifier, so no row can be attributed to a person."""
        return None

    def forget_subject(self, subject: Subject) -> int:
        """Mark the sets that may hold the person's sessions stale; how many were newly marked."""
        layout = StorageLayout.from_settings(self.settings)
        candidates = [d for d in _dataset_dirs(layout.client_datasets_dir(subject.client_id)) if not is_stale(d)]
        if not candidates or subject.is_empty():
            return 0
        with compaction_lock(layout.ensure()):  # no file vanishes (retention) while it is read
            events = find_in_lake(layout, subject, ("ts",))
        if events.num_rows == 0:
            return 0
        marked = 0
        for dataset_dir in candidates:
            manifest = _manifest(dataset_dir)
            if (manifest is None or may_hold(manifest, layout.home, events)) and mark_stale(dataset_dir):
                marked += 1
        return marked


def dataset_staleness(settings: Settings) -> DatasetStaleness:
    """Entry point ``dataset-staleness`` of ``xmo.privacy.stores``."""
    return DatasetStaleness(settings)
