"""Simulated traffic of a world: sessions with their truth, the raw hits the edge receives, daily spend.

Every step is vectorized over sessions; the only loop runs over days (a returning visitor must have
visited on an earlier day). Each kind of randomness has its own seeded stream, so the same world always
gives the same sessions and hits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from xmo.simulator.catalog import (
    BOT_DEVICE,
    CLICK_TARGETS,
    CONTENT_PAGES,
    DEVICE_CLASSES,
    EVENING_FROM_HOUR,
    FIRST_HOUR,
    GOAL_PAGES,
    GOALS,
    HOUR_WEIGHTS,
    LAST_SLOT_MINUTES,
    REGIONS,
    USER_AGENTS,
    user_agents_of,
)
from xmo.simulator.hits import (
    BoolArray,
    FloatArray,
    HitArrays,
    IntArray,
    PageCodes,
    SessionPlan,
    UrlBook,
    VisitorTable,
    expand_sessions,
    hit_frame,
)
from xmo.simulator.synthetic import MEMBER_ID_SPACE, emails, hex_ids, ip_pool, member_ids, random_id_bytes
from xmo.simulator.world import Campaign, OrganicSource, World

DEFAULT_CLIENT_ID = "demo"
DEFAULT_DOMAIN = "www.example.com"
SESSION_STREAM, VISITOR_STREAM, PROFILE_STREAM, OUTCOME_STREAM, HIT_STREAM, EVENT_ID_STREAM = 1, 2, 3, 4, 5, 6
IPV4_SHARE = 0.75
BOT_CODE = len(DEVICE_CLASSES)
_DEVICE_LABELS = np.array([*DEVICE_CLASSES, BOT_DEVICE], dtype=object)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


@dataclass(frozen=True, eq=False)
class _Sources:
    """Campaigns, then organic sources, as arrays indexed by source number."""

    ids: np.ndarray
    channels: np.ndarray
    campaign_ids: np.ndarray  # None for organic sources
    expected: FloatArray  # (sources, days) expected sessions
    conversion_effect: FloatArray
    return_rate: FloatArray
    device_cum: FloatArray  # (sources, devices) cumulative shares
    engagement: FloatArray
    creative_cum: FloatArray  # (sources, creatives) cumulative weights; organic: all ones
    creative_effect: FloatArray  # (sources, creatives, devices) log-odds
    creative_ids: np.ndarray  # (sources, creatives), None where absent
    landing: IntArray  # (sources, k) URL codes; campaigns: one per creative
    landing_count: IntArray
    referrer: IntArray  # (sources, k) URL codes
    referrer_count: IntArray  # 0: no referrer

    @property
    def is_campaign(self) -> BoolArray:
        return np.asarray(pd.notna(self.campaign_ids), dtype=bool)


def _padded(rows: list[list[int]], fill: int = -1) -> tuple[IntArray, IntArray]:
    width = max(1, *(len(r) for r in rows))
    out = np.full((len(rows), width), fill, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out, np.array([len(r) for r in rows], dtype=np.int64)


def _sources(world: World, book: UrlBook) -> _Sources:
    campaigns, organic = world.campaigns, world.organic
    n_creatives = max(len(c.creatives) for c in campaigns)
    n_sources = len(campaigns) + len(organic)
    pattern = np.resize(np.asarray(world.weekly_pattern, dtype=np.float64), world.days)
    expected = np.vstack([c.expected_sessions() for c in campaigns] + [o.daily_sessions * pattern for o in organic])
    creative_cum = np.ones((n_sources, n_creatives))
    creative_effect = np.zeros((n_sources, n_creatives, len(DEVICE_CLASSES)))
    creative_ids = np.full((n_sources, n_creatives), None, dtype=object)
    landing: list[list[int]] = []
    referrers: list[list[int]] = []
    for i, c in enumerate(campaigns):
        weights = np.array([cr.weight for cr in c.creatives])
        creative_cum[i, : len(weights)] = np.cumsum(weights / weights.sum())
        for k, cr in enumerate(c.creatives):
            creative_effect[i, k] = cr.effects
            creative_ids[i, k] = cr.id
        landing.append(
            [
                book.landing(
                    c.landing_path,
                    [
                        ("utm_source", c.utm_source),
                        ("utm_medium", c.utm_medium),
                        ("utm_campaign", c.utm_campaign),
                        ("utm_content", cr.id),
                        ("cid", c.id),
                        ("crid", cr.id),
                    ],
                )
                for cr in c.creatives
            ]
        )
        referrers.append([book.code(c.referrer)] if c.referrer else [])
    for o in organic:
        landing.append([book.page(p) for p in o.landing_paths])
        referrers.append([book.code(r) for r in o.referrers])
    landing_table, landing_count = _padded(landing)
    referrer_table, referrer_count = _padded(referrers)
    sources: tuple[Campaign | OrganicSource, ...] = (*campaigns, *organic)
    return _Sources(
        ids=np.array([s.id for s in sources], dtype=object),
        channels=np.array([s.channel for s in sources], dtype=object),
        campaign_ids=np.array([c.id for c in campaigns] + [None] * len(organic), dtype=object),
        expected=expected,
        conversion_effect=np.array([s.conversion_effect for s in sources]),
        return_rate=np.array([s.return_rate for s in sources]),
        device_cum=np.cumsum(np.array([s.device_mix for s in sources]), axis=1),
        engagement=np.array([s.engagement for s in sources]),
        creative_cum=creative_cum,
        creative_effect=creative_effect,
        creative_ids=creative_ids,
        landing=landing_table,
        landing_count=landing_count,
        referrer=referrer_table,
        referrer_count=referrer_count,
    )


@dataclass(frozen=True, eq=False)
class _Plan:
    """Session draws that depend on nothing but the source and the day (sorted by start time)."""

    source: IntArray
    day: IntArray
    start_us: IntArray
    hour: IntArray
    bot: BoolArray
    wants_return: BoolArray
    creative: IntArray  # -1 for organic traffic
    device_draw: FloatArray  # uniform draw deciding the device of a new visitor
    landing: IntArray
    referrer: IntArray


def _categorical_draw(rng: np.random.Generator, cumulative: FloatArray) -> IntArray:
    """One category per row of a cumulative-share matrix."""
    u = rng.random(len(cumulative))
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), cumulative.shape[1] - 1).astype(np.int64)


def _plan(world: World, src: _Sources) -> _Plan:
    rng = _rng(world.seed, SESSION_STREAM)
    counts = rng.poisson(src.expected).T  # (days, sources)
    n_sources = counts.shape[1]
    source = np.repeat(np.tile(np.arange(n_sources, dtype=np.int64), world.days), counts.ravel())
    day = np.repeat(np.arange(world.days, dtype=np.int64), counts.sum(axis=1))
    n = len(source)
    weights = np.asarray(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS)
    slot = rng.choice(len(HOUR_WEIGHTS), size=n, p=weights)
    slot_s = np.where(slot == len(HOUR_WEIGHTS) - 1, LAST_SLOT_MINUTES * 60, 3600)
    midnight_us = int(datetime.combine(world.start, time(), UTC).timestamp()) * 1_000_000
    start_us = (
        midnight_us
        + day * 86_400_000_000
        + (FIRST_HOUR + slot) * 3_600_000_000
        + (rng.random(n) * slot_s * 1e6).astype(np.int64)
    )
    order = np.argsort(start_us, kind="stable")
    source, day, start_us, slot = source[order], day[order], start_us[order], slot[order]
    bot = rng.random(n) < world.rates.bot
    wants_return = (rng.random(n) < src.return_rate[source]) & ~bot
    creative = np.where(src.is_campaign[source], _categorical_draw(rng, src.creative_cum[source]), -1)
    device_draw = rng.random(n)
    landing_pick = np.where(creative >= 0, creative, (rng.random(n) * src.landing_count[source]).astype(np.int64))
    referrer_pick = (rng.random(n) * np.maximum(src.referrer_count[source], 1)).astype(np.int64)
    referrer = np.where(src.referrer_count[source] > 0, src.referrer[source, referrer_pick], -1)
    return _Plan(
        source=source,
        day=day,
        start_us=start_us,
        hour=FIRST_HOUR + slot,
        bot=bot,
        wants_return=wants_return,
        creative=creative,
        device_draw=device_draw,
        landing=src.landing[source, landing_pick],
        referrer=referrer,
    )


def _sample_without_replacement(rng: np.random.Generator, population: int, k: int) -> IntArray:
    """``k`` distinct integers below ``population`` (cheap when ``k`` is small against it)."""
    if 4 * k >= population:
        return rng.permutation(population)[:k].astype(np.int64)
    picks = rng.integers(0, population, k)
    while True:
        _, first = np.unique(picks, return_index=True)
        if len(first) == k:
            return picks.astype(np.int64)
        repeat = np.ones(k, dtype=bool)
        repeat[first] = False
        picks[repeat] = rng.integers(0, population, int(repeat.sum()))


def _assign_visitors(world: World, plan: _Plan) -> tuple[IntArray, BoolArray, IntArray]:
    """Each session's visitor: a returning one from earlier days (never twice a day), or a new one.

    Returns the visitor of each session, whether it returned, and each visitor's first session.
    """
    rng = _rng(world.seed, VISITOR_STREAM)
    n = len(plan.source)
    visitor = np.empty(n, dtype=np.int64)
    returning = np.zeros(n, dtype=bool)
    first_session = np.empty(n, dtype=np.int64)
    eligible = np.empty(n, dtype=np.int64)  # humans seen on earlier days, in order of first visit
    n_eligible = n_visitors = 0
    bounds = np.searchsorted(plan.day, np.arange(world.days + 1))
    for lo, hi in itertools.pairwise(bounds):
        wants = plan.wants_return[lo:hi].copy()
        asked = np.flatnonzero(wants)
        if len(asked) > n_eligible:
            wants[asked[n_eligible:]] = False
        k = int(wants.sum())
        if k:
            visitor[lo:hi][wants] = eligible[_sample_without_replacement(rng, n_eligible, k)]
        new_rows = lo + np.flatnonzero(~wants)
        new_ids = np.arange(n_visitors, n_visitors + len(new_rows), dtype=np.int64)
        visitor[new_rows] = new_ids
        first_session[n_visitors : n_visitors + len(new_rows)] = new_rows
        n_visitors += len(new_rows)
        humans = new_ids[~plan.bot[new_rows]]
        eligible[n_eligible : n_eligible + len(humans)] = humans
        n_eligible += len(humans)
        returning[lo:hi] = wants
    return visitor, returning, first_session[:n_visitors]


def _visitors(world: World, src: _Sources, plan: _Plan, first_session: IntArray) -> VisitorTable:
    """Device, user agent, region, address, consent, identifiers and privacy signals of each visitor."""
    rng = _rng(world.seed, PROFILE_STREAM)
    n = len(first_session)
    bot = plan.bot[first_session]
    human = ~bot
    cumulative = src.device_cum[plan.source[first_session]]
    device = np.minimum((plan.device_draw[first_session][:, None] >= cumulative).sum(axis=1), BOT_CODE - 1)
    device[bot] = BOT_CODE
    user_agent = np.empty(n, dtype=np.int64)
    for code, label in enumerate(_DEVICE_LABELS):
        rows = np.flatnonzero(device == code)
        indices, weights = user_agents_of(str(label))
        user_agent[rows] = rng.choice(np.asarray(indices), size=len(rows), p=np.asarray(weights))
    region_weights = np.array([w for _, w in REGIONS])
    region = rng.choice(len(REGIONS), size=n, p=region_weights / region_weights.sum())
    pool, n_v4 = ip_pool(rng)
    ip = np.where(rng.random(n) < IPV4_SHARE, rng.integers(0, n_v4, n), rng.integers(n_v4, len(pool), n))
    rates = world.rates
    flags = {
        name: human & (rng.random(n) < getattr(rates, name))
        for name in ("consent", "email", "member", "optout", "gpc", "dnt")
    }
    email = np.full(n, None, dtype=object)
    email[flags["email"]] = emails(rng, int(flags["email"].sum()))
    member = np.full(n, None, dtype=object)
    member[flags["member"]] = member_ids(np.flatnonzero(flags["member"]), int(rng.integers(MEMBER_ID_SPACE)))
    return VisitorTable(
        ids=hex_ids(random_id_bytes(rng, n)),
        device=device.astype(np.int8),
        user_agent=user_agent,
        region=region.astype(np.int64),
        ip=ip.astype(np.int64),
        ip_pool=pool,
        consent=flags["consent"],
        email=email,
        member_id=member,
        optout=flags["optout"],
        gpc=flags["gpc"],
        dnt=flags["dnt"],
        bot=bot,
    )


@dataclass(frozen=True, eq=False)
class _Outcomes:
    device: IntArray
    pageviews: IntArray
    click: BoolArray
    click_after: IntArray
    true_p: FloatArray
    converted: BoolArray
    goal: IntArray
    value: FloatArray


def _outcomes(
    world: World, src: _Sources, plan: _Plan, *, visitors: VisitorTable, visitor: IntArray, returning: BoolArray
) -> _Outcomes:
    """Engagement, then the true conversion probability, then whether and how each session converted."""
    rng = _rng(world.seed, OUTCOME_STREAM)
    behaviour, n = world.behaviour, len(visitor)
    device = visitors.device[visitor].astype(np.int64)
    bot = plan.bot
    engagement = src.engagement[plan.source] + behaviour.returning_engagement * returning
    engagement[bot] = 0.4
    pageviews = np.minimum(rng.geometric(1.0 / (1.0 + engagement)), behaviour.max_pageviews).astype(np.int64)
    click = ~bot & (rng.random(n) < world.rates.click)
    click_after = (rng.random(n) * pageviews).astype(np.int64)
    creative_effect = np.where(
        (plan.creative >= 0) & ~bot,
        src.creative_effect[plan.source, np.maximum(plan.creative, 0), np.minimum(device, BOT_CODE - 1)],
        0.0,
    )
    log_odds = (
        behaviour.base_log_odds
        + src.conversion_effect[plan.source]
        + creative_effect
        + behaviour.per_log_pageview * np.log(pageviews)
        + behaviour.returning * returning
        + behaviour.click * click
        + behaviour.evening * (plan.hour >= EVENING_FROM_HOUR)
    )
    true_p = np.where(bot, 0.0, 1.0 / (1.0 + np.exp(-log_odds)))
    converted = rng.random(n) < true_p
    goal_kind = rng.choice(len(GOALS), size=n, p=np.asarray(behaviour.goal_mix))
    goal = np.where(converted, goal_kind, -1).astype(np.int64)
    amount = np.round(behaviour.order_value_median * np.exp(behaviour.order_value_sigma * rng.standard_normal(n)), 2)
    value = np.where(goal == GOALS.index("purchase"), amount, np.nan)
    return _Outcomes(
        device=device,
        pageviews=pageviews,
        click=click,
        click_after=click_after,
        true_p=true_p,
        converted=converted,
        goal=goal,
        value=value,
    )


def _goal_urls(book: UrlBook, visitors: VisitorTable, visitor: IntArray, goal: IntArray) -> IntArray:
    """URL code of each session's goal page; registrations of visitors with an email carry it in the query
    (a leak the edge must strip, as real sign-up forms sometimes cause)."""
    codes = np.array([book.page(GOAL_PAGES[g]) for g in GOALS], dtype=np.int64)
    urls = codes[np.maximum(goal, 0)]
    leaking = np.flatnonzero((goal == GOALS.index("registration")) & pd.notna(visitors.email[visitor]))
    page = f"https://{book.domain}{GOAL_PAGES['registration']}"
    urls[leaking] = book.extend([f"{page}?email={visitors.email[v]}&step=done" for v in visitor[leaking].tolist()])
    return urls


def _sessions_frame(
    world: World,
    src: _Sources,
    plan: _Plan,
    *,
    visitors: VisitorTable,
    visitor: IntArray,
    returning: BoolArray,
    out: _Outcomes,
    hits: HitArrays,
) -> pd.DataFrame:
    """The per-session truth (categories built from integer codes: no string matching per session)."""

    def category(codes: npt.ArrayLike, categories: Sequence[str]) -> pd.Categorical[str]:
        return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=pd.Index(list(categories)))

    n_campaigns = len(world.campaigns)
    channels = sorted(set(src.channels))
    channel_code = np.array([channels.index(c) for c in src.channels], dtype=np.int64)
    creatives_before = np.cumsum([0] + [len(c.creatives) for c in world.campaigns])
    paid = plan.creative >= 0
    creative_code = np.where(paid, creatives_before[np.minimum(plan.source, n_campaigns - 1)] + plan.creative, -1)
    return pd.DataFrame(
        {
            "session_id": np.arange(len(visitor), dtype=np.int64),
            "visitor_id": pd.Series(visitors.ids[visitor], dtype=object),
            "session_start": pd.Series(plan.start_us.astype("datetime64[us]")).dt.tz_localize("UTC"),
            "session_end": pd.Series(hits.session_end_us.astype("datetime64[us]")).dt.tz_localize("UTC"),
            "day": plan.day,
            "source_id": category(plan.source, src.ids.tolist()),
            "channel": category(channel_code[plan.source], channels),
            "campaign_id": category(
                np.where(plan.source < n_campaigns, plan.source, -1), [c.id for c in world.campaigns]
            ),
            "creative_id": category(creative_code, [cr.id for c in world.campaigns for cr in c.creatives]),
            "device_class": category(out.device, _DEVICE_LABELS.tolist()),
            "user_agent": category(visitors.user_agent[visitor], [a.text for a in USER_AGENTS]),
            "region": category(visitors.region[visitor], [r for r, _ in REGIONS]),
            "start_hour": plan.hour,
            "is_returning": returning,
            "pageviews": out.pageviews,
            "clicks": out.click.astype(np.int64),
            "hits": hits.hits_per_session,
            "true_p": out.true_p,
            "converted": out.converted,
            "goal": category(out.goal, GOALS),
            "value": out.value,
            "consent": visitors.consent[visitor],
            "has_email": pd.notna(visitors.email)[visitor],
            "has_member_id": pd.notna(visitors.member_id)[visitor],
            "opted_out": visitors.optout[visitor],
            "gpc": visitors.gpc[visitor],
            "dnt": visitors.dnt[visitor],
            "bot": plan.bot,
        }
    )


def _spend_frame(world: World) -> pd.DataFrame:
    dates = world.dates
    return pd.DataFrame(
        {
            "date": [d for _ in world.campaigns for d in dates],
            "campaign_id": [c.id for c in world.campaigns for _ in dates],
            "channel": [c.channel for c in world.campaigns for _ in dates],
            "spend": [s for c in world.campaigns for s in c.daily_spend],
        }
    ).astype({"campaign_id": object, "channel": object})


@dataclass(frozen=True, eq=False)
class Traffic:
    """Simulated traffic: per-session truth, hits (built on demand, whole or in slices), daily spend."""

    world: World
    client_id: str
    domain: str
    sessions: pd.DataFrame
    spend: pd.DataFrame
    visitors: VisitorTable
    hit_arrays: HitArrays
    urls: np.ndarray

    @property
    def n_hits(self) -> int:
        """How many hits the sessions made."""
        return len(self.hit_arrays)

    def hit_frame(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Hits ``start:stop`` (ordered by session, then time) in the edge's raw-hit format."""
        return hit_frame(self.hit_arrays, self.visitors, self.urls, self.client_id, start=start, stop=stop)

    def hit_chunks(self, chunk_hits: int = 500_000) -> Iterator[pd.DataFrame]:
        """All hits in consecutive slices of at most ``chunk_hits``."""
        if chunk_hits < 1:
            raise ValueError("chunk_hits must be positive")
        for start in range(0, self.n_hits, chunk_hits):
            yield self.hit_frame(start, start + chunk_hits)

    @cached_property
    def hits(self) -> pd.DataFrame:
        """Every hit in the edge's raw-hit format (columns of ``tracking.events`` RAW_*)."""
        return self.hit_frame()


def simulate(world: World, client_id: str = DEFAULT_CLIENT_ID, domain: str = DEFAULT_DOMAIN) -> Traffic:
    """The sessions, hits and spend of ``world``, stamped with ``client_id`` on pages of ``domain``."""
    book = UrlBook(domain)
    src = _sources(world, book)
    plan = _plan(world, src)
    visitor, returning, first_session = _assign_visitors(world, plan)
    visitors = _visitors(world, src, plan, first_session)
    out = _outcomes(world, src, plan, visitors=visitors, visitor=visitor, returning=returning)
    pages = PageCodes(
        content=np.array([book.page(p) for p in CONTENT_PAGES], dtype=np.int64),
        click_targets=np.array([book.page(p) for p in CLICK_TARGETS], dtype=np.int64),
        checkout=book.page("/checkout"),
    )
    session_plan = SessionPlan(
        visitor=visitor,
        start_us=plan.start_us,
        pageviews=out.pageviews,
        click=out.click,
        click_after=out.click_after,
        goal=out.goal,
        value=out.value,
        landing=plan.landing,
        referrer=plan.referrer,
    )
    goal_urls = _goal_urls(book, visitors, visitor, out.goal)
    n_hits = int((out.pageviews + out.click + (out.goal >= 0)).sum())
    event_ids = random_id_bytes(_rng(world.seed, EVENT_ID_STREAM), n_hits)
    hits = expand_sessions(
        _rng(world.seed, HIT_STREAM),
        session_plan,
        pages,
        goal_urls,
        mean_gap_s=world.behaviour.mean_gap_s,
        max_gap_s=world.behaviour.max_gap_s,
        event_ids=event_ids,
    )
    sessions = _sessions_frame(
        world, src, plan, visitors=visitors, visitor=visitor, returning=returning, out=out, hits=hits
    )
    return Traffic(
        world=world,
        client_id=client_id,
        domain=domain,
        sessions=sessions,
        spend=_spend_frame(world),
        visitors=visitors,
        hit_arrays=hits,
        urls=book.array(),
    )
