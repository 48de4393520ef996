"""``GET /v1/attribution`` over real HTTP on 127.0.0.1: credits of a simulated client, keys and isolation, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from models.attribution import MODELS
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation

Api = tuple[httpx.Client, NewClient, NewClient]


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    sim = tenants.create_client("Sim", ["sim.example"], client_id="sim")
    other = tenants.create_client("Other", ["other.example.com"])
    run_simulation(settings, "sim", days=10, visitors_per_day=150, seed=21)
    compact_all(settings)
    with serve(settings, timeout=60) as http:
        yield http, sim, other


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    assert "Traceback" not in response.text
    return body["error"]


def test_credits_by_model_and_level(api: Api) -> None:
    http, sim, _ = api

    response = http.get("/v1/attribution", headers=auth(sim))

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["client_id"], report["model"], report["level"]) == ("sim", "markov", "channel")
    credits = report["models"]["markov"]["credits"]
    assert sum(row["conversions"] for row in credits) == pytest.approx(report["converting_journeys"])
    assert sum(row["value"] for row in credits) == pytest.approx(report["value"])
    assert all(row["removal_effect"] >= 0 for row in credits)

    everything = http.get("/v1/attribution", params={"model": "all", "by": "campaign"}, headers=auth(sim)).json()
    assert list(everything["models"]) == list(MODELS)
    for model in MODELS:
        total = sum(row["conversions"] for row in everything["models"][model]["credits"])
        assert total == pytest.approx(everything["converting_journeys"]), model
    assert any(row["campaign_id"].startswith("cmp-") for row in everything["models"]["last"]["credits"])

    later = http.get("/v1/attribution", params={"model": "first", "since": "2030-01-01"}, headers=auth(sim))
    assert later.status_code == 409 and error_of(later)["code"] == "not_ready"


def test_keys_are_required_and_clients_are_isolated(api: Api) -> None:
    http, sim, other = api
    for response in (
        http.get("/v1/attribution"),
        http.get("/v1/attribution", params={"model": "bogus"}),  # the key is checked before the parameters
        http.get("/v1/attribution", headers={"Authorization": "Bearer xmo_api_forged"}),
    ):
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"
    site_key = http.get("/v1/attribution", headers={"Authorization": f"Bearer {sim.site_key}"})
    assert site_key.status_code == 403
    # the other client's key sees its own (empty) lake, never sim's journeys
    theirs = http.get("/v1/attribution", headers=auth(other))
    assert theirs.status_code == 409 and error_of(theirs)["code"] == "not_ready"
    assert "'other'" in error_of(theirs)["message"] and "'sim'" not in theirs.text


BAD_PARAMETERS: list[tuple[dict[str, Any], int, str, str]] = [
    ({"model": "u-shaped"}, 400, "invalid_input", "choose one of last, first, linear"),
    ({"by": "creative"}, 400, "invalid_input", "choose one of channel, campaign"),
    ({"lookback_days": 0}, 400, "invalid_input", "lookback_days"),
    ({"lookback_days": "many"}, 422, "invalid_request", "lookback_days"),
    ({"since": "2024-02-30"}, 422, "invalid_request", "since"),
    ({"since": "2024-03-02", "until": "2024-03-01"}, 400, "invalid_input", "is after until"),
]


def test_bad_parameters_get_a_json_error(api: Api) -> None:
    http, sim, _ = api
    for params, status, code, message in BAD_PARAMETERS:
        response = http.get("/v1/attribution", params=params, headers=auth(sim))

        assert response.status_code == status, (params, response.text)
        error = error_of(response)
        assert error["code"] == code and message in error["message"], (params, error)
