"""Hyperparameter tuning of the conversion model with Optuna: resumable, shareable studies in an RDB storage.

A study lives in an Optuna storage (``Settings.effective_optuna_storage``: SQLite under ``XMO_HOME`` by
default, or PostgreSQL; opened by ``training.study_storage``) under the name ``study_name_for(client_id,
dataset_id)``. :func:`tune` samples ``ConversionModel`` hyperparameters with a seeded multivariate TPE, fits
LightGBM on the train split with early stopping on the validation log loss, and prunes hopeless trials with a
median rule on the validation log loss reported every few boosting rounds.

* **Resumable**: ``new_trials`` runs that many more trials on whatever the study already holds (what
  ``study.optimize(n_trials=...)`` means to Optuna users, and what ``xmo train --trials`` means);
  ``n_trials`` instead is the target number of finished (complete or pruned) trials of the whole study, and
  calling :func:`tune` again with the same study runs only the ones still missing.
* **Shareable**: several processes (or machines, with PostgreSQL) may call :func:`tune` with the same
  storage and study name at once; they share the trials and stop once the study holds ``n_trials``
  finished trials (each worker may finish the one trial it is running, so the study can end with up to
  ``workers - 1`` extra trials).
* The first trial of a study evaluates ``ConversionModel``'s defaults, so the best result is never worse
  on the validation split than an untuned model.

Nothing personal is stored: trials hold hyperparameters, log losses and boosting-round counts only.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from core.database import sqlite_file
from core.errors import InvalidInput, NotReady
from models.conversion import ConversionModel
from training.study_storage import (
    STUDY_NAME_MAX,
    mask_storage_url,
    open_storage,
    setup_lock,
)

METRIC = "binary_logloss"
MAX_ESTIMATORS = 2000
REPORT_EVERY = 10
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# ConversionModel arguments the tuner sets itself (tuned, or from tune()'s own arguments)
_CONTROLLED = frozenset({"n_estimators", "n_jobs"})

# The hyperparameters search_space() samples, with the ConversionModel defaults (the first trial).
TUNED_PARAMS = (
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
    "min_split_gain",
    "cat_smooth",
)


def search_space(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """``ConversionModel`` keyword arguments sampled for ``trial`` (``n_estimators`` is set by the tuner)."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 15, 255, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 400, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "min_split_gain": trial.suggest_float("min_split_gain", 0.0, 1.0),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 50.0),
    }


def default_params() -> dict[str, Any]:
    """``ConversionModel``'s defaults for the tuned hyperparameters (inside :func:`search_space`)."""
    defaults = ConversionModel().get_params()
    return {name: defaults[name] for name in TUNED_PARAMS}


class LightGBMPruningCallback:
    """A LightGBM callback that reports the validation metric to an Optuna trial and prunes it.

    Every ``report_every`` boosting rounds it calls ``trial.report(value, step=rounds)`` with the
    ``metric`` of the first evaluation set other than the training data (or of ``valid_name``), then
    raises :class:`optuna.TrialPruned` when ``trial.should_prune()``. Steps are boosting rounds (1-based),
    so a pruner's ``n_warmup_steps`` counts rounds; every trial of a study must use the same
    ``report_every`` for the pruner to compare them at equal steps.
    """

    order = 20  # before lightgbm.early_stopping (30): a round that would prune is reported first

    def __init__(
        self,
        trial: optuna.Trial,
        metric: str = METRIC,
        *,
        valid_name: str | None = None,
        report_every: int = REPORT_EVERY,
    ) -> None:
        if report_every < 1:
            raise ValueError("report_every must be at least 1")
        self.trial = trial
        self.metric = metric
        self.valid_name = valid_name
        self.report_every = report_every

    def _value(self, results: Sequence[Sequence[Any]]) -> float | None:
        for entry in results:
            data_name, metric_name, value = entry[0], entry[1], entry[2]
            if metric_name != self.metric:
                continue
            if (self.valid_name is None and data_name != "training") or data_name == self.valid_name:
                return float(value)
        return None

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        """Report every ``report_every`` rounds; raise ``optuna.TrialPruned`` when the pruner says so."""
        rounds = env.iteration - env.begin_iteration + 1
        if rounds % self.report_every:
            return
        value = self._value(env.evaluation_result_list or [])
        if value is None:
            raise ValueError(
                f"the pruning callback needs the {self.metric!r} of a validation set; "
                "pass an evaluation set and that metric to LightGBM"
            )
        self.trial.report(value, step=rounds)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after {rounds} rounds ({self.metric} {value:.5f})")


@dataclass(frozen=True)
class TrialSummary:
    """One trial, as logged: no data, only hyperparameters and validation results.

    ``value`` is the trial's best validation log loss (for a pruned trial, the last one it reported; None
    for failed or unfinished trials); ``best_value`` the study's best loss once this trial finished (None
    while no trial has completed).
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    best_iteration: int | None
    duration_s: float | None
    baseline: bool = False
    best_value: float | None = None

    @classmethod
    def from_trial(cls, trial: FrozenTrial, best_value: float | None = None) -> TrialSummary:
        """The summary of an Optuna trial; ``best_value`` is the study's best loss once it finished."""
        duration = trial.duration
        best_iteration = trial.user_attrs.get("best_iteration")
        return cls(
            number=trial.number,
            state=trial.state.name,
            value=None if trial.value is None else float(trial.value),
            params=dict(trial.params),
            best_iteration=None if best_iteration is None else int(best_iteration),
            duration_s=None if duration is None else round(duration.total_seconds(), 3),
            baseline=bool(trial.user_attrs.get("baseline", False)),
            best_value=best_value,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "number": self.number,
            "state": self.state,
            "value": self.value,
            "params": self.params,
            "best_iteration": self.best_iteration,
            "duration_s": self.duration_s,
            "baseline": self.baseline,
            "best_value": self.best_value,
        }


def trial_counts(complete: int, pruned: int, failed: int = 0) -> str:
    """``"10 trials: 8 complete, 2 pruned"`` (failed ones only when there are some)."""
    total = complete + pruned + failed
    parts = [f"{complete} complete"] + [f"{n} {state}" for n, state in ((pruned, "pruned"), (failed, "failed")) if n]
    return f"{total} trial{'' if total == 1 else 's'}: {', '.join(parts)}"


@dataclass(frozen=True)
class StudyStart:
    """What a study held when :func:`tune` opened it, and how many trials this call will run.

    ``planned`` is None when only the timeout bounds the call.
    """

    study_name: str
    complete: int
    pruned: int
    failed: int
    planned: int | None
    timeout: float | None

    @property
    def resumed(self) -> bool:
        """Whether the study held trials before this call."""
        return self.complete + self.pruned + self.failed > 0

    def describe(self) -> str:
        """``"resumed study xmo-… with 10 trials: 8 complete, 2 pruned; running 4 more"`` or a new study's line."""
        if self.planned == 0:
            plan = "running none (it already holds the trials asked for)"
        elif self.planned is None:
            plan = f"running trials for up to {self.timeout:g} s"
        else:
            more = " more" if self.resumed else ""
            plan = f"running {self.planned}{more} trial{'' if self.planned == 1 else 's'}"
            if self.timeout is not None:
                plan += f" (at most {self.timeout:g} s)"
        if not self.resumed:
            return f"new study {self.study_name}; {plan}"
        counts = trial_counts(self.complete, self.pruned, self.failed)
        return f"resumed study {self.study_name} with {counts}; {plan}"


@dataclass(frozen=True)
class TuningResult:
    """The state of a study after :func:`tune`: the best ``ConversionModel`` kwargs and every trial.

    ``n_trials`` (complete trials only), ``n_pruned`` and ``n_failed`` count the whole study (all workers,
    all calls); ``trials_run`` counts the trials this call ran.
    """

    study_name: str
    storage: str
    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    n_trials: int
    n_pruned: int
    n_failed: int
    trials_run: int
    trials: tuple[TrialSummary, ...] = field(repr=False)

    def counts(self) -> str:
        """``"10 trials: 8 complete, 2 pruned"``: every trial of the study by state."""
        return trial_counts(self.n_trials, self.n_pruned, self.n_failed)

    def summary(self) -> dict[str, Any]:
        """A small JSON-ready dict for MLflow (e.g. ``mlflow.log_dict(result.summary(), "tuning.json")``)."""
        return {
            "study_name": self.study_name,
            "storage": self.storage,
            "objective": f"validation {METRIC} (minimize)",
            "best_value": self.best_value,
            "best_trial": self.best_trial,
            "best_params": self.best_params,
            "n_trials": self.n_trials,
            "n_pruned": self.n_pruned,
            "n_failed": self.n_failed,
            "trials_run": self.trials_run,
            "trials": [t.as_dict() for t in self.trials],
        }

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial: number, state, value, best_iteration, duration_s, baseline, ``param_<name>``."""
        rows = [
            {
                **{k: v for k, v in t.as_dict().items() if k != "params"},
                **{f"param_{name}": value for name, value in t.params.items()},
            }
            for t in self.trials
        ]
        columns = ["number", "state", "value", "best_iteration", "duration_s", "baseline", "best_value"]
        return pd.DataFrame(rows, columns=[*columns, *[f"param_{n}" for n in TUNED_PARAMS]])


# tuning -------------------------------------------------------------------------------------------------
@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna's INFO lines (one per trial) off for the block; the previous verbosity comes back after.

    The verbosity is process-wide, so other threads using Optuna during the block are quiet too.
    """
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _encoded_target(y: Any, name: str) -> np.ndarray:
    values = np.asarray(y).ravel()
    labels = np.unique(values)
    if len(labels) != 2:
        raise InvalidInput(
            f"tuning needs sessions with and without conversions in the {name} split; got {len(labels)} class(es)"
        )
    return np.searchsorted(labels, values).astype(np.int64)


def _check_inputs(
    X_train: pd.DataFrame, y_train: Any, X_valid: pd.DataFrame, y_valid: Any
) -> tuple[np.ndarray, np.ndarray]:
    for name, X, y in (("train", X_train, y_train), ("valid", X_valid, y_valid)):
        if not isinstance(X, pd.DataFrame):
            raise InvalidInput(f"X_{name} must be a pandas DataFrame")
        if len(X) != len(np.asarray(y).ravel()):
            raise InvalidInput(f"X_{name} has {len(X)} rows but y_{name} has {len(np.asarray(y).ravel())}")
    if list(X_train.columns) != list(X_valid.columns):
        raise InvalidInput("X_train and X_valid must have the same columns in the same order")
    unusable = [
        str(column)
        for column, dtype in X_train.dtypes.items()
        if not (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(dtype))
    ]
    if unusable:
        raise InvalidInput(f"columns must be numeric, boolean or category for LightGBM: {unusable}")
    train_labels, valid_labels = np.unique(np.asarray(y_train)), np.unique(np.asarray(y_valid))
    if len(train_labels) == 2 and len(valid_labels) == 2 and not np.array_equal(train_labels, valid_labels):
        raise InvalidInput(f"y_train has the classes {train_labels.tolist()} but y_valid {valid_labels.tolist()}")
    return _encoded_target(y_train, "train"), _encoded_target(y_valid, "valid")


def _check_budget(n_trials: int | None, new_trials: int | None, timeout: float | None, n_jobs_per_fit: int) -> None:
    if n_trials is not None and new_trials is not None:
        raise InvalidInput("give n_trials (the study's total) or new_trials (trials to run now), not both")
    if n_trials is None and new_trials is None and timeout is None:
        raise InvalidInput("give n_trials, new_trials, timeout or a count and a timeout: tuning needs a budget")
    for name, value in (("n_trials", n_trials), ("new_trials", new_trials)):
        if value is not None and value < 1:
            raise InvalidInput(f"{name} must be at least 1, got {value}")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout}")
    if n_jobs_per_fit < 1:
        raise InvalidInput(f"n_jobs_per_fit must be at least 1, got {n_jobs_per_fit}")


def default_pruner() -> optuna.pruners.BasePruner:
    """Median pruning after 5 complete trials and 100 boosting rounds (steps are rounds).

    A trial stops when its best validation loss so far is worse than the median of earlier trials at the
    same round. Chosen over Hyperband because trials end at different rounds (early stopping) and studies
    are small (tens of trials): Hyperband's brackets need a fixed resource budget and many trials per
    bracket. The 100-round warm-up keeps slow learning rates from being judged on their first trees.
    """
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=100)


def tune(
    X_train: pd.DataFrame,
    y_train: Any,
    X_valid: pd.DataFrame,
    y_valid: Any,
    *,
    storage: str,
    study_name: str,
    n_trials: int | None,
    timeout: float | None,
    new_trials: int | None = None,
    seed: int = 0,
    n_jobs_per_fit: int = 2,
    progress: Callable[[TrialSummary], None] | None = None,
    on_start: Callable[[StudyStart], None] | None = None,
    fixed_params: Mapping[str, Any] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    max_estimators: int = MAX_ESTIMATORS,
    report_every: int = REPORT_EVERY,
) -> TuningResult:
    """Tune ``ConversionModel`` on ``X_train``/``y_train`` against the validation log loss on ``X_valid``.

    Runs trials of the study ``study_name`` in ``storage`` (an SQLAlchemy URL; study and tables are created
    if needed) until the study holds ``n_trials`` finished (complete or pruned) trials — counting those of
    earlier calls and of other processes working on the same study — or until ``timeout`` seconds have
    passed (checked between trials), whichever comes first; ``n_trials=None`` runs until the timeout.
    ``new_trials`` (instead of ``n_trials``) runs that many trials in this call, however many the study holds.

    Each trial fits LightGBM with :func:`search_space`'s parameters plus ``fixed_params`` (other
    ``ConversionModel`` arguments, e.g. ``{"monotone": True}``; ``early_stopping_rounds`` and
    ``random_state`` default to ``ConversionModel``'s), at most ``max_estimators`` rounds with early
    stopping on the validation log loss and ``n_jobs_per_fit`` threads, and reports the loss to ``pruner``
    (default :func:`default_pruner`) every ``report_every`` rounds. A study remembers ``fixed_params``,
    ``max_estimators`` and ``report_every``; continuing it with other values is refused (use another study
    name, e.g. ``study_name_for(..., variant=...)``). ``seed`` seeds the TPE sampler (mixed with the number
    of trials already in the study, so a resumed study samples new points); processes sharing a study at
    the same time should pass different seeds. ``on_start`` gets what the study held and what this call
    plans (before the first trial); ``progress`` gets a summary of every trial this call finishes. Trials
    where LightGBM fails are recorded as failed and skipped.

    ``best_params`` of the result are complete ``ConversionModel`` arguments (all but ``n_jobs``): the
    tuned ones, ``fixed_params``, ``early_stopping_rounds``, ``random_state`` and ``n_estimators`` = the
    best trial's early-stopped round count, so refitting on the same split reproduces the best trial.
    Optuna's INFO logging is off during the call.

    Raises ``InvalidInput`` for bad arguments or data, and ``NotReady`` when the storage cannot be reached
    or the study has no complete trial at the end.
    """
    _check_budget(n_trials, new_trials, timeout, n_jobs_per_fit)
    if not study_name or len(study_name) > STUDY_NAME_MAX:
        raise InvalidInput(f"study_name must have 1 to {STUDY_NAME_MAX} characters")
    if max_estimators < 1 or report_every < 1:
        raise InvalidInput("max_estimators and report_every must be at least 1")
    defaults = ConversionModel().get_params()
    model_fixed = {
        "early_stopping_rounds": defaults["early_stopping_rounds"],
        "random_state": defaults["random_state"],
        **_check_fixed_params(fixed_params),
    }
    fit_fixed = {**model_fixed, "n_estimators": max_estimators, "n_jobs": n_jobs_per_fit}
    rounds = int(model_fixed["early_stopping_rounds"])
    if rounds < 1:
        raise InvalidInput("early_stopping_rounds must be at least 1: trials stop early on the validation split")
    setup = {
        "fixed_params": dict(sorted(model_fixed.items())),
        "max_estimators": max_estimators,
        "report_every": report_every,
    }
    y_train_enc, y_valid_enc = _check_inputs(X_train, y_train, X_valid, y_valid)

    def objective(trial: optuna.Trial) -> float:
        # ConversionModel.fit takes no extra LightGBM callbacks, so the trial fits the LightGBM estimator
        # that ConversionModel.fit builds, with the same parameter mapping, plus the pruning callback.
        lgbm_params = ConversionModel(**search_space(trial), **fit_fixed).lgbm_params(X_train.columns)
        classifier = lgb.LGBMClassifier(**lgbm_params)
        classifier.fit(
            X_train,
            y_train_enc,
            eval_X=(X_valid,),
            eval_y=(y_valid_enc,),
            eval_metric=METRIC,
            callbacks=[
                lgb.early_stopping(rounds, verbose=False),
                LightGBMPruningCallback(trial, METRIC, report_every=report_every),
            ],
        )
        trial.set_user_attr("best_iteration", int(classifier.best_iteration_ or max_estimators))
        return float(next(iter(classifier.best_score_.values()))[METRIC])

    shown = mask_storage_url(storage)
    with _quiet_optuna(), open_storage(storage) as rdb:
        with setup_lock(sqlite_file(rdb.url)):
            study = optuna.create_study(
                storage=rdb,
                study_name=study_name,
                pruner=pruner or default_pruner(),
                direction="minimize",
                load_if_exists=True,
            )
            _check_study(study, setup, shown)
            existing = study.get_trials(deepcopy=False)
            finished = sum(t.state in _FINISHED for t in existing)
            remaining = new_trials if n_trials is None else max(n_trials - finished, 0)
            if remaining is None or remaining > 0:
                study.enqueue_trial(default_params(), user_attrs={"baseline": True}, skip_if_exists=True)
        sampler_seed = int(np.random.SeedSequence([seed, len(existing)]).generate_state(1)[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # optuna 4.x flags both options
            study.sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True, constant_liar=True)
        if on_start is not None:
            states = [t.state for t in existing]
            on_start(
                StudyStart(
                    study_name,
                    complete=states.count(TrialState.COMPLETE),
                    pruned=states.count(TrialState.PRUNED),
                    failed=states.count(TrialState.FAIL),
                    planned=remaining,
                    timeout=timeout,
                )
            )
        ran: list[int] = []
        if remaining is None or remaining > 0:

            def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
                ran.append(trial.number)
                if progress is not None:
                    progress(TrialSummary.from_trial(trial, _best_value(study)))

            callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = [after_trial]
            if n_trials is not None:
                callbacks.append(optuna.study.MaxTrialsCallback(n_trials, states=_FINISHED))
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=timeout,
                catch=(lgb.basic.LightGBMError,),
                callbacks=callbacks,
            )
        trials = study.get_trials(deepcopy=False)
        return _result(study_name, shown, trials, len(ran), model_fixed, max_estimators)


def _check_fixed_params(fixed_params: Mapping[str, Any] | None) -> dict[str, Any]:
    extra = dict(fixed_params or {})
    known = set(ConversionModel().get_params())
    unknown = sorted(set(extra) - known)
    if unknown:
        raise InvalidInput(f"fixed_params has arguments ConversionModel does not take: {unknown}")
    clash = sorted(set(extra) & (set(TUNED_PARAMS) | _CONTROLLED))
    if clash:
        raise InvalidInput(f"fixed_params cannot set {clash}: the tuner sets them")
    return extra


def _check_study(study: optuna.Study, setup: dict[str, Any], shown: str) -> None:
    """Refuse to mix trials run with other fixed settings into one study; record them on a new one."""
    if study.directions != [optuna.study.StudyDirection.MINIMIZE]:
        raise InvalidInput(f"the study {study.study_name!r} in {shown} exists and does not minimize one loss")
    recorded = study.user_attrs.get("xmo_setup")
    if recorded is None:
        study.set_user_attr("xmo_setup", setup)
    elif recorded != setup:
        raise InvalidInput(
            f"the study {study.study_name!r} in {shown} was run with {recorded}, not {setup}; "
            "use another study name to tune with these settings"
        )


def _best_value(study: optuna.Study) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no complete trial yet
        return None


def _result(
    study_name: str,
    shown: str,
    trials: Sequence[FrozenTrial],
    trials_run: int,
    model_fixed: Mapping[str, Any],
    max_estimators: int,
) -> TuningResult:
    counts = {state: sum(t.state == state for t in trials) for state in TrialState}
    summaries: list[TrialSummary] = []
    best: tuple[float, FrozenTrial] | None = None
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state == TrialState.COMPLETE and trial.value is not None and (best is None or trial.value < best[0]):
            best = (float(trial.value), trial)
        summaries.append(TrialSummary.from_trial(trial, None if best is None else best[0]))
    if best is None:
        raise NotReady(
            f"no trial of the study {study_name!r} in {shown} completed "
            f"({counts[TrialState.PRUNED]} pruned, {counts[TrialState.FAIL]} failed); run more trials"
        )
    best_value, best_trial = best
    best_params = {
        **best_trial.params,
        **model_fixed,
        # refitting on the same split reproduces the best trial; early stopping stays on as a guard
        "n_estimators": int(best_trial.user_attrs.get("best_iteration", max_estimators)),
    }
    return TuningResult(
        study_name=study_name,
        storage=shown,
        best_params=best_params,
        best_value=best_value,
        best_trial=best_trial.number,
        n_trials=counts[TrialState.COMPLETE],
        n_pruned=counts[TrialState.PRUNED],
        n_failed=counts[TrialState.FAIL],
        trials_run=trials_run,
        trials=tuple(summaries),
    )
