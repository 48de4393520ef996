"""Spend per campaign: ``lake/spend/client_id=<id>/spend.parquet``, one row per (date, campaign_id).

**Cadence.** Rows are daily or weekly (:mod:`tracking.cadence`): the grain is detected from a file's dates or
given (``--cadence day|week``), and each row stores its period length in ``period_days`` (1, or 7 for the week
starting on ``date``), so a weekly total is never read as one day's spend. Tables written before the column
existed read as daily. One file has one grain; a series may change grain between files only where the periods do
not overlap (a weekly row over stored daily rows of the same campaign is refused, naming the dates).

Rows come from ``xmo spend import`` (CSV or Parquet), ``POST /v1/spend`` or the simulator. A row names a
``campaign_id``, a ``channel``, or both. Column names of ad-platform exports (``Day``, ``Campaign name``,
``Amount spent (EUR)``, ``Cost``, ``Impr.``) are mapped by :mod:`tracking.columns` (or ``--map OLD=NEW``).

**Channel-level spend.** Channels that pixels cannot see (TV, print, out-of-home, radio) have spend but no
tracked campaign. Such a row gives a ``channel`` and no campaign; it is stored with ``campaign_id`` equal to
the channel's name and ``channel`` set (``"tv"`` → campaign ``"tv"``, channel ``"tv"``), so the key stays
(date, campaign_id) and :func:`channel_level` tells such rows apart (``campaign_id == channel``). Channel
names are stored lower-cased; campaign ids are kept as written (they must match the tracked ``campaign_id``).

Importing is all-or-nothing and idempotent: a file with one bad row stores nothing, and a stored
(date, campaign_id) row is replaced — never duplicated — by a later import of the same pair. Dates must lie in
:func:`tracking.table_files.date_window` (2000-01-01 to a year after today).

:func:`delete_spend` removes stored rows by date range, campaign and channel (``xmo spend delete``,
``DELETE /v1/spend``); a dry run counts them, and every deletion is audited (``spend.delete``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from core import audit
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.locks import file_lock
from tracking.cadence import Cadence, Grain, detect_grain, listed, span_cadence
from tracking.columns import SPEND_ALIASES, ColumnMap, day_span_column, map_columns
from tracking.lake import event_files, write_parquet_atomically
from tracking.table_files import (
    check_date_range,
    date_range_text,
    date_window,
    parse_dates,
    parse_numbers,
    parse_texts,
    read_table_file,
)
from tracking.wide_tables import spend_from_wide

SPEND_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("spend", pa.float64(), nullable=False),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("period_days", pa.int16(), nullable=False),
    ]
)
_KEY = ["date", "campaign_id"]
KNOWN_COLUMNS: tuple[str, ...] = ("date", "campaign_id", "channel", "spend", "impressions", "clicks")
MAX_ID_LENGTH = 200  # the lake's limit on campaign ids
MAX_UNKNOWN_LISTED = 10
DELETE_ACTION = "spend.delete"


@dataclass(frozen=True)
class SpendRows:
    """Validated spend rows (the columns of ``SPEND_SCHEMA``) and the columns of the input left out."""

    frame: pd.DataFrame
    grain: Grain
    ignored_columns: tuple[str, ...] = ()
    mapping: ColumnMap = field(default_factory=ColumnMap)


def spend_path(layout: StorageLayout, client_id: str) -> Path:
    """The client's spend file (it may not exist yet)."""
    return layout.client_spend_dir(client_id) / "spend.parquet"


def validate_spend(
    rows: pd.DataFrame, overrides: dict[str, str] | None = None, cadence: Cadence | None = None
) -> SpendRows:
    """Check and normalize spend rows; ``InvalidInput`` names the first bad row and column.

    ``cadence``: the grain of the rows (detected from the dates when None; see :mod:`tracking.cadence`).

    Needs ``date``, ``spend`` and ``campaign_id`` and/or ``channel`` (under their names, an alias such as
    ``campaign``, ``Day`` or ``Cost``, or the name ``overrides`` maps to them: ``{"Kosten": "spend"}``);
    ``impressions`` and ``clicks`` are optional whole numbers; other columns are ignored (and listed in the result).
    """
    frame = rows.rename(columns=lambda c: str(c).strip().lower())
    if len(frame) == 0:
        raise InvalidInput("no spend rows: the file or body is empty")
    columns = [str(c) for c in frame.columns]
    mapping = map_columns(columns, SPEND_ALIASES, known=KNOWN_COLUMNS, overrides=overrides)
    spanned = span_cadence(frame, day_span_column(columns, mapping), "spend")
    frame = frame.rename(columns=mapping.renames)
    missing = [c for c in ("date", "spend") if c not in frame.columns]
    if not {"campaign_id", "channel"} & set(frame.columns):
        missing.append("campaign_id (or campaign) or channel")
    if missing:
        mapped = f" (mapped: {mapping.describe()})" if mapping.renames else ""
        raise InvalidInput(f"spend rows need the column(s) {', '.join(missing)}; got {', '.join(columns)}{mapped}")
    ignored = tuple(str(c) for c in frame.columns if c not in KNOWN_COLUMNS)
    n = len(frame)
    none = pd.Series([None] * n, index=frame.index, dtype=object)
    campaigns = parse_texts(frame.get("campaign_id", none), "campaign_id", max_length=MAX_ID_LENGTH)
    channels = [c.lower() if c else None for c in parse_texts(frame.get("channel", none), "channel", max_length=100)]
    dates = parse_dates(frame["date"], "date", window=date_window())
    for row, day in enumerate(dates):
        if day is None:
            raise InvalidInput(f"row {row + 1}, column date: missing value")
    keys: list[str] = []
    for row, (campaign, channel) in enumerate(zip(campaigns, channels, strict=True)):
        key = campaign or channel
        if key is None:
            raise InvalidInput(f"row {row + 1}: needs a campaign_id (or campaign) or a channel")
        keys.append(key)
    grain = _grain(dates, cadence, spanned)
    out = pd.DataFrame(
        {
            "date": pd.Series(dates, dtype=object),
            "campaign_id": pd.Series(keys, dtype=object),
            "channel": pd.Series(channels, dtype=object),
            "spend": parse_numbers(frame["spend"], "spend", required=True, non_negative=True),
        }
    )
    for name in ("impressions", "clicks"):
        values = (
            parse_numbers(frame[name], name, non_negative=True, integer=True) if name in frame else np.full(n, np.nan)
        )
        out[name] = pd.array(values, dtype="Float64").astype("Int64")
    out["period_days"] = np.full(n, grain.period_days, dtype=np.int16)
    repeated = out.duplicated(_KEY, keep=False).to_numpy()
    if repeated.any():
        first = int(repeated.nonzero()[0][0])
        day, key = dates[first], keys[first]
        second = next(i for i in range(first + 1, n) if dates[i] == day and keys[i] == key)
        raise InvalidInput(f"rows {first + 1} and {second + 1} repeat ({day}, {key}): one row per {grain.cadence.unit}")
    return SpendRows(out, grain, ignored, mapping)


def _grain(dates: list[date | None], given: Cadence | None, spanned: Cadence | None) -> Grain:
    """The rows' grain: given, else the report's spans say it, else the dates (``InvalidInput`` on a conflict)."""
    if given is not None and spanned is not None and given is not spanned:
        raise InvalidInput(f"the cadence is {given.value}, but the report's rows each cover one {spanned.value}")
    return detect_grain([d for d in dates if d is not None], given or spanned)


def channel_level(spend: pd.DataFrame) -> pd.Series:
    """Which rows are channel-level spend (no tracked campaign: ``campaign_id`` equals ``channel``)."""
    return (spend["campaign_id"] == spend["channel"]).fillna(False).astype(bool)


def read_spend(layout: StorageLayout, client_id: str) -> pd.DataFrame:
    """The client's spend table (empty with the right columns when none was stored)."""
    path = spend_path(layout, client_id)
    table = pq.read_table(path) if path.exists() else SPEND_SCHEMA.empty_table()
    frame = table.to_pandas()
    for name in ("impressions", "clicks"):
        frame[name] = frame[name].astype("Int64")
    if "period_days" not in frame.columns:  # written before weekly rows existed: daily
        frame["period_days"] = 1
    frame["period_days"] = frame["period_days"].fillna(1).astype(np.int16)
    return frame


def _covered_days(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (campaign_id, day) that ``rows`` cover, with the ``date`` of the row covering it."""
    lengths = rows["period_days"].to_numpy(dtype=np.int64)
    starts = pd.to_datetime(rows["date"]).to_numpy().repeat(lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # 0..n-1 within each row
    return pd.DataFrame(
        {
            "campaign_id": rows["campaign_id"].to_numpy().repeat(lengths),
            "day": starts + offsets.astype("timedelta64[D]"),
            "date": starts,
        }
    )


def _check_overlaps(old: pd.DataFrame, new: pd.DataFrame) -> None:
    """``InvalidInput`` when a stored row (not replaced) covers a day that a new row of the same campaign covers."""
    old = old[old["campaign_id"].isin(set(new["campaign_id"]))]
    if old.empty:
        return
    clash = _covered_days(old).merge(_covered_days(new), on=["campaign_id", "day"], suffixes=("_old", "_new"))
    if clash.empty:
        return
    campaign = str(clash["campaign_id"].iloc[0])
    mine = clash[clash["campaign_id"] == campaign]
    stored = sorted({d.date() for d in mine["date_old"]})
    incoming = sorted({d.date() for d in mine["date_new"]})
    kinds = {1: "daily", 7: "weekly"}
    was = kinds.get(int(old.loc[old["campaign_id"] == campaign, "period_days"].iloc[0]), "stored")
    now = kinds.get(int(new.loc[new["campaign_id"] == campaign, "period_days"].iloc[0]), "new")
    raise InvalidInput(
        f"overlapping rows: the stored {was} rows of {campaign!r} dated {listed(stored)} overlap the new {now} "
        f"rows dated {listed(incoming)}; delete the stored rows first (xmo spend delete with --campaign or "
        "--channel, --since, --until), or import rows of the same grain and week start"
    )


def _store(layout: StorageLayout, client_id: str, new: pd.DataFrame) -> int:
    """Merge ``new`` into the stored table (same key: replaced); returns how many stored rows were replaced."""
    with file_lock(layout.client_spend_dir(client_id) / ".spend.lock"):
        old = read_spend(layout, client_id)
        replaced = 0
        if not old.empty:
            stale = pd.MultiIndex.from_frame(old[_KEY]).isin(pd.MultiIndex.from_frame(new[_KEY]))
            replaced = int(stale.sum())
            old = old[~stale]
            _check_overlaps(old, new)
        merged = pd.concat([old, new], ignore_index=True) if not old.empty else new
        _write(layout, client_id, merged)
    return replaced


def _write(layout: StorageLayout, client_id: str, spend: pd.DataFrame) -> None:
    """Replace the stored table with ``spend`` (sorted by key); the caller holds the table's lock."""
    spend = spend.sort_values(_KEY).reset_index(drop=True)
    table = pa.Table.from_pandas(spend, schema=SPEND_SCHEMA, preserve_index=False)
    write_parquet_atomically(table, spend_path(layout, client_id))


def upsert_spend(layout: StorageLayout, client_id: str, rows: pd.DataFrame) -> int:
    """Validate and store daily spend rows, replacing any stored row with the same (date, campaign_id)."""
    new = validate_spend(rows, cadence=Cadence.DAY).frame
    _store(layout, client_id, new)
    return len(new)


def lake_campaign_ids(layout: StorageLayout, client_id: str) -> set[str]:
    """The campaign ids of a client's tracked events (one column of the lake files, read by DuckDB)."""
    files = [str(path) for path in event_files(layout, client_id)]
    if not files:
        return set()
    with duckdb.connect() as connection:
        rows = connection.execute(
            "SELECT DISTINCT campaign_id FROM read_parquet($files) WHERE campaign_id IS NOT NULL", {"files": files}
        ).fetchall()
    return {str(row[0]) for row in rows}


@dataclass(frozen=True)
class SpendImport:
    """What an import stored, and what to look at (ignored columns, campaigns without traffic)."""

    client_id: str
    rows: int
    inserted: int
    replaced: int
    campaigns: int  # distinct campaigns (channel-level spend not counted)
    channels: int  # distinct channels with channel-level spend
    channel_rows: int
    first_date: date
    last_date: date
    total_spend: float
    grain: Grain
    ignored_columns: tuple[str, ...] = ()
    unknown_campaigns: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    mapped_columns: dict[str, str] = field(default_factory=dict)  # file column → xmo column

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "rows": self.rows,
            "inserted": self.inserted,
            "replaced": self.replaced,
            "campaigns": self.campaigns,
            "channels": self.channels,
            "channel_rows": self.channel_rows,
            "first_date": self.first_date.isoformat(),
            "last_date": self.last_date.isoformat(),
            "total_spend": round(self.total_spend, 2),
            "cadence": self.grain.cadence.value,
            "grain": self.grain.to_dict(),
            "ignored_columns": list(self.ignored_columns),
            "unknown_campaigns": list(self.unknown_campaigns),
            "warnings": list(self.warnings),
            "mapped_columns": dict(self.mapped_columns),
        }


def _warnings(layout: StorageLayout, client_id: str, new: pd.DataFrame) -> tuple[tuple[str, ...], list[str]]:
    """Campaigns never seen in tracked traffic, and the warnings to show about them."""
    campaigns = set(new.loc[~channel_level(new), "campaign_id"].astype(str))
    if not campaigns:
        return (), []
    seen = lake_campaign_ids(layout, client_id)
    unknown = tuple(sorted(campaigns - seen))
    if not unknown:
        return (), []
    listed = ", ".join(unknown[:MAX_UNKNOWN_LISTED]) + (" …" if len(unknown) > MAX_UNKNOWN_LISTED else "")
    if not seen:
        text = (
            f"the client has no tracked traffic yet, so {len(unknown)} campaign(s) cannot be checked ({listed}); "
            "the spend is stored"
        )
    else:
        text = (
            f"{len(unknown)} campaign(s) never seen in tracked traffic: {listed}; the spend is stored "
            "(check the ids if traffic should already exist)"
        )
    return unknown, [text]


def _stored_cadence(layout: StorageLayout, client_id: str, campaigns: set[str]) -> Cadence | None:
    """The one grain of the stored rows of ``campaigns`` (None when none is stored or they mix grains)."""
    stored = read_spend(layout, client_id)
    lengths = set(stored.loc[stored["campaign_id"].isin(campaigns), "period_days"].astype(int))
    if len(lengths) != 1:
        return None
    return Cadence.WEEK if lengths == {Cadence.WEEK.days} else Cadence.DAY


def import_spend(
    layout: StorageLayout,
    client_id: str,
    rows: pd.DataFrame,
    overrides: dict[str, str] | None = None,
    cadence: Cadence | None = None,
) -> SpendImport:
    """Validate ``rows`` as a whole and store them (nothing is stored when any row is bad); ``overrides`` maps
    file columns to spend columns (``--map``); ``cadence`` sets the grain (detected from the dates when None)."""
    checked = validate_spend(rows, overrides, cadence)
    if checked.grain.detected and checked.grain.periods == 1:  # one date says nothing: the series' stored grain
        stored = _stored_cadence(layout, client_id, set(checked.frame["campaign_id"]))
        if stored is not None and stored is not checked.grain.cadence:
            checked = validate_spend(rows, overrides, stored)
    new = checked.frame
    unknown, warnings = _warnings(layout, client_id, new)
    gaps = checked.grain.gap_warning("spend")
    if gaps:
        warnings.append(gaps)
    if checked.ignored_columns:
        warnings.append(f"ignored unknown column(s): {', '.join(checked.ignored_columns)}")
    replaced = _store(layout, client_id, new)
    channel_rows = channel_level(new)
    return SpendImport(
        client_id=client_id,
        rows=len(new),
        inserted=len(new) - replaced,
        replaced=replaced,
        campaigns=int(new.loc[~channel_rows, "campaign_id"].nunique()),
        channels=int(new.loc[channel_rows, "campaign_id"].nunique()),
        channel_rows=int(channel_rows.sum()),
        first_date=min(new["date"]),
        last_date=max(new["date"]),
        total_spend=float(new["spend"].sum()),
        grain=checked.grain,
        ignored_columns=checked.ignored_columns,
        unknown_campaigns=unknown,
        warnings=tuple(warnings),
        mapped_columns=checked.mapping.to_dict(),
    )


def import_spend_file(
    layout: StorageLayout,
    client_id: str,
    path: Path,
    fmt: str | None = None,
    overrides: dict[str, str] | None = None,
    cadence: Cadence | None = None,
    wide: Sequence[str] = (),
) -> SpendImport:
    """Import a CSV or Parquet spend file (``fmt`` or the file's suffix says which); ``wide`` names its channel
    columns when it has one spend column per channel (:func:`tracking.wide_tables.spend_from_wide`)."""
    layout.client_spend_dir(client_id)  # an invalid client id fails before the file is read
    rows = read_table_file(path, fmt)
    if wide:
        rows = spend_from_wide(rows, wide)
    return import_spend(layout, client_id, rows, overrides, cadence)


def _channels(values: pd.Series) -> str | None:
    return ", ".join(sorted({str(v) for v in values.dropna()})) or None


def _cadences(values: pd.Series) -> str:
    """``day``, ``week``, or ``day+week`` for a series stored at both grains (in separate periods)."""
    names = {1: Cadence.DAY.value, 7: Cadence.WEEK.value}
    return "+".join(names.get(int(v), f"{int(v)}-day") for v in sorted(set(values)))


def spend_summary(spend: pd.DataFrame) -> pd.DataFrame:
    """Per campaign (and channel-level row set): channel, level, cadence, days covered, first and last row's
    date, totals."""
    columns = [
        "campaign_id",
        "channel",
        "level",
        "cadence",
        "days",
        "first_date",
        "last_date",
        "spend",
        "impressions",
        "clicks",
    ]
    if spend.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    frame = spend.assign(level=np.where(channel_level(spend), "channel", "campaign"))
    grouped = frame.groupby("campaign_id", sort=True)
    summary = pd.DataFrame(
        {
            "channel": grouped["channel"].agg(_channels),
            "level": grouped["level"].first(),
            "cadence": grouped["period_days"].agg(_cadences),
            "days": grouped["period_days"].sum(),
            "first_date": grouped["date"].min(),
            "last_date": grouped["date"].max(),
            "spend": grouped["spend"].sum(),
            "impressions": grouped["impressions"].sum(min_count=1),
            "clicks": grouped["clicks"].sum(min_count=1),
        }
    )
    return summary.reset_index()[columns]


def spend_summary_records(spend: pd.DataFrame) -> list[dict[str, Any]]:
    """:func:`spend_summary` as JSON-ready dicts (ISO dates, ints, None for missing totals)."""
    records = []
    row: dict[Any, Any]
    for row in spend_summary(spend).to_dict("records"):
        records.append(
            {
                "campaign_id": str(row["campaign_id"]),
                "channel": None if pd.isna(row["channel"]) else str(row["channel"]),
                "level": str(row["level"]),
                "cadence": str(row["cadence"]),
                "days": int(row["days"]),
                "first_date": row["first_date"].isoformat(),
                "last_date": row["last_date"].isoformat(),
                "spend": round(float(row["spend"]), 2),
                "impressions": None if pd.isna(row["impressions"]) else int(row["impressions"]),
                "clicks": None if pd.isna(row["clicks"]) else int(row["clicks"]),
            }
        )
    return records


@dataclass(frozen=True)
class SpendDeletion:
    """What a deletion removed from the stored spend (or, in a dry run, would remove)."""

    client_id: str
    dry_run: bool
    rows: int
    first_date: date
    last_date: date
    campaigns: tuple[str, ...]  # campaign ids of the rows (a channel's name for channel-level spend)
    total_spend: float
    remaining: int  # rows stored afterwards

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "first_date": self.first_date.isoformat(),
            "last_date": self.last_date.isoformat(),
            "campaigns": list(self.campaigns),
            "total_spend": round(self.total_spend, 2),
            "remaining": self.remaining,
        }


def delete_spend(
    layout: StorageLayout,
    engine: Engine,
    client_id: str,
    *,
    since: date | None = None,
    until: date | None = None,
    campaign_id: str | None = None,
    channel: str | None = None,
    everything: bool = False,
    actor: str,
    dry_run: bool = False,
) -> SpendDeletion:
    """Delete the stored spend rows dated ``since``..``until`` (inclusive, either open), of ``campaign_id`` (as
    written) and/or ``channel`` (any case; channel-level rows included), and audit it as ``spend.delete``.

    Any date may be named, also one outside the import window, so rows stored before it existed can go.
    ``everything`` deletes every row and excludes the other filters; without it at least one filter is needed.
    A dry run deletes and audits nothing. ``InvalidInput`` for no filter or ``since`` after ``until``,
    ``NotFound`` when no stored row matches.
    """
    campaign_id = campaign_id.strip() if campaign_id and campaign_id.strip() else None
    channel = channel.strip().lower() if channel and channel.strip() else None
    chosen = since is not None or until is not None or campaign_id is not None or channel is not None
    if everything == chosen:
        raise InvalidInput("say which spend to delete: since and/or until, campaign, channel, or all (alone)")
    check_date_range(since, until)
    parts = [date_range_text(since, until)] if since or until else []
    parts += [f"campaign {campaign_id}"] if campaign_id else []
    parts += [f"channel {channel}"] if channel else []
    selection = ", ".join(parts) or "all"
    layout.client_spend_dir(client_id)  # an invalid client id fails first
    if not spend_path(layout, client_id).exists():
        raise NotFound(f"client {client_id!r} has no stored spend")
    with file_lock(layout.client_spend_dir(client_id) / ".spend.lock"):
        stored = read_spend(layout, client_id)
        days = stored["date"]
        chosen_rows = pd.Series(True, index=stored.index)
        if since is not None:
            chosen_rows &= days >= since
        if until is not None:
            chosen_rows &= days <= until
        if campaign_id is not None:
            chosen_rows &= stored["campaign_id"] == campaign_id
        if channel is not None:
            chosen_rows &= (stored["channel"] == channel).fillna(False).astype(bool)
        gone = stored[chosen_rows]
        if gone.empty:
            raise NotFound(f"no stored spend row of client {client_id!r} matches: {selection}; nothing deleted")
        kept = stored[~chosen_rows]
        result = SpendDeletion(
            client_id=client_id,
            dry_run=dry_run,
            rows=len(gone),
            first_date=min(gone["date"]),
            last_date=max(gone["date"]),
            campaigns=tuple(sorted(set(gone["campaign_id"].astype(str)))),
            total_spend=float(gone["spend"].sum()),
            remaining=len(kept),
        )
        if dry_run:
            return result
        if kept.empty:
            spend_path(layout, client_id).unlink()
        else:
            _write(layout, client_id, kept)
    details = {
        "selection": selection,
        **{k: v for k, v in result.to_dict().items() if k not in ("client_id", "dry_run")},
    }
    with engine.begin() as connection:
        audit.record(connection, actor=actor, action=DELETE_ACTION, client_id=client_id, details=details)
    return result
