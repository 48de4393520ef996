"""The simulated world and its ground truth: campaigns, creatives, response curves, organic sources, rates.

``build_world`` draws every parameter from the seed; the same arguments always give the same world. Traffic
is scaled so that on average about ``visitors_per_day`` sessions happen per day (paid and organic together).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from core.errors import InvalidInput
from xmo.simulator.catalog import BING, CONTENT_PAGES, DEVICE_CLASSES, GOALS, GOOGLE, REFERRAL_SITES
from xmo.simulator.curves import FloatArray, geometric_adstock, hill

MAX_DAYS = 3650
MAX_VISITORS_PER_DAY = 10_000_000
WORLD_STREAM = 0  # seed-sequence stream of the world's parameters (traffic uses others)


@dataclass(frozen=True)
class ResponseCurve:
    """Daily sessions of a campaign as a function of its spend: geometric adstock, then Hill saturation."""

    adstock_decay: float  # share of yesterday's adstocked spend carried into today
    half_saturation: float  # adstocked spend that yields half of ``max_daily_sessions``
    shape: float  # Hill exponent
    max_daily_sessions: float
    initial_adstock: float  # adstocked spend on the day before the first simulated day

    def adstock(self, spend: FloatArray) -> FloatArray:
        """Adstocked spend per day."""
        return geometric_adstock(spend, self.adstock_decay, self.initial_adstock)

    def sessions(self, adstocked: FloatArray) -> FloatArray:
        """Expected sessions for adstocked spend."""
        return self.max_daily_sessions * hill(adstocked, self.half_saturation, self.shape)

    def expected_sessions(self, spend: FloatArray) -> FloatArray:
        """Expected sessions per day for a daily spend series."""
        return self.sessions(self.adstock(spend))


@dataclass(frozen=True)
class Creative:
    """One ad of a campaign; its conversion effect differs by device class."""

    id: str
    headline: str
    weight: float  # share of the campaign's sessions
    effects: tuple[float, ...]  # log-odds effect per device class, in DEVICE_CLASSES order


@dataclass(frozen=True)
class Campaign:
    """A paid campaign with its creatives, spend plan and response curve."""

    id: str
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    referrer: str | None
    landing_path: str
    creatives: tuple[Creative, ...]
    base_daily_spend: float
    daily_spend: tuple[float, ...]  # one value per simulated day
    response: ResponseCurve
    conversion_effect: float  # log-odds effect of arriving through this campaign
    return_rate: float  # probability that a session comes from a returning visitor
    device_mix: tuple[float, ...]  # shares of new visitors per device class
    engagement: float  # mean number of pageviews after the landing page

    def expected_sessions(self) -> FloatArray:
        """Expected sessions per simulated day."""
        return self.response.expected_sessions(np.asarray(self.daily_spend, dtype=np.float64))

    def best_creative(self, device_class: str) -> str:
        """The id of the creative that converts best for a device class."""
        column = DEVICE_CLASSES.index(device_class)
        return max(self.creatives, key=lambda creative: creative.effects[column]).id


@dataclass(frozen=True)
class OrganicSource:
    """Traffic not bought: direct visits, referrals from other sites, organic search."""

    id: str
    channel: str  # direct | referral | organic_search
    referrers: tuple[str, ...]  # empty: the hit has no referrer
    landing_paths: tuple[str, ...]
    daily_sessions: float  # mean sessions per day before the weekly pattern
    conversion_effect: float
    return_rate: float
    device_mix: tuple[float, ...]
    engagement: float


@dataclass(frozen=True)
class Rates:
    """Shares of visitors and sessions with a property (visitor-level unless said otherwise)."""

    consent: float  # the visitor consented to identification
    email: float  # the site sends the visitor's email address
    member: float  # the site sends a member id
    optout: float  # opt-out cookie
    gpc: float  # browser sends ``Sec-GPC: 1``
    dnt: float  # browser sends ``DNT: 1``
    bot: float  # share of sessions made by bots
    click: float  # share of sessions with a click on a tracked link


@dataclass(frozen=True)
class Behaviour:
    """How sessions unfold and convert (the log-odds model of the true conversion probability)."""

    base_log_odds: float
    per_log_pageview: float  # log-odds per log(pageviews): more engagement, higher probability
    returning: float  # log-odds of returning visitors
    click: float  # log-odds of a session with a tracked click
    evening: float  # log-odds of sessions starting in the evening (UTC)
    goal_mix: tuple[float, ...]  # shares of GOALS among conversions
    order_value_median: float  # purchases: log-normal value in EUR
    order_value_sigma: float
    returning_engagement: float  # extra mean pageviews of returning visitors
    mean_gap_s: float  # mean time between pageviews
    max_gap_s: float
    max_pageviews: int


@dataclass(frozen=True)
class World:
    """Everything that is true about the simulated client, drawn from ``seed``."""

    seed: int
    days: int
    visitors_per_day: int
    start: date
    campaigns: tuple[Campaign, ...]
    organic: tuple[OrganicSource, ...]
    rates: Rates
    behaviour: Behaviour
    weekly_pattern: tuple[float, ...]  # multiplier of organic traffic by day index modulo 7

    @property
    def dates(self) -> list[date]:
        """The simulated days, oldest first."""
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def campaign(self, campaign_id: str) -> Campaign:
        """The campaign with this id."""
        for campaign in self.campaigns:
            if campaign.id == campaign_id:
                return campaign
        raise KeyError(campaign_id)

    def best_creatives(self) -> dict[str, dict[str, str]]:
        """The best creative id per campaign id and device class."""
        return {c.id: {d: c.best_creative(d) for d in DEVICE_CLASSES} for c in self.campaigns}

    def expected_daily_sessions(self) -> float:
        """Mean expected sessions per day over the simulated period (paid and organic)."""
        paid = sum(float(np.mean(c.expected_sessions())) for c in self.campaigns)
        pattern = np.resize(np.asarray(self.weekly_pattern), self.days)
        organic = sum(o.daily_sessions for o in self.organic) * float(np.mean(pattern))
        return paid + organic

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the world, with the best creatives spelled out."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["best_creatives"] = self.best_creatives()
        data["device_classes"] = list(DEVICE_CLASSES)
        data["goals"] = list(GOALS)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> World:
        """The world ``to_dict`` described."""
        campaigns = tuple(
            Campaign(
                **{
                    **c,
                    "creatives": tuple(Creative(**{**cr, "effects": tuple(cr["effects"])}) for cr in c["creatives"]),
                    "daily_spend": tuple(c["daily_spend"]),
                    "response": ResponseCurve(**c["response"]),
                    "device_mix": tuple(c["device_mix"]),
                }
            )
            for c in data["campaigns"]
        )
        organic = tuple(
            OrganicSource(
                **{
                    **o,
                    "referrers": tuple(o["referrers"]),
                    "landing_paths": tuple(o["landing_paths"]),
                    "device_mix": tuple(o["device_mix"]),
                }
            )
            for o in data["organic"]
        )
        behaviour = Behaviour(**{**data["behaviour"], "goal_mix": tuple(data["behaviour"]["goal_mix"])})
        return cls(
            seed=data["seed"],
            days=data["days"],
            visitors_per_day=data["visitors_per_day"],
            start=date.fromisoformat(data["start"]),
            campaigns=campaigns,
            organic=organic,
            rates=Rates(**data["rates"]),
            behaviour=behaviour,
            weekly_pattern=tuple(data["weekly_pattern"]),
        )


# --- building a world ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CampaignTemplate:
    name: str  # id suffix: cmp-<name>
    channel: str
    utm_source: str
    utm_medium: str
    referrer: str | None
    landing_path: str
    share: float  # of paid sessions
    base_spend: float  # EUR per day at 1000 visitors per day (at least 50 are assumed)
    conversion_effect: float
    return_rate: float
    device_mix: tuple[float, float, float]
    engagement: float
    decay: tuple[float, float]  # range of the adstock decay
    flights: bool  # weeks without spend happen
    headlines: tuple[str, str, str]


_CAMPAIGNS: tuple[_CampaignTemplate, ...] = (
    _CampaignTemplate(
        "search-brand",
        "search",
        "google",
        "cpc",
        GOOGLE,
        "/",
        0.20,
        60.0,
        0.55,
        0.45,
        (0.45, 0.48, 0.07),
        1.8,
        (0.05, 0.25),
        False,
        ("Official store", "Free returns", "Members save 10%"),
    ),
    _CampaignTemplate(
        "search-generic",
        "search",
        "google",
        "cpc",
        GOOGLE,
        "/category/running-shoes",
        0.15,
        140.0,
        0.0,
        0.20,
        (0.40, 0.52, 0.08),
        1.4,
        (0.05, 0.25),
        False,
        ("Running shoes sale", "Top rated trail shoes", "Shoes for every distance"),
    ),
    _CampaignTemplate(
        "search-bing",
        "search",
        "bing",
        "cpc",
        BING,
        "/",
        0.05,
        25.0,
        0.25,
        0.30,
        (0.62, 0.31, 0.07),
        1.6,
        (0.05, 0.25),
        False,
        ("Official store", "Trail shoes", "Free shipping"),
    ),
    _CampaignTemplate(
        "social-prospecting",
        "social",
        "facebook",
        "paid_social",
        "https://l.facebook.com/",
        "/collections/new",
        0.18,
        110.0,
        -0.45,
        0.10,
        (0.18, 0.74, 0.08),
        1.0,
        (0.2, 0.5),
        True,
        ("New season drop", "Run further", "Made for trails"),
    ),
    _CampaignTemplate(
        "social-retargeting",
        "social",
        "instagram",
        "paid_social",
        "https://l.instagram.com/",
        "/products/trail-runner-2",
        0.08,
        45.0,
        0.40,
        0.85,
        (0.15, 0.77, 0.08),
        1.9,
        (0.2, 0.5),
        False,
        ("Still thinking?", "Back in stock", "Your size is waiting"),
    ),
    _CampaignTemplate(
        "display-awareness",
        "display",
        "gdn",
        "display",
        "https://news.example.net/sports",
        "/collections/new",
        0.12,
        90.0,
        -0.75,
        0.10,
        (0.52, 0.40, 0.08),
        0.8,
        (0.4, 0.7),
        True,
        ("Banner spring", "Banner trail", "Banner video"),
    ),
    _CampaignTemplate(
        "email-newsletter",
        "email",
        "newsletter",
        "email",
        None,
        "/offers/weekly",
        0.12,
        12.0,
        0.35,
        0.90,
        (0.48, 0.44, 0.08),
        2.0,
        (0.3, 0.6),
        False,
        ("Weekly deals", "Members only", "New arrivals"),
    ),
    _CampaignTemplate(
        "affiliate-partners",
        "affiliate",
        "awin",
        "affiliate",
        "https://deals.example.org/running",
        "/offers/partner",
        0.10,
        55.0,
        0.10,
        0.25,
        (0.45, 0.47, 0.08),
        1.3,
        (0.1, 0.35),
        True,
        ("Partner voucher", "Cashback", "Comparison pick"),
    ),
)

EMAIL_SEND_WEEKDAYS = (1, 4)  # day index modulo 7 on which newsletters go out


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _spend_plan(rng: np.random.Generator, template: _CampaignTemplate, base: float, days: int) -> FloatArray:
    """Daily spend: weekly levels that drift (AR(1) in log space), some dark weeks, daily noise."""
    weeks = days // 7 + 1
    level = np.empty(weeks)
    level[0] = rng.normal(0.0, 0.2)
    for week in range(1, weeks):
        level[week] = 0.5 * level[week - 1] + rng.normal(0.0, 0.4)
    level = np.clip(level, -1.2, 1.0)
    dark = (rng.random(weeks) < 0.15) if template.flights else np.zeros(weeks, dtype=bool)
    dark[0] = False
    day_index = np.arange(days)
    spend = base * np.exp(level[day_index // 7]) * rng.lognormal(0.0, 0.08, days)
    spend[dark[day_index // 7]] = 0.0
    if template.channel == "email":  # sends twice a week; carry-over spreads the visits
        on_send_day = np.isin(day_index % 7, EMAIL_SEND_WEEKDAYS)
        spend = np.where(on_send_day, spend * 7 / len(EMAIL_SEND_WEEKDAYS), 0.0)
    return np.asarray(np.round(spend, 2), dtype=np.float64)


def _creatives(rng: np.random.Generator, template: _CampaignTemplate) -> tuple[Creative, ...]:
    """Three creatives whose best one differs between desktop and mobile (tablet: any)."""
    n = len(template.headlines)
    best_desktop = int(rng.integers(n))
    best_mobile = int((best_desktop + rng.integers(1, n)) % n)
    best_tablet = int(rng.integers(n))
    effects = rng.uniform(-0.35, 0.05, size=(n, len(DEVICE_CLASSES)))
    for column, best in enumerate((best_desktop, best_mobile, best_tablet)):
        others = np.delete(effects[:, column], best)
        effects[best, column] = others.max() + rng.uniform(0.4, 0.6)
    weights = rng.dirichlet(np.full(n, 6.0))
    suffix = template.name
    return tuple(
        Creative(
            id=f"cr-{suffix}-{chr(ord('a') + i)}",
            headline=template.headlines[i],
            weight=round(float(weights[i]), 4),
            effects=tuple(round(float(e), 4) for e in effects[i]),
        )
        for i in range(n)
    )


def _campaign(
    rng: np.random.Generator, template: _CampaignTemplate, days: int, visitors_per_day: int, target_sessions: float
) -> Campaign:
    """One campaign whose response curve yields ``target_sessions`` per day on average."""
    scale = max(visitors_per_day, 50) / 1000  # tiny worlds still spend whole euros
    base = round(template.base_spend * scale * float(rng.lognormal(0.0, 0.2)), 2)
    spend = _spend_plan(rng, template, base, days)
    decay = round(float(rng.uniform(*template.decay)), 4)
    steady = base / (1.0 - decay)
    shape = round(float(rng.uniform(0.7, 1.5)), 4)
    half = round(steady / float(rng.uniform(1.0, 2.0)), 4)
    curve = ResponseCurve(decay, half, shape, 1.0, round(steady, 4))
    mean_hill = float(np.mean(curve.expected_sessions(spend)))
    max_sessions = round(target_sessions / mean_hill, 4) if mean_hill > 0 else 0.0
    mix = np.asarray(template.device_mix)
    return Campaign(
        id=f"cmp-{template.name}",
        channel=template.channel,
        utm_source=template.utm_source,
        utm_medium=template.utm_medium,
        utm_campaign=template.name.replace("-", "_"),
        referrer=template.referrer,
        landing_path=template.landing_path,
        creatives=_creatives(rng, template),
        base_daily_spend=base,
        daily_spend=tuple(float(s) for s in spend),
        response=ResponseCurve(decay, half, shape, max_sessions, round(steady, 4)),
        conversion_effect=round(template.conversion_effect + float(rng.normal(0.0, 0.08)), 4),
        return_rate=template.return_rate,
        device_mix=tuple(float(x) for x in mix / mix.sum()),
        engagement=template.engagement,
    )


def _organic(rng: np.random.Generator, total: float) -> tuple[OrganicSource, ...]:
    shares = rng.dirichlet(np.array([40.0, 15.0, 38.0, 7.0]))
    products = tuple(p for p in CONTENT_PAGES if p.startswith(("/products/", "/category/", "/blog/")))
    specs: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], float, float, tuple[float, ...], float], ...] = (
        ("direct", "direct", (), ("/", "/", "/", "/offers/weekly", "/cart"), 0.25, 0.55, (0.48, 0.44, 0.08), 1.6),
        ("referral", "referral", REFERRAL_SITES, products, -0.15, 0.20, (0.50, 0.42, 0.08), 1.2),
        ("organic-google", "organic_search", (GOOGLE,), ("/", *products), 0.05, 0.30, (0.38, 0.54, 0.08), 1.4),
        ("organic-bing", "organic_search", (BING,), ("/", *products), 0.10, 0.30, (0.65, 0.28, 0.07), 1.4),
    )
    return tuple(
        OrganicSource(
            id=name,
            channel=channel,
            referrers=referrers,
            landing_paths=landings,
            daily_sessions=round(total * float(share), 4),
            conversion_effect=effect,
            return_rate=returning,
            device_mix=mix,
            engagement=engagement,
        )
        for (name, channel, referrers, landings, effect, returning, mix, engagement), share in zip(
            specs, shares, strict=True
        )
    )


def build_world(seed: int, days: int, visitors_per_day: int, start: date | None = None) -> World:
    """A seeded world of ``days`` days with about ``visitors_per_day`` sessions per day.

    ``start`` defaults to ``days`` days before today (UTC), so the simulated period ends yesterday; the
    parameters depend only on the seed, ``days`` and ``visitors_per_day``, never on the start date.
    """
    if days < 1 or days > MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}, got {days}")
    if visitors_per_day < 1 or visitors_per_day > MAX_VISITORS_PER_DAY:
        raise InvalidInput(f"visitors per day must be between 1 and {MAX_VISITORS_PER_DAY}, got {visitors_per_day}")
    if seed < 0:
        raise InvalidInput(f"seed must be a non-negative integer, got {seed}")
    if start is None:
        start = datetime.now(UTC).date() - timedelta(days=days)
    rng = _rng(seed, WORLD_STREAM)
    organic_share = float(rng.uniform(0.30, 0.40))
    paid_total = visitors_per_day * (1.0 - organic_share)
    shares = np.array([t.share for t in _CAMPAIGNS]) * rng.lognormal(0.0, 0.15, len(_CAMPAIGNS))
    shares /= shares.sum()
    campaigns = tuple(
        _campaign(rng, t, days, visitors_per_day, paid_total * float(s))
        for t, s in zip(_CAMPAIGNS, shares, strict=True)
    )
    weekly = 1.0 + np.array([0.02, 0.0, -0.02, 0.01, -0.05, -0.12, 0.16]) + rng.normal(0.0, 0.02, 7)
    weekly = weekly / np.resize(weekly, days).mean()
    organic = _organic(rng, visitors_per_day * organic_share)
    rates = Rates(consent=0.45, email=0.12, member=0.10, optout=0.03, gpc=0.05, dnt=0.12, bot=0.02, click=0.22)
    behaviour = Behaviour(
        base_log_odds=round(-4.0 + float(rng.normal(0.0, 0.1)), 4),
        per_log_pageview=0.55,
        returning=0.45,
        click=0.35,
        evening=0.15,
        goal_mix=(0.6, 0.15, 0.25),
        order_value_median=68.0,
        order_value_sigma=0.55,
        returning_engagement=0.6,
        mean_gap_s=75.0,
        max_gap_s=600.0,
        max_pageviews=15,
    )
    return World(
        seed=seed,
        days=days,
        visitors_per_day=visitors_per_day,
        start=start,
        campaigns=campaigns,
        organic=organic,
        rates=rates,
        behaviour=behaviour,
        weekly_pattern=tuple(round(float(w), 4) for w in weekly),
    )
