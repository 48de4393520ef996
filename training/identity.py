"""When a new model would be the same as a registered one: a fingerprint of what determines the fitted model.

A training job is deterministic given the training set (id and content digest), the feature definitions, the
complete ``ConversionModel`` arguments (``n_jobs`` aside: threads do not change the trees), the engine and the
versions of xmo and LightGBM. Their SHA-256 is the fingerprint, stored as the model version's tag
``xmo.fingerprint``; a job whose fingerprint matches the ``champion`` (or ``challenger``) registers nothing
unless asked to. Versions registered before fingerprints existed never match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from features.manifest import DatasetManifest
from models.conversion import ConversionModel
from models.registry import CHALLENGER, CHAMPION

FINGERPRINT_TAG = "xmo.fingerprint"
_NOT_MODEL = frozenset({"n_jobs"})


def model_fingerprint(manifest: DatasetManifest, params: dict[str, Any], *, engine: str, monotone: bool) -> str:
    """The SHA-256 (hex) of everything that determines the model a training job fits."""
    resolved = ConversionModel(**{**params, "monotone": monotone}).get_params()
    identity = {
        "dataset_id": manifest.dataset_id,
        "data_sha256": manifest.data_sha256,
        "features_hash": manifest.feature_definitions_hash,
        "params": {k: v for k, v in sorted(resolved.items()) if k not in _NOT_MODEL},
        "engine": engine,
        "xmo": metadata.version("xmo"),
        "lightgbm": metadata.version("lightgbm"),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class SameModel:
    """A registered version whose fingerprint equals the new job's."""

    alias: str
    version: str
    run_id: str | None


def identical_version(client: MlflowClient, name: str, fingerprint: str) -> SameModel | None:
    """The ``champion`` (first) or ``challenger`` of ``name`` with this fingerprint, if any."""
    for alias in (CHAMPION, CHALLENGER):
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException:  # no such model or alias
            continue
        if (version.tags or {}).get(FINGERPRINT_TAG) == fingerprint:
            return SameModel(alias, str(version.version), version.run_id)
    return None
