"""The audience dimensions of sessions: their columns, names in words, and whether an ad platform can act on them.

:func:`audience_frame` derives one text column per dimension from session records (missing as ``(unknown)``):

=================  ======================  ==========  ====================================================
column             name in words           targetable  how a marketer acts on it
=================  ======================  ==========  ====================================================
``device_class``   device type             yes         device bid adjustments
``os_family``      operating system        yes         operating system targeting
``browser_family`` browser                 yes         browser targeting
``region``         location                yes         location targeting (the pixel records a time zone)
``day_of_week``    day of week             yes         the ad schedule (client's time zone)
``hour_of_day``    hour of day             yes         the ad schedule (client's time zone)
``channel``        channel                 yes         budget between paid channels
``visitor_type``   new or returning        no          insight only
=================  ======================  ==========  ====================================================

A segment is targetable when every dimension of it is and none of its values is one a campaign cannot select:
``(unknown)``, a ``bot`` device, or a channel no bid reaches (``direct``, ``referral``, ``email``: traffic
whose source is not a bought placement). ``region`` holds what was recorded: the pixel sends the browser's
IANA time zone (``Europe/Berlin``), shown as "time zone: Berlin (Europe)", never as a region; an ISO 3166-2
code (``DE-BE``, from an import) is shown as "region: DE-BE".

Bids are about paid traffic: :func:`paid_sessions` marks sessions of paid campaigns — a ``utm_medium`` of paid
media (``PAID_MEDIUMS``: cpc, ppc, display, cpm, paid_social, …) or a ``campaign_id`` (an xmo campaign link)
that is not e-mail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.channels import DISPLAY_MEDIUMS, PAID_SEARCH_MEDIUMS, classify_channel

UNKNOWN = "(unknown)"
SEPARATOR = " × "
PAID_MEDIUMS = frozenset(
    {*PAID_SEARCH_MEDIUMS, *DISPLAY_MEDIUMS, "paid", "paid-social", "paid_social", "paidsocial", "paid-media", "cpv"}
)
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NOT_TARGETABLE_VALUES: dict[str, frozenset[str]] = {
    "device_class": frozenset({"bot", "unknown"}),
    "channel": frozenset({"direct", "referral", "email"}),
}
_TIME_ZONE = re.compile(r"(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[\w+\-/]+")
_SUBDIVISION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class Dimension:
    """One audience dimension: its column, its name in words, and how (if at all) a campaign acts on it."""

    column: str
    label: str
    lever: str | None  # None: no ad platform can target or exclude it

    @property
    def targetable(self) -> bool:
        return self.lever is not None


DIMENSIONS: dict[str, Dimension] = {
    d.column: d
    for d in (
        Dimension("device_class", "device type", "device bid adjustments"),
        Dimension("os_family", "operating system", "operating system targeting"),
        Dimension("browser_family", "browser", "browser targeting"),
        Dimension("region", "location", "location targeting"),
        Dimension("day_of_week", "day of week", "the ad schedule"),
        Dimension("hour_of_day", "hour of day", "the ad schedule"),
        Dimension("channel", "channel", "the budget between paid channels"),
        Dimension("visitor_type", "new or returning visitor", None),
    )
}
AUDIENCE_COLUMNS: tuple[str, ...] = tuple(DIMENSIONS)


def _text(values: pd.Series) -> pd.Series:
    text = values.astype(object).where(values.notna(), None)
    return text.map(lambda v: UNKNOWN if v is None or str(v).strip() == "" else str(v)).astype(object)


def _column(sessions: pd.DataFrame, name: str) -> pd.Series:
    return sessions[name] if name in sessions else pd.Series(None, index=sessions.index, dtype=object)


def paid_sessions(sessions: pd.DataFrame) -> np.ndarray:
    """Whether each session came from a paid campaign: a paid-media ``utm_medium``, or a ``campaign_id`` that is
    not an e-mail's."""
    medium = _column(sessions, "utm_medium").astype("str").str.strip().str.lower()
    paid_medium = medium.isin(PAID_MEDIUMS).to_numpy(dtype=bool) & _column(sessions, "utm_medium").notna().to_numpy()
    campaign = _text(_column(sessions, "campaign_id")).to_numpy(dtype=object) != UNKNOWN
    channels = _channels(sessions)
    return np.asarray(paid_medium | (campaign & (channels != "email")), dtype=bool)


def _channels(sessions: pd.DataFrame) -> np.ndarray:
    sources = [sessions.get(c) for c in ("utm_source", "utm_medium", "referrer_host")]
    if all(s is None for s in sources):
        return np.full(len(sessions), UNKNOWN, dtype=object)
    return classify_channel(*sources).to_numpy(dtype=object)


def audience_frame(sessions: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """The audience columns of session records (``AUDIENCE_COLUMNS``; missing values as ``(unknown)``), index kept.

    ``day_of_week`` (``mon`` … ``sun``) and ``hour_of_day`` (``00`` … ``23``) are read from ``started_at`` in
    ``timezone`` (ad schedules run in the account's time zone); ``visitor_type`` is ``new`` (``prev_sessions``
    0) or ``returning``; ``channel`` is ``features.channels.classify_channel`` of the first hit.
    """
    index = sessions.index
    out = pd.DataFrame(index=index)
    for column in ("device_class", "os_family", "browser_family", "region"):
        out[column] = _text(_column(sessions, column))
    starts = pd.to_datetime(_column(sessions, "started_at"), utc=True, errors="coerce").dt.tz_convert(timezone)
    known = starts.notna().to_numpy()
    weekday = starts.dt.day_of_week.fillna(0).to_numpy(dtype=np.int64)
    hour = starts.dt.hour.fillna(0).to_numpy(dtype=np.int64)
    out["day_of_week"] = np.where(known, np.asarray(DAYS, dtype=object)[weekday], UNKNOWN)
    out["hour_of_day"] = np.where(known, np.char.zfill(hour.astype(str), 2).astype(object), UNKNOWN)
    out["channel"] = _channels(sessions)
    previous = pd.to_numeric(_column(sessions, "prev_sessions"), errors="coerce")
    kinds = np.where(previous.isna(), UNKNOWN, np.where(previous > 0, "returning", "new"))
    out["visitor_type"] = pd.Series(kinds, index=index, dtype=object)
    return out


def dimension_of(column: str) -> Dimension:
    """The dimension of ``column`` (a column this module does not know is named as is, and not targetable)."""
    return DIMENSIONS.get(column) or Dimension(column, column.replace("_", " "), None)


def dimension_label(columns: Sequence[str]) -> str:
    """The dimension in words, e.g. "device type × channel"."""
    return SEPARATOR.join(dimension_of(c).label for c in columns)


def _location_label(value: str) -> str:
    if _TIME_ZONE.fullmatch(value):
        area, _, place = value.rpartition("/")
        return f"time zone: {place.replace('_', ' ')} ({area.replace('/', ', ').replace('_', ' ')})"
    if value in ("UTC", "Etc/UTC") or value.startswith("Etc/"):
        return f"time zone: {value.removeprefix('Etc/')}"
    if _SUBDIVISION.fullmatch(value):
        return f"region: {value}"
    if _COUNTRY.fullmatch(value):
        return f"country: {value}"
    return value


def value_label(column: str, value: str) -> str:
    """One segment value in words: "Mobile", "Mon", "18:00–19:00", "time zone: Berlin (Europe)", "new visitors"."""
    if value == UNKNOWN:
        return "unknown"
    if column == "region":
        return _location_label(value)
    if column == "day_of_week" and value in DAYS:
        return value.capitalize()
    if column == "hour_of_day" and value.isdigit():
        hour = int(value)
        return f"{hour:02d}:00–{(hour + 1) % 24:02d}:00"
    if column == "visitor_type" and value in ("new", "returning"):
        return f"{value} visitors"
    if column in ("device_class", "channel"):
        return value.capitalize()
    return value


def segment_label(columns: Sequence[str], values: Sequence[str]) -> str:
    """A segment in words, e.g. "Mobile × Social"."""
    return SEPARATOR.join(value_label(c, v) for c, v in zip(columns, values, strict=True))


def targetable(columns: Sequence[str], values: Sequence[str]) -> bool:
    """Whether a campaign can bid on (or exclude) the segment: every dimension targetable, no value it cannot
    select."""
    return all(
        dimension_of(c).targetable and v != UNKNOWN and v not in _NOT_TARGETABLE_VALUES.get(c, frozenset())
        for c, v in zip(columns, values, strict=True)
    )


def lever(columns: Sequence[str]) -> str:
    """How a marketer acts on a targetable segment, e.g. "device bid adjustments and location targeting"."""
    levers = list(dict.fromkeys(dimension_of(c).lever or "" for c in columns))
    return " and ".join(lever for lever in levers if lever)
