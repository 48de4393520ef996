"""``xmo recommend budget``: where to move budget, what several totals would buy, or how much to spend for a target."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from core.amounts import amount, signed_amount
from xmo.commands.common import existing_client, load_settings
from xmo.console import err, out
from xmo.output import FormatOption, JsonOption, OutputFormat, chosen_format, emit, id_header, print_table

if TYPE_CHECKING:
    from core.settings import Settings

BOUND_MARK = {"upper": " ▲", "lower": " ▼"}  # how the table marks a campaign held by a bound


def _interval(pair: list[float], digits: int) -> str:
    return f"{pair[0]:,.{digits}f} – {pair[1]:,.{digits}f}"


def budget_table(plan: dict[str, Any]) -> Table:
    """A marketer's table: one baseline (today's split at this total), the recommendation, and bound marks."""
    outcome, period = plan["outcome"], plan["period"]
    label = plan.get("outcome_label") or outcome
    digits = 0 if outcome == "value" else 1
    baseline = plan["baseline"]
    table = Table(
        id_header("campaign" if plan["mode"] == "attributed" else "channel"),
        f"{baseline}",
        "recommended",
        "change",
        f"expected with {baseline}",
        "expected recommended (90% interval)",
        "marginal CPA" if outcome == "conversions" else "marginal ROAS",
        title=f"Budget {amount(plan['total'])} per {period} ({plan['mode']}, {label}; {_source(plan)}): "
        f"spend and {label} per {period}",
    )
    for c in sorted(plan["campaigns"], key=lambda c: c["change_ratio"]):
        marginal = c["marginal_cpa"] if outcome == "conversions" else c["marginal_roas"]
        table.add_row(
            c["campaign_id"],
            amount(c["baseline_spend"]),
            f"{amount(c['recommended_spend'])}{BOUND_MARK.get(c.get('at_bound') or '', '')}",
            f"{signed_amount(c['change'])} ({c['change_ratio'] - 1:+.0%})",
            f"{c['expected_outcome_baseline']:,.{digits}f}",
            f"{c['expected_outcome_recommended']:,.{digits}f} ({_interval(c['expected_outcome_interval'], digits)})",
            "–" if marginal is None else amount(marginal),
        )
    return table


def bound_legend(plan: dict[str, Any]) -> str | None:
    """The line explaining the table's bound marks, when a campaign carries one."""
    held = {c.get("at_bound") for c in plan["campaigns"]} - {None}
    if not held:
        return None
    parts = [
        f"{BOUND_MARK[b].strip()} at the {b} bound ({'--max-ratio' if b == 'upper' else '--min-ratio'})"
        for b in ("upper", "lower")
        if b in held
    ]
    return ", ".join(parts)


def _data_span(plan: dict[str, Any]) -> str:
    """``179 weeks`` for a weekly media-mix fit, else ``1253 days``."""
    fit = plan.get("fit") or {}
    if fit.get("cadence") == "week" and fit.get("n_periods"):
        return f"{fit['n_periods']:,} weeks"
    return f"{plan['days_of_data']:,} days"


def _source(plan: dict[str, Any]) -> str:
    source = plan.get("total_source")
    if source == "today":
        return "today's total"
    return "found for the target" if source == "target" else "the total given"


def print_budget(plan: dict[str, Any]) -> None:
    """The table, then the sentences and warnings."""
    print_table(budget_table(plan))
    legend = bound_legend(plan)
    if legend:
        out.print(legend)
    if plan["total_source"] != "today":
        out.print(f"Today you spend {amount(plan['current_total'])} per {plan['period']}.")
    for sentence in plan["sentences"]:
        out.print(sentence)
    forecast = plan.get("forecast")
    if forecast:
        out.print(forecast["sentence"])
        for note in forecast["notes"]:
            out.print(f"({note})")
    version = plan.get("model_version")
    model = f" (media-mix model version {version})" if version else ""
    if plan["mode"] == "media-mix" and not version:
        model = " (media-mix model fitted for this plan, not registered)"
    out.print(f"from {_data_span(plan)} of data{model}")
    for warning in plan["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {warning}")


def ladder_table(ladder: dict[str, Any]) -> Table:
    """One row per total: expected outcome, average and marginal CPA (ROAS), campaigns held by a bound."""
    outcome, period = ladder["outcome"], ladder["period"]
    digits = 0 if outcome == "value" else 1
    kind = "cpa" if outcome == "conversions" else "roas"
    window = ladder.get("forecast")
    columns = [f"total/{period}", f"{outcome}/{period} (90% interval)"]
    if window:
        columns.append(f"{window['kpi']} {window['start']} – {window['end']} (90% interval)")
    table = Table(
        *columns,
        f"average {kind.upper()}",
        f"marginal {kind.upper()}",
        "at max",
        "at min",
        title=f"What each total buys, split optimally (today: {amount(ladder['current_total'])} per {period})",
    )
    for row in ladder["rows"]:
        today = abs(row["total"] - ladder["current_total"]) <= 0.005 * ladder["current_total"]
        average, marginal = row[f"average_{kind}"], row[f"marginal_{kind}"]
        forecast = []
        if window:
            forecast = [f"{row['forecast_predicted']:,.{digits}f} ({_interval(row['forecast_interval'], digits)})"]
        table.add_row(
            amount(row["total"]) + (" (today)" if today else ""),
            f"{row['expected_outcome']:,.{digits}f} ({_interval(row['expected_outcome_interval'], digits)})",
            *forecast,
            "–" if average is None else amount(average),
            "–" if marginal is None else amount(marginal),
            str(row["campaigns_at_upper_bound"]),
            str(row["campaigns_at_lower_bound"]),
        )
    return table


def _checked(options: tuple[tuple[str, str | None, tuple[str, ...]], ...]) -> None:
    for name, value, allowed in options:
        if value is not None and value not in allowed:
            raise typer.BadParameter(f"use {', '.join(allowed)}", param_hint=name)


def budget(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    total: Annotated[
        float | None,
        typer.Option(help="Budget per period to split (default: today's total; with a target: the most to spend)."),
    ] = None,
    period: Annotated[str, typer.Option(help="day, week, month (30 days) or quarter (91 days, 13 weeks).")] = "week",
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
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Media-mix: the planned period's first day, after the data (default: the period after the data).",
        ),
    ] = None,
    controls: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Media-mix: future controls, CSV: date and one column per control, a row per planned day or week "
            "(default: carried forward from the same weeks a year earlier).",
        ),
    ] = None,
    ladder: Annotated[
        bool,
        typer.Option(
            "--ladder",
            help="What several totals would buy: --ladder (50–200 % of today's total) or --ladder 1000,2000,4000.",
        ),
    ] = False,
    totals: Annotated[
        str | None,
        typer.Argument(
            metavar="[TOTALS]", help="With --ladder: totals per period, comma-separated.", show_default=False
        ),
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the response curves to this PNG file.")] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Split a budget across campaigns to maximize expected conversions or value, or find the spend for a target."""
    from models.budget import CLI_OPTIONS
    from strategy.budget import ForwardOptions, budget_ladder, recommend_budget
    from strategy.forward_plan import read_controls_file
    from strategy.media_mix_source import registered_media_mix

    _checked(
        (
            ("--period", period, ("day", "week", "month", "quarter")),
            ("--mode", mode, ("attributed", "media-mix")),
            ("--outcome", outcome, ("conversions", "value")),
            ("--target-basis", target_basis, ("average", "marginal")),
            ("--fit-on", fit_on, ("sessions", "outcome")),
        )
    )
    chosen = chosen_format(fmt, as_json)
    common: dict[str, Any] = {
        "period": period,
        "min_ratio": min_ratio,
        "max_ratio": max_ratio,
        "mode": mode,
        "outcome": outcome,
        "fit_on": fit_on,
        "attribution": attribution,
        "kpi": kpi,
    }
    if mode == "media-mix":
        future = read_controls_file(controls) if controls is not None else None
        common["load_media_mix"] = registered_media_mix(_register_first_model)
        common["forward"] = ForwardOptions(start=start.date() if start else None, controls=future)
    elif start is not None or controls is not None:
        raise typer.BadParameter("--start and --controls go with --mode media-mix", param_hint="--start")
    if totals is not None and not ladder:
        raise typer.BadParameter(f"{totals!r}: totals go with --ladder (--ladder {totals})", param_hint="TOTALS")
    if ladder:
        if target_cpa is not None or target_roas is not None or plot is not None:
            raise typer.BadParameter("--ladder takes totals, not a target or --plot", param_hint="--ladder")
        if total is not None:
            totals = f"{totals},{total}" if totals else str(total)
        result = budget_ladder(load_settings(), existing_client(client_id), totals, **common).to_dict()
        if not emit(chosen, result, [_flat(r) for r in result["rows"]], None):
            print_table(ladder_table(result))
            for warning in result["warnings"]:
                err.print(f"[yellow]warning:[/yellow] {warning}")
        return
    recommendation = recommend_budget(
        load_settings(),
        existing_client(client_id),
        total,
        target_cpa=target_cpa,
        target_roas=target_roas,
        target_basis=target_basis,  # type: ignore[arg-type]
        **common,
    )
    if plot is not None:
        from models.curve_plots import save_figure

        save_figure(recommendation.figure(), plot)
    plan = recommendation.to_dict(CLI_OPTIONS)
    if not emit(chosen, plan, recommendation.rows(), None):
        print_budget(plan)
    if plot is not None and chosen is OutputFormat.TABLE:
        err.print(f"response curves written to {plot}")


def _register_first_model(settings: Settings, client_id: str, kpi: str | None) -> None:
    """Fit and register a client's first media-mix model for the plan (``xmo mmm fit`` with its defaults)."""
    from training.mmm import fit_mmm

    err.print(f"no media-mix model is registered for {client_id}: fitting one (as `xmo mmm fit {client_id}` does)…")
    fit_mmm(settings, client_id, kpi=kpi, progress=lambda message: err.print(f"  {message}"))


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    low, high = row["expected_outcome_interval"]
    flat = {k: v for k, v in row.items() if k not in ("expected_outcome_interval", "forecast_interval")}
    out = {
        "total": flat.pop("total"),
        "expected_outcome": flat.pop("expected_outcome"),
        "expected_outcome_low": low,
        "expected_outcome_high": high,
    }
    if "forecast_interval" in row:
        out |= {
            "forecast_predicted": flat.pop("forecast_predicted"),
            "forecast_low": row["forecast_interval"][0],
            "forecast_high": row["forecast_interval"][1],
        }
    return out | flat
