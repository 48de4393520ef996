"""``xmo export``: hand a client its own data (or disclose it to a named recipient), audited."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from core.audit import CLI_ACTOR
from xmo.commands.common import load_settings
from xmo.console import emit_json, out


def export(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    out_dir: Annotated[Path, typer.Option("--out", help="A new (or empty) folder to write into.")],
    what: Annotated[
        list[str] | None,
        typer.Option(
            "--what", help="events, sessions, datasets, models, spend, kpi or lift; repeat for several (default: all)."
        ),
    ] = None,
    recipient: Annotated[
        str | None, typer.Option(help="A third party receiving the data (needs --legal-basis); omit for the client.")
    ] = None,
    legal_basis: Annotated[
        str | None, typer.Option(help="Why the third party may have it, e.g. 'NDA of 2026-03-01' or a court order.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export a client's data in open formats (Parquet, MLflow model folders) with a README and a manifest."""
    from privacy.export import export_client

    report = export_client(
        load_settings(), client_id, out_dir, what, actor=CLI_ACTOR, recipient=recipient, legal_basis=legal_basis
    )
    if as_json:
        emit_json(report.to_dict())
        return
    parts = ", ".join(f"{p.records:,} {p.unit}" for p in report.parts.values())
    out.print(f"exported {escape(parts)} of {report.client_id} into {escape(str(report.out_dir))}")
    if report.recipient:
        out.print(
            f"disclosed to {escape(report.recipient)} (legal basis: {escape(report.legal_basis or '')}); "
            "recorded in the audit log"
        )


def register(app: typer.Typer) -> None:
    """Add ``xmo export`` to the ``xmo`` app."""
    app.command("export")(export)
