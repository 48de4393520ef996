"""Tables of the registry database (tenants, API keys, audit log, goals); the migrations create them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

clients = Table(
    "clients",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("allowed_domains", JSON, nullable=False),
    Column("collect_pii", Boolean, nullable=False, default=False),
    Column("retention_days", Integer, nullable=False, default=395),
    Column("honour_dnt", Boolean, nullable=False, default=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("benchmarks_opt_in", Boolean, nullable=False, default=False),
    Column("currency", String(3), nullable=True),  # ISO 4217; None: not set
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(63), ForeignKey("clients.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("kind", String(8), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("display_prefix", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("client_id", String(63), nullable=True, index=True),
    Column("details", JSON, nullable=False),
)

goals = Table(
    "goals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(63), ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(63), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("match", String(200), nullable=True),
    Column("path", String(200), nullable=True),
    Column("min_value", Float, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("client_id", "name", name="uq_goals_client_id_name"),
)
