"""Data ownership: hand a client its own data in open formats, or disclose it to a third party, audited.

The rooms that hold a client's data (events, sessions, training sets, models) each name an ``Exporter`` in the
entry-point group ``xmo.privacy.exporters``; privacy discovers them (without importing the rooms above it),
checks who receives the data, writes or streams it, and records the export in the audit log (what, how many;
never the data). Everything is exported as stored: visitor ids are random cookie ids, and e-mail addresses or
member ids exist only as the client's keyed pseudonyms.

A third-party export (an analytics partner under NDA, a court order) needs a named recipient and a stated legal
basis, both recorded in the audit log; the front doors allow it only to the operator (admin key, CLI).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.parquet as pq

from core import audit
from core.csv_cells import CsvWriter
from core.database import get_engine
from core.errors import Conflict, InvalidInput
from core.files import fsync_dir
from core.settings import Settings
from core.tenants import Tenants
from privacy.stores import StoreDiscoveryError

ENTRY_POINT_GROUP = "xmo.privacy.exporters"
MANIFEST_FILE = "manifest.json"
README_FILE = "README.md"
MAX_RECIPIENT_CHARS = 200
MAX_LEGAL_BASIS_CHARS = 1000
PREFERRED_ORDER = ("events", "sessions", "datasets", "models")  # the way data flows; others after, by name
OWN_ACTION = "export.client"
THIRD_PARTY_ACTION = "export.third_party"


class ExportFormat(StrEnum):
    """File formats of a streamed table."""

    PARQUET = "parquet"
    CSV = "csv"


MEDIA_TYPES = {ExportFormat.PARQUET: "application/vnd.apache.parquet", ExportFormat.CSV: "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class Exported:
    """What one exporter wrote: files, and records of its unit (events, sessions, training sets, model versions)."""

    files: int
    records: int
    unit: str


@dataclass(frozen=True)
class TableStream:
    """One table of a client, read lazily: its schema, its row count (known up front) and its batches."""

    schema: pa.Schema
    rows: int
    batches: Iterable[pa.RecordBatch]


@runtime_checkable
class Exporter(Protocol):
    """A room's part of an export: it writes the client's data of one kind into a folder."""

    name: str
    description: str  # one line for the export's README: what the folder holds, in which format

    def export(self, client_id: str, folder: Path) -> Exported:
        """Write the client's data into ``folder`` (which exists and is empty); what was written."""
        ...


@runtime_checkable
class TableExporter(Exporter, Protocol):
    """An exporter whose data is one table, so that it can also be streamed as one Parquet or CSV file."""

    def table_stream(self, client_id: str) -> TableStream:
        """The client's rows as one table."""
        ...


@dataclass(frozen=True)
class Disclosure:
    """Who receives a third-party export, and on what legal basis (an NDA, a court order)."""

    recipient: str
    legal_basis: str


def _clean_text(value: str, what: str, limit: int) -> str:
    text = " ".join(value.split())
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{what} has {len(text)} characters; at most {limit}")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput(f"{what} must not contain control characters")
    return text


def disclosure(recipient: str | None, legal_basis: str | None) -> Disclosure | None:
    """None for the client's own export; a checked ``Disclosure`` when both are given (``InvalidInput`` for one)."""
    if recipient is None and legal_basis is None:
        return None
    if recipient is None or legal_basis is None:
        raise InvalidInput(
            "a third-party export needs both a recipient and a legal basis (e.g. --recipient 'Partner GmbH' "
            "--legal-basis 'NDA of 2026-03-01'); give neither to export to the client itself"
        )
    return Disclosure(
        _clean_text(recipient, "the recipient", MAX_RECIPIENT_CHARS),
        _clean_text(legal_basis, "the legal basis", MAX_LEGAL_BASIS_CHARS),
    )


def discover_exporters(settings: Settings) -> dict[str, Exporter]:
    """Every registered exporter that implements ``Exporter``, by entry-point name (in ``PREFERRED_ORDER``)."""
    rank = {name: i for i, name in enumerate(PREFERRED_ORDER)}
    found: dict[str, Exporter] = {}
    points = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: (rank.get(p.name, len(rank)), p.name))
    for point in points:
        try:
            factory = point.load()
        except (ImportError, AttributeError) as exc:
            raise StoreDiscoveryError(f"cannot load exporter {point.name!r} ({point.value}): {exc}") from exc
        exporter = factory(settings)
        if isinstance(exporter, Exporter):
            found[point.name] = exporter
    return found


def select_exporters(settings: Settings, what: Sequence[str] | None) -> dict[str, Exporter]:
    """The exporters named in ``what`` (all when None or empty); ``InvalidInput`` for an unknown name."""
    available = discover_exporters(settings)
    if not what:
        return available
    unknown = [w for w in what if w not in available]
    if unknown:
        raise InvalidInput(f"cannot export {', '.join(map(repr, unknown))}: choose from {', '.join(available)}")
    return {name: available[name] for name in dict.fromkeys(what)}


@dataclass
class ExportReport:
    """What an export to a folder wrote."""

    client_id: str
    out_dir: Path
    parts: dict[str, Exported] = field(default_factory=dict)
    recipient: str | None = None
    legal_basis: str | None = None

    @property
    def files(self) -> int:
        return sum(p.files for p in self.parts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "out_dir": str(self.out_dir),
            "recipient": self.recipient,
            "legal_basis": self.legal_basis,
            "files": self.files,
            "parts": {name: {"files": p.files, "records": p.records, "unit": p.unit} for name, p in self.parts.items()},
        }


def _audit(settings: Settings, *, actor: str, client_id: str, to: Disclosure | None, details: dict[str, Any]) -> None:
    if to is not None:
        details = {**details, "recipient": to.recipient, "legal_basis": to.legal_basis}
    with get_engine(settings).begin() as connection:
        audit.record(
            connection,
            actor=actor,
            action=OWN_ACTION if to is None else THIRD_PARTY_ACTION,
            client_id=client_id,
            details=details,
        )


def _check_out_dir(out_dir: Path) -> Path:
    path = out_dir.expanduser().absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise Conflict(f"{path} already exists and is not an empty folder; choose a new one")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(report: ExportReport, exporters: dict[str, Exporter], root: Path, at: datetime) -> dict[str, Any]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {
        "client_id": report.client_id,
        "exported_at": at.isoformat(timespec="seconds"),
        "recipient": report.recipient,
        "legal_basis": report.legal_basis,
        "parts": {
            name: {"description": exporters[name].description, "files": p.files, "records": p.records, "unit": p.unit}
            for name, p in report.parts.items()
        },
        "files": [
            {"path": p.relative_to(root).as_posix(), "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files
        ],
    }


def _readme(report: ExportReport, exporters: dict[str, Exporter], at: datetime) -> str:
    lines = [
        f"# Data of client {report.client_id}",
        "",
        f"Exported by xmo on {at.isoformat(timespec='seconds')}"
        + (f" to {report.recipient} (legal basis: {report.legal_basis})." if report.recipient else "."),
        "",
        "Everything is as xmo stores it: visitor ids are random cookie ids, IP addresses are truncated, and e-mail",
        "addresses or member ids appear only as the client's keyed pseudonyms. Parquet files open with pandas,",
        "DuckDB, Spark or R (arrow); model folders load with `mlflow.pyfunc.load_model(path)`.",
        f"`{MANIFEST_FILE}` lists every file with its size and SHA-256.",
        "",
    ]
    for name, part in report.parts.items():
        lines.append(f"- `{name}/`: {exporters[name].description} ({part.records:,} {part.unit}, {part.files:,} files)")
    return "\n".join(lines) + "\n"


def export_client(
    settings: Settings,
    client_id: str,
    out_dir: Path,
    what: Sequence[str] | None = None,
    *,
    actor: str,
    recipient: str | None = None,
    legal_basis: str | None = None,
) -> ExportReport:
    """Write the client's data into ``out_dir/<what>/…`` with a README and a manifest, and audit the export.

    ``out_dir`` must not exist or be empty. The data is written into a hidden folder beside it, renamed into
    place when complete: a failed export leaves nothing behind. Nothing is written and nothing audited when a
    check fails (unknown client or kind, a recipient without a legal basis or the reverse, a non-empty folder).
    """
    to = disclosure(recipient, legal_basis)
    client = Tenants.from_settings(settings).get_client(client_id)
    exporters = select_exporters(settings, what)
    target = _check_out_dir(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    staging.mkdir(mode=0o700)
    report = ExportReport(client.id, target)
    if to is not None:
        report.recipient, report.legal_basis = to.recipient, to.legal_basis
    at = datetime.now(UTC)
    try:
        for name, exporter in exporters.items():
            folder = staging / name
            folder.mkdir(mode=0o700)
            report.parts[name] = exporter.export(client.id, folder)
        (staging / README_FILE).write_text(_readme(report, exporters, at))
        manifest = _manifest(report, exporters, staging, at)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            target.rmdir()  # checked empty above
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(target.parent)
    details: dict[str, Any] = {"form": "folder", "files": report.files}
    details.update({name: part.records for name, part in report.parts.items()})
    _audit(settings, actor=actor, client_id=client.id, to=to, details=details)
    return report


class _Chunks:
    """A write-only file that keeps what is written until taken (pyarrow writers write into it)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the parts are taken by the reader."""

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def encode(table: TableStream, fmt: ExportFormat) -> Iterator[bytes]:
    """The bytes of one Parquet or CSV file of ``table``, a batch at a time.

    Parquet holds the values as stored; CSV is for spreadsheets, so its text cells that a spreadsheet would run
    as a formula get a leading single quote (``core.csv_cells``).
    """
    sink = _Chunks()
    writer: pq.ParquetWriter | CsvWriter
    if fmt is ExportFormat.PARQUET:
        writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
    else:
        writer = CsvWriter(sink, table.schema)
    try:
        for batch in table.batches:
            writer.write_batch(batch)
            if chunk := sink.take():
                yield chunk
    finally:
        writer.close()
    if chunk := sink.take():
        yield chunk


@dataclass(frozen=True)
class ExportStream:
    """One file of a client's data, ready to be sent: a name, a media type, its rows and its bytes."""

    filename: str
    media_type: str
    rows: int
    chunks: Iterator[bytes]


def streamable(settings: Settings) -> list[str]:
    """The kinds of data that can be streamed as one file."""
    return [name for name, e in discover_exporters(settings).items() if isinstance(e, TableExporter)]


def stream_export(
    settings: Settings,
    client_id: str,
    what: str,
    fmt: ExportFormat,
    *,
    actor: str,
    recipient: str | None = None,
    legal_basis: str | None = None,
) -> ExportStream:
    """One Parquet or CSV file of the client's ``what`` (events, sessions), audited before the first byte."""
    to = disclosure(recipient, legal_basis)
    client = Tenants.from_settings(settings).get_client(client_id)
    exporter = select_exporters(settings, [what])[what]
    if not isinstance(exporter, TableExporter):
        raise InvalidInput(f"{what} cannot be streamed as one file (choose {' or '.join(streamable(settings))})")
    table = exporter.table_stream(client.id)
    day = datetime.now(UTC).strftime("%Y%m%d")
    _audit(
        settings,
        actor=actor,
        client_id=client.id,
        to=to,
        details={"form": "stream", "what": what, "format": fmt.value, "rows": table.rows},
    )
    return ExportStream(f"{client.id}-{what}-{day}.{fmt.value}", MEDIA_TYPES[fmt], table.rows, encode(table, fmt))
