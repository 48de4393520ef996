"""Optuna tuning of the conversion model: quality, pruning, resuming, sharing a study, storages, bad input."""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from sklearn.metrics import log_loss

from core.errors import InvalidInput, NotReady
from core.settings import Settings
from models.conversion import ConversionModel
from training.study_storage import mask_storage_url, open_storage, study_name_for
from training.tuning import (
    TUNED_PARAMS,
    LightGBMPruningCallback,
    StudyStart,
    TrialSummary,
    default_params,
    search_space,
    trial_counts,
    tune,
)

REPO = Path(__file__).resolve().parents[2]
FAST: dict[str, Any] = {"n_jobs_per_fit": 1, "max_estimators": 200}
Data = tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Sessions with a learnable conversion signal (a categorical, counts, a duration, noise)."""
    rng = np.random.default_rng(seed)
    device = pd.Categorical(rng.choice(["desktop", "mobile", "tablet"], n), categories=["desktop", "mobile", "tablet"])
    pageviews = rng.poisson(3, n).astype(float)
    duration = rng.exponential(60, n)
    noise = rng.normal(size=(n, 2))
    logit = (
        -2.5
        + 0.35 * pageviews
        + np.where(device == "mobile", -0.8, 0.4)
        + 0.8 * np.tanh(duration / 60 - 1)
        + 0.5 * noise[:, 0] * (pageviews > 3)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {"device_class": device, "pageviews": pageviews, "duration_s": duration, "n0": noise[:, 0], "n1": noise[:, 1]}
    )
    return X, y


@pytest.fixture(scope="module")
def data() -> Data:
    X, y = synthetic(2000, 1)
    X_valid, y_valid = synthetic(1000, 2)
    return X, y, X_valid, y_valid


def unique_study() -> str:
    return f"test-{secrets.token_hex(6)}"


@contextmanager
def study_cleanup(storage: str, study_name: str) -> Iterator[None]:
    """Delete the study afterwards (a shared PostgreSQL server keeps nothing of the test)."""
    try:
        yield
    finally:
        with open_storage(storage) as rdb:
            if study_name in optuna.get_all_study_names(rdb):
                optuna.delete_study(study_name=study_name, storage=rdb)


def load_trials(storage: str, study_name: str) -> list[optuna.trial.FrozenTrial]:
    with open_storage(storage) as rdb:
        return optuna.load_study(study_name=study_name, storage=rdb).get_trials(deepcopy=True)


# search space, names ------------------------------------------------------------------------------------
def test_search_space_contains_the_defaults_and_gives_conversion_model_arguments() -> None:
    params = search_space(optuna.trial.FixedTrial(default_params()))
    assert params == default_params()
    assert set(params) == set(TUNED_PARAMS)
    ConversionModel(**params)  # every name is a ConversionModel argument

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        sampled = search_space(study.ask())
        assert 0.01 <= sampled["learning_rate"] <= 0.2
        assert 15 <= sampled["num_leaves"] <= 255
        assert 10 <= sampled["min_child_samples"] <= 400
        assert 0.5 <= sampled["subsample"] <= 1 and 0.5 <= sampled["colsample_bytree"] <= 1
        assert 1e-3 <= sampled["reg_lambda"] <= 30 and 0 <= sampled["min_split_gain"] <= 1


def test_study_names_and_masked_storage() -> None:
    assert study_name_for("acme-shop", "20240501T101112123456Z-3f9a1c") == "xmo-acme-shop-20240501T101112123456Z-3f9a1c"
    assert study_name_for("acme", "20240501T101112123456Z-3f9a1c", "monotone").endswith("-monotone")
    for client, dataset, variant in (("Acme Shop", "d1", None), ("acme", "../etc", None), ("acme", "d1", "Bad!")):
        with pytest.raises(InvalidInput):
            study_name_for(client, dataset, variant)
    masked = mask_storage_url("postgresql+psycopg://xmo:s3cret@db.internal:5432/optuna")
    assert "s3cret" not in masked and "***" in masked and "db.internal:5432" in masked
    assert mask_storage_url("sqlite:////tmp/x/optuna.db") == "sqlite:////tmp/x/optuna.db"


# tuning -------------------------------------------------------------------------------------------------
def test_tuning_is_not_worse_than_the_default_model_and_its_params_reproduce_it(data: Data, settings: Settings) -> None:
    X, y, X_valid, y_valid = data
    default = ConversionModel(n_jobs=1).fit(X, y, eval_set=(X_valid, y_valid))
    default_loss = log_loss(y_valid, default.predict_proba(X_valid)[:, 1])
    seen: list[TrialSummary] = []

    result = tune(
        X,
        y,
        X_valid,
        y_valid,
        storage=settings.effective_optuna_storage,
        study_name=study_name_for("acme", "20240501T101112123456Z-3f9a1c"),
        n_trials=6,
        timeout=None,
        progress=seen.append,
        **FAST,
    )

    assert (settings.home / "optuna.db").is_file()
    assert result.best_value <= default_loss + 1e-6
    assert result.n_trials + result.n_pruned == 6 == result.trials_run and result.n_failed == 0
    assert [s.number for s in seen] == list(range(6))
    assert seen[0].baseline and seen[0].params == default_params()
    best_so_far = [s.best_value for s in seen if s.best_value is not None]
    assert best_so_far == sorted(best_so_far, reverse=True) and best_so_far[-1] == result.best_value

    refit = ConversionModel(**result.best_params, n_jobs=1).fit(X, y, eval_set=(X_valid, y_valid))
    assert refit.best_iteration_ == result.best_params["n_estimators"]
    assert log_loss(y_valid, refit.predict_proba(X_valid)[:, 1]) == pytest.approx(result.best_value, rel=1e-6)

    summary = json.loads(json.dumps(result.summary(), allow_nan=False))
    assert summary["best_value"] == result.best_value and len(summary["trials"]) == 6
    assert {"number", "state", "value", "params", "duration_s", "best_iteration"} <= set(summary["trials"][0])
    frame = result.trials_frame()
    assert len(frame) == 6 and {"state", "value", "param_learning_rate"} <= set(frame.columns)


class PruneOddTrials(optuna.pruners.BasePruner):
    """Prunes every odd-numbered trial at its first report."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number % 2 == 1


def test_trials_are_pruned_through_the_lightgbm_callback(data: Data, settings: Settings) -> None:
    storage, name = settings.effective_optuna_storage, unique_study()
    result = tune(*data, storage=storage, study_name=name, n_trials=6, timeout=None, pruner=PruneOddTrials(), **FAST)
    assert result.n_pruned == 3 and result.n_trials == 3
    trials = load_trials(storage, name)
    for trial in trials:
        if trial.state == TrialState.PRUNED:
            assert list(trial.intermediate_values) == [10]  # reported after 10 rounds, then stopped
        else:
            steps = list(trial.intermediate_values)
            assert steps[:3] == [10, 20, 30] and all(step % 10 == 0 for step in steps)
            assert trial.user_attrs["best_iteration"] <= max(steps)


def test_the_callback_reports_the_validation_metric_and_raises_trial_pruned() -> None:
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.5))
    trial = study.ask()
    callback = LightGBMPruningCallback(trial, report_every=5)

    def env(iteration: int, results: list[tuple[str, str, float, bool]]) -> lgb.callback.CallbackEnv:
        return lgb.callback.CallbackEnv(None, {}, iteration, 0, 100, results)  # type: ignore[arg-type]

    both = [("training", "binary_logloss", 0.1, False), ("valid_0", "binary_logloss", 0.4, False)]
    callback(env(3, both))  # round 4: not a reporting round
    callback(env(4, both))
    assert study.trials[0].intermediate_values == {5: 0.4}
    with pytest.raises(optuna.TrialPruned):
        callback(env(9, [("training", "binary_logloss", 0.1, False), ("valid_0", "binary_logloss", 0.6, False)]))
    with pytest.raises(ValueError, match="validation set"):
        callback(env(14, [("training", "binary_logloss", 0.1, False)]))


def test_a_timeout_alone_bounds_the_run(data: Data, settings: Settings) -> None:
    started = time.monotonic()
    result = tune(
        *data, storage=settings.effective_optuna_storage, study_name=unique_study(), n_trials=None, timeout=0.5, **FAST
    )
    assert result.trials_run >= 1 and result.n_trials >= 1
    assert time.monotonic() - started < 20


def test_resuming_a_study_runs_only_the_missing_trials(data: Data, database_url: str) -> None:
    name = unique_study()
    with study_cleanup(database_url, name):
        first = tune(*data, storage=database_url, study_name=name, n_trials=3, timeout=None, **FAST)
        assert first.trials_run == 3 and first.n_trials + first.n_pruned == 3

        second = tune(*data, storage=database_url, study_name=name, n_trials=5, timeout=None, **FAST)
        assert second.trials_run == 2 and second.n_trials + second.n_pruned == 5
        assert second.best_value <= first.best_value
        assert sum(t.baseline for t in second.trials) == 1
        assert len({json.dumps(t.params, sort_keys=True) for t in second.trials}) == 5  # no repeated points

        third = tune(*data, storage=database_url, study_name=name, n_trials=5, timeout=None, **FAST)
        assert third.trials_run == 0 and third.best_value == second.best_value
        assert third.best_params == second.best_params

        with pytest.raises(InvalidInput, match="another study name"):
            tune(*data, storage=database_url, study_name=name, n_trials=6, timeout=None, n_jobs_per_fit=1)
        assert len(load_trials(database_url, name)) == 5


def test_new_trials_add_to_the_study_and_the_start_says_what_was_resumed(data: Data, settings: Settings) -> None:
    storage, name = settings.effective_optuna_storage, unique_study()
    starts: list[StudyStart] = []
    twice = {"storage": storage, "study_name": name, "n_trials": None, "new_trials": 2, "timeout": None, **FAST}
    first = tune(*data, on_start=starts.append, **twice)
    second = tune(*data, on_start=starts.append, **twice)
    assert (first.trials_run, second.trials_run) == (2, 2) and len(second.trials) == 4  # Optuna's n_trials meaning
    assert [s.describe() for s in starts] == [
        f"new study {name}; running 2 trials",
        f"resumed study {name} with 2 trials: 2 complete; running 2 more trials",
    ]
    assert second.counts() == "4 trials: 4 complete" and second.summary()["trials_run"] == 2


def test_counts_and_plans_read_as_people_say_them() -> None:
    assert trial_counts(8, 2) == "10 trials: 8 complete, 2 pruned"
    assert trial_counts(1, 0, 1) == "2 trials: 1 complete, 1 failed"
    resumed = StudyStart("xmo-a-d", complete=8, pruned=2, failed=0, planned=1, timeout=60.0)
    assert (
        resumed.describe()
        == "resumed study xmo-a-d with 10 trials: 8 complete, 2 pruned; running 1 more trial (at most 60 s)"
    )
    assert (
        StudyStart("s", 0, 0, 0, planned=None, timeout=30.0).describe() == "new study s; running trials for up to 30 s"
    )
    assert "running none" in StudyStart("s", 3, 0, 0, planned=0, timeout=None).describe()


WORKER = """
import json, sys, time
from pathlib import Path
import pandas as pd
from training.tuning import tune

folder, storage, name, index = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
train, valid = pd.read_parquet(folder / "train.parquet"), pd.read_parquet(folder / "valid.parquet")
(folder / f"ready-{index}").touch()
deadline = time.monotonic() + 120
while not (folder / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.01)
result = tune(
    train.drop(columns="y"), train["y"], valid.drop(columns="y"), valid["y"],
    storage=storage, study_name=name, n_trials=8, timeout=None, seed=index, n_jobs_per_fit=1, max_estimators=200,
)
print(json.dumps({"trials_run": result.trials_run, "failed": result.n_failed}))
"""


def test_two_processes_share_one_sqlite_study(data: Data, settings: Settings, tmp_path: Path) -> None:
    X, y, X_valid, y_valid = data
    X.assign(y=y).to_parquet(tmp_path / "train.parquet")
    X_valid.assign(y=y_valid).to_parquet(tmp_path / "valid.parquet")
    storage, name = settings.effective_optuna_storage, unique_study()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), storage, name, str(index)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in (1, 2)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-{i}").exists() for i in (1, 2)):
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers), "workers did not start"
            time.sleep(0.02)
        (tmp_path / "go").touch()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for worker, (_stdout, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
        assert "database is locked" not in stderr
    reports = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]

    trials = load_trials(storage, name)
    states = [t.state for t in trials]
    finished = sum(state in (TrialState.COMPLETE, TrialState.PRUNED) for state in states)
    assert finished == len(trials) and 8 <= finished <= 9  # each worker may finish the trial it had started
    assert sum(r["trials_run"] for r in reports) == len(trials)
    assert all(r["trials_run"] >= 1 and r["failed"] == 0 for r in reports)
    assert sum(bool(t.user_attrs.get("baseline")) for t in trials) == 1


# bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": 0, "timeout": None}, "n_trials"),
        ({"n_trials": -3, "timeout": 10.0}, "n_trials"),
        ({"n_trials": None, "timeout": None}, "budget"),
        ({"n_trials": 3, "new_trials": 2, "timeout": None}, "not both"),
        ({"n_trials": None, "new_trials": 0, "timeout": None}, "new_trials"),
        ({"n_trials": None, "timeout": 0.0}, "timeout"),
        ({"n_trials": 3, "timeout": -1.0}, "timeout"),
        ({"n_trials": 3, "timeout": math.inf}, "timeout"),
        ({"n_trials": 3, "timeout": None, "n_jobs_per_fit": 0}, "n_jobs_per_fit"),
        ({"n_trials": 3, "timeout": None, "study_name": ""}, "study_name"),
        ({"n_trials": 3, "timeout": None, "fixed_params": {"learning_rate": 0.1}}, "tuner sets"),
        ({"n_trials": 3, "timeout": None, "fixed_params": {"max_depth": 4}}, "does not take"),
        ({"n_trials": 3, "timeout": None, "storage": "not a url"}, "storage URL"),
    ],
)
def test_bad_arguments_are_invalid_input(data: Data, tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"storage": f"sqlite:///{tmp_path / 'optuna.db'}", "study_name": "s", **kwargs}
    with pytest.raises(InvalidInput, match=message):
        tune(*data, **arguments)


def test_bad_data_is_invalid_input(data: Data, tmp_path: Path) -> None:
    X, y, X_valid, y_valid = data
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with pytest.raises(InvalidInput, match="class"):
        tune(X, np.zeros_like(y), X_valid, y_valid, storage=storage, study_name="s", n_trials=1, timeout=None)
    with pytest.raises(InvalidInput, match="columns"):
        tune(X, y, X_valid[["n1", "n0"]], y_valid, storage=storage, study_name="s", n_trials=1, timeout=None)
    with pytest.raises(InvalidInput, match="rows"):
        tune(X, y[:-1], X_valid, y_valid, storage=storage, study_name="s", n_trials=1, timeout=None)
    with pytest.raises(InvalidInput, match="numeric"):
        tune(
            X.astype({"device_class": str}),
            y,
            X_valid,
            y_valid,
            storage=storage,
            study_name="s",
            n_trials=1,
            timeout=None,
        )
    assert not (tmp_path / "optuna.db").exists()  # refused before touching the storage


def test_an_unreachable_storage_is_not_ready_quickly_with_the_password_masked(data: Data) -> None:
    storage = "postgresql+psycopg://xmo:s3cret-pass@127.0.0.1:9/optuna"
    started = time.monotonic()
    with pytest.raises(NotReady) as caught:
        tune(*data, storage=storage, study_name="s", n_trials=1, timeout=None)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert "127.0.0.1:9" in message and "***" in message and "s3cret" not in message
