"""The notebooks under ``notebooks/``, each run top to bottom in a fresh Jupyter kernel on a small simulated client.

The module builds one home (a simulated client with the demo's id, its lake, a training set and a champion
model trained with fast settings); every test then executes one notebook with nbclient against that home, the
way a data scientist would run it after ``make demo``, and checks that no cell failed and that a cell showed
what the notebook is for. The kernel is this interpreter's ipykernel, from a kernelspec written into a
temporary folder, so a ``python3`` kernel installed elsewhere on the machine cannot take its place.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import install as install_kernelspec
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from core.database import dispose_engines
from core.settings import Settings, get_settings
from core.tenants import Tenants
from features.dataset import build_dataset
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo.demo import DEMO_CLIENT_ID
from xmo.simulator.cli import run_simulation

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
KERNEL = "python3"
FAST = {"n_estimators": 80, "learning_rate": 0.1, "early_stopping_rounds": 20, "n_jobs": 1}
# variables of the store locations that would point the notebooks elsewhere than the test's home
STORE_VARIABLES = ("XMO_DATABASE_URL", "XMO_MLFLOW_TRACKING_URI", "XMO_MASTER_KEY", "XMO_OPTUNA_STORAGE")


@dataclass(frozen=True)
class NotebookHome:
    """A home with the demo's client, a training set and a champion; where the Jupyter kernelspec lives."""

    settings: Settings
    client_id: str
    jupyter_path: Path


@pytest.fixture(scope="module")
def notebook_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotebookHome]:
    # named .xmo: notebook 01 reads "../.xmo" relative to its working directory
    home = tmp_path_factory.mktemp("notebooks") / ".xmo"
    jupyter = tmp_path_factory.mktemp("jupyter")
    install_kernelspec(kernel_name=KERNEL, prefix=str(jupyter))  # argv: this interpreter, by absolute path
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XMO_HOME", str(home))
        for name in STORE_VARIABLES:
            patch.delenv(name, raising=False)
        get_settings.cache_clear()
        settings = Settings(home=home, compact_interval_s=0, model_reload_interval_s=0)
        Tenants.from_settings(settings).create_client("Demo Shop", ["shop.example"], client_id=DEMO_CLIENT_ID)
        run_simulation(settings, DEMO_CLIENT_ID, days=14, visitors_per_day=300, seed=21)
        compact_all(settings)
        manifest = build_dataset(settings, DEMO_CLIENT_ID)
        slow = {**FAST, "learning_rate": 0.05}  # not notebook 03's model: xmo registers no copy of a champion
        trained = train_conversion_model(settings, DEMO_CLIENT_ID, manifest.dataset_id, params=slow, baselines=False)
        assert trained.aliases == ["champion"]
        yield NotebookHome(settings, DEMO_CLIENT_ID, jupyter / "share" / "jupyter")
        get_settings.cache_clear()
        dispose_engines()


@pytest.fixture
def kernel_env(notebook_home: NotebookHome, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> NotebookHome:
    """The environment the kernel inherits: the notebooks' inputs, this checkout, and private Jupyter folders."""
    monkeypatch.setenv("XMO_HOME", str(notebook_home.settings.home))
    monkeypatch.setenv("XMO_NOTEBOOK_CLIENT", notebook_home.client_id)
    monkeypatch.setenv("XMO_NOTEBOOK_FAST", "1")
    for name in STORE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # small data: threads only contend with the other tests
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # no network
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("JUPYTER_PATH", str(notebook_home.jupyter_path))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert spec.argv[0] == sys.executable, f"the {KERNEL!r} kernel would run {spec.argv[0]}, not {sys.executable}"
    return notebook_home


def run_notebook(name: str, cwd: Path = REPO) -> nbformat.NotebookNode:
    """Execute ``notebooks/<name>`` top to bottom (a cell error raises ``CellExecutionError``)."""
    path = NOTEBOOKS / name
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.kernelspec.name == KERNEL
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), f"{name} is stored with outputs"
    NotebookClient(notebook, timeout=300, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    return notebook


def _cell(notebook: nbformat.NotebookNode, source_part: str) -> nbformat.NotebookNode:
    cells = [c for c in notebook.cells if c.cell_type == "code" and source_part in c.source]
    assert cells, f"no code cell contains {source_part!r}"
    return cells[0]


def output_text(notebook: nbformat.NotebookNode, source_part: str) -> str:
    """What the first code cell containing ``source_part`` printed and showed, as text."""
    parts = []
    for output in _cell(notebook, source_part).outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


def images(notebook: nbformat.NotebookNode, source_part: str) -> int:
    """How many PNG images the first code cell containing ``source_part`` displayed."""
    outputs = _cell(notebook, source_part).outputs
    return sum(1 for o in outputs if o.output_type in ("execute_result", "display_data") and "image/png" in o.data)


def test_01_demo_walkthrough(kernel_env: NotebookHome) -> None:
    # notebook 01 reads "../.xmo" from its working directory: run it beside the test's home
    workdir = kernel_env.settings.home.parent / "work"
    workdir.mkdir(exist_ok=True)
    notebook = run_notebook("01-demo-walkthrough.ipynb", cwd=workdir)
    assert "probability" in output_text(notebook, "mlflow.pyfunc.load_model")
    assert "recommended_spend" in output_text(notebook, "recommend_budget(")


def test_02_training_set_and_privacy(kernel_env: NotebookHome) -> None:
    notebook = run_notebook("02-training-set-and-privacy.ipynb")
    assert "checked on the loaded frame: k = 10 holds" in output_text(notebook, "min_group_size(frame")
    assert "k = 10 holds for region, device_class" in output_text(notebook, "report.summary()")
    split_table = output_text(notebook, 'per_split = frame.groupby("split"')
    assert all(split in split_table for split in ("train", "valid", "test"))
    assert "search" in output_text(notebook, "by_channel = ")
    assert images(notebook, "label rate {title}") == 1
    assert "row keys are unique within the set" in output_text(notebook, "row_key_scheme")


def test_03_train_and_compare(kernel_env: NotebookHome) -> None:
    notebook = run_notebook("03-train-and-compare.ipynb")
    comparison = output_text(notebook, "comparison = ")
    for name in ("roc_auc", "log_loss", "lightgbm", "logistic_regression", "hist_gradient_boosting"):
        assert name in comparison
    summary = output_text(notebook, "result.run_id")
    # the fixture's model stays champion: the notebook registers a challenger
    assert re.search(rf"xmo-conversion-{kernel_env.client_id} version \d+ \(challenger\)", summary), summary
    assert "evaluation/calibration_table.json" in output_text(notebook, "def artifact_paths")
    assert "observed" in output_text(notebook, 'read_json(local, orient="split")')
    assert images(notebook, "plots/roc_curve.png") == 1
    scores = output_text(notebook, "example_session_records()")
    assert "(just trained)" in scores
    assert "(champion)" in scores


def test_04_slices_and_calibration(kernel_env: NotebookHome) -> None:
    notebook = run_notebook("04-slices-and-calibration.ipynb")
    assert "match the run's test metrics" in output_text(notebook, "classification_metrics(y_test, p_test)")
    assert "roc_auc" in output_text(notebook, "slice_metrics(X_slices")
    assert images(notebook, "calibration_figure(") == 1
    assert "abs_gap" in output_text(notebook, "def gap_table")
    assert "largest gaps" in output_text(notebook, "small = ")
    contributions = output_text(notebook, "contributions_summary(contributions)")
    assert "matches the run's evaluation/contributions.json" in contributions
    assert "duration_s" in contributions


def test_05_budget_what_if(kernel_env: NotebookHome) -> None:
    notebook = run_notebook("05-budget-what-if.ipynb")
    assert "campaigns with response curves" in output_text(notebook, "fit_campaign_curves(")
    assert images(notebook, "response_curves_figure(") == 1
    what_if = output_text(notebook, "what_if = ")
    assert "expected conversions per week" in what_if and "marginal CPA" in what_if
    assert "recommended per week" in output_text(notebook, "plan_sentences(")
    assert "held out: MAPE" in output_text(notebook, "MediaMixModel(")
    assert "share of the best" in output_text(notebook, "mix_what_if = ")
