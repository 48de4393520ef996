"""``xmo recommend creatives``: which creative to run for which audience, and how to split traffic meanwhile."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from xmo.commands.common import existing_client, load_settings
from xmo.console import err, out
from xmo.output import FormatOption, JsonOption, chosen_format, emit, id_column, print_table, with_range

ACTION_LABELS = {"scale": "scale", "keep": "keep", "pause": "pause", "keep_testing": "keep testing"}
CSV_COLUMNS = (
    "campaign_id",
    "segment",
    "decision",
    "creative_id",
    "sessions",
    "conversions",
    "rate",
    "posterior_mean",
    "ci_low",
    "ci_high",
    "chance_to_be_best",
    "expected_loss",
    "relative_loss",
    "lift_vs_leader",
    "share",
    "action",
    "more_sessions_needed",
)


def _more_sessions(creative: dict[str, Any]) -> str:
    """How many more sessions a creative under test needs (blank for a decided one)."""
    if creative["action"] == "keep_testing" and creative["more_sessions_needed"]:
        return f"≈{creative['more_sessions_needed']:,}"
    return ""


def campaign_table(report: dict[str, Any], campaign_id: str) -> Table:
    """One campaign: a row per segment and creative, its rate with a 95 % range, chance to be best, split, action."""
    table = Table(title=Text(campaign_id), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    id_column(table, report["segment_by"])
    id_column(table, "creative")
    for header in ("sessions", "conversions", "conversion rate (95% range)", "chance it is best", "split", "action"):
        table.add_column(header)
    table.add_column("more sessions needed")
    for cell in (c for c in report["recommendations"] if c["campaign_id"] == campaign_id):
        for i, c in enumerate(cell["creatives"]):
            table.add_row(
                Text(str(cell["segment"]) if i == 0 else ""),
                Text(c["creative_id"]),
                f"{c['sessions']:,}",
                f"{c['conversions']:,}",
                with_range(c["posterior_mean"], [c["ci_low"], c["ci_high"]], ".1%"),
                f"{c['chance_to_be_best']:.0%}",
                f"{c['share']:.0%}",
                ACTION_LABELS.get(c["action"], c["action"]),
                _more_sessions(c),
                end_section=i == len(cell["creatives"]) - 1,
            )
    return table


def print_creatives(report: dict[str, Any]) -> None:
    """One table per campaign, what its rates mean, then what to do in sentences; warnings on stderr."""
    for summary in report["campaigns"]:
        campaign_id = summary["campaign_id"]
        print_table(campaign_table(report, campaign_id))
        out.print(summary["shrinkage"], markup=False, style="dim")
        out.print(summary["sentence"], markup=False)
        for cell in (c for c in report["recommendations"] if c["campaign_id"] == campaign_id):
            for sentence in cell["sentences"][1:]:  # pauses (the first sentence restates the table)
                out.print(f"  {sentence}", markup=False)
        out.print()
    for warning in report["warnings"]:
        err.print(f"warning: {warning}", markup=False)


def csv_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per campaign, segment and creative, with the cell's decision."""
    return [
        {"campaign_id": cell["campaign_id"], "segment": cell["segment"], "decision": cell["decision"], **creative}
        for cell in report["recommendations"]
        for creative in cell["creatives"]
    ]


def creatives(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    segment: Annotated[str, typer.Option(help="Segments: device, returning, region or channel.")] = "device",
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which creative to run per campaign and segment, the traffic split while testing, and what to pause."""
    from strategy.creatives import SEGMENT_BYS, creative_report

    if segment not in SEGMENT_BYS:
        raise typer.BadParameter(f"use one of {', '.join(SEGMENT_BYS)}", param_hint="--segment")
    chosen = chosen_format(fmt, as_json)
    report = creative_report(load_settings(), existing_client(client_id), campaign, segment_by=segment).to_dict()
    if not emit(chosen, report, csv_rows(report), CSV_COLUMNS):
        print_creatives(report)
