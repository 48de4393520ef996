"""URL hygiene at the edge: keep allow-listed query parameters, read campaign fields, drop the rest, and
redact whatever kept text may be an email address."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
MAX_FIELD_LENGTH = 200
REDACTED_SEGMENT = "[redacted]"
MAX_DECODINGS = 4  # layers of percent-encoding undone to look for an address; a value still encoded is redacted
_AT_SIGNS = ("@", "\uff20", "\ufe6b")  # @, fullwidth ＠, small ﹫
# What separates the tokens of a path, a query or a phrase; none is a hex digit, so no escape spans two tokens.
_SEPARATORS = re.compile(r"([/?#&=;,\s]+)")


def _fully_decoded(text: str) -> str | None:
    """``text`` with percent-encoding undone until nothing changes; None if still encoded after the bound."""
    for _ in range(MAX_DECODINGS):
        if "%" not in text:
            return text
        decoded = unquote(text)
        if decoded == text:
            return text
        text = decoded
    return text if "%" not in text or unquote(text) == text else None


def _may_be_address(text: str) -> bool:
    decoded = _fully_decoded(text)
    return decoded is None or any(sign in decoded for sign in _AT_SIGNS)


def scrub_text(text: str) -> str:
    """``text`` with every token that may be an email address (an @ plain or percent-encoded to any depth) redacted.

    Tokens are what lies between ``/ ? # & = ; ,`` and whitespace, so a path keeps its other segments and a
    phrase its other words. A value with neither ``@`` nor ``%`` costs two substring checks.
    """
    if text.isascii() and "@" not in text and "%" not in text:
        return text
    if not _may_be_address(text):
        return text
    parts = _SEPARATORS.split(text)  # tokens at even positions, separators at odd ones
    return "".join(
        REDACTED_SEGMENT if i % 2 == 0 and part and _may_be_address(part) else part for i, part in enumerate(parts)
    )


def scrub_path(path: str) -> str:
    """The path with every segment that could hold an email address replaced."""
    return scrub_text(path)


def _bounded(url: str) -> str:
    """At most ``MAX_URL_LENGTH`` characters, cut back to a separator: a token cut in two could be an address
    that lost its ``@``."""
    if len(url) <= MAX_URL_LENGTH:
        return url
    cut = url[:MAX_URL_LENGTH]
    end = max(cut.rfind(c) for c in "/?#&=;,")
    return cut[:end] if end > 0 else ""


def _host(parts: SplitResult) -> str | None:
    """``host[:port]`` lowercased, without user info; None when the port is not a port."""
    try:
        port = parts.port
    except ValueError:
        return None
    host = scrub_text((parts.hostname or "").lower())
    return host + (f":{port}" if port else "")


_CAMPAIGN_PARAMS = {
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_content": "utm_content",
    "utm_term": "utm_term",
    "cid": "campaign_id",
    "crid": "creative_id",
}


@dataclass(frozen=True)
class CleanUrl:
    """A page URL reduced to what xmo may keep, with the campaign fields it carried."""

    url: str | None
    path: str | None
    campaign: tuple[tuple[str, str], ...]  # (field, value) pairs read from the query


@lru_cache(maxsize=65536)
def clean_page_url(url: str | None, allowed_params: frozenset[str]) -> CleanUrl:
    """Strip user info, fragment and every query parameter not in ``allowed_params``."""
    url = _bounded(url) if url else url
    if not url:
        return CleanUrl(None, None, ())
    try:
        parts = urlsplit(url)
    except ValueError:
        return CleanUrl(None, None, ())
    host = _host(parts)
    if host is None:
        return CleanUrl(None, None, ())
    pairs = parse_qsl(parts.query, keep_blank_values=False)
    kept = [(k, scrub_text(v)) for k, v in pairs if k in allowed_params]
    campaign = tuple((_CAMPAIGN_PARAMS[k], v[:MAX_FIELD_LENGTH]) for k, v in kept if k in _CAMPAIGN_PARAMS)
    path = scrub_path(parts.path)
    cleaned = urlunsplit((parts.scheme.lower(), host, path, urlencode(kept), ""))
    return CleanUrl(cleaned or None, path or "/", campaign)


@lru_cache(maxsize=65536)
def clean_referrer(url: str | None) -> tuple[str | None, str | None]:
    """A referrer as scheme://host/path (no query, no fragment, no user info), and its host."""
    url = _bounded(url) if url else url
    if not url:
        return None, None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, None
    if not parts.hostname:
        return None, None
    host = scrub_text(parts.hostname.lower())
    return urlunsplit((parts.scheme.lower(), host, scrub_path(parts.path), "", "")), host
