"""/docs and /redoc render in a real browser with nothing but xmo's own server: no CDN, no fonts, no validator."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from core.settings import Settings
from serving.app import create_app


@pytest.mark.parametrize(("path", "title"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
def test_the_api_documents_render_from_xmo_alone(
    browser: Browser, settings: Settings, live_server_factory: Any, path: str, title: str
) -> None:
    with live_server_factory(create_app(settings)) as server:
        context = browser.new_context()
        page = context.new_page()
        requested: list[str] = []
        blocked: set[str] = set()  # stopped by the page's Content-Security-Policy: never left the browser
        page.on("request", lambda request: requested.append(request.url))
        page.on(
            "requestfailed",
            lambda request: blocked.add(request.url) if "csp" in (request.failure or "").lower() else None,
        )
        page.goto(f"{server.url}{path}")
        page.wait_for_selector(title, timeout=30_000)
        assert "xmo" in page.inner_text(title)
        page.wait_for_load_state("networkidle")
        context.close()
    own = (server.url, f"blob:{server.url}", "data:")
    elsewhere = [url for url in requested if not url.startswith(own) and url not in blocked]
    assert elsewhere == [], f"{path} asked other hosts: {elsewhere}"
    assert any(url.endswith(".js") for url in requested), "the page loaded its script from xmo"
