"""Audience dimensions: columns derived from sessions (days and hours in the client's time zone), names in words,
time zones never shown as regions, which segments an ad platform can target, and which sessions are paid."""

from __future__ import annotations

import pandas as pd
import pytest

from features.audience_segments import (
    AUDIENCE_COLUMNS,
    UNKNOWN,
    audience_frame,
    dimension_label,
    paid_sessions,
    segment_label,
    targetable,
    value_label,
)


def test_audience_frame_derives_every_dimension() -> None:
    sessions = pd.DataFrame(
        {
            "started_at": pd.to_datetime(["2026-11-23T17:30:00Z", None], utc=True),  # a Monday, 18:30 in Berlin
            "device_class": ["mobile", None],
            "region": ["Europe/Berlin", ""],
            "browser_family": ["Chrome", "Firefox"],
            "os_family": ["Android", "Linux"],
            "prev_sessions": [0, 3],
            "utm_source": ["newsletter", None],
            "utm_medium": ["email", None],
            "referrer_host": [None, None],
            "visitor_id": ["a", "b"],
        },
        index=[10, 11],
    )
    frame = audience_frame(sessions, "Europe/Berlin")
    assert list(frame.index) == [10, 11] and tuple(frame.columns) == AUDIENCE_COLUMNS
    assert frame["day_of_week"].tolist() == ["mon", UNKNOWN] and frame["hour_of_day"].tolist() == ["18", UNKNOWN]
    assert audience_frame(sessions, "America/New_York")["hour_of_day"].iloc[0] == "12"
    assert frame["visitor_type"].tolist() == ["new", "returning"]
    assert frame["channel"].tolist() == ["email", "direct"]
    assert frame["device_class"].tolist() == ["mobile", UNKNOWN] and frame["region"].tolist() == [
        "Europe/Berlin",
        UNKNOWN,
    ]
    assert "visitor_id" not in frame.columns
    bare = audience_frame(pd.DataFrame(index=[0]))
    assert bare.iloc[0].tolist() == [UNKNOWN] * len(AUDIENCE_COLUMNS)


@pytest.mark.parametrize(
    ("column", "value", "label"),
    [
        ("region", "Europe/Berlin", "time zone: Berlin (Europe)"),
        ("region", "America/Argentina/Buenos_Aires", "time zone: Buenos Aires (America, Argentina)"),
        ("region", "UTC", "time zone: UTC"),
        ("region", "DE-BE", "region: DE-BE"),
        ("region", "DE", "country: DE"),
        ("day_of_week", "mon", "Mon"),
        ("hour_of_day", "18", "18:00–19:00"),
        ("hour_of_day", "23", "23:00–00:00"),
        ("device_class", "mobile", "Mobile"),
        ("visitor_type", "new", "new visitors"),
        ("browser_family", "Mobile Safari", "Mobile Safari"),
        ("os_family", UNKNOWN, "unknown"),
    ],
)
def test_values_in_words(column: str, value: str, label: str) -> None:
    assert value_label(column, value) == label


def test_dimensions_in_words_and_what_an_ad_platform_can_target() -> None:
    assert dimension_label(("device_class", "channel")) == "device type × channel"
    assert dimension_label(("os_family", "browser_family", "region")) == "operating system × browser × location"
    assert dimension_label(("day_of_week", "hour_of_day")) == "day of week × hour of day"
    assert segment_label(("device_class", "channel"), ("mobile", "social")) == "Mobile × Social"
    for columns, values in [
        (("device_class",), ("tablet",)),
        (("region", "device_class"), ("Europe/Berlin", "desktop")),
        (("hour_of_day",), ("18",)),
        (("channel",), ("search",)),
    ]:
        assert targetable(columns, values), (columns, values)
    for columns, values in [
        (("visitor_type",), ("new",)),  # no campaign can exclude new visitors
        (("channel",), ("direct",)),  # nor direct or referral traffic
        (("channel",), ("referral",)),
        (("device_class", "channel"), ("mobile", "direct")),
        (("os_family",), (UNKNOWN,)),
        (("device_class",), ("bot",)),
        (("some_column",), ("x",)),
    ]:
        assert not targetable(columns, values), (columns, values)


def test_paid_sessions_have_a_paid_medium_or_a_campaign_that_is_not_email() -> None:
    sessions = pd.DataFrame(
        {
            "utm_source": ["google", "google", "facebook", "newsletter", None, None, "bing"],
            "utm_medium": ["cpc", "organic", "paid_social", "email", None, None, " CPC "],
            "campaign_id": [None, None, None, "cmp-news", "cmp-search", None, None],
            "referrer_host": [None, "www.google.com", None, None, None, "example.org", None],
        }
    )
    assert paid_sessions(sessions).tolist() == [True, False, True, False, True, False, True]
    assert not paid_sessions(pd.DataFrame(index=[0, 1])).any()
