"""The training job: one training set → a LightGBM conversion model → an MLflow run and a registered version."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature

import models
from core.errors import NotReady
from core.settings import Settings
from features.dataset import Dataset, load_dataset
from features.definitions import FEATURES, example_session_records
from models.conversion import ConversionModel
from models.pyfunc import write_artifacts
from models.registry import CHALLENGER, CHAMPION, configure_mlflow, conversion_model_name, ensure_experiment
from training.evaluation import classification_metrics, slice_metrics

MODEL_CODE = Path(models.__file__).parent / "mlflow_model_code.py"
SLICE_COLUMNS = ["channel", "campaign_id", "device_class", "is_returning"]
Progress = Callable[[str], None]


@dataclass
class TrainingResult:
    """What a training run produced."""

    client_id: str
    dataset_id: str
    run_id: str
    model_name: str
    model_version: str
    aliases: list[str]
    metrics: dict[str, float]
    slices: pd.DataFrame = field(repr=False)


def feature_names() -> list[str]:
    """The model's input columns, in definition order."""
    return [f.name for f in FEATURES]


def _split(dataset: Dataset, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    part = dataset.frame[dataset.frame["split"] == name]
    return part[feature_names()], part["converted"].to_numpy().astype(int)


def train_conversion_model(
    settings: Settings,
    client_id: str,
    dataset_id: str | None = None,
    *,
    params: dict[str, Any] | None = None,
    progress: Progress = lambda _msg: None,
) -> TrainingResult:
    """Fit on the train split (early stopping on valid), evaluate on test, log and register in MLflow.

    The first version of a client's model becomes ``champion``; later ones become ``challenger``.
    """
    progress("loading the training set")
    dataset = load_dataset(settings, client_id, dataset_id)
    X_train, y_train = _split(dataset, "train")
    X_valid, y_valid = _split(dataset, "valid")
    X_test, y_test = _split(dataset, "test")
    for name, y in (("train", y_train), ("valid", y_valid), ("test", y_test)):
        if len(np.unique(y)) < 2:
            raise NotReady(
                f"the {name} split of dataset {dataset.manifest.dataset_id} needs sessions with and "
                "without conversions; collect more traffic and rebuild the dataset"
            )
    model = ConversionModel(**(params or {}))
    progress(f"fitting LightGBM on {len(y_train):,} sessions")
    model.fit(X_train, y_train, eval_set=(X_valid, y_valid))
    p_test = model.predict_proba(X_test)[:, 1]
    metrics = classification_metrics(y_test, p_test)
    slices = slice_metrics(X_test, y_test, p_test, [c for c in SLICE_COLUMNS if c in X_test])

    progress("logging the run to MLflow")
    with warnings.catch_warnings():
        # MLflow's hints about integer columns and ambiguous local sources do not apply here
        warnings.simplefilter("ignore", UserWarning)
        return _log_and_register(settings, client_id, dataset, model, metrics, slices, progress)


def _log_and_register(
    settings: Settings,
    client_id: str,
    dataset: Dataset,
    model: ConversionModel,
    metrics: dict[str, float],
    slices: pd.DataFrame,
    progress: Progress,
) -> TrainingResult:
    """One MLflow run with params, metrics, dataset lineage, slice metrics and the registered pyfunc."""
    client = configure_mlflow(settings)
    experiment_id = ensure_experiment(client, settings, client_id)
    name = conversion_model_name(client_id)
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"lightgbm-{dataset.manifest.dataset_id}",
        tags={"xmo.client_id": client_id, "xmo.dataset_id": dataset.manifest.dataset_id},
    ) as run:
        mlflow.log_params(
            {
                **model.get_params(),
                "best_iteration": model.best_iteration_,
                "dataset_id": dataset.manifest.dataset_id,
                "features_hash": dataset.manifest.feature_definitions_hash,
            }
        )
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_input(
            from_pandas(
                dataset.frame,
                source=str(dataset.path),
                name=dataset.manifest.dataset_id,
                digest=dataset.manifest.data_sha256[:36],
                targets="converted",
            ),
            context="training",
        )
        if not slices.empty:
            mlflow.log_table(slices, artifact_file="evaluation/slice_metrics.json")
        examples = example_session_records()
        signature = infer_signature(
            examples, pd.DataFrame({"probability": np.full(len(examples), 0.5)}), params={"explain": False}
        )
        with tempfile.TemporaryDirectory() as folder:
            artifacts = write_artifacts(
                Path(folder),
                model.booster_,
                model.best_iteration_,
                feature_names(),
                dataset.manifest.timezone,
                dataset.manifest.feature_definitions_hash,
            )
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_CODE),
                artifacts=artifacts,
                signature=signature,
                input_example=examples,
                registered_model_name=name,
            )
        version = str(info.registered_model_version)
    aliases = _assign_alias(client, name, version)
    progress(f"registered {name} version {version} as {', '.join(aliases)}")
    return TrainingResult(
        client_id=client_id,
        dataset_id=dataset.manifest.dataset_id,
        run_id=run.info.run_id,
        model_name=name,
        model_version=version,
        aliases=aliases,
        metrics=metrics,
        slices=slices,
    )


def _assign_alias(client: Any, name: str, version: str) -> list[str]:
    """The first version becomes champion; later ones challenger (promotion moves champion)."""
    try:
        client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        client.set_registered_model_alias(name, CHAMPION, version)
        return [CHAMPION]
    client.set_registered_model_alias(name, CHALLENGER, version)
    return [CHALLENGER]
