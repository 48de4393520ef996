"""``GET /v1/recommendations/creatives`` over real HTTP: the report of the key's own client only, the segment and
campaign options, and bad input as a 4xx with one JSON error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation
from xmo.simulator.world import build_world

DAYS, VISITORS, SEED = 14, 600, 21
Api = tuple[httpx.Client, NewClient, NewClient]


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    other = tenants.create_client("Other", ["other.example.com"])
    run_simulation(settings, acme.client.id, days=DAYS, visitors_per_day=VISITORS, seed=SEED)
    compact_all(settings)
    with serve(settings, timeout=60) as http:
        yield http, acme, other


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    assert "Traceback" not in response.text
    return body["error"]


def test_report_options_tenancy_and_bad_input(api: Api) -> None:
    http, acme, other = api
    response = http.get("/v1/recommendations/creatives", headers=auth(acme))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_id"] == acme.client.id and body["segment_by"] == "device"
    world = build_world(SEED, DAYS, VISITORS)
    assert {c["campaign_id"] for c in body["campaigns"]} == {c.id for c in world.campaigns}
    assert all("pulled toward" in c["shrinkage"] for c in body["campaigns"]), "the API explains shrunk rates"
    cells = body["recommendations"]
    assert {r["segment"] for r in cells} >= {"all", "desktop", "mobile"}
    for cell in cells:
        assert {"best_creative_id", "decision", "chance_to_be_best", "creatives", "sentences"} <= set(cell)
        assert sum(c["share"] for c in cell["creatives"]) == pytest.approx(1.0)
    assert "visitor" not in response.text

    one = http.get(
        "/v1/recommendations/creatives",
        params={"campaign": "cmp-search-brand", "segment": "returning"},
        headers=auth(acme),
    )
    assert one.status_code == 200, one.text
    assert {r["campaign_id"] for r in one.json()["recommendations"]} == {"cmp-search-brand"}
    assert {r["segment"] for r in one.json()["recommendations"]} == {"all", "new", "returning"}

    unknown = http.get("/v1/recommendations/creatives", params={"campaign": "cmp-nope"}, headers=auth(acme))
    assert unknown.status_code == 404 and "cmp-nope" in error_of(unknown)["message"]
    bad_segment = http.get("/v1/recommendations/creatives", params={"segment": "browser"}, headers=auth(acme))
    assert bad_segment.status_code == 422 and "segment" in error_of(bad_segment)["message"]

    missing = http.get("/v1/recommendations/creatives")
    assert missing.status_code == 401 and error_of(missing)["code"] == "unauthorized"
    theirs = http.get("/v1/recommendations/creatives", headers=auth(other))
    assert theirs.status_code == 409 and error_of(theirs)["code"] == "not_ready"
    assert "cmp-" not in theirs.text, "another client's key never sees Acme's campaigns"
    peek = http.get("/v1/recommendations/creatives", params={"campaign": "cmp-search-brand"}, headers=auth(other))
    assert peek.status_code == 409 and "known campaigns" not in error_of(peek)["message"]
