"""Champion models of every client, loaded from the MLflow registry and swapped when an alias moves."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mlflow.pyfunc
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.registry import CHAMPION, conversion_model_name

logger = logging.getLogger("xmo.serving.models")


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score, and where it came from."""

    client_id: str
    name: str
    version: str
    alias: str
    run_id: str | None
    model: Any  # mlflow.pyfunc.PyFuncModel
    loaded_at: datetime

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

    def get(self, client_id: str) -> LoadedModel | None:
        """The loaded model of a client, if it has one."""
        return self._models.get(client_id)

    def loaded(self) -> dict[str, LoadedModel]:
        """A snapshot of every loaded model."""
        return dict(self._models)

    def _alias_version(self, client_id: str) -> Any | None:
        try:
            return self.client.get_model_version_by_alias(conversion_model_name(client_id), self.alias)
        except MlflowException:
            return None

    def refresh(self, client_id: str) -> LoadedModel | None:
        """Load the alias's version if it differs from the loaded one; drop the entry if the alias is gone."""
        version = self._alias_version(client_id)
        current = self._models.get(client_id)
        if version is None:
            if current is not None:
                with self._lock:
                    self._models.pop(client_id, None)
            return None
        if current is not None and current.version == str(version.version):
            return current
        model = mlflow.pyfunc.load_model(f"models:/{version.name}/{version.version}")
        loaded = LoadedModel(
            client_id=client_id,
            name=version.name,
            version=str(version.version),
            alias=self.alias,
            run_id=version.run_id,
            model=model,
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
            except (MlflowException, OSError) as exc:
                logger.error("could not load model of %s: %s", client_id, type(exc).__name__)
                loaded = self._models.get(client_id)
            result[client_id] = loaded.version if loaded else None
        with self._lock:
            for gone in set(self._models) - set(client_ids):
                self._models.pop(gone, None)
        return result
