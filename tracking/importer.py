"""Historical events from another tracker (CSV or Parquet) through the same edge as live hits, in chunks.

Reading is chunked (pandas' chunked CSV reader, pyarrow's ``iter_batches``), so memory stays flat however
large the file. Identifiers that are not xmo cookie ids are replaced by keyed hashes (the client's
``import`` key), and rows without an event id get one derived from their content with the same key, so
importing a file twice maps every row to the same visitor and event ids (the lake's readers dedupe by id).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core import audit
from core.errors import InvalidInput
from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from tracking.collector import Collector
from tracking.columns import EVENT_ALIASES, ColumnMap, map_columns
from tracking.edge import EVENT_ID_PATTERN, VISITOR_ID_PATTERN, DropReason
from tracking.events import CAMPAIGN_FIELDS, HitSource

DEFAULT_CHUNK_ROWS = 25_000  # memory grows with the chunk (≈5 KB a row in flight); speed does not
TOO_OLD = DropReason.TOO_OLD.value
KEY_PURPOSE = "import"
EVENT_ID_PREFIX = "imp-"

REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp", "event_type")
ID_COLUMNS: tuple[str, ...] = ("visitor_id", "session_id")  # at least one
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "event_id",
    "url",
    "referrer",
    *CAMPAIGN_FIELDS,
    "goal",
    "value",
    "currency",
    "region",
    "user_agent",
    "ip",
)
KNOWN_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, *ID_COLUMNS, *OPTIONAL_COLUMNS)
_TEXT_COLUMNS = ("url", "referrer", *CAMPAIGN_FIELDS, "goal", "region", "user_agent", "ip")
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)
_EVENT_ID = re.compile(EVENT_ID_PATTERN)


class ImportFormat(StrEnum):
    """File formats ``xmo import events`` reads."""

    CSV = "csv"
    PARQUET = "parquet"


@dataclass
class ImportReport:
    """What one import read, stored and dropped (counts only: this is what the audit log keeps)."""

    client_id: str
    format: ImportFormat
    rows_read: int = 0
    accepted: int = 0
    chunks: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    ignored_columns: tuple[str, ...] = ()
    mapped_columns: dict[str, str] = field(default_factory=dict)  # file column → xmo column
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "client_id": self.client_id,
            "format": self.format.value,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "dropped": dict(sorted(self.dropped.items())),
            "chunks": self.chunks,
            "ignored_columns": list(self.ignored_columns),
            "mapped_columns": dict(self.mapped_columns),
            "complete": self.complete,
        }


# the file ---------------------------------------------------------------------------------------
def detect_format(path: Path, fmt: ImportFormat | None = None) -> ImportFormat:
    """The format asked for, or the one the file name tells (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``)."""
    if fmt is not None:
        return fmt
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".csv.zst", ".csv.bz2")):
        return ImportFormat.CSV
    if name.endswith((".parquet", ".pq")):
        return ImportFormat.PARQUET
    raise InvalidInput(f"cannot tell the format of {path.name!r} from its name; pass --format csv or parquet")


def _normalize(name: str) -> str:
    return str(name).strip().lower()


def check_file(path: Path) -> Path:
    """The path, if it names a readable file."""
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    if not path.is_file():
        raise InvalidInput(f"not a file: {path}")
    return path


def file_columns(path: Path, fmt: ImportFormat) -> list[str]:
    """The column names of the file, as written."""
    try:
        if fmt is ImportFormat.PARQUET:
            return list(pq.ParquetFile(path).schema_arrow.names)
        return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig", encoding_errors="replace").columns]
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput(f"{path.name} is empty: a CSV file needs a header row") from exc
    except (pa.ArrowException, pd.errors.ParserError, OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {path.name} as {fmt.value}: {exc}") from exc


def check_columns(
    names: list[str], overrides: dict[str, str] | None = None
) -> tuple[dict[str, str], tuple[str, ...], ColumnMap]:
    """Known columns (xmo name → name in the file), the names that are ignored, and how names were mapped
    (aliases such as ``event`` → ``event_type``, and ``overrides``: ``--map OLD=NEW``).

    Raises ``InvalidInput`` naming every missing required column.
    """
    mapping = map_columns(names, EVENT_ALIASES, known=KNOWN_COLUMNS, overrides=overrides)
    known: dict[str, str] = {}
    ignored: list[str] = []
    for name in names:
        normalized = mapping.renames.get(name) or _normalize(name)
        if normalized in KNOWN_COLUMNS and normalized not in known:
            known[normalized] = name
        else:
            ignored.append(name)
    missing = [c for c in REQUIRED_COLUMNS if c not in known]
    if not any(c in known for c in ID_COLUMNS):
        missing.append(" or ".join(ID_COLUMNS))
    if missing:
        mapped = f"; mapped: {mapping.describe()}" if mapping.renames else ""
        raise InvalidInput(
            f"missing required columns: {', '.join(missing)} (found: {', '.join(names) or 'none'}{mapped}); "
            "name a file column with --map FILE_COLUMN=COLUMN"
        )
    return known, tuple(ignored), mapping


def read_chunks(path: Path, fmt: ImportFormat, columns: dict[str, str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The known columns in chunks of at most ``chunk_rows`` rows, under their normalized names."""
    rename = {original: normalized for normalized, original in columns.items()}
    if fmt is ImportFormat.PARQUET:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(rename)):
            yield batch.to_pandas(integer_object_nulls=True).rename(columns=rename)
        return
    reader = pd.read_csv(
        path,
        usecols=list(rename),
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        chunksize=chunk_rows,
        encoding="utf-8-sig",
        encoding_errors="replace",
    )
    with reader:
        for chunk in reader:
            yield chunk.rename(columns=rename)


# rows → raw hits --------------------------------------------------------------------------------
def _text(values: pd.Series) -> pd.Series:
    """Stripped strings as an object Series, None for missing or blank values."""
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    return text.astype(object).where(text.notna(), None)


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Epoch milliseconds, ISO 8601 (naive means UTC) or Parquet timestamps → UTC; NaT where unreadable."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        converted = pd.to_datetime(values, utc=True)
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        converted = pd.to_datetime(values, unit="ms", utc=True, errors="coerce")
    else:
        text = _text(values)
        digits = text.str.fullmatch(r"\d{1,15}").fillna(False).astype(bool)
        converted = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        if digits.any():
            converted[digits] = pd.to_datetime(text[digits].astype("int64"), unit="ms", utc=True, errors="coerce")
        rest = ~digits & text.notna()
        if rest.any():
            converted[rest] = pd.to_datetime(text[rest], utc=True, errors="coerce", format="ISO8601")
    return converted.astype("datetime64[us, UTC]")


class KeyedIds:
    """Visitor and event ids from the client's ``import`` key: the same input always maps the same way."""

    def __init__(self, key: bytes) -> None:
        self._hmac = hmac.new(key, digestmod=hashlib.sha256)  # copied per value: the key schedule runs once

    def digest(self, kind: str, value: str) -> str:
        """32 hex characters of HMAC-SHA256 over ``kind:value``."""
        mac = self._hmac.copy()
        mac.update(f"{kind}:{value}".encode())
        return mac.hexdigest()[:32]

    def _map_unique(self, values: pd.Series, func: Callable[[str], str]) -> pd.Series:
        present = values.dropna()
        mapping = {v: func(v) for v in present.unique()}
        return values.map(mapping).astype(object).where(values.notna(), None)

    def visitor_ids(self, visitor: pd.Series | None, session: pd.Series | None, n: int) -> pd.Series:
        """Cookie-format visitor ids as they are; other visitor ids and session ids as keyed hashes."""
        out = pd.Series([None] * n, dtype=object)
        if session is not None:
            out = self._map_unique(session, lambda v: self.digest("session", v))
        if visitor is not None:
            mapped = self._map_unique(visitor, lambda v: v if _VISITOR_ID.match(v) else self.digest("visitor", v))
            out = mapped.where(mapped.notna(), out)
        return out

    def event_ids(self, chunk: pd.DataFrame) -> pd.Series:
        """Valid event ids as they are; other ids and rows without one get a keyed hash (of the id or the row)."""
        content = pd.Series("", index=chunk.index, dtype=object)
        for name in sorted(c for c in chunk.columns if c != "event_id"):
            content = content + f"\x1f{name}=" + chunk[name].astype("string").fillna("").astype(object)
        from_rows = pd.Series(
            [EVENT_ID_PREFIX + self.digest("row", c) for c in content], index=chunk.index, dtype=object
        )
        if "event_id" not in chunk:
            return from_rows
        given = self._map_unique(
            _text(chunk["event_id"]), lambda v: v if _EVENT_ID.match(v) else EVENT_ID_PREFIX + self.digest("event", v)
        )
        return given.where(given.notna(), from_rows)


def prepare_chunk(
    chunk: pd.DataFrame, client_id: str, ids: KeyedIds, oldest: datetime
) -> tuple[pd.DataFrame, Counter[str]]:
    """The chunk as a raw-hit frame for ``Collector.ingest``, without rows past retention or with unreadable values."""
    chunk = chunk.reset_index(drop=True)
    n = len(chunk)
    raw: dict[str, Any] = {"client_id": [client_id] * n, "source": [HitSource.IMPORT.value] * n}
    raw["event_id"] = ids.event_ids(chunk)
    raw["visitor_id"] = ids.visitor_ids(
        _text(chunk["visitor_id"]) if "visitor_id" in chunk else None,
        _text(chunk["session_id"]) if "session_id" in chunk else None,
        n,
    )
    raw["event_type"] = _text(chunk["event_type"]).str.lower()
    raw["ts"] = ts = parse_timestamps(chunk["timestamp"])
    for name in _TEXT_COLUMNS:
        if name in chunk:
            raw[name] = _text(chunk[name])
    if "currency" in chunk:
        raw["currency"] = _text(chunk["currency"]).str.upper()
    bad_value = pd.Series(False, index=chunk.index)
    if "value" in chunk:
        value = pd.to_numeric(chunk["value"], errors="coerce")
        bad_value = value.isna() & chunk["value"].notna() & _text(chunk["value"]).notna()
        raw["value"] = value.astype("float64")
    too_old = (ts < pd.Timestamp(oldest)).fillna(False).astype(bool)
    bad_value &= ~too_old
    drops: Counter[str] = Counter()
    if too_old.any():
        drops[TOO_OLD] = int(too_old.sum())
    if bad_value.any():
        drops[DropReason.INVALID_VALUE.value] = int(bad_value.sum())
    keep = ~(too_old | bad_value)
    return pd.DataFrame(raw).loc[keep].reset_index(drop=True), drops


# the import -------------------------------------------------------------------------------------
def import_events(
    settings: Settings,
    client_id: str,
    path: Path,
    fmt: ImportFormat | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    actor: str = "cli",
    now: datetime | None = None,
    on_chunk: Callable[[ImportReport], None] | None = None,
    overrides: dict[str, str] | None = None,
) -> ImportReport:
    """Import a file of historical events for a client; every row passes the edge (source ``import``).

    Whole-file problems (missing file, unknown format or client, missing columns) raise ``InvalidInput`` or
    ``NotFound`` before anything is stored; problems of single rows are counted drops. The import is
    recorded in the audit log (counts only), also when it stops part-way.
    """
    if chunk_rows < 1:
        raise InvalidInput("chunk_rows must be at least 1")
    tenants = Tenants.from_settings(settings)
    client = tenants.get_client(client_id)
    fmt = detect_format(check_file(path), fmt)
    columns, ignored, mapping = check_columns(file_columns(path, fmt), overrides)
    vault = KeyVault.from_settings(settings)
    ids = KeyedIds(vault.derived_key(client.id, KEY_PURPOSE))
    oldest = (now or datetime.now(UTC)) - timedelta(days=client.retention_days)
    collector = Collector.from_settings(settings, tenants, vault)
    report = ImportReport(client_id=client.id, format=fmt, ignored_columns=ignored, mapped_columns=mapping.to_dict())
    try:
        for chunk in read_chunks(path, fmt, columns, chunk_rows):
            raw, drops = prepare_chunk(chunk, client.id, ids, oldest)
            result = collector.ingest(raw)
            report.rows_read += len(chunk)
            report.chunks += 1
            report.accepted += result.accepted
            report.dropped.update(drops)
            report.dropped.update({reason.value: n for reason, n in result.drops.items()})
            if on_chunk is not None:
                on_chunk(report)
        report.complete = True
    except (pa.ArrowException, pd.errors.ParserError, UnicodeError) as exc:
        raise InvalidInput(f"stopped after {report.rows_read:,} rows: {path.name} is unreadable there: {exc}") from exc
    finally:
        collector.spool.close()
        with tenants.engine.begin() as connection:
            audit.record(
                connection,
                actor=actor,
                action="events.import",
                client_id=client.id,
                details={
                    k: v
                    for k, v in report.to_dict().items()
                    if k not in ("client_id", "ignored_columns", "mapped_columns")
                },
            )
    return report
