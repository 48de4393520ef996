"""``GET /v1/recommendations/audiences`` over real HTTP: the served champion ranks the caller's segments;
no key, another kind of key, another client's key or no champion give clear errors, never other data."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from features.dataset import build_dataset
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
PATH = "/v1/recommendations/audiences"
Home = tuple[Settings, NewClient, NewClient]


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """Client ``sim`` with simulated traffic and a champion model; client ``fresh`` with neither."""
    path = tmp_path_factory.mktemp("audiences-api") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        sim = tenants.create_client("Sim", ["sim.example"], client_id="sim")
        fresh = tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        run_simulation(settings, "sim", days=10, visitors_per_day=200, seed=22)
        compact_all(settings)
        build_dataset(settings, "sim")
        train_conversion_model(settings, "sim", params=TINY, baselines=False)
        yield settings, sim, fresh


@pytest.fixture
def http(home: Home, serve: Any) -> Iterator[httpx.Client]:
    with serve(home[0], timeout=60) as client:
        yield client


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def test_segments_for_the_caller(home: Home, http: httpx.Client) -> None:
    _, sim, _ = home
    response = http.get(PATH, params={"top": 5}, headers=auth(sim))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_id"] == "sim" and body["model"] == {"name": "xmo-conversion-sim", "version": "1"}
    assert 0 < len(body["segments"]) <= 5 and body["overall"]["sessions"] > 1000
    assert all(s["sessions"] >= body["k"] for s in body["segments"] + body["bid_up"] + body["exclude"])
    assert not re.search(r"[0-9a-f]{32}", response.text)  # no visitor ids
    assert body["scope"] == "paid campaigns" and body["overall"]["sessions"] < body["all_sessions"]
    assert body["timezone"] in body["scope_note"]
    for segment in body["segments"] + body["bid_up"] + body["exclude"]:
        assert segment["dimension_label"] and segment["segment_label"] and isinstance(segment["targetable"], bool)
        assert segment["targetable"] or segment["suggestion"] == "insight only"
    assert all(s["targetable"] for s in body["bid_up"] + body["exclude"])
    labels = http.get(PATH, params={"top": 500}, headers=auth(sim)).json()["segments"]
    assert {s["segment_label"] for s in labels if s["dimension"] == "visitor_type"} == {
        "new visitors",
        "returning visitors",
    }
    first_day = http.get(PATH, params={"since": "2000-01-01", "until": "2000-01-02"}, headers=auth(sim))
    assert first_day.status_code == 409 and first_day.json()["error"]["code"] == "not_ready"
    assert http.get(PATH, params={"top": 0}, headers=auth(sim)).status_code == 422
    assert http.get(PATH, params={"since": "soon"}, headers=auth(sim)).status_code == 422


def test_keys_and_missing_champion(home: Home, http: httpx.Client) -> None:
    _, sim, fresh = home
    assert http.get(PATH).status_code == 401
    assert http.get(PATH, headers={"Authorization": f"Bearer {sim.site_key}"}).status_code == 403
    other = http.get(PATH, headers=auth(fresh))  # fresh's key never sees sim's segments
    assert other.status_code == 409
    error = other.json()["error"]
    assert error["code"] == "not_ready" and "train and promote a model first" in error["message"]
    assert "segments" not in other.text
