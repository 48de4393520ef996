"""Anonymized training sets on disk: ``datasets/<client>/<dataset_id>/data.parquet`` + ``manifest.json``.

``build_dataset`` reads one client's lake (DuckDB), sessionizes, prepares features, splits by time and
writes the set atomically (a hidden temporary folder renamed into place); ``load_dataset`` and
``list_datasets`` read them back.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import InvalidInput, NotFound, NotReady
from core.files import atomic_write, fsync_dir
from core.layout import StorageLayout, check_client_id
from core.settings import Settings
from core.tenants import TenantRegistry
from features.anonymize import LABEL_COLUMNS, SALT_BYTES, training_frame
from features.definitions import FEATURES, feature_definitions_hash
from features.manifest import CodeVersion, DatasetManifest
from features.sessions import lake_files, session_window, sessions_from_files
from features.splits import SPLITS, SplitBoundaries, check_fractions, split_boundaries

ENGINE = "duckdb"
DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
DATASET_ID_PATTERN = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")
_REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Dataset:
    """A training set loaded into memory, and the folder it was read from."""

    frame: pd.DataFrame
    manifest: DatasetManifest
    path: Path


# small pure helpers ---------------------------------------------------------------------------------
def new_dataset_id(now: datetime) -> str:
    """A sortable id: the UTC creation time to the microsecond, then 6 random hex digits."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def _hour_iso(moment: pd.Timestamp | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _label_rates(frame: pd.DataFrame) -> dict[str, float | None]:
    rates: dict[str, float | None] = {}
    for split in SPLITS:
        labels = frame.loc[frame["split"] == split, "converted"]
        rates[split] = float(labels.mean()) if len(labels) else None
    return rates


def _row_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {split: int((frame["split"] == split).sum()) for split in SPLITS}


def code_version() -> CodeVersion:
    """The installed package version and, when the code runs from a git checkout, its commit."""
    try:
        version: str | None = metadata.version("xmo")
    except metadata.PackageNotFoundError:
        version = None
    commit: str | None = None
    if (_REPO_ROOT / ".git").exists():
        try:
            result = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=_REPO_ROOT, capture_output=True, text=True, timeout=5, check=True
            )
            commit = result.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return CodeVersion(package_version=version, git_commit=commit)


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _client_timezone(settings: Settings, client_id: str) -> str:
    """The client's time zone from the registry (``NotFound`` for an unknown client)."""
    return TenantRegistry.from_settings(settings).get_client(client_id).timezone


# writing --------------------------------------------------------------------------------------------
def _write_dataset(
    parent: Path, dataset_id: str, frame: pd.DataFrame, manifest_for_digest: dict[str, object]
) -> DatasetManifest:
    """Write data and manifest into a hidden folder, then rename it to ``parent/dataset_id``."""
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = parent / f".tmp-{dataset_id}"
    tmp.mkdir(mode=0o700)
    try:
        data_path = tmp / DATA_FILE
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), data_path, compression="zstd")
        with open(data_path, "rb") as handle:
            os.fsync(handle.fileno())
        manifest = DatasetManifest.from_dict({**manifest_for_digest, "data_sha256": sha256_file(data_path)})
        atomic_write(tmp / MANIFEST_FILE, manifest.to_json().encode())
        os.rename(tmp, parent / dataset_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
    return manifest


def build_dataset(
    settings: Settings,
    client_id: str,
    *,
    since: date | None = None,
    until: date | None = None,
    valid_fraction: float = 0.15,
    test_fraction: float = 0.15,
    timezone: str | None = None,
    timeout_minutes: int | None = None,
) -> DatasetManifest:
    """Build and store an anonymized training set of one client's sessions started ``since``..``until``.

    ``timezone`` defaults to the client's (looked up in the registry: ``NotFound`` for an unknown client);
    ``timeout_minutes`` to ``settings.session_timeout_minutes``. Raises ``InvalidInput`` for bad arguments
    and ``NotReady`` when the lake holds no events (or no sessions in the window) for the client.
    """
    check_client_id(client_id)
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    check_fractions(valid_fraction, test_fraction)
    timeout = settings.session_timeout_minutes if timeout_minutes is None else timeout_minutes
    zone = timezone or _client_timezone(settings, client_id)
    window = session_window(since, until, zone)
    layout = StorageLayout.from_settings(settings)
    files = lake_files(layout, client_id, window.last_lake_day)
    if not files:
        raise NotReady(f"no events for client {client_id!r} in the lake; run `xmo simulate …` or send hits")
    sessions = sessions_from_files(files, client_id, timeout_minutes=timeout, window=window)
    if sessions.empty:
        span = f"between {since or 'the start'} and {until or 'now'}"
        raise NotReady(
            f"no sessions of client {client_id!r} started {span} in the lake; "
            "widen --since/--until, run `xmo simulate …` or send hits"
        )

    boundaries = split_boundaries(sessions["started_at"], valid_fraction, test_fraction)
    frame = training_frame(sessions, timezone=zone, salt=secrets.token_bytes(SALT_BYTES), boundaries=boundaries)
    created = datetime.now(UTC)
    fields = {
        "dataset_id": new_dataset_id(created),
        "client_id": client_id,
        "created_at": created.isoformat(timespec="seconds"),
        "engine": ENGINE,
        "timezone": zone,
        "session_timeout_minutes": timeout,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "valid_fraction": valid_fraction,
        "test_fraction": test_fraction,
        "source_partitions": [f.relative_to(layout.home).as_posix() for f in files],
        **_content_fields(frame, sessions["started_at"], boundaries),
    }
    return _write_dataset(layout.client_datasets_dir(client_id), str(fields["dataset_id"]), frame, fields)


def _content_fields(frame: pd.DataFrame, starts: pd.Series, boundaries: SplitBoundaries) -> dict[str, object]:
    """Manifest fields that describe the rows and the code that made them (all but the data digest)."""
    return {
        "row_counts": _row_counts(frame),
        "label_rates": _label_rates(frame),
        "time_range_start": starts.min().floor("h").isoformat(),
        "time_range_end": starts.max().ceil("h").isoformat(),
        "first_session_date": frame["session_date"].min().date().isoformat(),
        "last_session_date": frame["session_date"].max().date().isoformat(),
        "valid_start": _hour_iso(boundaries.valid_start),
        "test_start": _hour_iso(boundaries.test_start),
        "code_version": asdict(code_version()),
        "feature_definitions_hash": feature_definitions_hash(),
        "features": [{"name": f.name, "kind": f.kind, "dtype": f.dtype} for f in FEATURES],
        "label_columns": list(LABEL_COLUMNS),
        "data_file": DATA_FILE,
    }


# reading --------------------------------------------------------------------------------------------
def _dataset_ids(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if DATASET_ID_PATTERN.fullmatch(p.name) and (p / MANIFEST_FILE).is_file()
    )


def _read_manifest(folder: Path) -> DatasetManifest:
    return DatasetManifest.from_json((folder / MANIFEST_FILE).read_text())


def list_datasets(settings: Settings, client_id: str) -> list[DatasetManifest]:
    """The manifests of a client's training sets, newest first."""
    folder = StorageLayout.from_settings(settings).client_datasets_dir(client_id)
    return [_read_manifest(folder / dataset_id) for dataset_id in reversed(_dataset_ids(folder))]


def load_dataset(settings: Settings, client_id: str, dataset_id: str | None = None, *, verify: bool = True) -> Dataset:
    """A client's training set (the newest when ``dataset_id`` is None), checked against its digest."""
    folder = StorageLayout.from_settings(settings).client_datasets_dir(client_id)
    if dataset_id is None:
        ids = _dataset_ids(folder)
        if not ids:
            raise NotReady(f"no training set for client {client_id!r}; build one with `xmo dataset build {client_id}`")
        dataset_id = ids[-1]
    elif not DATASET_ID_PATTERN.fullmatch(dataset_id):
        raise InvalidInput(f"invalid dataset id {dataset_id!r}: expected e.g. 20240501T101112123456Z-3f9a1c")
    path = folder / dataset_id
    if not (path / MANIFEST_FILE).is_file():
        raise NotFound(f"no training set {dataset_id!r} for client {client_id!r} (see `xmo dataset list {client_id}`)")
    manifest = _read_manifest(path)
    data_path = path / manifest.data_file
    if verify and sha256_file(data_path) != manifest.data_sha256:
        raise NotReady(
            f"training set {dataset_id!r} of client {client_id!r} is damaged (its data does not match "
            f"the manifest digest); build a new one with `xmo dataset build {client_id}`"
        )
    return Dataset(frame=pq.read_table(data_path).to_pandas(), manifest=manifest, path=path)
