"""The manifest of a training set: what it holds, where it came from, and how to check it is intact."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

MANIFEST_FORMAT_VERSION = 2
ROW_KEY_SCHEME = "hmac-sha256(per-dataset random salt, internal session id); the salt is not stored"


@dataclass(frozen=True)
class FeatureSpec:
    """A feature as the manifest lists it."""

    name: str
    kind: str
    dtype: str


@dataclass(frozen=True)
class CodeVersion:
    """The code that built a training set."""

    package_version: str | None
    git_commit: str | None


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a training set: its path in the dataset folder, rows and sha256."""

    path: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class DatasetManifest:
    """Everything known about one training set, stored beside it as ``manifest.json``.

    Times are ISO 8601 strings in UTC rounded to whole hours (``time_range_*``, ``*_start``), dates are
    client-local ``YYYY-MM-DD``. ``row_counts`` and ``label_rates`` (share of converted sessions, None for an
    empty split) are keyed by split. ``input_quality`` counts the events read and those left out (invalid,
    future-dated, duplicates); ``sessions_with_open_window`` the sessions whose attribution window reaches past
    the newest data. ``data_sha256`` digests every data file (see ``features.dataset.data_digest``).
    """

    dataset_id: str
    client_id: str
    created_at: str
    engine: str
    timezone: str
    session_timeout_minutes: int
    split_at_midnight: bool
    attribution_window_days: int | None
    goals: tuple[dict[str, Any], ...]
    since: str | None
    until: str | None
    row_counts: dict[str, int]
    label_rates: dict[str, float | None]
    time_range_start: str
    time_range_end: str
    first_session_date: str
    last_session_date: str
    valid_start: str | None
    test_start: str | None
    valid_fraction: float
    test_fraction: float
    source_partitions: tuple[str, ...]
    input_quality: dict[str, int]
    sessions_with_open_window: int
    k_anonymity: int
    code_version: CodeVersion
    feature_definitions_hash: str
    features: tuple[FeatureSpec, ...]
    label_columns: tuple[str, ...]
    data_files: tuple[DataFile, ...]
    data_sha256: str
    row_key_scheme: str = ROW_KEY_SCHEME
    format_version: int = MANIFEST_FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return asdict(self)

    def to_json(self) -> str:
        """The manifest as indented, key-sorted JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetManifest:
        """The manifest of a dict written by :meth:`to_dict` (unknown keys are refused)."""
        values = dict(data)
        values["source_partitions"] = tuple(values["source_partitions"])
        values["label_columns"] = tuple(values["label_columns"])
        values["features"] = tuple(FeatureSpec(**f) for f in values["features"])
        values["code_version"] = CodeVersion(**values["code_version"])
        values["goals"] = tuple(values["goals"])
        values["data_files"] = tuple(DataFile(**f) for f in values["data_files"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> DatasetManifest:
        """The manifest of JSON text written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The feature columns of the data, in order."""
        return tuple(f.name for f in self.features)
