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
    today = http.get("/v1/recommendations/budget", headers=auth(sim))
    assert today.status_code == 200, today.text
    opened = today.json()
    assert opened["total_source"] == "today" and opened["total"] == pytest.approx(opened["current_total"])
    assert opened["baseline"] == "today's split" and not any("Lowering" in s for s in opened["sentences"])
    assert all(c["at_bound"] in (None, "lower", "upper") for c in opened["campaigns"])
    both = http.get("/v1/recommendations/budget", params={"target_cpa": 5, "target_roas": 2}, headers=auth(sim))
    assert both.status_code == 400 and error_of(both)["code"] == "invalid_input"
    assert http.get("/v1/recommendations/budget", params={"total": -1}, headers=auth(sim)).status_code == 422
    assert (
        http.get("/v1/recommendations/budget", params={"total": 9, "mode": "tv"}, headers=auth(sim)).status_code == 422
    )
    theirs = http.get("/v1/recommendations/budget", params={"total": 900}, headers=auth(other))
    assert theirs.status_code == 409 and error_of(theirs)["code"] == "not_ready", "the other client has no spend"
    assert "cmp-" not in theirs.text
    assert http.get("/v1/recommendations/budget/curves.png", params={"total": 900}).status_code == 401


def test_budget_ladder_and_csv(api: Api) -> None:
    http, sim, _ = api
    ladder = http.get("/v1/recommendations/budget/ladder", headers=auth(sim))
    assert ladder.status_code == 200, ladder.text
    data = ladder.json()
    assert set(data) == {"client_id", "period", "outcome", "current_total", "rows", "warnings"}
    today = data["current_total"]
    assert [r["total"] for r in data["rows"]] == pytest.approx([s * today for s in (0.5, 0.75, 1, 1.25, 1.5, 2)])
    assert {"expected_outcome_interval", "average_cpa", "marginal_cpa", "campaigns_at_upper_bound"} <= set(
        data["rows"][0]
    )
    chosen = http.get(
        "/v1/recommendations/budget/ladder", params={"totals": f"{today:.2f},{1.5 * today:.2f}"}, headers=auth(sim)
    )
    assert chosen.status_code == 200 and len(chosen.json()["rows"]) == 2
    for totals in ("abc", "1,-2", f"{today * 10:.0f}"):
        bad = http.get("/v1/recommendations/budget/ladder", params={"totals": totals}, headers=auth(sim))
        assert bad.status_code == 400 and error_of(bad)["code"] == "invalid_input", totals
    target = http.get("/v1/recommendations/budget/ladder", params={"target_cpa": 9}, headers=auth(sim))
    assert target.status_code == 400 and "not a target" in error_of(target)["message"]
    assert (
        http.get("/v1/recommendations/budget/ladder", params={"totals": "1" * 500}, headers=auth(sim)).status_code
        == 422
    )
    assert http.get("/v1/recommendations/budget/ladder").status_code == 401

    exported = http.get("/v1/recommendations/budget.csv", params={"period": "month"}, headers=auth(sim))
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == 'attachment; filename="xmo-budget-sim-month.csv"'
    lines = exported.text.splitlines()
    assert lines[0] == (
        "campaign_id,todays_spend,todays_split_at_this_total,recommended_spend,change,at_bound,"
        "expected_conversions,expected_conversions_low,expected_conversions_high,marginal_cpa"
    )
    plan = http.get("/v1/recommendations/budget", params={"period": "month"}, headers=auth(sim)).json()
    assert len(lines) == 1 + len(plan["campaigns"])
    assert {line.split(",")[0] for line in lines[1:]} == {c["campaign_id"] for c in plan["campaigns"]}
    assert http.get("/v1/recommendations/budget.csv").status_code == 401
