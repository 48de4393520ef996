"""Channel classification: one table of cases, each naming the rule it exercises."""

from __future__ import annotations

import pandas as pd
import pytest

from features.channels import CHANNELS, classify_channel

# (utm_source, utm_medium, referrer_host, expected channel)
CASES: list[tuple[str | None, str | None, str | None, str]] = [
    ("google", "cpc", None, "search"),  # paid search
    ("bing", "PPC", "www.bing.com", "search"),  # paid search, case-insensitive
    ("partner-net", "paidsearch", None, "search"),
    (None, None, "www.google.com", "search"),  # organic search by referrer
    (None, None, "www.google.co.uk", "search"),
    (None, None, "duckduckgo.com", "search"),
    (None, None, "search.yahoo.co.jp", "search"),
    ("google", None, None, "search"),  # a search engine's source, untagged medium
    (None, "organic", None, "search"),
    ("facebook", "cpc", None, "social"),  # paid social is social
    ("instagram", None, None, "social"),
    ("x", "paid", None, "social"),
    ("acme", "social", None, "social"),
    (None, None, "l.facebook.com", "social"),  # social by referrer
    (None, None, "t.co", "social"),
    (None, None, "www.linkedin.com", "social"),
    (None, None, "old.reddit.com", "social"),
    (None, None, "x.com", "social"),
    ("mailchimp", "email", None, "email"),
    ("newsletter", None, "mail.google.com", "email"),  # tags beat the referrer
    (" crm ", " Newsletter ", None, "email"),  # trimmed
    ("dsp", "display", None, "display"),
    ("dsp", "banner", None, "display"),
    ("dsp", "cpm", None, "display"),
    ("dsp", "programmatic", None, "display"),
    ("awin", "affiliate", None, "affiliate"),
    ("coupons", "partner", None, "affiliate"),
    ("blog", "referral", None, "referral"),
    (None, None, "news.example.org", "referral"),  # any other referrer
    (None, None, "google.example.com", "referral"),  # not a search engine's domain
    ("podcast", "audio", None, "referral"),  # tagged, unknown: referral
    (None, None, None, "direct"),
    ("", "  ", "", "direct"),  # empty strings count as missing
]


@pytest.mark.parametrize(("source", "medium", "host", "expected"), CASES)
def test_classify_channel_one_row(source: str | None, medium: str | None, host: str | None, expected: str) -> None:
    result = classify_channel(
        pd.Series([source], dtype=object), pd.Series([medium], dtype=object), pd.Series([host], dtype=object)
    )
    assert result.tolist() == [expected]


def test_classify_channel_whole_table_at_once_keeps_the_index() -> None:
    frame = pd.DataFrame(CASES, columns=["source", "medium", "host", "expected"], index=range(100, 100 + len(CASES)))
    result = classify_channel(frame["source"], frame["medium"], frame["host"])
    assert result.index.equals(frame.index)
    assert result.tolist() == frame["expected"].tolist()
    assert set(result) <= set(CHANNELS)


def test_missing_inputs_are_allowed() -> None:
    hosts = pd.Series(["www.bing.com", None])
    assert classify_channel(None, None, hosts).tolist() == ["search", "direct"]
    assert classify_channel(None, None, None).tolist() == []
