"""Sessions → hits: pageviews spaced by exponential gaps, optional tracked clicks, a goal when converted.

Hits are first built as compact integer arrays (one pass, vectorized over all sessions), then turned into
the edge's raw-hit DataFrame a slice at a time, so a million sessions never need all their strings at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt
import pandas as pd

from tracking.events import RAW_BOOL_COLUMNS, RAW_FLOAT_COLUMNS, RAW_STRING_COLUMNS, EventType, HitSource
from xmo.simulator.catalog import CURRENCY, GOALS, REGIONS, USER_AGENTS
from xmo.simulator.synthetic import ObjectArray, hex_ids

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

KIND_PAGEVIEW, KIND_CLICK, KIND_GOAL = 0, 1, 2
_KIND_NAMES = np.array([EventType.PAGEVIEW.value, EventType.CLICK.value, EventType.GOAL.value], dtype=object)
_GOAL_NAMES = np.array([None, *GOALS], dtype=object)  # index goal code + 1
_CURRENCIES = np.array([None, CURRENCY], dtype=object)
_USER_AGENT_TEXT = np.array([agent.text for agent in USER_AGENTS], dtype=object)
_REGION_NAMES = np.array([name for name, _ in REGIONS], dtype=object)
RAW_COLUMNS: tuple[str, ...] = (*RAW_STRING_COLUMNS, *RAW_BOOL_COLUMNS, *RAW_FLOAT_COLUMNS, "ts")
PURCHASE = GOALS.index("purchase")


class UrlBook:
    """Every URL string hits use, each stored once and referred to by an integer code."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self._urls: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, url: str) -> int:
        """The code of a URL, adding it on first use."""
        found = self._codes.get(url)
        if found is None:
            found = self._codes[url] = len(self._urls)
            self._urls.append(url)
        return found

    def page(self, path: str) -> int:
        """The code of a page of the client's site."""
        return self.code(f"https://{self.domain}{path}")

    def landing(self, path: str, params: Sequence[tuple[str, str]]) -> int:
        """The code of a landing page with campaign parameters."""
        return self.code(f"https://{self.domain}{path}?{urlencode(list(params))}")

    def extend(self, urls: Sequence[str]) -> IntArray:
        """Codes of many URLs that are used once each (appended without lookup)."""
        first = len(self._urls)
        self._urls.extend(urls)
        return np.arange(first, len(self._urls), dtype=np.int64)

    def array(self) -> ObjectArray:
        """All URLs, indexable by code."""
        out = np.empty(len(self._urls), dtype=object)
        out[:] = self._urls
        return out


@dataclass(frozen=True, eq=False)
class VisitorTable:
    """Per-visitor attributes (indices into the catalog, flags, synthetic identifiers)."""

    ids: ObjectArray  # 32 hex characters: the first-party cookie
    device: npt.NDArray[np.int8]  # index into DEVICE_CLASSES; len(DEVICE_CLASSES) means bot
    user_agent: IntArray  # index into USER_AGENTS
    region: IntArray  # index into REGIONS
    ip: IntArray  # index into ``ip_pool``
    ip_pool: ObjectArray
    consent: BoolArray
    email: ObjectArray  # None where the site sends none
    member_id: ObjectArray
    optout: BoolArray
    gpc: BoolArray
    dnt: BoolArray
    bot: BoolArray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class SessionPlan:
    """What the hits of each session need to know (one entry per session)."""

    visitor: IntArray
    start_us: IntArray  # epoch microseconds, UTC
    pageviews: IntArray
    click: BoolArray
    click_after: IntArray  # index of the pageview the click happens on
    goal: IntArray  # index into GOALS, -1 without conversion
    value: FloatArray
    landing: IntArray  # URL code of the landing page
    referrer: IntArray  # URL code, -1 for none


@dataclass(frozen=True, eq=False)
class HitArrays:
    """All hits as integer codes, ordered by session and time."""

    session: IntArray
    visitor: IntArray
    kind: npt.NDArray[np.int8]
    ts_us: IntArray
    url: IntArray
    referrer: IntArray  # -1: none
    goal: IntArray  # -1: none
    value: FloatArray
    event_id: npt.NDArray[np.uint8]  # (n, 16) random bytes
    session_end_us: IntArray  # per session: the time of its last hit
    hits_per_session: IntArray

    def __len__(self) -> int:
        return len(self.session)


@dataclass(frozen=True)
class PageCodes:
    """URL codes of pages the expansion picks from."""

    content: IntArray
    click_targets: IntArray
    checkout: int


def _segment_positions(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For ``counts`` items per segment: each item's segment and its position inside it."""
    segment = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    return segment, np.arange(int(counts.sum()), dtype=np.int64) - first[segment]


def expand_sessions(
    rng: np.random.Generator,
    plan: SessionPlan,
    pages: PageCodes,
    goal_urls: IntArray,
    *,
    mean_gap_s: float,
    max_gap_s: float,
    event_ids: npt.NDArray[np.uint8],
) -> HitArrays:
    """All hits of all sessions, vectorized: no Python loop over sessions.

    ``goal_urls`` holds the URL code of each session's goal event (ignored without a goal), ``event_ids`` one
    16-byte id per hit. Gaps between
    pageviews are exponential, at least one second and at most ``max_gap_s``; a click falls between its
    pageview and the next; the goal follows the last event.
    """
    n_sessions = len(plan.start_us)
    has_goal = plan.goal >= 0
    n_hits = plan.pageviews + plan.click + has_goal
    first_hit = np.cumsum(n_hits) - n_hits
    total = int(n_hits.sum())

    # pageviews
    pv_session, j = _segment_positions(plan.pageviews)
    first_pv = np.cumsum(plan.pageviews) - plan.pageviews
    gap_us = (np.minimum(rng.exponential(mean_gap_s, len(pv_session)), max_gap_s) * 1e6).astype(np.int64)
    gap_us += 1_000_000
    gap_us[j == 0] = 0
    elapsed = np.cumsum(gap_us)
    pv_ts = plan.start_us[pv_session] + elapsed - elapsed[first_pv][pv_session]
    page = pages.content[rng.integers(0, len(pages.content), len(pv_session))]
    landing_rows = first_pv
    page[landing_rows] = plan.landing
    last_pv = first_pv + plan.pageviews - 1
    to_checkout = (plan.goal == PURCHASE) & (plan.pageviews >= 2)
    page[last_pv[to_checkout]] = pages.checkout
    pv_ref = np.empty(len(pv_session), dtype=np.int64)
    pv_ref[landing_rows] = plan.referrer
    inner = j > 0
    pv_ref[inner] = page[np.flatnonzero(inner) - 1]
    shifted = plan.click[pv_session] & (j > plan.click_after[pv_session])
    pv_row = first_hit[pv_session] + j + shifted

    # clicks on tracked links
    cs = np.flatnonzero(plan.click)
    on_pv = first_pv[cs] + plan.click_after[cs]
    not_last = plan.click_after[cs] < plan.pageviews[cs] - 1
    next_gap = np.where(not_last, gap_us[np.minimum(on_pv + 1, len(gap_us) - 1)], int(mean_gap_s * 1e6))
    click_ts = pv_ts[on_pv] + (rng.uniform(0.1, 0.9, len(cs)) * next_gap).astype(np.int64)
    click_row = first_hit[cs] + plan.click_after[cs] + 1
    click_url = pages.click_targets[rng.integers(0, len(pages.click_targets), len(cs))]

    # goals
    last_event_ts = pv_ts[last_pv]
    last_event_ts[cs] = np.maximum(last_event_ts[cs], click_ts)
    gs = np.flatnonzero(has_goal)
    goal_gap = (np.minimum(rng.exponential(40.0, len(gs)), max_gap_s) * 1e6).astype(np.int64) + 1_000_000
    goal_ts = last_event_ts[gs] + goal_gap
    goal_row = first_hit[gs] + n_hits[gs] - 1

    kind = np.empty(total, dtype=np.int8)
    ts = np.empty(total, dtype=np.int64)
    url = np.empty(total, dtype=np.int64)
    ref = np.empty(total, dtype=np.int64)
    goal = np.full(total, -1, dtype=np.int64)
    value = np.full(total, np.nan)
    for rows, k, t, u, r in (
        (pv_row, KIND_PAGEVIEW, pv_ts, page, pv_ref),
        (click_row, KIND_CLICK, click_ts, click_url, page[on_pv]),
        (goal_row, KIND_GOAL, goal_ts, goal_urls[gs], page[last_pv[gs]]),
    ):
        kind[rows], ts[rows], url[rows], ref[rows] = k, t, u, r
    goal[goal_row] = plan.goal[gs]
    value[goal_row] = plan.value[gs]
    session = np.repeat(np.arange(n_sessions, dtype=np.int64), n_hits)
    if len(event_ids) != total:
        raise ValueError(f"need {total} event ids, got {len(event_ids)}")
    return HitArrays(
        session=session,
        visitor=plan.visitor[session],
        kind=kind,
        ts_us=ts,
        url=url,
        referrer=ref,
        goal=goal,
        value=value,
        event_id=event_ids,
        session_end_us=ts[first_hit + n_hits - 1],
        hits_per_session=n_hits,
    )


def _objects(values: npt.NDArray[np.object_]) -> pd.Series:
    return pd.Series(values, dtype=object, copy=False)


def hit_frame(
    hits: HitArrays,
    visitors: VisitorTable,
    urls: ObjectArray,
    client_id: str,
    *,
    start: int = 0,
    stop: int | None = None,
) -> pd.DataFrame:
    """Hits ``start:stop`` in the edge's raw-hit format (the columns of ``tracking.events`` RAW_*)."""
    rows = slice(start, len(hits) if stop is None else stop)
    visitor = hits.visitor[rows]
    n = len(visitor)
    goal = hits.goal[rows]
    with_none = np.empty(len(urls) + 1, dtype=object)
    with_none[0] = None
    with_none[1:] = urls
    nothing = np.full(n, None, dtype=object)
    ts = pd.Series(hits.ts_us[rows].astype("datetime64[us]")).dt.tz_localize("UTC")
    columns: dict[str, pd.Series] = {
        "client_id": _objects(np.full(n, client_id, dtype=object)),
        "event_id": _objects(hex_ids(hits.event_id[rows])),
        "event_type": _objects(_KIND_NAMES[hits.kind[rows]]),
        "visitor_id": _objects(visitors.ids[visitor]),
        "url": _objects(urls[hits.url[rows]]),
        "referrer": _objects(with_none[hits.referrer[rows] + 1]),
        "goal": _objects(_GOAL_NAMES[goal + 1]),
        "currency": _objects(_CURRENCIES[(goal == PURCHASE).astype(np.int64)]),
        "email": _objects(visitors.email[visitor]),
        "member_id": _objects(visitors.member_id[visitor]),
        "ip": _objects(visitors.ip_pool[visitors.ip[visitor]]),
        "user_agent": _objects(_USER_AGENT_TEXT[visitors.user_agent[visitor]]),
        "region": _objects(_REGION_NAMES[visitors.region[visitor]]),
        "source": _objects(np.full(n, HitSource.SIMULATOR.value, dtype=object)),
        "consent": pd.Series(visitors.consent[visitor]),
        "optout": pd.Series(visitors.optout[visitor]),
        "gpc": pd.Series(visitors.gpc[visitor]),
        "dnt": pd.Series(visitors.dnt[visitor]),
        "value": pd.Series(hits.value[rows]),
        "ts": ts,
    }
    frame = pd.DataFrame({name: columns.get(name, _objects(nothing)) for name in RAW_COLUMNS})
    return frame
