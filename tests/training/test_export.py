"""The models exporter: every registered version of a client's conversion model as an MLflow model directory
that loads with ``mlflow.pyfunc.load_model`` and scores as the registry's model does; nothing for a client
without models, and never another client's model."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import mlflow
import numpy as np

from core.audit import CLI_ACTOR
from core.settings import Settings
from core.tenants import Tenants
from features.dataset import build_dataset
from features.definitions import example_session_records
from models.registry import conversion_model_name
from privacy.export import export_client
from tracking.compactor import compact_all
from training.export import VERSIONS_FILE, ModelsExporter
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}


def test_each_version_is_a_loadable_mlflow_model(settings: Settings, tmp_path: Path) -> None:
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Alpha", ["alpha.example"], client_id="alpha")
    tenants.create_client("Bravo", ["bravo.example"], client_id="bravo")
    run_simulation(settings, "alpha", days=7, visitors_per_day=150, seed=5, start=date(2026, 4, 6))
    compact_all(settings)
    build_dataset(settings, "alpha")
    trained = train_conversion_model(settings, "alpha", params=TINY, baselines=False)

    report = export_client(settings, "alpha", tmp_path / "out", ["models"], actor=CLI_ACTOR)
    folder = tmp_path / "out" / "models"
    version = trained.model_version
    assert report.parts["models"].records == 1
    listing = json.loads((folder / VERSIONS_FILE).read_text())
    assert listing["model"] == conversion_model_name("alpha")
    assert [(v["version"], v["path"]) for v in listing["versions"]] == [(version, f"version-{version}")]
    assert "champion" in listing["versions"][0]["aliases"]
    records = example_session_records()
    exported = mlflow.pyfunc.load_model(str(folder / f"version-{version}"))
    registered = mlflow.pyfunc.load_model(f"models:/{conversion_model_name('alpha')}/{version}")
    np.testing.assert_allclose(
        exported.predict(records)["probability"].to_numpy(), registered.predict(records)["probability"].to_numpy()
    )

    empty = tmp_path / "bravo-models"
    empty.mkdir()
    assert ModelsExporter(settings).export("bravo", empty).records == 0
    assert list(empty.iterdir()) == []


def test_a_client_never_trained_exports_no_model(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    assert ModelsExporter(settings).export("nobody", folder).files == 0
    assert list(folder.iterdir()) == []
