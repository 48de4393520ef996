"""The spool: acknowledged, privacy-safe events waiting for compaction, in a SQLite WAL database.

A batch is appended in one transaction with ``synchronous=FULL``; once ``append`` returns, the events
survive a crash or power loss. Each row holds an Arrow IPC stream of events (any clients, any dates).
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from core.layout import StorageLayout
from core.settings import Settings
from tracking.events import EVENT_SCHEMA

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    events INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS compactions (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    started_at REAL NOT NULL
);
"""


HOST_TAG = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"
_OWNED_NAME = re.compile(r"(?P<name>.+)-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)")
COMPRESS_FROM_ROWS = 10_000  # small group commits are not worth a compressor's set-up cost


def encode_events(table: pa.Table) -> bytes:
    """An Arrow IPC stream of an event table (LZ4-compressed when large)."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4" if table.num_rows >= COMPRESS_FROM_ROWS else None)
    with pa.ipc.new_stream(sink, EVENT_SCHEMA, options=options) as writer:
        writer.write_table(table.cast(EVENT_SCHEMA))
    return sink.getvalue().to_pybytes()


EncodedBatch = tuple[float, int, bytes]  # created_at, events, Arrow IPC payload


def encode_batches(*tables: pa.Table) -> list[EncodedBatch]:
    """Spool rows for the non-empty tables."""
    return [(time.time(), t.num_rows, encode_events(t)) for t in tables if t.num_rows]


def decode_events(payload: bytes) -> pa.Table:
    """The event table of one spooled batch."""
    return pa.ipc.open_stream(pa.py_buffer(payload)).read_all()


@dataclass(frozen=True)
class SpooledBatch:
    """One appended batch."""

    seq: int
    events: pa.Table


@dataclass(frozen=True)
class PendingCompaction:
    """A compaction that started and has not finished (its range is replayed on restart)."""

    first_seq: int
    last_seq: int


def pending_in_all(settings: Settings) -> int:
    """Events waiting in every spool under ``XMO_HOME``."""
    total = 0
    for spool in Spool.all_in(settings):
        total += spool.pending_events()
        spool.close()
    return total


class Spool:
    """A durable append log of event batches in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> Spool:
        """This process's own spool: ``XMO_HOME/spool/<name>-<host>-<pid>.db`` (one writer per worker)."""
        layout = StorageLayout.from_settings(settings).ensure()
        return cls(layout.spool_dir / f"{settings.spool_name}-{HOST_TAG}-{os.getpid()}.db")

    def owner_is_gone(self) -> bool:
        """Whether the process that wrote this spool ended (then an empty spool can be removed)."""
        match = _OWNED_NAME.fullmatch(self.path.stem)
        if match is None or match["host"] != HOST_TAG:
            return False
        pid = int(match["pid"])
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def remove(self) -> None:
        """Delete the spool's files (only once it is empty and its writer is gone)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    @classmethod
    def all_in(cls, settings: Settings) -> list[Spool]:
        """Every spool file under ``XMO_HOME/spool`` (one per collector), for compaction."""
        layout = StorageLayout.from_settings(settings).ensure()
        return [cls(path) for path in sorted(layout.spool_dir.glob("*.db"))]

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA secure_delete=ON")  # removed events are overwritten, not left in free pages
            self._local.connection = connection
        return connection

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def append(self, *tables: pa.Table) -> int:
        """Store event tables durably in one transaction; returns the number of events stored."""
        return self.write(encode_batches(*tables))

    def write(self, batches: list[EncodedBatch]) -> int:
        """Store encoded batches durably in one transaction (SQLite releases the GIL while it syncs)."""
        if not batches:
            return 0
        with self._connect() as connection:
            connection.executemany("INSERT INTO batches (created_at, events, payload) VALUES (?, ?, ?)", batches)
        return sum(b[1] for b in batches)

    def pending_events(self) -> int:
        """How many events wait for compaction."""
        row = self._connection().execute("SELECT COALESCE(SUM(events), 0) FROM batches").fetchone()
        return int(row[0])

    def read(self, first_seq: int, last_seq: int) -> list[SpooledBatch]:
        """Batches with ``first_seq <= seq <= last_seq`` in order."""
        cursor = self._connection().execute(
            "SELECT seq, payload FROM batches WHERE seq BETWEEN ? AND ? ORDER BY seq", (first_seq, last_seq)
        )
        return [SpooledBatch(seq, decode_events(payload)) for seq, payload in cursor]

    def begin_compaction(self, max_events: int) -> PendingCompaction | None:
        """The range to compact next: an unfinished one first, else the oldest batches up to ``max_events``."""
        with self._connect() as connection:
            row = connection.execute("SELECT first_seq, last_seq FROM compactions").fetchone()
            if row is not None:
                return PendingCompaction(*row)
            first_seq, last_seq, total = None, None, 0
            for seq, events in connection.execute("SELECT seq, events FROM batches ORDER BY seq"):
                if first_seq is not None and total + events > max_events:
                    break
                first_seq = seq if first_seq is None else first_seq
                last_seq, total = seq, total + events
            if first_seq is None or last_seq is None:
                return None
            connection.execute(
                "INSERT INTO compactions (id, first_seq, last_seq, started_at) VALUES (1, ?, ?, ?)",
                (first_seq, last_seq, time.time()),
            )
            return PendingCompaction(first_seq, last_seq)

    def finish_compaction(self, pending: PendingCompaction) -> None:
        """Forget compacted batches (their events are in the lake now)."""
        with self._connect() as connection:
            connection.execute("DELETE FROM batches WHERE seq BETWEEN ? AND ?", (pending.first_seq, pending.last_seq))
            connection.execute("DELETE FROM compactions")

    def remove_events(self, select: Callable[[pa.Table], pa.Array], *, dry_run: bool = False) -> int:
        """Rewrite every batch without the events ``select`` marks (a boolean mask per batch), in one transaction.

        Returns how many events were marked; with ``dry_run`` nothing changes. Emptied batches are deleted and
        the file is vacuumed, so the removed events' bytes do not linger in free pages.
        """
        marked = 0
        with self._connect() as connection:
            for seq, payload in connection.execute("SELECT seq, payload FROM batches ORDER BY seq").fetchall():
                events = decode_events(payload)
                mask = select(events)
                hits = int(pc.sum(mask).as_py() or 0)
                if not hits or dry_run:
                    marked += hits
                    continue
                marked += hits
                kept = events.filter(pc.invert(mask))
                if kept.num_rows:
                    connection.execute(
                        "UPDATE batches SET events = ?, payload = ? WHERE seq = ?",
                        (kept.num_rows, encode_events(kept), seq),
                    )
                else:
                    connection.execute("DELETE FROM batches WHERE seq = ?", (seq,))
        if marked and not dry_run:
            connection = self._connection()
            connection.execute("VACUUM")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old pages live on in the log otherwise
        return marked

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
