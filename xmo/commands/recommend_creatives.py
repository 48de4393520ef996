"""``xmo recommend creatives``: which creative to run for which audience."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, out


def print_creatives(rows: list[dict[str, Any]]) -> None:
    """A marketer's table of creative recommendations."""
    table = Table("campaign", "segment", "creative", "conv. rate (95% CrI)", "chance best", "decision")
    for r in rows:
        decision = "run" if r["decision"] == "run" else f"not enough data yet (≈{r['more_sessions_needed']:,} more)"
        table.add_row(
            r["campaign_id"],
            r["segment"],
            r["best_creative_id"],
            f"{r['conversion_rate']:.2%} ({r['ci_low']:.2%}–{r['ci_high']:.2%})",
            f"{r['chance_to_be_best']:.0%}",
            decision,
        )
    out.print(table)


def creatives(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which creative to run per campaign and device class."""
    from training.creative_recommendation import recommend_creatives

    table = recommend_creatives(load_settings(), existing_client(client_id), campaign)
    rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in table.to_dict("records")]
    if as_json:
        emit_json(rows)
    else:
        print_creatives(rows)
