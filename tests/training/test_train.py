"""The training job end to end: a complete MLflow run, a registered pyfunc that scores raw sessions, the
promotion gate, tuning that resumes, no second copy of the same model, and clear errors that leave the registry
as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from features.dataset import load_dataset
from features.definitions import SCORING_COLUMNS, example_session_records, prepare_features
from features.sessions import build_sessions
from models.registry import PREVIOUS_CHAMPION, configure_mlflow, conversion_model_name
from training.checks import check_dataset
from training.identity import model_fingerprint
from training.promotion import promote
from training.train import train_conversion_model

SimulatedClient = Any  # the ``simulated_client`` fixture of conftest.py

FAST = {"n_estimators": 80, "learning_rate": 0.1, "early_stopping_rounds": 20}
WEAK = {"n_estimators": 2, "learning_rate": 0.01, "num_leaves": 2, "early_stopping_rounds": 0}


def _artifacts(client: MlflowClient, run_id: str, path: str = "") -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def _versions(settings: Settings, client_id: str) -> list[str]:
    client = MlflowClient(settings.effective_mlflow_tracking_uri, registry_uri=settings.effective_mlflow_tracking_uri)
    return sorted(v.version for v in client.search_model_versions(f"name = '{conversion_model_name(client_id)}'"))


def test_a_run_is_logged_registered_gated_and_promoted(simulated_client: SimulatedClient) -> None:
    settings, cid = simulated_client.settings, simulated_client.client_id
    first = train_conversion_model(settings, cid, params=FAST)
    assert first.aliases == ["champion"] and first.dataset_id == simulated_client.dataset_id
    # The simulated ceiling (true probabilities) is about 0.69 AUC; a small test split is noisy.
    assert first.metrics["roc_auc"] > 0.55 and 0 < first.metrics["ece"] < 0.1
    assert set(first.baselines) == {"logistic_regression", "hist_gradient_boosting"}
    assert first.calibration in {"isotonic", "sigmoid", "none"}

    client = configure_mlflow(settings)
    run = client.get_run(first.run_id)
    assert run.data.params["dataset_id"] == first.dataset_id and run.data.params["calibration"] == first.calibration
    for key in ("test_roc_auc", "test_log_loss", "test_ece", "test_lift_at_10", "test_brier", "test_pr_auc"):
        assert key in run.data.metrics
    assert run.data.metrics["baseline_logistic_regression_test_roc_auc"] > 0.5
    assert run.data.metrics["baseline_hist_gradient_boosting_test_roc_auc"] > 0.5
    artifacts = _artifacts(client, first.run_id)
    for expected in (
        "plots/roc_curve.png",
        "plots/calibration_curve.png",
        "plots/feature_importance.png",
        "plots/feature_contributions.png",
        "evaluation/slice_metrics.json",
        "evaluation/contributions.json",
        "dataset/manifest.json",
        "dataset/privacy_report.json",
    ):
        assert expected in artifacts, expected
    [dataset_input] = run.inputs.dataset_inputs
    manifest = json.loads(Path(client.download_artifacts(first.run_id, "dataset/manifest.json")).read_text())
    assert dataset_input.dataset.digest == manifest["data_sha256"][:36]

    # The registered pyfunc scores raw session records exactly as the training features say.
    model = mlflow.pyfunc.load_model(f"models:/{conversion_model_name(cid)}@champion")
    sessions = build_sessions(StorageLayout.from_settings(settings), cid).head(300)
    # MLflow's schema check wants what the signature says: zone-less UTC times and float numbers.
    records = sessions[list(SCORING_COLUMNS)].assign(started_at=sessions["started_at"].dt.tz_localize(None))
    counts = records.select_dtypes("int64").columns
    scored = model.predict(records.astype(dict.fromkeys(counts, "float64")))
    scorer = model.unwrap_python_model().scorer
    direct = scorer.predict_features(prepare_features(sessions, manifest["timezone"])[list(scorer.feature_names)])
    np.testing.assert_allclose(scored["probability"].to_numpy(), direct)
    explained = model.predict(example_session_records(), params={"explain": True})
    assert explained["probability"].between(0, 1).all() and "contrib_channel" in explained

    # A weaker challenger is refused: champion stays, the decision and its reasons are recorded.
    weak = train_conversion_model(settings, cid, params=WEAK, baselines=False)
    assert weak.aliases == ["challenger"]
    refused = promote(settings, cid)
    assert not refused.promoted and refused.champion_version == first.model_version
    # The simulated ceiling is low and the test split small, so a stump can land within the noise of the
    # champion: any of the gate's three refusals is right, and both metrics are described.
    refusals = ("significantly worse", "not ahead", "within the noise")
    assert any(word in refused.reasons[-1] for word in refusals), refused.reasons
    assert [r.split()[0] for r in refused.reasons[:2]] == ["log_loss", "roc_auc"]
    name = conversion_model_name(cid)
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.model_version
    assert client.get_model_version(name, weak.model_version).tags["xmo.promotion.decision"] == "refused"
    forced = promote(settings, cid, force=True)
    assert forced.promoted and forced.forced
    assert str(client.get_model_version_by_alias(name, "champion").version) == weak.model_version
    assert str(client.get_model_version_by_alias(name, PREVIOUS_CHAMPION).version) == first.model_version
    actions = [e.action for e in audit.entries(get_engine(settings), cid)]
    assert "model.promote.refused" in actions and "model.promote.forced" in actions
    with pytest.raises(InvalidInput, match="already the champion"):
        promote(settings, cid, version=weak.model_version)
    promote(settings, cid, version=first.model_version, force=True)  # roll back for the other tests


def test_tuning_is_logged_and_resumes(simulated_client: SimulatedClient) -> None:
    settings, cid = simulated_client.settings, simulated_client.client_id
    notices: list[str] = []
    first = train_conversion_model(settings, cid, trials=3, baselines=False, notice=notices.append)
    assert first.tuning is not None and first.tuning["n_trials"] == 3
    lines: list[str] = []
    again = train_conversion_model(
        settings,
        cid,
        trials=1,
        baselines=False,
        register_anyway=True,
        notice=notices.append,
        trial_progress=lines.append,
    )
    assert again.tuning is not None and again.tuning["n_trials"] == 4 and again.tuning["trials_run"] == 1  # one more
    study = first.tuning["study_name"]
    assert notices == [
        f"tuning: new study {study}; running 3 trials",
        f"tuning: resumed study {study} with 3 trials: 3 complete; running 1 more trial",
    ]
    assert (
        len(lines) == 1 and lines[0].startswith("tuning: trial 1/1 complete, log loss 0.") and "best so far" in lines[0]
    )
    client = configure_mlflow(settings)
    summary = json.loads(Path(client.download_artifacts(again.run_id, "tuning/optuna_study.json")).read_text())
    assert len(summary["trials"]) == 4


def test_the_same_model_is_not_registered_twice_unless_asked(simulated_client: SimulatedClient) -> None:
    settings, cid = simulated_client.settings, simulated_client.client_id
    same = {"n_estimators": 400, "learning_rate": 0.12, "early_stopping_rounds": 20}  # no other version has it
    first = train_conversion_model(settings, cid, params=same, baselines=False)
    before = _versions(settings, cid)
    again = train_conversion_model(settings, cid, params={**same, "n_jobs": 1}, baselines=False)  # threads: same trees
    assert not again.registered and _versions(settings, cid) == before
    assert (again.model_version, again.run_id, again.aliases) == (first.model_version, first.run_id, first.aliases)
    assert again.metrics["roc_auc"] == pytest.approx(first.metrics["roc_auc"])
    # Other settings, same trees: the early-stopped round count as n_estimators is found after fitting.
    rounds = int(configure_mlflow(settings).get_run(first.run_id).data.params["best_iteration"])
    assert rounds < same["n_estimators"]
    refit = train_conversion_model(settings, cid, params={**same, "n_estimators": rounds}, baselines=False)
    assert not refit.registered and refit.model_version == first.model_version and _versions(settings, cid) == before
    assert again.not_registered_message() == (
        f"the model is identical to the {first.aliases[0]} v{first.model_version}: "
        "not registered (use --register-anyway to register it)"
    )
    forced = train_conversion_model(settings, cid, params=same, baselines=False, register_anyway=True)
    assert forced.registered and int(forced.model_version) == int(first.model_version) + 1

    manifest = load_dataset(settings, cid).manifest
    fingerprint = model_fingerprint(manifest, same, engine="local", monotone=False)
    assert fingerprint == model_fingerprint(manifest, dict(reversed(same.items())), engine="local", monotone=False)
    assert fingerprint != model_fingerprint(manifest, same, engine="dask", monotone=False)
    assert fingerprint != model_fingerprint(manifest, same, engine="local", monotone=True)
    assert fingerprint != model_fingerprint(manifest, {**same, "learning_rate": 0.13}, engine="local", monotone=False)


def test_a_training_set_of_another_client_is_refused(simulated_client: SimulatedClient) -> None:
    settings, cid = simulated_client.settings, simulated_client.client_id
    Tenants.from_settings(settings).create_client("Other", ["other.example"], client_id="other")
    source = settings.home / "datasets" / cid / simulated_client.dataset_id
    shutil.copytree(source, settings.home / "datasets" / "other" / simulated_client.dataset_id)
    before = _versions(settings, cid)
    with pytest.raises(InvalidInput, match="belongs to client 'sim', not 'other'"):
        train_conversion_model(settings, "other", simulated_client.dataset_id)
    assert _versions(settings, cid) == before


def test_an_unreachable_tracking_server_fails_fast_and_registers_nothing(simulated_client: SimulatedClient) -> None:
    settings = simulated_client.settings
    offline = Settings(home=settings.home, mlflow_tracking_uri="http://user:secret@127.0.0.1:9")
    with pytest.raises(NotReady, match=r"cannot reach the MLflow tracking store at http://user:\*\*\*@127\.0\.0\.1:9"):
        train_conversion_model(offline, simulated_client.client_id, params=FAST)


def test_a_corrupt_model_artifact_cannot_be_promoted(simulated_client: SimulatedClient) -> None:
    settings, cid = simulated_client.settings, simulated_client.client_id
    trained = train_conversion_model(settings, cid, params=FAST, baselines=False, register_anyway=True)
    if trained.aliases == ["champion"]:  # the first version of this home: the gate needs a champion and another
        trained = train_conversion_model(settings, cid, params=FAST, baselines=False, register_anyway=True)
    client = configure_mlflow(settings)
    name = conversion_model_name(cid)
    champion = str(client.get_model_version_by_alias(name, "champion").version)
    source = client.get_model_version(name, trained.model_version).source
    location = mlflow.get_logged_model(source.removeprefix("models:/")).artifact_location
    [booster] = Path(location.removeprefix("file://")).rglob("booster.txt")
    booster.write_text("not a LightGBM model\n")

    with pytest.raises(NotReady, match=f"{name} version {trained.model_version} cannot be loaded"):
        promote(settings, cid, version=trained.model_version)
    assert str(client.get_model_version_by_alias(name, "champion").version) == champion


def test_check_dataset_names_each_problem(simulated_client: SimulatedClient) -> None:
    dataset = load_dataset(simulated_client.settings, simulated_client.client_id)
    check_dataset(dataset, simulated_client.client_id)  # the real one is fine
    no_channel = type(dataset)(dataset.frame.drop(columns=["channel"]), dataset.manifest, dataset.path)
    with pytest.raises(InvalidInput, match="lacks the feature"):
        check_dataset(no_channel, simulated_client.client_id)
    one_class = type(dataset)(dataset.frame.assign(converted=0), dataset.manifest, dataset.path)
    with pytest.raises(NotReady, match="conversions; training needs"):
        check_dataset(one_class, simulated_client.client_id)
    few = type(dataset)(dataset.frame.groupby("split", observed=True).head(30), dataset.manifest, dataset.path)
    with pytest.raises(NotReady, match="has 30 sessions"):
        check_dataset(few, simulated_client.client_id)
    pd.testing.assert_frame_equal(
        dataset.frame, load_dataset(simulated_client.settings, simulated_client.client_id).frame
    )
