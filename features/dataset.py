"""Anonymized training sets on disk: ``datasets/<client>/<dataset_id>/`` with ``data/part-*.parquet``,
``manifest.json`` and ``privacy_report.json``.

``build_dataset`` reads one client's lake, sessionizes (DuckDB in this process, or pandas partitions on a
Dask cluster), labels sessions by the client's goals, prepares features, splits by time, makes the
quasi-identifiers k-anonymous and writes the set atomically (a hidden temporary folder renamed into place);
``load_dataset`` and ``list_datasets`` read them back. Both engines run the same pipeline
(``features.partitions``) and give the same rows.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import Conflict, InvalidInput, NotFound, NotReady
from core.files import atomic_write, fsync_dir
from core.layout import StorageLayout, check_client_id
from core.settings import Settings
from core.tenants import Tenants
from features.anonymize import (
    DATASET_COLUMNS,
    IDENTIFIER_COLUMNS_REMOVED,
    LABEL_COLUMNS,
    SALT_BYTES,
    TRAINING_SESSION_COLUMNS,
    order_rows,
    training_rows,
)
from features.definitions import CATEGORICAL_FEATURES, FEATURES, as_category, feature_definitions_hash
from features.goals import GoalStore
from features.kanonymity import (
    DEFAULT_K,
    PrivacyReport,
    apply_plan,
    check_k,
    combination_counts,
    merge_counts,
    plan_generalization,
)
from features.manifest import CodeVersion, DataFile, DatasetManifest
from features.partitions import LocalPartitions, Partitions
from features.session_rules import EVENT_COLUMNS_READ, InputQuality, SessionOptions
from features.sessions import (
    SessionWindow,
    epoch_us,
    lake_files,
    session_window,
    sessions_and_quality,
)
from features.sessions_pandas import sessionize_events, usable_events
from features.splits import (
    SPLIT_DTYPE,
    SPLITS,
    SplitBoundaries,
    boundaries_from_hour_counts,
    check_fractions,
    hour_counts,
    merge_hour_counts,
)

# "pandas" reads the whole lake into one frame: the straightforward reference the benchmark compares with.
Engine = Literal["duckdb", "dask", "pandas"]
ENGINES: tuple[str, ...] = ("duckdb", "dask", "pandas")
DATA_DIR = "data"
# DuckDB's share of a dataset build's memory; beyond it the sessionization query spills under XMO_HOME/run.
DUCKDB_MEMORY_LIMIT = "2GB"
MANIFEST_FILE = "manifest.json"
PRIVACY_REPORT_FILE = "privacy_report.json"
STALE_FILE = "stale.json"  # written when an erasure removed events the set may hold (features.erasure)
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


def data_digest(files: list[DataFile]) -> str:
    """One sha256 over the data files' paths, row counts and digests (the training set's identity)."""
    lines = "".join(f"{f.path}\t{f.rows}\t{f.sha256}\n" for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode()).hexdigest()


def session_options(
    settings: Settings,
    client_id: str,
    *,
    timezone: str | None = None,
    timeout_minutes: int | None = None,
    split_at_midnight: bool | None = None,
    attribution_window_days: int | None = None,
) -> SessionOptions:
    """A client's sessionization options: its time zone and goals from the registry, the rest from settings.

    ``NotFound`` for an unknown client; arguments given here override the stored values.
    """
    client = Tenants.from_settings(settings).get_client(client_id)
    return SessionOptions(
        timeout_minutes=settings.session_timeout_minutes if timeout_minutes is None else timeout_minutes,
        timezone=timezone or client.timezone,
        split_at_midnight=settings.session_split_at_midnight if split_at_midnight is None else split_at_midnight,
        goals=GoalStore.from_settings(settings).list_goals(client_id),
        attribution_window_days=attribution_window_days,
    )


# the pipeline -----------------------------------------------------------------------------------------
def _sessions_in_window(sessions: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    keep = pd.Series(True, index=sessions.index)
    if start is not None:
        keep &= sessions["started_at"] >= start
    if end is not None:
        keep &= sessions["started_at"] < end
    return sessions.loc[keep]


def _session_summary(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per partition: sessions per hour and the last session end (to judge attribution windows)."""
    counts = hour_counts(sessions["started_at"]).rename("sessions").to_frame()
    counts["last_end"] = sessions["ended_at"].max() if len(sessions) else pd.NaT
    counts["first_start"] = sessions["started_at"].min() if len(sessions) else pd.NaT
    counts["last_start"] = sessions["started_at"].max() if len(sessions) else pd.NaT
    return counts


def _censored_sessions(sessions: pd.DataFrame, last_end: pd.Timestamp, window_days: int | None) -> int:
    """Sessions whose attribution window runs past the newest data (their label may still change)."""
    if window_days is None or len(sessions) == 0:
        return 0
    return int((sessions["started_at"] + pd.Timedelta(days=window_days) > last_end).sum())


def _split_stats(rows: pd.DataFrame) -> pd.DataFrame:
    """Per partition and split: rows, positives, first and last day."""
    grouped = rows.groupby("split", observed=False)
    return pd.DataFrame(
        {
            "rows": grouped.size(),
            "positives": grouped["converted"].sum(),
            "first_day": grouped["session_date"].min(),
            "last_day": grouped["session_date"].max(),
        }
    )


def _plain_strings(rows: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as strings: partitions may hold different categories; loading re-categorizes."""
    categorical = [c for c in rows.columns if isinstance(rows[c].dtype, pd.CategoricalDtype)]
    return rows.astype(dict.fromkeys(categorical, "str"))


def _write_part(rows: pd.DataFrame, number: int, folder: Path) -> DataFile | None:
    """Partition ``number`` as ``folder/part-NNNNN.parquet`` (ordered by split, day and row key), fsynced."""
    if len(rows) == 0:
        return None
    name = f"part-{number:05d}.parquet"
    table = pa.Table.from_pandas(order_rows(rows), preserve_index=False)
    pq.write_table(table, folder / name, compression="zstd")
    with open(folder / name, "rb") as handle:
        os.fsync(handle.fileno())
    return DataFile(f"{DATA_DIR}/{name}", table.num_rows, sha256_file(folder / name))


def _write_parts(rows: Partitions, folder: Path) -> list[DataFile]:
    """Every non-empty partition of ``rows`` as one file under ``folder/data`` (written where it lives)."""
    data = folder / DATA_DIR
    data.mkdir(mode=0o700)
    written = rows.collect_numbered(functools.partial(_write_part, folder=data))
    fsync_dir(data)
    return [w for w in written if w is not None]


@contextmanager
def _sessions(
    engine: Engine,
    files: list[Path],
    client_id: str,
    options: SessionOptions,
    window: SessionWindow,
    dask_scheduler: str | None,
    spill_dir: Path,
) -> Iterator[tuple[Partitions, InputQuality]]:
    """The sessions started in ``window`` as partitions of the chosen engine, and the input counts."""
    if engine == "duckdb":
        sessions, quality = sessions_and_quality(
            files,
            client_id,
            options,
            window=window,
            columns=TRAINING_SESSION_COLUMNS,
            ordered=False,
            spill_dir=spill_dir,
            memory_limit=DUCKDB_MEMORY_LIMIT,
        )
        shutil.rmtree(spill_dir, ignore_errors=True)
        yield LocalPartitions(sessions), quality
        return
    if engine == "pandas":
        yield _pandas_sessions(files, client_id, options, window)
        return
    from features.dask_engine import dask_client, dask_sessions  # Dask only when asked for

    start = None if window.start is None else pd.Timestamp(window.start)
    end = None if window.end is None else pd.Timestamp(window.end)
    with dask_client(dask_scheduler):
        every, quality = dask_sessions(files, client_id, options)
        yield every.map(_sessions_in_window, start, end), quality


def _pandas_sessions(
    files: list[Path], client_id: str, options: SessionOptions, window: SessionWindow
) -> tuple[LocalPartitions, InputQuality]:
    """Sessions by the pandas kernel over the whole lake read into memory (the benchmark's reference)."""
    events = pq.read_table([str(f) for f in files], columns=list(EVENT_COLUMNS_READ), partitioning=None).to_pandas()
    usable, quality = usable_events(events[events["client_id"] == client_id], options)
    del events
    sessions = sessionize_events(
        usable, options, start_us=epoch_us(window.start), end_us=epoch_us(window.end), already_usable=True
    )
    return LocalPartitions(sessions), quality


def _check_arguments(
    client_id: str,
    since: date | None,
    until: date | None,
    valid_fraction: float,
    test_fraction: float,
    engine: str,
    k: int,
) -> None:
    check_client_id(client_id)
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    check_fractions(valid_fraction, test_fraction)
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    check_k(k)


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
    split_at_midnight: bool | None = None,
    attribution_window_days: int | None = None,
    k: int = DEFAULT_K,
    engine: Engine = "duckdb",
    dask_scheduler: str | None = None,
) -> DatasetManifest:
    """Build and store an anonymized training set of one client's sessions started ``since``..``until``.

    The client's time zone and goals come from the registry (``NotFound`` for an unknown client) unless
    given; ``timeout_minutes`` and ``split_at_midnight`` default to the settings. Raises ``InvalidInput``
    for bad arguments and ``NotReady`` when the lake holds no events (or no sessions in the window).
    """
    _check_arguments(client_id, since, until, valid_fraction, test_fraction, engine, k)
    options = session_options(
        settings,
        client_id,
        timezone=timezone,
        timeout_minutes=timeout_minutes,
        split_at_midnight=split_at_midnight,
        attribution_window_days=attribution_window_days,
    )
    window = session_window(since, until, options.timezone, options.attribution_window_days)
    layout = StorageLayout.from_settings(settings)
    files = lake_files(layout, client_id, window.last_lake_day)
    if not files:
        raise NotReady(f"no events for client {client_id!r} in the lake; run `xmo simulate …` or send hits")
    spill_dir = layout.runtime_dir / f"duckdb-spill-{secrets.token_hex(4)}"
    with _sessions(engine, files, client_id, options, window, dask_scheduler, spill_dir) as (sessions, quality):
        summary = pd.concat(sessions.collect(_session_summary))
        if summary.empty:
            span = f"between {since or 'the start'} and {until or 'now'}"
            raise NotReady(
                f"no sessions of client {client_id!r} started {span} in the lake "
                f"({quality.events_used:,} usable of {quality.events_read:,} events read); "
                "widen --since/--until, run `xmo simulate …` or send hits"
            )
        counts = merge_hour_counts([summary["sessions"]])
        boundaries = boundaries_from_hour_counts(counts, valid_fraction, test_fraction)
        last_end = summary["last_end"].max()
        censored = sum(
            sessions.collect(
                functools.partial(_censored_sessions, last_end=last_end, window_days=options.attribution_window_days)
            )
        )
        salt = secrets.token_bytes(SALT_BYTES)
        rows = sessions.map(training_rows, options.timezone, salt, boundaries)
        plan = plan_generalization(merge_counts(rows.collect(combination_counts)), k)
        released = rows.map(apply_plan, plan)
        if not isinstance(released, LocalPartitions):
            released = released.map(_plain_strings).shuffle("row_key")  # type: ignore[attr-defined]
        stats = (
            pd.concat(released.collect(_split_stats))
            .groupby(level=0, observed=False)
            .agg(
                rows=("rows", "sum"),
                positives=("positives", "sum"),
                first_day=("first_day", "min"),
                last_day=("last_day", "max"),
            )
        )
        if int(stats["rows"].sum()) == 0:
            raise NotReady(
                f"all {plan.rows_in:,} sessions of client {client_id!r} were suppressed to keep k-anonymity "
                f"(k = {k}: every combination of {', '.join(plan.columns)} needs at least {k} sessions); "
                "collect more data, widen --since/--until or lower --k"
            )
        created = datetime.now(UTC)
        dataset_id = new_dataset_id(created)
        report = PrivacyReport.from_plan(plan, identifier_columns_removed=IDENTIFIER_COLUMNS_REMOVED)
        fields = {
            "dataset_id": dataset_id,
            "client_id": client_id,
            "created_at": created.isoformat(timespec="seconds"),
            "engine": engine,
            "timezone": options.timezone,
            "session_timeout_minutes": options.timeout_minutes,
            "split_at_midnight": options.split_at_midnight,
            "attribution_window_days": options.attribution_window_days,
            "goals": [g.public() for g in options.goals],
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "valid_fraction": valid_fraction,
            "test_fraction": test_fraction,
            "source_partitions": [f.relative_to(layout.home).as_posix() for f in files],
            "input_quality": quality.to_dict(),
            "sessions_with_open_window": censored,
            "k_anonymity": k,
            **_content_fields(stats, summary, boundaries),
        }
        return _write_dataset(layout.client_datasets_dir(client_id), dataset_id, released, fields, report)


def _content_fields(stats: pd.DataFrame, summary: pd.DataFrame, boundaries: SplitBoundaries) -> dict[str, object]:
    """Manifest fields that describe the rows and the code that made them (all but the data files)."""
    row_totals = stats["rows"].to_dict()
    positives = stats["positives"].to_dict()
    rows = {split: int(row_totals.get(split, 0)) for split in SPLITS}
    rates = {split: (float(positives[split]) / rows[split]) if rows[split] else None for split in SPLITS}
    return {
        "row_counts": rows,
        "label_rates": rates,
        "time_range_start": summary["first_start"].min().floor("h").isoformat(),
        "time_range_end": summary["last_start"].max().ceil("h").isoformat(),
        "first_session_date": pd.Timestamp(stats["first_day"].min()).date().isoformat(),
        "last_session_date": pd.Timestamp(stats["last_day"].max()).date().isoformat(),
        "valid_start": _hour_iso(boundaries.valid_start),
        "test_start": _hour_iso(boundaries.test_start),
        "code_version": asdict(code_version()),
        "feature_definitions_hash": feature_definitions_hash(),
        "features": [{"name": f.name, "kind": f.kind, "dtype": f.dtype} for f in FEATURES],
        "label_columns": list(LABEL_COLUMNS),
    }


def _write_dataset(
    parent: Path, dataset_id: str, rows: Partitions, fields: dict[str, object], report: PrivacyReport
) -> DatasetManifest:
    """Write data, privacy report and manifest into a hidden folder, then rename it to ``parent/dataset_id``."""
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = parent / f".tmp-{dataset_id}"
    tmp.mkdir(mode=0o700)
    try:
        files = _write_parts(rows, tmp)
        atomic_write(tmp / PRIVACY_REPORT_FILE, report.to_json().encode())
        manifest = DatasetManifest.from_dict(
            {**fields, "data_files": [asdict(f) for f in files], "data_sha256": data_digest(files)}
        )
        atomic_write(tmp / MANIFEST_FILE, manifest.to_json().encode())
        os.rename(tmp, parent / dataset_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
    return manifest


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


def stale_datasets(settings: Settings, client_id: str) -> set[str]:
    """Ids of the client's training sets an erasure made stale (training refuses them)."""
    folder = StorageLayout.from_settings(settings).client_datasets_dir(client_id)
    return {dataset_id for dataset_id in _dataset_ids(folder) if (folder / dataset_id / STALE_FILE).is_file()}


def _normalized(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical features with sorted categories and the split as its ordered categorical, however the
    data files stored them (one file or partitions with different categories)."""
    for column in CATEGORICAL_FEATURES:
        frame[column] = as_category(frame[column].astype("object"))
    frame["split"] = frame["split"].astype("str").astype(SPLIT_DTYPE)
    return frame


def load_dataset(settings: Settings, client_id: str, dataset_id: str | None = None, *, verify: bool = True) -> Dataset:
    """A client's training set (the newest when ``dataset_id`` is None), checked against its digests.

    Rows come in the order of the data files, each ordered by split, day and row key.
    """
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
    if (path / STALE_FILE).is_file():
        raise Conflict(
            f"training set {dataset_id!r} of client {client_id!r} is stale: a data-subject erasure removed events "
            f"it may hold; build a new one with `xmo dataset build {client_id}`"
        )
    manifest = _read_manifest(path)
    damaged = [f.path for f in manifest.data_files if not (path / f.path).is_file()]
    if verify and not damaged:
        damaged = [f.path for f in manifest.data_files if sha256_file(path / f.path) != f.sha256]
    if damaged:
        raise NotReady(
            f"training set {dataset_id!r} of client {client_id!r} is damaged ({', '.join(damaged)} missing or "
            f"not matching the manifest digest); build a new one with `xmo dataset build {client_id}`"
        )
    tables = [pq.read_table(path / f.path) for f in manifest.data_files]
    frames = [t.to_pandas() for t in tables]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(DATASET_COLUMNS))
    return Dataset(frame=_normalized(frame), manifest=manifest, path=path)


def load_privacy_report(dataset: Dataset) -> PrivacyReport:
    """The privacy report stored beside a training set."""
    return PrivacyReport.from_json((dataset.path / PRIVACY_REPORT_FILE).read_text())
