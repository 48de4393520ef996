"""The append-only audit log of administrative actions: who, what, when, counts; never personal data.

Nothing in xmo updates or deletes an entry; a purge certificate lives here after the client is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from core.schema import audit_log

__all__ = ["CLI_ACTOR", "UTC", "AuditEntry", "entries", "key_actor", "record"]

# Client purge (privacy.purge) writes these; the scan and compaction read them back to know a client is gone.
PURGE_STARTED = "client.purge.started"
PURGE_STEP = "client.purge.step"
PURGED = "client.purge"
CLI_ACTOR = "cli"  # the operator at the command line (who can read XMO_HOME can do anything anyway)


def key_actor(key_prefix: str) -> str:
    """The actor of an action taken with an API or admin key: its display prefix, never the key."""
    return f"key:{key_prefix}"


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action."""

    id: int
    at: datetime
    actor: str
    action: str
    client_id: str | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "client_id": self.client_id,
            "details": self.details,
        }


def record(
    connection: Connection, *, actor: str, action: str, client_id: str | None, details: dict[str, Any] | None = None
) -> None:
    """Append one entry inside the caller's transaction."""
    connection.execute(
        insert(audit_log).values(
            at=datetime.now(UTC), actor=actor, action=action, client_id=client_id, details=details or {}
        )
    )


def entries(
    engine: Engine,
    client_id: str | None = None,
    *,
    action_prefix: str | None = None,
    since: datetime | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Entries in order, optionally only those about one client, of one kind of action, since a moment,
    after an entry id (for paging), at most ``limit`` of them."""
    query = select(audit_log).order_by(audit_log.c.id)
    if client_id is not None:
        query = query.where(audit_log.c.client_id == client_id)
    if action_prefix:
        escaped = action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(audit_log.c.action.like(f"{escaped}%", escape="\\"))
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if after_id is not None:
        query = query.where(audit_log.c.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [AuditEntry(**row._mapping) for row in connection.execute(query)]
