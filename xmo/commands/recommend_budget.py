"""``xmo recommend budget``: where to move budget, or how much to spend for a target CPA or ROAS."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out


def _interval(pair: list[float], digits: int) -> str:
    return f"{pair[0]:,.{digits}f}–{pair[1]:,.{digits}f}"


def print_budget(plan: dict[str, Any]) -> None:
    """A marketer's table of a budget recommendation, then the sentences and warnings."""
    outcome, period = plan["outcome"], plan["period"]
    digits = 0 if outcome == "value" else 1
    table = Table(
        "campaign" if plan["mode"] == "attributed" else "channel",
        f"spend/{period} now",
        "recommended",
        "change",
        f"{outcome} now",
        "expected (90% interval)",
        "marginal CPA" if outcome == "conversions" else "marginal ROAS",
        title=f"Budget {plan['total']:,.0f} per {period} ({plan['mode']}, {outcome})",
    )
    for c in sorted(plan["campaigns"], key=lambda c: c["recommended_spend"] / c["current_spend"]):
        marginal = c["marginal_cpa"] if outcome == "conversions" else c["marginal_roas"]
        table.add_row(
            c["campaign_id"],
            f"{c['current_spend']:,.0f}",
            f"{c['recommended_spend']:,.0f}",
            f"{c['recommended_spend'] / c['current_spend'] - 1:+.0%}",
            f"{c['expected_outcome_current']:,.{digits}f}",
            f"{c['expected_outcome_recommended']:,.{digits}f} ({_interval(c['expected_outcome_interval'], digits)})",
            "—" if marginal is None else f"{marginal:,.2f}",
        )
    out.print(table)
    for sentence in plan["sentences"]:
        out.print(sentence)
    out.print(f"from {plan['days_of_data']} days of data")
    for warning in plan["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {warning}")


def budget(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    total: Annotated[
        float | None, typer.Option(help="Budget per period to split (with a target: the most to spend).")
    ] = None,
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    min_ratio: Annotated[float, typer.Option(min=0.0, help="Lowest multiple of today's spend per campaign.")] = 0.5,
    max_ratio: Annotated[float, typer.Option(min=0.0, help="Highest multiple of today's spend per campaign.")] = 2.0,
    target_cpa: Annotated[
        float | None, typer.Option(help="Spend as much as keeps the CPA at or below this (outcome conversions).")
    ] = None,
    target_roas: Annotated[
        float | None, typer.Option(help="Spend as much as keeps the ROAS at or above this (outcome value).")
    ] = None,
    target_basis: Annotated[
        str, typer.Option(help="average (the plan's CPA/ROAS) or marginal (of the last unit spent).")
    ] = "average",
    mode: Annotated[str, typer.Option(help="attributed (tracked campaigns) or media-mix (KPI series).")] = "attributed",
    outcome: Annotated[
        str | None,
        typer.Option(help="conversions or value (default conversions; media-mix: the KPI's; --target-roas: value)."),
    ] = None,
    fit_on: Annotated[
        str, typer.Option(help="Fit curves on sessions (× outcome per session, less noisy) or on the outcome.")
    ] = "sessions",
    attribution: Annotated[
        str | None, typer.Option(help="Attribution model crediting conversions (default: each session's own).")
    ] = None,
    kpi: Annotated[str | None, typer.Option(help="KPI column of the media-mix mode.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the response curves to this PNG file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Split a budget across campaigns to maximize expected conversions or value, or find the spend for a target."""
    from strategy.budget import recommend_budget

    for name, value, allowed in (
        ("--period", period, ("day", "week", "month")),
        ("--mode", mode, ("attributed", "media-mix")),
        ("--outcome", outcome, ("conversions", "value")),
        ("--target-basis", target_basis, ("average", "marginal")),
        ("--fit-on", fit_on, ("sessions", "outcome")),
    ):
        if value not in allowed and not (name == "--outcome" and value is None):
            raise typer.BadParameter(f"use {', '.join(allowed)}", param_hint=name)
    if total is None and target_cpa is None and target_roas is None:
        raise typer.BadParameter("give --total, --target-cpa or --target-roas", param_hint="--total")
    result = recommend_budget(
        load_settings(),
        existing_client(client_id),
        total,
        period=period,  # type: ignore[arg-type]
        min_ratio=min_ratio,
        max_ratio=max_ratio,
        mode=mode,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        target_cpa=target_cpa,
        target_roas=target_roas,
        target_basis=target_basis,  # type: ignore[arg-type]
        fit_on=fit_on,  # type: ignore[arg-type]
        attribution=attribution,
        kpi=kpi,
    )
    if plot is not None:
        from models.curve_plots import save_figure

        save_figure(result.figure(), plot)
    plan = result.to_dict()
    if as_json:
        emit_json(plan)
    else:
        print_budget(plan)
        if plot is not None:
            err.print(f"response curves written to {plot}")
