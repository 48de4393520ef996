"""``xmo report``: which campaigns, creatives, channels and segments work, with honest statistics."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from core.errors import InvalidInput
from xmo.commands.common import existing_client, load_settings
from xmo.console import err, out
from xmo.output import (
    FormatOption,
    JsonOption,
    OutputFormat,
    chosen_format,
    emit,
    id_column,
    print_table,
    spread,
    with_range,
)

DateOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (UTC, inclusive).")]
_GROUP_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "campaign": (("campaign_id", "campaign"), ("channel", "channel")),
    "creative": (("campaign_id", "campaign"), ("creative_id", "creative")),
    "channel": (("channel", "channel"),),
    "segment": (("segment", "kind"), ("segment_value", "segment")),
}
_ROW_COLUMNS = (
    "sessions",
    "conversions",
    *(f"{m}{end}" for m in ("conversion_rate", "value") for end in ("", "_low", "_high")),
    "spend",
    *(f"{m}{end}" for m in ("cpa", "roas") for end in ("", "_low", "_high")),
)
READING_NOTE = (
    "Ranges hold the true value {level} of the time. 'safe to check daily': a lift range that stays honest "
    "however often you look; 'false-alarm risk': the share of calls this strong that would be flukes, "
    "among the arms of the same test."
)

HISTORY_NOTE = (
    "The visitors' history before each session (their earlier visits and conversions) cut the noise of these "
    "tests, so fewer sessions are needed:"
)
HISTORY_CUT = "  {family}: noise cut by {share:.0%}"
HISTORY_ALSO = "  and {count} more tests: noise cut by up to {top:.0%}"
HISTORY_LINES = 5
SPLIT_OFF_PLAN = " ⚠ traffic split off plan (sample ratio mismatch)"


class ReportTable(StrEnum):
    """Which table of the report to print."""

    GROUPS = "groups"
    COMPARISONS = "comparisons"


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _number(value: float | None, pattern: str = ",.2f") -> str:
    return "–" if value is None else format(value, pattern)


def _interval_only(interval: list[float | None], pattern: str) -> str:
    low, high = interval
    if low is None:
        return "–"
    return f"{format(low, pattern)} to {'∞' if high is None else format(high, pattern)}"


def _id(value: Any) -> Text:
    """An id cell: plain text (never read as markup), ``(none)`` for a missing one."""
    return Text("(none)" if value is None else str(value))


def _planned_splits(path: Path | None) -> dict[str, Any] | None:
    """The planned split JSON file (``{campaign: {creative: share}}``), or a one-line error."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the planned split file {str(path)!r}: {exc}") from exc
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} (line {exc.lineno})"
        raise InvalidInput(f"planned split file {str(path)!r} is not valid JSON: {where}") from exc
    if not isinstance(data, dict):
        raise InvalidInput('a planned split must be an object like {"campaign": {"creative-a": 0.5, ...}}')
    return data


def _table(title: str) -> Table:
    """A table with light rules, so that more of the terminal's width goes to the cells."""
    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)


def groups_table(report: dict[str, Any]) -> Table:
    """The groups of the report (campaigns, creatives, channels or segments) with their metrics."""
    by = report["by"]
    level = f"{report['confidence']:.0%}"
    table = _table(f"{report['client_id']}: effectiveness by {by}, {report['since']} to {report['until']}")
    for key, title in _GROUP_COLUMNS[by]:
        if key == "segment":
            table.add_column(title)
        else:
            id_column(table, title)
    for header in ("sessions", "conversions", f"conversion rate ({level} range)", f"value ({level} range)", "spend"):
        table.add_column(header)
    table.add_column(f"CPA ({level} range)")
    table.add_column(f"ROAS ({level} range)")
    for row in report["rows"]:
        table.add_row(
            *(_id(row[key]) for key, _ in _GROUP_COLUMNS[by]),
            f"{row['sessions']:,}",
            f"{row['conversions']:,}",
            with_range(row["conversion_rate"], row["conversion_rate_interval"], ".2%"),
            with_range(row["value"], row["value_interval"], ",.0f"),
            _number(row["spend"]),
            with_range(row["cpa"], row["cpa_interval"], ",.2f"),
            with_range(row["roas"], row["roas_interval"], ",.2f"),
        )
    return table


def comparisons_table(comparisons: list[dict[str, Any]], level: str) -> Table:
    """Each arm against the best arm of its group: lift, chance to beat the best, false-alarm risk, verdict."""
    table = _table("Comparisons (each arm against the best arm of its group)")
    table.add_column("compare")
    id_column(table, "within")
    id_column(table, "arm")
    for header in (
        "sessions",
        f"conversion rate ({level} range)",
        f"lift vs best ({level} range)",
        "lift (safe to check daily)",
        "chance to beat best",
        "false-alarm risk",
        "verdict",
    ):
        table.add_column(header)
    for row in comparisons:
        verdict = row["verdict"] + (SPLIT_OFF_PLAN if row["sample_ratio_mismatch"] else "")
        table.add_row(
            f"{row['comparison']}s",
            _id(row["group"]),
            _id(row["arm"]),
            f"{row['sessions']:,}",
            with_range(row["conversion_rate"], row["conversion_rate_interval"], ".2%"),
            "best of its group" if row["is_reference"] else with_range(row["lift"], row["lift_interval"], "+.0%"),
            _interval_only(row["always_valid_lift_interval"], "+.0%"),
            _number(row["chance_to_beat_reference"], ".0%"),
            _number(row["q_value"], ".1%"),
            verdict,
        )
    return table


def history_notes(comparisons: list[dict[str, Any]]) -> list[str]:
    """A plain sentence, then one line per test whose noise the pre-period history cut (CUPED), largest first."""
    cuts = sorted(
        (
            (row["variance_reduction"], row["family"])
            for row in comparisons
            if row["is_reference"] and (row.get("variance_reduction") or 0) >= 0.005
        ),
        key=lambda cut: -cut[0],
    )
    lines = [HISTORY_CUT.format(family=family, share=share) for share, family in cuts[:HISTORY_LINES]]
    if len(cuts) > HISTORY_LINES:
        lines.append(HISTORY_ALSO.format(count=len(cuts) - HISTORY_LINES, top=cuts[HISTORY_LINES][0]))
    return [HISTORY_NOTE, *lines] if lines else []


def print_report(report: dict[str, Any], only: ReportTable | None = None) -> None:
    """The report as two tables for people (or ``only`` one): the groups, then the comparisons; warnings on stderr."""
    level = f"{report['confidence']:.0%}"
    if only is not ReportTable.COMPARISONS:
        print_table(groups_table(report))
    if only is not ReportTable.GROUPS:
        if report["comparisons"]:
            print_table(comparisons_table(report["comparisons"], level))
            for line in history_notes(report["comparisons"]):
                out.print(line, markup=False)
            out.print(READING_NOTE.format(level=level), markup=False)
            out.print(report["decision_rule"], markup=False)
        else:
            out.print("no comparisons: no campaign has two creatives and no channel two campaigns with sessions")
    for warning in report["warnings"]:
        err.print(f"warning: {warning}", markup=False)


def report_csv_rows(report: dict[str, Any], table: ReportTable) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and columns of one table of the report for csv: one row per group or per compared arm."""
    if table is ReportTable.COMPARISONS:
        from strategy.effectiveness import COMPARISON_COLUMNS  # here, not at start-up: it loads scipy

        return [spread(row) for row in report["comparisons"]], list(COMPARISON_COLUMNS)
    keys = [key for key, _ in _GROUP_COLUMNS[report["by"]]]
    return [spread(row) for row in report["rows"]], [*keys, *_ROW_COLUMNS]


def report(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    since: DateOption = None,
    until: DateOption = None,
    by: Annotated[str, typer.Option(help="campaign, creative, channel or segment.")] = "campaign",
    planned_split: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help='JSON file of planned creative shares per campaign: {"campaign": {"creative": 0.5, ...}}.',
        ),
    ] = None,
    fmt: FormatOption = None,
    table: Annotated[
        ReportTable | None,
        typer.Option(
            "--table",
            case_sensitive=False,
            help="groups or comparisons: the table to print (csv: one of them, groups unless given).",
            show_default="both; csv: groups",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sessions, conversions, value, CPA and ROAS with intervals, and which creatives and campaigns win."""
    from strategy.report import effectiveness_report

    if by not in ("campaign", "creative", "channel", "segment"):
        raise typer.BadParameter("use campaign, creative, channel or segment", param_hint="--by")
    chosen = chosen_format(fmt, as_json)
    if chosen is OutputFormat.JSON and table is not None:
        raise typer.BadParameter("json prints the whole report: leave --table out", param_hint="--table")
    result = effectiveness_report(
        load_settings(),
        existing_client(client_id),
        since=_day(since),
        until=_day(until),
        by=by,
        planned_splits=_planned_splits(planned_split),
    ).to_dict()
    rows, columns = report_csv_rows(result, table or ReportTable.GROUPS)
    if not emit(chosen, result, rows, columns):
        print_report(result, table)


def register(app: typer.Typer) -> None:
    """Add ``xmo report`` to the app."""
    app.command("report")(report)
