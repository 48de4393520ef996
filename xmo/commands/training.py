"""``xmo train``: tune, fit, calibrate, evaluate, log and register a conversion model."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from core.errors import InvalidInput
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

REPORTED = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_at_10", "fit_seconds")


def train(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    dataset: Annotated[str | None, typer.Option("--dataset", help="Dataset id (default: the newest).")] = None,
    trials: Annotated[int | None, typer.Option(help="Tune with Optuna for this many trials (resumable).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop tuning after this many seconds.")] = None,
    engine: Annotated[str, typer.Option(help="local (default) or dask.")] = "local",
    dask_scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler (default: a LocalCluster).")
    ] = None,
    monotone: Annotated[
        bool, typer.Option("--monotone", help="More pageviews, clicks and time never lower the score.")
    ] = False,
    baselines: Annotated[
        bool, typer.Option("--baselines/--no-baselines", help="Fit logistic regression and HistGradientBoosting too.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train a LightGBM conversion model, log it to MLflow and register a new version."""
    from training.train import train_conversion_model

    if dask_scheduler and engine != "dask":
        raise InvalidInput("--dask-scheduler needs --engine dask")
    settings = load_settings()
    client = existing_client(client_id)
    with err.status("training") as status:
        result = train_conversion_model(
            settings,
            client.id,
            dataset,
            trials=trials,
            timeout=timeout,
            engine=engine,  # type: ignore[arg-type]  # checked by train_conversion_model
            dask_scheduler=dask_scheduler,
            monotone=monotone,
            baselines=baselines,
            progress=status.update,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(
        f"{result.model_name} version {result.model_version} ({', '.join(result.aliases)}), "
        f"run {result.run_id}, dataset {result.dataset_id}, calibration {result.calibration}"
    )
    if result.tuning:
        out.print(
            f"tuning: {result.tuning['n_trials']} trials ({result.tuning['n_pruned']} pruned), "
            f"best validation log loss {result.tuning['best_value']:.5f}"
        )
    models = {"lightgbm": result.metrics, **result.baselines}
    table = Table("test split", *models)
    for name in REPORTED:
        table.add_row(name, *(f"{m[name]:.4f}" if name in m else "" for m in models.values()))
    out.print(table)
    if "aliases" in result.to_dict() and "challenger" in result.aliases:
        err.print(f"[dim]`xmo promote {client.id}` makes it champion if it beats the current one.[/dim]")


def register(app: typer.Typer) -> None:
    """Add ``xmo train`` to the app."""
    app.command("train")(train)
