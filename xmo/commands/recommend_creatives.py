"""``xmo recommend creatives``: which creative to run for which audience, and how to split traffic meanwhile."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Column, Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, out

ACTION_LABELS = {"scale": "scale", "keep": "keep", "pause": "pause", "keep_testing": "test"}


def _action(creative: dict[str, Any]) -> str:
    label = ACTION_LABELS.get(creative["action"], creative["action"])
    if creative["action"] == "keep_testing" and creative["more_sessions_needed"]:
        return f"{label} ≈{creative['more_sessions_needed']:,}"
    return str(label)


def print_creatives(report: dict[str, Any]) -> None:
    """One table per campaign (a row per segment and creative), then what to do in sentences.

    Action "test ≈N": keep testing, about N more sessions needed for this creative.
    """
    campaigns = {c["campaign_id"]: c for c in report["campaigns"]}
    for campaign_id, summary in campaigns.items():
        table = Table(
            report["segment_by"],
            Column("creative", no_wrap=True),
            "sessions",
            "rate",
            "95% CrI",
            "P(best)",
            "split",
            "action",
            title=campaign_id,
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
        for cell in (c for c in report["recommendations"] if c["campaign_id"] == campaign_id):
            for i, c in enumerate(cell["creatives"]):
                table.add_row(
                    cell["segment"] if i == 0 else "",
                    c["creative_id"],
                    f"{c['sessions']:,}",
                    f"{c['posterior_mean']:.2%}",
                    f"{c['ci_low']:.1%}–{c['ci_high']:.1%}",
                    f"{c['chance_to_be_best']:.0%}",
                    f"{c['share']:.0%}",
                    _action(c),
                    end_section=i == len(cell["creatives"]) - 1,
                )
        out.print(table)
        out.print(summary["sentence"])
        for cell in (c for c in report["recommendations"] if c["campaign_id"] == campaign_id):
            for sentence in cell["sentences"][1:]:  # pauses (the first sentence restates the table)
                out.print(f"  {sentence}")
        out.print()
    for warning in report["warnings"]:
        out.print(f"warning: {warning}")


def creatives(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    segment: Annotated[str, typer.Option(help="Segments: device, returning, region or channel.")] = "device",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which creative to run per campaign and segment, the traffic split while testing, and what to pause."""
    from strategy.creatives import SEGMENT_BYS, creative_report

    if segment not in SEGMENT_BYS:
        raise typer.BadParameter(f"use one of {', '.join(SEGMENT_BYS)}", param_hint="--segment")
    report = creative_report(load_settings(), existing_client(client_id), campaign, segment_by=segment).to_dict()
    if as_json:
        emit_json(report)
    else:
        print_creatives(report)
