"""Marketing channel of a session, from its first hit's ``utm_medium``, ``utm_source`` and referrer host.

Rules, first match wins (values compared lower-cased and trimmed; empty strings count as missing):

1. **email** — ``utm_medium`` in ``EMAIL_MEDIUMS`` (email, newsletter, …) or ``utm_source`` in
   ``EMAIL_SOURCES``.
2. **display** — ``utm_medium`` in ``DISPLAY_MEDIUMS`` (display, banner, cpm, programmatic).
3. **affiliate** — ``utm_medium`` in ``AFFILIATE_MEDIUMS`` (affiliate, partner, …).
4. **social** — ``utm_medium`` in ``SOCIAL_MEDIUMS`` or ``utm_source`` in ``SOCIAL_SOURCES`` (facebook,
   instagram, linkedin, tiktok, x, twitter, pinterest, reddit, …). Paid social (``facebook`` + ``cpc``)
   is social.
5. **search** — paid: ``utm_medium`` in ``PAID_SEARCH_MEDIUMS`` (cpc, ppc, paidsearch, …); organic:
   ``utm_medium`` ``organic`` or ``utm_source`` in ``SEARCH_SOURCES`` (google, bing, duckduckgo, yahoo, …).
6. **referral** — ``utm_medium`` ``referral``.
7. Otherwise the referrer decides: a social network's host → **social**, a search engine's host
   → **search**, any other host → **referral**.
8. Tagged traffic (``utm_source`` or ``utm_medium`` set) that matched nothing above → **referral**.
9. Nothing at all → **direct**.

Campaign tags take precedence over the referrer: a tagged newsletter link opened in a webmail is email.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

CHANNELS: tuple[str, ...] = ("search", "social", "email", "display", "affiliate", "referral", "direct")

PAID_SEARCH_MEDIUMS = frozenset({"cpc", "ppc", "paidsearch", "paid-search", "paid_search", "sem"})
ORGANIC_SEARCH_MEDIUMS = frozenset({"organic"})
SOCIAL_MEDIUMS = frozenset(
    {
        "social",
        "social-media",
        "social_media",
        "socialmedia",
        "social-network",
        "paid-social",
        "paid_social",
        "paidsocial",
        "sm",
    }
)
EMAIL_MEDIUMS = frozenset({"email", "e-mail", "e_mail", "mail", "newsletter"})
DISPLAY_MEDIUMS = frozenset({"display", "banner", "cpm", "programmatic"})
AFFILIATE_MEDIUMS = frozenset({"affiliate", "affiliates", "partner", "partners"})
REFERRAL_MEDIUMS = frozenset({"referral"})

SEARCH_SOURCES = frozenset(
    {
        "google",
        "bing",
        "duckduckgo",
        "yahoo",
        "yandex",
        "baidu",
        "ecosia",
        "qwant",
        "startpage",
        "brave",
    }
)
SOCIAL_SOURCES = frozenset(
    {
        "facebook",
        "fb",
        "instagram",
        "ig",
        "linkedin",
        "tiktok",
        "x",
        "twitter",
        "pinterest",
        "reddit",
        "meta",
    }
)
EMAIL_SOURCES = frozenset({"email", "newsletter"})

# Host patterns: the engine's or network's registrable domain, on any country TLD, any subdomain.
SEARCH_HOST_PATTERN = (
    r"(?:^|\.)(?:google|bing|duckduckgo|yahoo|yandex|baidu|ecosia|qwant|startpage|brave)\.(?:com?\.)?[a-z]{2,3}$"
)
SOCIAL_HOST_PATTERN = (
    r"(?:^|\.)(?:facebook|instagram|linkedin|tiktok|twitter|pinterest|reddit)\.(?:com?\.)?[a-z]{2,3}$"
    r"|(?:^|\.)(?:x\.com|t\.co|fb\.com|fb\.me|lnkd\.in|pin\.it|redd\.it)$"
)
_SEARCH_HOST = re.compile(SEARCH_HOST_PATTERN)
_SOCIAL_HOST = re.compile(SOCIAL_HOST_PATTERN)


def _normalized(values: pd.Series) -> pd.Series:
    """Lower-cased, trimmed strings; missing and empty values as NA."""
    text = values.astype("str").str.strip().str.lower()
    return text.where(text.str.len() > 0)


def _classify(source: pd.Series, medium: pd.Series, host: pd.Series) -> npt.NDArray[np.str_]:
    """The rules of this module over aligned, normalized columns."""
    tagged = (source.notna() | medium.notna()).to_numpy(dtype=bool)
    has_host = host.notna().to_numpy(dtype=bool)
    social_host = host.str.contains(_SOCIAL_HOST).fillna(False).to_numpy(dtype=bool)
    search_host = host.str.contains(_SEARCH_HOST).fillna(False).to_numpy(dtype=bool)

    def medium_in(values: frozenset[str]) -> npt.NDArray[np.bool_]:
        return medium.isin(values).to_numpy(dtype=bool)

    def source_in(values: frozenset[str]) -> npt.NDArray[np.bool_]:
        return source.isin(values).to_numpy(dtype=bool)

    conditions = [
        medium_in(EMAIL_MEDIUMS) | source_in(EMAIL_SOURCES),
        medium_in(DISPLAY_MEDIUMS),
        medium_in(AFFILIATE_MEDIUMS),
        medium_in(SOCIAL_MEDIUMS) | source_in(SOCIAL_SOURCES),
        medium_in(PAID_SEARCH_MEDIUMS) | medium_in(ORGANIC_SEARCH_MEDIUMS) | source_in(SEARCH_SOURCES),
        medium_in(REFERRAL_MEDIUMS),
        social_host,
        search_host,
        has_host | tagged,
    ]
    choices = ["email", "display", "affiliate", "social", "search", "referral", "social", "search", "referral"]
    return np.select(conditions, choices, default="direct")


def classify_channel(
    utm_source: pd.Series | None, utm_medium: pd.Series | None, referrer_host: pd.Series | None
) -> pd.Series:
    """The channel of each row (one of ``CHANNELS``, as ``str``), by the rules in this module's docstring.

    Any argument may be None (the caller did not send that field); the others must share an index. The rules
    run once per distinct (source, medium, host) combination, so a million sessions cost about as much as
    their few hundred combinations.
    """
    present = next((s for s in (utm_source, utm_medium, referrer_host) if s is not None), None)
    index = present.index if present is not None else pd.RangeIndex(0)
    columns = [
        s if s is not None else pd.Series(None, index=index, dtype="object")
        for s in (utm_source, utm_medium, referrer_host)
    ]
    combo_codes = np.zeros(len(index), dtype=np.int64)
    n_combos = 1
    distinct_values = []
    for column in columns:  # number the distinct combinations, one column at a time (no overflow)
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        combo_codes, combos = pd.factorize(combo_codes * (len(uniques) + 1) + (codes + 1))
        n_combos = len(combos)
        distinct_values.append((codes, uniques))
    representatives = np.zeros(n_combos, dtype=np.int64)
    representatives[combo_codes] = np.arange(len(index))  # a row of each combination (any: they are equal)
    parts = []
    for codes, uniques in distinct_values:  # code -1 (missing) picks the None appended last
        values = pd.Series([*uniques, None], dtype="object")
        parts.append(_normalized(values.iloc[codes[representatives]].reset_index(drop=True)))
    channel = _classify(*parts)[combo_codes] if n_combos else np.array([], dtype=str)
    return pd.Series(channel, index=index, dtype="str", name="channel")


def channel_rules() -> dict[str, Any]:
    """The rule tables, JSON-ready (part of the feature definitions hash)."""
    return {
        "channels": list(CHANNELS),
        "paid_search_mediums": sorted(PAID_SEARCH_MEDIUMS),
        "organic_search_mediums": sorted(ORGANIC_SEARCH_MEDIUMS),
        "social_mediums": sorted(SOCIAL_MEDIUMS),
        "email_mediums": sorted(EMAIL_MEDIUMS),
        "display_mediums": sorted(DISPLAY_MEDIUMS),
        "affiliate_mediums": sorted(AFFILIATE_MEDIUMS),
        "referral_mediums": sorted(REFERRAL_MEDIUMS),
        "search_sources": sorted(SEARCH_SOURCES),
        "social_sources": sorted(SOCIAL_SOURCES),
        "email_sources": sorted(EMAIL_SOURCES),
        "search_host_pattern": SEARCH_HOST_PATTERN,
        "social_host_pattern": SOCIAL_HOST_PATTERN,
        "order": [
            "email",
            "display",
            "affiliate",
            "social",
            "search",
            "referral",
            "social_host",
            "search_host",
            "other_host_or_tagged",
            "direct",
        ],
    }
