"""``xmo demo``: the whole pipeline on embedded defaults, then the API until Ctrl-C."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.layout import StorageLayout
from xmo.commands.common import load_settings
from xmo.console import err, out

if TYPE_CHECKING:
    from xmo.demo import DemoSummary
    from xmo.server_process import ServerProcess


def print_summary(summary: DemoSummary) -> None:
    """The short summary: model quality, the budget shift, the top creative per campaign."""
    m = summary.metrics
    out.print(
        f"[bold]Tracked[/bold] {summary.hits_sent:,} hits over {summary.days} days: "
        f"{summary.hits_accepted:,} stored, dropped {_drops(summary.drops)}"
    )
    if not summary.model_version:
        out.print(f"[bold]Model[/bold] {summary.model_name} has no champion now (see `xmo models {summary.client_id}`)")
    else:
        sessions = f" on {summary.dataset_rows:,} sessions" if summary.dataset_rows else ""
        out.print(
            f"[bold]Model[/bold] {summary.model_name} v{summary.model_version} (champion){sessions}: "
            f"test ROC AUC {m.get('roc_auc', float('nan')):.3f}, PR AUC {m.get('pr_auc', float('nan')):.3f}, "
            f"log loss {m.get('log_loss', float('nan')):.4f}"
        )
    budget = summary.budget
    if budget:
        moves = sorted(budget["campaigns"], key=lambda c: c["recommended_spend"] - c["baseline_spend"])
        down, up = moves[0], moves[-1]
        out.print(
            f"[bold]Budget[/bold] {budget['total']:,.0f}/week: move "
            f"{down['baseline_spend'] - down['recommended_spend']:,.0f} away from {down['campaign_id']} "
            f"({down['change_ratio'] - 1:+.0%}), {up['recommended_spend'] - up['baseline_spend']:,.0f} to "
            f"{up['campaign_id']} ({up['change_ratio'] - 1:+.0%}); expected conversions "
            f"{budget['expected_conversions_baseline']:,.1f} → {budget['expected_conversions_recommended']:,.1f}"
            f" ({budget['expected_lift']:+.1%})"
        )
    out.print("[bold]Top creative per campaign[/bold] (all devices):")
    for row in summary.creatives:
        if row["segment"] != "all":
            continue
        verdict = (
            f"chance to be best {row['chance_to_be_best']:.0%}"
            if row["decision"] == "run"
            else f"not enough data yet: ≈{row['more_sessions_needed']:,} more sessions needed"
        )
        out.print(
            f"  {row['campaign_id']}: {row['best_creative_id']} ({row['conversion_rate']:.2%} conversion, {verdict})"
        )
    right, total = summary.creative_agreement()
    if total:
        out.print(
            f"[bold]Against the simulator's truth[/bold]: {right} of {total} confident per-device creative "
            "picks are the truly best creative"
        )


def print_stage_times(stage_seconds: dict[str, float]) -> None:
    """How long each stage took, one stage a line (a list on one line wraps mid-item)."""
    if not stage_seconds:
        return
    width = max(len(name) for name in stage_seconds)
    err.print("[dim]stages:[/dim]")
    for name, seconds in stage_seconds.items():
        err.print(f"[dim]  {name:<{width}}  {seconds:>5.0f} s[/dim]", soft_wrap=True)


def _drops(drops: dict[str, int]) -> str:
    if not drops:
        return "none"
    return ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, n in sorted(drops.items(), key=lambda x: -x[1]))


def _print_access(server: ServerProcess, keys: dict[str, str]) -> None:
    out.print("[bold]xmo is serving[/bold] (Ctrl-C stops); the keys are shown once:")
    out.print(f"  dashboard:    {server.url}/ (sign in with the API key)")
    out.print(f"  API and docs: {server.url}/docs")
    out.print(f"  site key:     {keys['site_key']}")
    out.print(f"  API key:      {keys['api_key']}")
    out.print(f"  admin key:    {keys['admin_key']}")
    out.print(f"  pixel:        {server.url}/t.gif?k={keys['site_key']}&url=https://shop.example.com/")
    auth = f"-H 'Authorization: Bearer {keys['api_key']}'"
    out.print(f"  try:          curl {auth} {server.url}/v1/recommendations/creatives")


def demo(
    days: Annotated[int, typer.Option(min=7, max=365, help="Days of simulated traffic.")] = 30,
    visitors_per_day: Annotated[int, typer.Option(min=50, max=100_000, help="Sessions per day.")] = 400,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 7,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API afterwards.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after the summary.")] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Delete XMO_HOME's xmo data first.")] = False,
) -> None:
    """Run every stage on simulated traffic, print a summary, then serve the API."""
    from xmo.demo import (
        DemoOptions,
        create_demo_client,
        current_champion,
        demo_port,
        fresh_keys,
        prepare_home,
        run_pipeline,
        save_summary,
    )
    from xmo.server_process import ServerProcess

    settings = load_settings()
    options = DemoOptions(
        days=days, visitors_per_day=visitors_per_day, seed=seed, port=port, serve=not no_serve, reset=reset
    )
    saved = prepare_home(settings, options)
    layout = StorageLayout.from_settings(settings).ensure()
    log_file = layout.runtime_dir / "server.log"
    server = ServerProcess(settings.home, port=demo_port(options), log_file=log_file)
    if saved is not None:
        err.print(f"[dim]Reusing the finished demo in {settings.home} (--reset starts over).[/dim]")
        print_summary(current_champion(settings, saved))
        if no_serve:
            return
        keys = fresh_keys(settings)
        with server:
            _print_access(server, keys)
            _wait(server)
        return
    keys = create_demo_client(settings)
    with server:
        with err.status("starting") as status:

            def report(stage: str) -> None:
                status.update(stage)
                err.print(f"[dim]· {stage}[/dim]")

            summary = run_pipeline(settings, options, server, keys, report)
        save_summary(settings, summary)
        print_stage_times(summary.stage_seconds)
        print_summary(summary)
        if not no_serve:
            _print_access(server, keys)
            _wait(server)


def _wait(server: ServerProcess) -> Any:
    try:
        return server.wait()
    except KeyboardInterrupt:
        err.print("stopping")
        return None


def register(app: typer.Typer) -> None:
    """Add ``xmo demo`` to the app."""
    app.command("demo")(demo)
