"""Where tuning studies live: their names, and the Optuna storage several processes (or machines) share.

A study of one client's training set is called ``study_name_for(client_id, dataset_id)``. Storages are SQLite under
``XMO_HOME`` by default (WAL, a busy timeout, setup under a file lock) or a network database such as PostgreSQL
(a connect timeout, ``pool_pre_ping``); a password never appears in a message.
"""

from __future__ import annotations

import re
import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa

from core.database import sqlite_file
from core.errors import InvalidInput, NotReady
from core.layout import check_client_id
from core.locks import file_lock

CONNECT_TIMEOUT_S = 10
SQLITE_BUSY_TIMEOUT_S = 60
HEARTBEAT_INTERVAL_S = 30
HEARTBEAT_GRACE_S = 120
STUDY_NAME_MAX = 512  # the width of Optuna's study_name column
_DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def study_name_for(client_id: str, dataset_id: str, variant: str | None = None) -> str:
    """The study of one client's training set: ``xmo-<client_id>-<dataset_id>[-<variant>]``.

    ``variant`` separates studies whose trials are not comparable (e.g. ``"monotone"`` when the model is
    fitted with ``monotone=True``): :func:`tune` refuses to continue a study with other fixed settings.
    """
    check_client_id(client_id)
    if not _DATASET_ID.fullmatch(dataset_id):
        raise InvalidInput(f"invalid dataset id {dataset_id!r}")
    if variant is not None and not _VARIANT.fullmatch(variant):
        raise InvalidInput(f"invalid study variant {variant!r}: use up to 32 lowercase letters, digits and dashes")
    return f"xmo-{client_id}-{dataset_id}" + (f"-{variant}" if variant else "")


_GENERATED_STUDY = re.compile(
    r"^xmo-(?P<client>[a-z0-9][a-z0-9-]*?)-(?P<dataset>\d{8}T\d{12}Z-[0-9a-f]{6})(-[a-z0-9-]+)?$"
)


def client_of_study(study_name: str) -> str | None:
    """The client a study of ``study_name_for`` belongs to (its dataset id as ``new_dataset_id`` makes them).

    The dataset id's fixed shape tells ``xmo-acme-shop-<id>`` (client ``acme-shop``) from a study of ``acme``.
    """
    match = _GENERATED_STUDY.fullmatch(study_name)
    return match["client"] if match else None


def mask_storage_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for messages, logs and MLflow)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _engine_kwargs(url: sa.engine.URL) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if backend in {"postgresql", "mysql"}:
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    return kwargs


@contextmanager
def setup_lock(sqlite_file: Path | None) -> Iterator[None]:
    """Serialize setup steps (tables, study, baseline trial) of processes sharing an SQLite file."""
    if sqlite_file is None:
        yield
        return
    with file_lock(sqlite_file.with_name(sqlite_file.name + ".lock")):
        yield


def _prepare_sqlite(path: Path) -> None:
    """Create the folder and switch the file to WAL (persistent), so readers do not block the writer."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def _build_storage(url: str, parsed: sa.engine.URL, shown: str) -> optuna.storages.RDBStorage:
    kwargs: dict[str, Any] = {
        "engine_kwargs": _engine_kwargs(parsed),
        "heartbeat_interval": HEARTBEAT_INTERVAL_S,
        "grace_period": HEARTBEAT_GRACE_S,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
        for attempt in range(3):
            try:
                return optuna.storages.RDBStorage(url, **kwargs)
            except sa.exc.OperationalError as error:
                lines = str(error.orig or error).strip().splitlines()
                reason = lines[0] if lines else type(error.orig or error).__name__
                if parsed.password:
                    reason = reason.replace(str(parsed.password), "***")
                raise NotReady(f"cannot open the Optuna storage {shown}: {reason}") from None
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
                # another process created Optuna's tables at the same moment: they exist now
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


@contextmanager
def open_storage(url: str) -> Iterator[optuna.storages.RDBStorage]:
    """An Optuna ``RDBStorage`` for ``url``, set up for several processes, closed when the block ends.

    SQLite files get a parent folder, WAL and a 60 s busy timeout, and their tables are created under a
    file lock; network databases get a connect timeout and ``pool_pre_ping``. A storage that cannot be
    reached raises ``NotReady`` naming it (password masked); a URL that is not one raises ``InvalidInput``.
    """
    shown = mask_storage_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidInput(f"invalid Optuna storage URL {shown!r}: expected e.g. sqlite:///path/optuna.db") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = parsed.render_as_string(hide_password=False)
    path = sqlite_file(parsed)
    if path is not None:
        try:
            with setup_lock(path):
                _prepare_sqlite(path)
                storage = _build_storage(url, parsed, shown)
        except (sqlite3.Error, OSError) as error:
            raise NotReady(f"cannot open the Optuna storage {shown}: {error}") from None
    else:
        storage = _build_storage(url, parsed, shown)
    try:
        yield storage
    finally:
        storage.remove_session()
        storage.engine.dispose()
