"""``GET /v1/reports/effectiveness`` over real HTTP on 127.0.0.1: the same report as the CLI, for the key's
own client only, and JSON errors for bad parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from strategy.report import effectiveness_report
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

PATH = "/v1/reports/effectiveness"


@dataclass(frozen=True)
class Home:
    settings: Settings
    sim: NewClient
    fresh: NewClient


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """Client ``sim`` with a week of simulated traffic and spend; client ``fresh`` with nothing."""
    path = tmp_path_factory.mktemp("reports-api") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        sim = tenants.create_client("Sim", ["sim.example"], client_id="sim")
        fresh = tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        run_simulation(settings, "sim", days=7, visitors_per_day=200, seed=5, start=date(2026, 4, 6))
        compact_all(settings)
        yield Home(settings, sim, fresh)


@pytest.fixture
def http(home: Home, serve: Any) -> Iterator[httpx.Client]:
    with serve(home.settings, timeout=60) as c:
        yield c


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    assert "Traceback" not in response.text
    return body["error"]


def test_report_matches_the_job(home: Home, http: httpx.Client) -> None:
    response = http.get(
        PATH, params={"by": "creative", "since": "2026-04-07", "until": "2026-04-10"}, headers=auth(home.sim)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    client = Tenants.from_settings(home.settings).get_client("sim")
    expected = effectiveness_report(
        home.settings, client, by="creative", since=date(2026, 4, 7), until=date(2026, 4, 10)
    ).to_dict()
    assert body == expected
    assert (body["client_id"], body["by"], body["since"], body["until"]) == (
        "sim",
        "creative",
        "2026-04-07",
        "2026-04-10",
    )
    assert body["rows"] and body["comparisons"]
    default = http.get(PATH, headers=auth(home.sim)).json()
    assert default["by"] == "campaign" and (default["since"], default["until"]) == ("2026-04-06", "2026-04-12")
    assert default["totals"]["sessions"] > body["totals"]["sessions"]


def test_auth_and_tenancy(home: Home, http: httpx.Client) -> None:
    missing = http.get(PATH)
    assert missing.status_code == 401 and error_of(missing)["code"] == "unauthorized"
    wrong = http.get(PATH, headers={"Authorization": "Bearer xmo_api_not-a-key"})
    assert wrong.status_code == 401
    other = http.get(PATH, headers=auth(home.fresh))  # another client's key sees its own (empty) data, never sim's
    assert other.status_code == 409 and error_of(other)["code"] == "not_ready"
    assert "'fresh'" in error_of(other)["message"] and "cmp-" not in other.text


@pytest.mark.parametrize(
    ("params", "status", "code", "fragment"),
    [
        ({"by": "week"}, 422, "invalid_request", "by"),
        ({"since": "05/04/2026"}, 422, "invalid_request", "since"),
        ({"since": "2026-04-10", "until": "2026-04-07"}, 400, "invalid_input", "is after until"),
        ({"since": "2025-01-01", "until": "2025-01-31"}, 409, "not_ready", "no sessions"),
    ],
)
def test_bad_parameters(
    home: Home, http: httpx.Client, params: dict[str, str], status: int, code: str, fragment: str
) -> None:
    response = http.get(PATH, params=params, headers=auth(home.sim))
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code and fragment in error["message"]
