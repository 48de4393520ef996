"""``xmo recommend audiences``: which audience segments of paid traffic to bid up or exclude."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import err, out
from xmo.output import FormatOption, JsonOption, OutputFormat, chosen_format, emit, id_column

ONE_LINE_WIDTH = 80  # about what the columns other than the segment need on one line each
CAPTION = (
    "predicted rate: the champion model's, and its multiple of the average; insight only: no ad platform can "
    "target or exclude this segment, shown for context"
)


def _segment(row: dict[str, Any], width: int) -> str:
    """The segment in words (never cut; a pair on two lines where the console is narrow), then its dimension."""
    names = escape(row["segment_label"])
    if len(row["segment_label"]) + ONE_LINE_WIDTH > width:
        names = names.replace(" × ", " ×\n")
    return f"{names}\n[dim]{escape(row['dimension_label'])}[/dim]"


def _segment_table(title: str, rows: list[dict[str, Any]], caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    id_column(table, "segment")  # names never cut: people look for them in their ad platform
    for header in ("sessions (share)", "predicted rate", "observed rate (95 % range)", "value per session"):
        table.add_column(header, justify="right", overflow="fold")  # wrapped, never cut, when narrow
    table.add_column("suggestion", overflow="fold")
    for r in rows:
        table.add_row(
            _segment(r, out.width),
            f"{r['sessions']:,} ({r['share']:.0%})",
            f"{r['predicted_rate']:.2%} ({r['predicted_lift']:.2f}×)",
            f"{r['observed_rate']:.2%} ({r['observed_rate_low']:.2%} to {r['observed_rate_high']:.2%})",
            f"{r['predicted_value_per_session']:,.2f}",
            escape(r["suggestion"]),
            end_section=True,
        )
    return table


def print_audiences(result: dict[str, Any]) -> None:
    """A marketer's view: what the advice is based on, the top segments, then the ones to exclude."""
    overall = result["overall"]
    out.print(
        f"model {result['model']['name']} v{result['model']['version']} on {overall['sessions']:,} sessions of "
        f"paid campaigns: predicted rate {overall['predicted_rate']:.2%}, observed {overall['observed_rate']:.2%}, "
        f"value per session {overall['predicted_value_per_session']:,.2f}",
        markup=False,
    )
    out.print(result["scope_note"], markup=False)
    out.print(_segment_table("Segments by predicted conversion rate", result["segments"], CAPTION))
    shown = {(r["dimension"], r["segment"]) for r in result["segments"]}
    excluded = [r for r in result["exclude"] if (r["dimension"], r["segment"]) not in shown]
    if excluded:
        out.print(_segment_table("Candidates to exclude", excluded))
    print_warnings(result)


def print_warnings(result: dict[str, Any]) -> None:
    """The result's warnings, on stderr."""
    for warning in result["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


def csv_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per segment listed (the top segments, then the other bid-up and exclude candidates)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for row in (*result["segments"], *result["bid_up"], *result["exclude"]):
        rows.setdefault((row["dimension"], row["segment"]), row)
    return list(rows.values())


def _day(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint=option) from exc


def audiences(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    top: Annotated[int, typer.Option(min=1, max=500, help="How many segments to list.")] = 20,
    since: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD, client's time zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD, client's time zone).")] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Audience segments of paid traffic ranked by the champion model's predicted conversion rate: bid up, keep
    or exclude (segments no ad platform can target are shown for insight only)."""
    from strategy.audiences import recommend_audiences

    chosen = chosen_format(fmt, as_json)
    result = recommend_audiences(
        load_settings(),
        existing_client(client_id),
        since=_day(since, "--since"),
        until=_day(until, "--until"),
        top=top,
    ).to_dict()
    from models.audiences import SEGMENT_COLUMNS  # here, not at start-up: it loads the model libraries

    if not emit(chosen, result, csv_rows(result), SEGMENT_COLUMNS):
        print_audiences(result)
    elif chosen is OutputFormat.CSV:
        print_warnings(result)  # stdout is the CSV alone
