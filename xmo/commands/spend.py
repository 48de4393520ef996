"""``xmo spend …``: import daily spend per campaign or channel, and show what is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from core.layout import StorageLayout
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

spend_app = typer.Typer(help="Daily spend per campaign (or per channel for TV, print, out-of-home).")


def _layout() -> StorageLayout:
    return StorageLayout.from_settings(load_settings())


@spend_app.command("import")
def import_(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    file: Annotated[
        Path,
        typer.Argument(help="CSV or Parquet: date, campaign and/or channel, spend, impressions, clicks."),
    ],
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or parquet (default: from the file name).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import daily spend; a (date, campaign) already stored is replaced, and a bad file stores nothing."""
    from tracking.spend import import_spend_file

    existing_client(client_id)
    report = import_spend_file(_layout(), client_id, file, file_format)
    if as_json:
        emit_json(report.to_dict())
        return
    what = [f"{report.campaigns:,} campaign(s)"]
    if report.channels:
        what.append(f"{report.channels:,} channel(s) without campaigns ({report.channel_rows:,} row(s))")
    out.print(
        f"stored {report.rows:,} spend rows for {' and '.join(what)} from {report.first_date} to "
        f"{report.last_date} ({report.inserted:,} new, {report.replaced:,} replaced), total {report.total_spend:,.2f}",
        markup=False,
    )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


@spend_app.command("show")
def show(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The stored spend per campaign: days, first and last date, totals."""
    from tracking.spend import read_spend, spend_summary_records

    existing_client(client_id)
    rows = spend_summary_records(read_spend(_layout(), client_id))
    if as_json:
        emit_json({"client_id": client_id, "campaigns": rows})
        return
    if not rows:
        out.print(f"no spend stored for {client_id}: `xmo spend import {client_id} FILE`", markup=False)
        return
    table = Table("campaign", "channel", "level", "days", "first", "last", "spend", "impressions", "clicks")
    for r in rows:
        table.add_row(
            escape(str(r["campaign_id"])),
            escape(str(r["channel"] or "")),
            r["level"],
            f"{r['days']:,}",
            r["first_date"],
            r["last_date"],
            f"{r['spend']:,.2f}",
            "" if r["impressions"] is None else f"{r['impressions']:,}",
            "" if r["clicks"] is None else f"{r['clicks']:,}",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(spend_app, name="spend", no_args_is_help=True)
