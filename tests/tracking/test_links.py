"""Signed tracked links: what is signed cannot be changed, other keys do not verify, destinations are strict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from tracking.links import (
    LINK_KEY_PURPOSE,
    InvalidDestination,
    check_destination,
    host_allowed,
    link_params,
    sign_link,
    verify_link,
)
from xmo.cli import main

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
URL = "https://shop.example.com/sale?utm_source=news#top"


def parts(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


def test_sign_link_builds_a_redirect_url_that_verifies() -> None:
    link = sign_link(KEY, "acme", URL, "spring", "banner-1", base_url="https://t.example.com/", utm_medium="email")
    assert link.startswith("https://t.example.com/r?c=acme&u=https%3A%2F%2Fshop.example.com%2Fsale%3F")
    query = parts(link)
    assert list(query) == ["c", "u", "cid", "crid", "utm_medium", "s"]
    assert query["u"] == URL and query["cid"] == "spring" and query["crid"] == "banner-1"
    assert len(query["s"]) == 22, "128 bits, base64url without padding"
    assert verify_link(KEY, "acme", URL, query["s"], "spring", "banner-1", utm_medium="email")
    assert sign_link(KEY, "acme", URL, "spring", "banner-1", utm_medium="email") == urlsplit(link).query


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "acme2"},
        {"url": URL.replace("sale", "sale2")},
        {"url": URL.replace("https", "http")},
        {"campaign_id": "summer"},
        {"campaign_id": None},
        {"creative_id": "banner-2"},
        {"utm_medium": "cpc"},
        {"utm_medium": None},
        {"utm_term": "extra"},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_changing_any_signed_field_fails(change: dict[str, str | None]) -> None:
    signed: dict[str, Any] = {
        "client_id": "acme",
        "url": URL,
        "campaign_id": "spring",
        "creative_id": "banner-1",
        "utm_medium": "email",
    }
    signature = link_params(KEY, **signed)["s"]
    assert verify_link(KEY, signature=signature, **signed)
    assert not verify_link(KEY, signature=signature, **{**signed, **change})


def test_a_tampered_signature_or_another_key_fails() -> None:
    signature = link_params(KEY, "acme", URL)["s"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert not verify_link(KEY, "acme", URL, flipped)
    assert not verify_link(KEY, "acme", URL, signature[:-1])
    assert not verify_link(KEY, "acme", URL, "")
    assert not verify_link(KEY, "acme", URL, "é" * 22)
    assert not verify_link(OTHER_KEY, "acme", URL, signature)


def test_another_clients_vault_key_does_not_verify(settings: Settings) -> None:
    vault = KeyVault.from_settings(settings)
    acme, beta = vault.derived_key("acme", LINK_KEY_PURPOSE), vault.derived_key("beta", LINK_KEY_PURPOSE)
    assert acme != beta and acme != vault.derived_key("acme", "pseudonym")
    signature = link_params(acme, "acme", URL, "spring")["s"]
    assert verify_link(acme, "acme", URL, signature, "spring")
    assert not verify_link(beta, "acme", URL, signature, "spring")
    assert not verify_link(beta, "beta", URL, signature, "spring")


@given(
    st.text(min_size=1, max_size=200),
    st.text(min_size=1, max_size=200),
    st.text(min_size=1, max_size=200),
)
def test_field_boundaries_cannot_be_shifted(a: str, b: str, c: str) -> None:
    signature = link_params(KEY, "acme", URL, a, b, utm_source=c)["s"]
    assert verify_link(KEY, "acme", URL, signature, a, b, utm_source=c)
    # the same characters split differently between fields are a different link
    assert not verify_link(KEY, "acme", URL, signature, a + b, None, utm_source=c)
    assert not verify_link(KEY, "acme", URL, signature, b, a, utm_source=c) or a == b


def test_signing_refuses_bad_input() -> None:
    with pytest.raises(InvalidDestination):
        sign_link(KEY, "acme", "javascript:alert(1)")
    with pytest.raises(InvalidInput, match="campaign_id"):
        sign_link(KEY, "acme", URL, "x" * 201)
    with pytest.raises(InvalidInput, match="base URL"):
        sign_link(KEY, "acme", URL, base_url="ftp://t.example.com")
    with pytest.raises(TypeError, match="utm_nonsense"):
        sign_link(KEY, "acme", URL, utm_nonsense="x")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://shop.example.com", "shop.example.com"),
        ("http://Shop.Example.COM:8080/a/b?x=1&y=%20#f", "shop.example.com"),
        ("HTTPS://shop.example.com./", "shop.example.com"),
        ("https://xn--mnchen-3ya.example/", "xn--mnchen-3ya.example"),
        ("http://127.0.0.1:5000/landing", "127.0.0.1"),
    ],
)
def test_plain_http_urls_are_destinations(url: str, host: str) -> None:
    assert check_destination(url) == host


@pytest.mark.parametrize(
    "url",
    [
        "",
        "javascript:alert(1)",
        "JavaScript://shop.example.com/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.com/",
        "/\\evil.com",
        "https:/evil.com",
        "https:evil.com",
        "https:///evil.com",
        "https://user:pw@shop.example.com/",
        "https://shop.example.com@evil.com/",
        "https://shop.example.com\\@evil.com/",
        "https://evil.com\\.shop.example.com/",
        "https://shop%2eexample.com/",
        "https://shop.example.com/a b",
        "https://shop.example.com/\r\nSet-Cookie:x=1",
        "https://shop.example.com/%zz",
        "https://münchen.example/",
        "https://shop.exаmple.com/",  # Cyrillic а
        "https://[::1]/",
        "https://shop.example.com:99999/",
        "https://shop..example.com/",
        "https://-shop.example.com/",
        "ftp://shop.example.com/",
        "https://shop.example.com/" + "a" * 2048,
    ],
)
def test_everything_else_is_refused(url: str) -> None:
    with pytest.raises(InvalidDestination):
        check_destination(url)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("shop.example.com", True),
        ("SHOP.example.com", True),
        ("a.cdn.example.net", True),
        ("a.b.cdn.example.net", True),
        ("cdn.example.net", False),  # a wildcard allows subdomains only
        ("evilcdn.example.net", False),
        ("shop.example.com.evil.com", False),
        ("evilshop.example.com", False),
        ("example.com", False),
    ],
)
def test_host_allowed_matches_exact_hosts_and_wildcard_subdomains(host: str, allowed: bool) -> None:
    assert host_allowed(host, ("shop.example.com", "*.cdn.example.net")) is allowed


def test_cli_prints_a_link_signed_with_the_clients_key(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(home=xmo_home)
    Tenants.from_settings(settings).create_client("Acme", ["shop.example.com"], client_id="acme")
    assert main(["link", "sign", "acme", URL, "--campaign", "spring", "--creative", "banner-1", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["link"].startswith("http://127.0.0.1:8000/r?c=acme&")
    query = parts(printed["link"])
    key = KeyVault.from_settings(settings).derived_key("acme", LINK_KEY_PURPOSE)
    assert verify_link(key, "acme", URL, query["s"], "spring", "banner-1")
    assert main(["link", "sign", "acme", URL, "--base-url", "https://t.example.com", "--utm-source", "news"]) == 0
    plain = capsys.readouterr().out.strip()
    assert plain.startswith("https://t.example.com/r?") and parts(plain)["utm_source"] == "news"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", URL], "unknown client 'nobody'"),
        (["acme", "javascript:alert(1)"], "http:// or https://"),
        (["acme", URL, "--base-url", "t.example.com"], "base URL"),
    ],
)
def test_cli_errors_are_one_line(
    xmo_home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    Tenants.from_settings(Settings(home=xmo_home)).create_client("Acme", ["shop.example.com"], client_id="acme")
    assert main(["link", "sign", *args]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("xmo: ") and captured.err.count("\n") == 1 and message in captured.err
