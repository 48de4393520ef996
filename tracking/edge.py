"""The edge: named steps every hit passes before it may be written anywhere.

drop (unknown site key, opt-out cookie, ``Sec-GPC``, DNT where honoured) → validate → parse user agent (bots
dropped) → truncate IP → keep allow-listed URL parameters → scrub email addresses from every kept text →
pseudonymize identifiers (only with the client's switch and the user's consent) → the privacy-safe event table
that the spool stores. A step never raises for a hit's content: a bad hit is dropped with a reason.

Steps work on plain column lists (``tracking.rawhits``), with the expensive work (user agents, addresses,
URLs, pseudonyms) done once per distinct value: a single pixel hit costs tens of microseconds and a
million simulated hits a few seconds, on the same code.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from operator import itemgetter
from typing import Any

import pandas as pd
import pyarrow as pa

from privacy.ip import truncate_ip
from privacy.pseudonyms import VISITOR_ID_PATTERN, IdentifierKind, pseudonymize
from tracking.events import CAMPAIGN_FIELDS, EVENT_SCHEMA, EventType
from tracking.rawhits import Columns, column_count, epoch_us, raw_frame, to_columns
from tracking.urls import CleanUrl, clean_page_url, clean_referrer, scrub_text
from tracking.useragents import TechInfo, parse_user_agent

__all__ = ["DropReason", "Edge", "EdgeConfig", "EdgePolicy", "EdgeResult", "raw_frame"]


class DropReason(StrEnum):
    """Why a hit was not stored; counted, never raised."""

    UNKNOWN_SITE_KEY = "unknown_site_key"
    OPT_OUT = "opt_out"
    GPC = "gpc"
    DNT = "dnt"
    INVALID_EVENT_TYPE = "invalid_event_type"
    INVALID_VISITOR_ID = "invalid_visitor_id"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TOO_OLD = "too_old"  # older than the client's retention period
    INVALID_VALUE = "invalid_value"
    INVALID_FIELD = "invalid_field"
    BOT = "bot"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class EdgePolicy:
    """What the edge needs to know of a client."""

    client_id: str
    collect_pii: bool = False
    honour_dnt: bool = False
    retention_days: int | None = None


@dataclass(frozen=True)
class EdgeConfig:
    """Operator settings of the edge."""

    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    allowed_params: frozenset[str] = frozenset(
        {"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "cid", "crid"}
    )
    max_future_skew: timedelta = timedelta(days=1)


@dataclass
class EdgeResult:
    """The privacy-safe events of a batch and the count of hits dropped, by reason.

    ``rows`` holds the events as lists per ``EVENT_SCHEMA`` field (timestamps as epoch microseconds); ``events``
    is the same as an Arrow table, built when first asked for (the spool can store small batches from the lists).
    """

    rows: Columns
    received: int
    drops: Counter[DropReason] = field(default_factory=Counter)

    @property
    def accepted(self) -> int:
        return column_count(self.rows) if self.rows else 0

    @cached_property
    def events(self) -> pa.Table:
        return event_table(self.rows)


PolicyLookup = Callable[[str], EdgePolicy | None]
KeyLookup = Callable[[str], bytes]
Step = Callable[[Columns, Counter[DropReason]], Columns]

EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
MAX_FIELD_LENGTH = 200
MAX_VALUE = 1e9
_EVENT_TYPES = frozenset(t.value for t in EventType)
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_CURRENCY = re.compile(CURRENCY_PATTERN)
_LIMITED_FIELDS = (*CAMPAIGN_FIELDS, "goal", "region")
_SCRUBBED_FIELDS = _LIMITED_FIELDS  # free text kept as sent (the URL and referrer are scrubbed as they are cleaned)
EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # the lake's days start here (and so do epoch ms)
_EARLIEST_US = 0
_POLICY = "_policy"  # a per-row column the first step adds and the output leaves out


def keep_rows(columns: Columns, keep: list[int]) -> Columns:
    """The columns restricted to the rows at ``keep`` (in order)."""
    n = column_count(columns)
    if len(keep) == n:
        return columns
    if not keep:
        return {name: [] for name in columns}
    if len(keep) == 1:
        only = keep[0]
        return {name: [values[only]] for name, values in columns.items()}
    pick = itemgetter(*keep)
    return {name: list(pick(values)) for name, values in columns.items()}


def apply_drops(columns: Columns, reasons: list[DropReason | None], drops: Counter[DropReason]) -> Columns:
    """Remove the rows that have a reason and count the reasons."""
    keep = [i for i, reason in enumerate(reasons) if reason is None]
    if len(keep) < len(reasons):
        drops.update(reason for reason in reasons if reason is not None)
    return keep_rows(columns, keep)


def _distinct(values: list[Any], func: Callable[[Any], Any]) -> list[Any]:
    """``func`` of every value, computed once per distinct value."""
    results = {value: func(value) for value in set(values)}
    return [results[value] for value in values]


def _page(url: str | None, allowed: frozenset[str]) -> tuple[CleanUrl, dict[str, str]]:
    """A cleaned page URL and the campaign fields its query carried."""
    page = clean_page_url(url, allowed)
    return page, dict(page.campaign)


def _random_ids(n: int) -> list[str]:
    """``n`` random 128-bit ids as 32 hex characters."""
    blob = os.urandom(16 * n).hex()
    return [blob[i : i + 32] for i in range(0, 32 * n, 32)]


class Edge:
    """Runs the named steps over batches of raw hits."""

    def __init__(
        self,
        config: EdgeConfig,
        policies: PolicyLookup,
        keys: KeyLookup,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.policies = policies
        self.keys = keys
        self.clock = clock
        self.steps: tuple[tuple[str, Step], ...] = (
            ("drop_unknown_clients", self.drop_unknown_clients),
            ("drop_privacy_signals", self.drop_privacy_signals),
            ("validate", self.validate),
            ("parse_user_agents", self.parse_user_agents),
            ("truncate_ips", self.truncate_ips),
            ("clean_urls", self.clean_urls),
            ("scrub_addresses", self.scrub_addresses),
            ("pseudonymize_identifiers", self.pseudonymize_identifiers),
        )

    def process(self, raw: pd.DataFrame | Iterable[Mapping[str, Any]]) -> EdgeResult:
        """All steps over one batch (a DataFrame or hit dicts); the result holds no personal raw value."""
        columns = to_columns(raw)
        received = column_count(columns)
        drops: Counter[DropReason] = Counter()
        for _name, step in self.steps:
            if column_count(columns) == 0:
                break
            columns = step(columns, drops)
        return EdgeResult(rows=self.output_rows(columns), received=received, drops=drops)

    # steps ----------------------------------------------------------------------------------
    def drop_unknown_clients(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """Hits whose site key named no live client; the others carry their client's policy."""
        policies = {c: self.policies(c) for c in set(columns["client_id"]) if c is not None}
        per_row = [policies.get(c) if c is not None else None for c in columns["client_id"]]
        columns = {**columns, _POLICY: per_row}
        return apply_drops(columns, [DropReason.UNKNOWN_SITE_KEY if p is None else None for p in per_row], drops)

    def drop_privacy_signals(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """Opt-out cookie, ``Sec-GPC: 1`` (always), ``DNT: 1`` (where the client honours it)."""
        reasons: list[DropReason | None] = [
            DropReason.OPT_OUT
            if optout
            else DropReason.GPC
            if gpc
            else DropReason.DNT
            if dnt and policy.honour_dnt
            else None
            for optout, gpc, dnt, policy in zip(
                columns["optout"], columns["gpc"], columns["dnt"], columns[_POLICY], strict=True
            )
        ]
        return apply_drops(columns, reasons, drops)

    @staticmethod
    def _bad_values(values: list[Any], is_bad: Callable[[Any], bool]) -> set[Any]:
        """The distinct values of a column that fail a check (hits repeat values, so check each once)."""
        return {v for v in set(values) if is_bad(v)}

    def validate(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """Types, formats, bounds and the client's retention; a goal without a name is named ``goal``."""
        now = self.clock()
        latest = epoch_us(now + self.config.max_future_skew) or 0
        oldest = {
            policy.client_id: epoch_us(now - timedelta(days=policy.retention_days)) or 0
            for policy in {id(p): p for p in columns[_POLICY]}.values()
            if policy.retention_days is not None
        }
        bad_visitor = self._bad_values(columns["visitor_id"], lambda v: v is None or not _VISITOR_ID.fullmatch(v))
        bad_value = self._bad_values(
            columns["value"], lambda v: v is not None and not (math.isfinite(v) and 0 <= v <= MAX_VALUE)
        )
        bad_field = [
            self._bad_values(columns["event_id"], lambda v: v is not None and not _EVENT_ID.fullmatch(v)),
            self._bad_values(columns["currency"], lambda v: v is not None and not _CURRENCY.fullmatch(v)),
            *(
                self._bad_values(columns[n], lambda v: v is not None and len(v) > MAX_FIELD_LENGTH)
                for n in _LIMITED_FIELDS
            ),
        ]
        field_flags = [False] * column_count(columns)
        for bad, name in zip(bad_field, ("event_id", "currency", *_LIMITED_FIELDS), strict=True):
            if bad:
                field_flags = [flag or v in bad for flag, v in zip(field_flags, columns[name], strict=True)]

        def reason(
            event_type: str, visitor_id: str, ts: int | None, value: float | None, bad_field: bool, client_id: str
        ) -> DropReason | None:
            if event_type not in _EVENT_TYPES:
                return DropReason.INVALID_EVENT_TYPE
            if visitor_id in bad_visitor:
                return DropReason.INVALID_VISITOR_ID
            if ts is None or ts > latest or ts < _EARLIEST_US:
                return DropReason.INVALID_TIMESTAMP
            if ts < oldest.get(client_id, ts):
                return DropReason.TOO_OLD
            if value in bad_value:
                return DropReason.INVALID_VALUE
            return DropReason.INVALID_FIELD if bad_field else None

        reasons = list(
            map(
                reason,
                columns["event_type"],
                columns["visitor_id"],
                columns["ts"],
                columns["value"],
                field_flags,
                columns["client_id"],
            )
        )
        columns = apply_drops(columns, reasons, drops)
        goal = EventType.GOAL.value
        columns["goal"] = [
            "goal" if name is None and kind == goal else name
            for name, kind in zip(columns["goal"], columns["event_type"], strict=True)
        ]
        return columns

    def parse_user_agents(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """Browser, OS and device class from the user agent, which is then dropped; bots are dropped."""
        info: list[TechInfo] = _distinct(columns.pop("user_agent"), parse_user_agent)
        columns = {
            **columns,
            "browser_family": [i.browser_family for i in info],
            "browser_version": [i.browser_version for i in info],
            "os_family": [i.os_family for i in info],
            "os_version": [i.os_version for i in info],
            "device_class": [i.device_class for i in info],
        }
        return apply_drops(columns, [DropReason.BOT if i.is_bot else None for i in info], drops)

    def truncate_ips(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """The address becomes its network prefix; the full address is dropped."""
        v4, v6 = self.config.ipv4_prefix, self.config.ipv6_prefix
        columns["ip_prefix"] = _distinct(columns.pop("ip"), lambda ip: truncate_ip(ip, v4, v6))
        return columns

    def clean_urls(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """Only allow-listed query parameters survive; campaign fields missing from the hit come from its URL."""
        allowed = self.config.allowed_params
        pages = _distinct(columns["url"], lambda url: _page(url, allowed))
        referrers = _distinct(columns["referrer"], clean_referrer)
        columns["url"] = [p[0].url for p in pages]
        columns["path"] = [p[0].path for p in pages]
        columns["referrer"] = [r[0] for r in referrers]
        columns["referrer_host"] = [r[1] for r in referrers]
        if any(p[1] for p in pages):
            from_url = [p[1] for p in pages]
            for name in CAMPAIGN_FIELDS:
                columns[name] = [
                    given if given is not None else found.get(name)
                    for given, found in zip(columns[name], from_url, strict=True)
                ]
        return columns

    def scrub_addresses(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """Every token of a kept free-text field that may be an email address, at any encoding depth, redacted."""
        for name in _SCRUBBED_FIELDS:
            values = columns[name]
            if values.count(None) == len(values):  # most hits leave most fields out
                continue
            changed = {v: s for v in set(values) if v is not None and (s := scrub_text(v)) != v}
            if changed:
                columns[name] = [changed.get(v, v) for v in values]
        return columns

    def pseudonymize_identifiers(self, columns: Columns, drops: Counter[DropReason]) -> Columns:
        """Keyed pseudonyms of email and member id, only where the client collects them and the user consented."""
        allowed = [p.collect_pii and consent for p, consent in zip(columns[_POLICY], columns["consent"], strict=True)]
        cache: dict[tuple[str, IdentifierKind, str], str] = {}

        def pseudonym(client_id: str, kind: IdentifierKind, value: str) -> str:
            key = (client_id, kind, value)
            if key not in cache:
                cache[key] = pseudonymize(self.keys(client_id), kind, value)
            return cache[key]

        for column, kind in (("email", IdentifierKind.EMAIL), ("member_id", IdentifierKind.MEMBER)):
            values = columns.pop(column)
            columns[f"{kind.value}_pseudonym"] = [
                pseudonym(client_id, kind, value) if ok and value is not None else None
                for client_id, value, ok in zip(columns["client_id"], values, allowed, strict=True)
            ]
        return columns

    # output ---------------------------------------------------------------------------------
    def output_rows(self, columns: Columns) -> Columns:
        """The lake's event fields: generated event ids where the hit had none, the time it was received."""
        n = column_count(columns)
        if n == 0 or _POLICY not in columns:
            return {}
        event_ids = columns["event_id"]
        missing = [i for i, e in enumerate(event_ids) if e is None]
        if missing:
            event_ids = list(event_ids)
            for i, new_id in zip(missing, _random_ids(len(missing)), strict=True):
                event_ids[i] = new_id
        received = epoch_us(self.clock())
        data = {
            **columns,
            "event_id": event_ids,
            "received_at": [received] * n,
            "source": [s if s is not None else "pixel" for s in columns["source"]],
        }
        return {name: data[name] for name in EVENT_SCHEMA.names if name in data}


def event_table(rows: Columns) -> pa.Table:
    """The lake's event table of ``EdgeResult.rows``."""
    n = column_count(rows) if rows else 0
    if n == 0:
        return EVENT_SCHEMA.empty_table()
    return pa.Table.from_arrays([_arrow(rows.get(f.name), f.type, n) for f in EVENT_SCHEMA], schema=EVENT_SCHEMA)


def _arrow(values: list[Any] | None, type_: pa.DataType, n: int) -> pa.Array:
    """One output column (all-missing columns, common in pixel hits, skip the per-value conversion)."""
    if values is None or values.count(None) == n:
        return pa.nulls(n, type_)
    return pa.array(values, type=type_)
