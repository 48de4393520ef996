"""Training's part of forgetting a client: its MLflow experiment, runs, logged and registered models, artifacts,
and its Optuna tuning studies.

MLflow's ``delete_*`` calls only mark things deleted; the client's data must be gone for good, so this does
what ``mlflow gc`` does for the client's own runs, logged models and experiment (hard deletes in the tracking
store, then the artifact folder), without touching anything of other clients. Registered in the entry-point
group ``xmo.privacy.stores`` (see ``privacy.stores``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from core.database import absent_sqlite_file, vacuum_sqlite
from core.files import remove_tree
from core.layout import StorageLayout, check_client_id
from core.settings import Settings
from privacy.stores import Trace, folder_client_ids, tree_traces

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# MLflow and Optuna are imported when a store is used, not when privacy discovers the stores: an erasure
# (which needs neither) should not pay seconds of imports.

logger = logging.getLogger(__name__)


def _tracking_store(client: MlflowClient) -> Any:
    return client._tracking_client.store  # the store ``mlflow gc`` hard-deletes through


def _local_path(uri: str | None) -> Path | None:
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(unquote(parsed.path))


@dataclass(frozen=True)
class MlflowClientStore:
    """The client's experiment (runs, metrics, params, tags, inputs), logged and registered models, artifacts."""

    settings: Settings
    name: str = "MLflow experiments and models"
    order: int = 50

    def _client(self) -> MlflowClient:
        from models.registry import configure_mlflow

        return configure_mlflow(self.settings)

    def _artifact_root(self, client_id: str) -> Path:
        return StorageLayout.from_settings(self.settings).mlartifacts_dir / check_client_id(client_id)

    def forget_client(self, client_id: str) -> int:
        from mlflow.exceptions import MlflowException

        from models.registry import experiment_name

        if absent_sqlite_file(self.settings.effective_mlflow_tracking_uri):
            remove_tree(self._artifact_root(client_id))
            return 0  # no run was ever logged: do not create an MLflow database just to look
        client = self._client()
        store = _tracking_store(client)
        for method in ("_hard_delete_run", "_hard_delete_experiment", "_hard_delete_logged_model"):
            if not hasattr(store, method):
                raise MlflowException(
                    f"the MLflow tracking store at {self.settings.effective_mlflow_tracking_uri} cannot hard-delete; "
                    "point XMO_MLFLOW_TRACKING_URI at its database (as `mlflow gc --backend-store-uri` needs)"
                )
        deleted = self._forget_registered_model(client, client_id)
        experiment = client.get_experiment_by_name(experiment_name(client_id))
        artifact_dirs = [self._artifact_root(client_id)]
        if experiment is not None:
            deleted += self._forget_experiment(client, store, experiment.experiment_id)
            location = _local_path(experiment.artifact_location)
            if location is not None:
                artifact_dirs.append(location)
        for folder in artifact_dirs:
            remove_tree(folder)
        vacuum_sqlite(self.settings.effective_mlflow_tracking_uri)
        return deleted

    @staticmethod
    def _forget_registered_model(client: MlflowClient, client_id: str) -> int:
        from mlflow.exceptions import MlflowException

        from models.mmm_registry import mmm_model_name
        from models.registry import conversion_model_name

        deleted = 0
        for name in (conversion_model_name(client_id), mmm_model_name(client_id)):
            try:
                versions = client.search_model_versions(f"name = '{name}'")
                client.delete_registered_model(name)  # a hard delete of the model and its versions in the registry
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                continue
            deleted += len(versions)
        return deleted

    @staticmethod
    def _forget_experiment(client: MlflowClient, store: Any, experiment_id: str) -> int:
        from mlflow.entities import ViewType

        runs = [
            run.info.run_id
            for run in client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=50_000)
        ]
        models = [m.model_id for m in client.search_logged_models(experiment_ids=[experiment_id])]
        models += [
            model_id
            for model_id in store._get_deleted_logged_models()  # left soft-deleted by a crash
            if store.get_logged_model(model_id).experiment_id == experiment_id
        ]
        for model_id in dict.fromkeys(models):
            store.delete_logged_model(model_id)
            store._hard_delete_logged_model(model_id)
        if client.get_experiment(experiment_id).lifecycle_stage != "deleted":
            client.delete_experiment(experiment_id)
        for run_id in runs:
            store._hard_delete_run(run_id)
        store._hard_delete_experiment(experiment_id)
        return len(runs) + len(set(models)) + 1

    def client_traces(self, client_id: str) -> list[Trace]:
        from mlflow.entities import ViewType

        from models.mmm_registry import mmm_model_name
        from models.registry import conversion_model_name, experiment_name

        if absent_sqlite_file(self.settings.effective_mlflow_tracking_uri):
            return tree_traces(self.name, self._artifact_root(client_id))
        client = self._client()
        traces = []
        for name in (conversion_model_name(client_id), mmm_model_name(client_id)):
            if client.search_registered_models(f"name = '{name}'"):
                traces.append(Trace(self.name, f"registered model {name}"))
        experiment = client.get_experiment_by_name(experiment_name(client_id))
        if experiment is not None:
            runs = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL, max_results=50_000)
            traces.append(Trace(self.name, f"experiment {experiment.name} ({experiment.lifecycle_stage})", len(runs)))
        experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
        if experiments:
            tagged = client.search_runs(
                experiments, f"tags.`xmo.client_id` = '{client_id}'", run_view_type=ViewType.ALL, max_results=50_000
            )
            if tagged:
                traces.append(Trace(self.name, "runs tagged xmo.client_id in other experiments", len(tagged)))
        traces += tree_traces(self.name, self._artifact_root(client_id))
        return traces

    def held_client_ids(self) -> set[str]:
        """Clients with an artifact folder (a client's experiment is found through its id, see client_traces)."""
        return folder_client_ids(StorageLayout.from_settings(self.settings).mlartifacts_dir)


@dataclass(frozen=True)
class OptunaClientStore:
    """The client's tuning studies (trials, parameters, values) in the Optuna storage."""

    settings: Settings
    name: str = "tuning studies"
    order: int = 60

    def _studies(self, client_id: str) -> list[str]:
        import optuna

        from training.study_storage import client_of_study

        storage = self.settings.effective_optuna_storage
        if absent_sqlite_file(storage):
            return []  # nothing was ever tuned: do not create an empty storage just to look
        names = optuna.study.get_all_study_names(storage=storage)
        return [name for name in names if client_of_study(name) == check_client_id(client_id)]

    def forget_client(self, client_id: str) -> int:
        import optuna

        studies = self._studies(client_id)
        for study_name in studies:
            optuna.delete_study(study_name=study_name, storage=self.settings.effective_optuna_storage)
        if studies:
            vacuum_sqlite(self.settings.effective_optuna_storage)
        return len(studies)

    def client_traces(self, client_id: str) -> list[Trace]:
        return [Trace(self.name, f"study {name}") for name in self._studies(client_id)]


def mlflow_store(settings: Settings) -> MlflowClientStore:
    """Entry point ``mlflow`` of ``xmo.privacy.stores``."""
    return MlflowClientStore(settings)


def optuna_store(settings: Settings) -> OptunaClientStore:
    """Entry point ``optuna`` of ``xmo.privacy.stores``."""
    return OptunaClientStore(settings)
