"""``/v1/experiments`` over real HTTP on a small simulated client (10 weeks of visits up to yesterday): design,
start, list, show, read, export the audience of and stop a visitor holdout; bad bodies get a 4xx naming the value
and store nothing; an overlapping test is refused; another client's key sees none of it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from core import audit
from core.apikeys import display_prefix
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from strategy.experiments.results import DesignRequest
from strategy.experiments.service import start_experiment
from tests.conftest import HomeAt, LiveServer
from tracking.compactor import compact_all
from tracking.experiments import Experiment, store_new_experiment
from xmo.simulator.cli import run_simulation

DAYS = 70
TODAY = datetime.now(UTC).date()
HOLDOUT = {"type": "holdout", "channel": "email", "weeks": 4, "holdout_share": 0.1}


@dataclass(frozen=True)
class Site:
    http: httpx.Client  # no key: each call names one
    shop: NewClient  # DAYS days of simulated visits up to yesterday
    other: NewClient  # nothing
    engine: Any
    layout: StorageLayout
    settings: Settings
    app: Any


def started_in_the_past(site: Site, request: DesignRequest, days_ago: int) -> Experiment:
    """A test started ``days_ago`` days ago, as the service ran then (a holdout cannot start in the past today)."""
    client = Tenants.from_settings(site.settings).get_client("shop")
    day = TODAY - timedelta(days=days_ago)
    started = start_experiment(site.settings, site.engine, client, request, actor="test", today=day)
    site.app.state.runtime.holdouts.forget("shop")  # what the API's start does
    return started


@pytest.fixture(scope="module")
def site(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from serving.app import create_app

    with home_at(tmp_path_factory.mktemp("experiments-api") / "xmo-home") as settings:
        tenants = Tenants.from_settings(settings)
        shop = tenants.create_client("Shop", ["shop.example"], client_id="shop")
        other = tenants.create_client("Other", ["other.example"], client_id="other")
        run_simulation(settings, "shop", days=DAYS, visitors_per_day=60, seed=3, start=TODAY - timedelta(days=DAYS))
        compact_all(settings)
        layout = StorageLayout.from_settings(settings)
        app = create_app(settings)
        with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            yield Site(http, shop, other, tenants.engine, layout, settings, app)


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert "Traceback" not in response.text
    return body["error"]


def ids(site: Site, client: NewClient) -> list[str]:
    answer = site.http.get("/v1/experiments", headers=auth(client))
    assert answer.status_code == 200, answer.text
    return [e["experiment_id"] for e in answer.json()["experiments"]]


def test_design_answers_the_plan_and_bad_bodies_store_nothing(site: Site) -> None:
    designed = site.http.post("/v1/experiments/design", json=HOLDOUT, headers=auth(site.shop))
    assert designed.status_code == 200, designed.text
    plan = designed.json()
    assert (plan["type"], plan["channel"], plan["weeks"], plan["holdout_share"]) == ("holdout", "email", 4, 0.1)
    assert date.fromisoformat(plan["end"]) - date.fromisoformat(plan["start"]) == timedelta(days=27)
    assert 0 <= plan["power"] <= 1 and plan["minimum_detectable_lift"] > 0 and plan["n_simulations"] >= 100
    assert plan["units"] > 1000  # the visitors of the last weeks

    bad: list[tuple[dict[str, Any], int, str]] = [
        ({**HOLDOUT, "holdout_share": 0.7}, 400, "holdout share"),
        ({**HOLDOUT, "lift": 0}, 400, "lift"),
        ({**HOLDOUT, "type": "magic"}, 422, "type"),
        ({**HOLDOUT, "weeks": 0}, 422, "weeks"),
        ({**HOLDOUT, "level": 1.5}, 422, "level"),
        ({**HOLDOUT, "start": "tomorrow"}, 422, "start"),
        ({**HOLDOUT, "colour": "red"}, 422, "colour"),
        ({"type": "holdout"}, 422, "channel"),
    ]
    for body, status, fragment in bad:
        for path in ("/v1/experiments/design", "/v1/experiments"):
            error = error_of(site.http.post(path, json=body, headers=auth(site.shop)), status)
            assert fragment in error["message"], (path, body, error)
    nan = site.http.post(
        "/v1/experiments",
        content=json.dumps({**HOLDOUT, "lift": float("nan")}),
        headers={**auth(site.shop), "Content-Type": "application/json"},
    )
    assert "lift" in error_of(nan, 422)["message"]
    assert ids(site, site.shop) == []  # nothing half-created


def test_start_read_export_and_stop_a_holdout(site: Site) -> None:
    body = {**HOLDOUT, "start": (TODAY - timedelta(days=21)).isoformat(), "note": "email holdout"}
    past = site.http.post("/v1/experiments", json=body, headers=auth(site.shop))
    assert "cannot start in the past" in error_of(past, 400)["message"]
    request = DesignRequest(type="holdout", channel="email", weeks=4, holdout_share=0.1, note="email holdout")
    experiment_id = started_in_the_past(site, request, days_ago=21).experiment_id
    assert experiment_id == f"holdout-email-{TODAY - timedelta(days=21):%Y%m%d}"
    stored = site.http.get(f"/v1/experiments/{experiment_id}", headers=auth(site.shop)).json()
    assert (stored["status"], stored["note"], stored["design"]["holdout_share"]) == ("running", "email holdout", 0.1)

    overlapping = site.http.post(
        "/v1/experiments", json={**HOLDOUT, "start": TODAY.isoformat()}, headers=auth(site.shop)
    )
    assert experiment_id in error_of(overlapping, 400)["message"]
    assert ids(site, site.shop) == [experiment_id]

    read = site.http.get(f"/v1/experiments/{experiment_id}/analysis", headers=auth(site.shop))
    assert read.status_code == 200, read.text
    analysis = read.json()
    assert analysis["interim"] is True and analysis["end"] == (TODAY - timedelta(days=1)).isoformat()
    assert "handoff" not in analysis
    for metric in ("conversions", "revenue"):
        m = analysis["metrics"][metric]
        assert m["low"] <= m["incremental"] <= m["high"]
        assert m["always_valid_low"] <= m["low"] and m["high"] <= m["always_valid_high"]
    assert analysis["sample_ratio"]["ok"] is True

    exported = site.http.get(f"/v1/experiments/{experiment_id}/audience", headers=auth(site.shop))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["visitor_id"] and len(rows) > 50
    assert site.http.get(f"/v1/experiments/{experiment_id}/audience", headers=auth(site.shop)).text == exported.text
    assert analysis["sample_ratio"]["holdout_visitors"] <= len(rows) - 1
    held = {"visitor_id": rows[1][0]}  # the pixel's flag and /v1/holdout say the same, at once
    assert site.http.get("/v1/holdout", params=held, headers=auth(site.shop)).json()["visitors"][0]["holdout"] == [
        experiment_id
    ]

    stopped = site.http.post(f"/v1/experiments/{experiment_id}/stop", headers=auth(site.shop))
    assert stopped.status_code == 200, stopped.text
    final = stopped.json()
    assert final["experiment"]["status"] == "stopped" and final["experiment"]["stop_date"] == analysis["end"]
    assert final["experiment"]["result"]["metrics"] == final["analysis"]["metrics"] == analysis["metrics"]
    assert "handoff" in final["experiment"]["result"]  # the lift test made, or why not
    assert site.http.get("/v1/holdout", params=held, headers=auth(site.shop)).json()["visitors"][0]["holdout"] == []
    assert (
        "already stopped"
        in error_of(site.http.post(f"/v1/experiments/{experiment_id}/stop", headers=auth(site.shop)), 409)["message"]
    )

    # a second test of another channel, running: listed before the stopped one
    again = site.http.post("/v1/experiments", json={**HOLDOUT, "channel": "social"}, headers=auth(site.shop))
    assert again.status_code == 201, again.text
    assert again.json()["start_date"] == TODAY.isoformat()
    actors = [e.actor for e in audit.entries(site.engine, "shop", action_prefix="experiment.start")]
    assert sorted(actors) == sorted(["test", audit.key_actor(display_prefix(site.shop.api_key))])
    listed = site.http.get("/v1/experiments", headers=auth(site.shop)).json()["experiments"]
    assert [(e["experiment_id"], e["status"]) for e in listed] == [
        (again.json()["experiment_id"], "running"),
        (experiment_id, "stopped"),
    ]


def test_unknown_ids_other_clients_and_non_holdouts(site: Site) -> None:
    geo = Experiment(
        experiment_id="geo-search-20260105",
        client_id="shop",
        type="geo",
        channel="search",
        campaign_id=None,
        kpi="conversions",
        action="raise",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 2, 1),
        weeks=4,
        lift=0.1,
        level=0.9,
        treatment_regions=("Europe/Berlin", "Europe/Rome"),
        control_regions=("Europe/Paris", "Europe/London"),
        holdout_share=None,
        spend_change=1000.0,
        design={},
        status="running",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    store_new_experiment(site.layout, site.engine, "shop", geo, actor="test")
    error = error_of(site.http.get(f"/v1/experiments/{geo.experiment_id}/audience", headers=auth(site.shop)), 400)
    assert "only a holdout" in error["message"]
    assert "nope-1" in error_of(site.http.get("/v1/experiments/nope-1", headers=auth(site.shop)), 404)["message"]
    for path in ("", "/analysis", "/audience"):
        found = site.http.get(f"/v1/experiments/{geo.experiment_id}{path}", headers=auth(site.other))
        assert error_of(found, 404)["code"] == "not_found"
    assert error_of(site.http.post(f"/v1/experiments/{geo.experiment_id}/stop", headers=auth(site.other)), 404)
    assert ids(site, site.other) == []
    assert error_of(site.http.get("/v1/experiments"), 401)
    assert error_of(site.http.get("/v1/experiments/Bad%20Id", headers=auth(site.shop)), 422)


def test_the_routes_are_documented_with_examples(site: Site) -> None:
    paths = site.http.get("/openapi.json").json()["paths"]
    assert {"/v1/experiments", "/v1/experiments/design", "/v1/experiments/{experiment_id}/stop"} <= set(paths)
    design = paths["/v1/experiments/design"]["post"]
    schema = design["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("ExperimentDesignIn")
    assert {"400", "409", "422"} <= set(design["responses"])
    audience = paths["/v1/experiments/{experiment_id}/audience"]["get"]
    assert "text/csv" in audience["responses"]["200"]["content"]
