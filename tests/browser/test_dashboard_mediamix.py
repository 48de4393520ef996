"""The dashboard's "Media mix" section in a real browser (Debian's headless Chromium), at 1280 and 375 px.

A client with weekly KPI and spend and a registered media-mix model (no tracked sessions: the first steps stay on
top) sees the fit against actuals with the held-out weeks shaded, the decomposition and its totals, one response
curve per channel with the observed weeks and today's spend, and the plan for the next quarter; the page never
scrolls sideways and logs no error. A client with the data but no model gets the grey "no model yet" panel with
the command; a client without KPI data never sees the section. Screenshots go to a pytest tmp folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from core.layout import StorageLayout
from core.tenants import Tenants
from serving.app import create_app
from tests.browser.test_dashboard import DESKTOP, NOT_READY, PHONE, WAIT_MS, no_sideways_scroll, sign_in
from tests.conftest import HomeAt, LiveServer
from tracking.kpi import import_kpi, import_kpi_file
from tracking.spend import import_spend, import_spend_file
from training.mmm import fit_mmm

DATA = Path(__file__).parents[1] / "tracking" / "data"
CHANNELS = ["facebook", "ooh", "print", "search", "tv"]


@dataclass(frozen=True)
class Site:
    url: str
    api: httpx.Client  # signed with the modelled client's key
    key: str  # weekly KPI and spend, a registered model
    unfitted_key: str  # the same data, no model yet
    fresh_key: str  # no data at all
    shots: Path


@pytest.fixture(scope="module")
def site(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with home_at(tmp_path_factory.mktemp("dashboard-mmm") / "xmo-home") as settings:
        tenants = Tenants.from_settings(settings)
        shop = tenants.create_client("Shop", ["shop.example"], client_id="shop", currency="EUR")
        unfitted = tenants.create_client("Later", ["later.example"], client_id="later")
        fresh = tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        layout = StorageLayout.from_settings(settings)
        import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
        import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
        kpi = pd.read_csv(DATA / "weekly_kpi.csv").rename(columns={"DATE": "date"}).head(60)
        spend = pd.read_csv(DATA / "weekly_spend.csv").rename(columns={"DATE": "date"})
        import_kpi(layout, "later", kpi)
        import_spend(layout, "later", spend[spend["date"].isin(set(kpi["date"]))].reset_index(drop=True))
        fit_mmm(settings, "shop", select_families=False, n_draws=12)
        with (
            LiveServer(create_app(settings)) as server,
            httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {shop.api_key}"}) as api,
        ):
            shots = tmp_path_factory.mktemp("screenshots-mmm")
            yield Site(server.url, api, shop.api_key, unfitted.api_key, fresh.api_key, shots)


def open_dashboard(browser: Browser, site: Site, viewport: dict[str, int], key: str) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and NOT_READY not in message.text:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, site.url, key)
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    return page, problems


def chart_of(page: Page, selector: str, path: str) -> object:
    return page.evaluate(f"() => Chart.getChart(document.querySelector('{selector} canvas')).{path}")


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_the_section_draws_fit_decomposition_curves_and_plan(
    site: Site, browser: Browser, name: str, viewport: dict[str, int]
) -> None:
    page, problems = open_dashboard(browser, site, viewport, site.key)
    section = page.locator("#mediamix")
    assert section.is_visible() and page.locator("#first-run").is_visible()  # no sessions: the first steps too
    assert page.locator("#mediamix .problem").count() == 0, page.locator("#mediamix .problem").all_inner_texts()
    summary = site.api.get("/v1/mmm").json()
    assert page.locator("#mmm-version").inner_text() == f"v{summary['version']}"

    # Fit against actuals: one point a week, the held-out weeks shaded from their first to their last
    predictions = site.api.get("/v1/mmm/predictions").json()["rows"]
    held = [r["date"] for r in predictions if r["split"] == "holdout"]
    fit = page.locator("#mmm-fit-canvas")
    assert (fit.get_attribute("data-holdout-from"), fit.get_attribute("data-holdout-to")) == (held[0], held[-1])
    labels = chart_of(page, "#mmm-fit-canvas", "data.datasets.map(d => d.label)")
    assert labels == ["90 % prediction interval (low)", "90 % prediction interval", "predicted", "actual revenue"]
    actual = chart_of(page, "#mmm-fit-canvas", "data.datasets[3].data")
    assert actual == pytest.approx([r["actual"] for r in predictions])
    exported = site.api.get(str(page.locator("#mmm-predictions-csv").get_attribute("href")))
    assert exported.status_code == 200 and exported.text.count("\n") == 1 + len(predictions)
    # the shade is drawn: a pixel inside the held-out stretch, above the lines, is tinted, one before it is not
    tint = page.evaluate(
        """([first, last]) => {
            const chart = Chart.getChart(document.querySelector('#mmm-fit-canvas canvas'));
            const x = chart.scales.x, top = chart.chartArea.top + 3, ratio = window.devicePixelRatio;
            const pixel = (i) => Array.from(chart.ctx.getImageData(
                Math.round(x.getPixelForValue(i) * ratio), Math.round(top * ratio), 1, 1).data);
            return [pixel(Math.round((first + last) / 2)), pixel(Math.round(first / 2))];
        }""",
        [len(predictions) - len(held), len(predictions) - 1],
    )
    inside, before = tint
    assert inside != before and inside[3] > 0, tint

    # Decomposition: the stacked chart, and a row per part with the channels' returns
    assert chart_of(page, "#mmm-decomposition-canvas", "data.datasets.length") == 1 + len(CHANNELS)
    parts = page.locator("#mmm-totals tbody tr")
    decomposition = site.api.get("/v1/mmm/decomposition").json()
    assert parts.count() == len(decomposition["parts"])
    assert page.locator('#mmm-totals tr[data-kind="channel"] td.money').first.inner_text().startswith("€")

    # Response curves: one chart per channel, with the observed weeks and today's spend
    assert page.locator("#mmm-curves canvas").count() == len(CHANNELS)
    observed = chart_of(page, "#mmm-curve-0", "data.datasets[3].data.length")
    today = chart_of(page, "#mmm-curve-0", "data.datasets[4].data.length")
    assert (observed, today) == (len(predictions), 1)

    # The plan for the next quarter: the forecast with its range (or the budget's own error, shown as one)
    page.wait_for_selector("#mmm-plan .summary, #mmm-plan .problem", timeout=WAIT_MS)
    assert page.locator("#mmm-plan .problem").count() == 0, page.locator("#mmm-plan .problem").all_inner_texts()
    assert page.locator("#mmm-forecast-canvas canvas").count() == 1
    assert "revenue" in page.locator("#mmm-forecast-summary").inner_text()

    no_sideways_scroll(page)
    for box in page.locator("#mediamix .chart-box").all():
        assert box.evaluate("b => b.getBoundingClientRect().right") <= viewport["width"] + 0.5
    page.screenshot(path=str(site.shots / f"mediamix-{name}-page.png"), full_page=True)
    section.screenshot(path=str(site.shots / f"mediamix-{name}.png"))
    assert not problems, problems
    page.context.close()


def test_without_a_model_the_section_says_how_to_fit_one(site: Site, browser: Browser) -> None:
    page, problems = open_dashboard(browser, site, PHONE, site.unfitted_key)
    panel = page.locator("#mmm-none")
    assert panel.is_visible() and "xmo mmm fit later" in panel.inner_text()
    assert "No media-mix model yet" in panel.inner_text()
    grey = panel.evaluate("e => getComputedStyle(e).backgroundColor")
    assert grey == "rgb(246, 248, 250)"  # the "no data yet" style, not an error's
    assert page.locator("#mediamix .problem").count() == 0 and page.locator("#mediamix canvas").count() == 0
    no_sideways_scroll(page)
    page.screenshot(path=str(site.shots / "mediamix-none-phone.png"), full_page=True)
    assert not problems, problems
    page.context.close()


def test_a_client_without_kpi_data_never_sees_the_section(site: Site, browser: Browser) -> None:
    page, problems = open_dashboard(browser, site, DESKTOP, site.fresh_key)
    assert page.locator("#first-run").is_visible()
    assert page.locator("#mediamix").count() == 0 and page.locator("main > section").count() == 1
    assert not problems, problems
    page.context.close()
