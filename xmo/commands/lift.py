"""``xmo lift …``: import lift tests (experiments) that calibrate the media-mix model, list and delete them."""

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
from xmo.output import FormatOption, JsonOption, chosen_format, emit, id_column, print_table

if TYPE_CHECKING:
    from tracking.lift import LiftDeletion

lift_app = typer.Typer(help="Lift tests (geo tests, conversion lift, holdouts) that calibrate the media-mix model.")


def _layout() -> StorageLayout:
    return StorageLayout.from_settings(load_settings())


@lift_app.command("import")
def import_(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet, one test a row: channel, start, end, kpi, incremental_kpi or roi, standard_error "
            "or ci_lower and ci_upper (ci_level), spend, spend_change, test_id, campaign, method, note "
            "(docs/lift-tests.md)."
        ),
    ],
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or parquet (default: from the file name).")
    ] = None,
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FILE_COLUMN=COLUMN",
            help="Read a file column as a lift-test column, e.g. --map 'iROAS=roi' (repeatable).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import lift tests, checked against the stored spend and KPIs; a stored test_id is replaced, a bad file stores
    nothing."""
    from tracking.columns import parse_map_options
    from tracking.lift import import_lift_file
    from xmo.commands.imports import print_mapped_columns

    overrides = parse_map_options(column_map)
    tenants = open_tenants()
    tenants.get_client(client_id)
    report = import_lift_file(
        _layout(), tenants.engine, client_id, file, actor=CLI_ACTOR, fmt=file_format, overrides=overrides
    )
    print_mapped_columns(report.mapped_columns)
    if as_json:
        emit_json(report.to_dict())
        return
    out.print(
        f"stored {report.tests:,} lift test(s) of {', '.join(report.channels)} ({report.inserted:,} new, "
        f"{report.replaced:,} replaced): {', '.join(report.test_ids)}",
        markup=False,
    )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


@lift_app.command("list")
def list_(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """The stored lift tests: window, result in both measures with standard errors, spend (csv and json: every
    stored field, the method and note too)."""
    from tracking.lift import LIST_COLUMNS, lift_records, read_lift

    chosen = chosen_format(fmt, as_json)
    existing_client(client_id)
    rows = lift_records(read_lift(_layout(), client_id), channel)
    if emit(chosen, {"client_id": client_id, "tests": rows}, rows, LIST_COLUMNS):
        return
    if not rows:
        out.print(f"no lift tests stored for {client_id}: `xmo lift import {client_id} FILE`", markup=False)
        return
    table = Table(title=f"lift tests of {escape(client_id)} (results ± standard error)")
    id_column(table, "test")
    for header in ("channel\nkpi", "window", "incremental", "ROI", "spend"):
        table.add_column(header, justify="left" if header in ("channel\nkpi", "window") else "right")
    for r in rows:
        table.add_row(
            escape(str(r["test_id"])),
            escape(str(r["channel"]) + (f" / {r['campaign_id']}" if r["campaign_id"] else "") + f"\n{r['kpi']}"),
            f"{r['start_date']}\n{r['end_date']}",
            f"{r['incremental_kpi']:,.2f}\n±\u00a0{r['incremental_kpi_se']:,.2f}",
            f"{r['roi']:,.3f}\n±\u00a0{r['roi_se']:,.3f}",
            f"{r['spend']:,.2f}" + (f"\nchange {r['spend_change']:,.2f}" if r["spend_change"] != r["spend"] else ""),
        )
    print_table(table)


DayOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (inclusive).")]


def _deletion_text(report: LiftDeletion) -> str:
    ids = ", ".join(report.test_ids[:10]) + (" …" if len(report.test_ids) > 10 else "")
    return f"{report.tests:,} lift test(s) of {report.client_id} ({ids})"


@lift_app.command("delete")
def delete(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    test_id: Annotated[str | None, typer.Option("--test-id", help="Only this test.")] = None,
    since: DayOption = None,
    until: DayOption = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel's tests.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every stored test (no other filter).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete stored lift tests by id, by dates (tests whose window overlaps them) and channel, or --all; audited.

    Without --yes nothing is deleted: the command says which tests would go.
    """
    from tracking.lift import delete_lift

    tenants = open_tenants()
    tenants.get_client(client_id)

    def run(preview: bool) -> LiftDeletion:
        return delete_lift(
            _layout(),
            tenants.engine,
            client_id,
            test_id=test_id,
            since=since.date() if since else None,
            until=until.date() if until else None,
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
    out.print(f"{verb} {_deletion_text(report)}; {report.remaining:,} test(s) stay stored", markup=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(lift_app, name="lift", no_args_is_help=True)
