"""Retention: delete each client's dated raw data older than its retention period, and audit the counts.

The stores that hold dated data (the event lake, …) implement ``privacy.stores.RetentionStore`` and are
discovered at run time; this module only decides the cutoff per client, calls them and audits what they deleted.
A store that can also count what it would delete (``RetentionPreview``) takes part in dry runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from core import audit
from core.database import get_engine
from core.settings import Settings
from core.tenants import Client, Tenants
from privacy.stores import RetentionStore, retention_stores

SCHEDULER_ACTOR = "scheduler"  # the retention task of `xmo serve`
ACTION = "retention.apply"


@runtime_checkable
class RetentionPreview(Protocol):
    """A retention store that can say how many items ``forget_before`` would delete, deleting nothing."""

    name: str

    def count_before(self, client_id: str, cutoff: date) -> int:
        """How many of the client's items are dated before ``cutoff``."""
        ...


@dataclass
class ClientRetention:
    """What retention did (or, in a dry run, would do) for one client."""

    client_id: str
    retention_days: int
    cutoff: date  # data dated before this UTC day is expired
    deleted: dict[str, int] = field(default_factory=dict)  # items per store (would be deleted, in a dry run)
    not_counted: list[str] = field(default_factory=list)  # stores that cannot preview a dry run

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "retention_days": self.retention_days,
            "cutoff": self.cutoff.isoformat(),
            "deleted": dict(self.deleted),
            "total": self.total,
            "not_counted": list(self.not_counted),
        }


@dataclass
class RetentionReport:
    """Retention over one or every client."""

    today: date
    dry_run: bool
    clients: list[ClientRetention] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.clients)

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "dry_run": self.dry_run,
            "total": self.total,
            "clients": [c.to_dict() for c in self.clients],
        }


def cutoff_for(client: Client, today: date) -> date:
    """The first UTC day the client still keeps: ``today`` minus its retention period."""
    return today - timedelta(days=client.retention_days)


def _apply_to_client(
    settings: Settings, client: Client, stores: list[RetentionStore], today: date, *, actor: str, dry_run: bool
) -> ClientRetention:
    result = ClientRetention(client.id, client.retention_days, cutoff_for(client, today))
    try:
        for store in stores:
            if not dry_run:
                result.deleted[store.name] = store.forget_before(client.id, result.cutoff)
            elif isinstance(store, RetentionPreview):
                result.deleted[store.name] = store.count_before(client.id, result.cutoff)
            else:
                result.not_counted.append(store.name)
    finally:  # what was deleted is audited even when a later store fails
        if not dry_run and result.total:
            with get_engine(settings).begin() as connection:
                audit.record(
                    connection,
                    actor=actor,
                    action=ACTION,
                    client_id=client.id,
                    details={
                        "retention_days": client.retention_days,
                        "cutoff": result.cutoff.isoformat(),
                        "deleted": dict(result.deleted),
                    },
                )
    return result


def apply_retention(
    settings: Settings,
    *,
    client_id: str | None = None,
    today: date | None = None,
    actor: str,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete every client's (or one client's) data dated before today (UTC) minus its retention days.

    Each client with something deleted gets one ``retention.apply`` audit entry with the counts per store; a
    pass that deletes nothing is not audited (the scheduled task runs every few hours and would otherwise fill
    the log with entries that record no change), and a dry run deletes and audits nothing. ``NotFound`` for an
    unknown ``client_id``.
    """
    tenants = Tenants.from_settings(settings)
    clients = [tenants.get_client(client_id)] if client_id is not None else tenants.list_clients()
    day = today or datetime.now(UTC).date()
    report = RetentionReport(today=day, dry_run=dry_run)
    if not clients:
        return report
    stores = retention_stores(settings)
    for client in clients:
        report.clients.append(_apply_to_client(settings, client, stores, day, actor=actor, dry_run=dry_run))
    return report
