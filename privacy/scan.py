"""The verification scan: what any store under XMO_HOME, or the databases, still holds of a client.

Three sources, so a forgotten copy is found too: the registry (client row, keys, goals) and the key vault;
every registered store's own report (``privacy.stores.ClientStore.client_traces``); and a walk over every file
under XMO_HOME — folder and file names that carry the client id, Parquet files anywhere whose ``client_id``
column holds it (a stray backup, an export left in the home). Plain-text files that merely name the client
(service logs) are reported apart, as mentions: they hold no data of its users.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import func, select

from core import audit
from core.database import get_engine, sqlite_file
from core.files import TOMBSTONE_PREFIX
from core.layout import CLIENT_ID_PATTERN, StorageLayout, check_client_id
from core.schema import api_keys, clients, goals
from core.settings import Settings
from privacy.keyvault import key_file
from privacy.stores import ClientStore, ListsClients, Trace, client_stores

TEXT_SUFFIXES = frozenset({".json", ".csv", ".log", ".txt", ".md", ".yaml", ".yml", ".jsonl", ".html"})
MAX_TEXT_BYTES = 64 << 20


@dataclass(frozen=True)
class ScanResult:
    """What is left of one client."""

    client_id: str
    traces: list[Trace] = field(default_factory=list)  # data: rows, files, runs, models, keys
    mentions: list[Trace] = field(default_factory=list)  # text files naming the client (logs)

    @property
    def clean(self) -> bool:
        """Whether no data of the client is left."""
        return not self.traces

    def to_dict(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "clean": self.clean,
            "traces": [t.__dict__ for t in self.traces],
            "mentions": [t.__dict__ for t in self.mentions],
        }


def _registry_traces(settings: Settings, client_id: str) -> list[Trace]:
    engine = get_engine(settings)
    traces = []
    with engine.connect() as connection:
        for table, column, label in (
            (clients, clients.c.id, "registry: client"),
            (api_keys, api_keys.c.client_id, "registry: API keys"),
            (goals, goals.c.client_id, "registry: goals"),
        ):
            count = connection.execute(select(func.count()).select_from(table).where(column == client_id)).scalar()
            if count:
                traces.append(Trace("registry", label, int(count)))
    if key_file(StorageLayout.from_settings(settings), client_id).exists():
        traces.append(Trace("key vault", f"keys/{client_id}.key"))
    return traces


def _names_client(part: str, client_id: str) -> bool:
    name = part.removeprefix(TOMBSTONE_PREFIX)
    return name in (client_id, f"client_id={client_id}", f"{client_id}.key")


def _under_partition(path: Path, home: Path) -> bool:
    return any(part.startswith("client_id=") for part in path.relative_to(home).parts[:-1])


def _files(home: Path) -> Iterator[Path]:
    if home.exists():
        yield from (path for path in home.rglob("*") if path.is_file())


def _parquet_rows_of(path: Path, client_id: str) -> int:
    try:
        schema = pq.read_schema(path)
        if "client_id" not in schema.names:
            return 0
        column = pq.read_table(path, columns=["client_id"]).column("client_id")
    except (OSError, ValueError):
        return 0
    return int(pc.sum(pc.equal(column, client_id)).as_py() or 0)


def _file_traces(settings: Settings, client_id: str) -> tuple[list[Trace], list[Trace]]:
    home = settings.home
    registry_file = sqlite_file(settings.effective_database_url)
    token = re.compile(rf"(?<![A-Za-z0-9]){re.escape(client_id)}(?![A-Za-z0-9-])".encode())
    traces: list[Trace] = []
    mentions: list[Trace] = []
    named: Counter[Path] = Counter()
    for path in _files(home):
        relative = path.relative_to(home)
        named_at = next((i for i, part in enumerate(relative.parts) if _names_client(part, client_id)), None)
        if named_at is not None:
            named[home.joinpath(*relative.parts[: named_at + 1])] += 1
            continue
        if path.suffix == ".parquet" and not _under_partition(path, home):
            rows = _parquet_rows_of(path, client_id)
            if rows:
                traces.append(Trace("files", str(path), rows))
        elif path.suffix in TEXT_SUFFIXES and path != registry_file and path.stat().st_size <= MAX_TEXT_BYTES:
            hits = len(token.findall(path.read_bytes()))
            if hits:
                mentions.append(Trace("files", str(path), hits))
    traces += [Trace("files", str(path), files) for path, files in named.items()]
    return traces, mentions


def scan_client(settings: Settings, client_id: str, stores: Sequence[ClientStore] | None = None) -> ScanResult:
    """Every trace of ``client_id`` in the registry, the vault, each store and the files under XMO_HOME."""
    check_client_id(client_id)
    traces = _registry_traces(settings, client_id)
    for store in client_stores(settings) if stores is None else stores:
        traces += store.client_traces(client_id)
    file_traces, mentions = _file_traces(settings, client_id)
    known = {t.location for t in traces}
    traces += [t for t in file_traces if t.location not in known]
    return ScanResult(client_id, traces, mentions)


def _orphan_candidates(layout: StorageLayout, stores: Sequence[ClientStore]) -> set[str]:
    """Client ids the stores hold anything of, and those key files are named after."""
    ids = {client_id for store in stores if isinstance(store, ListsClients) for client_id in store.held_client_ids()}
    if layout.keys_dir.exists():
        ids |= {p.stem for p in layout.keys_dir.glob("*.key")}
    return ids


def scan_home(settings: Settings) -> list[ScanResult]:
    """Traces of every client that is not live: purged ones (from the audit log) and orphans on disk."""
    engine = get_engine(settings)
    with engine.connect() as connection:
        live = set(connection.execute(select(clients.c.id)).scalars())
    purged = {e.client_id for e in audit.entries(engine) if e.action == audit.PURGED and e.client_id}
    stores = client_stores(settings)
    candidates = (purged | _orphan_candidates(StorageLayout.from_settings(settings), stores)) - live
    results = []
    for client_id in sorted(candidates):
        if not CLIENT_ID_PATTERN.fullmatch(client_id):
            continue  # a folder no client id could name: not ours to judge
        results.append(scan_client(settings, client_id, stores))
    return results
