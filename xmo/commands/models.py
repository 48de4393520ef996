"""``xmo models`` and ``xmo promote``: a client's model versions and the promotion gate."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out
from xmo.output import id_header, print_table


def models(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a client's model versions, their aliases and key test metrics."""
    from training.catalog import KEY_METRICS, list_versions
    from training.run_logging import quiet_mlflow

    settings = load_settings()
    client = existing_client(client_id)
    with quiet_mlflow():
        versions = list_versions(settings, client.id)
    if as_json:
        emit_json([v.to_dict() for v in versions])
        return
    table = Table(
        id_header("version"),
        "aliases",
        "created",
        id_header("dataset"),
        *(m.removeprefix("test_") for m in KEY_METRICS),
        "gate",
    )
    for v in versions:
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            v.created_at[:16],
            v.dataset_id or "",
            *(f"{v.metrics[m]:.4f}" if m in v.metrics else "" for m in KEY_METRICS),
            v.promotion or "",
        )
    print_table(table)


def promote(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    version: Annotated[str | None, typer.Option(help="Version to promote (default: the challenger).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even if it does not beat the champion.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a version champion if it beats the current champion on the same test split.

    Exit code 0 when promoted, 3 when the gate refused (the reasons are printed and recorded).
    """
    from training.promotion import promote as run_gate
    from training.run_logging import quiet_mlflow

    settings = load_settings()
    client = existing_client(client_id)
    with quiet_mlflow(), err.status("comparing the challenger with the champion"):
        result = run_gate(settings, client.id, version=version, force=force)
    if as_json:
        emit_json(result.to_dict())
    else:
        verdict = "promoted to champion" if result.promoted else "NOT promoted"
        out.print(f"{result.model_name} version {result.challenger_version}: {verdict}")
        for reason in result.reasons:
            out.print(f"  - {reason}")
    if not result.promoted:
        raise typer.Exit(code=3)


def register(app: typer.Typer) -> None:
    """Add ``xmo models`` and ``xmo promote`` to the app."""
    app.command("models")(models)
    app.command("promote")(promote)
