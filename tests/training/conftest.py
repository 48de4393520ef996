"""A simulated client with a training set, shared by the training tests of a module (building it is slow)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import Settings
from core.tenants import Tenants
from features.dataset import build_dataset
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

CLIENT = "sim"
FAST = {"n_estimators": 80, "learning_rate": 0.1, "early_stopping_rounds": 20}


@dataclass(frozen=True)
class SimulatedClient:
    """A home with a registered client ``sim``, its lake and one training set."""

    settings: Settings
    client_id: str
    dataset_id: str


@pytest.fixture(scope="module")
def simulated_client(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedClient]:
    home = tmp_path_factory.mktemp("training") / "xmo-home"
    with home_at(home) as settings:
        Tenants.from_settings(settings).create_client("Sim", ["sim.example"], client_id=CLIENT)
        run_simulation(settings, CLIENT, days=14, visitors_per_day=300, seed=21)
        compact_all(settings)
        manifest = build_dataset(settings, CLIENT)
        yield SimulatedClient(settings, CLIENT, manifest.dataset_id)


def dataset_folder(client: SimulatedClient) -> Path:
    return client.settings.home / "datasets" / client.client_id / client.dataset_id
