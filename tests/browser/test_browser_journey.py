"""A real browser (Debian's headless Chromium) on a client's site: pixel, tracked link, opt-out, GPC."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from privacy.keyvault import KeyVault
from serving.app import create_app
from tracking.compactor import compact_all
from tracking.lake import event_files
from tracking.links import LINK_KEY_PURPOSE, sign_link


def client_site(config: dict[str, str]) -> FastAPI:
    """The client's web site: pages embedding the xmo pixel, one with a tracked link."""
    site = FastAPI()

    def page(url: str, body: str) -> HTMLResponse:
        pixel = f"{config['xmo']}/t.gif?k={config['site_key']}&url={quote(url, safe='')}"
        return HTMLResponse(f'<!doctype html><title>shop</title>{body}<img alt="" src="{html.escape(pixel)}">')

    @site.get("/page/{name}")
    async def shop_page(name: str) -> HTMLResponse:
        return page(
            f"{config['site']}/page/{name}",
            f'<h1>{html.escape(name)}</h1><a id="buy" href="{html.escape(config["link"])}">Buy</a>',
        )

    @site.get("/landing")
    async def landing() -> HTMLResponse:
        return page(f"{config['site']}/landing", "<h1 id='landed'>Offer</h1>")

    return site


def user_agent(browser: Browser) -> str:
    """Chromium's own user agent without "Headless", which xmo rightly drops as a bot."""
    return (
        f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{browser.version} Safari/537.36"
    )


def lake(settings: Settings, client_id: str) -> list[dict[str, Any]]:
    compact_all(settings)
    files = event_files(StorageLayout.from_settings(settings), client_id)
    return pa.concat_tables(pq.read_table(f) for f in files).sort_by("ts").to_pylist()


def test_pixel_click_optout_and_gpc_in_a_real_browser(
    settings: Settings, live_server_factory: Any, browser: Browser
) -> None:
    shop: NewClient = Tenants.from_settings(settings).create_client("Shop", ["shop.example.com"], client_id="shop")
    key = KeyVault.from_settings(settings).derived_key("shop", LINK_KEY_PURPOSE)
    config = {"site_key": shop.site_key}
    with live_server_factory(create_app(settings)) as xmo, live_server_factory(client_site(config)) as site:
        destination = f"{site.url}/landing?utm_medium=email"
        config.update(xmo=xmo.url, site=site.url)
        config["link"] = sign_link(key, "shop", destination, "spring", "banner-1", base_url=xmo.url)

        context = browser.new_context(user_agent=user_agent(browser))
        page = context.new_page()
        page.goto(f"{site.url}/page/one")
        page.goto(f"{site.url}/page/two")
        with page.expect_navigation(url=destination):
            page.click("#buy")
        page.wait_for_load_state("load")
        assert page.text_content("#landed") == "Offer"
        visitor = {c["name"]: c["value"] for c in context.cookies()}["xmo_id"]

        page.goto(f"{xmo.url}/optout")
        assert page.text_content("#state") == "You are counted."
        with page.expect_navigation():
            page.click("#toggle")
        assert (page.text_content("#state") or "").startswith("You are opted out")
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        assert cookies.get("xmo_optout") == "1" and "xmo_id" not in cookies
        page.goto(f"{site.url}/page/one")  # opted out: the pixel loads, nothing is recorded
        context.close()

        gpc = browser.new_context(user_agent=user_agent(browser), extra_http_headers={"Sec-GPC": "1"})
        gpc_page = gpc.new_page()
        gpc_page.goto(f"{site.url}/page/two")
        with gpc_page.expect_navigation(url=destination):
            gpc_page.click("#buy")  # still redirected
        gpc_page.wait_for_load_state("load")
        assert not [c for c in gpc.cookies() if c["name"].startswith("xmo")], "no cookie under GPC"
        gpc.close()
        ingest = httpx.get(f"{xmo.url}/readyz").json()["checks"]["ingest"]

    assert ingest["dropped"] == {"opt_out": 1, "gpc": 3}
    events = lake(settings, "shop")
    assert [(e["event_type"], e["path"]) for e in events] == [
        ("pageview", "/page/one"),
        ("pageview", "/page/two"),
        ("click", "/landing"),
        ("pageview", "/landing"),
    ]
    assert {e["visitor_id"] for e in events} == {visitor}, "one visitor across pages, click and landing"
    click = events[2]
    assert (click["source"], click["campaign_id"], click["creative_id"]) == ("redirect", "spring", "banner-1")
    assert click["url"] == destination and click["utm_medium"] == "email"
    assert click["referrer_host"] == "127.0.0.1" and click["browser_family"] == "Chrome"
