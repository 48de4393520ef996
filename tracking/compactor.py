"""Compaction: move spooled batches into the lake, exactly once even across crashes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from core.database import absent_sqlite_file, get_engine
from core.layout import StorageLayout
from core.settings import Settings
from privacy.purge import purged_client_ids
from tracking.event_index import StoredEventIds
from tracking.events import EVENT_SCHEMA
from tracking.lake import compaction_lock, write_events
from tracking.spool import FREE_HEADROOM_BYTES, Spool

DEFAULT_MAX_EVENTS = 100_000  # events per range: what a pass holds in memory at once


@dataclass
class CompactionReport:
    """What one compaction pass moved."""

    batches: int = 0
    events: int = 0  # events read from the spool (duplicates included)
    duplicates: int = 0  # of those, events the lake already held (retried hits)
    purged: int = 0  # of those, events of purged clients (accepted by a worker before it heard), dropped
    partitions: dict[tuple[str, str], int] = field(default_factory=dict)
    released_bytes: int = 0  # spool file space given back to the file system

    def add(self, other: CompactionReport) -> None:
        """Add another pass's figures to these."""
        self.batches += other.batches
        self.events += other.events
        self.duplicates += other.duplicates
        self.purged += other.purged
        self.released_bytes += other.released_bytes
        for key, count in other.partitions.items():
            self.partitions[key] = self.partitions.get(key, 0) + count


def compact_spool(
    spool: Spool,
    layout: StorageLayout,
    max_events: int = DEFAULT_MAX_EVENTS,
    purged: frozenset[str] = frozenset(),
    index: StoredEventIds | None = None,
    *,
    recurring: bool = False,
) -> CompactionReport:
    """Move the batches ``spool`` holds when called into the lake, ``max_events`` at a time; events of ``purged``
    clients go. Freed file space beyond ``FREE_HEADROOM_BYTES`` goes back to the file system; a ``recurring``
    pass (the background loop's) keeps as much as it found in use, for the batches of the next interval. (Under
    load a spool is never empty: chasing the batches that arrive meanwhile kept one pass on one worker's spool for
    good while the others grew.)

    Each range is recorded before files are written and forgotten after the batches are deleted; a crash
    in between replays the same range under the same file names, so nothing is lost or doubled.
    """
    report = CompactionReport()
    stem_prefix = spool.path.stem
    until_seq = spool.last_seq()  # what arrives meanwhile waits for the next pass: the other spools' turn comes
    in_use = spool.bytes_in_use()
    while (pending := spool.begin_compaction(max_events, until_seq)) is not None:
        if pending.written:  # a crash came while its batches were being forgotten: finish that
            spool.finish_compaction(pending)
            continue
        events = spool.read_events(pending.first_seq, pending.last_seq).cast(EVENT_SCHEMA)
        if purged:
            kept = events.filter(pc.invert(pc.is_in(events["client_id"], value_set=pa.array(sorted(purged)))))
            report.purged += events.num_rows - kept.num_rows
            events = kept
        stem = f"part-{stem_prefix}-{pending.first_seq:012d}-{pending.last_seq:012d}"
        written = write_events(layout, events, stem, index)
        report.duplicates += written.duplicates
        for key, count in written.partitions.items():
            report.partitions[key] = report.partitions.get(key, 0) + count
        report.batches += spool.batch_count(pending.first_seq, pending.last_seq)
        report.events += events.num_rows
        del events
        spool.finish_compaction(pending)
    # A recurring pass keeps as much free space as it found in use: under steady load the next interval's batches
    # fill it again, and moving live pages to shrink the file only to grow it back held the worker's write lock for
    # nothing. A quiet pass finds little in use and gives the rest back; a one-off pass (``xmo compact``) gives back
    # all but the minimum headroom at once.
    headroom = max(FREE_HEADROOM_BYTES, in_use) if recurring else FREE_HEADROOM_BYTES
    report.released_bytes = spool.release_free_space(headroom)
    return report


def compact_all(
    settings: Settings,
    max_events: int = DEFAULT_MAX_EVENTS,
    index: StoredEventIds | None = None,
    *,
    recurring: bool = False,
) -> CompactionReport:
    """Compact every spool under ``XMO_HOME`` (one compactor at a time: the background process and the CLI take
    turns); a long-running compactor passes the same ``index`` to every pass, and ``recurring`` (see
    :func:`compact_spool`)."""
    layout = StorageLayout.from_settings(settings).ensure()
    with compaction_lock(layout):
        return _compact_all(settings, layout, max_events, index or StoredEventIds(), recurring)


def _purged_clients(settings: Settings) -> frozenset[str]:
    """Purged clients per the registry; none when there is no registry yet (nothing was ever purged)."""
    if settings.database_url is None and absent_sqlite_file(settings.effective_database_url):
        return frozenset()
    return purged_client_ids(get_engine(settings))


def _compact_all(
    settings: Settings, layout: StorageLayout, max_events: int, index: StoredEventIds, recurring: bool
) -> CompactionReport:
    total = CompactionReport()
    purged = _purged_clients(settings)
    for spool in Spool.all_in(settings):
        try:
            report = compact_spool(spool, layout, max_events, purged, index, recurring=recurring)
            if spool.owner_is_gone() and spool.pending_events() == 0:
                spool.remove()
        finally:
            spool.close()
        total.add(report)
    return total
