"""``/v1/recommendations/budget`` over real HTTP: the plan, the curves PNG, errors, and one client's key per client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation

Api = tuple[httpx.Client, NewClient, NewClient]


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    sim = tenants.create_client("Sim", ["sim.example"], client_id="sim")
    other = tenants.create_client("Other", ["other.example"], client_id="other")
    run_simulation(settings, "sim", days=21, visitors_per_day=300, seed=21)
    compact_all(settings)
    with serve(settings, timeout=120) as http:
        yield http, sim, other


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    return body["error"]


def test_budget_plan_curves_and_errors(api: Api) -> None:
    http, sim, other = api
    assert http.get("/v1/recommendations/budget", params={"total": 900}).status_code == 401
    plan = http.get("/v1/recommendations/budget", params={"total": 900, "period": "week"}, headers=auth(sim))
    assert plan.status_code == 200, plan.text
    data = plan.json()
    assert data["client_id"] == "sim" and data["total"] == pytest.approx(900)
    assert sum(c["recommended_spend"] for c in data["campaigns"]) == pytest.approx(900, rel=1e-6)
    assert data["sentences"] and "expected_conversions_recommended" in data
    target = http.get(
        "/v1/recommendations/budget",
        params={"target_roas": 0.01, "outcome": "value", "attribution": "linear"},
        headers=auth(sim),
    )
    assert target.status_code == 200, target.text
    assert target.json()["target"]["kind"] == "roas"
    png = http.get("/v1/recommendations/budget/curves.png", params={"total": 900}, headers=auth(sim))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    bounds = http.get("/v1/recommendations/budget", params={"total": 1e6}, headers=auth(sim))
    assert bounds.status_code == 400 and "contradicts the bounds" in error_of(bounds)["message"]
    missing = http.get("/v1/recommendations/budget", headers=auth(sim))
    assert missing.status_code == 400 and error_of(missing)["code"] == "invalid_input"
    assert http.get("/v1/recommendations/budget", params={"total": -1}, headers=auth(sim)).status_code == 422
    assert (
        http.get("/v1/recommendations/budget", params={"total": 9, "mode": "tv"}, headers=auth(sim)).status_code == 422
    )
    theirs = http.get("/v1/recommendations/budget", params={"total": 900}, headers=auth(other))
    assert theirs.status_code == 409 and error_of(theirs)["code"] == "not_ready", "the other client has no spend"
    assert "cmp-" not in theirs.text
    assert http.get("/v1/recommendations/budget/curves.png", params={"total": 900}).status_code == 401
