"""MLflow conventions of xmo: where runs go, what models are called, which aliases mean what."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from core.errors import NotReady
from core.layout import StorageLayout, check_client_id
from core.locks import file_lock
from core.settings import Settings

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"


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


def register_version(
    client: MlflowClient,
    name: str,
    logged: Any,
    run_id: str,
    tags: dict[str, str],
    model_tags: dict[str, str] | None = None,
) -> Any:
    """A new version of ``name`` for a logged model (``mlflow.<flavor>.log_model``'s answer), creating the
    registered model (with ``model_tags``) when it does not exist yet."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, tags=model_tags)
        except MlflowException:  # another job created it meanwhile
            client.get_registered_model(name)
    return client.create_model_version(
        name, source=str(logged.model_uri), run_id=run_id, tags=tags, model_id=logged.model_id
    )


def assign_first_alias(client: MlflowClient, name: str, version: str) -> list[str]:
    """The first version becomes champion; later ones challenger (only a promotion gate moves champion)."""
    try:
        client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        client.set_registered_model_alias(name, CHAMPION, version)
        return [CHAMPION]
    client.set_registered_model_alias(name, CHALLENGER, version)
    return [CHALLENGER]


def move_champion(client: MlflowClient, name: str, challenger: str, champion: str | None) -> None:
    """``challenger`` becomes champion, the old champion previous-champion; the challenger alias goes with it."""
    if champion is not None:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, champion)
    client.set_registered_model_alias(name, CHAMPION, challenger)
    try:
        current = client.get_model_version_by_alias(name, CHALLENGER)
    except MlflowException:
        return
    if str(current.version) == challenger:
        client.delete_registered_model_alias(name, CHALLENGER)
