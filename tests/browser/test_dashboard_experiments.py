"""The dashboard's "Experiments" section in a real browser (Debian's headless Chromium): a client with visits but
no test sees "No experiments yet" with the command that designs one; once a visitor holdout runs and another has
stopped, the list shows the running one first, its interim read (the API's numbers and ranges, drawn), and the
finished one's final read with its hand-off to the media-mix model; the running one stops from the page (two clicks);
the page never scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage

from core.settings import Settings
from core.tenants import Tenants
from serving.app import create_app
from strategy.experiments.results import DesignRequest
from strategy.experiments.service import start_experiment
from tests.browser.test_dashboard import DESKTOP, NOT_READY, PHONE, WAIT_MS, no_sideways_scroll, sign_in
from tests.conftest import HomeAt, LiveServer
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation

TODAY = datetime.now(UTC).date()
READY = "#experiments[data-ready=true]"
FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@dataclass(frozen=True)
class Site:
    url: str
    api: httpx.Client  # signed with the client's key
    key: str
    shots: Path
    settings: Settings


@pytest.fixture(scope="module")
def site(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with home_at(tmp_path_factory.mktemp("dashboard-experiments") / "xmo-home") as settings:
        shop = Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop", currency="EUR")
        run_simulation(settings, "shop", days=70, visitors_per_day=60, seed=4, start=TODAY - timedelta(days=70))
        compact_all(settings)
        with (
            LiveServer(create_app(settings)) as server,
            httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {shop.api_key}"}) as api,
        ):
            yield Site(server.url, api, shop.api_key, tmp_path_factory.mktemp("screenshots-experiments"), settings)


def test_the_section_lists_tests_and_draws_their_reads(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    page = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and NOT_READY not in message.text:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, site.url, site.key)
    page.wait_for_selector(READY, timeout=WAIT_MS)
    none = page.locator("#experiments-none")
    assert "No experiments yet" in none.inner_text() and "xmo experiment design shop" in none.inner_text()
    assert none.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(246, 248, 250)"  # not an error

    def start(channel: str, days_ago: int) -> str:
        """A holdout started ``days_ago`` days ago, as the service ran then (none can start in the past today)."""
        tenants = Tenants.from_settings(site.settings)
        request = DesignRequest(type="holdout", channel=channel, weeks=4)
        day = TODAY - timedelta(days=days_ago)
        started = start_experiment(
            site.settings, tenants.engine, tenants.get_client("shop"), request, actor="t", today=day
        )
        return started.experiment_id

    finished = start("social", 28)
    assert site.api.post(f"/v1/experiments/{finished}/stop").status_code == 200
    running = start("email", 14)
    analysis = site.api.get(f"/v1/experiments/{running}/analysis").json()

    page.reload()
    page.wait_for_selector(READY, timeout=WAIT_MS)
    rows = page.locator("#experiments-table tbody tr")
    assert [rows.nth(i).get_attribute("data-experiment") for i in range(rows.count())] == [running, finished]
    assert rows.first.get_attribute("data-status") == "running"
    assert page.locator("#experiment-read").get_attribute("data-experiment") == running
    assert "Interim read" in page.locator("#experiment-interim").inner_text()
    assert page.locator("#experiment-revenue").inner_text().lstrip("+−").startswith("€")
    revenue = analysis["metrics"]["revenue"]
    charts = page.locator("#experiment-charts canvas")
    assert charts.count() == len(analysis["metrics"]) == 2
    bars = page.evaluate(
        "() => Chart.getChart(document.querySelector('#experiment-charts canvas')).data.datasets[0].data"
    )
    conversions = analysis["metrics"]["conversions"]
    assert bars[0] == pytest.approx([conversions["low"], conversions["high"]])
    assert bars[1] == pytest.approx([conversions["always_valid_low"], conversions["always_valid_high"]])
    assert revenue["low"] < revenue["high"]
    assert "xmo experiment stop shop" in page.locator("#experiment-handoff").inner_text()

    page.click("#experiment-stop")  # a first click only arms it
    assert site.api.get(f"/v1/experiments/{running}").json()["status"] == "running"
    page.click("#experiment-stop")
    page.wait_for_selector(
        f'#experiments-table tr[data-experiment="{running}"][data-status="stopped"]', timeout=WAIT_MS
    )
    page.wait_for_selector(f'#experiment-read[data-experiment="{running}"] #experiment-interim', timeout=WAIT_MS)
    assert "Final read" in page.locator("#experiment-interim").inner_text()
    assert site.api.get(f"/v1/experiments/{running}").json()["status"] == "stopped"

    page.click(f'#experiments-table button[data-experiment="{finished}"]')
    page.wait_for_selector(f'#experiment-read[data-experiment="{finished}"] #experiment-interim', timeout=WAIT_MS)
    assert "Final read" in page.locator("#experiment-interim").inner_text()
    assert "media-mix model" in page.locator("#experiment-handoff").inner_text()
    assert page.locator(f'button[data-experiment="{finished}"]').get_attribute("aria-pressed") == "true"
    assert page.locator("#experiments .problem").count() == 0, page.locator("#experiments .problem").all_inner_texts()
    no_sideways_scroll(page)
    page.locator("#experiments").screenshot(path=str(site.shots / "experiments-desktop.png"))
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    # Chart.js redraws its canvases at the new width on its resize observer's next frame, not at once
    page.wait_for_function(FITS, timeout=WAIT_MS)
    no_sideways_scroll(page)
    page.locator("#experiments").screenshot(path=str(site.shots / "experiments-phone.png"))
    assert not problems, problems
    context.close()


def test_a_test_is_designed_and_started_from_the_form(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, site.url, site.key)
    page.wait_for_selector(READY, timeout=WAIT_MS)
    assert page.locator("#experiment-share-field").is_visible()
    page.select_option("#experiment-type", "geo")
    assert not page.locator("#experiment-share-field").is_visible()  # a share only for a holdout
    page.select_option("#experiment-type", "holdout")
    page.fill("#experiment-channel", "newsletter")
    page.fill("#experiment-share", "5")
    page.click("#experiment-design")
    page.wait_for_selector("#experiment-plan-power", timeout=WAIT_MS)
    plan = page.locator("#experiment-plan").inner_text()
    assert "chance of detecting +10 %" in plan.lower() and "5 % of visitors are kept away from newsletter" in plan
    assert "Smallest lift it can detect (80 % chance)" in plan
    no_sideways_scroll(page)
    page.locator("#experiment-form").screenshot(path=str(site.shots / "experiment-form-phone.png"))
    page.locator("#experiment-plan").screenshot(path=str(site.shots / "experiment-plan-phone.png"))

    page.fill("#experiment-share", "70")  # the API's own check answers, as an error
    assert page.locator("#experiment-start-test").count() == 0  # the plan shown went with the old share
    page.click("#experiment-design")
    page.wait_for_selector("#experiment-plan .problem", timeout=WAIT_MS)
    assert "holdout share must lie between 1% and 50%" in page.locator("#experiment-plan .problem").inner_text()

    page.fill("#experiment-share", "5")
    page.click("#experiment-design")
    page.click("#experiment-start-test", timeout=WAIT_MS)
    started = '#experiments-table tr[data-experiment^="holdout-newsletter-"][data-status="running"]'
    page.wait_for_selector(started, timeout=WAIT_MS)
    page.wait_for_selector('#experiment-read[data-experiment^="holdout-newsletter-"]', timeout=WAIT_MS)
    stored = [e for e in site.api.get("/v1/experiments").json()["experiments"] if e["channel"] == "newsletter"]
    assert [e["holdout_share"] for e in stored] == [pytest.approx(0.05)]
    no_sideways_scroll(page)
    assert not errors, errors
    context.close()
