"""``xmo recommend audiences``: which audience segments to bid up or exclude."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out


def _segment_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "dimension",
        "segment",
        "sessions (share)",
        "predicted rate",
        "vs average",
        "value/session",
        "observed rate (95% CI)",
        "suggestion",
        title=title,
    )
    for r in rows:
        table.add_row(
            escape(r["dimension"]),
            escape(r["segment"]),
            f"{r['sessions']:,} ({r['share']:.0%})",
            f"{r['predicted_rate']:.2%}",
            f"{r['predicted_lift']:.2f}×",
            f"{r['predicted_value_per_session']:,.2f}",
            f"{r['observed_rate']:.2%} ({r['observed_rate_low']:.2%}–{r['observed_rate_high']:.2%})",
            escape(r["suggestion"]),
        )
    return table


def print_audiences(result: dict[str, Any]) -> None:
    """A marketer's view: the top segments, then the ones to exclude."""
    overall = result["overall"]
    out.print(
        f"model {result['model']['name']} v{result['model']['version']} on {overall['sessions']:,} sessions: "
        f"predicted rate {overall['predicted_rate']:.2%}, observed {overall['observed_rate']:.2%}, "
        f"value/session {overall['predicted_value_per_session']:,.2f}",
        markup=False,
    )
    out.print(_segment_table("Segments by predicted conversion rate", result["segments"]))
    shown = {(r["dimension"], r["segment"]) for r in result["segments"]}
    excluded = [r for r in result["exclude"] if (r["dimension"], r["segment"]) not in shown]
    if excluded:
        out.print(_segment_table("Candidates to exclude", excluded))
    for warning in result["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


def _day(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint=option) from exc


def audiences(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    top: Annotated[int, typer.Option(min=1, max=500, help="How many segments to list.")] = 20,
    since: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD, client's time zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD, client's time zone).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Audience segments ranked by the champion model's predicted conversion rate: bid up, keep or exclude."""
    from strategy.audiences import recommend_audiences

    result = recommend_audiences(
        load_settings(),
        existing_client(client_id),
        since=_day(since, "--since"),
        until=_day(until, "--until"),
        top=top,
    ).to_dict()
    if as_json:
        emit_json(result)
    else:
        print_audiences(result)
