from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from tracking.edge import DropReason, Edge, EdgeConfig, EdgePolicy, raw_frame
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
