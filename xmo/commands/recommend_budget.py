"""``xmo recommend budget``: where to move budget."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, out


def print_budget(plan: dict[str, Any]) -> None:
    """A marketer's table of a budget recommendation."""
    table = Table(
        "campaign",
        f"spend/{plan['period']} now",
        "recommended",
        "change",
        "conversions now",
        "expected (90% interval)",
        title=f"Budget {plan['total']:,.0f} per {plan['period']}",
    )
    for c in sorted(plan["campaigns"], key=lambda c: c["change_ratio"]):
        low, high = c["expected_conversions_interval"]
        table.add_row(
            c["campaign_id"],
            f"{c['baseline_spend']:,.0f}",
            f"{c['recommended_spend']:,.0f}",
            f"{c['change_ratio'] - 1:+.0%}",
            f"{c['expected_conversions_baseline']:,.1f}",
            f"{c['expected_conversions_recommended']:,.1f} ({low:,.1f}–{high:,.1f})",
        )
    out.print(table)
    out.print(
        f"expected conversions: {plan['expected_conversions_baseline']:,.1f} → "
        f"{plan['expected_conversions_recommended']:,.1f} ({plan['expected_lift']:+.1%}), "
        f"from {plan['days_of_data']} days of data"
    )


def budget(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    total: Annotated[float, typer.Option(min=0.01, help="Budget to split across paid campaigns.")],
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    min_ratio: Annotated[float, typer.Option(min=0.0, max=1.0, help="Lowest share of today's spend.")] = 0.5,
    max_ratio: Annotated[float, typer.Option(min=1.0, help="Highest multiple of today's spend.")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Split a budget across campaigns to maximize expected conversions."""
    from training.budget_recommendation import Period, recommend_budget

    if period not in ("day", "week", "month"):
        raise typer.BadParameter("use day, week or month", param_hint="--period")
    period_value: Period = period  # type: ignore[assignment]
    plan = recommend_budget(
        load_settings(),
        existing_client(client_id),
        total,
        period=period_value,
        min_ratio=min_ratio,
        max_ratio=max_ratio,
    ).to_dict()
    if as_json:
        emit_json(plan)
    else:
        print_budget(plan)
