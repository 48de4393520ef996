"""``GET /v1/benchmarks/industry`` over real HTTP: any client's API key reads the pooled cells (no client ids),
thresholds can only be raised, the operator's epsilon adds consistent noise, and every read is audited."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import audit
from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.app import create_app
from strategy.industry import industry_benchmarks
from tests.conftest import LiveServer
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

POOLED = ("alpha7q", "bravo3k", "charl9z")
READER = "reader8m"  # no data, not opted in: may read, contributes nothing


@dataclass(frozen=True)
class Home:
    settings: Settings
    tenants: Tenants
    reader: NewClient


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    path = tmp_path_factory.mktemp("industry-api") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        for seed, client_id in enumerate(POOLED, start=1):
            tenants.create_client(client_id, [f"{client_id}.example"], client_id=client_id, benchmarks_opt_in=True)
            run_simulation(settings, client_id, days=2, visitors_per_day=150, seed=seed, start=date(2026, 4, 6))
        reader = tenants.create_client("Reader", ["reader.example"], client_id=READER)
        compact_all(settings)
        yield Home(settings, tenants, reader)


@pytest.fixture(scope="module")
def http(home: Home) -> Iterator[httpx.Client]:
    with LiveServer(create_app(home.settings)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"] and "Traceback" not in response.text, body
    return str(body["error"]["code"])


def test_any_client_reads_the_pooled_cells_without_client_ids(home: Home, http: httpx.Client) -> None:
    response = http.get("/v1/benchmarks/industry", params={"by": "channel"}, headers=bearer(home.reader.api_key))
    assert response.status_code == 200, response.text
    body = response.json()
    expected = json.loads(json.dumps(industry_benchmarks(home.settings, by="channel").to_dict()))
    assert body["cells"] == expected["cells"] and body["suppressed_cells"] == expected["suppressed_cells"]
    assert body["cells"] and body["epsilon"] is None and body["noise_scales"] == {}
    assert body["thresholds"] == {"min_visitors": 10, "min_clients": 3, "max_two_client_share": 0.9}
    assert not [cid for cid in (*POOLED, READER) if cid in response.text] and "cmp-" not in response.text
    devices = http.get("/v1/benchmarks/industry", params={"by": "device"}, headers=bearer(home.reader.api_key))
    assert devices.status_code == 200 and {c["device"] for c in devices.json()["cells"]} <= {
        "desktop",
        "mobile",
        "tablet",
        "unknown",
    }
    entries = [e for e in audit.entries(home.tenants.engine, READER) if e.action == "benchmarks.industry"]
    assert entries and entries[0].actor.startswith("key:xmo_api_")
    assert home.reader.api_key not in entries[0].actor
    assert entries[0].details == {
        "by": "channel",
        "cells": len(body["cells"]),
        "suppressed": body["suppressed_cells"],
        "epsilon": None,
    }


def test_thresholds_may_be_raised_never_lowered(home: Home, http: httpx.Client) -> None:
    headers = bearer(home.reader.api_key)
    everything = http.get("/v1/benchmarks/industry", headers=headers).json()
    strict = http.get("/v1/benchmarks/industry", params={"min_clients": 4}, headers=headers)
    assert strict.status_code == 200 and strict.json()["cells"] == []
    assert strict.json()["suppressed_cells"] == len(everything["cells"]) + everything["suppressed_cells"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"min_visitors": 5}, 400, "invalid_input"),
        ({"min_clients": 2}, 422, "invalid_request"),
        ({"by": "campaign"}, 422, "invalid_request"),
        ({"min_visitors": "many"}, 422, "invalid_request"),
    ]
    for params, status, code in cases:
        response = http.get("/v1/benchmarks/industry", params=params, headers=headers)
        assert response.status_code == status and error_code(response) == code, (params, response.text)


def test_keys_other_than_a_clients_api_key_are_refused(home: Home, http: httpx.Client) -> None:
    assert error_code(http.get("/v1/benchmarks/industry")) == "unauthorized"
    site = http.get("/v1/benchmarks/industry", headers=bearer(home.reader.site_key))
    assert site.status_code == 403 and error_code(site) == "forbidden"


def test_the_operators_epsilon_adds_consistent_noise(home: Home, live_server_factory: Any) -> None:
    noisy_settings = home.settings.model_copy(update={"benchmark_epsilon": 0.5})
    with (
        live_server_factory(create_app(noisy_settings)) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        first = http.get("/v1/benchmarks/industry", headers=bearer(home.reader.api_key))
        again = http.get("/v1/benchmarks/industry", headers=bearer(home.reader.api_key))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body == again.json(), "asking again gets the same noise"
    assert body["epsilon"] == 0.5 and body["noise_scales"]["visitors"] == 10.0
    exact = industry_benchmarks(home.settings, by="channel").to_dict()
    assert [c["channel"] for c in body["cells"]] == [c["channel"] for c in exact["cells"]]
    assert [c["visitors"] for c in body["cells"]] != [c["visitors"] for c in exact["cells"]]
