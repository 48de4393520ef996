"""``xmo train``: fit, evaluate, log and register a conversion model."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

REPORTED = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_at_10")


def train(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    dataset: Annotated[str | None, typer.Option("--dataset", help="Dataset id (default: the newest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train a LightGBM conversion model, log it to MLflow and register a new version."""
    from training.train import train_conversion_model

    settings = load_settings()
    client = existing_client(client_id)
    with err.status("training") as status:
        result = train_conversion_model(settings, client.id, dataset, progress=status.update)
    if as_json:
        emit_json(
            {
                "client_id": result.client_id,
                "dataset_id": result.dataset_id,
                "run_id": result.run_id,
                "model_name": result.model_name,
                "model_version": result.model_version,
                "aliases": result.aliases,
                "metrics": result.metrics,
            }
        )
        return
    out.print(
        f"{result.model_name} version {result.model_version} ({', '.join(result.aliases)}), "
        f"run {result.run_id}, dataset {result.dataset_id}"
    )
    table = Table("metric (test split)", "value")
    for name in REPORTED:
        table.add_row(name, f"{result.metrics[name]:.4f}")
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``xmo train`` to the app."""
    app.command("train")(train)
