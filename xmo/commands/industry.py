"""``xmo benchmarks industry``: conversion rates and CPA pooled across opted-in clients (no client ids, P8)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from xmo.commands.common import load_settings, open_tenants
from xmo.console import emit_json, err, out

benchmarks_app = typer.Typer(help="Cross-client benchmarks that identify neither clients nor users.")


def _number(value: Any, pattern: str) -> str:
    return "—" if value is None else format(value, pattern)


def _interval(bounds: list[float | None] | None, pattern: str) -> str:
    if bounds is None:
        return "—"
    return f"{_number(bounds[0], pattern)} – {_number(bounds[1], pattern) if bounds[1] is not None else '∞'}"


@benchmarks_app.command("industry")
def industry(
    by: Annotated[str, typer.Option("--by", help="channel or device: the cell of each visitor's first session.")] = (
        "channel"
    ),
    epsilon: Annotated[
        float | None,
        typer.Option(
            help="Differential-privacy epsilon of Laplace noise on the counts (default: XMO_BENCHMARK_EPSILON; "
            "none: exact counts, protected by the thresholds).",
        ),
    ] = None,
    min_visitors: Annotated[
        int | None, typer.Option(help="Raise the visitors a cell needs (never below XMO_BENCHMARK_MIN_VISITORS).")
    ] = None,
    min_clients: Annotated[
        int | None, typer.Option(help="Raise the clients a cell needs (never below XMO_BENCHMARK_MIN_CLIENTS).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pooled conversion rate and CPA per channel or device; small or dominated cells are suppressed."""
    from core import audit
    from strategy.industry import industry_benchmarks, record_publication

    settings = load_settings()
    tenants = open_tenants()
    result = industry_benchmarks(
        settings,
        by=by,
        epsilon=epsilon if epsilon is not None else settings.benchmark_epsilon,
        min_visitors=min_visitors,
        min_clients=min_clients,
        tenants=tenants,
    )
    record_publication(tenants.engine, result, actor=audit.CLI_ACTOR, client_id=None)
    data = result.to_dict()
    if as_json:
        emit_json(data)
        return
    columns = [data["by"], "visitors", "converted", "sessions", "conversions", "CR", "CR 95% interval"]
    if data["by"] == "channel":
        columns += ["CPA", "CPA 95% interval"]
    table = Table(*columns)
    for cell in data["cells"]:
        row = [
            str(cell[data["by"]]),
            f"{cell['visitors']:,}",
            f"{cell['converted_visitors']:,}",
            f"{cell['sessions']:,}",
            f"{cell['conversions']:,}",
            _number(cell["conversion_rate"], ".2%"),
            _interval(cell["conversion_rate_interval"], ".2%"),
        ]
        if data["by"] == "channel":
            row += [_number(cell["cpa"], ",.2f"), _interval(cell["cpa_interval"], ",.2f")]
        table.add_row(*row)
    if data["cells"]:
        out.print(table)
    else:
        out.print("no cell meets the thresholds yet: nothing to publish", markup=False)
    t = data["thresholds"]
    noise = f"Laplace noise, epsilon {data['epsilon']:g}" if data["epsilon"] is not None else "no noise"
    err.print(
        f"[dim]{data['suppressed_cells']} cell(s) suppressed (fewer than {t['min_visitors']} visitors or "
        f"{t['min_clients']} clients, or two clients over {t['max_two_client_share']:.0%}); {noise}.[/dim]"
    )


def register(app: typer.Typer) -> None:
    """Add ``xmo benchmarks`` to the ``xmo`` app."""
    app.add_typer(benchmarks_app, name="benchmarks")
