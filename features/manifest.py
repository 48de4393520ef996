"""The manifest of a training set: what it holds, where it came from, and how to check it is intact."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

MANIFEST_FORMAT_VERSION = 1
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
class DatasetManifest:
    """Everything known about one training set, stored beside it as ``manifest.json``.

    Times are ISO 8601 strings in UTC rounded to whole hours (``time_range_*``, ``*_start``), dates are
    client-local ``YYYY-MM-DD``. ``row_counts`` and ``label_rates`` (share of converted sessions, None for an
    empty split) are keyed by split.
    """

    dataset_id: str
    client_id: str
    created_at: str
    engine: str
    timezone: str
    session_timeout_minutes: int
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
    code_version: CodeVersion
    feature_definitions_hash: str
    features: tuple[FeatureSpec, ...]
    label_columns: tuple[str, ...]
    data_file: str
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
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> DatasetManifest:
        """The manifest of JSON text written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The feature columns of the data, in order."""
        return tuple(f.name for f in self.features)
