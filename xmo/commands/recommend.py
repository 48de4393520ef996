"""``xmo recommend …``: where to move budget and which creative to run."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, out

recommend_app = typer.Typer(help="Budget and creative recommendations.", no_args_is_help=True)


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


@recommend_app.command("budget")
def budget(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    total: Annotated[float, typer.Option(min=0.01, help="Budget to split across paid campaigns.")],
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    min_ratio: Annotated[float, typer.Option(min=0.0, max=1.0, help="Lowest share of today's spend.")] = 0.5,
    max_ratio: Annotated[float, typer.Option(min=1.0, help="Highest multiple of today's spend.")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Split a budget across campaigns to maximize expected conversions."""
    from training.recommend import Period, recommend_budget

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


@recommend_app.command("creatives")
def creatives(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which creative to run per campaign and device class."""
    from training.recommend import recommend_creatives

    table = recommend_creatives(load_settings(), existing_client(client_id), campaign)
    rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in table.to_dict("records")]
    if as_json:
        emit_json(rows)
    else:
        print_creatives(rows)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(recommend_app, name="recommend")
