"""Tracked links: signed click-redirect URLs, and the rules a redirect destination must pass.

A link ``/r?c=<client>&u=<destination>&cid=…&crid=…&s=<signature>`` may send a browser only to a destination
signed with the client's link key (HMAC-SHA256, 128 bits) or on one of the client's allowed domains: xmo is
never an open redirect. Destinations are strict ASCII ``http(s)`` URLs, so what is checked is what is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import SplitResult, quote, urlencode, urlsplit

from core.errors import InvalidInput, NotFound, XmoError
from core.tenants import Tenants, is_public_suffix
from tracking.policies import TtlCache

LINK_PATH = "/r"
LINK_KEY_PURPOSE = "link"
MAX_DESTINATION_LENGTH = 2048
MAX_FIELD_LENGTH = 200
SIGNATURE_BYTES = 16
# Query parameter of each signed campaign field, in canonical order.
LINK_FIELDS: dict[str, str] = {
    "campaign_id": "cid",
    "creative_id": "crid",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_content": "utm_content",
    "utm_term": "utm_term",
}
UTM_FIELDS = frozenset(name for name in LINK_FIELDS if name.startswith("utm_"))
_CANONICAL_VERSION = "xmo-link-v1"
# RFC 3986 characters only: no spaces, controls, backslashes, quotes or non-ASCII (IDN hosts go in punycode).
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NETLOC = re.compile(r"(?P<host>[A-Za-z0-9.-]+?)\.?(?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class InvalidDestination(XmoError):
    """A destination that is no plain http(s) URL (script schemes, user info, odd characters, too long)."""

    code = "invalid_destination"
    http_status = 400


class UntrustedDestination(XmoError):
    """A destination neither signed for the client nor on one of its allowed domains."""

    code = "untrusted_destination"
    http_status = 400


def check_destination(url: str) -> str:
    """The lower-case host of ``url`` if it may be a redirect destination; ``InvalidDestination`` otherwise."""
    if not url or len(url) > MAX_DESTINATION_LENGTH:
        raise InvalidDestination(f"the destination must have 1-{MAX_DESTINATION_LENGTH} characters")
    if not _URI_CHARS.fullmatch(url) or _BAD_PERCENT.search(url):
        raise InvalidDestination(
            "the destination must be a URL of ASCII characters (percent-encode others, punycode for IDN hosts)"
        )
    try:
        parts: SplitResult = urlsplit(url)
    except ValueError as exc:
        raise InvalidDestination("the destination is not a URL") from exc
    if parts.scheme.lower() not in ("http", "https") or not url[len(parts.scheme) :].startswith("://"):
        raise InvalidDestination("the destination must be an absolute http:// or https:// URL")
    netloc = _NETLOC.fullmatch(parts.netloc)
    if netloc is None:
        raise InvalidDestination("the destination needs a plain host name: no user info, no encoded characters")
    host = netloc["host"].lower()
    port = netloc["port"]
    if not all(_LABEL.fullmatch(label) for label in host.split(".")) or (port and not 0 < int(port) < 65536):
        raise InvalidDestination(f"the destination's host {host!r} is not a valid host name")
    return host


def host_allowed(host: str, allowed_domains: Iterable[str]) -> bool:
    """Whether ``host`` is an allowed domain, or a subdomain of a ``*.example.com`` entry."""
    host = host.lower().rstrip(".")
    for domain in allowed_domains:
        if domain.startswith("*."):
            if host.endswith(domain[1:]) and len(host) > len(domain) - 1:
                return True
        elif host == domain:
            return True
    return False


def _fields(campaign_id: str | None, creative_id: str | None, utm: Mapping[str, str | None]) -> dict[str, str]:
    unknown = set(utm) - UTM_FIELDS
    if unknown:
        raise TypeError(f"unknown link fields: {', '.join(sorted(unknown))}")
    values = {"campaign_id": campaign_id, "creative_id": creative_id, **utm}
    fields = {name: value for name, value in values.items() if value}
    too_long = sorted(name for name, value in fields.items() if len(value) > MAX_FIELD_LENGTH)
    if too_long:
        raise InvalidInput(f"{', '.join(too_long)}: at most {MAX_FIELD_LENGTH} characters")
    return fields


def link_signature(key: bytes, client_id: str, url: str, fields: Mapping[str, str]) -> str:
    """HMAC-SHA256 over the canonical encoding of client, destination and campaign fields (128 bits, base64url)."""
    canonical = [_CANONICAL_VERSION, client_id, url, *(fields.get(name) or None for name in LINK_FIELDS)]
    message = json.dumps(canonical, ensure_ascii=True, separators=(",", ":")).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_params(
    key: bytes, client_id: str, url: str, campaign_id: str | None = None, creative_id: str | None = None, **utm: str
) -> dict[str, str]:
    """The query parameters of a tracked link, signature last."""
    check_destination(url)
    fields = _fields(campaign_id, creative_id, utm)
    params = {"c": client_id, "u": url}
    params.update({LINK_FIELDS[name]: fields[name] for name in LINK_FIELDS if name in fields})
    params["s"] = link_signature(key, client_id, url, fields)
    return params


def sign_link(
    key: bytes,
    client_id: str,
    url: str,
    campaign_id: str | None = None,
    creative_id: str | None = None,
    *,
    base_url: str | None = None,
    **utm: str,
) -> str:
    """A tracked link ``<base_url>/r?c=…&u=…&s=…``; without ``base_url``, only its query string.

    ``key`` is the client's link key, ``vault.derived_key(client_id, "link")``.
    """
    query = urlencode(link_params(key, client_id, url, campaign_id, creative_id, **utm), quote_via=quote, safe="")
    if base_url is None:
        return query
    if urlsplit(base_url).scheme not in ("http", "https"):
        raise InvalidInput(f"base URL {base_url!r} must start with http:// or https://")
    return f"{base_url.rstrip('/')}{LINK_PATH}?{query}"


def verify_link(
    key: bytes,
    client_id: str,
    url: str,
    signature: str,
    campaign_id: str | None = None,
    creative_id: str | None = None,
    **utm: str | None,
) -> bool:
    """Whether ``signature`` signs exactly this client, destination and campaign fields (constant-time)."""
    try:
        fields = _fields(campaign_id, creative_id, utm)
    except InvalidInput:
        return False
    expected = link_signature(key, client_id, url, fields).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "ignore"))


def own_domains(allowed_domains: Iterable[str]) -> tuple[str, ...]:
    """The entries that name a client's own site: a public suffix (``*.com``, stored before the registry refused
    them) would turn the client's links into an open redirect, so it allows nothing."""
    return tuple(d for d in allowed_domains if not is_public_suffix(d))


class ClientDomains:
    """Cached answers about clients' allowed domains (a redirect asks on every click)."""

    def __init__(self, tenants: Tenants, ttl_s: float = 30.0) -> None:
        self.tenants = tenants
        self._clients: TtlCache[str, tuple[str, ...] | None] = TtlCache(self._load, ttl_s)
        self._all: TtlCache[None, frozenset[str]] = TtlCache(self._load_all, ttl_s)

    def _load(self, client_id: str) -> tuple[str, ...] | None:
        try:
            return own_domains(self.tenants.get_client(client_id).allowed_domains)
        except NotFound:
            return None

    def _load_all(self, _key: None) -> frozenset[str]:
        return frozenset(d for client in self.tenants.list_clients() for d in own_domains(client.allowed_domains))

    def of(self, client_id: str) -> tuple[str, ...] | None:
        """The allowed domains of a live client, or None for an unknown one."""
        return self._clients.get(client_id)

    def any_client_allows(self, host: str) -> bool:
        """Whether ``host`` is an allowed domain of some client."""
        return host_allowed(host, self._all.get(None))

    def forget(self) -> None:
        """Drop cached answers (after a client changed or was purged)."""
        self._clients.clear()
        self._all.clear()
