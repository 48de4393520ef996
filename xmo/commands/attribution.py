"""``xmo attribution``: conversions and value credited per channel or campaign by an attribution model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from xmo.commands.common import existing_client, load_settings
from xmo.console import err, out
from xmo.output import FormatOption, JsonOption, chosen_format, emit, id_column, print_table

DateOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD in the client's time zone (inclusive).")
]


def _header(report: dict[str, Any]) -> str:
    window = f"{report['since'] or 'start'} to {report['until'] or 'now'}"
    return (
        f"{report['converting_journeys']:,} converting journeys of {report['journeys']:,} "
        f"(value {report['value']:,.2f}), {window}, lookback {report['lookback_days']} days"
    )


CSV_COLUMNS = ("journeys", "converting_journeys", "conversions", "conversion_share", "value", "value_share")


def credited(conversions: list[float]) -> list[str]:
    """A column of credited conversions: whole numbers as such (``233``) when every one is whole (last or first
    touch), else one decimal each (``230.1``, ``117.0``): attribution models split conversions."""
    if all(abs(c - round(c)) < 1e-9 for c in conversions):
        return [f"{round(c):,}" for c in conversions]
    return [f"{c:,.1f}" for c in conversions]


def _key(report: dict[str, Any]) -> str:
    return "channel" if report["level"] == "channel" else "campaign_id"


def _print_table(title: str, headers: list[str], cells: list[list[str]]) -> None:
    """A table whose first column holds ids (never cut); numbers right-aligned."""
    table = Table(title=title)
    id_column(table, headers[0])
    for header in headers[1:]:
        table.add_column(header, justify="right")
    for row in cells:
        table.add_row(Text(row[0]), *row[1:])
    print_table(table)


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"note: {note}", markup=False)


def print_model(report: dict[str, Any], result: dict[str, Any]) -> None:
    """One model's credits as a table, with its method and notes."""
    key = _key(report)
    conversions = credited([row["conversions"] for row in result["credits"]])
    cells = [
        [
            str(row[key]),
            f"{row['journeys']:,}",
            f"{row['converting_journeys']:,}",
            shown,
            f"{row['conversion_share']:.1%}",
            f"{row['value']:,.2f}",
            f"{row['value_share']:.1%}",
        ]
        for row, shown in zip(result["credits"], conversions, strict=True)
    ]
    headers = [report["level"], "journeys", "converting", "conversions", "share", "value", "value share"]
    _print_table(f"Attribution: {result['model']} by {report['level']} ({result['method']})", headers, cells)
    out.print(_header(report), markup=False)
    _print_notes(result["notes"])


def print_comparison(report: dict[str, Any]) -> None:
    """Conversions credited by every model, side by side."""
    key = _key(report)
    models = list(report["models"])
    credits = {
        name: {row[key]: row["conversions"] for row in result["credits"]} for name, result in report["models"].items()
    }
    rows = report["models"][models[-1]]["credits"]
    columns = [credited([credits[m].get(row[key], 0.0) for row in rows]) for m in models]
    cells = [[str(row[key]), f"{row['journeys']:,}", *(column[n] for column in columns)] for n, row in enumerate(rows)]
    _print_table(f"Conversions credited by model, by {report['level']}", [report["level"], "journeys", *models], cells)
    out.print(_header(report), markup=False)
    _print_notes(sorted({note for result in report["models"].values() for note in result["notes"]}))


def csv_rows(report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per model and channel (or campaign): the same columns whatever the model."""
    key = _key(report)
    rows = [{"model": name, **row} for name, result in report["models"].items() for row in result["credits"]]
    return rows, ["model", key, *CSV_COLUMNS]


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
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Credit conversions and value to channels or campaigns with an attribution model."""
    from strategy.attribution import attribution_report

    chosen = chosen_format(fmt, as_json)
    report = attribution_report(
        load_settings(),
        existing_client(client_id),
        model=model,
        level=by,
        since=since.date() if since else None,
        until=until.date() if until else None,
        lookback_days=lookback_days,
    ).to_dict()
    if emit(chosen, report, *csv_rows(report)):
        return
    if len(report["models"]) > 1:
        print_comparison(report)
    else:
        print_model(report, next(iter(report["models"].values())))


def register(app: typer.Typer) -> None:
    """Add ``xmo attribution`` to the ``xmo`` app."""
    app.command("attribution")(attribution)
