"""Column names of other trackers and ad-platform exports, mapped to xmo's (built-in aliases, and ``--map``).

A file column is matched to an xmo column in this order:

1. ``--map OLD=NEW`` (``overrides``): ``OLD`` is a column of the file (any case), ``NEW`` an xmo column.
2. The xmo name itself, compared as a *key*: lower case, every run of other characters than letters and digits
   as one ``_`` (``Campaign ID`` → ``campaign_id``, ``Event Type`` → ``event_type``).
3. An alias of the table (``Day`` → ``date``, ``Amount spent (EUR)`` → ``spend``), only where the file has no
   column of that xmo name; two aliases of one xmo column in one file are an error naming both (choose with
   ``--map``). A money alias may end in a currency code (``cost_usd``, ``Amount spent (EUR)``).

The tables of aliases are documented in docs/events-and-import.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pycountry

from core.errors import InvalidInput

# Dates of daily reports: Google Ads ("Day", GAQL segments.date), Meta Ads Manager ("Day", "Reporting starts";
# the API's date_start), Microsoft Advertising ("Gregorian date", "Time period"), GA4 ("Date"); of weekly ones:
# Google Ads ("Week", GAQL segments.week: the Monday), PyMC-Marketing's examples ("date_week").
DATE_ALIASES = (
    "day",
    "reporting_starts",
    "date_start",
    "segments_date",
    "gregorian_date",
    "time_period",
    "week",
    "segments_week",
    "date_week",
)

EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "event_type": ("event", "type", "hit_type"),
    "timestamp": ("time", "event_time", "datetime", "date_time", "event_timestamp"),
    "visitor_id": ("visitor", "user_pseudo_id", "anonymous_id", "distinct_id", "cookie_id"),
    "session_id": ("session", "ga_session_id"),
    "campaign_id": ("campaign", "campaign_name"),
    "creative_id": ("creative", "creative_name", "ad_id", "ad_name", "ad"),
    "url": ("page_url", "page_location", "page"),
    "referrer": ("referer", "page_referrer"),
}
SPEND_ALIASES: dict[str, tuple[str, ...]] = {
    "date": DATE_ALIASES,
    "campaign_id": ("campaign", "campaign_name", "utm_campaign"),
    "spend": ("cost", "amount_spent", "spent", "amount"),
    "impressions": ("impr", "impression", "metrics_impressions"),
    "clicks": ("link_clicks", "clicks_all", "metrics_clicks"),
}
KPI_ALIASES: dict[str, tuple[str, ...]] = {"date": DATE_ALIASES}
MONEY_COLUMNS = frozenset({"spend"})  # their aliases may end in a currency code: cost_usd, amount_spent_eur
# A report row covers one day only where these two agree (Meta: "Reporting starts"/"Reporting ends").
DAY_SPANS: dict[str, str] = {"reporting_starts": "reporting_ends", "date_start": "date_stop"}
_CURRENCY_SUFFIX = re.compile(r"(.+)_([a-z]{3})")


def column_key(name: object) -> str:
    """A column name for comparison: ``" Amount spent (EUR) "`` → ``amount_spent_eur``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lstrip("\ufeff").lower()).strip("_")


def _without_currency(key: str) -> str | None:
    """``amount_spent`` for ``amount_spent_eur`` (an ISO 4217 code at the end), else None."""
    match = _CURRENCY_SUFFIX.fullmatch(key)
    if match and pycountry.currencies.get(alpha_3=match.group(2).upper()) is not None:
        return match.group(1)
    return None


def parse_map_options(values: Iterable[str] | None) -> dict[str, str]:
    """``["Day=date", "Cost=spend"]`` → ``{"Day": "date", "Cost": "spend"}``; ``InvalidInput`` for a bad one."""
    overrides: dict[str, str] = {}
    for value in values or ():
        source, equals, target = value.rpartition("=")
        if not equals or not source.strip() or not target.strip():
            raise InvalidInput(f"--map {value!r}: give FILE_COLUMN=COLUMN, e.g. --map 'Amount spent (EUR)=spend'")
        overrides[source.strip()] = target.strip()
    return overrides


@dataclass(frozen=True)
class ColumnMap:
    """How a file's columns become xmo's: ``renames`` maps a column as written to its xmo name."""

    renames: dict[str, str] = field(default_factory=dict)

    def target(self, column: str) -> str:
        """The xmo name of ``column`` (itself when it is not renamed)."""
        return self.renames.get(column, column)

    def describe(self) -> str:
        """``Day → date, Amount spent (EUR) → spend`` (empty when nothing was renamed)."""
        return ", ".join(f"{source} → {target}" for source, target in self.renames.items())

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready view: file column → xmo column."""
        return dict(self.renames)


def _alias_target(key: str, by_alias: Mapping[str, str]) -> str | None:
    """The xmo column an alias key stands for (a money alias also with a currency code at its end)."""
    if key in by_alias:
        return by_alias[key]
    base = _without_currency(key)
    target = by_alias.get(base) if base is not None else None
    return target if target in MONEY_COLUMNS else None


def _source_of(requested: str, columns: Sequence[str]) -> str:
    """The file column a ``--map`` source names: as written, else the one with the same key."""
    if requested in columns:
        return requested
    matches = [c for c in columns if column_key(c) == column_key(requested)]
    if len(matches) != 1:
        raise InvalidInput(f"--map {requested!r}: the file has no such column (it has: {', '.join(columns)})")
    return matches[0]


def map_columns(
    columns: Sequence[str],
    aliases: Mapping[str, Sequence[str]],
    *,
    known: Collection[str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> ColumnMap:
    """The renames that give the file's ``columns`` xmo's names (see the module's docstring).

    ``known``: the xmo columns a ``--map`` target may name (None: any name, as for KPI columns).
    ``InvalidInput`` for an unknown ``--map`` column or target, or two columns that would both become one.
    """
    renames: dict[str, str] = {}
    for requested, target in (overrides or {}).items():
        if known is not None and target not in known:
            raise InvalidInput(f"--map {requested}={target}: {target!r} is not a column here (use: {', '.join(known)})")
        renames[_source_of(requested, columns)] = target
    taken = set(renames.values())
    rest = [c for c in columns if c not in renames]
    names = set(known or ()) | set(aliases)
    for column in rest:  # xmo's own names, in any spelling
        key = column_key(column)
        if key in names and key not in taken:
            if key != column:
                renames[column] = key
            taken.add(key)
    by_alias = {alias: target for target, list_ in aliases.items() for alias in list_}
    candidates: dict[str, list[str]] = {}
    for column in rest:
        if column in renames or column_key(column) in taken:
            continue
        alias_of = _alias_target(column_key(column), by_alias)
        if alias_of is not None and alias_of not in taken:
            candidates.setdefault(alias_of, []).append(column)
    for target, found in candidates.items():
        if len(found) > 1:
            raise InvalidInput(
                f"columns {' and '.join(repr(c) for c in found)} could both be {target}: choose one with "
                f"--map '{found[0]}={target}'"
            )
        renames[found[0]] = target
    mapped_onto = {target: source for source, target in renames.items() if overrides and target in overrides.values()}
    named: dict[str, str] = {}  # xmo column → the file column that becomes it
    for column in columns:
        if column not in renames and column_key(column) in mapped_onto and column != column_key(column):
            continue  # e.g. "Campaign ID" when --map chose "Campaign" as campaign_id: ignored
        final = renames.get(column) or (column_key(column) if column_key(column) in names else None)
        if final is not None and final in named:
            raise InvalidInput(
                f"columns {named[final]!r} and {column!r} both name {final}: keep one, or --map the other"
            )
        if final is not None:
            named[final] = column
    return ColumnMap({c: renames[c] for c in columns if c in renames})


def day_span_column(columns: Sequence[str], mapping: ColumnMap) -> tuple[str, str] | None:
    """The (start, end) columns when the date came from a report's start column and its end column is there too."""
    start = next((c for c in columns if mapping.target(c) == "date" and column_key(c) in DAY_SPANS), None)
    if start is None:
        return None
    end = next((c for c in columns if column_key(c) == DAY_SPANS[column_key(start)]), None)
    return (start, end) if end is not None else None
