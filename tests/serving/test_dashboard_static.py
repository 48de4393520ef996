"""The dashboard's files over real HTTP: every script and the vendored Chart.js with its licence are served from
xmo itself, nothing else is, the page names no other origin, and the client's currency reaches the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from core.tenants import Tenants
from serving.app import create_app
from serving.dashboard.pages import STATIC_TYPES, dashboard_page
from tests.conftest import HomeAt, LiveServer

VENDOR = Path(__file__).resolve().parents[2] / "serving" / "dashboard" / "static" / "vendor" / "chartjs"
OTHER_ORIGIN = re.compile(r"""(?:https?:)?//[^/'"\s]""")  # http://…, https://… or //host…


@dataclass(frozen=True)
class Site:
    http: httpx.Client
    page: httpx.Response  # the dashboard of a client with amounts in euros


@pytest.fixture(scope="module")
def site(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with home_at(tmp_path_factory.mktemp("dashboard-static") / "xmo-home") as settings:
        created = Tenants.from_settings(settings).create_client("Shop", ["shop.example"], currency="EUR")
        with (
            LiveServer(create_app(settings)) as server,
            httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as http,
        ):
            signed_in = http.post("/sign-in", data={"api_key": created.api_key}, headers={"Origin": server.url})
            assert signed_in.status_code == 303, signed_in.text
            yield Site(http, http.get("/"))  # the client keeps the session cookie


class _References(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in {"src", "href", "action"} and value is not None]


def test_every_dashboard_file_is_served_with_its_type(site: Site) -> None:
    for name, media_type in STATIC_TYPES.items():
        response = site.http.get(f"/dashboard/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type, name
        assert response.headers["x-content-type-options"] == "nosniff"
    for unknown in ("vendor/chartjs/chart.umd.js", "..%2Fpages.py", "vendor%2F..%2Fdashboard.js", "nope.js"):
        response = site.http.get(f"/dashboard/static/{unknown}")
        assert response.status_code == 404, unknown
        assert response.json()["error"]["code"] == "not_found"


def test_chart_js_is_vendored_with_its_licence_and_version(site: Site) -> None:
    script = site.http.get("/dashboard/static/vendor/chartjs/chart.umd.min.js")
    assert script.content == (VENDOR / "chart.umd.min.js").read_bytes()
    version = re.search(r"VERSION: chart\.js (\d+\.\d+\.\d+)", (VENDOR / "README.md").read_text())
    assert version is not None
    assert script.text.startswith(f"/*!\n * Chart.js v{version[1]}\n")
    licence = site.http.get("/dashboard/static/vendor/chartjs/LICENSE.md")
    assert licence.status_code == 200 and "The MIT License" in licence.text and "Chart.js Contributors" in licence.text
    assert 'src="/dashboard/static/vendor/chartjs/chart.umd.min.js"' in site.page.text


def test_the_page_and_its_scripts_reference_no_other_origin(site: Site) -> None:
    assert site.page.status_code == 200
    assert "script-src 'self';" in site.page.headers["content-security-policy"]
    references = _References()
    references.feed(site.page.text)
    assert references.found and all(ref.startswith(("/", "#")) and not ref.startswith("//") for ref in references.found)
    for name in STATIC_TYPES:
        if name.endswith((".js", ".css")) and not name.startswith("vendor/"):
            text = site.http.get(f"/dashboard/static/{name}").text
            assert not OTHER_ORIGIN.findall(text), name


def test_the_clients_currency_reaches_the_page_and_only_a_code_does() -> None:
    assert 'data-currency="EUR"' in dashboard_page("c", "Shop", "eur")
    assert 'data-currency=""' in dashboard_page("c", "Shop", None)
    assert 'data-currency=""' in dashboard_page("c", "Shop", '"><script>')


def test_the_served_page_carries_the_currency(site: Site) -> None:
    assert 'data-currency="EUR"' in site.page.text
