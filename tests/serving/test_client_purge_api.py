"""``DELETE /v1/clients/{id}`` and ``GET /v1/audit`` over real HTTP: admin key only, clear errors, paging, and a
purge that also empties this process's caches (a client created again under the same id starts from nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.apikeys import KeyKind
from core.settings import Settings
from core.tenants import NewClient, Tenants

Api = tuple[httpx.Client, str, NewClient]
EVENT = {"event_type": "pageview", "visitor_id": "v" * 32, "url": "https://acme.example.com/"}


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[Api]:
    tenants = Tenants.from_settings(settings)
    admin_key = tenants.rotate_key(KeyKind.ADMIN)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    with serve(settings, timeout=60) as http:
        yield http, admin_key, acme


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def test_purge_over_the_api_and_the_caches_forget(api: Api) -> None:
    http, admin_key, acme = api
    assert http.post("/v1/events", json=[EVENT], headers=bearer(acme.site_key)).json()["accepted"] == 1
    assert http.get("/v1/goals", headers=bearer(acme.api_key)).status_code == 200  # cached in this process
    purged = http.delete("/v1/clients/acme", headers=bearer(admin_key))
    assert purged.status_code == 200, purged.text
    certificate = purged.json()
    assert certificate["deleted"]["spooled events"] == 1 and certificate["deleted"]["API keys"] == 2
    assert http.get("/v1/goals", headers=bearer(acme.api_key)).status_code == 401
    assert http.post("/v1/events", json=[EVENT], headers=bearer(acme.site_key)).status_code == 401
    again = http.post("/v1/clients", json={"name": "Acme", "domains": ["acme.example.com"]}, headers=bearer(admin_key))
    assert again.status_code == 201
    reports = http.get("/v1/reports/campaigns", headers=bearer(again.json()["api_key"]))
    assert reports.status_code == 409, "the re-created client has no data: nothing cached survived"
    second = http.delete("/v1/clients/acme", headers=bearer(admin_key)).json()
    assert second["certificate_id"] != certificate["certificate_id"] and not second["already_purged"]


def test_purge_refusals_change_nothing(api: Api) -> None:
    http, admin_key, acme = api
    assert error(http.delete("/v1/clients/acme"))[:2] == (401, "unauthorized")
    assert error(http.delete("/v1/clients/acme", headers=bearer(acme.api_key)))[:2] == (403, "forbidden")
    status, code, message = error(http.delete("/v1/clients/nobody", headers=bearer(admin_key)))
    assert (status, code) == (404, "not_found") and "unknown client 'nobody'" in message
    assert error(http.delete("/v1/clients/Not%20An%20Id", headers=bearer(admin_key)))[0] == 422
    assert http.get("/v1/goals", headers=bearer(acme.api_key)).status_code == 200, "acme is untouched"


def test_audit_log_is_admin_only_filtered_and_paged(api: Api) -> None:
    http, admin_key, acme = api
    for _ in range(3):
        assert (
            http.post("/v1/clients/acme/keys/rotate", json={"kinds": ["api"]}, headers=bearer(admin_key)).status_code
            == 200
        )
    first = http.get("/v1/audit", params={"client_id": "acme", "limit": 2}, headers=bearer(admin_key)).json()
    assert [e["action"] for e in first["entries"]] == ["client.create", "key.rotate.api"]
    assert first["next_after"] == first["entries"][-1]["id"]
    rest = http.get(
        "/v1/audit", params={"client_id": "acme", "after": first["next_after"]}, headers=bearer(admin_key)
    ).json()
    assert [e["action"] for e in rest["entries"]] == ["key.rotate.api", "key.rotate.api"] and rest["next_after"] is None
    only = http.get("/v1/audit", params={"action": "key.rotate"}, headers=bearer(admin_key))
    assert {e["action"] for e in only.json()["entries"]} == {"key.rotate.admin", "key.rotate.api"}
    assert admin_key not in only.text and acme.api_key not in only.text, "keys never reach the audit log"
    assert error(http.get("/v1/audit", headers=bearer(acme.site_key)))[:2] == (403, "forbidden")
    assert error(http.get("/v1/audit", params={"since": "yesterday"}, headers=bearer(admin_key)))[0] == 422
    for unix_time in ("0", "1700000000"):  # the document says date-time; pydantic alone would read Unix time
        status, _, message = error(http.get("/v1/audit", params={"since": unix_time}, headers=bearer(admin_key)))
        assert status == 422 and "since" in message and "RFC 3339" in message
    since = http.get("/v1/audit", params={"since": "2000-01-01T00:00:00Z"}, headers=bearer(admin_key))
    assert since.status_code == 200 and since.json()["entries"]
