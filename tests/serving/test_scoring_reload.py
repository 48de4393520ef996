"""Champion reloads while requests are served: ``POST /v1/models/reload`` and the periodic check swap in a newly
promoted version on a real server without a single failed request; the model store keeps what serves when a
new version or the registry fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import mlflow.pyfunc
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.tracking import MlflowClient

from core.settings import Settings
from core.tenants import NewClient, Tenants
from features.dataset import build_dataset
from features.definitions import EXAMPLE_SESSIONS
from models.registry import CHAMPION, configure_mlflow, conversion_model_name
from serving import model_store
from serving.app import create_app
from serving.model_store import ModelNotServable, ModelStore
from serving.scoring_input import session_columns
from tests.conftest import LiveServer
from tracking.compactor import compact_all
from training.promotion import promote
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

NAME = conversion_model_name("sim")
BODY = {"sessions": [dict(s) for s in EXAMPLE_SESSIONS]}
WORKERS = 4
SWAP_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, NewClient]]:
    """Client ``sim`` with two registered versions: 1 is the champion, 2 (different trees) the challenger."""
    path = tmp_path_factory.mktemp("scoring-reload") / "xmo-home"
    with home_at(path) as _settings:
        settings = Settings(home=path, compact_interval_s=0, model_reload_interval_s=0, rate_limit_per_minute=0)
        sim = Tenants.from_settings(settings).create_client("Sim", ["sim.example"], client_id="sim")
        run_simulation(settings, "sim", days=7, visitors_per_day=150, seed=24)
        compact_all(settings)
        build_dataset(settings, "sim")
        first = train_conversion_model(
            settings,
            "sim",
            params={"n_estimators": 10, "learning_rate": 0.1, "early_stopping_rounds": 0},
            baselines=False,
        )
        second = train_conversion_model(
            settings,
            "sim",
            params={"n_estimators": 30, "learning_rate": 0.2, "early_stopping_rounds": 0},
            baselines=False,
        )
        assert (first.aliases, second.aliases) == (["champion"], ["challenger"])
        yield settings, sim


def champion_version(settings: Settings) -> str:
    return str(configure_mlflow(settings).get_model_version_by_alias(NAME, CHAMPION).version)


def expected_scores(settings: Settings, version: str) -> list[float]:
    configure_mlflow(settings)
    model = mlflow.pyfunc.load_model(f"models:/{NAME}/{version}")
    columns = model.unwrap_python_model().scorer.predict_columns
    sessions = session_columns(BODY)
    return [float(p) for p in columns(sessions.columns, sessions.n_rows)]


class Load:
    """Threads that post scoring requests until stopped, recording every answer."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.stop = threading.Event()
        self.answers: list[list[tuple[int, str | None, list[float] | None]]] = [[] for _ in range(WORKERS)]
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(WORKERS)]

    def _run(self, worker: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.is_set():
                try:
                    response = http.post("/v1/score", json=BODY, headers=headers)
                except httpx.HTTPError as exc:  # a dropped connection is a failure too
                    self.answers[worker].append((-1, type(exc).__name__, None))
                    continue
                if response.status_code == 200:
                    body = response.json()
                    scores = [s["probability"] for s in body["scores"]]
                    self.answers[worker].append((200, body["model"]["version"], scores))
                else:
                    self.answers[worker].append((response.status_code, response.text[:200], None))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def wait_for(self, count: int, version: str | None = None, timeout: float = SWAP_TIMEOUT_S) -> None:
        """Until every worker has ``count`` answers (of ``version``, if given) after this call."""
        start = [len(a) for a in self.answers]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [
                sum(1 for _, v, _ in answers[begin:] if version is None or v == version)
                for answers, begin in zip(self.answers, start, strict=True)
            ]
            if min(done) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"workers did not get {count} answers of version {version} in {timeout} s")

    def check(self, before: str, after: str, settings: Settings) -> None:
        """Every answer a 200, each worker's versions switch once from ``before`` to ``after``, with the scores
        each version gives in process."""
        scores = {v: expected_scores(settings, v) for v in (before, after)}
        assert scores[before] != scores[after]
        for answers in self.answers:
            failures = [a for a in answers if a[0] != 200]
            assert not failures, failures[:5]
            versions = [v for _, v, _ in answers]
            switch = versions.index(after)
            assert switch > 0 and set(versions[:switch]) == {before} and set(versions[switch:]) == {after}
            for _, version, probabilities in answers:
                assert probabilities == pytest.approx(scores[str(version)], abs=0, rel=0)


def other_version(settings: Settings) -> tuple[str, str]:
    before = champion_version(settings)
    return before, "2" if before == "1" else "1"


def test_reload_endpoint_swaps_the_champion_under_load(home: tuple[Settings, NewClient]) -> None:
    settings, sim = home
    before, after = other_version(settings)
    with LiveServer(create_app(settings)) as server, Load(server.url, sim.api_key) as load:
        load.wait_for(15, before)
        promote(settings, "sim", version=after, force=True, n_boot=50)
        load.wait_for(5, before)  # the alias moved, the server keeps the loaded version until asked
        with httpx.Client(base_url=server.url, timeout=120) as http:
            reloaded = http.post("/v1/models/reload", headers={"Authorization": f"Bearer {sim.api_key}"})
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["champion"]["version"] == after
        load.wait_for(15, after)
    load.check(before, after, settings)


def test_periodic_check_swaps_the_champion_under_load(home: tuple[Settings, NewClient]) -> None:
    settings, sim = home
    before, after = other_version(settings)
    periodic = settings.model_copy(update={"model_reload_interval_s": 0.3})
    with LiveServer(create_app(periodic)) as server, Load(server.url, sim.api_key) as load:
        load.wait_for(15, before)
        promote(settings, "sim", version=after, force=True, n_boot=50)
        load.wait_for(15, after)
    load.check(before, after, settings)


# the store on its own ---------------------------------------------------------------------------------------
@pytest.fixture
def store(home: tuple[Settings, NewClient]) -> ModelStore:
    store = ModelStore(configure_mlflow(home[0]))
    assert store.refresh("sim") is not None
    return store


def test_a_version_that_cannot_score_is_refused_and_the_loaded_one_keeps_serving(
    home: tuple[Settings, NewClient], store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = home
    before, after = other_version(settings)
    client = MlflowClient(settings.effective_mlflow_tracking_uri)
    client.set_registered_model_alias(NAME, CHAMPION, after)
    try:

        def broken(_scorer: Any) -> None:
            raise ValueError("cannot score")

        monkeypatch.setattr(model_store, "_warm_up", broken)
        with pytest.raises(ModelNotServable, match=f"version {after} cannot be served.*keeps serving"):
            store.refresh("sim")
        assert store.refresh_all(["sim"]) == {"sim": before}
        loaded = store.get("sim")
        assert loaded is not None and loaded.version == before
    finally:
        client.set_registered_model_alias(NAME, CHAMPION, before)


def test_registry_failures_keep_the_model_and_a_removed_alias_drops_it(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = store.get("sim")
    assert loaded is not None

    def locked(*_args: Any) -> None:
        raise MlflowException("database is locked")  # INTERNAL_ERROR

    monkeypatch.setattr(store.client, "get_model_version_by_alias", locked)
    assert store.refresh_all(["sim"]) == {"sim": loaded.version}
    assert store.get("sim") is loaded

    def absent(*_args: Any) -> None:
        raise MlflowException("alias champion not found", error_code=INVALID_PARAMETER_VALUE)

    monkeypatch.setattr(store.client, "get_model_version_by_alias", absent)
    assert store.refresh_all(["sim"]) == {"sim": None}
    assert store.get("sim") is None


def test_concurrent_refreshes_load_a_version_once(
    home: tuple[Settings, NewClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(configure_mlflow(home[0]))
    loads: list[str] = []
    load_model = mlflow.pyfunc.load_model

    def counted(uri: str) -> Any:
        loads.append(uri)
        time.sleep(0.2)  # long enough for the other refresh to arrive while this one loads
        return load_model(uri)

    monkeypatch.setattr(mlflow.pyfunc, "load_model", counted)
    threads = [threading.Thread(target=store.refresh, args=("sim",)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(loads) == 1 and store.get("sim") is not None
