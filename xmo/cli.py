"""The ``xmo`` command: each room's sub-commands assembled behind one front door."""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import version
from typing import Annotated

import typer
from typer.models import CommandInfo, TyperInfo

from core.errors import XmoError
from xmo.commands import (
    attribution,
    client_purge,
    clients,
    data,
    demo,
    erase,
    experiments,
    exports,
    goals,
    imports,
    industry,
    kpi,
    lift,
    links,
    maintain,
    mmm,
    models,
    privacy,
    recommend,
    report,
    retention,
    serve,
    spend,
    training,
)
from xmo.simulator import cli as simulator_cli

app = typer.Typer(
    name="xmo",
    help="Privacy-first campaign tracking and optimization.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion [bash|zsh|fish|powershell]
)

# The panels of `xmo --help`, in the order a newcomer meets them; every command and group is in one.
PANELS: dict[str, tuple[str, ...]] = {
    "Start here": ("demo", "client", "goal", "link", "serve"),
    "Data in": ("import", "spend", "kpi", "lift", "simulate", "compact", "dataset"),
    "Models": ("train", "models", "promote", "mmm", "experiment"),
    "Recommendations and reports": ("recommend", "report", "attribution", "benchmarks"),
    "Privacy and operations": (
        "erase",
        "subject-export",
        "export",
        "audit",
        "privacy",
        "retention",
        "maintain",
        "keys",
        "admin-key",
    ),
}
OTHER_PANEL = "Other"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"xmo {version('xmo')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Privacy-first campaign tracking and optimization."""


clients.register(app)
client_purge.register(app)
goals.register(app)
simulator_cli.register(app)
data.register(app)
imports.register(app)
spend.register(app)
kpi.register(app)
lift.register(app)
training.register(app)
models.register(app)
mmm.register(app)
experiments.register(app)
recommend.register(app)
report.register(app)
attribution.register(app)
links.register(app)
serve.register(app)
maintain.register(app)
privacy.register(app)
erase.register(app)
retention.register(app)
exports.register(app)
industry.register(app)
demo.register(app)


def _group_commands(typer_app: typer.Typer) -> None:
    """Put each registered command and group into its panel of ``PANELS`` (unlisted ones into "Other"), and order
    them panel by panel, so that the modules that register commands need not know about the help layout."""
    order = {name: (rank, place) for rank, names in enumerate(PANELS.values()) for place, name in enumerate(names)}
    panel_of = {name: panel for panel, names in PANELS.items() for name in names}
    last = (len(PANELS), 0)
    infos: list[CommandInfo | TyperInfo] = [*typer_app.registered_commands, *typer_app.registered_groups]
    for info in infos:
        info.rich_help_panel = panel_of.get(info.name or "", OTHER_PANEL)
    typer_app.registered_commands.sort(key=lambda info: order.get(info.name or "", last))
    typer_app.registered_groups.sort(key=lambda info: order.get(info.name or "", last))


_group_commands(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and a non-zero exit code, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # MLflow sets its own logger to INFO when it is first imported, which is after this point: its environment
    # variable is the setting it reads then (an operator's own value wins). Server workers inherit it.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    try:
        result = app(args=argv, prog_name="xmo", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("xmo: aborted\n")
        return 130
    except typer.TyperException as exc:  # usage errors: bad options, missing arguments, unknown commands
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        sys.stderr.write(f"xmo: {' '.join(message.split())}\n")
        return int(getattr(exc, "exit_code", 2))
    except XmoError as exc:
        sys.stderr.write(f"xmo: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("xmo: interrupted\n")
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
