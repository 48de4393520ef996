"""Tracking's part of forgetting one data subject: their events in every spool and in the client's lake files.

Registered in the entry-point group ``xmo.privacy.stores`` (see ``privacy.stores``). A person is found by
cookie id or keyed pseudonym (``privacy.stores.Subject``), never by a raw identifier. Only the lake files that
hold the person are rewritten (atomically, under the compaction lock); the others are not touched.
"""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.files import fsync_dir
from core.layout import StorageLayout
from core.settings import Settings
from privacy.stores import Subject
from tracking.events import EVENT_SCHEMA
from tracking.lake import compaction_lock, event_files, write_parquet_atomically
from tracking.spool import Spool

# The columns that name a person, and the subject's identifier set each is matched against
_ID_COLUMNS: tuple[tuple[str, str], ...] = (
    ("visitor_id", "visitor_ids"),
    ("email_pseudonym", "email_pseudonyms"),
    ("member_pseudonym", "member_pseudonyms"),
)
_ALL_SEQ = (0, 2**62)


def _identifiers(subject: Subject) -> list[tuple[str, list[str]]]:
    """(column, sorted values) for each kind of identifier the subject carries."""
    pairs = [(column, sorted(getattr(subject, attribute))) for column, attribute in _ID_COLUMNS]
    return [(column, values) for column, values in pairs if values]


def subject_mask(events: pa.Table, subject: Subject) -> pa.ChunkedArray:
    """True for the rows of ``events`` (event schema) that belong to the subject; never null."""
    matches = [
        pc.is_in(events[column], value_set=pa.array(values, pa.string())) for column, values in _identifiers(subject)
    ]
    if not matches:
        return pa.chunked_array([pa.repeat(False, events.num_rows)], pa.bool_())
    found = functools.reduce(pc.or_kleene, matches)
    return pc.fill_null(pc.and_kleene(pc.equal(events["client_id"], subject.client_id), found), False)


def find_in_lake(layout: StorageLayout, subject: Subject, columns: tuple[str, ...] = ()) -> pa.Table:
    """The subject's lake rows: ``filename`` (the file holding each) and ``columns`` (event columns).

    Reads only the id columns of the client's files (DuckDB, in parallel), plus ``columns`` for matching rows.
    """
    files = event_files(layout, subject.client_id)
    identifiers = _identifiers(subject)
    wanted = ["filename", *(c for c in columns if c != "filename")]
    unknown = [c for c in wanted[1:] if c not in EVENT_SCHEMA.names]
    if unknown:
        raise ValueError(f"not event columns: {unknown}")
    if not files or not identifiers:
        fields = [pa.field("filename", pa.string()), *(EVENT_SCHEMA.field(c) for c in wanted[1:])]
        return pa.schema(fields).empty_table()
    condition = " OR ".join(f'"{column}" = ANY(${column})' for column, _ in identifiers)
    select = ", ".join(f'"{c}"' for c in wanted)
    with duckdb.connect(":memory:") as con:
        con.execute("SET TimeZone = 'UTC'")
        with contextlib.suppress(duckdb.Error):
            con.execute("SET enable_progress_bar = false")
        con.register("events", con.read_parquet([str(f) for f in files], filename=True, hive_partitioning=False))
        parameters: dict[str, object] = {column: values for column, values in identifiers}
        parameters["client_id"] = subject.client_id
        query = f"SELECT {select} FROM events WHERE client_id = $client_id AND ({condition}) ORDER BY filename"
        table: pa.Table = con.sql(query, params=parameters).to_arrow_table()
    return table


def _files_of(layout: StorageLayout, subject: Subject) -> list[Path]:
    """The lake files that hold at least one event of the subject."""
    names = find_in_lake(layout, subject).column("filename").to_pylist()
    return [Path(name) for name in dict.fromkeys(names)]


def _read(path: Path) -> pa.Table:
    """One lake file as stored (no partition columns inferred from its folder names)."""
    return pq.ParquetFile(path).read()


def _rewrite_without(path: Path, subject: Subject) -> int:
    """Rewrite one lake file without the subject's rows (deleted when none remain); how many were removed."""
    events = _read(path)
    mask = subject_mask(events, subject)
    removed = int(pc.sum(mask).as_py() or 0)
    if not removed:
        return 0
    kept = events.filter(pc.invert(mask))
    if kept.num_rows:
        write_parquet_atomically(kept, path)
    else:
        path.unlink()
        fsync_dir(path.parent)
        with contextlib.suppress(OSError):  # the day's folder, if that was its last file
            path.parent.rmdir()
    return removed


def _as_events(tables: list[pa.Table]) -> pa.Table | None:
    """The tables as one event table, or None when they hold no row."""
    rows = [t for t in tables if t.num_rows]
    if not rows:
        return None
    return pa.concat_tables([t.cast(EVENT_SCHEMA) for t in rows]).sort_by(
        [("ts", "ascending"), ("event_id", "ascending")]
    )


@dataclass(frozen=True)
class SpoolSubjects:
    """The person's events still waiting in any spool under ``XMO_HOME`` (every collector's file)."""

    settings: Settings
    name: str = "spooled events"
    order: int = 10

    def subject_records(self, subject: Subject) -> pa.Table | None:
        found: list[pa.Table] = []
        for spool in Spool.all_in(self.settings):
            try:
                for batch in spool.read(*_ALL_SEQ):
                    found.append(batch.events.filter(subject_mask(batch.events, subject)))
            finally:
                spool.close()
        return _as_events(found)

    def forget_subject(self, subject: Subject) -> int:
        if subject.is_empty():
            return 0
        layout = StorageLayout.from_settings(self.settings).ensure()
        removed = 0
        with compaction_lock(layout):
            for spool in Spool.all_in(self.settings):
                try:
                    removed += spool.remove_events(lambda events: subject_mask(events, subject))
                finally:
                    spool.close()
        return removed


@dataclass(frozen=True)
class LakeSubjects:
    """The person's events in the client's lake files (only the files that hold them are rewritten)."""

    settings: Settings
    name: str = "lake events"
    order: int = 20

    def subject_records(self, subject: Subject) -> pa.Table | None:
        layout = StorageLayout.from_settings(self.settings).ensure()
        with compaction_lock(layout):  # no file vanishes (retention) between finding and reading it
            tables = [_read(path) for path in _files_of(layout, subject)]
        return _as_events([t.filter(subject_mask(t, subject)) for t in tables])

    def forget_subject(self, subject: Subject) -> int:
        if subject.is_empty():
            return 0
        layout = StorageLayout.from_settings(self.settings).ensure()
        with compaction_lock(layout):  # a compaction cannot write a file we are rewriting
            files = _files_of(layout, subject)
            # Arrow reads, compresses and writes without the GIL: files are rewritten side by side
            with ThreadPoolExecutor(max_workers=max(1, min(len(files), os.cpu_count() or 1))) as pool:
                return sum(pool.map(lambda path: _rewrite_without(path, subject), files))


def spool_subjects(settings: Settings) -> SpoolSubjects:
    """The spool's part of a data-subject erasure (order 10: the spool feeds the lake)."""
    return SpoolSubjects(settings)


def lake_subjects(settings: Settings) -> LakeSubjects:
    """The lake's part of a data-subject erasure (order 20: after training sets are marked stale)."""
    return LakeSubjects(settings)
