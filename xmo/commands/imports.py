"""``xmo import events``: historical events from another tracker, through the edge into the spool."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tracking.edge import DropReason
from xmo.commands.common import load_settings, open_tenants
from xmo.console import emit_json, err, out

if TYPE_CHECKING:
    from tracking.importer import ImportReport

import_app = typer.Typer(help="Import historical data.", no_args_is_help=True)


def print_mapped_columns(mapped: dict[str, str]) -> None:
    """One line on stderr naming the file columns read under another name (nothing when there are none)."""
    if mapped:
        err.print(
            "mapped columns: " + ", ".join(f"{source} → {target}" for source, target in mapped.items()),
            markup=False,
            soft_wrap=True,
        )


def _summary(report: ImportReport) -> str:
    dropped = sum(report.dropped.values())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(report.dropped.items(), key=lambda x: -x[1]))
    summary = f"read {report.rows_read:,} rows: accepted {report.accepted:,}, dropped {dropped:,}"
    return f"{summary} ({reasons})" if reasons else summary


@import_app.command("events")
def events(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file (columns: see docs/events-and-import.md).")],
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import historical events (no 24 h limit; the client's retention applies) and print what was stored."""
    from core.errors import InvalidInput
    from tracking.columns import parse_map_options
    from tracking.importer import ImportFormat, import_events

    try:
        fmt = ImportFormat(file_format.lower()) if file_format else None
    except ValueError as exc:
        raise InvalidInput(f"unknown format {file_format!r}: use csv or parquet") from exc
    overrides = parse_map_options(column_map)
    settings = load_settings()
    label = escape(file.name)
    with err.status(f"importing {label}") as status:
        report = import_events(
            settings,
            client_id,
            file,
            fmt,
            on_chunk=lambda r: status.update(f"importing {label}: {_summary(r)}"),
            overrides=overrides,
        )
    print_mapped_columns(report.mapped_columns)
    if as_json:
        emit_json(report.to_dict())
    else:
        out.print(_summary(report))
        if report.ignored_columns:
            err.print(f"[dim]ignored columns: {escape(', '.join(report.ignored_columns))}[/dim]")
    too_old = report.dropped.get(DropReason.TOO_OLD.value, 0)
    if too_old:
        retention = open_tenants().get_client(client_id).retention_days
        err.print(
            f"{too_old:,} event(s) were older than {escape(client_id)}'s retention of {retention} days and were "
            f"dropped; to keep older history, raise it (`xmo client update {escape(client_id)} --retention-days N`, "
            "at most 3650) and import again.",
            markup=False,
        )
    if report.accepted == 0:
        err.print("xmo: no event was accepted; nothing was stored", markup=False)
        raise typer.Exit(code=1)
    if not as_json:
        err.print(
            "[dim]The events are in the spool; `xmo compact` (or a running server) moves them into the lake.[/dim]"
        )


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(import_app, name="import")
