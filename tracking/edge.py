"""The edge: named steps every hit passes before it may be written anywhere.

drop (unknown site key, opt-out cookie, ``Sec-GPC``, DNT where honoured, invalid, bots) → parse user agent →
truncate IP → strip URL parameters → pseudonymize identifiers (only with the client's switch and the
user's consent) → the privacy-safe event table that the spool stores.

Steps work on whole batches (a pixel's group commit, a server batch, a simulated day), mapping expensive
work over unique values, so one code path serves a single hit and a million.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from privacy.ip import truncate_ip
from privacy.pseudonyms import IdentifierKind, pseudonymize
from tracking.events import (
    CAMPAIGN_FIELDS,
    EVENT_SCHEMA,
    RAW_BOOL_COLUMNS,
    RAW_FLOAT_COLUMNS,
    RAW_STRING_COLUMNS,
    EventType,
)
from tracking.urls import CleanUrl, clean_page_url, clean_referrer
from tracking.useragents import parse_user_agent


class DropReason(StrEnum):
    """Why a hit was not stored; counted, never raised."""

    UNKNOWN_SITE_KEY = "unknown_site_key"
    OPT_OUT = "opt_out"
    GPC = "gpc"
    DNT = "dnt"
    INVALID_EVENT_TYPE = "invalid_event_type"
    INVALID_VISITOR_ID = "invalid_visitor_id"
    INVALID_TIMESTAMP = "invalid_timestamp"
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
    """The privacy-safe events of a batch and the count of hits dropped, by reason."""

    events: pa.Table
    received: int
    drops: Counter[DropReason] = field(default_factory=Counter)

    @property
    def accepted(self) -> int:
        return self.events.num_rows


PolicyLookup = Callable[[str], EdgePolicy | None]
KeyLookup = Callable[[str], bytes]

VISITOR_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
MAX_FIELD_LENGTH = 200
MAX_VALUE = 1e9
_EVENT_TYPES = frozenset(t.value for t in EventType)


_RAW_MARK = "xmo_raw_hits"


def _object_column(values: Any, n: int) -> pd.Series:
    """Strings as an object Series with None for missing values (pandas would infer its ``str`` dtype)."""
    if isinstance(values, pd.Series) and values.dtype == object:
        array = values.to_numpy(dtype=object, copy=True)
    else:
        array = np.empty(n, dtype=object)
        array[:] = list(values)
    missing = pd.isna(array)
    if missing.any():
        array[missing] = None
    return pd.Series(array, dtype=object)


def raw_frame(records: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """A raw-hit DataFrame with every column the edge reads, in the dtypes it expects."""
    if isinstance(records, pd.DataFrame):
        if records.attrs.get(_RAW_MARK):
            return records
        source: Mapping[str, Any] | pd.DataFrame = records.reset_index(drop=True)
        n = len(records)
    else:
        rows = list(records)
        n = len(rows)
        names = {*RAW_STRING_COLUMNS, *RAW_BOOL_COLUMNS, *RAW_FLOAT_COLUMNS, "ts"}
        source = {name: [row.get(name) for row in rows] for name in names if any(name in row for row in rows)}
    columns: dict[str, Any] = {}
    for name in RAW_STRING_COLUMNS:
        columns[name] = (
            _object_column(source[name], n)
            if name in source
            else pd.Series(np.full(n, None, dtype=object), dtype=object)
        )
    for name in RAW_BOOL_COLUMNS:
        columns[name] = (
            pd.Series(list(source[name]), dtype=object).fillna(False).astype(bool).to_numpy()
            if name in source
            else np.zeros(n, dtype=bool)
        )
    for name in RAW_FLOAT_COLUMNS:
        columns[name] = (
            pd.to_numeric(pd.Series(list(source[name]), dtype=object), errors="coerce").astype("float64").to_numpy()
            if name in source
            else np.full(n, np.nan)
        )
    ts = pd.Series(list(source["ts"]), dtype=object) if "ts" in source else pd.Series([None] * n, dtype=object)
    columns["ts"] = pd.to_datetime(ts, utc=True, errors="coerce").astype("datetime64[us, UTC]")
    frame = pd.DataFrame(columns)
    frame.attrs[_RAW_MARK] = True
    return frame


class _Distinct:
    """A column factorized once, so work runs per distinct value (hits repeat agents, URLs, addresses)."""

    def __init__(self, values: pd.Series, func: Callable[[Any], Any]) -> None:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        self.index = values.index
        self.codes = codes
        self.results = [*(func(u) for u in uniques), func(None)]  # the last slot answers missing values

    def field(self, get: Callable[[Any], Any]) -> pd.Series:
        """One attribute of each row's result."""
        table = np.empty(len(self.results), dtype=object)
        table[:] = [get(r) for r in self.results]
        return pd.Series(table[self.codes], index=self.index, dtype=object)

    def values(self) -> pd.Series:
        """Each row's result."""
        return self.field(lambda r: r)


def _random_ids(n: int) -> np.ndarray:
    """``n`` random 128-bit ids as 32 hex characters."""
    return np.frombuffer(os.urandom(16 * n).hex().encode(), dtype="S32").astype(str).astype(object)


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
        self.steps: tuple[tuple[str, Callable[[pd.DataFrame], tuple[pd.DataFrame, Counter[DropReason]]]], ...] = (
            ("drop_unknown_clients", self.drop_unknown_clients),
            ("drop_privacy_signals", self.drop_privacy_signals),
            ("validate", self.validate),
            ("parse_user_agents", self.parse_user_agents),
            ("truncate_ips", self.truncate_ips),
            ("clean_urls", self.clean_urls),
            ("pseudonymize_identifiers", self.pseudonymize_identifiers),
        )

    def process(self, raw: pd.DataFrame) -> EdgeResult:
        """All steps over one batch; the result holds no personal raw value."""
        frame = raw_frame(raw)
        drops: Counter[DropReason] = Counter()
        for _name, step in self.steps:
            if frame.empty:
                break
            frame, dropped = step(frame)
            drops.update(dropped)
        return EdgeResult(events=self.to_events(frame), received=len(raw), drops=drops)

    # steps ----------------------------------------------------------------------------------
    @staticmethod
    def _drop(
        frame: pd.DataFrame, reasons: list[tuple[DropReason, pd.Series]]
    ) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """Drop rows by the first reason that applies to them, counting each reason."""
        dropped = pd.Series(False, index=frame.index)
        counts: Counter[DropReason] = Counter()
        for reason, mask in reasons:
            hit = mask & ~dropped
            n = int(hit.sum())
            if n:
                counts[reason] += n
                dropped |= hit
        return frame.loc[~dropped], counts

    def drop_unknown_clients(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """Hits whose site key named no live client."""
        policies = {cid: self.policies(cid) for cid in frame["client_id"].dropna().unique()}
        known = {cid: p for cid, p in policies.items() if p is not None}
        frame = frame.assign(
            _collect_pii=frame["client_id"].map({c: p.collect_pii for c, p in known.items()}),
            _honour_dnt=frame["client_id"].map({c: p.honour_dnt for c, p in known.items()}),
        )
        frame, counts = self._drop(frame, [(DropReason.UNKNOWN_SITE_KEY, frame["_collect_pii"].isna())])
        return frame.astype({"_collect_pii": bool, "_honour_dnt": bool}), counts

    def drop_privacy_signals(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """Opt-out cookie, ``Sec-GPC: 1`` (always), ``DNT: 1`` (where the client honours it)."""
        return self._drop(
            frame,
            [
                (DropReason.OPT_OUT, frame["optout"]),
                (DropReason.GPC, frame["gpc"]),
                (DropReason.DNT, frame["dnt"] & frame["_honour_dnt"]),
            ],
        )

    def validate(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """Types, formats and bounds; a goal without a name is named ``goal``."""
        now = pd.Timestamp(self.clock())
        ts = frame["ts"]
        value = frame["value"]
        too_long = pd.Series(False, index=frame.index)
        for name in (*CAMPAIGN_FIELDS, "goal", "region"):
            too_long |= frame[name].str.len().gt(MAX_FIELD_LENGTH).fillna(False).astype(bool)
        bad_event_id = frame["event_id"].notna() & ~frame["event_id"].str.match(EVENT_ID_PATTERN).fillna(False).astype(
            bool
        )
        bad_currency = frame["currency"].notna() & ~frame["currency"].str.match(CURRENCY_PATTERN).fillna(False).astype(
            bool
        )
        frame, counts = self._drop(
            frame,
            [
                (DropReason.INVALID_EVENT_TYPE, ~frame["event_type"].isin(_EVENT_TYPES)),
                (
                    DropReason.INVALID_VISITOR_ID,
                    ~frame["visitor_id"].str.match(VISITOR_ID_PATTERN).fillna(False).astype(bool),
                ),
                (DropReason.INVALID_TIMESTAMP, ts.isna() | (ts > now + self.config.max_future_skew)),
                (DropReason.INVALID_VALUE, value.notna() & ~(np.isfinite(value) & (value >= 0) & (value <= MAX_VALUE))),
                (DropReason.INVALID_FIELD, too_long | bad_event_id | bad_currency),
            ],
        )
        is_goal = frame["event_type"] == EventType.GOAL.value
        frame = frame.assign(goal=frame["goal"].where(~is_goal | frame["goal"].notna(), "goal"))
        return frame, counts

    def parse_user_agents(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """Browser, OS and device class from the user agent, which is then dropped; bots are dropped."""
        info = _Distinct(frame["user_agent"], parse_user_agent)
        frame = frame.drop(columns=["user_agent"]).assign(
            browser_family=info.field(lambda i: i.browser_family),
            browser_version=info.field(lambda i: i.browser_version),
            os_family=info.field(lambda i: i.os_family),
            os_version=info.field(lambda i: i.os_version),
            device_class=info.field(lambda i: i.device_class),
        )
        return self._drop(frame, [(DropReason.BOT, info.field(lambda i: i.is_bot).astype(bool))])

    def truncate_ips(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """The address becomes its network prefix; the full address is dropped."""
        v4, v6 = self.config.ipv4_prefix, self.config.ipv6_prefix
        prefix = _Distinct(frame["ip"], lambda ip: truncate_ip(ip, v4, v6)).values()
        return frame.drop(columns=["ip"]).assign(ip_prefix=prefix), Counter()

    def clean_urls(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """Only allow-listed query parameters survive; campaign fields missing from the hit come from its URL."""
        allowed = self.config.allowed_params
        pages = _Distinct(frame["url"], lambda url: clean_page_url(url, allowed))
        referrers = _Distinct(frame["referrer"], clean_referrer)
        frame = frame.assign(
            url=pages.field(lambda p: p.url),
            path=pages.field(lambda p: p.path),
            referrer=referrers.field(lambda r: r[0]),
            referrer_host=referrers.field(lambda r: r[1]),
        )
        for name in CAMPAIGN_FIELDS:
            from_url = pages.field(partial(_campaign_field, name))
            frame[name] = frame[name].where(frame[name].notna(), from_url)
        return frame, Counter()

    def pseudonymize_identifiers(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, Counter[DropReason]]:
        """Keyed pseudonyms of email and member id, only where the client collects them and the user consented."""
        allowed = frame["_collect_pii"] & frame["consent"]
        result = {}
        for column, kind in (("email", IdentifierKind.EMAIL), ("member_id", IdentifierKind.MEMBER)):
            values = frame[column].where(allowed, None)
            out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            present = values.notna()
            if present.any():
                pairs = pd.DataFrame({"c": frame.loc[present, "client_id"], "v": values[present]})
                unique = pairs.drop_duplicates()
                unique = unique.assign(
                    p=[pseudonymize(self.keys(c), kind, v) for c, v in zip(unique["c"], unique["v"], strict=True)]
                )
                out.loc[present] = pairs.merge(unique, on=["c", "v"], how="left")["p"].to_numpy()
            result[f"{kind.value}_pseudonym"] = out
        return frame.drop(columns=["email", "member_id"]).assign(**result), Counter()

    # output ---------------------------------------------------------------------------------
    def to_events(self, frame: pd.DataFrame) -> pa.Table:
        """The lake's event table: generated event ids where the hit had none, the time it was received."""
        n = len(frame)
        if n == 0:
            return EVENT_SCHEMA.empty_table()
        event_id = frame["event_id"]
        missing = event_id.isna()
        if missing.any():
            event_id = event_id.copy()
            event_id[missing] = _random_ids(int(missing.sum()))
        columns: dict[str, Any] = {name: frame[name] for name in EVENT_SCHEMA.names if name in frame}
        columns["event_id"] = event_id
        columns["received_at"] = pd.Series(pd.Timestamp(self.clock()), index=frame.index).astype("datetime64[us, UTC]")
        columns["source"] = frame["source"].fillna("pixel")
        arrays = [_to_arrow(columns.get(f.name), f.type, n) for f in EVENT_SCHEMA]
        return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def _campaign_field(name: str, page: CleanUrl) -> str | None:
    """One campaign field a cleaned URL carried, if any."""
    return dict(page.campaign).get(name)


def _to_arrow(values: pd.Series | None, type_: pa.DataType, n: int) -> pa.Array:
    """One column as Arrow (timestamps via naive UTC numpy, sidestepping pandas' tz deprecation)."""
    if values is None:
        return pa.nulls(n, type_)
    if pa.types.is_timestamp(type_):
        return pa.array(values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(), type=type_)
    return pa.array(values, type=type_, from_pandas=True)
