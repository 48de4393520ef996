from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tracking.edge import EARLIEST_EVENT_TIME, DropReason, Edge, EdgeConfig, EdgePolicy, raw_frame
from tracking.events import EVENT_SCHEMA

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
POLICIES = {
    "pii": EdgePolicy("pii", collect_pii=True),
    "plain": EdgePolicy("plain"),
    "dnt": EdgePolicy("dnt", honour_dnt=True),
}


def make_edge(**config: Any) -> Edge:
    return Edge(EdgeConfig(**config), POLICIES.get, lambda c: (c * 32).encode()[:32], clock=lambda: NOW)


def hit(**fields: Any) -> dict[str, Any]:
    base = {
        "client_id": "plain",
        "event_type": "pageview",
        "visitor_id": "v" * 32,
        "ts": NOW,
        "url": "https://shop.example.com/",
        "ip": "192.0.2.77",
        "user_agent": WINDOWS,
    }
    return {**base, **fields}


def run(*hits: dict[str, Any], **config: Any) -> tuple[pd.DataFrame, dict[DropReason, int]]:
    result = make_edge(**config).process(raw_frame(list(hits)))
    assert result.events.schema.equals(EVENT_SCHEMA)
    assert result.received == len(hits) == result.accepted + sum(result.drops.values())
    return result.events.to_pandas(), dict(result.drops)


def test_each_drop_reason_is_counted_not_raised() -> None:
    events, drops = run(
        hit(client_id=None),
        hit(client_id="gone"),
        hit(optout=True),
        hit(gpc=True),
        hit(dnt=True),  # "plain" does not honour DNT: kept
        hit(client_id="dnt", dnt=True),
        hit(event_type="bogus"),
        hit(visitor_id="short"),
        hit(ts=NOW + timedelta(days=3)),
        hit(value=-1.0),
        hit(currency="euro"),
        hit(utm_source="x" * 500),
        hit(user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        hit(),
    )
    assert drops == {
        DropReason.UNKNOWN_SITE_KEY: 2,
        DropReason.OPT_OUT: 1,
        DropReason.GPC: 1,
        DropReason.DNT: 1,
        DropReason.INVALID_EVENT_TYPE: 1,
        DropReason.INVALID_VISITOR_ID: 1,
        DropReason.INVALID_TIMESTAMP: 1,
        DropReason.INVALID_VALUE: 1,
        DropReason.INVALID_FIELD: 2,
        DropReason.BOT: 1,
    }
    assert len(events) == 2


def test_user_agent_becomes_browser_os_device() -> None:
    events, _ = run(hit(user_agent=IPHONE), hit(user_agent=WINDOWS), hit(user_agent=None))
    assert list(events["browser_family"]) == ["Mobile Safari", "Chrome", "Other"]
    assert list(events["os_family"]) == ["iOS", "Windows", "Other"]
    assert list(events["device_class"]) == ["mobile", "desktop", "unknown"]
    assert events["browser_version"].iloc[0] == "17.4"
    assert "user_agent" not in events.columns


def test_ip_is_truncated_with_configured_prefixes() -> None:
    events, _ = run(hit(ip="192.0.2.77"), hit(ip="2001:db8:1:2:3::9"), ipv4_prefix=16, ipv6_prefix=32)
    assert list(events["ip_prefix"]) == ["192.0.0.0", "2001:db8::"]
    assert "ip" not in events.columns


def test_urls_keep_only_allowed_parameters_and_yield_campaign_fields() -> None:
    events, _ = run(
        hit(
            url="https://user:pw@Shop.example.com/p?utm_source=news&utm_medium=email&email=ann@example.com"
            "&token=secret&cid=C9#frag",
            referrer="https://www.google.com/search?q=ann+smith",
        ),
        hit(url="https://shop.example.com/?utm_source=fromurl", utm_source="explicit"),
    )
    first = events.iloc[0]
    assert first["url"] == "https://shop.example.com/p?utm_source=news&utm_medium=email&cid=C9"
    assert first["path"] == "/p"
    assert (first["utm_source"], first["utm_medium"], first["campaign_id"]) == ("news", "email", "C9")
    assert first["referrer"] == "https://www.google.com/search" and first["referrer_host"] == "www.google.com"
    assert events.iloc[1]["utm_source"] == "explicit", "explicit parameters win over the URL's"


@pytest.mark.parametrize(
    ("client_id", "consent", "kept"),
    [("pii", True, True), ("pii", False, False), ("plain", True, False), ("plain", False, False)],
)
def test_identifiers_only_with_switch_and_consent_and_only_as_pseudonyms(
    client_id: str, consent: bool, kept: bool
) -> None:
    events, _ = run(hit(client_id=client_id, consent=consent, email="Ann@Example.com", member_id="M0001"))
    row = events.iloc[0]
    assert pd.notna(row["email_pseudonym"]) is kept
    assert pd.notna(row["member_pseudonym"]) is kept
    flat = repr(events.to_dict("records"))
    assert "Ann@Example.com".lower() not in flat.lower() and "M0001" not in flat


def test_pseudonyms_are_stable_per_client_and_differ_across_clients() -> None:
    events, _ = run(
        hit(client_id="pii", consent=True, email="ann@example.com"),
        hit(client_id="pii", consent=True, email="ANN@example.com"),
    )
    assert events["email_pseudonym"].nunique() == 1
    other = Edge(EdgeConfig(), POLICIES.get, lambda c: b"z" * 32, clock=lambda: NOW)
    other_events = other.process(raw_frame([hit(client_id="pii", consent=True, email="ann@example.com")]))
    assert other_events.events.column("email_pseudonym")[0].as_py() != events["email_pseudonym"].iloc[0]


def test_event_ids_kept_or_generated_and_goal_named() -> None:
    events, _ = run(hit(event_id="order-42", event_type="goal", value=10.0, currency="EUR"), hit(event_type="goal"))
    assert events["event_id"].iloc[0] == "order-42"
    assert len(events["event_id"].iloc[1]) == 32
    assert list(events["goal"]) == ["goal", "goal"]
    assert events["received_at"].iloc[0] == pd.Timestamp(NOW)


def test_empty_batch() -> None:
    result = make_edge().process(raw_frame([]))
    assert result.accepted == 0 and result.received == 0


def test_events_older_than_the_clients_retention_are_dropped() -> None:
    edge = Edge(
        EdgeConfig(), {"kept": EdgePolicy("kept", retention_days=30)}.get, lambda c: b"k" * 32, clock=lambda: NOW
    )
    result = edge.process(
        raw_frame(
            [hit(client_id="kept", ts=NOW - timedelta(days=31)), hit(client_id="kept", ts=NOW - timedelta(days=29))]
        )
    )
    assert result.drops == {DropReason.TOO_OLD: 1} and result.accepted == 1


def test_email_like_path_segments_never_survive() -> None:
    events, _ = run(
        hit(
            url="https://shop.example.com/users/ann.smith@example.com/orders",
            referrer="https://mail.example.net/u/bob%40example.org/inbox",
        )
    )
    row = events.iloc[0]
    assert row["url"] == "https://shop.example.com/users/[redacted]/orders"
    assert row["path"] == "/users/[redacted]/orders"
    assert row["referrer"] == "https://mail.example.net/u/[redacted]/inbox"


# times at and past the limits: a bad one is a drop with a reason, never an exception ---------------------------
PLUS_14, MINUS_14 = timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))
EXTREME_TIMES: list[Any] = [
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    datetime(1, 1, 1, tzinfo=PLUS_14),
    datetime.max.replace(tzinfo=MINUS_14),
    pd.Timestamp("9999-12-31T23:00:00-14:00"),  # outside pandas' nanosecond range
    pd.Timestamp("0001-01-01T00:00:00+14:00"),
    pd.NaT,
    np.datetime64("NaT"),
    np.datetime64(10**6, "Y"),
    np.datetime64(2**62, "ms"),
    float("nan"),
    float("inf"),
    10**15,
    "not a time",
]


@pytest.mark.parametrize("ts", EXTREME_TIMES, ids=repr)
def test_times_no_utc_datetime_can_hold_are_dropped_not_raised(ts: Any) -> None:
    result = make_edge().process([hit(ts=ts), hit()])
    assert result.drops == {DropReason.INVALID_TIMESTAMP: 1} and result.accepted == 1


_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_aware = st.builds(lambda d, tz: d.replace(tzinfo=tz), st.datetimes(), _offsets)
_near_limits = st.sampled_from([datetime.min, datetime.max, datetime(1970, 1, 1), datetime(1969, 12, 31, 23, 59)])
times: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    _aware,
    st.builds(lambda d, tz: d.replace(tzinfo=tz), _near_limits, _offsets),
    _aware.map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),  # naive: read as UTC
    _aware.map(pd.Timestamp),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: np.datetime64(n, "us")),
    st.integers(-(10**16), 10**16),  # epoch ms (and beyond) are no time for the edge
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(EXTREME_TIMES),
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stamps=st.lists(times, min_size=1, max_size=6), as_frame=st.booleans())
def test_any_time_is_kept_in_range_or_dropped_as_invalid(stamps: list[Any], as_frame: bool) -> None:
    hits = [hit(ts=ts) for ts in stamps]
    result = make_edge().process(raw_frame(hits) if as_frame else hits)
    assert result.received == len(stamps) == result.accepted + result.drops[DropReason.INVALID_TIMESTAMP]
    assert set(result.drops) <= {DropReason.INVALID_TIMESTAMP}
    kept = result.events.column("ts").to_pylist()
    assert all(EARLIEST_EVENT_TIME <= ts <= NOW + timedelta(days=1) for ts in kept)


@pytest.mark.parametrize("value", ["1_000", "1_0.5", " 5", "nan", "inf", "١٠٠٠", "0x10", "five"])
def test_values_python_would_read_but_a_hit_does_not_write_are_dropped(value: str) -> None:
    result = make_edge().process([hit(event_type="goal", value=value), hit(event_type="goal", value="1e3")])
    assert result.drops == {DropReason.INVALID_VALUE: 1}
    assert result.events.column("value").to_pylist() == [1000.0]


def test_a_frame_with_text_values_is_read_as_hits_are() -> None:
    frame = raw_frame([hit(), hit(), hit()]).assign(value=pd.Series(["1_000", "12.5", None], dtype=object))
    result = make_edge().process(frame)
    assert result.drops == {DropReason.INVALID_VALUE: 1}
    assert result.events.column("value").to_pylist() == [12.5, None]


def test_a_page_url_whose_port_is_no_port_is_left_out_not_raised() -> None:
    result = make_edge().process([hit(url="https://shop.example.com:99999/p?utm_source=x"), hit()])
    assert not result.drops and result.accepted == 2
    first = result.events.to_pylist()[0]
    assert first["url"] is None and first["path"] is None and first["utm_source"] is None
