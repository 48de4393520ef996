"""The marketer dashboard in a real browser (Debian's headless Chromium), against one populated server per module.

Signing in shows the API's numbers; the budget opens at today's total, marks campaigns at a bound, shows the ladder
and exports CSV; every section is photographed at desktop (1280×800) and phone (375×740) width with no horizontal
page scroll and no overlapping tiles; amounts carry the client's currency; a failing route is shown as an error
with the API's message; a client without data gets one first-run panel. Screenshots go to a pytest tmp folder
(``screenshots*``), and the page never asks another origin for anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

from core.settings import Settings
from core.tenants import Tenants
from features.dataset import build_dataset
from serving.app import create_app
from tests.conftest import HomeAt, LiveServer
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

CLIENT = "sim"
TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
WAIT_MS = 60_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
SECTIONS = ("overview", "creatives", "budget", "attribution", "model")
NOT_READY = "status of 409"  # Chromium logs every 4xx answer; "no data yet" (e.g. in the previous period) is no fault
READABLE_TIME = re.compile(r"^\d{1,2} [A-Z][a-z]{2,3} \d{4}, \d{2}:\d{2}$")  # 7 Dec 2026, 14:05


@dataclass(frozen=True)
class Site:
    settings: Settings
    url: str
    api: httpx.Client  # signed with the populated client's API key
    api_key: str
    fresh_key: str  # a client with no data and no model yet
    shots: Path  # where the screenshots go


@pytest.fixture(scope="module")
def site(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A simulated client (amounts in euros) with spend and a tiny champion model, served on 127.0.0.1."""
    path = tmp_path_factory.mktemp("dashboard") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        created = tenants.create_client("Sim <b>Shop</b>", ["sim.example"], client_id=CLIENT, currency="EUR")
        fresh = tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        run_simulation(settings, CLIENT, days=10, visitors_per_day=200, seed=21)
        compact_all(settings)
        build_dataset(settings, CLIENT)
        train_conversion_model(settings, CLIENT, params=TINY, baselines=False)
        with (
            LiveServer(create_app(settings)) as server,
            httpx.Client(
                base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {created.api_key}"}
            ) as api,
        ):
            shots = tmp_path_factory.mktemp("screenshots")
            yield Site(settings, server.url, api, created.api_key, fresh.api_key, shots)


def number(text: str) -> float:
    """A number as the dashboard shows it (thousands separators, maybe a currency sign)."""
    return float(re.sub(r"[^\d.\-−]", "", text).replace("−", "-"))


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/")
    assert page.url == f"{url}/sign-in"
    page.fill("#api_key", key)
    page.click("#sign-in")


@dataclass
class Visit:
    """A signed-in page, the console errors it logged and every address it asked for."""

    context: BrowserContext
    page: Page
    problems: list[str]
    requests: list[str]


def visit(browser: Browser, site: Site, viewport: dict[str, int], key: str | None = None) -> Visit:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    seen = Visit(context, page, [], [])

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and NOT_READY not in message.text:
            seen.problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: seen.problems.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url))
    sign_in(page, site.url, key or site.api_key)
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    return seen


def only_this_origin(site: Site, requests: list[str]) -> None:
    strangers = [u for u in requests if not u.startswith(f"{site.url}/") and not u.startswith("data:")]
    assert not strangers, strangers


def no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth, document.body.scrollWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[1], widths


def tiles_apart(page: Page) -> int:
    """Assert that no two tiles of a row of tiles overlap and no tile's text spills out; answer how many."""
    found = page.evaluate(
        """() => [...document.querySelectorAll('.tiles')].map(row => [...row.querySelectorAll('.tile')].map(t => {
            const b = t.getBoundingClientRect();
            return {id: t.querySelector('.tile-value')?.id, x: b.x, y: b.y, r: b.right, b: b.bottom,
                    spill: t.scrollWidth > t.clientWidth + 1};
        }))"""
    )
    count = 0
    for row in found:
        count += len(row)
        assert not [t["id"] for t in row if t["spill"]]
        for i, a in enumerate(row):
            for b in row[i + 1 :]:
                side_by_side = a["r"] <= b["x"] + 0.5 or b["r"] <= a["x"] + 0.5
                one_above = a["b"] <= b["y"] + 0.5 or b["b"] <= a["y"] + 0.5
                assert side_by_side or one_above, (a, b)
    return count


PAGE_BOX = (
    "s => { const b = s.getBoundingClientRect(); return {x: b.x, y: b.y + scrollY, width: b.width, height: b.height}; }"
)


def per_row(page: Page, rows: str, read: str) -> dict[str, str | None]:
    """``read`` (a JS function of a row) for each row of ``rows``, by the row's data-campaign."""
    found: dict[str, str | None] = page.locator(rows).evaluate_all(
        f"rows => Object.fromEntries(rows.map(r => [r.dataset.campaign, ({read})(r)]))"
    )
    return found


def chart(page: Page, box: str, path: str) -> Any:
    """A property of the Chart.js chart drawn in ``#box``."""
    return page.evaluate(f"() => Chart.getChart(document.querySelector('#{box} canvas')).{path}")


def photograph(page: Page, site: Site, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(site.shots / f"{name}-page.png"), full_page=True)
    for section in SECTIONS:  # clipped from the whole page, so that the sticky header does not cover them
        box = page.locator(f"#{section}").evaluate(PAGE_BOX)
        page.screenshot(path=str(site.shots / f"{name}-{section}.png"), full_page=True, clip=box)


def test_sign_in_see_the_api_numbers_plan_the_budget_and_sign_out(site: Site, browser: Browser) -> None:
    seen = visit(browser, site, DESKTOP)
    page, api = seen.page, site.api
    assert page.url == f"{site.url}/"
    assert page.locator("#client-name").inner_text() == "Sim <b>Shop</b>"  # shown as text, not markup
    cookie = next(c for c in seen.context.cookies() if c["name"] == "xmo_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and site.api_key not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # the script cannot read the session
    fits_the_screen_with_amounts_in_the_currency(page, site, "desktop", DESKTOP["width"])

    # Overview: the totals and a campaign's row are the API's numbers; the trend chart has one point a day
    report = api.get("/v1/reports/effectiveness").json()
    assert number(page.locator("#total-sessions").inner_text()) == report["totals"]["sessions"]
    assert number(page.locator("#total-conversions").inner_text()) == report["totals"]["conversions"]
    brand = next(r for r in report["rows"] if r["campaign_id"] == "cmp-search-brand")
    row = page.locator('#campaigns tr[data-campaign="cmp-search-brand"]')
    assert number(row.locator("td.conversions").inner_text()) == brand["conversions"]
    trend = api.get("/dashboard/api/trend").json()
    assert sum(d["sessions"] for d in trend["days"]) == report["totals"]["sessions"]
    drawn = chart(page, "trend-canvas", "data.datasets[0].data")
    assert drawn == [d["sessions"] for d in trend["days"]] and len(drawn) == 10

    # Creatives: the winner per device is on view without opening anything; no jargon
    first = next(r["campaign_id"] for r in report["rows"] if r["campaign_id"])
    creatives = api.get("/v1/recommendations/creatives", params={"campaign": first}).json()
    per_device = [r for r in creatives["recommendations"] if r["segment"] != "all"]
    winners = page.locator("#segment-winners tbody tr")
    assert winners.count() == len(per_device) > 0 and winners.first.is_visible()
    assert {winners.nth(i).locator("td.winner").inner_text() for i in range(winners.count())} == {
        r["best_creative_id"] for r in per_device
    }
    assert "shrunk estimates" in page.locator("#shrunk-note").inner_text().lower()
    body = page.locator("body").inner_text()
    assert "CrI" not in body and "P(best)" not in body

    # Budget: opens at today's total (no total sent), marks campaigns at a bound, shows the ladder, exports CSV
    plan = api.get("/v1/recommendations/budget").json()
    budget = page.locator("#budget-body")
    assert budget.get_attribute("data-total-source") == "today" == plan["total_source"]
    assert float(budget.get_attribute("data-total") or "nan") == pytest.approx(plan["current_total"], abs=0.01)
    bounds = per_row(page, "#allocation tbody tr", "r => r.dataset.atBound")
    assert bounds == {c["campaign_id"]: c["at_bound"] or "" for c in plan["campaigns"]}
    assert page.locator("#allocation .badge.bound").count() == sum(1 for c in plan["campaigns"] if c["at_bound"])
    assert chart(page, "spend-canvas", "data.datasets[0].label") == "today's split at this total"
    ladder_rows = page.locator("#ladder tbody tr")
    assert ladder_rows.count() >= 3 and page.locator("#ladder tr.today").count() == 1
    csv = page.locator("#budget-csv")
    download = api.get(str(csv.get_attribute("href")))
    assert download.status_code == 200 and "text/csv" in download.headers["content-type"], download.text[:300]
    assert all(c["campaign_id"] in download.text for c in plan["campaigns"])

    # "What if I spend 20 % more?" re-queries and redraws the allocation in euros
    more = round(plan["total"] * 1.2, 2)
    page.fill("#budget-total", str(more))
    page.click("#budget-apply")
    shown_total = "t => Math.abs(Number(document.getElementById('budget-body').dataset.total) - t) < 0.006"
    page.wait_for_function(shown_total, arg=more, timeout=WAIT_MS)
    expected = api.get("/v1/recommendations/budget", params={"total": f"{more:.2f}"}).json()
    after = per_row(page, "#allocation tbody tr", "r => r.querySelector('td.recommended').textContent")
    assert all(str(text).startswith("€") for text in after.values()), after
    assert {k: number(str(v)) for k, v in after.items()} == {
        c["campaign_id"]: pytest.approx(c["recommended_spend"], abs=0.006) for c in expected["campaigns"]
    }
    page.wait_for_function("() => document.getElementById('curves-img')?.complete", timeout=WAIT_MS)
    assert page.locator("#curves-img").evaluate("img => img.naturalWidth") > 0

    # Per month: back at today's total for a month, and the period kept in the URL
    monthly = api.get("/v1/recommendations/budget", params={"period": "month"}).json()
    page.select_option("#budget-period", "month")
    page.wait_for_function(shown_total, arg=round(monthly["total"], 2), timeout=WAIT_MS)
    assert page.url.endswith("?period=month") and page.locator("#budget-total-label").inner_text() == "Total per month"
    assert budget.get_attribute("data-total-source") == "today"
    assert not seen.problems, seen.problems
    only_this_origin(site, seen.requests)

    # Sign out: back on the sign-in page, the cookie is gone and the dashboard asks to sign in again
    page.click("#sign-out")
    page.wait_for_url(f"{site.url}/sign-in?signed_out=true")
    assert page.locator("#notice").inner_text() == "You are signed out."
    assert all(c["name"] != "xmo_dashboard" for c in seen.context.cookies())
    seen.context.close()


def fits_the_screen_with_amounts_in_the_currency(page: Page, site: Site, name: str, width: int) -> None:
    """Photograph every section of a populated page and check what a marketer tripped over at this width."""
    page.wait_for_selector("#ladder", timeout=WAIT_MS)
    assert page.locator(".problem").count() == 0, page.locator(".problem").all_inner_texts()
    no_sideways_scroll(page)
    assert tiles_apart(page) >= 14  # the overview's seven and the model's seven
    for wrapped in page.locator(".table-wrap").all():  # a wide table scrolls inside its wrapper
        assert wrapped.evaluate("w => w.getBoundingClientRect().right") <= width + 0.5
    # Every amount carries the client's currency
    for amount in [page.locator("#total-spend"), page.locator("#total-cpa"), *page.locator("td.money").all()]:
        text = amount.inner_text().splitlines()[0]  # the amount, above its range
        assert re.match(r"^[+−]?€\d", text) or text == "n/a", text
    assert page.locator("#currency-note").inner_text() == "Amounts are in EUR."
    # Times are local and readable, the ISO value in the title
    loaded = page.locator("#model-loaded")
    assert READABLE_TIME.match(loaded.inner_text()), loaded.inner_text()
    assert (loaded.get_attribute("title") or "").startswith(str(loaded.get_attribute("datetime"))[:10])
    photograph(page, site, name)
    no_sideways_scroll(page)


def test_every_section_fits_a_phone(site: Site, browser: Browser) -> None:
    seen = visit(browser, site, PHONE)
    fits_the_screen_with_amounts_in_the_currency(seen.page, site, "phone", PHONE["width"])
    assert not seen.problems, seen.problems
    only_this_origin(site, seen.requests)
    seen.context.close()


def test_a_date_range_compares_periods_and_a_failing_route_shows_its_error(site: Site, browser: Browser) -> None:
    seen = visit(browser, site, DESKTOP)
    page = seen.page
    days = [d["date"] for d in site.api.get("/dashboard/api/trend").json()["days"]]
    # The last five days, against the five before: the range lands in the URL and every tile compares
    page.fill("#since", days[5])
    page.fill("#until", days[9])
    page.click("#range-apply")
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    assert f"since={days[5]}" in page.url and f"until={days[9]}" in page.url
    window = site.api.get("/v1/reports/effectiveness", params={"since": days[5], "until": days[9]}).json()
    assert number(page.locator("#total-sessions").inner_text()) == window["totals"]["sessions"]
    before = site.api.get("/v1/reports/effectiveness", params={"since": days[0], "until": days[4]}).json()
    change = window["totals"]["sessions"] / before["totals"]["sessions"] - 1
    delta = page.locator("#total-sessions-delta")
    assert f"{abs(change) * 100:.1f} %" in delta.inner_text() and "previous period" in delta.inner_text()
    assert page.locator(".delta").count() == 7
    assert page.locator("#total-cr-delta").get_attribute("data-noise") in {"true", "false"}
    assert chart(page, "trend-canvas", "data.labels.length") == 5

    # An impossible range: the overview and attribution say what failed, styled as errors, with the API's message
    page.goto(f"{site.url}/?since={days[9]}&until={days[0]}")
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    message = site.api.get("/v1/reports/effectiveness", params={"since": days[9], "until": days[0]}).json()["error"]
    for section in ("overview", "attribution"):
        error = page.locator(f"#{section} .problem")
        assert error.get_attribute("role") == "alert"
        assert "error 400" in error.inner_text() and "yet" not in error.inner_text()
    assert message["message"] in page.locator("#overview .problem").inner_text()
    pink = page.locator("#overview .problem").evaluate("e => getComputedStyle(e).backgroundColor")
    assert pink == "rgb(255, 235, 233)"  # styled as an error, not as "no data yet"
    assert page.locator("#budget .problem").count() == 0  # the rest of the page still works
    page.locator("#overview").screenshot(path=str(site.shots / "error-overview.png"))
    seen.context.close()


def test_a_wrong_key_is_refused_and_a_new_client_sees_the_first_steps(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    sign_in(page, site.url, site.api_key[:-3] + "xyz")
    notice = page.locator("#notice")
    notice.wait_for(timeout=WAIT_MS)
    assert "not accepted" in notice.inner_text() and notice.get_attribute("role") == "alert"
    assert context.cookies() == []
    context.close()

    seen = visit(browser, site, PHONE, key=site.fresh_key)
    page = seen.page
    panel = page.locator("#first-run")
    text = panel.inner_text()
    assert "xmo client create" in text and "xmo spend import fresh" in text and "t.gif?k=" in text
    assert "simulate" not in page.locator("body").inner_text()
    assert page.locator("main > section").count() == 1  # one panel, not a tile per section
    assert not page.locator("header nav").is_visible()  # no links to sections that are not there
    width = panel.evaluate("p => p.getBoundingClientRect().width")
    assert width >= page.locator("main").evaluate("m => m.clientWidth") - 30
    no_sideways_scroll(page)
    page.screenshot(path=str(site.shots / "first-run-phone.png"), full_page=True)
    assert not seen.problems, seen.problems
    seen.context.close()
