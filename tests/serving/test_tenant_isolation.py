"""Tenant isolation over every route of the app, found by enumerating ``app.routes`` (a new route is covered
without anyone remembering to add it): no key → 401, a key of another kind → 403, and another client's API
key never sees or changes the first client's data. A route that takes no key must be listed as public here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from core.apikeys import KeyKind
from core.settings import Settings
from core.tenants import NewClient, Tenants
from features.dataset import build_dataset
from features.definitions import EXAMPLE_SESSIONS
from features.goals import GoalDefinition, GoalStore
from serving.app import create_app
from serving.deps import get_admin, get_tenant
from strategy.experiments.results import DesignRequest
from strategy.experiments.service import start_experiment
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
A_ID, B_ID = "alpha7q", "bravo3k"
A_GOAL = "alpha7q-goal"
A_EXPERIMENT = "holdout-email-20260406"  # a visitor holdout of client A
# Client A's data carries these; client B has no data at all, so none of them may reach B
A_MARKERS = (A_ID, A_GOAL, "cmp-", "xmo-conversion-alpha7q")

# Routes anyone may call: documentation, probes, the pixel, links, the opt-out page, the dashboard's shell
PUBLIC = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/t.gif"),
    ("GET", "/r"),
    ("GET", "/optout"),
    ("POST", "/optout"),
    ("DELETE", "/optout"),
    ("GET", "/"),
    ("GET", "/sign-in"),
    ("POST", "/sign-in"),
    ("POST", "/sign-out"),
    ("GET", "/dashboard/static/{name:path}"),
}
SITE_KEY_ROUTES = {("POST", "/v1/events")}  # the key is checked in the handler (the edge's cache), not a dependency
# Values of required query parameters (a new required parameter needs an entry)
QUERY_VALUES = {
    "total": "1000",
    "campaign": "cmp-search-brand",
    "what": "events",
    "recipient": "Auditor",
    "legal_basis": "Court order 1",
    "visitor_id": "bravo-visitor-0000000000000001",
}
# Bodies client B sends to routes that take one (B's own data, never A's ids)
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/score"): {"sessions": [dict(EXAMPLE_SESSIONS[0])]},
    ("POST", "/v1/goals"): {"name": "bravo-goal"},
    ("POST", "/v1/spend"): {"rows": [{"date": "2026-04-07", "campaign_id": "bravo-campaign", "spend": 1.5}]},
    ("PUT", "/v1/spend"): {"rows": [{"date": "2026-04-07", "campaign_id": "bravo-campaign", "spend": 1.5}]},
    ("POST", "/v1/kpi"): {"rows": [{"date": "2026-04-07", "revenue": 5.0}]},
    ("PUT", "/v1/kpi"): {"rows": [{"date": "2026-04-07", "revenue": 5.0}]},
    ("POST", "/v1/events"): [],
    ("POST", "/v1/clients"): {"name": "Intruder", "domains": ["intruder.example"]},
    ("POST", "/v1/erasure"): {"visitor_ids": ["bravo-visitor-0000000000000001"]},
    ("POST", "/v1/subject-export"): {"visitor_ids": ["bravo-visitor-0000000000000001"]},
    ("POST", "/v1/holdout"): {"visitor_ids": ["bravo-visitor-0000000000000001"]},
    ("POST", "/v1/experiments/design"): {"type": "holdout", "channel": "email"},
    ("POST", "/v1/experiments"): {"type": "holdout", "channel": "email"},
}


@dataclass(frozen=True)
class Home:
    settings: Settings
    a: NewClient
    b: NewClient
    admin_key: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    kind: KeyKind
    route: APIRoute


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """Client A with a week of traffic, spend, a goal and a champion; client B with nothing; the admin key."""
    path = tmp_path_factory.mktemp("isolation") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        a = tenants.create_client("Alpha", ["alpha.example"], client_id=A_ID)
        b = tenants.create_client("Bravo", ["bravo.example"], client_id=B_ID)
        admin_key = tenants.rotate_key(KeyKind.ADMIN)
        run_simulation(settings, A_ID, days=7, visitors_per_day=150, seed=5, start=date(2026, 4, 6))
        compact_all(settings)
        build_dataset(settings, A_ID)
        train_conversion_model(settings, A_ID, params=TINY, baselines=False)
        GoalStore(tenants.engine).add_goal(A_ID, GoalDefinition.create(A_GOAL))
        start_experiment(
            settings,
            tenants.engine,
            tenants.get_client(A_ID),
            DesignRequest(type="holdout", channel="email", weeks=1, start=date(2026, 4, 13)),
            actor="test",
            today=date(2026, 4, 13),  # started on its first day, after the week of traffic
        )
        yield Home(settings, a, b, admin_key)


@pytest.fixture
def app(home: Home) -> FastAPI:
    return create_app(home.settings)


@pytest.fixture
def http(app: FastAPI, live_server_factory: Any) -> Iterator[httpx.Client]:
    with live_server_factory(app) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def _required_queries(dependant: Dependant) -> list[str]:
    names = [p.alias for p in dependant.query_params if p.field_info.is_required()]
    return names + [n for d in dependant.dependencies for n in _required_queries(d)]


def operations(app: FastAPI) -> list[Operation]:
    """Every keyed (method, path) of the app; fails for a route that takes no key and is not listed public."""
    found, unkeyed = [], []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        methods = sorted(getattr(route, "methods", None) or []) if isinstance(route, APIRoute) else []
        if not isinstance(route, APIRoute):
            methods = [m for m in sorted(getattr(route, "methods", None) or []) if m != "HEAD"]
        for method in methods:
            key = (method, context.path or "")
            if isinstance(route, APIRoute) and _depends_on(route.dependant, get_tenant):
                found.append(Operation(method, key[1], KeyKind.API, route))
            elif isinstance(route, APIRoute) and _depends_on(route.dependant, get_admin):
                found.append(Operation(method, key[1], KeyKind.ADMIN, route))
            elif isinstance(route, APIRoute) and key in SITE_KEY_ROUTES:
                found.append(Operation(method, key[1], KeyKind.SITE, route))
            elif key not in PUBLIC:
                unkeyed.append(f"{method} {key[1]}")
    assert not unkeyed, f"routes without a key dependency (add TenantDep/AdminDep, or list them as public): {unkeyed}"
    return found


def url_of(op: Operation) -> tuple[str, dict[str, str]]:
    """The operation's path with client A's real ids, and its required query parameters."""
    path = op.path.replace("{client_id}", A_ID).replace("{name}", A_GOAL).replace("{experiment_id}", A_EXPERIMENT)
    assert "{" not in path, f"no value for a path parameter of {op.path}: add one to url_of"
    missing = [n for n in _required_queries(op.route.dependant) if n not in QUERY_VALUES]
    assert not missing, f"{op.method} {op.path} requires {missing}: add values to QUERY_VALUES"
    return path, {n: QUERY_VALUES[n] for n in _required_queries(op.route.dependant)}


def call(http: httpx.Client, op: Operation, key: str | None, body: Any = None) -> httpx.Response:
    path, params = url_of(op)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return http.request(op.method, path, params=params, headers=headers, json=body)


def error_code(response: httpx.Response) -> str:
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return str(body["error"]["code"])


def keys_of(home: Home, client: NewClient) -> dict[KeyKind, str]:
    return {KeyKind.API: client.api_key, KeyKind.SITE: client.site_key, KeyKind.ADMIN: home.admin_key}


def test_the_enumeration_sees_every_kind_of_route(app: FastAPI) -> None:
    ops = {(o.method, o.path): o.kind for o in operations(app)}
    assert ops[("GET", "/v1/goals")] is KeyKind.API
    assert ops[("POST", "/v1/clients")] is KeyKind.ADMIN
    assert ops[("POST", "/v1/events")] is KeyKind.SITE
    assert ops[("PUT", "/v1/spend")] is KeyKind.API
    assert len([o for o in ops if o[1].startswith("/v1/")]) >= 23


def test_no_key_is_401_and_another_kind_is_403(app: FastAPI, home: Home, http: httpx.Client) -> None:
    keys = keys_of(home, home.a)
    failures = []
    for op in operations(app):
        missing = call(http, op, None)
        if missing.status_code != 401 or error_code(missing) != "unauthorized":
            failures.append(f"{op.method} {op.path} without a key: {missing.status_code}")
        for kind, key in keys.items():
            if kind is op.kind:
                continue
            wrong = call(http, op, key)
            if wrong.status_code != 403 or error_code(wrong) != "forbidden":
                failures.append(f"{op.method} {op.path} with a {kind.value} key: {wrong.status_code}")
        revoked = call(http, op, keys[op.kind][:-4] + "AAAA")
        if revoked.status_code != 401:
            failures.append(f"{op.method} {op.path} with an unknown key: {revoked.status_code}")
    assert not failures, "\n".join(failures)


def _leaks(response: httpx.Response, sent: str) -> list[str]:
    """A's markers in the response that the request did not carry itself (an echoed id is no leak)."""
    return [m for m in A_MARKERS if m in response.text and m not in sent]


def test_another_clients_key_never_sees_or_changes_the_first_clients_data(
    app: FastAPI, home: Home, http: httpx.Client
) -> None:
    own_keys = keys_of(home, home.b)
    a_api = {"Authorization": f"Bearer {home.a.api_key}"}
    before = {p: http.get(p, headers=a_api).json() for p in ("/v1/goals", "/v1/spend", "/v1/kpi", "/v1/models")}
    assert A_GOAL in str(before["/v1/goals"]) and "cmp-" in str(before["/v1/spend"])
    failures = []
    for op in operations(app):
        if op.kind is KeyKind.ADMIN:  # the operator's key spans clients by design; B's keys get 403 (above)
            continue
        body = BODIES.get((op.method, op.path))
        response = call(http, op, own_keys[op.kind], body)
        sent = f"{response.request.url} {body}"
        if response.status_code >= 500:
            failures.append(f"{op.method} {op.path}: {response.status_code}")
        elif response.status_code >= 400:
            error_code(response)
        leaked = _leaks(response, sent)
        if leaked:
            failures.append(f"{op.method} {op.path} with B's key shows A's {leaked}: {response.text[:200]}")
    assert not failures, "\n".join(failures)
    after = {p: http.get(p, headers=a_api).json() for p in before}
    assert after == before, "B's requests changed A's goals, spend, KPIs or models"


def test_the_first_clients_own_key_sees_its_data(home: Home, http: httpx.Client) -> None:
    """The markers above are real: A's own key does see them (so their absence for B means something)."""
    a_api = {"Authorization": f"Bearer {home.a.api_key}"}
    paths = ("/v1/goals", "/v1/models", "/v1/spend", "/v1/reports/campaigns")
    seen = {path: [m for m in A_MARKERS if m in http.get(path, headers=a_api).text] for path in paths}
    assert all(seen.values()), seen
