"""The append-only audit log of administrative actions: who, what, when, counts; never personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from core.schema import audit_log


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action."""

    id: int
    at: datetime
    actor: str
    action: str
    client_id: str | None
    details: dict[str, Any]


def record(
    connection: Connection, *, actor: str, action: str, client_id: str | None, details: dict[str, Any] | None = None
) -> None:
    """Append one entry inside the caller's transaction."""
    connection.execute(
        insert(audit_log).values(
            at=datetime.now(UTC), actor=actor, action=action, client_id=client_id, details=details or {}
        )
    )


def entries(engine: Engine, client_id: str | None = None) -> list[AuditEntry]:
    """Entries in order, optionally only those about one client."""
    query = select(audit_log).order_by(audit_log.c.id)
    if client_id is not None:
        query = query.where(audit_log.c.client_id == client_id)
    with engine.connect() as connection:
        return [AuditEntry(**row._mapping) for row in connection.execute(query)]
