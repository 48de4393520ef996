"""The marketer dashboard in a real browser (Debian's headless Chromium): sign in with the API key, see the
numbers the API gives, change the budget total and see the allocation follow, sign out; a wrong key is
refused on the page. A full-page screenshot is kept under ``$XMO_TEST_ARTIFACTS`` (default ``test-artifacts/``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from core.settings import Settings
from core.tenants import Tenants
from features.dataset import build_dataset
from serving.app import create_app
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

REPO = Path(__file__).resolve().parents[2]
CLIENT = "sim"
TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
WAIT_MS = 60_000


@dataclass(frozen=True)
class Home:
    settings: Settings
    api_key: str
    fresh_key: str  # a client with no data and no model yet


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """A simulated client with spend and a tiny champion model (its name needs escaping on the page)."""
    path = tmp_path_factory.mktemp("dashboard") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        created = tenants.create_client("Sim <b>Shop</b>", ["sim.example"], client_id=CLIENT)
        fresh = tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        run_simulation(settings, CLIENT, days=10, visitors_per_day=200, seed=21)
        compact_all(settings)
        build_dataset(settings, CLIENT)
        train_conversion_model(settings, CLIENT, params=TINY, baselines=False)
        yield Home(settings, created.api_key, fresh.api_key)


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("XMO_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def number(text: str) -> float:
    """A number as the dashboard shows it (thousands separators, no unit)."""
    return float(text.strip().replace(",", ""))


def allocation(page: Page) -> dict[str, float]:
    cells = page.locator("#allocation tbody tr")
    return {
        str(cells.nth(i).get_attribute("data-campaign")): number(cells.nth(i).locator("td.recommended").inner_text())
        for i in range(cells.count())
    }


def wait_for_total(page: Page, total: float) -> None:
    page.wait_for_function(
        "t => Math.abs(Number(document.getElementById('budget-body').dataset.total) - t) < 0.006",
        arg=total,
        timeout=WAIT_MS,
    )


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/")
    assert page.url == f"{url}/sign-in"
    page.fill("#api_key", key)
    page.click("#sign-in")


def test_sign_in_see_the_api_numbers_change_the_budget_and_sign_out(
    home: Home, browser: Browser, live_server_factory: Any
) -> None:
    app = create_app(home.settings)
    with (
        live_server_factory(app) as server,
        httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {home.api_key}"}) as api,
    ):
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        sign_in(page, server.url, home.api_key)
        page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
        assert page.url == f"{server.url}/"
        assert page.locator("#client-name").inner_text() == "Sim <b>Shop</b>"  # shown as text, not markup

        cookie = next(c for c in context.cookies() if c["name"] == "xmo_dashboard")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and home.api_key not in cookie["value"]
        assert page.evaluate("document.cookie") == ""  # the script cannot read the session

        # Overview: the totals and a campaign's row are the API's numbers
        report = api.get("/v1/reports/effectiveness").json()
        assert number(page.locator("#total-sessions").inner_text()) == report["totals"]["sessions"]
        assert number(page.locator("#total-conversions").inner_text()) == report["totals"]["conversions"]
        brand = next(r for r in report["rows"] if r["campaign_id"] == "cmp-search-brand")
        row = page.locator('#campaigns tr[data-campaign="cmp-search-brand"]')
        assert number(row.locator("td.conversions").inner_text()) == brand["conversions"]
        assert number(row.locator("td.sessions").inner_text()) == brand["sessions"]
        trend = api.get("/dashboard/api/trend").json()
        assert sum(d["sessions"] for d in trend["days"]) == report["totals"]["sessions"]
        assert page.locator("#trend-chart svg rect.bar").count() == len(trend["days"]) == 10
        window = {"since": trend["days"][2]["date"], "until": trend["days"][5]["date"]}
        in_window = api.get("/dashboard/api/trend", params=window).json()["days"]
        assert [d["date"] for d in in_window] == [d["date"] for d in trend["days"][2:6]]
        windowed_report = api.get("/v1/reports/effectiveness", params=window).json()["totals"]
        assert sum(d["conversions"] for d in in_window) == windowed_report["conversions"]

        # Creatives of the first campaign, attribution by every model, the model's version and AUC
        first = next(r["campaign_id"] for r in report["rows"] if r["campaign_id"])
        creatives = api.get("/v1/recommendations/creatives", params={"campaign": first}).json()
        overall = next(r for r in creatives["recommendations"] if r["segment"] == "all")
        assert page.locator("table.creatives").first.locator("tbody tr").count() == len(overall["creatives"])
        models = api.get("/v1/attribution", params={"model": "all"}).json()["models"]
        assert page.locator("#attribution-table thead th").count() == 1 + len(models)
        champion = api.get("/v1/models").json()["champion"]
        assert f"v{champion['version']}" in page.locator("#model-version").inner_text()
        health = api.get("/dashboard/api/model-health").json()
        assert page.locator("#model-auc").inner_text() == f"{health['metrics']['roc_auc']:.3f}"
        assert page.locator("#model svg circle.dot").count() == len(health["calibration"]) > 0

        # Budget: "what if I spend 20 % more?" re-queries and redraws the allocation
        page.wait_for_selector("#budget-body[data-total]", timeout=WAIT_MS)
        before_total = float(page.locator("#budget-body").get_attribute("data-total") or "nan")
        before = allocation(page)
        assert sum(before.values()) == pytest.approx(before_total, abs=0.01 * len(before))
        more = round(before_total * 1.2, 2)
        page.fill("#budget-total", str(more))
        page.click("#budget-apply")
        wait_for_total(page, more)
        after = allocation(page)
        assert set(after) == set(before)
        assert sum(after.values()) == pytest.approx(more, abs=0.01 * len(after))
        assert any(abs(after[c] - before[c]) > 0.01 for c in after)
        expected = api.get("/v1/recommendations/budget", params={"total": f"{more:.2f}"}).json()
        shown = {c["campaign_id"]: pytest.approx(c["recommended_spend"], abs=0.006) for c in expected["campaigns"]}
        assert after == shown
        page.wait_for_function("() => document.getElementById('curves-img')?.complete", timeout=WAIT_MS)
        assert page.locator("#curves-img").evaluate("img => img.naturalWidth") > 0

        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts_dir() / "dashboard.png"), full_page=True)
        assert not problems, problems

        # Sign out: back on the sign-in page, the cookie is gone and the dashboard asks to sign in again
        page.click("#sign-out")
        page.wait_for_url(f"{server.url}/sign-in?signed_out=true")
        assert page.locator("#notice").inner_text() == "You are signed out."
        assert all(c["name"] != "xmo_dashboard" for c in context.cookies())
        page.goto(f"{server.url}/")
        assert page.url == f"{server.url}/sign-in"
        context.close()


def test_a_wrong_key_is_refused_and_a_new_client_sees_not_enough_data(
    home: Home, browser: Browser, live_server_factory: Any
) -> None:
    with live_server_factory(create_app(home.settings)) as server:
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, server.url, home.api_key[:-3] + "xyz")
        notice = page.locator("#notice")
        notice.wait_for(timeout=WAIT_MS)
        assert "not accepted" in notice.inner_text()
        assert notice.get_attribute("role") == "alert"
        assert page.url == f"{server.url}/sign-in"
        assert context.cookies() == []
        # A client without sessions, spend or model is told so in every section, without a broken page
        sign_in(page, server.url, home.fresh_key)
        page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
        for section in ("overview", "creatives", "budget", "model"):
            assert "Not enough data yet" in page.locator(f"#{section}").inner_text(), section
        assert "xmo train fresh" in page.locator("#model").inner_text()
        context.close()
