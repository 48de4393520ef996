"""Admin routes over real HTTP on 127.0.0.1: create and list clients, rotate their keys; audited; admin key only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core import audit
from core.apikeys import KeyKind, display_prefix
from core.settings import Settings
from core.tenants import NewClient, Tenants

Api = tuple[httpx.Client, Tenants, str, NewClient]
EVENT = {"event_type": "pageview", "visitor_id": "v" * 32}


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    admin_key = tenants.rotate_key(KeyKind.ADMIN)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    with serve(settings, timeout=30) as http:
        yield http, tenants, admin_key, acme


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


def test_create_returns_working_keys_once_and_is_audited(api: Api, settings: Settings) -> None:
    http, registry, admin_key, _ = api
    body = {"name": "Globex Shop", "domains": ["shop.globex.example", "*.globex.example"], "timezone": "Europe/Berlin"}
    created = http.post("/v1/clients", json=body, headers=bearer(admin_key))
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["client"]["client_id"] == "globex-shop"
    assert answer["client"]["allowed_domains"] == ["shop.globex.example", "*.globex.example"]
    assert answer["client"]["timezone"] == "Europe/Berlin" and answer["client"]["collect_pii"] is False
    assert answer["api_key"].startswith("xmo_api_") and answer["site_key"].startswith("xmo_site_")
    goals = http.get("/v1/goals", headers=bearer(answer["api_key"]))
    assert goals.status_code == 200 and goals.json()["client_id"] == "globex-shop"
    events = http.post("/v1/events", json=[EVENT], headers=bearer(answer["site_key"]))
    assert events.status_code == 202 and events.json()["accepted"] == 1
    listed = http.get("/v1/clients", headers=bearer(admin_key))
    assert listed.status_code == 200
    assert [c["client_id"] for c in listed.json()["clients"]] == ["acme", "globex-shop"]
    assert answer["api_key"] not in listed.text and "xmo_" not in listed.text, "keys are shown once"
    entries = [(e.action, e.actor) for e in audit.entries(registry.engine, "globex-shop")]
    assert entries == [("client.create", f"key:{display_prefix(admin_key)}")]
    assert (settings.home / "keys").exists()


def test_create_refuses_bad_input_and_duplicates(api: Api) -> None:
    http, _, admin_key, _ = api
    duplicate = http.post("/v1/clients", json={"name": "Acme", "domains": ["x.example"]}, headers=bearer(admin_key))
    assert duplicate.status_code == 409 and error_code(duplicate) == "conflict"
    bad_domain = http.post("/v1/clients", json={"name": "Bad", "domains": ["not a host"]}, headers=bearer(admin_key))
    assert bad_domain.status_code == 400 and "domain" in bad_domain.json()["error"]["message"]
    for wide in ("*.com", "*.co.uk", "*.github.io", "*"):
        refused = http.post("/v1/clients", json={"name": "Wide", "domains": [wide]}, headers=bearer(admin_key))
        assert refused.status_code == 400 and error_code(refused) == "invalid_input", refused.text
        assert wide in refused.json()["error"]["message"]
    assert "wide" not in [c["client_id"] for c in http.get("/v1/clients", headers=bearer(admin_key)).json()["clients"]]
    bad_zone = http.post(
        "/v1/clients",
        json={"name": "Zone", "domains": ["z.example"], "timezone": "Mars/Base"},
        headers=bearer(admin_key),
    )
    assert bad_zone.status_code == 400 and error_code(bad_zone) == "invalid_input"
    no_domains = http.post("/v1/clients", json={"name": "None", "domains": []}, headers=bearer(admin_key))
    assert no_domains.status_code == 422 and error_code(no_domains) == "invalid_request"
    control = http.post("/v1/clients", json={"name": "a\x00b", "domains": ["c.example"]}, headers=bearer(admin_key))
    assert control.status_code == 422


def test_only_the_admin_key_may_administer(api: Api) -> None:
    http, _, _, acme = api
    body = {"name": "Sneaky", "domains": ["sneaky.example"]}
    assert http.post("/v1/clients", json=body).status_code == 401
    for key in (acme.api_key, acme.site_key):
        for response in (
            http.post("/v1/clients", json=body, headers=bearer(key)),
            http.get("/v1/clients", headers=bearer(key)),
            http.post("/v1/clients/acme/keys/rotate", headers=bearer(key)),
        ):
            assert response.status_code == 403 and error_code(response) == "forbidden"


def test_rotation_revokes_the_old_keys_at_once(api: Api) -> None:
    http, registry, admin_key, acme = api
    # warm the caches with the old keys first: rotation must not wait for them to expire
    assert http.get("/v1/goals", headers=bearer(acme.api_key)).status_code == 200
    assert http.post("/v1/events", json=[EVENT], headers=bearer(acme.site_key)).status_code == 202
    only_api = http.post("/v1/clients/acme/keys/rotate", headers=bearer(admin_key))
    assert only_api.status_code == 200, only_api.text
    rotated = only_api.json()
    assert rotated["revoked"] == ["api"] and rotated["site_key"] is None
    assert http.get("/v1/goals", headers=bearer(acme.api_key)).status_code == 401
    assert http.get("/v1/goals", headers=bearer(rotated["api_key"])).status_code == 200
    assert http.post("/v1/events", json=[EVENT], headers=bearer(acme.site_key)).status_code == 202  # untouched

    both = http.post("/v1/clients/acme/keys/rotate", json={"kinds": ["site", "api"]}, headers=bearer(admin_key))
    keys = both.json()
    assert both.status_code == 200 and sorted(keys["revoked"]) == ["api", "site"]
    assert http.post("/v1/events", json=[EVENT], headers=bearer(acme.site_key)).status_code == 401
    assert http.post("/v1/events", json=[EVENT], headers=bearer(keys["site_key"])).status_code == 202
    assert http.get("/v1/goals", headers=bearer(rotated["api_key"])).status_code == 401
    assert http.get("/v1/goals", headers=bearer(keys["api_key"])).status_code == 200
    actions = [e.action for e in audit.entries(registry.engine, "acme") if e.action.startswith("key.")]
    assert actions == ["key.rotate.api", "key.rotate.site", "key.rotate.api"]


def test_rotation_of_unknown_clients_and_kinds(api: Api) -> None:
    http, _, admin_key, _ = api
    unknown = http.post("/v1/clients/nobody/keys/rotate", headers=bearer(admin_key))
    assert unknown.status_code == 404 and error_code(unknown) == "not_found"
    admin_kind = http.post("/v1/clients/acme/keys/rotate", json={"kinds": ["admin"]}, headers=bearer(admin_key))
    assert admin_kind.status_code == 422
    bad_id = http.post("/v1/clients/Not_An_Id/keys/rotate", headers=bearer(admin_key))
    assert bad_id.status_code == 422


def test_benchmarks_opt_in_at_creation_and_by_update(api: Api) -> None:
    http, registry, admin_key, acme = api
    created = http.post(
        "/v1/clients",
        json={"name": "Pooled", "domains": ["pooled.example"], "benchmarks_opt_in": True},
        headers=bearer(admin_key),
    )
    assert created.status_code == 201 and created.json()["client"]["benchmarks_opt_in"] is True
    assert registry.get_client("acme").benchmarks_opt_in is False
    updated = http.patch("/v1/clients/acme", json={"benchmarks_opt_in": True}, headers=bearer(admin_key))
    assert updated.status_code == 200, updated.text
    assert updated.json()["benchmarks_opt_in"] is True and updated.json()["retention_days"] == 395
    assert registry.get_client("acme").benchmarks_opt_in is True
    entry = next(e for e in audit.entries(registry.engine, "acme") if e.action == "client.update")
    assert entry.actor.startswith("key:xmo_admin_") and admin_key not in entry.actor
    assert entry.details == {"benchmarks_opt_in": {"from": False, "to": True}}
    listed = http.get("/v1/clients", headers=bearer(admin_key)).json()["clients"]
    assert {c["client_id"]: c["benchmarks_opt_in"] for c in listed} == {"acme": True, "pooled": True}
    forbidden = http.patch("/v1/clients/acme", json={"benchmarks_opt_in": False}, headers=bearer(acme.api_key))
    assert forbidden.status_code == 403 and error_code(forbidden) == "forbidden"


def test_bad_updates_are_refused_and_change_nothing(api: Api) -> None:
    http, registry, admin_key, _ = api
    before = registry.get_client("acme")
    cases = [
        ("acme", {}, 400, "invalid_input"),
        ("acme", {"retention_days": 0}, 422, "invalid_request"),
        ("acme", {"benchmarks_opt_in": "maybe"}, 422, "invalid_request"),
        ("acme", {"collect_pii": True}, 422, "invalid_request"),
        ("nobody", {"benchmarks_opt_in": True}, 404, "not_found"),
    ]
    for client_id, body, status, code in cases:
        response = http.patch(f"/v1/clients/{client_id}", json=body, headers=bearer(admin_key))
        assert response.status_code == status and error_code(response) == code, (body, response.text)
    assert registry.get_client("acme") == before
    assert not [e for e in audit.entries(registry.engine) if e.action == "client.update"]


def test_currency_is_set_on_create_and_update_and_answered(api: Api) -> None:
    http, registry, admin_key, _ = api
    body = {"name": "Yen Shop", "domains": ["yen.example.com"], "currency": "jpy"}
    created = http.post("/v1/clients", json=body, headers=bearer(admin_key))
    assert created.status_code == 201 and created.json()["client"]["currency"] == "JPY"
    listed = http.get("/v1/clients", headers=bearer(admin_key)).json()["clients"]
    assert {c["client_id"]: c["currency"] for c in listed} == {"acme": None, "yen-shop": "JPY"}
    updated = http.patch("/v1/clients/acme", json={"currency": "CHF"}, headers=bearer(admin_key))
    assert updated.status_code == 200 and updated.json()["currency"] == "CHF"
    assert registry.get_client("acme").currency == "CHF"
    bad = http.patch("/v1/clients/acme", json={"currency": "XYZ"}, headers=bearer(admin_key))
    assert bad.status_code == 400 and error_code(bad) == "invalid_input" and "XYZ" in bad.json()["error"]["message"]
    assert registry.get_client("acme").currency == "CHF"
