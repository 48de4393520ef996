"""The training job: one training set → a tuned, calibrated LightGBM model, compared with baselines, logged to
MLflow and registered as a new version (``champion`` for the first, ``challenger`` after that).

Order of work: check MLflow is reachable and the training set is usable (before any fitting), tune (optional),
fit, calibrate on the validation split, evaluate on the test split (overall and per slice, baselines alongside),
then log and register. A version is registered only once its run logged everything; if the alias cannot be
set, the version is deleted again, so a failure never leaves a half-registered version or moves the champion.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from core.settings import Settings
from features.dataset import Dataset, load_dataset
from models.baselines import HistGradientBoostingBaseline, LogisticBaseline
from training.checks import Splits, check_dataset, split_frames
from training.evaluation import classification_metrics, slice_metrics
from training.fitting import fit_local, fit_on_dask
from training.run_logging import RunContent, log_and_register, preflight
from training.study_storage import study_name_for
from training.tuning import TuningResult, tune

SLICE_COLUMNS = ("channel", "campaign_id", "device_class", "is_returning")
Engine = Literal["local", "dask"]
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
    baselines: dict[str, dict[str, float]]
    calibration: str
    tuning: dict[str, Any] | None
    fit_seconds: float
    slices: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (slices as records)."""
        return {
            "client_id": self.client_id,
            "dataset_id": self.dataset_id,
            "run_id": self.run_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "aliases": self.aliases,
            "metrics": self.metrics,
            "baselines": self.baselines,
            "calibration": self.calibration,
            "tuning": self.tuning,
            "fit_seconds": self.fit_seconds,
        }


def _check_options(trials: int | None, timeout: float | None, engine: str) -> None:
    if trials is not None and trials < 1:
        raise InvalidInput("--trials must be at least 1")
    if timeout is not None and timeout <= 0:
        raise InvalidInput("--timeout must be a positive number of seconds")
    if engine not in ("local", "dask"):
        raise InvalidInput(f"unknown engine {engine!r}: use local or dask")


def _tune(
    settings: Settings,
    dataset: Dataset,
    splits: Splits,
    trials: int | None,
    timeout: float | None,
    monotone: bool,
    progress: Progress,
) -> TuningResult:
    def report(summary: Any) -> None:
        best = "" if summary.best_value is None else f" (best validation log loss {summary.best_value:.5f})"
        progress(f"tuning: trial {summary.number} {str(summary.state).lower()}{best}")

    return tune(
        splits.X_train,
        splits.y_train,
        splits.X_valid,
        splits.y_valid,
        storage=settings.effective_optuna_storage,
        study_name=study_name_for(
            dataset.manifest.client_id, dataset.manifest.dataset_id, variant="monotone" if monotone else None
        ),
        n_trials=trials,
        timeout=timeout,
        progress=report,
        fixed_params={"monotone": True} if monotone else None,
    )


def _baselines(splits: Splits, progress: Progress) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Test metrics, fit seconds and test scores of the two baselines, fitted on the same splits."""
    metrics: dict[str, dict[str, float]] = {}
    scores: dict[str, np.ndarray] = {}
    for name, baseline in (
        ("logistic_regression", LogisticBaseline()),
        ("hist_gradient_boosting", HistGradientBoostingBaseline()),
    ):
        progress(f"fitting the {name.replace('_', ' ')} baseline")
        started = time.perf_counter()
        baseline.fit(splits.X_train, splits.y_train, eval_set=(splits.X_valid, splits.y_valid))
        seconds = time.perf_counter() - started
        scores[name] = baseline.predict_proba(splits.X_test)[:, 1]
        metrics[name] = {**classification_metrics(splits.y_test, scores[name]), "fit_seconds": seconds}
    return metrics, scores


def train_conversion_model(
    settings: Settings,
    client_id: str,
    dataset_id: str | None = None,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    engine: Engine = "local",
    dask_scheduler: str | None = None,
    monotone: bool = False,
    params: dict[str, Any] | None = None,
    baselines: bool = True,
    progress: Progress = lambda _msg: None,
) -> TrainingResult:
    """Train, evaluate, log and register a conversion model of ``client_id`` on one training set.

    ``trials``/``timeout`` tune with Optuna first (study in ``settings.effective_optuna_storage``, resumable);
    ``params`` fixes hyperparameters instead. ``engine="dask"`` fits on a Dask cluster (``dask_scheduler``,
    or a LocalCluster). Raises ``InvalidInput``/``NotReady``/``NotFound`` with the reason before fitting.
    """
    _check_options(trials, timeout, engine)
    progress("checking the MLflow tracking store")
    preflight(settings)
    progress("loading the training set")
    dataset = load_dataset(settings, client_id, dataset_id)
    check_dataset(dataset, client_id)
    splits = split_frames(dataset)

    tuning: TuningResult | None = None
    chosen = dict(params or {})
    if trials is not None or timeout is not None:
        tuning = _tune(settings, dataset, splits, trials, timeout, monotone, progress)
        chosen = {**tuning.best_params, **chosen}
    progress(f"fitting LightGBM on {len(splits.y_train):,} sessions ({engine})")
    if engine == "dask":
        fitted = fit_on_dask(chosen, dataset, splits, monotone=monotone, scheduler=dask_scheduler)
    else:
        fitted = fit_local(chosen, splits, monotone=monotone)
    p_test = fitted.calibrator.transform(fitted.p_test)
    metrics = {**classification_metrics(splits.y_test, p_test), "fit_seconds": fitted.fit_seconds}
    columns = [c for c in SLICE_COLUMNS if c in splits.X_test]
    slices = slice_metrics(splits.X_test, splits.y_test, p_test, columns)
    baseline_metrics, baseline_scores = _baselines(splits, progress) if baselines else ({}, {})

    progress("logging the run to MLflow")
    content = RunContent(
        dataset=dataset,
        model=fitted.model,
        calibrator=fitted.calibrator,
        engine=engine,
        monotone=monotone,
        metrics=metrics,
        slices=slices,
        baselines=baseline_metrics,
        test_scores={"lightgbm": p_test, **baseline_scores},
        y_test=splits.y_test,
        X_test=splits.X_test,
        tuning=tuning,
    )
    with warnings.catch_warnings():
        # MLflow's hints about integer columns and ambiguous local sources do not apply here
        warnings.simplefilter("ignore", UserWarning)
        registered = log_and_register(settings, client_id, content, progress)
    return TrainingResult(
        client_id=client_id,
        dataset_id=dataset.manifest.dataset_id,
        run_id=registered.run_id,
        model_name=registered.model_name,
        model_version=registered.version,
        aliases=registered.aliases,
        metrics=metrics,
        baselines=baseline_metrics,
        calibration=fitted.calibrator.method,
        tuning=tuning.summary() if tuning else None,
        fit_seconds=fitted.fit_seconds,
        slices=slices,
    )
