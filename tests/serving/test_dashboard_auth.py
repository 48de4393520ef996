"""The dashboard's session cookie over real HTTP on 127.0.0.1: its flags, what it grants (only its client's
data, Bearer still first), how it ends (sign-out, expiry, key rotation, tampering), CSRF checks, and that
the API still refuses a request with neither key nor cookie."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from core.apikeys import KeyKind, hash_key
from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.app import create_app
from serving.dashboard.sign_in import SIGN_IN_TTL_S, SignInSigner

COOKIE_NAME = "acme_dashboard_test"  # not the default: the server must take it from its settings

KEYED_GETS = (
    "/v1/models",
    "/v1/goals",
    "/v1/reports/effectiveness",
    "/dashboard/api/trend",
    "/dashboard/api/model-health",
)


@dataclass
class Api:
    http: httpx.Client
    url: str
    acme: NewClient
    other: NewClient
    tenants: Tenants


@pytest.fixture
def api(settings: Settings, live_server_factory: Any) -> Iterator[Api]:
    settings = settings.model_copy(update={"dashboard_cookie_name": COOKIE_NAME})  # the name comes from settings
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme <script>alert(1)</script>", ["acme.example.com"], client_id="acme")
    other = tenants.create_client("Other", ["other.example.com"])
    with (
        live_server_factory(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as http,
    ):
        yield Api(http, server.url, acme, other, tenants)


def sign_in(api: Api, key: str, **headers: str) -> httpx.Response:
    return api.http.post("/sign-in", data={"api_key": key}, headers={"Origin": api.url, **headers})


def session_cookie(response: httpx.Response) -> str:
    assert response.status_code == 303 and response.headers["location"] == "/", response.text
    return response.cookies[COOKIE_NAME]


def with_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={token}"}


def test_sign_in_sets_a_strict_http_only_cookie_without_the_key(api: Api) -> None:
    response = sign_in(api, api.acme.api_key)
    token = session_cookie(response)
    header = response.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= flags
    assert "samesite=strict" in header.lower() and f"max-age={SIGN_IN_TTL_S}" in header.lower()
    assert "secure" not in flags  # plain http on loopback: a Secure cookie would never come back
    assert api.acme.api_key not in token and hash_key(api.acme.api_key) not in token
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["c"] == "acme" and set(payload) == {"c", "s", "e", "k"}
    assert payload["e"] == pytest.approx(time.time() + SIGN_IN_TTL_S, abs=60)


def test_the_cookie_is_secure_behind_https(api: Api) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as it would from a TLS-terminating proxy
    response = sign_in(api, api.acme.api_key, **{"X-Forwarded-Proto": "https"})
    session_cookie(response)
    assert "secure" in {part.strip().lower() for part in response.headers["set-cookie"].split(";")}


def test_a_wrong_or_non_api_key_gets_a_message_and_no_cookie(api: Api, settings: Settings) -> None:
    admin_key = api.tenants.rotate_key(KeyKind.ADMIN)
    for key in ("xmo_api_" + "x" * 32, "not a key", admin_key):
        response = sign_in(api, key)
        assert response.status_code == 401
        assert "That API key was not accepted" in response.text and 'role="alert"' in response.text
        assert COOKIE_NAME not in response.cookies and "set-cookie" not in response.headers
    empty = sign_in(api, "  ")
    assert empty.status_code == 400 and "Enter your API key." in empty.text


def test_the_cookie_grants_only_its_own_clients_data(api: Api) -> None:
    acme = session_cookie(sign_in(api, api.acme.api_key))
    other = session_cookie(sign_in(api, api.other.api_key))
    assert (
        api.http.post(
            "/v1/goals", json={"name": "purchase"}, headers={"Authorization": f"Bearer {api.other.api_key}"}
        ).status_code
        == 201
    )
    seen_by_acme = api.http.get("/v1/goals", headers=with_cookie(acme)).json()
    assert seen_by_acme["client_id"] == "acme" and seen_by_acme["goals"] == []
    seen_by_other = api.http.get("/v1/goals", headers=with_cookie(other)).json()
    assert seen_by_other["client_id"] == api.other.client.id and [g["name"] for g in seen_by_other["goals"]] == [
        "purchase"
    ]
    assert api.http.get("/v1/models", headers=with_cookie(acme)).json() == {"client_id": "acme", "champion": None}
    health = api.http.get("/dashboard/api/model-health", headers=with_cookie(acme)).json()
    assert health == {"client_id": "acme", "champion": None, "metrics": {}, "calibration": []}
    # A Bearer key comes first: acme's cookie with other's key is other's request
    both = api.http.get("/v1/goals", headers={**with_cookie(acme), "Authorization": f"Bearer {api.other.api_key}"})
    assert both.json()["client_id"] == api.other.client.id
    # No sessions yet: the trend says so plainly instead of failing
    trend = api.http.get("/dashboard/api/trend", headers=with_cookie(acme))
    assert trend.status_code == 409 and trend.json()["error"]["code"] == "not_ready"


def test_neither_key_nor_cookie_is_refused(api: Api) -> None:
    for path in KEYED_GETS:
        response = api.http.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
    assert api.http.get("/v1/goals", headers={"Authorization": f"Bearer {api.acme.api_key}"}).status_code == 200


def test_sign_out_clears_the_cookie_and_ends_the_session(api: Api) -> None:
    token = session_cookie(sign_in(api, api.acme.api_key))
    assert api.http.get("/v1/models", headers=with_cookie(token)).status_code == 200
    out = api.http.post("/sign-out", headers={**with_cookie(token), "Origin": api.url})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?signed_out=true"
    cleared = out.headers["set-cookie"].lower()
    assert cleared.startswith(f'{COOKIE_NAME}=""') and "max-age=0" in cleared
    replayed = api.http.get("/v1/models", headers=with_cookie(token))
    assert replayed.status_code == 401 and "sign in again" in replayed.json()["error"]["message"]
    assert api.http.get("/", headers=with_cookie(token)).headers["location"] == "/sign-in"
    page = api.http.get("/sign-in?signed_out=true")
    assert page.status_code == 200 and "You are signed out." in page.text


def test_expired_tampered_or_rotated_sessions_are_refused(api: Api, settings: Settings) -> None:
    signer = SignInSigner.from_settings(settings)  # the server's secret: derived from the same master key
    fresh, _ = signer.issue("acme", api.acme.api_key)
    assert api.http.get("/v1/models", headers=with_cookie(fresh)).json()["client_id"] == "acme"
    expired, _ = signer.issue("acme", api.acme.api_key, now=time.time() - SIGN_IN_TTL_S - 1)
    assert api.http.get("/v1/models", headers=with_cookie(expired)).status_code == 401
    version, payload, signature = fresh.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**body, "c": api.other.client.id}).encode()).decode().rstrip("=")
    assert api.http.get("/v1/models", headers=with_cookie(f"{version}.{forged}.{signature}")).status_code == 401
    assert api.http.get("/v1/models", headers=with_cookie("garbage")).status_code == 401
    other_secret, _ = SignInSigner(b"another secret" * 3).issue("acme", api.acme.api_key)
    assert api.http.get("/v1/models", headers=with_cookie(other_secret)).status_code == 401
    # A session signed in with a key dies when that key is rotated
    api.tenants.rotate_key(KeyKind.API, "acme")
    assert api.http.get("/v1/models", headers=with_cookie(fresh)).status_code == 401


def test_state_changes_with_the_cookie_need_this_sites_origin(api: Api) -> None:
    token = session_cookie(sign_in(api, api.acme.api_key))
    goal = {"name": "purchase"}
    foreign = api.http.post("/v1/goals", json=goal, headers={**with_cookie(token), "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden"
    bare = api.http.post("/v1/goals", json=goal, headers=with_cookie(token))  # no Origin, no Sec-Fetch-Site
    assert bare.status_code == 403
    cross_site = api.http.post("/v1/goals", json=goal, headers={**with_cookie(token), "Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    own = api.http.post("/v1/goals", json=goal, headers={**with_cookie(token), "Origin": api.url})
    assert own.status_code == 201, own.text
    # Bearer requests are not browser requests: no Origin needed
    keyed = api.http.post(
        "/v1/goals", json={"name": "enquiry"}, headers={"Authorization": f"Bearer {api.acme.api_key}"}
    )
    assert keyed.status_code == 201
    # Sign-in and sign-out posted from another site are refused
    login_csrf = sign_in(api, api.acme.api_key, Origin="https://evil.example")
    assert login_csrf.status_code == 403 and "set-cookie" not in login_csrf.headers
    logout_csrf = api.http.post("/sign-out", headers={**with_cookie(token), "Origin": "https://evil.example"})
    assert logout_csrf.status_code == 403
    assert api.http.get("/v1/models", headers=with_cookie(token)).status_code == 200


def test_pages_escape_data_and_forbid_outside_sources(api: Api) -> None:
    assert api.http.get("/").headers["location"] == "/sign-in"
    form = api.http.get("/sign-in")
    assert form.status_code == 200 and 'name="api_key"' in form.text
    token = session_cookie(sign_in(api, api.acme.api_key))
    page = api.http.get("/", headers=with_cookie(token))
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "http" not in policy
    assert page.headers["cache-control"] == "no-store"
    assert api.http.get("/sign-in", headers=with_cookie(token)).headers["location"] == "/"
    script = api.http.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text and "http://" not in script.text.replace("http://www.w3.org/2000/svg", "")
    assert api.http.get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert api.http.get("/dashboard/static/../deps.py").status_code == 404
    assert api.http.get("/dashboard/static/sessions.py").status_code == 404
