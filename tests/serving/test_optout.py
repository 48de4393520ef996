"""Opt-out over real HTTP: the page, the cookie set and cleared, and the pixel dropping opted-out hits."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.app import create_app

JSON = {"Accept": "application/json"}


@pytest.fixture
def client(settings: Settings) -> NewClient:
    return Tenants.from_settings(settings).create_client("Shop", ["shop.example.com"], client_id="shop")


def cookie_header(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0].lower()


def max_age(cookie: str) -> int:
    found = re.search(r"max-age=(-?\d+)", cookie)
    assert found, cookie
    return int(found[1])


def test_page_shows_the_state_and_needs_nothing_from_elsewhere(
    serve: Any, settings: Settings, client: NewClient
) -> None:
    with serve(settings) as http:
        counted = http.get("/optout")
        opted_out = http.get("/optout", headers={"Cookie": "xmo_optout=1"})
        gpc = http.get("/optout", headers={"Sec-GPC": "1"})
    assert counted.status_code == 200 and counted.headers["content-type"].startswith("text/html")
    page = counted.text
    assert "You are counted." in page and "You are opted out" not in page
    assert '<form method="post" action="/optout">' in page and 'value="out"' in page
    assert "truncated IP address" in page and "Global Privacy Control" in page and "cookie" in page
    assert "<script" not in page.lower() and not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "default-src 'none'" in counted.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in counted.headers["content-security-policy"]
    assert "no-store" in counted.headers["cache-control"]
    assert "You are opted out" in opted_out.text and "Count me again" in opted_out.text
    assert 'value="in"' in opted_out.text
    assert "Global Privacy Control." in gpc.text and "You are counted." not in gpc.text


def test_form_post_sets_the_optout_cookie_and_deletes_the_visitor_id(
    settings: Settings, client: NewClient, live_server_factory
) -> None:
    app = create_app(settings)
    with live_server_factory(app) as server, httpx.Client(base_url=server.url) as http:
        response = http.post(
            "/optout", data={"choice": "out"}, headers={"Cookie": "xmo_id=" + "a" * 32, "Origin": "https://evil.test"}
        )
        assert response.status_code == 200 and "You are opted out" in response.text
        optout = cookie_header(response, "xmo_optout")
        assert optout.startswith("xmo_optout=1;") and "samesite=lax" in optout and "path=/" in optout
        assert max_age(optout) >= 395 * 86400 and "secure" not in optout, "Secure only over HTTPS"
        visitor = cookie_header(response, "xmo_id")
        assert max_age(visitor) <= 0, "the visitor cookie is deleted"
        # posting again counts no second opt-out; a bare POST (no form) opts out too
        http.post("/optout", headers={"Cookie": "xmo_optout=1"})
        metrics = http.get("/metrics").text
    assert 'xmo_optout_changes_total{action="opt_out"} 1.0' in metrics
    assert 'action="opt_in"' not in metrics


def test_json_variant_and_opting_back_in(settings: Settings, client: NewClient, live_server_factory) -> None:
    app = create_app(settings)
    with live_server_factory(app) as server, httpx.Client(base_url=server.url) as http:
        out = http.post("/optout", headers=JSON)
        assert out.json() == {"opted_out": True, "gpc": False}
        assert cookie_header(out, "xmo_optout").startswith("xmo_optout=1;")
        state = http.get("/optout", headers={**JSON, "Cookie": "xmo_optout=1", "Sec-GPC": "1"})
        assert state.json() == {"opted_out": True, "gpc": True}
        back = http.delete("/optout", headers={**JSON, "Cookie": "xmo_optout=1"})
        assert back.json() == {"opted_out": False, "gpc": False}
        assert max_age(cookie_header(back, "xmo_optout")) <= 0, "the opt-out cookie is cleared"
        # the page's own form opts back in; another site cannot do it for the visitor
        cross_site = http.post(
            "/optout", data={"choice": "in"}, headers={"Cookie": "xmo_optout=1", "Sec-Fetch-Site": "cross-site"}
        )
        assert cross_site.status_code == 403 and "set-cookie" not in cross_site.headers
        foreign_origin = http.delete("/optout", headers={"Cookie": "xmo_optout=1", "Origin": "https://evil.test"})
        assert foreign_origin.status_code == 403
        same_site = http.post(
            "/optout", data={"choice": "in"}, headers={"Cookie": "xmo_optout=1", "Sec-Fetch-Site": "same-origin"}
        )
        assert same_site.status_code == 200 and "You are counted." in same_site.text
        assert max_age(cookie_header(same_site, "xmo_optout")) <= 0
        too_large = http.post(
            "/optout",
            content=b"choice=out&x=" + b"a" * 5000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "too_large"
        metrics = http.get("/metrics").text
    assert 'xmo_optout_changes_total{action="opt_out"} 1.0' in metrics
    assert 'xmo_optout_changes_total{action="opt_in"} 2.0' in metrics


RETURN_URLS = [
    ("https://shop.example.com/privacy", True),
    ("/privacy?lang=de", True),
    ("https://evil.example.com/", False),
    ("//evil.example.com/", False),
    ("/\\evil.example.com", False),
    ("javascript:alert(1)", False),
    ('https://shop.example.com/"><script>alert(1)</script>', False),
]


def test_return_link_only_to_relative_or_allow_listed_urls(serve: Any, settings: Settings, client: NewClient) -> None:
    with serve(settings) as http:
        for value, shown in RETURN_URLS:
            page = http.get("/optout", params={"return": value}).text
            posted = http.post("/optout", data={"return": value}).text
            for html in (page, posted):
                assert ('id="return"' in html) is shown, value
                assert "<script>" not in html, value
                if shown:
                    assert f'href="{value}"' in html and f'name="return" value="{value}"' in html


def test_pixel_hits_after_opting_out_are_dropped(serve: Any, settings: Settings, client: NewClient) -> None:
    with serve(settings) as http:
        assert http.get("/t.gif", params={"k": client.site_key}).status_code == 200
        assert "xmo_id" in http.cookies
        http.post("/optout")  # the cookie jar keeps the opt-out cookie and loses the visitor id
        assert http.cookies.get("xmo_optout") == "1" and "xmo_id" not in http.cookies
        again = http.get("/t.gif", params={"k": client.site_key})
        assert again.status_code == 200 and "set-cookie" not in again.headers
        ingest = http.get("/readyz").json()["checks"]["ingest"]
    assert ingest["accepted"] == 1 and ingest["dropped"] == {"opt_out": 1}
