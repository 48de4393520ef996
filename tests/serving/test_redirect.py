"""The click redirect over real HTTP: trusted destinations only, the click recorded like a pixel hit."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from core.layout import StorageLayout
from core.schema import clients
from core.settings import Settings
from core.tenants import NewClient, Tenants
from privacy.keyvault import KeyVault
from tracking.compactor import compact_all
from tracking.lake import event_files
from tracking.links import LINK_KEY_PURPOSE, link_params

SHOP = "https://shop.example.com/sale?utm_source=news&session=Zq9Secret"
FOREIGN = "https://partner.example.org/offer"


@pytest.fixture
def shop(settings: Settings) -> NewClient:
    return Tenants.from_settings(settings).create_client(
        "Shop", ["shop.example.com", "*.cdn.example.net"], client_id="shop"
    )


@pytest.fixture
def other(settings: Settings) -> NewClient:
    return Tenants.from_settings(settings).create_client("Other", ["other.example.org"], client_id="other")


def signed(settings: Settings, client_id: str, url: str, **fields: str) -> dict[str, str]:
    key = KeyVault.from_settings(settings).derived_key(client_id, LINK_KEY_PURPOSE)
    return link_params(key, client_id, url, **fields)


def ingest(http: httpx.Client) -> dict[str, object]:
    checks = http.get("/readyz").json()["checks"]
    return {"pending": checks["spool_pending_events"], **checks["ingest"]}


def lake(settings: Settings, client_id: str) -> pa.Table:
    compact_all(settings)
    return pa.concat_tables(pq.read_table(f) for f in event_files(StorageLayout.from_settings(settings), client_id))


def test_allow_listed_destinations_redirect_without_a_signature(
    serve: Any, settings: Settings, shop: NewClient
) -> None:
    destinations = [
        SHOP,
        "https://img.cdn.example.net/a.png",
        "https://a.b.cdn.example.net/",
        "https://SHOP.example.com/",
    ]
    with serve(settings) as http:
        for url in destinations:
            response = http.get("/r", params={"c": "shop", "u": url})
            assert response.status_code == 302, (url, response.text)
            assert response.headers["location"] == url
            assert "no-store" in response.headers["cache-control"]
        assert ingest(http)["accepted"] == len(destinations)


def test_signed_foreign_destination_redirects_and_forgeries_do_not(
    serve: Any, settings: Settings, shop: NewClient, other: NewClient
) -> None:
    good = signed(settings, "shop", FOREIGN, campaign_id="spring", creative_id="b1")
    forgeries = [
        {"c": "shop", "u": FOREIGN},  # no signature
        {**good, "s": "A" * 22},  # made-up signature
        {**good, "cid": "summer"},  # campaign changed
        {**good, "crid": "b2"},  # creative changed
        {**good, "utm_source": "added"},  # field added
        {**good, "u": FOREIGN + "/x"},  # destination changed
        {**signed(settings, "other", FOREIGN), "c": "shop"},  # another client's signature
        {**good, "c": "other"},  # another client claiming the link
        {**good, "s": good["s"] + "x"},
    ]
    with serve(settings) as http:
        ok = http.get("/r", params=good)
        assert ok.status_code == 302 and ok.headers["location"] == FOREIGN
        for params in forgeries:
            response = http.get("/r", params=params)
            assert response.status_code == 400, params
            assert "location" not in response.headers
            assert response.json()["error"]["code"] == "untrusted_destination"
        # a wrong signature is refused even for an allow-listed host
        tampered = {**signed(settings, "shop", SHOP, campaign_id="spring"), "cid": "summer"}
        assert http.get("/r", params=tampered).status_code == 400
        assert ingest(http) == {"pending": 1, "received": 1, "accepted": 1, "dropped": {}}


OPEN_REDIRECT_TRICKS = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "//evil.com/",
    "///evil.com/",
    "/\\evil.com",
    "\\\\evil.com",
    "https:evil.com",
    "https:/evil.com",
    "https://evil.com",
    "HTTPS://EVIL.COM/",
    "https://shop.example.com@evil.com/",
    "https://shop.example.com:443@evil.com/",
    "https://shop.example.com\\@evil.com/",
    "https://evil.com\\shop.example.com",
    "https://evil.com#https://shop.example.com/",
    "https://evil.com?u=https://shop.example.com/",
    "https://shop.example.com.evil.com/",
    "https://evilshop.example.com/",
    "https://cdn.example.net/",
    "https://shop.example.com%2f@evil.com/",
    "https://shop%2eexample.com/",
    "https://shop.example.com/\r\nLocation: https://evil.com",
    "\thttps://shop.example.com/",
    " https://shop.example.com/",
    "https://shop.exаmple.com/",  # Cyrillic а (IDN homograph)
    "https://xn--shop-example-s7f.com/",  # punycode host not allow-listed
    "https://shop。example。com/",  # ideographic full stops
    "https://ｓｈｏｐ.example.com/",  # fullwidth letters
    "ftp://shop.example.com/",
    "shop.example.com",
    "https://shop.example.com/" + "a" * 2100,
]


def test_open_redirect_tricks_are_refused_and_nothing_is_recorded(
    serve: Any, settings: Settings, shop: NewClient
) -> None:
    with serve(settings) as http:
        for trick in OPEN_REDIRECT_TRICKS:
            response = http.get("/r", params={"c": "shop", "u": trick})
            assert response.status_code == 400, trick
            assert "location" not in response.headers, trick
            assert response.json()["error"]["code"] in {"invalid_destination", "untrusted_destination"}, trick
        # a repeated parameter never smuggles the second destination through
        raw = http.get("/r?c=shop&u=https://shop.example.com/&u=https://evil.com/")
        assert raw.status_code == 400 or raw.headers["location"] == "https://shop.example.com/"
        unknown = http.get("/r", params={"c": "nobody", "u": SHOP})
        invalid = http.get("/r", params={"c": "../Shop", "u": SHOP})
        missing = http.get("/r", params={"c": "shop"})
        assert unknown.status_code == invalid.status_code == 400
        assert unknown.json()["error"]["code"] == invalid.json()["error"]["code"] == "unknown_client"
        assert missing.status_code == 422 and "u" in missing.json()["error"]["message"]
        assert ingest(http)["pending"] == (1 if raw.status_code == 302 else 0), "a refused link records nothing"


def test_a_public_suffix_stored_before_it_was_refused_allows_nothing(
    serve: Any, settings: Settings, shop: NewClient
) -> None:
    tenants = Tenants.from_settings(settings)
    with tenants.engine.begin() as connection:  # as a tenants that accepted them left it
        connection.execute(
            update(clients).where(clients.c.id == "shop").values(allowed_domains=["shop.example.com", "*.com", "co.uk"])
        )
    with serve(settings) as http:
        for url in ("https://evil.com/", "https://attacker.co.uk/"):
            response = http.get("/r", params={"c": "shop", "u": url})
            assert response.status_code == 400 and "location" not in response.headers, url
            assert response.json()["error"]["code"] == "untrusted_destination"
        assert http.get("/r", params={"c": "shop", "u": SHOP}).status_code == 302


def test_click_is_recorded_with_campaign_creative_and_the_visitor_cookie(
    serve: Any, settings: Settings, shop: NewClient
) -> None:
    link = signed(settings, "shop", FOREIGN + "?utm_medium=email", campaign_id="spring", creative_id="banner-1")
    with serve(settings) as http:
        first = http.get("/r", params=link, headers={"Referer": "https://news.example.com/issue?id=7"})
        cookie = re.search(r"xmo_id=([0-9a-f]{32})", first.headers["set-cookie"])
        assert cookie and "samesite=lax" in first.headers["set-cookie"].lower()
        second = http.get(f"/r?c=shop&u={quote(SHOP, safe='')}&cid=autumn", headers={"Cookie": f"xmo_id={cookie[1]}"})
        assert second.status_code == 302 and "set-cookie" not in second.headers
    events = lake(settings, "shop").sort_by("ts").to_pylist()
    assert [(e["event_type"], e["source"]) for e in events] == [("click", "redirect")] * 2
    assert {e["visitor_id"] for e in events} == {cookie[1]}
    assert (events[0]["campaign_id"], events[0]["creative_id"], events[0]["utm_medium"]) == (
        "spring",
        "banner-1",
        "email",
    )
    assert events[0]["url"] == FOREIGN + "?utm_medium=email"
    assert events[0]["referrer_host"] == "news.example.com" and "id=7" not in events[0]["referrer"]
    assert events[1]["campaign_id"] == "autumn" and events[1]["utm_source"] == "news"
    assert events[1]["url"] == "https://shop.example.com/sale?utm_source=news", "non-allow-listed parameters dropped"


def test_opted_out_visitors_are_redirected_but_not_recorded(serve: Any, settings: Settings, shop: NewClient) -> None:
    link = signed(settings, "shop", FOREIGN, campaign_id="c")
    with serve(settings) as http:
        for headers in ({"Sec-GPC": "1"}, {"Cookie": "xmo_optout=1"}, {"Cookie": "xmo_optout=1; xmo_id=" + "a" * 32}):
            response = http.get("/r", params=link, headers=headers)
            assert response.status_code == 302 and response.headers["location"] == FOREIGN
            assert "set-cookie" not in response.headers
        assert ingest(http) == {"pending": 0, "received": 3, "accepted": 0, "dropped": {"gpc": 1, "opt_out": 2}}
