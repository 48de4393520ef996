"""The ``xmo`` command: each room's sub-commands assembled behind one front door."""

from __future__ import annotations

import logging
import sys

import click
import typer

from core.errors import XmoError
from xmo.commands import clients, data, demo, recommend, serve, simulate, training

app = typer.Typer(
    name="xmo",
    help="Privacy-first campaign tracking and optimization.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
clients.register(app)
simulate.register(app)
data.register(app)
training.register(app)
recommend.register(app)
serve.register(app)
demo.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and a non-zero exit code, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = app(args=argv, prog_name="xmo", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("xmo: aborted\n")
        return 130
    except click.ClickException as exc:
        sys.stderr.write(f"xmo: {exc.format_message()}\n")
        return exc.exit_code
    except XmoError as exc:
        sys.stderr.write(f"xmo: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("xmo: interrupted\n")
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
