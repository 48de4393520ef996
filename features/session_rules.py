"""The rules of sessionization, shared by both engines (DuckDB SQL and the pandas kernel Dask runs).

Per client and visitor, after dropping unusable events and deduplicating, hits ordered by ``(ts, event_id)``:

* **unusable events** are dropped and counted (:class:`InputQuality`): a missing ``event_id``, ``visitor_id``
  or ``ts``, an ``event_type`` that is not one of ``tracking.events.EventType``, or a timestamp more than
  ``max_future_skew`` after the moment xmo received the hit (a client clock running ahead);
* **duplicates** — the same ``event_id`` for the same visitor, e.g. a retried hit — count once: the copy
  received first wins;
* a hit **starts a new session** when it is the visitor's first, when at least ``timeout_minutes`` passed since
  the visitor's previous hit, when ``split_at_midnight`` is set and the hit falls on another calendar day in
  the client's time zone than the previous hit, or when it carries campaign fields (``utm_source``,
  ``utm_medium``, ``utm_campaign`` or ``campaign_id``) that differ from the current session's (a hit without
  campaign fields never splits a session);
* acquisition and technical fields are those of the session's first hit;
* engagement (``pageviews``, ``clicks``, ``duration_s``) counts only the hits before the session's first
  conversion: what a scoring caller can know before the visitor converts (counting the rest would teach the
  model that a hit after the landing page means a conversion). ``events`` and ``ended_at`` cover every hit;
* visitor history (``visitor_session_number``, ``prev_sessions``, ``prev_conversions``,
  ``days_since_last_session``) counts only the visitor's earlier sessions, which all ended before this one
  started: nothing from a later event can leak into it;
* **labels**: a hit is a conversion when it matches one of the client's goal definitions
  (``features.goal_matching``; with none defined, every ``goal`` event). ``conversions``,
  ``conversion_value`` and ``converted`` count the session's own conversions, ``goal`` names the first.
  ``window_conversions`` and ``window_conversion_value`` count the visitor's conversions from the session's
  first hit until ``attribution_window_days`` after its start (this session's and later ones'); without a
  window they equal the session's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from core.errors import InvalidInput
from features.goals import GoalDefinition
from tracking.events import EventType

SESSION_TIMEOUT_MINUTES = 30
MAX_ATTRIBUTION_WINDOW_DAYS = 90
# The campaign fields that open a new session when a hit carries values other than the session's.
SPLITTING_CAMPAIGN_FIELDS: tuple[str, ...] = ("utm_source", "utm_medium", "utm_campaign", "campaign_id")
EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
# The lake columns sessionization reads.
EVENT_COLUMNS_READ: tuple[str, ...] = (
    "event_id",
    "client_id",
    "ts",
    "received_at",
    "event_type",
    "visitor_id",
    "path",
    "referrer_host",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "campaign_id",
    "creative_id",
    "goal",
    "value",
    "browser_family",
    "browser_version",
    "os_family",
    "os_version",
    "device_class",
    "region",
)


@dataclass(frozen=True)
class SessionOptions:
    """How one client's events become sessions and labels (see the module docstring)."""

    timeout_minutes: int = SESSION_TIMEOUT_MINUTES
    timezone: str = "UTC"
    split_at_midnight: bool = False
    goals: tuple[GoalDefinition, ...] = ()
    attribution_window_days: int | None = None
    max_future_skew: timedelta = field(default=timedelta(days=1))

    def __post_init__(self) -> None:
        if not isinstance(self.timeout_minutes, int) or self.timeout_minutes < 1:
            raise InvalidInput(
                f"session timeout must be at least 1 minute (a whole number), not {self.timeout_minutes}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise InvalidInput(f"unknown time zone {self.timezone!r}: use an IANA name such as Europe/Berlin") from exc
        window = self.attribution_window_days
        if window is not None and not (isinstance(window, int) and 0 <= window <= MAX_ATTRIBUTION_WINDOW_DAYS):
            raise InvalidInput(f"attribution window must be 0-{MAX_ATTRIBUTION_WINDOW_DAYS} whole days, not {window}")
        if self.max_future_skew < timedelta(0):
            raise InvalidInput("max_future_skew must not be negative")

    @property
    def timeout_us(self) -> int:
        """The inactivity timeout in microseconds."""
        return self.timeout_minutes * 60 * 1_000_000

    @property
    def window_us(self) -> int | None:
        """The attribution window in microseconds (None: the session only)."""
        days = self.attribution_window_days
        return None if days is None else days * 86_400 * 1_000_000

    @property
    def skew_us(self) -> int:
        """The tolerated clock skew in microseconds."""
        return self.max_future_skew // timedelta(microseconds=1)


@dataclass(frozen=True)
class InputQuality:
    """What sessionization read and what it had to leave out, counted (never silently dropped)."""

    events_read: int = 0
    invalid_events: int = 0  # missing id / visitor / time, or an unknown event type
    future_events: int = 0  # time stamped more than max_future_skew after receipt
    duplicate_events: int = 0  # same visitor and event id as an event kept
    events_used: int = 0

    def __add__(self, other: InputQuality) -> InputQuality:
        return InputQuality(
            self.events_read + other.events_read,
            self.invalid_events + other.invalid_events,
            self.future_events + other.future_events,
            self.duplicate_events + other.duplicate_events,
            self.events_used + other.events_used,
        )

    def to_dict(self) -> dict[str, int]:
        """The counts as a JSON-ready dict."""
        return {
            "events_read": self.events_read,
            "invalid_events": self.invalid_events,
            "future_events": self.future_events,
            "duplicate_events": self.duplicate_events,
            "events_used": self.events_used,
        }
