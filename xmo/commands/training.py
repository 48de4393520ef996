"""``xmo train``: tune, fit, calibrate, evaluate, log and register a conversion model."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from core.errors import InvalidInput
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

REPORTED = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_at_10", "fit_seconds")


def train(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    dataset: Annotated[str | None, typer.Option("--dataset", help="Dataset id (default: the newest).")] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            help="Run this many more Optuna trials (like Optuna's n_trials). The training set's study keeps "
            "every run's trials: --trials 10 then --trials 4 make 14."
        ),
    ] = None,
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
    register_anyway: Annotated[
        bool,
        typer.Option(
            "--register-anyway", help="Register the model even if the champion or challenger is the same model."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train a LightGBM conversion model, log it to MLflow and register a new version.

    A model identical to the champion or challenger (same training set and settings, or the same trees) is not
    registered again; the command says so and exits 0.
    """
    from training.train import train_conversion_model

    if dask_scheduler and engine != "dask":
        raise InvalidInput("--dask-scheduler needs --engine dask")
    settings = load_settings()
    client = existing_client(client_id)
    live = err.is_terminal  # a terminal gets a live status line; a log gets one line per trial
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
            register_anyway=register_anyway,
            progress=status.update if live else _ignore,
            trial_progress=status.update if live else _line,
            notice=_line,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    if not result.registered:
        out.print(result.not_registered_message())
        _print_tuning(result.tuning)
        return
    out.print(
        f"{result.model_name} version {result.model_version} ({', '.join(result.aliases)}), "
        f"run {result.run_id}, dataset {result.dataset_id}, calibration {result.calibration}"
    )
    _print_tuning(result.tuning)
    models = {"lightgbm": result.metrics, **result.baselines}
    table = Table("test split", *models)
    for name in REPORTED:
        table.add_row(name, *(f"{m[name]:.4f}" if name in m else "" for m in models.values()))
    out.print(table)
    if "challenger" in result.aliases:
        err.print(f"[dim]`xmo promote {client.id}` makes it champion if it beats the current one.[/dim]")


def _ignore(_message: str) -> None:
    """Passing status lines are for terminals only."""


def _line(message: str) -> None:
    """One line on stderr, never wrapped (logs and CI keep one line per event)."""
    err.print(message, soft_wrap=True)


def _print_tuning(tuning: dict[str, Any] | None) -> None:
    if not tuning:
        return
    from training.tuning import trial_counts

    counts = trial_counts(tuning["n_trials"], tuning["n_pruned"], tuning["n_failed"])
    out.print(
        f"tuning: study {tuning['study_name']}, {counts} ({tuning['trials_run']} run now); "
        f"best validation log loss {tuning['best_value']:.5f} (trial #{tuning['best_trial']})"
    )


def register(app: typer.Typer) -> None:
    """Add ``xmo train`` to the app."""
    app.command("train")(train)
