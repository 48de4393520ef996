"""How the rooms that store data join the privacy lifecycle.

Each room (spool, lake, datasets, MLflow, tuning studies, …) implements its own part of forgetting — a
whole client, one data subject, data past its retention — and names a factory in the entry-point group
``xmo.privacy.stores`` of ``pyproject.toml``. Privacy discovers them at run time, so it orchestrates,
verifies and audits without importing the rooms above it (arrows keep pointing down).

A factory takes the ``Settings`` and returns one object implementing any of the protocols below; privacy
calls each capability the object has, in ``order``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa

from core.errors import XmoError
from core.files import TOMBSTONE_PREFIX, tombstone_of
from core.settings import Settings

ENTRY_POINT_GROUP = "xmo.privacy.stores"


class StoreDiscoveryError(XmoError):
    """An entry point of ``xmo.privacy.stores`` cannot be loaded (a broken install)."""

    code = "store_discovery"
    http_status = 500


@dataclass(frozen=True)
class Trace:
    """Something left of a client in one store: where (a path, table or name; never personal data), how many."""

    store: str
    location: str
    count: int = 1


@dataclass(frozen=True)
class Subject:
    """One person of one client, by the identifiers xmo may hold: cookie ids and keyed pseudonyms.

    Raw e-mail addresses and member ids never reach a store: privacy turns them into the client's keyed
    pseudonyms first (``privacy.pseudonyms``).
    """

    client_id: str
    visitor_ids: frozenset[str] = field(default_factory=frozenset)
    email_pseudonyms: frozenset[str] = field(default_factory=frozenset)
    member_pseudonyms: frozenset[str] = field(default_factory=frozenset)

    def is_empty(self) -> bool:
        """Whether no identifier is given (an erasure of nobody)."""
        return not (self.visitor_ids or self.email_pseudonyms or self.member_pseudonyms)


def tree_traces(store: str, folder: Path) -> list[Trace]:
    """A trace for ``folder`` and for a tombstone a crashed ``remove_tree`` left, with their file counts."""
    return [
        Trace(store, str(path), sum(1 for p in path.rglob("*") if p.is_file()))
        for path in (folder, tombstone_of(folder))
        if path.exists()
    ]


def folder_client_ids(*parents: Path) -> set[str]:
    """The client ids that the folders under ``parents`` are named after (``<id>``, ``client_id=<id>``, tombstones)."""
    return {
        path.name.removeprefix(TOMBSTONE_PREFIX).removeprefix("client_id=")
        for parent in parents
        if parent.exists()
        for path in parent.iterdir()
        if path.is_dir()
    }


@runtime_checkable
class ClientStore(Protocol):
    """A store that can forget a whole client and report what it still holds of one."""

    name: str
    order: int  # lower first: stores that feed others (the spool feeds the lake) are emptied first

    def forget_client(self, client_id: str) -> int:
        """Delete everything of the client; the number of items (events, files, runs, …) deleted. Idempotent."""
        ...

    def client_traces(self, client_id: str) -> list[Trace]:
        """What this store still holds of the client (empty after ``forget_client``)."""
        ...


@runtime_checkable
class ListsClients(Protocol):
    """A client store that can also say which clients it holds anything of (the scan looks for orphans there)."""

    def held_client_ids(self) -> set[str]:
        """Every client id this store holds data of, live or not."""
        ...


@runtime_checkable
class SubjectStore(Protocol):
    """A store that can find, hand over and forget the data of one person."""

    name: str
    order: int

    def subject_records(self, subject: Subject) -> pa.Table | None:
        """The person's records held here (for the right of access), or None when there are none."""
        ...

    def forget_subject(self, subject: Subject) -> int:
        """Delete the person's records; how many were deleted. Idempotent."""
        ...


@runtime_checkable
class RetentionStore(Protocol):
    """A store holding dated raw data that expires after the client's retention period."""

    name: str
    order: int

    def forget_before(self, client_id: str, cutoff: date) -> int:
        """Delete the client's data dated before ``cutoff`` (UTC days); how many items were deleted."""
        ...


StoreFactory = Callable[[Settings], object]


def discover_stores(settings: Settings) -> list[object]:
    """Every registered store, built for ``settings``, in ``order`` (then entry-point name)."""
    built: list[tuple[int, str, object]] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            factory: StoreFactory = point.load()
        except (ImportError, AttributeError) as exc:
            raise StoreDiscoveryError(f"cannot load privacy store {point.name!r} ({point.value}): {exc}") from exc
        store = factory(settings)
        built.append((int(getattr(store, "order", 100)), point.name, store))
    if not built:
        raise StoreDiscoveryError(
            f"no privacy stores are registered under {ENTRY_POINT_GROUP!r}; reinstall xmo (`make install`)"
        )
    return [store for _, _, store in sorted(built, key=lambda item: (item[0], item[1]))]


def client_stores(settings: Settings) -> list[ClientStore]:
    """The stores that can forget a client."""
    return [s for s in discover_stores(settings) if isinstance(s, ClientStore)]


def subject_stores(settings: Settings) -> list[SubjectStore]:
    """The stores that can find and forget one person."""
    return [s for s in discover_stores(settings) if isinstance(s, SubjectStore)]


def retention_stores(settings: Settings) -> list[RetentionStore]:
    """The stores with dated raw data."""
    return [s for s in discover_stores(settings) if isinstance(s, RetentionStore)]
