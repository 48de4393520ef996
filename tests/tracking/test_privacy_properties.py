"""Privacy properties of collection (P4, P5), for any hit: planted raw values never reach a file.

Hits carry distinctive raw values: IPv4/IPv6 addresses (the truncated prefix always differs), user agents,
emails and member ids, also hidden in URL query parameters, fragments and user info, under any combination
of consent and the client's ``collect_pii`` switch. They go through ``Collector.ingest`` and through
``POST /v1/events``; after compaction every file under XMO_HOME is read as bytes (and Parquet and spool
payloads decoded, since compression hides literals) and none of the raw values, plain or URL-encoded, may be
there. Keyed pseudonyms may appear only where both consent and ``collect_pii`` were set.
"""

from __future__ import annotations

import ipaddress
import itertools
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlencode

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.apikeys import KeyKind
from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from privacy.pseudonyms import IdentifierKind, pseudonymize
from tracking.collector import Collector
from tracking.compactor import compact_all
from tracking.edge import Edge, EdgeConfig, EdgePolicy, raw_frame
from tracking.events import CAMPAIGN_FIELDS
from tracking.spool import Spool
from tracking.urls import REDACTED_SEGMENT
from tracking.useragents import parse_user_agent

VISITOR = "c0ffee00c0ffee00c0ffee00c0ffee00"
# Examples share one XMO_HOME (that is the point: nothing may pile up anywhere), which makes shrinking slow and
# order-dependent; a failure is reported as generated, which names the planted value that leaked.
EXAMPLES = hypothesis_settings(
    max_examples=25,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# planted values ---------------------------------------------------------------------------------
# Distinctive by construction: no planted value can be an accident of binary data, or the concatenation of
# stored strings (Arrow and Parquet keep string values back to back: a truncated IPv6 ``2001:db8:1::`` followed
# by a value starting with ``5`` would spell ``2001:db8:1::5``, so planted IPv6 addresses have no zero hextet).
def _distinctive(token: str) -> bool:
    """Mixed case and digits, many distinct characters: not a word that a database schema might hold."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    return len(set(token)) >= 6 and all(any(c in chars for c in token) for chars in classes)


_token = st.text(string.ascii_letters + string.digits, min_size=10, max_size=16).filter(_distinctive)

_ipv4 = st.tuples(st.integers(1, 223), st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)).map(
    lambda o: ".".join(map(str, o))
)
_ipv6 = st.tuples(st.integers(0x2001, 0x3FFF), *[st.integers(1, 0xFFFF)] * 7).map(
    lambda h: str(ipaddress.IPv6Address(":".join(f"{x:x}" for x in h)))
)
_mapped = _ipv4.map(lambda ip: f"::ffff:{ip}")
ips = st.one_of(_ipv4, _ipv6, _mapped).filter(lambda ip: len(ip) >= 8)

_REAL_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.{p} "
    "Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{p} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{p} Mobile/15E{b} Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel {p}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.{p} "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_{p}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.0 "
    "Safari/537.36 Edg/{v}.0.{b}.{p}",
)
_real_agent = st.builds(
    lambda t, v, b, p: t.format(v=v, b=b, p=p),
    st.sampled_from(_REAL_AGENTS),
    st.integers(90, 140),
    st.integers(1000, 9999),
    st.integers(1, 200),
)
_odd_agent = st.builds(lambda a, b, n: f"{a}/{n}.0 ({b}; rv:{n})", _token, _token, st.integers(1, 99))
user_agents = st.one_of(_real_agent, _odd_agent)
emails = st.builds(lambda local, host: f"{local}.Person@{host.lower()}.example", _token, _token)
members = st.builds(lambda t: f"M-{t}", _token)


@dataclass(frozen=True)
class PlantedHit:
    """One hit and the raw values planted in it."""

    client: str  # "pii" (collect_pii on) or "plain"
    consent: bool
    ip: str
    user_agent: str
    email: str
    member_id: str
    secret: str  # a token carried only in URL parts that must be stripped
    url: str
    referrer: str

    def raw_values(self) -> list[str]:
        values = [self.ip, self.user_agent, self.email, self.email.lower(), self.member_id, self.secret]
        return [*values, *(f(v) for v in values for f in (quote, quote_plus, lambda v: quote(v, safe="")))]


@st.composite
def planted_hits(draw: Callable[..., Any]) -> PlantedHit:
    email, member, ip, secret, user = draw(emails), draw(members), draw(ips), draw(_token), draw(_token)
    agent = draw(user_agents)
    query = urlencode(
        [("utm_source", "news"), ("email", email), ("uid", member), ("ip", ip), ("session", secret), ("ua", agent)]
    )
    fragment = draw(st.sampled_from([f"em={quote(email)}", f"{secret}", f"ip={ip}&who={quote(member)}"]))
    url = f"https://{user}:{secret}@shop.example.com/p/landing?{query}#{fragment}"
    referrer = f"https://{secret}@search.example.org/q?q={quote_plus(email)}&m={member}#{ip}"
    return PlantedHit(
        client=draw(st.sampled_from(["pii", "plain"])),
        consent=draw(st.booleans()),
        ip=ip,
        user_agent=agent,
        email=email,
        member_id=member,
        secret=secret,
        url=url,
        referrer=referrer,
    )


batches = st.lists(planted_hits(), min_size=1, max_size=5)


# the check ---------------------------------------------------------------------------------------
@dataclass
class Home:
    """The XMO_HOME under test, what may legitimately be there, and a counter of event ids."""

    settings: Settings
    keys: dict[str, bytes]
    allowed_pseudonyms: set[str] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def event_id(self) -> str:
        return f"prop-{next(self.ids)}"


def make_home(settings: Settings) -> Home:
    tenants = Tenants.from_settings(settings)
    tenants.create_client("PII", ["pii.example.com"], client_id="pii", collect_pii=True)
    tenants.create_client("Plain", ["plain.example.com"], client_id="plain")
    vault = KeyVault.from_settings(settings)
    return Home(settings, {c: vault.derived_key(c, "pseudonym") for c in ("pii", "plain")})


def decoded_text(home: Path) -> str:
    """Every string value in the lake's Parquet files and the spool's pending batches."""
    tables = [pq.read_table(p) for p in home.rglob("*.parquet")]
    for spool_path in home.rglob("spool/*.db"):
        spool = Spool(spool_path)
        try:
            tables.extend(b.events for b in spool.read(0, 2**62))
        finally:
            spool.close()
    values = (v for t in tables for row in t.to_pylist() for v in row.values() if isinstance(v, str))
    return "\x00".join(values)


def lake_rows(home: Path) -> dict[str, dict[str, Any]]:
    tables = [pq.read_table(p) for p in (home / "lake").rglob("*.parquet")]
    return {row["event_id"]: row for row in pa.concat_tables(tables).to_pylist()} if tables else {}


def check_home(home: Home, sent: list[tuple[str, PlantedHit]]) -> None:
    """After compaction: no raw value anywhere; pseudonyms exactly where consent and collect_pii allow."""
    before_compaction = decoded_text(home.settings.home)
    compact_all(home.settings)
    stored = b"".join(p.read_bytes() for p in home.settings.home.rglob("*") if p.is_file())
    decoded = before_compaction + decoded_text(home.settings.home)
    planted = {raw for _, hit in sent for raw in hit.raw_values()}
    assert not [raw for raw in planted if raw.encode() in stored], "raw values reached a file"
    assert not [raw for raw in planted if raw in decoded], "raw values reached a stored value"
    expected = {event_id: pseudonyms(home, hit) for event_id, hit in sent}
    for event_id, hit in sent:
        if hit.client == "pii" and hit.consent:
            home.allowed_pseudonyms.update(expected[event_id].values())
    rows = lake_rows(home.settings.home)
    for event_id, hit in sent:
        row = rows.get(event_id)
        assert (row is None) == parse_user_agent(hit.user_agent).is_bot, "only bots are dropped"
        allowed = hit.client == "pii" and hit.consent
        if row is not None:
            assert row["ip_prefix"] is not None and row["ip_prefix"] != hit.ip
            for column, pseudonym in expected[event_id].items():
                assert row[column] == (pseudonym if allowed else None), (column, hit.client, hit.consent)
        for pseudonym in set(expected[event_id].values()) - home.allowed_pseudonyms:
            assert pseudonym.encode() not in stored and pseudonym not in decoded, "a pseudonym without consent"


def pseudonyms(home: Home, hit: PlantedHit) -> dict[str, str]:
    """The keyed pseudonyms the hit's identifiers would have, by lake column."""
    key = home.keys[hit.client]
    return {
        "email_pseudonym": pseudonymize(key, IdentifierKind.EMAIL, hit.email),
        "member_pseudonym": pseudonymize(key, IdentifierKind.MEMBER, hit.member_id),
    }


def hit_fields(hit: PlantedHit) -> dict[str, Any]:
    return {
        "event_type": "pageview",
        "visitor_id": VISITOR,
        "url": hit.url,
        "referrer": hit.referrer,
        "email": hit.email,
        "member_id": hit.member_id,
        "consent": hit.consent,
        "ip": hit.ip,
        "user_agent": hit.user_agent,
    }


# the properties ------------------------------------------------------------------------------------
def test_collector_never_stores_raw_values(settings: Settings) -> None:
    home = make_home(settings)
    collector = Collector.from_settings(settings)

    @EXAMPLES
    @given(batch=batches)
    def check(batch: list[PlantedHit]) -> None:
        sent = [(home.event_id(), hit) for hit in batch]
        now = datetime.now(UTC)
        records = [
            {**hit_fields(hit), "client_id": hit.client, "event_id": eid, "ts": now, "source": "pixel"}
            for eid, hit in sent
        ]
        result = collector.ingest(raw_frame(records))
        assert result.received == len(batch)
        check_home(home, sent)

    try:
        check()
    finally:
        collector.spool.close()


def test_server_events_never_store_raw_values(settings: Settings, serve: Any) -> None:
    home = make_home(settings)
    tenants = Tenants.from_settings(settings)
    site_keys = {client: tenants.rotate_key(KeyKind.SITE, client) for client in ("pii", "plain")}
    with serve(settings, timeout=30) as http:

        @EXAMPLES
        @given(batch=batches)
        def check(batch: list[PlantedHit]) -> None:
            sent = [(home.event_id(), hit) for hit in batch]
            for client in ("pii", "plain"):
                events = [{**hit_fields(hit), "event_id": eid} for eid, hit in sent if hit.client == client]
                if not events:
                    continue
                response = http.post(
                    "/v1/events", json=events, headers={"Authorization": f"Bearer {site_keys[client]}"}
                )
                assert response.status_code == 202, response.text
                assert response.json()["received"] == len(events)
            check_home(home, sent)

        check()


# emails in every kept text, at every percent-encoding depth (P5: only ever as a pseudonym) -----------------------
KEPT_TEXT_FIELDS = (*CAMPAIGN_FIELDS, "goal", "region")
ALLOWED_PARAMS = sorted(EdgeConfig().allowed_params)
EDGE_CLOCK = datetime(2026, 11, 20, 12, tzinfo=UTC)
FLAT = hypothesis_settings(
    max_examples=100,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
# a local part no stored text could hold by accident: lower, upper and digits, no filter to slow generation down
_local = st.tuples(
    st.text(string.ascii_lowercase, min_size=3, max_size=5),
    st.text(string.ascii_uppercase, min_size=3, max_size=5),
    st.text(string.digits, min_size=2, max_size=4),
).map("".join)


def percent_encoded(text: str, every_character: bool, lower_hex: bool) -> str:
    """One layer of percent-encoding: of every character, or as ``quote`` does (``@`` and ``%`` among them)."""
    if not every_character:
        return quote(text, safe="")
    hex_byte = "%{:02x}" if lower_hex else "%{:02X}"
    return "".join(hex_byte.format(b) for b in text.encode())


@dataclass(frozen=True)
class HiddenEmail:
    """An email, how it is written, and the token of it that must not reach the edge's output."""

    local: str
    written: str


@st.composite
def hidden_emails(draw: Callable[..., Any], max_length: int = 180) -> HiddenEmail:
    local, domain = draw(_local), draw(st.sampled_from(["example.com", "mail.example.org", "x.example"]))
    case = draw(st.sampled_from([str, str.upper, str.lower, str.swapcase]))
    email = case(f"{local}@{domain}")
    depth, every_character, lower_hex = draw(st.integers(0, 3)), draw(st.booleans()), draw(st.booleans())
    written = email
    for layer in range(depth):
        written = percent_encoded(written, every_character and layer == 0, lower_hex)
    if len(written) > max_length:  # longer than a field may be: the hit would be dropped, proving nothing
        written = quote(quote(email, safe=""), safe="")
    context = draw(st.sampled_from(["{}", "spring {} sale", "a,{},b", "mailto:{}", "<{}>"]))
    return HiddenEmail(local.lower(), context.format(written))


def fully_decoded(text: str) -> str:
    for _ in range(10):
        text = unquote(text)
    return text.lower()


@FLAT
@given(
    fields=st.fixed_dictionaries({name: hidden_emails() for name in KEPT_TEXT_FIELDS}),
    in_path=hidden_emails(),
    in_query=hidden_emails(),
    param=st.sampled_from(ALLOWED_PARAMS),
    in_referrer=hidden_emails(),
    in_host=hidden_emails(max_length=60),
)
def test_no_email_survives_the_edge_in_any_kept_field(
    fields: dict[str, HiddenEmail],
    in_path: HiddenEmail,
    in_query: HiddenEmail,
    param: str,
    in_referrer: HiddenEmail,
    in_host: HiddenEmail,
) -> None:
    edge = Edge(EdgeConfig(), {"plain": EdgePolicy("plain")}.get, lambda c: b"k" * 32, clock=lambda: EDGE_CLOCK)
    hits = [
        {
            "client_id": "plain",
            "event_type": "goal",
            "visitor_id": VISITOR,
            "ts": EDGE_CLOCK,
            "url": f"https://shop.example.com/p/{in_path.written}/done?{param}={in_query.written}&utm_medium=mail",
            "referrer": f"https://{host}/r/{in_referrer.written}",
            **{name: hidden.written for name, hidden in fields.items()},
        }
        for host in ("search.example.org", in_host.written)
    ]
    result = edge.process(hits)
    assert result.accepted == 2, result.drops
    locals_ = {h.local for h in (*fields.values(), in_path, in_query, in_referrer, in_host)}
    texts = [v for row in result.events.to_pylist() for v in row.values() if isinstance(v, str)]
    leaked = [(local, text) for text in texts for local in locals_ if local in fully_decoded(text)]
    assert not leaked
    for row in result.events.to_pylist():  # kept, with the address redacted (not dropped: that would prove nothing)
        assert all(REDACTED_SEGMENT in row[name] for name in KEPT_TEXT_FIELDS), row
