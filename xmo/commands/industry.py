"""``xmo benchmarks industry``: conversion rates and CPA pooled across opted-in clients (no client ids, P8)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from xmo.commands.common import load_settings, open_tenants
from xmo.console import err, out
from xmo.output import FormatOption, JsonOption, chosen_format, emit, id_column, print_table, spread, with_range

benchmarks_app = typer.Typer(help="Cross-client benchmarks that identify neither clients nor users.")


_COUNTS = ("visitors", "converted_visitors", "sessions", "conversions")


def _number(value: Any, pattern: str) -> str:
    return "—" if value is None else format(value, pattern)


def csv_rows(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per published cell; CPA columns only by channel (spend is booked per channel)."""
    columns = [data["by"], *_COUNTS, "conversion_rate", "conversion_rate_low", "conversion_rate_high"]
    if data["by"] == "channel":
        columns += ["cpa", "cpa_low", "cpa_high"]
    return [spread(cell) for cell in data["cells"]], columns


def cells_table(data: dict[str, Any]) -> Table:
    """The published cells for people: counts, conversion rate and (by channel) CPA, each with its range."""
    level = f"{data['confidence']:.0%}"
    table = Table()
    id_column(table, data["by"])
    for header in ("visitors", "converted", "sessions", "conversions", f"conversion rate ({level} range)"):
        table.add_column(header)
    if data["by"] == "channel":
        table.add_column(f"CPA ({level} range)")
    for cell in data["cells"]:
        row: list[RenderableType] = [
            Text(str(cell[data["by"]])),
            *(f"{cell[name]:,}" for name in _COUNTS),
            with_range(cell["conversion_rate"], cell["conversion_rate_interval"], ".2%"),
        ]
        if data["by"] == "channel":
            row.append(with_range(cell["cpa"], cell["cpa_interval"], ",.2f"))
        table.add_row(*row)
    return table


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
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pooled conversion rate and CPA per channel or device; small or dominated cells are suppressed."""
    from core import audit
    from strategy.industry import industry_benchmarks, record_publication

    chosen = chosen_format(fmt, as_json)
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
    if emit(chosen, data, *csv_rows(data)):
        return
    if data["cells"]:
        print_table(cells_table(data))
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
