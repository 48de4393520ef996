"""Fixed reference data of the simulated world: user agents, regions, pages, referrers, hours of the day.

Everything here is plain constants; the seeded choices among them happen in ``world`` and ``traffic``.
"""

from __future__ import annotations

from dataclasses import dataclass

DEVICE_CLASSES: tuple[str, ...] = ("desktop", "mobile", "tablet")
BOT_DEVICE = "bot"
GOALS: tuple[str, ...] = ("purchase", "enquiry", "registration")
CURRENCY = "EUR"


@dataclass(frozen=True)
class UserAgent:
    """A real user-agent string and what the edge should read from it."""

    device_class: str  # one of DEVICE_CLASSES, or "bot"
    weight: float  # share among user agents of the same device class
    text: str


USER_AGENTS: tuple[UserAgent, ...] = (
    # desktop
    UserAgent(
        "desktop",
        0.32,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
    ),
    UserAgent(
        "desktop",
        0.12,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    ),
    UserAgent("desktop", 0.10, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"),
    UserAgent(
        "desktop",
        0.16,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    ),
    UserAgent(
        "desktop",
        0.14,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ),
    UserAgent("desktop", 0.06, "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0"),
    UserAgent("desktop", 0.05, "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"),
    UserAgent(
        "desktop",
        0.05,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ),
    # mobile
    UserAgent(
        "mobile",
        0.38,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
    UserAgent(
        "mobile",
        0.08,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
    ),
    UserAgent(
        "mobile",
        0.16,
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.71 Mobile Safari/537.36",
    ),
    UserAgent(
        "mobile",
        0.16,
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
    ),
    UserAgent(
        "mobile",
        0.16,
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    ),
    UserAgent("mobile", 0.06, "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0"),
    # tablet
    UserAgent(
        "tablet",
        0.62,
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
    UserAgent(
        "tablet",
        0.28,
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
    ),
    UserAgent(
        "tablet",
        0.10,
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Silk/126.3.1 like Chrome/126.0.6478.71 Safari/537.36",
    ),
    # bots
    UserAgent("bot", 0.35, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    UserAgent("bot", 0.15, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
    UserAgent("bot", 0.15, "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
    UserAgent(
        "bot",
        0.20,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
    ),
    UserAgent("bot", 0.10, "python-requests/2.32.3"),
    UserAgent("bot", 0.05, "curl/8.5.0"),
)

# IANA time zones of visitors (the pixel's ``tz``), with their shares.
REGIONS: tuple[tuple[str, float], ...] = (
    ("Europe/Berlin", 0.30),
    ("Europe/Vienna", 0.08),
    ("Europe/Zurich", 0.07),
    ("Europe/London", 0.12),
    ("Europe/Paris", 0.09),
    ("Europe/Amsterdam", 0.06),
    ("Europe/Madrid", 0.05),
    ("Europe/Rome", 0.05),
    ("Europe/Warsaw", 0.04),
    ("America/New_York", 0.07),
    ("America/Los_Angeles", 0.03),
    ("Australia/Sydney", 0.02),
    ("Asia/Tokyo", 0.02),
)

# Reserved documentation ranges only (RFC 5737, RFC 3849): no real person's address is ever generated.
IPV4_NETWORKS: tuple[str, ...] = ("192.0.2", "198.51.100", "203.0.113")
IPV6_PREFIX = "2001:db8"
EMAIL_DOMAIN = "example.com"

# Session starts: weight of each UTC hour from 05:00 to 22:00 (the last slot only runs to 22:30).
FIRST_HOUR = 5
LAST_SLOT_MINUTES = 30
HOUR_WEIGHTS: tuple[float, ...] = (
    0.5,
    1.0,
    2.0,
    3.0,
    4.0,
    4.5,
    5.0,
    5.5,
    5.0,
    4.5,
    4.5,
    5.0,
    5.5,
    6.0,
    6.5,
    6.5,
    5.0,
    1.5,
)
EVENING_FROM_HOUR = 17

# Pages of the simulated shop (paths on the client's domain).
CONTENT_PAGES: tuple[str, ...] = (
    "/",
    "/category/running-shoes",
    "/category/trail",
    "/category/apparel",
    "/category/accessories",
    "/products/trail-runner-2",
    "/products/road-racer",
    "/products/cloud-walker",
    "/products/summit-gtx",
    "/products/tempo-socks",
    "/products/windbreaker",
    "/products/hydration-vest",
    "/products/race-belt",
    "/collections/new",
    "/offers/weekly",
    "/offers/partner",
    "/blog/how-to-choose-trail-shoes",
    "/blog/marathon-training-plan",
    "/blog/care-guide",
    "/about",
    "/stores",
    "/faq",
    "/shipping",
    "/size-guide",
    "/cart",
    "/checkout",
)
GOAL_PAGES: dict[str, str] = {
    "purchase": "/checkout/thank-you",
    "enquiry": "/contact/thank-you",
    "registration": "/account/welcome",
}
CLICK_TARGETS: tuple[str, ...] = (
    "/offers/weekly?promo=banner",
    "/products/trail-runner-2?from=teaser",
    "/size-guide",
    "/stores",
    "/newsletter/subscribe",
)

# Referrers of organic traffic from other sites (reserved example domains apart from the search engines).
REFERRAL_SITES: tuple[str, ...] = (
    "https://blog.example.org/best-running-shoes-2024",
    "https://forum.example.net/t/trail-shoes/4711",
    "https://www.example.com/reviews/running",
    "https://news.example.org/sports/gear",
    "https://runners.example.net/club/links",
)
GOOGLE = "https://www.google.com/"
BING = "https://www.bing.com/"


def user_agents_of(device_class: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Indices into ``USER_AGENTS`` of one device class, and their normalized weights."""
    indices = tuple(i for i, agent in enumerate(USER_AGENTS) if agent.device_class == device_class)
    total = sum(USER_AGENTS[i].weight for i in indices)
    return indices, tuple(USER_AGENTS[i].weight / total for i in indices)
