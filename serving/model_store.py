"""Champion models of every client, loaded from the MLflow registry and swapped when an alias moves.

A new version is loaded and warmed up (one scoring of the example sessions) while the old one keeps
serving; then the entry is replaced in one assignment. A request holds the model it started with, so a
swap never fails or mixes versions within a request.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow.pyfunc
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from core.errors import NotReady
from features.definitions import EXAMPLE_SESSIONS
from models.pyfunc import ConversionScorer
from models.registry import CHAMPION, conversion_model_name
from serving.scoring_input import session_columns

logger = logging.getLogger("xmo.serving.models")
_ABSENT = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})  # no such model, no such alias


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score, and where it came from."""

    client_id: str
    name: str
    version: str
    alias: str
    run_id: str | None
    model: Any  # mlflow.pyfunc.PyFuncModel
    scorer: ConversionScorer  # the pyfunc's own scorer: the API scores columns with it directly
    loaded_at: datetime

    def info(self) -> dict[str, str]:
        """Name, version and alias: what every score names as its source."""
        return {"name": self.name, "version": self.version, "alias": self.alias}

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "loaded_at": self.loaded_at.isoformat(),
        }


class ModelStore:
    """Holds one loaded champion per client; reads are lock-free, reloads swap whole entries."""

    def __init__(self, client: MlflowClient, alias: str = CHAMPION) -> None:
        self.client = client
        self.alias = alias
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time: a version is loaded once

    def get(self, client_id: str) -> LoadedModel | None:
        """The loaded model of a client, if it has one."""
        return self._models.get(client_id)

    def forget(self, client_id: str) -> None:
        """Drop a client's model (after its purge)."""
        with self._lock:
            self._models.pop(client_id, None)

    def loaded(self) -> dict[str, LoadedModel]:
        """A snapshot of every loaded model."""
        return dict(self._models)

    def _alias_version(self, client_id: str) -> Any | None:
        """The version the alias names; None when the model or alias does not exist. Any other registry
        failure (a locked database, say) raises, so the loaded model keeps serving."""
        try:
            return self.client.get_model_version_by_alias(conversion_model_name(client_id), self.alias)
        except MlflowException as exc:
            if exc.error_code in _ABSENT:
                return None
            raise

    def refresh(self, client_id: str) -> LoadedModel | None:
        """Load the alias's version if it differs from the loaded one; drop the entry if the alias is gone."""
        with self._refreshing:
            return self._refresh(client_id)

    def _refresh(self, client_id: str) -> LoadedModel | None:
        version = self._alias_version(client_id)
        current = self._models.get(client_id)
        if version is None:
            if current is not None:
                with self._lock:
                    self._models.pop(client_id, None)
            return None
        if current is not None and current.version == str(version.version):
            return current
        uri = f"models:/{version.name}/{version.version}"
        try:
            model = mlflow.pyfunc.load_model(uri)
            scorer = _scorer_of(model)
            _warm_up(scorer)
        except Exception as exc:  # many types (missing artifact, bad code, a booster that cannot score)
            raise ModelNotServable(
                f"{version.name} version {version.version} cannot be served ({type(exc).__name__}); "
                f"{'the version that was loaded keeps serving' if current else 'no model is served'}"
            ) from exc
        loaded = LoadedModel(
            client_id=client_id,
            name=version.name,
            version=str(version.version),
            alias=self.alias,
            run_id=version.run_id,
            model=model,
            scorer=scorer,
            loaded_at=datetime.now(UTC),
        )
        with self._lock:
            self._models[client_id] = loaded
        logger.info("loaded model %s version %s for %s", version.name, version.version, client_id)
        return loaded

    def refresh_all(self, client_ids: list[str]) -> dict[str, str | None]:
        """Refresh every client; returns the loaded version per client (None without a model)."""
        result: dict[str, str | None] = {}
        for client_id in client_ids:
            try:
                loaded = self.refresh(client_id)
            except (MlflowException, OSError, ModelNotServable) as exc:
                logger.error("could not load model of %s: %s", client_id, type(exc).__name__)
                loaded = self._models.get(client_id)
            result[client_id] = loaded.version if loaded else None
        with self._lock:
            for gone in set(self._models) - set(client_ids):
                self._models.pop(gone, None)
        return result


class ModelNotServable(NotReady):
    """The alias names a version that cannot be loaded or cannot score."""


def _scorer_of(model: Any) -> ConversionScorer:
    scorer = getattr(model.unwrap_python_model(), "scorer", None)
    if not isinstance(scorer, ConversionScorer):
        raise TypeError("not an xmo conversion model")
    return scorer


def _warm_up(scorer: ConversionScorer) -> None:
    """Score the example sessions once (first calls fill caches and start LightGBM), so that the first
    request on a new version is as fast as the rest; a model that cannot score is never swapped in."""
    sessions = session_columns({"sessions": [dict(s) for s in EXAMPLE_SESSIONS]})
    matrix = scorer.feature_matrix(sessions.columns, sessions.n_rows)
    scorer.predict_matrix(matrix)
    scorer.contributions_matrix(matrix)
