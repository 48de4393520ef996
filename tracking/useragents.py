"""User-agent parsing at the edge: browser, OS and device class; the raw string goes no further."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import ua_parser

_BOT_PATTERN = re.compile(
    r"bot|crawl|spider|slurp|headless|phantomjs|lighthouse|pingdom|uptime|monitor|curl/|wget/|python-requests|"
    r"httpclient|go-http-client|java/|facebookexternalhit|preview",
    re.IGNORECASE,
)
_TABLET_PATTERN = re.compile(r"ipad|tablet|kindle|silk/|playbook|(android(?!.*mobile))", re.IGNORECASE)
_MOBILE_PATTERN = re.compile(r"mobi|iphone|ipod|android.*mobile|windows phone|blackberry|opera mini", re.IGNORECASE)


@dataclass(frozen=True)
class TechInfo:
    """What xmo keeps of a user agent."""

    browser_family: str
    browser_version: str | None
    os_family: str
    os_version: str | None
    device_class: str  # desktop | mobile | tablet | bot | unknown
    is_bot: bool


def _version(major: str | None, minor: str | None) -> str | None:
    if not major:
        return None
    return f"{major}.{minor}" if minor else major


@lru_cache(maxsize=16384)
def parse_user_agent(user_agent: str | None) -> TechInfo:
    """Browser family and major.minor version, OS family and version, device class, bot flag."""
    if not user_agent:
        return TechInfo("Other", None, "Other", None, "unknown", False)
    result = ua_parser.parse(user_agent[:1024])
    browser, os_, device = result.user_agent, result.os, result.device
    is_bot = bool(_BOT_PATTERN.search(user_agent)) or (device is not None and device.family == "Spider")
    if is_bot:
        device_class = "bot"
    elif _TABLET_PATTERN.search(user_agent) or (device is not None and "tablet" in (device.brand or "").lower()):
        device_class = "tablet"
    elif _MOBILE_PATTERN.search(user_agent):
        device_class = "mobile"
    else:
        device_class = "desktop"
    return TechInfo(
        browser_family=browser.family if browser else "Other",
        browser_version=_version(browser.major, browser.minor) if browser else None,
        os_family=os_.family if os_ else "Other",
        os_version=_version(os_.major, os_.minor) if os_ else None,
        device_class=device_class,
        is_bot=is_bot,
    )
