"""``xmo goal …``: which events count as a client's conversions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from features.goals import DEFAULT_RULE, GoalDefinition, GoalKind, GoalStore
from tracking.events import EventType
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, out
from xmo.output import id_header, print_table

goal_app = typer.Typer(help="Define which events count as a client's conversions (goals).", no_args_is_help=True)


def _store() -> GoalStore:
    return GoalStore.from_settings(load_settings())


def _describe(goal: GoalDefinition) -> str:
    """One line: what an event needs to reach ``goal``."""
    parts = [f"{goal.event_type} events"]
    if goal.match is not None:
        parts.append(f"named {goal.match!r}")
    if goal.path is not None:
        parts.append(f"on paths {goal.path!r}")
    if goal.min_value is not None:
        parts.append(f"with value >= {goal.min_value:g}")
    return " ".join(parts)


@goal_app.command("add")
def add(
    client_id: Annotated[str, typer.Argument(help="The client's id.")],
    name: Annotated[str, typer.Argument(help="Goal name: lower-case letters, digits, '-' and '_'.")],
    kind: Annotated[
        GoalKind | None,
        typer.Option(help="What the conversion means (default: the name if it is a kind, else custom)."),
    ] = None,
    event: Annotated[EventType, typer.Option("--event", help="The event type that counts.")] = EventType.GOAL,
    match: Annotated[
        str | None,
        typer.Option(help="Glob on the event's goal name (* any run, ? one character); default: the goal's name."),
    ] = None,
    path: Annotated[str | None, typer.Option(help="Glob on the page path, e.g. '/checkout/done*'.")] = None,
    min_value: Annotated[float | None, typer.Option(help="The event's value must be at least this.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the goal as JSON.")] = False,
) -> None:
    """Add a conversion goal to a client; events matching every condition given count as conversions."""
    goal = GoalDefinition.create(name, kind=kind, event_type=event, match=match, path=path, min_value=min_value)
    _store().add_goal(client_id, goal)
    if as_json:
        emit_json(goal.public())
        return
    out.print(f"goal {goal.name} ({goal.kind.value}) added to {client_id}: {_describe(goal)}", markup=False)


@goal_app.command("list")
def list_goals(
    client_id: Annotated[str, typer.Argument(help="The client's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a client's conversion goals, first match first."""
    existing_client(client_id)
    goals = _store().list_goals(client_id)
    if as_json:
        emit_json([goal.public() for goal in goals])
        return
    if not goals:
        out.print(f"no goals defined: {DEFAULT_RULE}", markup=False)
        return
    table = Table(id_header("name"), "kind", "event", "match", "path", "min_value")
    for goal in goals:
        table.add_row(
            *(
                Text(cell)
                for cell in (
                    goal.name,
                    goal.kind.value,
                    goal.event_type,
                    goal.match or "",
                    goal.path or "",
                    "" if goal.min_value is None else f"{goal.min_value:g}",
                )
            )
        )
    print_table(table)


@goal_app.command("remove")
def remove(
    client_id: Annotated[str, typer.Argument(help="The client's id.")],
    name: Annotated[str, typer.Argument(help="The goal to remove.")],
) -> None:
    """Remove a client's conversion goal."""
    _store().remove_goal(client_id, name)
    out.print(f"goal {name.strip().lower()} removed from {client_id}", markup=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(goal_app, name="goal")
