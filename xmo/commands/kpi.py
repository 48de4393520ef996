"""``xmo kpi …``: import daily KPIs (outcomes and controls for the media-mix model), and show what is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from core.layout import StorageLayout
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

kpi_app = typer.Typer(help="Daily KPIs: outcomes (revenue, conversions) and controls, one row per date.")


def _layout() -> StorageLayout:
    return StorageLayout.from_settings(load_settings())


@kpi_app.command("import")
def import_(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: date plus numeric columns (revenue, conversions, …).")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or parquet (default: from the file name).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import daily KPIs; the file's columns replace stored values of its dates, and a bad file stores nothing."""
    from tracking.kpi import import_kpi_file

    existing_client(client_id)
    report = import_kpi_file(_layout(), client_id, file, file_format)
    if as_json:
        emit_json(report.to_dict())
        return
    out.print(
        f"stored {report.rows:,} KPI rows ({', '.join(report.columns)}) from {report.first_date} to "
        f"{report.last_date}: {report.inserted:,} new dates, {report.updated:,} updated",
        markup=False,
    )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


@kpi_app.command("show")
def show(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The stored KPI columns: days with values, first and last date, total and mean."""
    from tracking.kpi import kpi_summary_records, read_kpi

    existing_client(client_id)
    rows = kpi_summary_records(read_kpi(_layout(), client_id))
    if as_json:
        emit_json({"client_id": client_id, "columns": rows})
        return
    if not rows:
        out.print(f"no KPIs stored for {client_id}; import some with `xmo kpi import {client_id} FILE`", markup=False)
        return
    table = Table("column", "days", "first", "last", "total", "mean", "min", "max")
    for r in rows:
        table.add_row(
            escape(r["column"]),
            f"{r['days']:,}",
            r["first_date"] or "",
            r["last_date"] or "",
            f"{r['total']:,.2f}",
            "" if r["mean"] is None else f"{r['mean']:,.2f}",
            "" if r["min"] is None else f"{r['min']:,.2f}",
            "" if r["max"] is None else f"{r['max']:,.2f}",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(kpi_app, name="kpi", no_args_is_help=True)
