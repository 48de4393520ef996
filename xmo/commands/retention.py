"""``xmo retention apply``: delete data older than each client's retention period (``xmo serve`` does it too)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from core.audit import CLI_ACTOR
from xmo.commands.common import load_settings
from xmo.console import emit_json, out

retention_app = typer.Typer(help="Per-client retention of raw events.", no_args_is_help=True)


@retention_app.command("apply")
def apply(
    client_id: Annotated[str | None, typer.Option("--client", help="Only this client (default: every client).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete each client's data dated before today (UTC) minus its retention days; counts are audited."""
    from privacy.retention import apply_retention

    report = apply_retention(load_settings(), client_id=client_id, actor=CLI_ACTOR, dry_run=dry_run)
    if as_json:
        emit_json(report.to_dict())
        return
    stores = sorted({name for c in report.clients for name in c.deleted})
    if report.clients:
        table = Table("client", "retention days", "keeps from", *stores, "total")
        for c in report.clients:
            counts = [f"{c.deleted[s]:,}" if s in c.deleted else "" for s in stores]
            table.add_row(c.client_id, f"{c.retention_days:,}", c.cutoff.isoformat(), *counts, f"{c.total:,}")
        out.print(table)
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {report.total:,} item(s) past retention for {len(report.clients):,} client(s)")
    skipped = sorted({name for c in report.clients for name in c.not_counted})
    if skipped:
        out.print(f"not counted in a dry run: {', '.join(skipped)}")


def register(app: typer.Typer) -> None:
    """Add ``xmo retention`` to the ``xmo`` app."""
    app.add_typer(retention_app, name="retention")
