"""One MLflow run per media-mix fit, and the registration of ``xmo-mmm-<client>``.

The run holds the parameters (model settings, adstock and saturation families, the data's digest), the fit and
held-out metrics (and the cross-validation means when families were chosen by it), the client's data as an
``mlflow.data`` input, and the artifacts ``fit_report.json``, ``decomposition.csv``, ``predictions.csv``,
``curves.json``, ``comparison.json`` (against the champion, when there is one) and three plots. The model is the
fitted estimator in MLflow's scikit-learn flavor, with a signature and an input example. A version is registered
only once the run is complete; if its alias cannot be set the version is deleted again.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import mlflow
import numpy as np
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature

from core.layout import StorageLayout
from core.settings import Settings
from features.media_mix_data import MediaMixInputs
from models.mediamix import MediaMixModel
from models.mmm_registry import (
    DIGEST_TAG,
    FINGERPRINT_TAG,
    FIT_REPORT_ARTIFACT,
    KPI_TAG,
    mmm_model_name,
)
from models.mmm_tables import curves_dict, cv_means, decomposition_frames, predictions_frame
from models.registry import assign_first_alias, configure_mlflow, ensure_experiment, register_version
from tracking.kpi import kpi_path
from training import mmm_plots


@dataclass
class MmmRunContent:
    """What a media-mix fit logs."""

    inputs: MediaMixInputs
    model: MediaMixModel
    fit_report: dict[str, Any]
    families: dict[str, str]
    fingerprint: str
    comparison: dict[str, Any] | None
    lift_tests: int


@dataclass(frozen=True)
class MmmRegistered:
    """The run and the version it registered."""

    run_id: str
    model_name: str
    version: str
    aliases: list[str]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


def fit_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The run's metrics: in-sample and held-out R², NRMSE, MAPE (and coverage), CV means when present."""
    metrics: dict[str, float] = {}
    for prefix, block in (("in_sample", report.get("in_sample")), ("holdout", report.get("holdout"))):
        for key in ("r2", "nrmse", "mape", "coverage"):
            value = _number((block or {}).get(key))
            if value is not None:
                metrics[f"{prefix}_{key}"] = value
    for key, raw in (cv_means(report) or {}).items():
        value = _number(raw)
        if value is not None:
            metrics[f"cv_mean_{key}"] = value
    decomposition = report.get("decomposition") or {}
    for key in ("media_share_of_kpi", "decomp_rssd"):
        value = _number(decomposition.get(key))
        if value is not None:
            metrics[key] = value
    value = _number(report.get("fit_seconds"))
    if value is not None:
        metrics["fit_seconds"] = value
    return metrics


def _params(content: MmmRunContent) -> dict[str, Any]:
    model = content.model.get_params()
    inputs = content.inputs
    return {
        **{k: v for k, v in model.items() if k not in ("channels", "controls")},
        "kpi": inputs.kpi,
        "channels": ",".join(inputs.channels),
        "controls": ",".join(inputs.controls),
        "adstock": content.families.get("adstock", "geometric"),
        "saturation": content.families.get("saturation", "hill"),
        "families_chosen_by_cv": content.fit_report.get("cross_validation") is not None,
        "lift_tests": content.lift_tests,
        "n_periods": len(inputs.y),
        "first_day": str(inputs.dates.min().date()),
        "last_day": str(inputs.dates.max().date()),
        "data_sha256": inputs.digest,
    }


def _log_artifacts(content: MmmRunContent) -> None:
    inputs, model = content.inputs, content.model
    predictions = predictions_frame(model, inputs.X, inputs.y)
    decomposition, totals = decomposition_frames(model, inputs.X)
    curves = curves_dict(model, inputs.X)
    mlflow.log_dict(content.fit_report, FIT_REPORT_ARTIFACT)
    mlflow.log_text(decomposition.to_csv(index=False), "decomposition.csv")
    mlflow.log_dict(totals, "decomposition_totals.json")
    mlflow.log_text(predictions.to_csv(index=False), "predictions.csv")
    mlflow.log_dict(curves, "curves.json")
    if content.comparison is not None:
        mlflow.log_dict(content.comparison, "comparison.json")
    figures = {
        "plots/fit_vs_actuals.png": mmm_plots.fit_figure(predictions, inputs.kpi),
        "plots/decomposition.png": mmm_plots.decomposition_figure(decomposition, list(model.channels_), inputs.kpi),
        "plots/response_curves.png": mmm_plots.curves_figure(curves),
    }
    for path, figure in figures.items():
        mlflow.log_figure(figure, path)


def _log_model(content: MmmRunContent) -> Any:
    example = content.inputs.X.head(8)
    signature = infer_signature(example, content.model.predict(example))
    logger = logging.getLogger("mlflow.sklearn")
    level = logger.level
    logger.setLevel(logging.ERROR)  # its caution about pickles: the pickle is ours, with a signature
    try:
        return mlflow.sklearn.log_model(
            content.model,
            name="model",
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,  # skops cannot hold the model
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
        )
    finally:
        logger.setLevel(level)


def pip_requirements() -> list[str]:
    """What the logged model needs, pinned to the versions that fitted it."""
    packages = ("mlflow", "scikit-learn", "scipy", "pandas", "numpy", "pydantic-settings")
    return [*(f"{name}=={metadata.version(name)}" for name in packages), f"xmo=={metadata.version('xmo')}"]


def log_and_register(
    settings: Settings, client_id: str, content: MmmRunContent, progress: Callable[[str], None]
) -> MmmRegistered:
    """Log the run; only when it is complete, register the model and set its alias (or undo the version)."""
    client = configure_mlflow(settings)
    experiment_id = ensure_experiment(client, settings, client_id)
    name = mmm_model_name(client_id)
    inputs = content.inputs
    with (
        warnings.catch_warnings(),
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"mmm-{inputs.kpi}-{inputs.dates.max().date()}",
            tags={"xmo.client_id": client_id, "xmo.model": "media_mix", KPI_TAG: inputs.kpi, DIGEST_TAG: inputs.digest},
        ) as run,
    ):
        warnings.simplefilter("ignore", UserWarning)  # MLflow's hints on integer columns and local sources
        mlflow.log_params(_params(content))
        mlflow.log_metrics(fit_metrics(content.fit_report))
        frame = inputs.X.assign(**{inputs.kpi: inputs.y})
        mlflow.log_input(
            from_pandas(
                frame,
                source=str(kpi_path(StorageLayout.from_settings(settings), client_id)),
                name=f"{client_id}-media-mix",
                digest=inputs.digest[:36],
                targets=inputs.kpi,
            ),
            context="training",
        )
        _log_artifacts(content)
        logged = _log_model(content)
    tags = _version_tags(content)
    version = register_version(client, name, logged, run.info.run_id, tags, model_tags={"xmo.model": "media_mix"})
    try:
        aliases = assign_first_alias(client, name, str(version.version))
    except Exception:
        client.delete_model_version(name, str(version.version))
        raise
    progress(f"registered {name} version {version.version} as {', '.join(aliases)}")
    return MmmRegistered(run.info.run_id, name, str(version.version), aliases)


def _version_tags(content: MmmRunContent) -> dict[str, str]:
    """The KPI, the data's digest, the fit's identity and its families."""
    return {
        KPI_TAG: content.inputs.kpi,
        DIGEST_TAG: content.inputs.digest,
        FINGERPRINT_TAG: content.fingerprint,
        "xmo.mmm.families": "+".join(
            (content.families.get("adstock", "geometric"), content.families.get("saturation", "hill"))
        ),
    }
