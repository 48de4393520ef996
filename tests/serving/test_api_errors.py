"""Auth and bad input on the API: clear 4xx answers with one JSON shape, never a stack trace."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import Tenants
from features.definitions import SCORING_COLUMNS
from serving.app import create_app
from serving.schemas import SessionRecord

SESSION = {"utm_source": "google", "pageviews": 3}


def test_session_record_accepts_exactly_the_scoring_columns() -> None:
    assert set(SessionRecord.model_fields) == set(SCORING_COLUMNS)


@pytest.fixture
def api(serve: Any, settings: Settings):  # type: ignore[no-untyped-def]
    created = Tenants.from_settings(settings).create_client("Shop", ["shop.example.com"])
    with serve(settings) as http:
        yield http, created


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert "Traceback" not in response.text
    return body["error"]


def test_score_needs_an_api_key_of_the_right_kind(api) -> None:  # type: ignore[no-untyped-def]
    http, created = api
    missing = http.post("/v1/score", json={"sessions": [SESSION]})
    assert missing.status_code == 401 and error_of(missing)["code"] == "unauthorized"
    wrong = http.post(
        "/v1/score", json={"sessions": [SESSION]}, headers={"Authorization": f"Bearer {created.site_key}"}
    )
    assert wrong.status_code == 403 and error_of(wrong)["code"] == "forbidden"
    forged = http.post("/v1/score", json={"sessions": [SESSION]}, headers={"Authorization": "Bearer xmo_api_forged"})
    assert forged.status_code == 401


def test_score_without_a_model_says_how_to_get_one(api) -> None:  # type: ignore[no-untyped-def]
    http, created = api
    response = http.post(
        "/v1/score", json={"sessions": [SESSION]}, headers={"Authorization": f"Bearer {created.api_key}"}
    )
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "not_ready" and "xmo train shop" in error["message"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"sessions": [{**SESSION, "email": "a@example.com"}]}, "email"),
        ({"sessions": [{"pageviews": -1}]}, "pageviews"),
        ({"sessions": []}, "sessions"),
        ({"sessions": [SESSION] * 10_001}, "sessions"),
        ({"session": SESSION}, "sessions"),
    ],
)
def test_bad_score_bodies_are_422_with_location(api, body: dict[str, object], where: str) -> None:  # type: ignore[no-untyped-def]
    http, created = api
    response = http.post("/v1/score", json=body, headers={"Authorization": f"Bearer {created.api_key}"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_request" and where in error["message"]


def test_recommendations_without_data_are_409(api) -> None:  # type: ignore[no-untyped-def]
    http, created = api
    headers = {"Authorization": f"Bearer {created.api_key}"}
    budget = http.get("/v1/recommendations/budget", params={"total": 1000}, headers=headers)
    assert budget.status_code == 409 and "spend" in error_of(budget)["message"]
    creatives = http.get("/v1/recommendations/creatives", headers=headers)
    assert creatives.status_code == 409 and "no sessions" in error_of(creatives)["message"]
    bad_total = http.get("/v1/recommendations/budget", params={"total": -5}, headers=headers)
    assert bad_total.status_code == 422


def test_unknown_route_is_json_404(api) -> None:  # type: ignore[no-untyped-def]
    http, _ = api
    response = http.get("/v1/nothing-here")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_an_unexpected_error_is_a_json_500_and_logs_no_request_data(
    settings: Settings, live_server_factory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "leaky.person@example.com"
    app = create_app(settings)

    @app.get("/boom")
    async def boom(email: str) -> None:
        raise ValueError(f"cannot handle {email}")

    with live_server_factory(app) as server, httpx.Client(base_url=server.url) as http:
        response = http.get("/boom", params={"email": secret})
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert secret not in caplog.text and "ValueError" in caplog.text


def test_invalid_utf8_in_pixel_parameters_is_400(api) -> None:  # type: ignore[no-untyped-def]
    http, created = api
    response = http.get(f"/t.gif?k={created.site_key}&url=https%3A%2F%2Fshop.example.com%2F%FF%FE")
    assert response.status_code == 400
    assert "UTF-8" in error_of(response)["message"]
