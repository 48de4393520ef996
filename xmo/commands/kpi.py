"""``xmo kpi …``: import daily or weekly KPIs (outcomes and controls for the media-mix model), show what is stored, and
delete the rows of a date range."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from core.audit import CLI_ACTOR
from core.layout import StorageLayout
from xmo.commands.common import confirmed_deletion, existing_client, load_settings, open_tenants
from xmo.console import emit_json, err, out

if TYPE_CHECKING:
    from tracking.kpi import KpiDeletion

kpi_app = typer.Typer(help="Daily or weekly KPIs: outcomes (revenue, conversions) and controls, one row per date.")


def _layout() -> StorageLayout:
    return StorageLayout.from_settings(load_settings())


@kpi_app.command("import")
def import_(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: date plus numeric columns (revenue, conversions, …).")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or parquet (default: from the file name).")
    ] = None,
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FILE_COLUMN=COLUMN",
            help="Read a file column as an xmo column, e.g. --map 'Umsatz=revenue' (repeatable; wins over the "
            "built-in aliases in docs/events-and-import.md).",
        ),
    ] = None,
    cadence: Annotated[
        str | None,
        typer.Option(
            "--cadence",
            metavar="day|week",
            help="The rows' grain (default: detected from the dates; weekly rows are dated by their week's first day).",
        ),
    ] = None,
    ignore: Annotated[
        str | None,
        typer.Option(
            "--ignore",
            metavar="COLUMN,…",
            help="Leave these file columns out, e.g. the spend columns of a wide file: --ignore tv,search,social.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import daily or weekly KPIs; the file's columns replace stored values of its dates, and a bad file stores
    nothing.

    The grain (daily, or weekly on any week start) is detected from the dates and said on stderr; --cadence sets it.
    Every other numeric column is stored (and may serve the media-mix model as a control): leave spend columns out
    with --ignore.
    """
    from tracking.cadence import parse_cadence
    from tracking.columns import parse_map_options
    from tracking.kpi import import_kpi_file
    from tracking.wide_tables import split_names
    from xmo.commands.imports import print_mapped_columns

    overrides = parse_map_options(column_map)
    given = parse_cadence(cadence)
    existing_client(client_id)
    report = import_kpi_file(_layout(), client_id, file, file_format, overrides, given, split_names(ignore))
    print_mapped_columns(report.mapped_columns)
    err.print(report.grain.describe(), markup=False, highlight=False, soft_wrap=True)
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
    from tracking.kpi import kpi_cadence, kpi_summary_records, read_kpi

    existing_client(client_id)
    rows = kpi_summary_records(read_kpi(_layout(), client_id))
    cadence = kpi_cadence(_layout(), client_id).value
    if as_json:
        emit_json({"client_id": client_id, "cadence": cadence, "columns": rows})
        return
    if not rows:
        out.print(f"no KPIs stored for {client_id}; import some with `xmo kpi import {client_id} FILE`", markup=False)
        return
    title = "weekly rows" if cadence == "week" else "daily rows"
    table = Table("column", "rows", "first", "last", "total", "mean", "min", "max", title=title)
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


DayOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (inclusive; any date).")]


def _deletion_text(report: KpiDeletion) -> str:
    return f"{report.rows:,} KPI row(s) of {report.client_id} from {report.first_date} to {report.last_date}"


@kpi_app.command("delete")
def delete(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    since: DayOption = None,
    until: DayOption = None,
    everything: Annotated[bool, typer.Option("--all", help="Every stored row (no dates).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete the stored KPI rows (every column) dated --since to --until (either open), or --all; audited.

    Without --yes nothing is deleted: the command says how many rows would go. Any date may be named, also one
    an import would refuse (e.g. 9999-12-31), so stray rows can be removed.
    """
    from tracking.kpi import delete_kpi

    tenants = open_tenants()
    tenants.get_client(client_id)

    def run(preview: bool) -> KpiDeletion:
        return delete_kpi(
            _layout(),
            tenants.engine,
            client_id,
            since=since.date() if since else None,
            until=until.date() if until else None,
            everything=everything,
            actor=CLI_ACTOR,
            dry_run=preview,
        )

    report = confirmed_deletion(run, _deletion_text, dry_run=dry_run, yes=yes)
    if as_json:
        emit_json(report.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    dropped = f"; column(s) left empty go too: {', '.join(report.removed_columns)}" if report.removed_columns else ""
    out.print(f"{verb} {_deletion_text(report)}; {report.remaining:,} date(s) stay stored{dropped}", markup=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(kpi_app, name="kpi", no_args_is_help=True)
