"""When a new model would be the same as a registered one: two identities stored on every model version.

* The **fingerprint** (tag ``xmo.fingerprint``), known before fitting: a training job is deterministic given
  the training set (id and content digest), the feature definitions, the complete ``ConversionModel``
  arguments (``n_jobs`` aside: threads do not change the trees), the engine and the versions of xmo and
  LightGBM. A match means the job need not even fit.
* The **content hash** (tag ``xmo.model_sha256``), known after fitting: the trees the pyfunc keeps and the
  calibrator. It catches the same model reached by other settings (e.g. a tuned ``n_estimators`` equal to an
  untuned model's early-stopped round count).

A job whose model matches the ``champion`` (or ``challenger``) either way registers nothing unless asked to.
Versions registered before these tags existed never match.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from features.manifest import DatasetManifest
from models.calibration import Calibrator
from models.conversion import ConversionModel
from models.registry import CHALLENGER, CHAMPION

FINGERPRINT_TAG = "xmo.fingerprint"
CONTENT_TAG = "xmo.model_sha256"
_NOT_MODEL = frozenset({"n_jobs"})
_PARAMETERS_BLOCK = re.compile(r"\nparameters:\n.*?\nend of parameters\n", re.DOTALL)


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


def model_content_hash(model: ConversionModel, calibrator: Calibrator) -> str:
    """The SHA-256 (hex) of the trees the registered model keeps and of its calibrator.

    LightGBM's block of training parameters (thread count, round limit, ...) is left out: it does not change
    a prediction.
    """
    trees = model.booster_.model_to_string(num_iteration=model.best_iteration_)
    content = {"trees": _PARAMETERS_BLOCK.sub("\n", trees), "calibration": calibrator.to_dict()}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class SameModel:
    """A registered version whose fingerprint equals the new job's."""

    alias: str
    version: str
    run_id: str | None


def identical_version(
    client: MlflowClient, name: str, *, fingerprint: str | None = None, content: str | None = None
) -> SameModel | None:
    """The ``champion`` (first) or ``challenger`` of ``name`` with this fingerprint or content hash, if any."""
    wanted = {tag: value for tag, value in ((FINGERPRINT_TAG, fingerprint), (CONTENT_TAG, content)) if value}
    for alias in (CHAMPION, CHALLENGER):
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException:  # no such model or alias
            continue
        tags = version.tags or {}
        if any(tags.get(tag) == value for tag, value in wanted.items()):
            return SameModel(alias, str(version.version), version.run_id)
    return None
