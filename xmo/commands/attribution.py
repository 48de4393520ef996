"""``xmo attribution``: conversions and value credited per channel or campaign by an attribution model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

DateOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD in the client's time zone (inclusive).")
]


def _header(report: dict[str, Any]) -> str:
    window = f"{report['since'] or 'start'} to {report['until'] or 'now'}"
    return (
        f"{report['converting_journeys']:,} converting journeys of {report['journeys']:,} "
        f"(value {report['value']:,.2f}), {window}, lookback {report['lookback_days']} days"
    )


def _print_table(title: str, headers: list[str], cells: list[list[str]]) -> None:
    """A table that never truncates a cell: wider than the terminal rather than cut."""
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    table = Table(title=title)
    for n, (header, width) in enumerate(zip(headers, widths, strict=True)):
        table.add_column(header, no_wrap=True, min_width=width, justify="left" if n == 0 else "right")
    for row in cells:
        table.add_row(Text(row[0]), *row[1:])
    out.print(table, width=max(out.width, sum(widths) + 3 * len(widths) + 1))


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"note: {note}", markup=False)


def print_model(report: dict[str, Any], result: dict[str, Any]) -> None:
    """One model's credits as a table, with its method and notes."""
    key = "channel" if report["level"] == "channel" else "campaign_id"
    cells = [
        [
            str(row[key]),
            f"{row['journeys']:,}",
            f"{row['converting_journeys']:,}",
            f"{row['conversions']:,.2f}",
            f"{row['conversion_share']:.1%}",
            f"{row['value']:,.2f}",
            f"{row['value_share']:.1%}",
        ]
        for row in result["credits"]
    ]
    headers = [report["level"], "journeys", "converting", "conversions", "share", "value", "value share"]
    _print_table(f"Attribution: {result['model']} by {report['level']} ({result['method']})", headers, cells)
    out.print(_header(report), markup=False)
    _print_notes(result["notes"])


def print_comparison(report: dict[str, Any]) -> None:
    """Conversions credited by every model, side by side."""
    key = "channel" if report["level"] == "channel" else "campaign_id"
    models = list(report["models"])
    credited = {
        name: {row[key]: row["conversions"] for row in result["credits"]} for name, result in report["models"].items()
    }
    cells = [
        [str(row[key]), f"{row['journeys']:,}", *(f"{credited[m].get(row[key], 0.0):,.2f}" for m in models)]
        for row in report["models"][models[-1]]["credits"]
    ]
    _print_table(f"Conversions credited by model, by {report['level']}", [report["level"], "journeys", *models], cells)
    out.print(_header(report), markup=False)
    _print_notes(sorted({note for result in report["models"].values() for note in result["notes"]}))


def attribution(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    model: Annotated[
        str,
        typer.Option(help="last, first, linear, position, time-decay, markov, shapley, or all (side by side)."),
    ] = "markov",
    by: Annotated[str, typer.Option("--by", help="channel or campaign.")] = "channel",
    since: DateOption = None,
    until: DateOption = None,
    lookback_days: Annotated[int, typer.Option(help="Touchpoints up to this many days before the conversion.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Credit conversions and value to channels or campaigns with an attribution model."""
    from strategy.attribution import attribution_report

    report = attribution_report(
        load_settings(),
        existing_client(client_id),
        model=model,
        level=by,
        since=since.date() if since else None,
        until=until.date() if until else None,
        lookback_days=lookback_days,
    ).to_dict()
    if as_json:
        emit_json(report)
    elif len(report["models"]) > 1:
        print_comparison(report)
    else:
        print_model(report, next(iter(report["models"].values())))


def register(app: typer.Typer) -> None:
    """Add ``xmo attribution`` to the ``xmo`` app."""
    app.command("attribution")(attribution)
