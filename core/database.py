"""The registry database: one engine per URL, schema migrated to head on first use."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from core.layout import StorageLayout
from core.locks import file_lock
from core.settings import Settings

_MIGRATIONS = Path(__file__).parent / "migrations"
_migrate_lock = threading.Lock()
_PG_MIGRATION_LOCK = 0x786D6F  # "xmo": the advisory lock key of schema migrations


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
    cursor.close()


def migrate(engine: Engine, lock_file: Path | None = None) -> None:
    """Bring the schema of ``engine`` to the newest migration (idempotent, safe with concurrent starters).

    Processes on one machine take ``lock_file``; on PostgreSQL an advisory lock also serializes machines.
    """
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with _migrate_lock, file_lock(lock_file) if lock_file else nullcontext(), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


_engines: dict[str, Engine] = {}


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def get_engine(settings: Settings) -> Engine:
    """The migrated engine of the registry database that ``settings`` name (one per URL and process)."""
    url = settings.effective_database_url
    with _migrate_lock:
        engine = _engines.get(url)
    if engine is not None:
        return engine
    if settings.database_url is None:
        StorageLayout.from_settings(settings).ensure()
    engine = _create_engine(url)
    migrate(engine, StorageLayout.from_settings(settings).runtime_dir / "registry-migrate.lock")
    with _migrate_lock:
        kept = _engines.setdefault(url, engine)
    if kept is not engine:
        engine.dispose()
    return kept


def dispose_engines() -> None:
    """Close every cached engine (tests; before a whole home is removed)."""
    with _migrate_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def sqlite_file(url: str | URL) -> Path | None:
    """The database file an SQLAlchemy URL names, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def absent_sqlite_file(url: str) -> bool:
    """Whether ``url`` names an SQLite file that does not exist yet (nothing was ever stored there)."""
    path = sqlite_file(url)
    return path is not None and not path.exists()


def vacuum_sqlite(url: str) -> bool:
    """Rebuild a SQLite database named by an SQLAlchemy URL so deleted rows leave no bytes behind.

    SQLite keeps deleted content in free pages and in the write-ahead log until they are reused; a purge
    that must leave nothing readable vacuums the file and truncates the log. Other backends: no-op (False).
    """
    path = sqlite_file(url)
    if path is None or not path.exists():
        return False
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return True
