"""URL hygiene at the edge: keep allow-listed query parameters, read campaign fields, drop the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
REDACTED_SEGMENT = "[redacted]"
# A path segment with an @ (plain or percent-encoded) may be an email address: it is never kept.
_ADDRESS_SEGMENT = re.compile(r"[^/]*(?:@|%40)[^/]*", re.IGNORECASE)


def scrub_path(path: str) -> str:
    """The path with every segment that could hold an email address replaced."""
    return _ADDRESS_SEGMENT.sub(REDACTED_SEGMENT, path) if "@" in path or "%" in path else path


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
    if not url:
        return CleanUrl(None, None, ())
    try:
        parts = urlsplit(url[:MAX_URL_LENGTH])
    except ValueError:
        return CleanUrl(None, None, ())
    pairs = parse_qsl(parts.query, keep_blank_values=False)
    kept = [(k, v) for k, v in pairs if k in allowed_params]
    campaign = tuple((_CAMPAIGN_PARAMS[k], v[:200]) for k, v in kept if k in _CAMPAIGN_PARAMS)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    path = scrub_path(parts.path)
    cleaned = urlunsplit((parts.scheme.lower(), host.lower(), path, urlencode(kept), ""))
    return CleanUrl(cleaned or None, path or "/", campaign)


@lru_cache(maxsize=65536)
def clean_referrer(url: str | None) -> tuple[str | None, str | None]:
    """A referrer as scheme://host/path (no query, no fragment, no user info), and its host."""
    if not url:
        return None, None
    try:
        parts = urlsplit(url[:MAX_URL_LENGTH])
    except ValueError:
        return None, None
    if not parts.hostname:
        return None, None
    host = parts.hostname.lower()
    return urlunsplit((parts.scheme.lower(), host, scrub_path(parts.path), "", "")), host
