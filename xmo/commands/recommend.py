"""``xmo recommend …``: where to move budget, which creative to run, which audiences to bid on."""

from __future__ import annotations

import typer

from xmo.commands import recommend_audiences, recommend_budget, recommend_creatives

recommend_app = typer.Typer(help="Budget, creative and audience recommendations.", no_args_is_help=True)
recommend_app.command("budget")(recommend_budget.budget)
recommend_app.command("creatives")(recommend_creatives.creatives)
recommend_app.command("audiences")(recommend_audiences.audiences)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(recommend_app, name="recommend")
