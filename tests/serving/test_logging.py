"""Structured logs: one JSON object per line with the request's route, status, duration and client — and no
personal data, even when requests carry e-mail addresses, IPs, user agents, keys and query strings."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import Tenants
from serving.app import create_app
from serving.logs import JsonFormatter, TextFormatter, configure_logging, redact

EMAIL = "jane.doe@example.com"
IP = "198.51.100.23"
IPV6 = "2001:db8:85a3::8a2e:370:7334"
AGENT = "PlantedAgent/9.9 (X11; Linux x86_64)"
MEMBER = "member-4711"


@pytest.fixture
def restore_logging() -> Any:
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_xmo_handler", False)]:
        root.removeHandler(handler)


def record(message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    entry = logging.LogRecord("xmo.test", logging.WARNING, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_carry_the_fields() -> None:
    line = JsonFormatter().format(
        record("%s %s %d", "GET", "/v1/goals", 200, method="GET", route="/v1/goals", status=200, duration_ms=1.5)
    )
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "xmo.test" and entry["message"] == "GET /v1/goals 200"
    assert entry["time"].endswith("+00:00") and entry["route"] == "/v1/goals" and entry["duration_ms"] == 1.5
    assert "client_id" not in entry, "absent fields are left out, not null"


def test_messages_are_redacted() -> None:
    text = f"user {EMAIL} from {IP} and {IPV6} used xmo_api_AbC123-_xyz at 12:00:00 on v1.2.3"
    assert redact(text) == "user [email] from [ip] and [ip] used [key] at 12:00:00 on v1.2.3"


def test_exceptions_are_logged_by_type_and_frames_never_their_message() -> None:
    try:
        raise ValueError(f"bad visitor {EMAIL}")
    except ValueError:
        entry = record("failed")
        entry.exc_info = __import__("sys").exc_info()
    line = JsonFormatter().format(entry)
    assert EMAIL not in line and "bad visitor" not in line
    error = json.loads(line)["error"]
    assert error["type"] == "ValueError" and error["frames"] and "test_logging.py" in error["frames"][-1]
    assert EMAIL not in TextFormatter().format(entry) and "ValueError" in TextFormatter().format(entry)


def test_requests_log_routes_and_clients_never_personal_data(
    settings: Settings, live_server_factory: Any, restore_logging: Any
) -> None:
    acme = Tenants.from_settings(settings).create_client("Acme", ["acme.example.com"])
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError(f"exploded on {EMAIL} from {IP}")

    app.add_api_route("/v1/boom", boom)  # a route that fails with personal data in its exception
    api = {"Authorization": f"Bearer {acme.api_key}", "User-Agent": AGENT, "X-Forwarded-For": IP}
    buffer = io.StringIO()
    with live_server_factory(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        configure_logging("json", "INFO", stream=buffer)
        assert http.get("/v1/goals", params={"email": EMAIL, "ip": IP}, headers=api).status_code == 200
        assert http.get(f"/v1/unknown/{EMAIL}", headers=api).status_code == 404
        assert http.post("/v1/goals", content=f'{{"name": "{EMAIL}"', headers=api).status_code == 422
        boom_answer = http.get("/v1/boom", headers=api)
        pixel = {
            "k": acme.site_key,
            "em": EMAIL,
            "uid": MEMBER,
            "consent": "1",
            "url": f"https://acme.example.com/?e={EMAIL}",
        }
        assert http.get("/t.gif", params=pixel, headers={"User-Agent": AGENT, "X-Forwarded-For": IP}).status_code == 200
        event = {"event_type": "goal", "visitor_id": "v" * 32, "email": EMAIL, "ip": IP, "user_agent": AGENT}
        events = http.post("/v1/events", json=[event], headers={"Authorization": f"Bearer {acme.site_key}"})
        assert events.status_code == 202
        assert (
            http.get("/v1/goals", headers={"Authorization": "Bearer xmo_api_wrong", "X-Forwarded-For": IP}).status_code
            == 401
        )
    assert boom_answer.status_code == 500 and boom_answer.json() == {
        "error": {"code": "internal_error", "message": "internal error"}
    }
    output = buffer.getvalue()
    for planted in (
        EMAIL,
        IP,
        AGENT,
        MEMBER,
        acme.api_key,
        acme.site_key,
        "xmo_api_wrong",
        "email=",
        "em=",
        "PlantedAgent",
    ):
        assert planted not in output, f"{planted!r} reached the log"
    lines = [json.loads(line) for line in output.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "xmo.access"]
    by_route = {(a["method"], a["route"], a["status"]): a for a in access}
    goals = by_route[("GET", "/v1/goals", 200)]
    assert goals["client_id"] == "acme" and goals["duration_ms"] > 0
    assert by_route[("GET", "unmatched", 404)]["client_id"] == "acme"
    assert ("POST", "/v1/goals", 422) in by_route and ("POST", "/v1/events", 202) in by_route
    assert by_route[("POST", "/v1/events", 202)]["client_id"] == "acme"
    assert "client_id" not in by_route[("GET", "/v1/goals", 401)]
    assert by_route[("GET", "/v1/boom", 500)]["level"] == "error"
    assert not any(a["route"] == "/t.gif" for a in access), "successful pixel hits are not logged"
    assert any(
        line["level"] == "error" and "RuntimeError" in line["message"]
        for line in lines
        if line["logger"] != "xmo.access"
    )


def test_text_format(settings: Settings, serve: Any, restore_logging: Any) -> None:
    acme = Tenants.from_settings(settings).create_client("Acme", ["acme.example.com"])
    buffer = io.StringIO()
    with serve(settings) as http:
        configure_logging("text", "INFO", stream=buffer)
        http.get("/v1/goals", headers={"Authorization": f"Bearer {acme.api_key}"})
    line = next(line for line in buffer.getvalue().splitlines() if "xmo.access" in line)
    assert "INFO xmo.access GET /v1/goals 200" in line and "client_id=acme" in line and "route=/v1/goals" in line
    assert acme.api_key not in buffer.getvalue()


def test_the_clis_plain_handler_gives_way_so_each_line_is_written_once(restore_logging: Any) -> None:
    root = logging.getLogger()
    plain = logging.StreamHandler(io.StringIO())  # what `logging.basicConfig` in `xmo.cli.main` installs
    root.addHandler(plain)
    try:
        stream = io.StringIO()
        configure_logging("json", stream=stream)
        assert plain not in root.handlers
        logging.getLogger("xmo.test").warning("once")
        assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["once"]
        assert plain.stream.getvalue() == ""  # type: ignore[attr-defined]
    finally:
        root.removeHandler(plain)
