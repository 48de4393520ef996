"""``xmo spend …``: import daily or weekly spend per campaign or channel, show what is stored, and delete rows."""

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
    from tracking.spend import SpendDeletion

spend_app = typer.Typer(help="Daily or weekly spend per campaign (or per channel for TV, print, out-of-home).")


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
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FILE_COLUMN=COLUMN",
            help="Read a file column as an xmo column, e.g. --map 'Kosten=spend' (repeatable; wins over the "
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
    wide: Annotated[
        str | None,
        typer.Option(
            "--wide",
            metavar="COLUMN,…",
            help="The file has one spend column per channel (as Robyn, PyMC-Marketing and Meridian take it): "
            "these columns, e.g. --wide tv,search,social; its other columns are ignored.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import daily or weekly spend; a (date, campaign) already stored is replaced, and a bad file stores nothing.

    The grain (daily, or weekly on any week start) is detected from the dates and said on stderr; --cadence sets it.
    A wide file (date, revenue, tv, search, …) is imported twice: `xmo spend import … --wide tv,search` and
    `xmo kpi import … --ignore tv,search`.
    """
    from tracking.cadence import parse_cadence
    from tracking.columns import parse_map_options
    from tracking.spend import import_spend_file
    from tracking.wide_tables import split_names
    from xmo.commands.imports import print_mapped_columns

    overrides = parse_map_options(column_map)
    given = parse_cadence(cadence)
    existing_client(client_id)
    report = import_spend_file(_layout(), client_id, file, file_format, overrides, given, split_names(wide))
    print_mapped_columns(report.mapped_columns)
    err.print(report.grain.describe(), markup=False, highlight=False, soft_wrap=True)
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
    """The stored spend per campaign: cadence, days covered, first and last date, totals."""
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
    weekly = [str(r["campaign_id"]) for r in rows if r["cadence"] != "day"]
    if weekly:
        table.caption = f"weekly rows (7 days each): {', '.join(weekly)}"
    out.print(table)


DayOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (inclusive; any date).")]


def _deletion_text(report: SpendDeletion) -> str:
    campaigns = ", ".join(report.campaigns[:10]) + (" …" if len(report.campaigns) > 10 else "")
    return (
        f"{report.rows:,} spend row(s) of {report.client_id} from {report.first_date} to {report.last_date} "
        f"({campaigns}), total {report.total_spend:,.2f}"
    )


@spend_app.command("delete")
def delete(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    since: DayOption = None,
    until: DayOption = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign id (as written).")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel (channel-level rows too).")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every stored row (no other filter).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete stored spend rows by date range, campaign and channel (at least one, or --all); audited.

    Without --yes nothing is deleted: the command says how many rows would go. Any date may be named, also one
    an import would refuse (e.g. 0001-01-01), so stray rows can be removed.
    """
    from tracking.spend import delete_spend

    tenants = open_tenants()
    tenants.get_client(client_id)

    def run(preview: bool) -> SpendDeletion:
        return delete_spend(
            _layout(),
            tenants.engine,
            client_id,
            since=since.date() if since else None,
            until=until.date() if until else None,
            campaign_id=campaign,
            channel=channel,
            everything=everything,
            actor=CLI_ACTOR,
            dry_run=preview,
        )

    report = confirmed_deletion(run, _deletion_text, dry_run=dry_run, yes=yes)
    if as_json:
        emit_json(report.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {_deletion_text(report)}; {report.remaining:,} row(s) stay stored", markup=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(spend_app, name="spend", no_args_is_help=True)
