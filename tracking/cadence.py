"""The grain of an imported spend or KPI file: daily rows, or weekly rows on one fixed weekday.

A file's grain is read from its dates (all series together): dates that mostly follow each other day by day are
**daily**; dates that all fall on one weekday, at least 7 days apart, are **weekly** (one row per series per
week, labelled by the week's first day: ISO weeks start on Monday, US exports on Sunday; a week labelled by its
last day is read as the week starting on that weekday). Anything else (months, every third day, weekly rows on
two weekdays) is refused with a few of the dates that break the pattern. ``--cadence day|week`` (or the
``cadence`` field of the upload routes) sets the grain instead; dates that contradict a given weekly cadence
are an error that names them. Fewer than four dates not on one weekday (and a single date) read as daily
unless the cadence is given.

Stored rows carry the grain as a period length in days (:data:`PERIOD_DAYS`): 1 for a day, 7 for a week
starting on the row's date, so a weekly total is never mistaken for one day's amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any

import pandas as pd

from core.errors import InvalidInput
from tracking.table_files import parse_dates

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SHOWN_DATES = 5  # dates named in one message
MIN_DATES_TO_JUDGE = 4  # fewer dates not on one weekday read as daily: too few to call them irregular


class Cadence(StrEnum):
    """The grain of a table's rows."""

    DAY = "day"
    WEEK = "week"

    @property
    def days(self) -> int:
        """The length of one period in days."""
        return PERIOD_DAYS[self]

    @property
    def unit(self) -> str:
        """``day`` or ``week``, for counts in messages."""
        return self.value


PERIOD_DAYS: dict[Cadence, int] = {Cadence.DAY: 1, Cadence.WEEK: 7}
REPORT_SPANS: dict[int, Cadence] = {1: Cadence.DAY, 7: Cadence.WEEK}  # days a report row covers → its cadence


def parse_cadence(value: str | None) -> Cadence | None:
    """``day``/``week`` (also ``daily``/``weekly``, any case) as a :class:`Cadence`; None when not given."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    aliases = {"daily": "day", "weekly": "week"}
    try:
        return Cadence(aliases.get(text, text))
    except ValueError:
        raise InvalidInput(f"unknown cadence {value!r}: use day or week") from None


def cadence_of_days(period_days: int) -> Cadence:
    """The cadence of a stored period length (1 or 7); ``InvalidInput`` for any other."""
    for cadence, days in PERIOD_DAYS.items():
        if days == period_days:
            return cadence
    raise InvalidInput(f"a stored period of {period_days} days is neither a day nor a week")


def listed(days: Sequence[date], limit: int = SHOWN_DATES) -> str:
    """``2024-02-05, 2024-02-12 and 3 more`` (the first ``limit`` dates, ISO)."""
    shown = ", ".join(d.isoformat() for d in days[:limit])
    return shown + (f" and {len(days) - limit} more" if len(days) > limit else "")


@dataclass(frozen=True)
class Grain:
    """What a file's dates say: the cadence, the weekday weeks start on, the range and the missing periods."""

    cadence: Cadence
    first: date
    last: date
    periods: int  # distinct dates of the file
    gaps: tuple[date, ...] = ()  # periods inside first..last with no row
    detected: bool = True  # False when the cadence was given

    @property
    def week_start(self) -> str | None:
        """The weekday weekly rows start on (``Monday``); None for daily rows."""
        return WEEKDAYS[self.first.weekday()] if self.cadence is Cadence.WEEK else None

    @property
    def period_days(self) -> int:
        """1 or 7."""
        return self.cadence.days

    def describe(self) -> str:
        """``weekly rows (weeks starting Monday), 2022-01-03 to 2025-12-29, 209 weeks``."""
        kind = f"weekly rows (weeks starting {self.week_start})" if self.cadence is Cadence.WEEK else "daily rows"
        how = "" if self.detected else " (cadence given)"
        return f"{kind}{how}, {self.first} to {self.last}, {self.periods:,} {self.cadence.unit}s"

    def gap_warning(self, what: str) -> str | None:
        """One line naming the missing periods (None when there are none)."""
        if not self.gaps:
            return None
        return (
            f"{len(self.gaps)} {self.cadence.unit}(s) between {self.first} and {self.last} have no {what} row: "
            f"{listed(self.gaps)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "cadence": self.cadence.value,
            "week_start": self.week_start,
            "detected": self.detected,
            "first_date": self.first.isoformat(),
            "last_date": self.last.isoformat(),
            "periods": self.periods,
            "missing_periods": [d.isoformat() for d in self.gaps],
            "text": self.describe(),
        }


def _gaps(days: Sequence[date], step: int) -> tuple[date, ...]:
    present = set(days)
    first, last = days[0], days[-1]
    count = (last - first).days // step + 1
    return tuple(d for d in (first + timedelta(days=step * i) for i in range(count)) if d not in present)


def _off_weekday(days: Sequence[date]) -> tuple[int, list[date]]:
    """The most common weekday of ``days`` and the dates on another weekday."""
    counts = [0] * 7
    for day in days:
        counts[day.weekday()] += 1
    usual = max(range(7), key=lambda w: counts[w])
    return usual, [d for d in days if d.weekday() != usual]


def _weekdays_text(days: Sequence[date], usual: int, off: Sequence[date]) -> str:
    """``most are Mondays, not 2024-01-17`` or, without a clear majority, the dates of each weekday."""
    if 2 * len(off) < len(days):
        return f"most are {WEEKDAYS[usual]}s, not {listed(off)}"
    groups = {w: [d for d in days if d.weekday() == w] for w in sorted({d.weekday() for d in days})}
    return ", ".join(f"{WEEKDAYS[w]} {listed(ds, 2)}" for w, ds in groups.items())


def detect_grain(dates: Sequence[date], given: Cadence | None = None) -> Grain:
    """The grain of a file's dates (repeats allowed: one row per series), or ``InvalidInput`` naming bad dates.

    ``given``: the cadence the user set; weekly dates must then all fall on one weekday.
    """
    days = sorted(set(dates))
    if not days:
        raise InvalidInput("no dates to read a cadence from")
    usual, off = _off_weekday(days)
    if given is Cadence.WEEK:
        if off:
            raise InvalidInput(
                "the cadence is week, but the dates fall on more than one weekday: "
                f"{_weekdays_text(days, usual, off)}; weekly rows need one date per week, on the same weekday"
            )
        return Grain(Cadence.WEEK, days[0], days[-1], len(days), _gaps(days, 7), detected=False)
    if given is Cadence.DAY:
        return Grain(Cadence.DAY, days[0], days[-1], len(days), _gaps(days, 1), detected=False)
    if len(days) == 1:
        return Grain(Cadence.DAY, days[0], days[0], 1)
    steps = [(b - a).days for a, b in pairwise(days)]
    if not off:  # one weekday: consecutive dates are 7, 14, … days apart
        return Grain(Cadence.WEEK, days[0], days[-1], len(days), _gaps(days, 7))
    if len(days) < MIN_DATES_TO_JUDGE or 2 * sum(1 for s in steps if s == 1) >= len(steps):
        return Grain(Cadence.DAY, days[0], days[-1], len(days), _gaps(days, 1))
    if 2 * len(off) < len(days):
        which = f"most fall on a {WEEKDAYS[usual]}, but not {listed(off)}"
    else:
        which = f"e.g. {listed(days)}"
    raise InvalidInput(
        f"the dates are neither daily nor weekly ({len(days):,} dates, {min(steps)} to {max(steps)} days apart; "
        f"{which}): import daily or weekly rows, or set the cadence (day)"
    )


def span_cadence(frame: pd.DataFrame, span: tuple[str, str] | None, what: str) -> Cadence | None:
    """The cadence of a report with start and end dates per row (Meta's ``Reporting starts``/``ends``): every row
    one day, or every row one week (7 days); ``InvalidInput`` naming the first row that covers another span."""
    if span is None:
        return None
    start, end = span
    firsts = parse_dates(frame[start], start)
    lasts = parse_dates(frame[end], end)
    seen: Cadence | None = None
    for row, (first, last) in enumerate(zip(firsts, lasts, strict=True)):
        if first is None or last is None:
            continue
        length = (last - first).days + 1
        cadence = REPORT_SPANS.get(length)
        if cadence is None or (seen is not None and cadence is not seen):
            wanted = "days or whole weeks" if seen is None else f"one {seen.value} per row like the rows above"
            raise InvalidInput(
                f"row {row + 1}: {start} {first} and {end} {last} differ: the row covers {length} day(s), but "
                f"{what} rows cover {wanted}: export the report with a breakdown by day or by week"
            )
        seen = cadence
    return seen
