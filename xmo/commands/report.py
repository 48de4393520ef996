"""``xmo report``: which campaigns, creatives, channels and segments work, with honest statistics."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.errors import InvalidInput
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

DateOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (UTC, inclusive).")]
_GROUP_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "campaign": (("campaign_id", "campaign"), ("channel", "channel")),
    "creative": (("campaign_id", "campaign"), ("creative_id", "creative")),
    "channel": (("channel", "channel"),),
    "segment": (("segment", "kind"), ("segment_value", "segment")),
}


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _number(value: float | None, pattern: str = "{:,.2f}") -> str:
    return "–" if value is None else pattern.format(value)


def _with_interval(value: float | None, interval: list[float | None], pattern: str = "{:,.2f}") -> str:
    """``value (low–high)``; an open upper bound reads ``∞``."""
    if value is None:
        return "–"
    low, high = interval
    if low is None and high is None:
        return _number(value, pattern)
    return f"{_number(value, pattern)} ({_number(low, pattern)}–{'∞' if high is None else pattern.format(high)})"


def _interval_only(interval: list[float | None], pattern: str) -> str:
    low, high = interval
    if low is None:
        return "–"
    return f"{pattern.format(low)} to {'∞' if high is None else pattern.format(high)}"


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


def print_report(report: dict[str, Any]) -> None:
    """The report as two tables for people: the groups, then the comparisons; warnings go to stderr."""
    by = report["by"]
    level = f"{report['confidence']:.0%}"
    groups = Table(
        *(title for _, title in _GROUP_COLUMNS[by]),
        "sessions",
        "conversions",
        f"conv. rate ({level} CI)",
        f"value ({level} CI)",
        "spend",
        f"CPA ({level} CI)",
        f"ROAS ({level} CI)",
        title=f"{report['client_id']}: effectiveness by {by}, {report['since']} to {report['until']}",
    )
    for row in report["rows"]:
        groups.add_row(
            *(str(row[key]) if row[key] is not None else "(none)" for key, _ in _GROUP_COLUMNS[by]),
            f"{row['sessions']:,}",
            f"{row['conversions']:,}",
            _with_interval(row["conversion_rate"], row["conversion_rate_interval"], "{:.2%}"),
            _with_interval(row["value"], row["value_interval"], "{:,.0f}"),
            _number(row["spend"]),
            _with_interval(row["cpa"], row["cpa_interval"]),
            _with_interval(row["roas"], row["roas_interval"]),
        )
    out.print(groups)
    if report["comparisons"]:
        out.print(_comparison_table(report["comparisons"], level))
        out.print(report["decision_rule"])
    else:
        out.print("no comparisons: no campaign has two creatives and no channel two campaigns with sessions")
    for warning in report["warnings"]:
        err.print(f"warning: {warning}")


def _comparison_table(comparisons: list[dict[str, Any]], level: str) -> Table:
    table = Table(
        "compare",
        "within",
        "arm",
        "sessions",
        f"conv. rate ({level} CI)",
        f"lift vs best ({level} CI)",
        "always-valid lift",
        "chance to beat best",
        "q (within its test)",
        "verdict",
        title="Comparisons (each arm against the best arm of its group)",
    )
    for row in comparisons:
        arm = f"{row['arm']} (best)" if row["is_reference"] else row["arm"]
        verdict = row["verdict"] + (" ⚠ sample ratio mismatch" if row["sample_ratio_mismatch"] else "")
        table.add_row(
            f"{row['comparison']}s",
            str(row["group"]),
            str(arm),
            f"{row['sessions']:,}",
            _with_interval(row["conversion_rate"], row["conversion_rate_interval"], "{:.2%}"),
            _with_interval(row["lift"], row["lift_interval"], "{:+.0%}"),
            _interval_only(row["always_valid_lift_interval"], "{:+.0%}"),
            _number(row["chance_to_beat_reference"], "{:.0%}"),
            _number(row["q_value"], "{:.3f}"),
            verdict,
        )
    return table


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
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Sessions, conversions, value, CPA and ROAS with intervals, and which creatives and campaigns win."""
    from strategy.report import effectiveness_report

    if by not in ("campaign", "creative", "channel", "segment"):
        raise typer.BadParameter("use campaign, creative, channel or segment", param_hint="--by")
    result = effectiveness_report(
        load_settings(),
        existing_client(client_id),
        since=_day(since),
        until=_day(until),
        by=by,
        planned_splits=_planned_splits(planned_split),
    ).to_dict()
    if as_json:
        emit_json(result)
    else:
        print_report(result)


def register(app: typer.Typer) -> None:
    """Add ``xmo report`` to the app."""
    app.command("report")(report)
