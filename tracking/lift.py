"""Lift tests (experiments) of a client: ``lake/lift/client_id=<id>/lift.parquet``, one row per test.

A lift test measured what a channel's (or one campaign's) spend bought during a window: a geo test, a conversion
lift study, a holdout. The media-mix model uses the stored tests to calibrate its effects (docs/lift-tests.md
compares the semantics with Robyn's ``calibration_input``, Meridian's experiment ROI priors and PyMC-Marketing's
lift-test likelihood). Rows come from ``xmo lift import`` (CSV or Parquet) and ``POST /v1/lift``.

A row gives the channel (and optionally a campaign), the window (``start_date``..``end_date``, inclusive), the KPI
column the lift is measured in, the result as **either** ``incremental_kpi`` (the KPI the test's spend change
bought over the window, in the KPI's units) **or** ``roi`` (incremental KPI per unit of that spend change), its
uncertainty as **either** a ``standard_error`` **or** an interval ``ci_lower``..``ci_upper`` at ``ci_level``
(converted to a standard error, both kept), and the spend: ``spend`` during the window as it ran (summed from
the stored spend when left out) and ``spend_change``, the part of it whose effect was measured (the counterfactual
spend is ``spend - spend_change``; the default, ``spend``, is a test against no spend at all; negative when the
test cut spend). Both measures are stored: ``roi = incremental_kpi / spend_change``.

Checked against the stored data: the channel (and campaign) must have stored spend, the KPI must be a stored KPI
column, and the window must lie inside both series (a weekly row covers the week starting on its date). Two
tests of one channel whose windows overlap are refused (unless one is a campaign test and the other a test of
another campaign): the model treats tests as independent measurements, and two results for the same spend in the
same days would count that evidence twice. Importing is all-or-nothing and idempotent: a test with a stored
``test_id`` replaces it. Imports and deletions are audited (``lift.import``, ``lift.delete``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from core import audit
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout, check_client_id
from core.locks import file_lock
from tracking.columns import ColumnMap, column_key, map_columns
from tracking.kpi import kpi_period_days, read_kpi
from tracking.lake import write_parquet_atomically
from tracking.spend import read_spend
from tracking.table_files import (
    check_date_range,
    date_range_text,
    date_window,
    parse_dates,
    parse_numbers,
    parse_texts,
    read_table_file,
)

LIFT_SCHEMA = pa.schema(
    [
        pa.field("test_id", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("campaign_id", pa.string()),
        pa.field("start_date", pa.date32(), nullable=False),
        pa.field("end_date", pa.date32(), nullable=False),
        pa.field("days", pa.int64(), nullable=False),
        pa.field("kpi", pa.string(), nullable=False),
        pa.field("measure", pa.string(), nullable=False),  # what was given: incremental_kpi or roi
        pa.field("incremental_kpi", pa.float64(), nullable=False),
        pa.field("incremental_kpi_se", pa.float64(), nullable=False),
        pa.field("roi", pa.float64(), nullable=False),
        pa.field("roi_se", pa.float64(), nullable=False),
        pa.field("ci_lower", pa.float64()),  # as given, in the units of ``measure``
        pa.field("ci_upper", pa.float64()),
        pa.field("ci_level", pa.float64()),
        pa.field("se_source", pa.string(), nullable=False),  # standard_error or interval
        pa.field("spend", pa.float64(), nullable=False),
        pa.field("spend_source", pa.string(), nullable=False),  # given or stored
        pa.field("stored_spend", pa.float64(), nullable=False),  # the spend table's sum over the window
        pa.field("spend_change", pa.float64(), nullable=False),
        pa.field("scope", pa.string(), nullable=False),  # immediate or total (Robyn's calibration_scope)
        pa.field("method", pa.string()),
        pa.field("note", pa.string()),
        pa.field("imported_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
KNOWN_COLUMNS: tuple[str, ...] = (
    "test_id",
    "channel",
    "campaign_id",
    "start_date",
    "end_date",
    "kpi",
    "incremental_kpi",
    "roi",
    "standard_error",
    "ci_lower",
    "ci_upper",
    "ci_level",
    "spend",
    "spend_change",
    "scope",
    "method",
    "note",
)
# Robyn's calibration_input names (liftStartDate, liftAbs, …), PyMC-Marketing's (x, delta_x, delta_y, sigma) and
# the words of lift-study reports. Robyn's ``confidence`` is not an interval level, so it is not an alias.
LIFT_ALIASES: dict[str, tuple[str, ...]] = {
    "test_id": ("id", "test", "study", "study_id", "experiment", "experiment_id"),
    "campaign_id": ("campaign", "campaign_name"),
    "start_date": ("start", "from", "liftstartdate", "lift_start_date", "test_start"),
    "end_date": ("end", "to", "liftenddate", "lift_end_date", "test_end"),
    "kpi": ("metric", "kpi_name", "outcome"),
    "incremental_kpi": ("incremental", "lift", "liftabs", "lift_abs", "delta_y", "incremental_outcome"),
    "roi": ("iroas", "incremental_roas", "incremental_roi"),
    "standard_error": ("se", "std_error", "stderr", "sigma"),
    "ci_lower": ("lower", "ci_low", "lower_bound"),
    "ci_upper": ("upper", "ci_high", "upper_bound"),
    "ci_level": ("level", "confidence_level", "interval_level"),
    "spend": ("x", "test_spend", "cost"),
    "spend_change": ("delta_x", "spend_delta", "delta_spend"),
    "scope": ("calibration_scope",),
    "method": ("test_type", "design"),
    "note": ("notes", "description", "comment"),
}
# xmo_geo, xmo_time, xmo_holdout: tests xmo ran and read itself (strategy.experiments.handoff)
METHODS = ("geo", "conversion_lift", "holdout", "matched_market", "other", "xmo_geo", "xmo_time", "xmo_holdout")
SCOPES = ("immediate", "total")
DEFAULT_CI_LEVEL = 0.95
MAX_ID_LENGTH = 100
MAX_NOTE_LENGTH = 500
SPEND_MISMATCH = 1.1  # a given spend above 110 % of the stored spend of the window gets a warning
IMPORT_ACTION = "lift.import"
DELETE_ACTION = "lift.delete"


def lift_root(layout: StorageLayout) -> Path:
    """The folder of every client's lift-test table."""
    return layout.lake_dir / "lift"


def lift_dir(layout: StorageLayout, client_id: str) -> Path:
    """The lift-test table folder of one client."""
    return lift_root(layout) / f"client_id={check_client_id(client_id)}"


def _lift_path(layout: StorageLayout, client_id: str) -> Path:
    return lift_dir(layout, client_id) / "lift.parquet"


def _lock(layout: StorageLayout, client_id: str) -> Any:
    return file_lock(lift_dir(layout, client_id) / ".lift.lock")


@dataclass(frozen=True)
class LiftRows:
    """Lift tests as given, checked one by one (not yet against the stored data)."""

    tests: list[dict[str, Any]]
    ignored_columns: tuple[str, ...] = ()
    mapping: ColumnMap = field(default_factory=ColumnMap)


def _one_of(row: int, names: tuple[str, str], values: tuple[float, float], what: str) -> str:
    """Which of two alternative columns a row gives; ``InvalidInput`` for both or neither."""
    given = [name for name, value in zip(names, values, strict=True) if not np.isnan(value)]
    if len(given) != 1:
        which = "both" if given else "neither"
        raise InvalidInput(f"row {row + 1}: give {what} as {names[0]} or {names[1]}, not {which}")
    return given[0]


def _choice(values: list[str | None], column: str, allowed: tuple[str, ...], default: str | None) -> list[str | None]:
    out: list[str | None] = []
    for row, value in enumerate(values):
        key = column_key(value) if value is not None else None
        if key is not None and key not in allowed:
            raise InvalidInput(f"row {row + 1}, column {column}: {value!r} is not one of {', '.join(allowed)}")
        out.append(key or default)
    return out


def _interval_se(row: int, estimate: float, lower: float, upper: float, level: float) -> tuple[float, float]:
    """The standard error of a normal interval ``lower``..``upper`` at ``level`` (a fraction or a percentage)."""
    if np.isnan(lower) or np.isnan(upper):
        raise InvalidInput(f"row {row + 1}: an interval needs both ci_lower and ci_upper")
    level = DEFAULT_CI_LEVEL if np.isnan(level) else level / 100 if 1 < level < 100 else level
    if not 0.5 <= level < 1:
        raise InvalidInput(f"row {row + 1}, column ci_level: give a level from 0.5 to 0.999 (or 50 to 99.9)")
    if not lower < upper:
        raise InvalidInput(f"row {row + 1}: ci_lower ({lower:g}) must be below ci_upper ({upper:g})")
    if not lower <= estimate <= upper:
        raise InvalidInput(f"row {row + 1}: the estimate {estimate:g} lies outside its interval {lower:g}..{upper:g}")
    return (upper - lower) / (2 * NormalDist().inv_cdf((1 + level) / 2)), level


def validate_lift(rows: pd.DataFrame, overrides: dict[str, str] | None = None) -> LiftRows:
    """Check each lift test on its own; ``InvalidInput`` names the first bad row and column.

    The result has the columns of ``LIFT_SCHEMA`` except those that need the stored data (``kpi`` and ``spend``
    may still be missing, ``stored_spend`` and the ROI/incremental conversion are filled in by :func:`import_lift`).
    """
    frame = rows.rename(columns=lambda c: str(c).strip().lower())
    if len(frame) == 0:
        raise InvalidInput("no lift tests: the file or body is empty")
    columns = [str(c) for c in frame.columns]
    mapping = map_columns(columns, LIFT_ALIASES, known=KNOWN_COLUMNS, overrides=overrides)
    frame = frame.rename(columns=mapping.renames)
    missing = [c for c in ("channel", "start_date", "end_date") if c not in frame.columns]
    if "incremental_kpi" not in frame.columns and "roi" not in frame.columns:
        missing.append("incremental_kpi or roi")
    if not {"standard_error", "ci_lower", "ci_upper"} & set(frame.columns):
        missing.append("standard_error or ci_lower and ci_upper")
    if missing:
        mapped = f" (mapped: {mapping.describe()})" if mapping.renames else ""
        raise InvalidInput(f"lift tests need the column(s) {', '.join(missing)}; got {', '.join(columns)}{mapped}")
    ignored = tuple(str(c) for c in frame.columns if c not in KNOWN_COLUMNS)
    n = len(frame)
    none = pd.Series([None] * n, index=frame.index, dtype=object)

    def texts(name: str, max_length: int = MAX_ID_LENGTH) -> list[str | None]:
        return parse_texts(frame.get(name, none), name, max_length=max_length)

    def numbers(name: str, **checks: bool) -> np.ndarray:
        return parse_numbers(frame.get(name, none), name, **checks)

    channels = [c.lower() if c else None for c in texts("channel")]
    starts = parse_dates(frame["start_date"], "start_date", window=date_window())
    ends = parse_dates(frame["end_date"], "end_date", window=date_window())
    incremental, roi = numbers("incremental_kpi"), numbers("roi")
    se = numbers("standard_error")
    lower, upper, level = numbers("ci_lower"), numbers("ci_upper"), numbers("ci_level")
    spend, change = numbers("spend", non_negative=True), numbers("spend_change")
    test_ids, campaigns = texts("test_id"), texts("campaign_id", 200)
    kpis = [k.lower() if k else None for k in texts("kpi")]
    scopes = _choice(texts("scope"), "scope", SCOPES, "immediate")
    methods = _choice(texts("method"), "method", METHODS, None)
    notes = texts("note", MAX_NOTE_LENGTH)
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in range(n):
        channel, start, end = channels[row], starts[row], ends[row]
        for name, value in (("channel", channel), ("start_date", start), ("end_date", end)):
            if value is None:
                raise InvalidInput(f"row {row + 1}, column {name}: missing value")
        assert start is not None and end is not None
        if end < start:
            raise InvalidInput(f"row {row + 1}: end_date {end} is before start_date {start}")
        measure = _one_of(row, ("incremental_kpi", "roi"), (incremental[row], roi[row]), "the result")
        estimate = incremental[row] if measure == "incremental_kpi" else roi[row]
        has_interval = not (np.isnan(lower[row]) and np.isnan(upper[row]))
        if not np.isnan(se[row]) and has_interval:
            raise InvalidInput(f"row {row + 1}: give standard_error or ci_lower and ci_upper, not both")
        if not has_interval and not np.isnan(level[row]):
            raise InvalidInput(f"row {row + 1}: ci_level without ci_lower and ci_upper")
        if has_interval:
            error, ci_level = _interval_se(row, estimate, lower[row], upper[row], level[row])
        elif np.isnan(se[row]):
            raise InvalidInput(f"row {row + 1}: give standard_error or ci_lower and ci_upper")
        else:
            error, ci_level = se[row], np.nan
            if error <= 0:
                raise InvalidInput(f"row {row + 1}, column standard_error: {error:g} must be above 0")
        if change[row] == 0:
            raise InvalidInput(f"row {row + 1}, column spend_change: 0 measures nothing (leave it out for spend)")
        campaign = campaigns[row]
        test_id = test_ids[row] or f"{channel}-{campaign + '-' if campaign else ''}{start:%Y%m%d}-{end:%Y%m%d}"
        if test_id in seen:
            raise InvalidInput(f"rows {seen[test_id] + 1} and {row + 1} have the same test_id {test_id!r}")
        seen[test_id] = row
        records.append(
            {
                "test_id": test_id,
                "channel": channel,
                "campaign_id": campaign,
                "start_date": start,
                "end_date": end,
                "days": (end - start).days + 1,
                "measure": measure,
                "estimate": estimate,
                "estimate_se": error,
                "ci_lower": lower[row] if has_interval else np.nan,
                "ci_upper": upper[row] if has_interval else np.nan,
                "ci_level": ci_level,
                "se_source": "interval" if has_interval else "standard_error",
                "spend": spend[row],
                "spend_change": change[row],
                "kpi": kpis[row],
                "scope": scopes[row],
                "method": methods[row],
                "note": notes[row],
            }
        )
    return LiftRows(records, ignored, mapping)


# the stored data ---------------------------------------------------------------------------------------------
def covered_days(days: pd.Series, period_days: pd.Series | int = 1) -> tuple[date, date] | None:
    """The first and last day that rows dated ``days`` cover, each row ``period_days`` long (7: the week starting
    on its date); None for no rows."""
    if len(days) == 0:
        return None
    lengths = np.broadcast_to(np.asarray(period_days, dtype=np.int64), (len(days),))
    last = max(day + timedelta(days=int(n) - 1) for day, n in zip(days, lengths, strict=True))
    return min(days), last


def _window_spend(rows: pd.DataFrame, start: date, end: date) -> float:
    """Spend summed over ``start``..``end``; a row of several days counts for its days inside (an equal share each)."""
    total = 0.0
    for day, amount, length in zip(rows["date"], rows["spend"], rows["period_days"], strict=True):
        inside = (min(end, day + timedelta(days=int(length) - 1)) - max(start, day)).days + 1
        total += float(amount) * max(inside, 0) / int(length)
    return total


def _listed(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _check_against(
    row: int, test: dict[str, Any], spend: pd.DataFrame, kpi: pd.DataFrame, kpi_days: int
) -> dict[str, Any]:
    """``test`` completed from the stored spend and KPIs; ``InvalidInput`` when they cannot carry it."""
    where = f"row {row + 1} ({test['test_id']})"
    channel, campaign = test["channel"], test["campaign_id"]
    channels = set(spend["channel"].dropna().astype(str))
    if channel not in channels:
        raise InvalidInput(
            f"{where}: no spend is stored for channel {channel!r}; channels with spend: {_listed(channels)}"
        )
    rows = spend[(spend["channel"] == channel).fillna(False).astype(bool)]
    if campaign is not None:
        campaigns = set(rows["campaign_id"].astype(str)) - {channel}
        if campaign not in campaigns:
            raise InvalidInput(
                f"{where}: channel {channel!r} has no stored spend for campaign {campaign!r}; its "
                f"campaigns: {_listed(campaigns)}"
            )
        rows = rows[rows["campaign_id"] == campaign]
    start, end = test["start_date"], test["end_date"]
    covered = covered_days(rows["date"], rows["period_days"])
    assert covered is not None
    if start < covered[0] or end > covered[1]:
        raise InvalidInput(
            f"{where}: the test window {start} to {end} is outside the stored spend of "
            f"{campaign or channel} ({covered[0]} to {covered[1]})"
        )
    outcomes = [c for c in kpi.columns if c != "date"]
    if not outcomes:
        raise InvalidInput(f"{where}: no KPIs are stored; import the KPI the test measured first (xmo kpi import)")
    name = test["kpi"]
    if name is None:
        if len(outcomes) != 1:
            raise InvalidInput(
                f"{where}: name the KPI the lift is measured in (column kpi): one of {_listed(set(outcomes))}"
            )
        name = outcomes[0]
    if name not in outcomes:
        raise InvalidInput(f"{where}: {name!r} is not a stored KPI; stored: {_listed(set(outcomes))}")
    kpi_covered = covered_days(kpi.loc[kpi[name].notna(), "date"], kpi_days)
    if kpi_covered is None or start < kpi_covered[0] or end > kpi_covered[1]:
        span = f"{kpi_covered[0]} to {kpi_covered[1]}" if kpi_covered else "no values"
        raise InvalidInput(f"{where}: the test window {start} to {end} is outside the stored KPI {name} ({span})")
    stored = _window_spend(rows, start, end)
    given = not np.isnan(test["spend"])
    amount = float(test["spend"]) if given else stored
    change = amount if np.isnan(test["spend_change"]) else float(test["spend_change"])
    if change > amount:
        raise InvalidInput(
            f"{where}: spend_change {change:g} exceeds the spend of the window {amount:g} (the counterfactual spend, "
            "spend - spend_change, cannot be negative)"
        )
    if amount <= 0:
        raise InvalidInput(f"{where}: the spend of the window is 0, so the test has no ROI; give spend")
    if test["measure"] == "incremental_kpi":
        incremental, incremental_se = test["estimate"], test["estimate_se"]
        roi, roi_se = incremental / change, test["estimate_se"] / abs(change)
    else:
        roi, roi_se = test["estimate"], test["estimate_se"]
        incremental, incremental_se = roi * change, roi_se * abs(change)
    return {
        **{k: v for k, v in test.items() if k not in ("estimate", "estimate_se")},
        "kpi": name,
        "incremental_kpi": float(incremental),
        "incremental_kpi_se": float(incremental_se),
        "roi": float(roi),
        "roi_se": float(roi_se),
        "spend": amount,
        "spend_source": "given" if given else "stored",
        "stored_spend": stored,
        "spend_change": change,
    }


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two tests measure the same spend on common days (same channel; a channel-wide test covers every
    campaign of it)."""
    same_spend = a["campaign_id"] is None or b["campaign_id"] is None or a["campaign_id"] == b["campaign_id"]
    days = a["start_date"] <= b["end_date"] and b["start_date"] <= a["end_date"]
    return bool(a["channel"] == b["channel"] and same_spend and days)


def _check_overlaps(new: list[dict[str, Any]], stored: pd.DataFrame) -> None:
    records: list[dict[str, Any]] = stored.to_dict("records")  # type: ignore[assignment]
    others = [r for r in records if r["test_id"] not in {t["test_id"] for t in new}]
    for index, test in enumerate(new):
        for other in [*new[:index], *others]:
            if _overlaps(test, other):
                raise InvalidInput(
                    f"test {test['test_id']!r} ({test['channel']}, {test['start_date']} to {test['end_date']}) "
                    f"overlaps test {other['test_id']!r} ({other['start_date']} to {other['end_date']}) of the "
                    "same channel: the model would count the same spend twice; combine them into one result, "
                    "give the new one the stored test_id to replace it, or delete the other (xmo lift delete)"
                )


def read_lift(layout: StorageLayout, client_id: str) -> pd.DataFrame:
    """The client's lift tests (the columns of ``LIFT_SCHEMA``), by channel and start; empty when none."""
    path = _lift_path(layout, client_id)
    table = pq.read_table(path) if path.exists() else LIFT_SCHEMA.empty_table()
    return table.to_pandas().sort_values(["channel", "start_date", "test_id"]).reset_index(drop=True)


def _write(layout: StorageLayout, client_id: str, tests: pd.DataFrame) -> None:
    """Replace the stored table (the caller holds the lock)."""
    tests = tests.sort_values(["channel", "start_date", "test_id"]).reset_index(drop=True)
    table = pa.Table.from_pandas(tests[LIFT_SCHEMA.names], schema=LIFT_SCHEMA, preserve_index=False)
    write_parquet_atomically(table, _lift_path(layout, client_id))


@dataclass(frozen=True)
class LiftImport:
    """What an import stored."""

    client_id: str
    tests: int
    inserted: int
    replaced: int
    test_ids: tuple[str, ...]
    channels: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    mapped_columns: dict[str, str] = field(default_factory=dict)  # file column → lift column

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "tests": self.tests,
            "inserted": self.inserted,
            "replaced": self.replaced,
            "test_ids": list(self.test_ids),
            "channels": list(self.channels),
            "warnings": list(self.warnings),
            "mapped_columns": dict(self.mapped_columns),
        }


def import_lift(
    layout: StorageLayout,
    engine: Engine,
    client_id: str,
    rows: pd.DataFrame,
    *,
    actor: str,
    overrides: dict[str, str] | None = None,
) -> LiftImport:
    """Validate ``rows`` as a whole against the stored spend and KPIs and store them (nothing when any is bad);
    a stored ``test_id`` is replaced. Audited as ``lift.import``."""
    checked = validate_lift(rows, overrides)
    spend, kpi, kpi_days = (
        read_spend(layout, client_id),
        read_kpi(layout, client_id),
        kpi_period_days(layout, client_id),
    )
    tests = [_check_against(i, t, spend, kpi, kpi_days) for i, t in enumerate(checked.tests)]
    warnings = [f"ignored unknown column(s): {', '.join(checked.ignored_columns)}"] if checked.ignored_columns else []
    for test in tests:
        if test["spend_source"] == "given" and test["spend"] > SPEND_MISMATCH * test["stored_spend"]:
            warnings.append(
                f"test {test['test_id']}: the given spend {test['spend']:,.2f} is more than the stored spend of "
                f"{test['campaign_id'] or test['channel']} in its window ({test['stored_spend']:,.2f})"
            )
    now = datetime.now(UTC)
    new = pd.DataFrame.from_records([{**t, "imported_at": now} for t in tests])
    with _lock(layout, client_id):
        stored = read_lift(layout, client_id)
        _check_overlaps(tests, stored)
        stale = stored["test_id"].isin(new["test_id"])
        kept = stored[~stale]
        _write(layout, client_id, pd.concat([kept, new], ignore_index=True) if not kept.empty else new)
    report = LiftImport(
        client_id=client_id,
        tests=len(new),
        inserted=len(new) - int(stale.sum()),
        replaced=int(stale.sum()),
        test_ids=tuple(new["test_id"]),
        channels=tuple(sorted(set(new["channel"]))),
        warnings=tuple(warnings),
        mapped_columns=checked.mapping.to_dict(),
    )
    details = {k: v for k, v in report.to_dict().items() if k in ("tests", "inserted", "replaced", "test_ids")}
    with engine.begin() as connection:
        audit.record(connection, actor=actor, action=IMPORT_ACTION, client_id=client_id, details=details)
    return report


def import_lift_file(
    layout: StorageLayout,
    engine: Engine,
    client_id: str,
    path: Path,
    *,
    actor: str,
    fmt: str | None = None,
    overrides: dict[str, str] | None = None,
) -> LiftImport:
    """Import a CSV or Parquet file of lift tests (``fmt`` or the file's suffix says which)."""
    lift_dir(layout, client_id)  # an invalid client id fails before the file is read
    return import_lift(layout, engine, client_id, read_table_file(path, fmt), actor=actor, overrides=overrides)


LIST_COLUMNS = (
    "test_id",
    "channel",
    "campaign_id",
    "start_date",
    "end_date",
    "days",
    "kpi",
    "measure",
    "incremental_kpi",
    "incremental_kpi_se",
    "roi",
    "roi_se",
    "ci_lower",
    "ci_upper",
    "ci_level",
    "se_source",
    "spend",
    "spend_source",
    "stored_spend",
    "spend_change",
    "scope",
    "method",
    "note",
    "imported_at",
)


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def lift_records(tests: pd.DataFrame, channel: str | None = None) -> list[dict[str, Any]]:
    """The stored tests as JSON-ready dicts (ISO dates, None for missing values), of one channel if named."""
    if channel is not None:
        tests = tests[tests["channel"] == channel.strip().lower()]
    return [{name: _json_value(row[name]) for name in LIST_COLUMNS} for row in tests.to_dict("records")]


@dataclass(frozen=True)
class LiftDeletion:
    """What a deletion removed (or, in a dry run, would remove)."""

    client_id: str
    dry_run: bool
    tests: int
    test_ids: tuple[str, ...]
    remaining: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "dry_run": self.dry_run,
            "tests": self.tests,
            "test_ids": list(self.test_ids),
            "remaining": self.remaining,
        }


def delete_lift(
    layout: StorageLayout,
    engine: Engine,
    client_id: str,
    *,
    test_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    channel: str | None = None,
    everything: bool = False,
    actor: str,
    dry_run: bool = False,
) -> LiftDeletion:
    """Delete stored tests by ``test_id``, by a date range (tests whose window overlaps ``since``..``until``,
    either open) and/or ``channel``, and audit it as ``lift.delete``.

    ``everything`` deletes every test and excludes the other filters; without it at least one filter is needed.
    A dry run deletes and audits nothing. ``InvalidInput`` for no filter or ``since`` after ``until``,
    ``NotFound`` when no stored test matches.
    """
    test_id = test_id.strip() if test_id and test_id.strip() else None
    channel = channel.strip().lower() if channel and channel.strip() else None
    chosen = test_id is not None or since is not None or until is not None or channel is not None
    if everything == chosen:
        raise InvalidInput("say which lift tests to delete: test id, since and/or until, channel, or all (alone)")
    check_date_range(since, until)
    parts = [f"test {test_id}"] if test_id else []
    parts += [f"overlapping {date_range_text(since, until)}"] if since or until else []
    parts += [f"channel {channel}"] if channel else []
    selection = ", ".join(parts) or "all"
    if not _lift_path(layout, client_id).exists():
        raise NotFound(f"client {client_id!r} has no stored lift tests")
    with _lock(layout, client_id):
        stored = read_lift(layout, client_id)
        pick = pd.Series(True, index=stored.index)
        if test_id is not None:
            pick &= stored["test_id"] == test_id
        if since is not None:
            pick &= stored["end_date"] >= since
        if until is not None:
            pick &= stored["start_date"] <= until
        if channel is not None:
            pick &= stored["channel"] == channel
        gone, kept = stored[pick], stored[~pick]
        if gone.empty:
            raise NotFound(f"no stored lift test of client {client_id!r} matches: {selection}; nothing deleted")
        result = LiftDeletion(client_id, dry_run, len(gone), tuple(gone["test_id"]), len(kept))
        if dry_run:
            return result
        if kept.empty:
            _lift_path(layout, client_id).unlink()
        else:
            _write(layout, client_id, kept)
    details = {"selection": selection, "tests": result.tests, "test_ids": list(result.test_ids)}
    details["remaining"] = result.remaining
    with engine.begin() as connection:
        audit.record(connection, actor=actor, action=DELETE_ACTION, client_id=client_id, details=details)
    return result
