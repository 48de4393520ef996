"""Schemathesis against the live ``/openapi.json``: every operation, with valid keys, over real HTTP on
127.0.0.1 — valid, invalid and documented-example requests get no 5xx, and only the status codes, content
types and bodies the schema documents. Then explicit bad input (malformed JSON, wrong types, NaN/inf, unknown
campaigns, out-of-range days) on the strategy, goal and collection routes: a 4xx with a clear JSON message.

Bounded and derandomized (a fixed number of cases per operation, no shrinking) so that it runs in about a
minute and fails the same way twice; a failure prints a curl command that reproduces it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
import schemathesis.checks
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase

from core.apikeys import KeyKind
from core.layout import CLIENT_ID_PATTERN
from core.settings import Settings
from core.tenants import NewClient, Tenants
from features.dataset import build_dataset
from features.goals import GoalDefinition, GoalStore
from serving.app import create_app
from serving.deps import get_admin
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
MAX_EXAMPLES = 20
SLOW_MAX_EXAMPLES = 8  # routes that fit curves or models per request
SLOW_PATHS = ("/v1/recommendations/budget", "/v1/attribution")
MUST_SUCCEED = {
    "GET /v1/reports/effectiveness",
    "GET /v1/attribution",
    "GET /v1/recommendations/creatives",
    "GET /v1/recommendations/audiences",
    "GET /v1/goals",
    "POST /v1/goals",
    "GET /v1/models",
    "POST /v1/score",
    "GET /v1/spend",
}
CONFIG = schemathesis.Config.from_dict({"output": {"sanitization": {"enabled": False}}})  # full reproducers
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@dataclass(frozen=True)
class Home:
    """Client ``sim`` with a week of traffic, spend, a goal and a champion; the admin key."""

    settings: Settings
    sim: NewClient
    admin_key: str


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    path = tmp_path_factory.mktemp("openapi-fuzz") / "xmo-home"
    with home_at(path) as _settings:
        # the limiter has its own tests; here every generated request should reach its route
        settings = Settings(home=path, compact_interval_s=0, model_reload_interval_s=0, rate_limit_per_minute=0)
        tenants = Tenants.from_settings(settings)
        sim = tenants.create_client("Sim", ["sim.example"], client_id="sim")
        admin_key = tenants.rotate_key(KeyKind.ADMIN)
        run_simulation(settings, "sim", days=7, visitors_per_day=150, seed=5, start=date(2026, 4, 6))
        compact_all(settings)
        build_dataset(settings, "sim")
        train_conversion_model(settings, "sim", params=TINY, baselines=False)
        GoalStore(tenants.engine).add_goal("sim", GoalDefinition.create("purchase"))
        yield Home(settings, sim, admin_key)


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def admin_paths(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path) of every route that authenticates with the admin key."""
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and _depends_on(route.dependant, get_admin)
        for method in route.methods
    }


def key_for(operation: Any, home: Home, admin: set[tuple[str, str]]) -> str | None:
    """The key an operation takes: admin, site or API key (None for public routes)."""
    if (operation.method.upper(), operation.path) in admin:
        return home.admin_key
    schemes = {name for requirement in operation.definition.raw.get("security", []) for name in requirement}
    if "SiteKey" in schemes:
        return home.sim.site_key
    return home.sim.api_key if schemes else None


def _order(operation: Any) -> tuple[bool, str, str]:
    """Admin and key routes last: rotating a key there must not starve the other operations."""
    return ("/clients" in operation.path or "key" in operation.path, operation.path, operation.method)


def fuzz(strategy: Any, base_url: str, key: str | None, n: int, statuses: set[int]) -> None:
    """Up to ``n`` cases drawn from an operation's ``strategy`` (their statuses into ``statuses``); raises on the
    first failed check."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    session = requests.Session()

    @hypothesis.settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:  # a negative strategy with nothing to make invalid (no parameters, no body)
        pass
    finally:
        session.close()


def test_every_operation_keeps_its_schema(home: Home, live_server_factory: Any) -> None:
    app = create_app(home.settings)
    admin = admin_paths(app)
    with live_server_factory(app) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=CONFIG)
        operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
        assert len(operations) >= 20
        failures: list[str] = []
        statuses: dict[str, set[int]] = {}
        for operation in operations:
            n = SLOW_MAX_EXAMPLES if operation.path.startswith(SLOW_PATHS) else MAX_EXAMPLES
            key = key_for(operation, home, admin)
            strategies = [
                ("positive", operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE), n),
                ("negative", operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE), n),
                *(("documented example", strategy, 3) for strategy in operation.get_strategies_from_examples()),
            ]
            for kind, strategy, count in strategies:
                try:
                    fuzz(strategy, server.url, key, count, statuses.setdefault(operation.label, set()))
                except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, reported together
                    failures.append(f"{operation.label} [{kind}]: {exc}")
    assert not failures, "\n\n".join(failures)
    # not vacuous: the keys worked and the data answered (a 409 not_ready everywhere would pass the checks too)
    succeeded = {label for label, seen in statuses.items() if any(200 <= s < 400 for s in seen)}
    assert succeeded >= MUST_SUCCEED, {label: sorted(statuses[label]) for label in MUST_SUCCEED - succeeded}


# explicit bad input on the strategy, goal and collection routes ---------------------------------------------------
@pytest.fixture
def http(home: Home, live_server_factory: Any) -> Iterator[httpx.Client]:
    with (
        live_server_factory(create_app(home.settings)) as server,
        httpx.Client(base_url=server.url, timeout=60, headers=auth(home.sim)) as client,
    ):
        yield client


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON error of a response that must have ``status``; never a stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["error"]


NON_FINITE = ("nan", "NaN", "inf", "-inf", "Infinity", "1e309")
BAD_QUERIES: list[tuple[str, dict[str, str], int, str, str]] = [
    ("/v1/recommendations/budget", {"total": "lots"}, 422, "invalid_request", "total"),
    ("/v1/recommendations/budget", {"total": "-5"}, 422, "invalid_request", "total"),
    ("/v1/recommendations/budget", {"total": "500", "period": "fortnight"}, 422, "invalid_request", "period"),
    ("/v1/recommendations/budget/ladder", {"totals": "lots"}, 400, "invalid_input", "totals"),
    ("/v1/recommendations/budget", {"target_cpa": "5", "target_roas": "2"}, 400, "invalid_input", "not both"),
    ("/v1/attribution", {"model": "magic"}, 400, "invalid_input", "markov"),
    ("/v1/attribution", {"by": "planet"}, 400, "invalid_input", "channel"),
    ("/v1/attribution", {"lookback_days": "0"}, 400, "invalid_input", "lookback"),
    ("/v1/attribution", {"since": "2026-04-10", "until": "2026-04-01"}, 400, "invalid_input", "after"),
    ("/v1/reports/effectiveness", {"since": "yesterday"}, 422, "invalid_request", "since"),
    ("/v1/reports/effectiveness", {"since": "0001-01-01"}, 422, "invalid_request", "since"),
    ("/v1/reports/effectiveness", {"until": "9999-12-31"}, 422, "invalid_request", "until"),
    ("/v1/reports/effectiveness", {"since": "1969-12-31"}, 422, "invalid_request", "since"),
    # Unix time is not a day, though pydantic alone would read 0 as 1970-01-01 and 86400 as the day after
    ("/v1/reports/effectiveness", {"since": "0"}, 422, "invalid_request", "since"),
    ("/v1/reports/campaigns", {"until": "86400"}, 422, "invalid_request", "until"),
    ("/v1/attribution", {"since": "0"}, 422, "invalid_request", "since"),
    ("/v1/recommendations/audiences", {"since": "0"}, 422, "invalid_request", "since"),
    ("/dashboard/api/trend", {"since": "0"}, 422, "invalid_request", "since"),
    ("/v1/reports/effectiveness", {"since": "2026-04-06T00:00:00"}, 422, "invalid_request", "since"),
    ("/v1/reports/effectiveness", {"by": "weather"}, 422, "invalid_request", "by"),
    ("/v1/reports/effectiveness", {"since": "2000-01-01", "until": "2000-01-31"}, 409, "not_ready", "sessions"),
    ("/v1/recommendations/audiences", {"top": "0"}, 422, "invalid_request", "top"),
    ("/v1/recommendations/audiences", {"since": "2999-13-01"}, 422, "invalid_request", "since"),
    ("/v1/recommendations/creatives", {"campaign": "no-such-campaign"}, 404, "not_found", "no-such-campaign"),
    ("/v1/recommendations/creatives", {"campaign": "x" * 201}, 422, "invalid_request", "campaign"),
    ("/v1/recommendations/creatives", {"segment": "zodiac"}, 422, "invalid_request", "segment"),
]
BAD_GOALS: list[tuple[bytes, str, int, str, str]] = [
    (b'{"name": "purchase"', "application/json", 422, "invalid_request", "not valid JSON"),
    (b"\xff\xfe{}", "application/json", 422, "invalid_request", "not valid JSON"),
    (b'{"name": "\xc3\x28"}', "application/json", 400, "invalid_json", "not valid JSON"),
    (b'{"name": 5}', "application/json", 422, "invalid_request", "name"),
    (b'{"name": ["a"]}', "application/json", 422, "invalid_request", "name"),
    (b'{"name": "big", "min_value": NaN}', "application/json", 422, "invalid_request", "min_value"),
    (b'{"name": "big", "min_value": Infinity}', "application/json", 422, "invalid_request", "min_value"),
    (b'{"name": "big", "min_value": "ten"}', "application/json", 422, "invalid_request", "min_value"),
    (b'"purchase"', "application/json", 422, "invalid_request", "body"),
    (b"name=purchase", "application/x-www-form-urlencoded", 422, "invalid_request", "body"),
]
BAD_BATCHES: list[tuple[bytes, int, str]] = [
    (b"[{", 400, "invalid_json"),
    (b"[NaN]", 400, "invalid_json"),
    (b'{"event_type": "goal"}', 422, "invalid_request"),
    (b"[" + b",".join([b"{}"] * 1001) + b"]", 413, "too_large"),
]


def test_non_finite_numbers_get_a_json_error_naming_the_parameter(http: httpx.Client, home: Home) -> None:
    for value in NON_FINITE:
        for name in ("total", "min_ratio", "max_ratio", "target_cpa", "target_roas"):
            error = error_of(http.get("/v1/recommendations/budget", params={"total": "500", name: value}), 422)
            assert error["code"] == "invalid_request" and name in error["message"], (name, value, error)
        assert "lookback_days" in error_of(http.get("/v1/attribution", params={"lookback_days": value}), 422)["message"]
        assert "top" in error_of(http.get("/v1/recommendations/audiences", params={"top": value}), 422)["message"]
        pixel = {"k": home.sim.site_key, "e": "goal", "goal": "purchase", "value": value}
        assert "value" in error_of(http.get("/t.gif", params=pixel), 400)["message"]


def test_bad_query_parameters_get_a_clear_json_error(http: httpx.Client) -> None:
    for path, params, status, code, fragment in BAD_QUERIES:
        error = error_of(http.get(path, params=params), status)
        assert error["code"] == code and fragment in error["message"], (path, params, error)


def test_bad_goal_bodies_get_a_clear_json_error(http: httpx.Client) -> None:
    before = http.get("/v1/goals").json()["goals"]
    for body, content_type, status, code, fragment in BAD_GOALS:
        error = error_of(http.post("/v1/goals", content=body, headers={"Content-Type": content_type}), status)
        assert error["code"] == code and fragment in error["message"], (body, error)
    assert http.get("/v1/goals").json()["goals"] == before  # nothing stored


def test_bad_event_batches_get_a_clear_json_error(http: httpx.Client, home: Home) -> None:
    headers = {"Authorization": f"Bearer {home.sim.site_key}", "Content-Type": "application/json"}
    for body, status, code in BAD_BATCHES:
        assert error_of(http.post("/v1/events", content=body, headers=headers), status)["code"] == code, body[:40]


def _days_in(pattern: str) -> list[str]:
    probes = ["1969-12-31", "1970-01-01", "2026-02-28", "2199-12-31", "2200-01-01", "0", "86400", "2026-04-06T00:00:00"]
    return [day for day in probes if re.search(pattern, day)]


def test_the_document_states_the_bounds_and_answers_the_routes_enforce(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    day_params = [
        (path, p)
        for path, item in paths.items()
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p["name"] in ("since", "until") and p["schema"].get("format") == "date"
    ]
    assert len(day_params) >= 10  # reports (2), attribution, audiences, the dashboard's trend; since and until each
    for path, param in day_params:
        if path.startswith(("/v1/spend", "/v1/kpi")):
            continue  # deleting stored rows takes any day
        # the days the routes accept (1970-01-01 to 2199-12-31, YYYY-MM-DD only), as a pattern clients can check
        assert _days_in(param["schema"]["pattern"]) == ["1970-01-01", "2026-02-28", "2199-12-31"], (path, param)
    (audit_since,) = [p for p in paths["/v1/audit"]["get"]["parameters"] if p["name"] == "since"]
    assert {k: audit_since["schema"][k] for k in ("type", "format")} == {"type": "string", "format": "date-time"}
    assert "409" in paths["/v1/clients"]["post"]["responses"]  # a client of that id exists
    assert "409" in paths["/v1/models/reload"]["post"]["responses"]  # the alias names a version that cannot serve
    (lookback,) = [p for p in paths["/v1/attribution"]["get"]["parameters"] if p["name"] == "lookback_days"]
    assert lookback["schema"]["minimum"] == 1
    (client,) = [p for p in paths["/r"]["get"]["parameters"] if p["name"] == "c"]
    assert client["schema"]["pattern"] == CLIENT_ID_PATTERN.pattern
    goal_name = schema["components"]["schemas"]["GoalIn"]["properties"]["name"]["pattern"]
    names = ["purchase", "Big_Order-2", "-x", "a b", "ü", "x" * 64]
    assert [n for n in names if re.search(goal_name, n)] == ["purchase", "Big_Order-2"]


def test_every_documented_error_has_the_json_error_shape(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith("4") and "content" in response:
                    assert response["content"]["application/json"]["schema"] == error_ref, (method, path, status)
            if operation.get("security"):
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
