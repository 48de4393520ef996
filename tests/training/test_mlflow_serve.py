"""The registered champion works outside xmo: ``mlflow models serve`` (local environment, no installs) serves it
over HTTP and scores raw session records exactly as ``mlflow.pyfunc.load_model`` does in process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking._model_registry import utils as registry_utils
from mlflow.tracking._tracking_service import utils as tracking_utils

from core.settings import Settings
from features.definitions import example_session_records
from models.registry import configure_mlflow, conversion_model_name
from training.train import train_conversion_model

SimulatedClient = Any  # the ``simulated_client`` fixture of conftest.py

FAST = {"n_estimators": 80, "learning_rate": 0.1, "early_stopping_rounds": 20}
REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _server_env(settings: Settings, scratch: Path) -> dict[str, str]:
    """The environment of ``mlflow models serve``: the test's store, this venv's scripts, nothing online."""
    uri = settings.effective_mlflow_tracking_uri
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        {
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_REGISTRY_URI": uri,
            "XMO_HOME": str(settings.home),
            # the CLI execs a bare ``uvicorn`` through bash: it must be this venv's
            "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
            # the logged model code imports ``models.pyfunc``: the code under test, not another checkout
            "PYTHONPATH": os.pathsep.join(p for p in [str(REPO_ROOT), env.get("PYTHONPATH", "")] if p),
            # the CLI downloads the model into a temporary folder: keep it under the test's own
            "TMPDIR": str(scratch),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> float:
    """Seconds until ``/ping`` answers 200; fails the test with the server's log if it never does."""
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        if process.poll() is not None:
            pytest.fail(f"mlflow models serve exited with {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"mlflow models serve was not ready after {READY_TIMEOUT_S:.0f} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the CLI and the uvicorn it started (one process group), then kill what is left."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def champion_uri(simulated_client: SimulatedClient) -> Iterator[str]:
    """A champion trained in this module's store; MLflow's process-wide store URIs (which training sets,
    in the environment too) are put back afterwards, so later modules on this worker do not inherit them."""
    uri = simulated_client.settings.effective_mlflow_tracking_uri
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracking_utils, "_tracking_uri", uri)
        patch.setattr(registry_utils, "_registry_uri", uri)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setenv("MLFLOW_REGISTRY_URI", uri)
        trained = train_conversion_model(
            simulated_client.settings, simulated_client.client_id, params=FAST, baselines=False
        )
        assert trained.aliases == ["champion"]
        yield f"models:/{conversion_model_name(simulated_client.client_id)}@champion"


@pytest.fixture(scope="module")
def served(
    simulated_client: SimulatedClient, champion_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of ``mlflow models serve -m models:/xmo-conversion-sim@champion`` on a free port
    (one server for the module; stopped, with its process group, when the module is done)."""
    tmp_path = tmp_path_factory.mktemp("mlflow-serve")
    port = _free_port()
    log = tmp_path / "mlflow-serve.log"
    command = [
        sys.executable, "-m", "mlflow", "models", "serve",
        "-m", champion_uri, "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=_server_env(simulated_client.settings, tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(process, url, log)
        yield url
    finally:
        _stop(process)


def _records_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records as a JSON client sends them: zone-less ISO times, missing values as null."""
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))
    return records


BAD_BODIES = {
    "malformed JSON": b"{not json",
    "no dataframe_records/dataframe_split/inputs key": json.dumps({"records": [{"pageviews": 1.0}]}).encode(),
    "records that are not a list": json.dumps({"dataframe_records": {"pageviews": 1.0}}).encode(),
}


def test_mlflow_models_serve_scores_like_the_pyfunc_and_rejects_bad_bodies(
    simulated_client: SimulatedClient, served: str, champion_uri: str
) -> None:
    # One test, so that pytest-xdist does not build the client, train and start a server once per worker.
    sessions = example_session_records()
    records = _records_json(sessions)
    assert records[0]["started_at"] == "2026-11-20T14:03:00" and records[4]["started_at"] is None
    assert records[3]["utm_source"] is None and records[4]["pageviews"] is None

    response = httpx.post(f"{served}/invocations", json={"dataframe_records": records}, timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(sessions)
    probabilities = np.array([row["probability"] for row in predictions], dtype=np.float64)
    assert ((probabilities > 0) & (probabilities < 1)).all()

    configure_mlflow(simulated_client.settings)  # resolve the alias in this module's store, whatever ran before
    local = mlflow.pyfunc.load_model(champion_uri).predict(sessions)
    np.testing.assert_allclose(probabilities, local["probability"].to_numpy(), rtol=0, atol=1e-9)

    # the signature's ``explain`` parameter travels too
    explained = httpx.post(
        f"{served}/invocations", json={"dataframe_records": records, "params": {"explain": True}}, timeout=30
    )
    assert explained.status_code == 200, explained.text
    assert {"probability", "contrib_channel"} <= set(explained.json()["predictions"][0])

    # a bad body is the caller's fault, answered with MLflow's JSON error
    for problem, body in BAD_BODIES.items():
        bad = httpx.post(
            f"{served}/invocations", content=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert 400 <= bad.status_code < 500, (problem, bad.status_code, bad.text)
        assert bad.headers["content-type"].startswith("application/json"), (problem, bad.headers)
        error = bad.json()
        assert error["error_code"] in {"BAD_REQUEST", "INVALID_PARAMETER_VALUE"} and error["message"], (problem, error)
