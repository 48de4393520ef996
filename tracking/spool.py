"""The spool: acknowledged, privacy-safe events waiting for compaction, in a SQLite WAL database.

A batch is appended in one transaction with ``synchronous=FULL``; once ``append`` returns, the events
survive a crash or power loss. Each row holds one compressed Arrow record batch of events (any clients, any
dates).
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from core.layout import StorageLayout
from core.processes import process_is_alive
from core.settings import Settings
from tracking.events import EVENT_SCHEMA, TIMESTAMP

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
    started_at REAL NOT NULL,
    written INTEGER NOT NULL DEFAULT 0
);
"""


HOST_TAG = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"
_OWNED_NAME = re.compile(r"(?P<name>.+)-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)")
MERGE_ROWS = 16_384  # batches merged into contiguous columns this many events at a time when read
JSON_READ_PAYLOADS = 8192  # JSON-lines payloads parsed in one call
WAL_SIZE_LIMIT_BYTES = 16 << 20
FREE_HEADROOM_BYTES = 16 << 20  # freed pages kept for the next appends; the rest goes back to the file system
VACUUM_STEP_PAGES = 256  # 1 MiB per transaction: a concurrent append waits a few milliseconds at most
DELETE_STEP_ROWS = 256  # compacted batches forgotten per transaction, for the same reason
BUSY_TIMEOUT_S = 30.0
BUSY_FIRST_PAUSE_S = 0.0002
BUSY_MAX_PAUSE_S = 0.002


# A payload is one Arrow record batch message of EVENT_SCHEMA (version 1), zstd-compressed, behind a magic and its
# uncompressed size: a batch of a few pixel hits takes ~0.9 kB, where an IPC stream repeating the schema took ~6 kB.
# Spools written before hold IPC streams (they start with 0xFFFFFFFF) and are still read.
# A new EVENT_SCHEMA_VERSION needs a new magic, with the old schema kept to read what is spooled.
PAYLOAD_MAGIC = b"XMOe1"
_PAYLOAD_SCHEMAS = {PAYLOAD_MAGIC: EVENT_SCHEMA}
_SIZE = struct.Struct("<Q")
_CODEC_LEVEL = 1  # the fastest: the pixel's group commit encodes on the event loop


def _codec() -> pa.Codec:
    return pa.Codec("zstd", compression_level=_CODEC_LEVEL)


def encode_events(table: pa.Table) -> bytes:
    """A spool payload holding an event table."""
    if not table.schema.equals(EVENT_SCHEMA):
        table = table.cast(EVENT_SCHEMA)  # a cast costs ~0.3 ms even when it changes nothing
    batches = table.to_batches()
    if len(batches) != 1:
        batches = [pa.concat_batches(batches) if batches else pa.RecordBatch.from_pylist([], schema=EVENT_SCHEMA)]
    message = batches[0].serialize()
    return PAYLOAD_MAGIC + _SIZE.pack(message.size) + _codec().compress(message, asbytes=True)


EncodedBatch = tuple[float, int, bytes]  # created_at, events, payload


def encode_batches(*tables: pa.Table) -> list[EncodedBatch]:
    """Spool rows for the non-empty tables."""
    return [(time.time(), t.num_rows, encode_events(t)) for t in tables if t.num_rows]


# A small batch (a group commit of live hits) is stored as JSON lines, one event per line: encoding takes
# microseconds where building and compressing an Arrow batch of 32 columns took ~0.3 ms, and the compactor reads
# thousands of them in one call of pyarrow's JSON reader instead of decoding each (~0.1 ms a batch).
ROWS_MAGIC = b"XMOj1\n"
JSON_ROWS_UP_TO = 64
_JSON_SCHEMA = pa.schema(
    [pa.field(f.name, pa.int64(), nullable=f.nullable) if f.type == TIMESTAMP else f for f in EVENT_SCHEMA]
)


def encode_rows(rows: Mapping[str, Sequence[Any]]) -> list[EncodedBatch]:
    """Spool rows for events given as lists per ``EVENT_SCHEMA`` field (timestamps in epoch microseconds)."""
    names = [name for name in EVENT_SCHEMA.names if name in rows]
    n = len(rows[names[0]]) if names else 0
    if n == 0:
        return []
    if n <= JSON_ROWS_UP_TO:
        try:
            lines = [
                json.dumps(
                    {name: value for name, value in zip(names, values, strict=True) if value is not None},
                    ensure_ascii=False,
                    separators=(",", ":"),
                    allow_nan=False,
                )
                for values in zip(*(rows[name] for name in names), strict=True)
            ]
            return [(time.time(), n, ROWS_MAGIC + "\n".join(lines).encode())]
        except (TypeError, ValueError):  # a value JSON cannot hold as it is: Arrow can
            pass
    table = pa.Table.from_pylist(
        [dict(zip(names, values, strict=True)) for values in zip(*(rows[name] for name in names), strict=True)],
        schema=_JSON_SCHEMA,
    ).cast(EVENT_SCHEMA)
    return encode_batches(table)


def _decode_json_rows(bodies: Sequence[bytes]) -> pa.Table:
    """The events of one or many JSON-lines payloads (without their magic), read in one call."""
    data = b"\n".join(bodies)
    table = pa_json.read_json(
        pa.BufferReader(data),
        read_options=pa_json.ReadOptions(use_threads=False, block_size=max(1 << 20, len(data) + 1)),
        parse_options=pa_json.ParseOptions(explicit_schema=_JSON_SCHEMA, unexpected_field_behavior="error"),
    )
    return table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)


def decode_events(payload: bytes) -> pa.Table:
    """The event table of one spooled batch."""
    return pa.Table.from_batches(decode_batches(payload), schema=EVENT_SCHEMA)


def decode_batches(payload: bytes, codec: pa.Codec | None = None) -> list[pa.RecordBatch]:
    """The record batches of one spooled batch (one, unless it is a stream of the previous version)."""
    if payload.startswith(ROWS_MAGIC):
        return _decode_json_rows([payload[len(ROWS_MAGIC) :]]).to_batches()
    magic = payload[: len(PAYLOAD_MAGIC)]
    schema = _PAYLOAD_SCHEMAS.get(magic)
    if schema is None:  # an IPC stream, as spools held before
        return [b.cast(EVENT_SCHEMA) for b in pa.ipc.open_stream(pa.py_buffer(payload))]
    (size,) = _SIZE.unpack_from(payload, len(magic))
    compressed = pa.py_buffer(payload)[len(magic) + _SIZE.size :]
    message = (codec or _codec()).decompress(compressed, decompressed_size=size)
    return [pa.ipc.read_record_batch(message, schema)]


def _when_free(statement: Callable[[], object], timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Run a statement that needs the write lock, retrying every fraction of a millisecond while another process
    holds it. SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … 100 ms between tries, so a worker whose
    append met a compactor's short transaction answered its hits 10-20 ms late."""
    deadline = time.monotonic() + timeout_s
    pause = BUSY_FIRST_PAUSE_S
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, BUSY_MAX_PAUSE_S)


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
    written: bool = False  # the lake holds the range: only forgetting its batches is left


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
        self._write_lock = threading.Lock()
        connection = self._connection()
        connection.executescript(_SCHEMA)
        if "written" not in {row[1] for row in connection.execute("PRAGMA table_info(compactions)")}:
            _when_free(
                lambda: connection.execute("ALTER TABLE compactions ADD COLUMN written INTEGER NOT NULL DEFAULT 0")
            )

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
        return not process_is_alive(int(match["pid"]))

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
            connection.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file: before WAL mode
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")  # the log shrinks after checkpoints
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=0")  # waits go through _when_free: SQLite's own sleeps 1-100 ms
            connection.execute("PRAGMA secure_delete=ON")  # removed events are overwritten, not left in free pages
            self._local.connection = connection
        return connection

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; threads of this process take turns on a lock, other processes through _when_free."""
        connection = self._connection()
        with self._write_lock:
            _when_free(lambda: connection.execute("BEGIN IMMEDIATE"))
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

    def batch_count(self, first_seq: int, last_seq: int) -> int:
        """How many batches ``first_seq..last_seq`` holds."""
        row = (
            self._connection()
            .execute("SELECT COUNT(*) FROM batches WHERE seq BETWEEN ? AND ?", (first_seq, last_seq))
            .fetchone()
        )
        return int(row[0])

    def read(self, first_seq: int, last_seq: int) -> list[SpooledBatch]:
        """Batches with ``first_seq <= seq <= last_seq`` in order."""
        cursor = self._connection().execute(
            "SELECT seq, payload FROM batches WHERE seq BETWEEN ? AND ? ORDER BY seq", (first_seq, last_seq)
        )
        return [SpooledBatch(seq, decode_events(payload)) for seq, payload in cursor]

    def read_events(self, first_seq: int, last_seq: int) -> pa.Table:
        """The events of batches ``first_seq..last_seq`` in order, as one table of contiguous columns.

        Live traffic spools many small batches; computing on thousands of tiny chunks is slow and costly, so
        batches are merged as they are read, a slice at a time.
        """
        codec = _codec()
        merged: list[pa.RecordBatch] = []
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        cursor = self._connection().execute(
            "SELECT payload FROM batches WHERE seq BETWEEN ? AND ? ORDER BY seq", (first_seq, last_seq)
        )
        json_bodies: list[bytes] = []  # consecutive JSON-lines payloads, read together

        def take(batches: list[pa.RecordBatch]) -> None:
            nonlocal pending, pending_rows
            for batch in batches:
                pending.append(batch)
                pending_rows += batch.num_rows
            if pending_rows >= MERGE_ROWS:
                merged.append(pa.concat_batches(pending))
                pending, pending_rows = [], 0

        for (payload,) in cursor:
            if payload.startswith(ROWS_MAGIC):
                json_bodies.append(payload[len(ROWS_MAGIC) :])
                if len(json_bodies) < JSON_READ_PAYLOADS:
                    continue
            if json_bodies:
                take(_decode_json_rows(json_bodies).to_batches())
                json_bodies = []
            if not payload.startswith(ROWS_MAGIC):
                take(decode_batches(payload, codec))
        if json_bodies:
            take(_decode_json_rows(json_bodies).to_batches())
        if pending:
            merged.append(pa.concat_batches(pending))
        return pa.Table.from_batches(merged, schema=EVENT_SCHEMA).combine_chunks()

    def last_seq(self) -> int:
        """The sequence number of the newest batch (0 when there is none)."""
        return int(self._connection().execute("SELECT COALESCE(MAX(seq), 0) FROM batches").fetchone()[0])

    def begin_compaction(self, max_events: int, until_seq: int | None = None) -> PendingCompaction | None:
        """The range to compact next: an unfinished one first, else the oldest batches up to ``max_events`` (and up
        to ``until_seq``).

        The range is chosen outside the write lock (appends only add later batches) and recorded in a short
        transaction, so a worker appending meanwhile does not wait for the scan.
        """
        connection = self._connection()
        row = connection.execute("SELECT first_seq, last_seq, written FROM compactions").fetchone()
        if row is not None:
            return PendingCompaction(row[0], row[1], bool(row[2]))
        first_seq, last_seq, total = None, None, 0
        limit = until_seq if until_seq is not None else -1
        query = "SELECT seq, events FROM batches WHERE ? < 0 OR seq <= ? ORDER BY seq"
        for seq, events in connection.execute(query, (limit, limit)):
            if first_seq is not None and total + events > max_events:
                break
            first_seq = seq if first_seq is None else first_seq
            last_seq, total = seq, total + events
        if first_seq is None or last_seq is None:
            return None
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO compactions (id, first_seq, last_seq, started_at) VALUES (1, ?, ?, ?)",
                (first_seq, last_seq, time.time()),
            )
        return PendingCompaction(first_seq, last_seq)

    def finish_compaction(self, pending: PendingCompaction) -> None:
        """Forget compacted batches (their events are in the lake now), a few at a time.

        The range is marked written first: a crash while batches are being deleted finishes the deletion on
        restart instead of writing the lake files again from what is left. Short transactions keep a worker's
        append from waiting behind a large delete (with ``secure_delete`` every freed byte is overwritten).
        """
        if not pending.written:
            with self._connect() as connection:
                connection.execute("UPDATE compactions SET written = 1")
        while self._forget_some(pending, DELETE_STEP_ROWS) == DELETE_STEP_ROWS:
            pass
        with self._connect() as connection:
            connection.execute("DELETE FROM compactions")

    def _forget_some(self, pending: PendingCompaction, limit: int) -> int:
        """Delete up to ``limit`` of the range's batches; how many went."""
        with self._connect() as connection:
            cursor = connection.execute(
                "DELETE FROM batches WHERE seq IN "
                "(SELECT seq FROM batches WHERE seq BETWEEN ? AND ? ORDER BY seq LIMIT ?)",
                (pending.first_seq, pending.last_seq, limit),
            )
            return cursor.rowcount

    def bytes_in_use(self) -> int:
        """The bytes of the file's pages that hold something (free pages aside)."""
        connection = self._connection()
        pages = int(connection.execute("PRAGMA page_count").fetchone()[0])
        free = int(connection.execute("PRAGMA freelist_count").fetchone()[0])
        return (pages - free) * int(connection.execute("PRAGMA page_size").fetchone()[0])

    def release_free_space(self, headroom_bytes: int = FREE_HEADROOM_BYTES, *, pause_s: float = 0.005) -> int:
        """Give the pages that compaction freed back to the file system, beyond ``headroom_bytes`` kept for reuse.

        Works a few pages per transaction with a pause between, so a worker appending to this spool waits at most a
        few milliseconds. A spool made before incremental vacuum was on is converted once it is empty. Returns the
        bytes the file shrank by.
        """
        connection = self._connection()
        before = self._file_bytes()
        page_size = int(connection.execute("PRAGMA page_size").fetchone()[0])
        if int(connection.execute("PRAGMA auto_vacuum").fetchone()[0]) == 0:
            if self.pending_events() == 0:
                connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
                _when_free(lambda: connection.execute("VACUUM"))
        else:
            keep_pages = headroom_bytes // page_size
            while (free := int(connection.execute("PRAGMA freelist_count").fetchone()[0])) > keep_pages:
                script = f"PRAGMA incremental_vacuum({min(VACUUM_STEP_PAGES, free - keep_pages)});"
                _when_free(functools.partial(connection.executescript, script))
                time.sleep(pause_s)
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # copies the log into the file without blocking appends
        _when_free(lambda: connection.execute("PRAGMA wal_checkpoint(TRUNCATE)"))  # then empties it: little is left
        return max(before - self._file_bytes(), 0)

    def _file_bytes(self) -> int:
        return sum(
            Path(f"{self.path}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{self.path}{suffix}").exists()
        )

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
            _when_free(lambda: connection.execute("VACUUM"))
            _when_free(lambda: connection.execute("PRAGMA wal_checkpoint(TRUNCATE)"))  # old pages live on in the log
        return marked

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
