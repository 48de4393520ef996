"""One MLflow run per training job, the way MLflow users expect it, and registration of the model.

The run holds parameters, test metrics (the model's and the baselines'), the training set as an
``mlflow.data`` input (digest and source from its manifest), the manifest and privacy report, per-slice
metrics, plots (ROC, calibration, importance, contributions), the Optuna study summary, and the model: a
pyfunc logged as code that bundles feature preparation, LightGBM and the calibrator, with a signature and an
input example. MLflow's INFO lines (store set-up, input-example validation) and its registration messages
stay out of the job's output (:func:`quiet_mlflow`, and registration through ``MlflowClient``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

import models
from core.errors import NotReady
from core.settings import Settings
from features.dataset import Dataset, load_privacy_report
from features.definitions import FEATURE_NAMES, example_session_records
from models.calibration import Calibrator
from models.conversion import ConversionModel
from models.pyfunc import write_artifacts
from models.registry import (
    assign_first_alias,
    configure_mlflow,
    conversion_model_name,
    ensure_experiment,
    register_version,
)
from training import plots
from training.identity import CONTENT_TAG, FINGERPRINT_TAG
from training.tuning import TuningResult

MODEL_CODE = Path(models.__file__).parent / "mlflow_model_code.py"
DATASET_TAG = "xmo.dataset_id"


@dataclass
class RunContent:
    """Everything a training job logs."""

    dataset: Dataset
    model: ConversionModel
    calibrator: Calibrator
    engine: str
    monotone: bool
    metrics: dict[str, float]
    slices: pd.DataFrame
    baselines: dict[str, dict[str, float]]
    test_scores: dict[str, np.ndarray]
    y_test: np.ndarray
    X_test: pd.DataFrame
    tuning: TuningResult | None
    fingerprint: str = ""
    content_hash: str = ""


@dataclass(frozen=True)
class Registered:
    """The run and the registered version it produced."""

    run_id: str
    model_name: str
    version: str
    aliases: list[str]


def masked_uri(uri: str) -> str:
    """A store URI without its password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", uri)


@contextmanager
def _fail_fast() -> Iterator[None]:
    """HTTP tracking servers: one quick try instead of MLflow's minutes of retries (restored afterwards)."""
    overrides = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_QUIET_LOGGERS = ("mlflow", "alembic")


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's and alembic's INFO lines (tables created, input example validated) off for the block.

    Warnings and errors still show; the previous levels come back afterwards.
    """
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, previous, strict=True):
            logger.setLevel(level)


def preflight(settings: Settings) -> MlflowClient:
    """The MLflow client, after checking its tracking store answers (``NotReady`` naming it otherwise)."""
    uri = settings.effective_mlflow_tracking_uri
    try:
        with _fail_fast():
            client = configure_mlflow(settings)
            client.search_experiments(max_results=1)
    except Exception as exc:  # connection refused, DNS, auth, schema: all mean "not usable now"
        raise NotReady(
            f"cannot reach the MLflow tracking store at {masked_uri(uri)} ({type(exc).__name__}); "
            "check XMO_MLFLOW_TRACKING_URI and that the server is running"
        ) from exc
    return client


def _finite(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}


def _log_evaluation(content: RunContent) -> None:
    """Metrics, tables and plots of the test split."""
    mlflow.log_metrics(_finite(content.metrics, "test_"))
    for name, values in content.baselines.items():
        mlflow.log_metrics(_finite(values, f"baseline_{name}_test_"))
    mlflow.log_metrics(_finite(content.calibrator.scores_, "calibration_cv_log_loss_"))
    if not content.slices.empty:
        mlflow.log_table(content.slices, artifact_file="evaluation/slice_metrics.json")
    contributions = content.model.contributions(content.X_test)
    mlflow.log_table(plots.contributions_summary(contributions), artifact_file="evaluation/contributions.json")
    calibration = plots.calibration_table(content.y_test, content.test_scores["lightgbm"])
    mlflow.log_table(calibration, artifact_file="evaluation/calibration_table.json")
    figures = {
        "plots/roc_curve.png": plots.roc_figure(content.y_test, content.test_scores),
        "plots/calibration_curve.png": plots.calibration_figure(content.y_test, content.test_scores),
        "plots/feature_importance.png": plots.importance_figure(content.model.booster_),
        "plots/feature_contributions.png": plots.contributions_figure(contributions),
    }
    for path, figure in figures.items():
        mlflow.log_figure(figure, path)


def _log_dataset(dataset: Dataset) -> None:
    manifest = dataset.manifest
    mlflow.log_input(
        from_pandas(
            dataset.frame,
            source=str(dataset.path),
            name=manifest.dataset_id,
            digest=manifest.data_sha256[:36],
            targets="converted",
        ),
        context="training",
    )
    mlflow.log_dict(manifest.to_dict(), "dataset/manifest.json")
    mlflow.log_dict(load_privacy_report(dataset).to_dict(), "dataset/privacy_report.json")


def _log_model(content: RunContent) -> Any:
    """The pyfunc (code + booster text + calibrator JSON), with signature and input example; its ModelInfo."""
    examples = example_session_records()
    signature = infer_signature(
        examples, pd.DataFrame({"probability": np.full(len(examples), 0.5)}), params={"explain": False}
    )
    manifest = content.dataset.manifest
    with tempfile.TemporaryDirectory() as folder:
        artifacts = write_artifacts(
            Path(folder),
            content.model.booster_,
            content.model.best_iteration_,
            list(FEATURE_NAMES),
            manifest.timezone,
            manifest.feature_definitions_hash,
            calibrator=content.calibrator,
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(MODEL_CODE),
            artifacts=artifacts,
            signature=signature,
            input_example=examples,
            pip_requirements=pip_requirements(),
        )
    return info


def pip_requirements() -> list[str]:
    """What the pyfunc needs, pinned to the versions that trained it (MLflow's inference takes seconds)."""
    packages = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "pyarrow", "duckdb", "pydantic-settings")
    pinned = [f"{name}=={metadata.version(name)}" for name in packages]
    return [*pinned, f"xmo=={metadata.version('xmo')}"]


def _params(content: RunContent) -> dict[str, Any]:
    manifest = content.dataset.manifest
    return {
        **content.model.get_params(),
        "best_iteration": content.model.best_iteration_,
        "engine": content.engine,
        "calibration": content.calibrator.method,
        "dataset_id": manifest.dataset_id,
        "features_hash": manifest.feature_definitions_hash,
        "attribution_window_days": manifest.attribution_window_days,
        "tuning_trials": content.tuning.n_trials if content.tuning else 0,
    }


def log_and_register(
    settings: Settings, client_id: str, content: RunContent, progress: Callable[[str], None]
) -> Registered:
    """Log the run; only when it is complete, register the model and set its alias (or undo the version)."""
    client = configure_mlflow(settings)
    experiment_id = ensure_experiment(client, settings, client_id)
    name = conversion_model_name(client_id)
    manifest = content.dataset.manifest
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"lightgbm-{manifest.dataset_id}",
        tags={"xmo.client_id": client_id, DATASET_TAG: manifest.dataset_id, "xmo.engine": content.engine},
    ) as run:
        mlflow.log_params(_params(content))
        _log_dataset(content.dataset)
        _log_evaluation(content)
        if content.tuning is not None:
            mlflow.log_dict(content.tuning.summary(), "tuning/optuna_study.json")
        logged = _log_model(content)
    version = register_version(client, name, logged, run.info.run_id, _version_tags(content))
    try:
        aliases = assign_first_alias(client, name, str(version.version))
    except Exception:
        client.delete_model_version(name, str(version.version))
        raise
    progress(f"registered {name} version {version.version} as {', '.join(aliases)}")
    return Registered(run.info.run_id, name, str(version.version), aliases)


def _version_tags(content: RunContent) -> dict[str, str]:
    """The dataset a version was trained on, and its identity (:mod:`training.identity`)."""
    tags = {DATASET_TAG: content.dataset.manifest.dataset_id}
    for tag, value in ((FINGERPRINT_TAG, content.fingerprint), (CONTENT_TAG, content.content_hash)):
        if value:
            tags[tag] = value
    return tags
