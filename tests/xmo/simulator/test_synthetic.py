"""Synthetic personal data comes from reserved ranges only; user agents are real and parse as labelled."""

from __future__ import annotations

import numpy as np
import pytest

from tracking.useragents import parse_user_agent
from xmo.simulator.catalog import USER_AGENTS
from xmo.simulator.synthetic import (
    EMAIL_PATTERN,
    MEMBER_ID_PATTERN,
    emails,
    hex_ids,
    is_reserved_ip,
    member_ids,
)
from xmo.simulator.traffic import Traffic


def test_hits_use_only_reserved_addresses_emails_and_member_ids(small_traffic: Traffic) -> None:
    hits = small_traffic.hits
    ips = set(hits["ip"])
    assert all(is_reserved_ip(ip) for ip in ips)
    assert any(":" in ip for ip in ips) and any("." in ip for ip in ips), "both IPv4 and IPv6"
    addresses = hits["email"].dropna()
    assert len(addresses) and addresses.str.fullmatch(EMAIL_PATTERN.pattern).all()
    members = hits["member_id"].dropna()
    assert len(members) and members.str.fullmatch(MEMBER_ID_PATTERN.pattern).all()
    leaked = hits["url"][hits["url"].str.contains("email=", regex=False)]
    assert len(leaked) and leaked.str.contains("@example.com", regex=False).all()


def test_identifiers_belong_to_one_visitor_each(small_traffic: Traffic) -> None:
    hits = small_traffic.hits
    for column in ("email", "member_id"):
        per_value = hits.dropna(subset=[column]).groupby(column)["visitor_id"].nunique()
        assert (per_value == 1).all(), f"two visitors share a {column}"
    per_visitor = hits.groupby("visitor_id")[["ip", "user_agent", "region"]].nunique()
    assert (per_visitor == 1).all().all(), "a visitor keeps its device, address and region"


def test_reserved_range_checks_reject_real_addresses() -> None:
    assert is_reserved_ip("192.0.2.7") and is_reserved_ip("2001:db8:12::1")
    assert not is_reserved_ip("8.8.8.8") and not is_reserved_ip("2a00:1450::1") and not is_reserved_ip("x")


def test_generators_are_seeded_and_well_formed() -> None:
    a = emails(np.random.default_rng(1), 50)
    assert list(a) == list(emails(np.random.default_rng(1), 50)) and len(set(a)) == 50
    ids = member_ids(np.arange(100_000), offset=123)
    assert len(set(ids)) == 100_000 and all(MEMBER_ID_PATTERN.fullmatch(x) for x in ids[:100])
    raw = np.arange(32, dtype=np.uint8).reshape(2, 16)
    assert list(hex_ids(raw)) == [bytes(range(16)).hex(), bytes(range(16, 32)).hex()]


@pytest.mark.parametrize("agent", USER_AGENTS, ids=lambda a: a.text[:40])
def test_user_agents_parse_to_their_device_class(agent: object) -> None:
    info = parse_user_agent(agent.text)  # type: ignore[attr-defined]
    assert info.device_class == agent.device_class  # type: ignore[attr-defined]
    assert info.is_bot == (agent.device_class == "bot")  # type: ignore[attr-defined]
