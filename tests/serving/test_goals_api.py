"""``/v1/goals`` over real HTTP on 127.0.0.1: a client's API key sees and changes only that client's goals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core import audit
from core.apikeys import display_prefix
from core.settings import Settings
from core.tenants import NewClient, Tenants
from features.goals import GoalStore

Api = tuple[httpx.Client, NewClient, NewClient]


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    other = tenants.create_client("Other", ["other.example.com"])
    with serve(settings, timeout=30) as http:
        yield http, acme, other


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    assert "Traceback" not in response.text
    return body["error"]


def test_add_list_remove(api: Api, settings: Settings) -> None:
    http, acme, _ = api
    empty = http.get("/v1/goals", headers=auth(acme))
    assert empty.status_code == 200
    assert empty.json() == {
        "client_id": "acme",
        "goals": [],
        "default_rule": {"active": True, "description": "every `goal` event counts as a conversion"},
    }
    created = http.post("/v1/goals", json={"name": "Purchase"}, headers=auth(acme))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "purchase",
        "kind": "purchase",
        "event_type": "goal",
        "match": "purchase",
        "path": None,
        "min_value": None,
    }
    thanks = {"name": "thanks", "kind": "enquiry", "event_type": "pageview", "path": "/contact/thank-you*"}
    assert http.post("/v1/goals", json=thanks, headers=auth(acme)).status_code == 201
    listed = http.get("/v1/goals", headers=auth(acme)).json()
    assert [g["name"] for g in listed["goals"]] == ["purchase", "thanks"]
    assert listed["default_rule"]["active"] is False
    removed = http.delete("/v1/goals/purchase", headers=auth(acme))
    assert removed.status_code == 204 and removed.content == b""
    assert [g.name for g in GoalStore.from_settings(settings).list_goals("acme")] == ["thanks"]
    store = GoalStore.from_settings(settings)
    actors = [(e.action, e.actor) for e in audit.entries(store.engine, "acme") if e.action.startswith("goal.")]
    assert len(actors) == 3 and {a[1] for a in actors} == {f"key:{display_prefix(acme.api_key)}"}


def test_duplicates_and_unknown_names(api: Api) -> None:
    http, acme, _ = api
    assert http.post("/v1/goals", json={"name": "purchase"}, headers=auth(acme)).status_code == 201
    duplicate = http.post("/v1/goals", json={"name": "purchase", "match": "buy*"}, headers=auth(acme))
    assert duplicate.status_code == 409 and error_of(duplicate)["code"] == "conflict"
    missing = http.delete("/v1/goals/enquiry", headers=auth(acme))
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_keys_are_required_and_clients_are_isolated(api: Api) -> None:
    http, acme, other = api
    assert http.post("/v1/goals", json={"name": "purchase"}, headers=auth(acme)).status_code == 201
    for response in (
        http.get("/v1/goals"),
        http.post("/v1/goals", json={"name": "x"}),
        http.post("/v1/goals", json={"name": 5, "bogus": True}),  # the key is checked before the body
        http.delete("/v1/goals/purchase"),
        http.get("/v1/goals", headers={"Authorization": "Bearer xmo_api_forged"}),
    ):
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"
    site_key = http.get("/v1/goals", headers={"Authorization": f"Bearer {acme.site_key}"})
    assert site_key.status_code == 403 and error_of(site_key)["code"] == "forbidden"
    assert http.get("/v1/goals", headers=auth(other)).json()["goals"] == []
    assert http.delete("/v1/goals/purchase", headers=auth(other)).status_code == 404
    assert [g["name"] for g in http.get("/v1/goals", headers=auth(acme)).json()["goals"]] == ["purchase"]
    # the same name is free for another client
    assert http.post("/v1/goals", json={"name": "purchase"}, headers=auth(other)).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({}, 422, "invalid_request", "name"),
        ({"name": "x", "pattern": "*"}, 422, "invalid_request", "pattern"),
        ({"name": "x", "kind": "sale"}, 422, "invalid_request", "kind"),
        ({"name": "x", "event_type": "view"}, 422, "invalid_request", "event_type"),
        ({"name": "x", "min_value": -1}, 422, "invalid_request", "min_value"),
        ({"name": "x", "match": ""}, 422, "invalid_request", "match"),
        ({"name": "x", "path": "/" * 201}, 422, "invalid_request", "path"),
        ([{"name": "x"}], 422, "invalid_request", "body"),
        ({"name": "bad name"}, 400, "invalid_input", "invalid goal name"),
        ({"name": "x", "event_type": "click"}, 400, "invalid_input", "needs a path or match pattern"),
        ({"name": "x", "path": "/a\u0000b"}, 400, "invalid_input", "control characters"),
    ],
)
def test_bad_bodies_get_a_json_error(api: Api, body: Any, status: int, code: str, message: str) -> None:
    http, acme, _ = api
    response = http.post("/v1/goals", json=body, headers=auth(acme))
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code and message in error["message"], error


def test_malformed_json_and_openapi_examples(api: Api) -> None:
    http, acme, _ = api
    response = http.post("/v1/goals", content=b"{not json", headers={**auth(acme), "Content-Type": "application/json"})
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_request"
    schema = http.get("/openapi.json").json()
    assert {"get", "post"} <= set(schema["paths"]["/v1/goals"]) and "delete" in schema["paths"]["/v1/goals/{name}"]
    examples = schema["components"]["schemas"]["GoalIn"]["examples"]
    assert {"name": "purchase"} in examples
