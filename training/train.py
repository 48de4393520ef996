"""The training job: one training set → a tuned, calibrated LightGBM model, compared with baselines, logged to
MLflow and registered as a new version (``champion`` for the first, ``challenger`` after that).

Order of work: check MLflow is reachable and the training set is usable (before any fitting), tune (optional),
fit, calibrate on the validation split, evaluate on the test split (overall and per slice, baselines alongside),
then log and register. A version is registered only once its run logged everything; if the alias cannot be
set, the version is deleted again, so a failure never leaves a half-registered version or moves the champion.
A job whose model is the very model the ``champion`` or ``challenger`` already is (same training set,
hyperparameters and engine, checked before fitting; or the same trees and calibrator, checked after:
``training.identity``) registers nothing unless ``register_anyway``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from core.errors import InvalidInput
from core.settings import Settings
from features.dataset import Dataset, load_dataset
from models.baselines import HistGradientBoostingBaseline, LogisticBaseline
from models.registry import conversion_model_name
from training.checks import Splits, check_dataset, split_frames
from training.evaluation import classification_metrics, slice_metrics
from training.fitting import fit_local, fit_on_dask
from training.identity import SameModel, identical_version, model_content_hash, model_fingerprint
from training.run_logging import RunContent, log_and_register, preflight, quiet_mlflow
from training.study_storage import study_name_for
from training.tuning import StudyStart, TrialSummary, TuningResult, tune

SLICE_COLUMNS = ("channel", "campaign_id", "device_class", "is_returning")
Engine = Literal["local", "dask"]
Progress = Callable[[str], None]


@dataclass
class TrainingResult:
    """What a training run produced.

    ``registered`` is False when the job would have fitted the model a registered version already is: then
    ``model_version``, ``aliases``, ``run_id`` and ``metrics`` are that version's, and ``identical_to`` its alias.
    """

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
    registered: bool = True
    identical_to: str | None = None

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
            "registered": self.registered,
            "identical_to": self.identical_to,
        }

    def not_registered_message(self) -> str:
        """Why no version was registered (empty when one was)."""
        if self.registered:
            return ""
        return (
            f"the model is identical to the {self.identical_to} v{self.model_version}: "
            "not registered (use --register-anyway to register it)"
        )


def _check_options(trials: int | None, timeout: float | None, engine: str) -> None:
    if trials is not None and trials < 1:
        raise InvalidInput("--trials must be at least 1")
    if timeout is not None and timeout <= 0:
        raise InvalidInput("--timeout must be a positive number of seconds")
    if engine not in ("local", "dask"):
        raise InvalidInput(f"unknown engine {engine!r}: use local or dask")


def trial_line(index: int, planned: int | None, summary: TrialSummary) -> str:
    """``"trial 3/4 complete, log loss 0.41234, best so far 0.41200"`` (``index`` counts this run's trials)."""
    loss = "" if summary.value is None else f", log loss {summary.value:.5f}"
    best = "" if summary.best_value is None else f", best so far {summary.best_value:.5f}"
    return f"{_counter(index, planned)} {summary.state.lower()}{loss}{best}"


def _counter(index: int, planned: int | None) -> str:
    return f"trial {index}/{planned}" if planned else f"trial {index}"


@dataclass
class _TrialReporter:
    """Turns the tuner's callbacks into lines: the study line, one per finished trial, and the running one."""

    progress: Progress
    trial_progress: Progress
    notice: Progress
    planned: int | None = None
    done: int = 0
    best: float | None = None

    def started(self, start: StudyStart) -> None:
        self.planned = start.planned
        self.notice(f"tuning: {start.describe()}")
        self._running()

    def finished(self, summary: TrialSummary) -> None:
        self.done += 1
        self.best = summary.best_value
        self.trial_progress(f"tuning: {trial_line(self.done, self.planned, summary)}")
        if self.planned is None or self.done < self.planned:
            self._running()

    def _running(self) -> None:
        best = "" if self.best is None else f", best so far {self.best:.5f}"
        self.progress(f"tuning: {_counter(self.done + 1, self.planned)} running{best}")


def _tune(
    settings: Settings,
    dataset: Dataset,
    splits: Splits,
    trials: int | None,
    timeout: float | None,
    monotone: bool,
    reporter: _TrialReporter,
) -> TuningResult:
    return tune(
        splits.X_train,
        splits.y_train,
        splits.X_valid,
        splits.y_valid,
        storage=settings.effective_optuna_storage,
        study_name=study_name_for(
            dataset.manifest.client_id, dataset.manifest.dataset_id, variant="monotone" if monotone else None
        ),
        n_trials=None,
        new_trials=trials,
        timeout=timeout,
        progress=reporter.finished,
        on_start=reporter.started,
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
    register_anyway: bool = False,
    progress: Progress = lambda _msg: None,
    trial_progress: Progress | None = None,
    notice: Progress | None = None,
) -> TrainingResult:
    """Train, evaluate, log and register a conversion model of ``client_id`` on one training set.

    ``trials``/``timeout`` tune with Optuna first: ``trials`` more trials (and/or ``timeout`` seconds) on the
    training set's study in ``settings.effective_optuna_storage``, which keeps the trials of earlier runs;
    ``params`` fixes hyperparameters instead. ``engine="dask"`` fits on a Dask cluster (``dask_scheduler``,
    or a LocalCluster). When the champion or challenger is the model this job fits (same settings: nothing is
    fitted; or the same trees and calibrator), nothing is registered (``registered=False``) unless
    ``register_anyway``. Raises ``InvalidInput``/``NotReady``/``NotFound`` with the reason before fitting.

    ``progress`` hears each step (passing status), ``trial_progress`` each finished tuning trial and
    ``notice`` lines worth keeping (which study was resumed); both default to ``progress``.
    """
    _check_options(trials, timeout, engine)
    with quiet_mlflow():
        return _train(
            settings,
            client_id,
            dataset_id,
            trials=trials,
            timeout=timeout,
            engine=engine,
            dask_scheduler=dask_scheduler,
            monotone=monotone,
            params=params,
            baselines=baselines,
            register_anyway=register_anyway,
            progress=progress,
            trial_progress=trial_progress or progress,
            notice=notice or progress,
        )


def _train(
    settings: Settings,
    client_id: str,
    dataset_id: str | None,
    *,
    trials: int | None,
    timeout: float | None,
    engine: Engine,
    dask_scheduler: str | None,
    monotone: bool,
    params: dict[str, Any] | None,
    baselines: bool,
    register_anyway: bool,
    progress: Progress,
    trial_progress: Progress,
    notice: Progress,
) -> TrainingResult:
    progress("checking the MLflow tracking store")
    mlflow_client = preflight(settings)
    progress("loading the training set")
    dataset = load_dataset(settings, client_id, dataset_id)
    check_dataset(dataset, client_id)
    splits = split_frames(dataset)

    tuning: TuningResult | None = None
    chosen = dict(params or {})
    if trials is not None or timeout is not None:
        reporter = _TrialReporter(progress, trial_progress, notice)
        tuning = _tune(settings, dataset, splits, trials, timeout, monotone, reporter)
        chosen = {**tuning.best_params, **chosen}
    fingerprint = model_fingerprint(dataset.manifest, chosen, engine=engine, monotone=monotone)
    name = conversion_model_name(client_id)
    same = identical_version(mlflow_client, name, fingerprint=fingerprint)
    if same is not None and not register_anyway:
        return _unregistered(mlflow_client, client_id, dataset, same, tuning)
    progress(f"fitting LightGBM on {len(splits.y_train):,} sessions ({engine})")
    if engine == "dask":
        fitted = fit_on_dask(chosen, dataset, splits, monotone=monotone, scheduler=dask_scheduler)
    else:
        fitted = fit_local(chosen, splits, monotone=monotone)
    content_hash = model_content_hash(fitted.model, fitted.calibrator)
    same = identical_version(mlflow_client, name, content=content_hash)
    if same is not None and not register_anyway:
        return _unregistered(mlflow_client, client_id, dataset, same, tuning)
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
        fingerprint=fingerprint,
        content_hash=content_hash,
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


def _unregistered(
    client: MlflowClient, client_id: str, dataset: Dataset, same: SameModel, tuning: TuningResult | None
) -> TrainingResult:
    """The result of a job that registered nothing: the identical version's run and test metrics."""
    run = client.get_run(same.run_id) if same.run_id else None
    logged = run.data.metrics if run is not None else {}
    return TrainingResult(
        client_id=client_id,
        dataset_id=dataset.manifest.dataset_id,
        run_id=same.run_id or "",
        model_name=conversion_model_name(client_id),
        model_version=same.version,
        aliases=[same.alias],
        metrics={k.removeprefix("test_"): v for k, v in logged.items() if k.startswith("test_")},
        baselines={},
        calibration=run.data.params.get("calibration", "") if run is not None else "",
        tuning=tuning.summary() if tuning else None,
        fit_seconds=0.0,
        slices=pd.DataFrame(),
        registered=False,
        identical_to=same.alias,
    )
