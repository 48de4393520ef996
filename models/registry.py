"""MLflow conventions of xmo: where runs go, what models are called, which aliases mean what."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from core.errors import NotReady
from core.layout import StorageLayout, check_client_id
from core.locks import file_lock
from core.settings import Settings

CHAMPION = "champion"
CHALLENGER = "challenger"


def conversion_model_name(client_id: str) -> str:
    """The registered model of a client's conversion models."""
    return f"xmo-conversion-{check_client_id(client_id)}"


def experiment_name(client_id: str) -> str:
    """One MLflow experiment per client."""
    return f"xmo-{check_client_id(client_id)}"


def configure_mlflow(settings: Settings) -> MlflowClient:
    """Point MLflow (tracking and registry) at the settings' store and return a client for it."""
    uri = settings.effective_mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        StorageLayout.from_settings(settings).ensure()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if not uri.startswith("sqlite:"):
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    # MLflow creates and migrates its SQLite schema on first use; workers starting together would race
    with file_lock(StorageLayout.from_settings(settings).runtime_dir / "mlflow-init.lock"):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    return client


def ensure_experiment(client: MlflowClient, settings: Settings, client_id: str) -> str:
    """The id of the client's experiment, created with artifacts under ``XMO_HOME/mlartifacts/<client>``."""
    name = experiment_name(client_id)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location: Path = StorageLayout.from_settings(settings).mlartifacts_dir / check_client_id(client_id)
    return client.create_experiment(
        name, artifact_location=location.resolve().as_uri(), tags={"xmo.client_id": client_id}
    )


def version_scorer(name: str, version: str) -> Any:
    """The ``ConversionScorer`` of a registered version; ``NotReady`` when its artifacts cannot be loaded."""
    try:
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        return model.unwrap_python_model().scorer
    except Exception as exc:  # a corrupt or missing artifact surfaces as many exception types
        raise NotReady(f"{name} version {version} cannot be loaded ({type(exc).__name__}: {exc})") from exc
