"""``xmo experiment …``: design, start, read, stop and list geo tests, on/off (time) tests and visitor holdouts."""

from __future__ import annotations

import csv
import io
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from core.audit import CLI_ACTOR
from core.errors import InvalidInput
from core.files import atomic_write
from xmo.commands.common import existing_client, load_settings, open_tenants
from xmo.console import emit_json, err, out
from xmo.output import FormatOption, JsonOption, OutputFormat, chosen_format, emit, id_column, print_table

if TYPE_CHECKING:
    from strategy.experiments.results import Analysis, Design, DesignRequest
    from tracking.experiments import Experiment

experiment_app = typer.Typer(
    help="Experiments: geo tests, on/off (time) tests and visitor holdouts — design, start, read, stop."
)

DESIGN_COLUMNS = (
    "type",
    "channel",
    "campaign_id",
    "kpi",
    "action",
    "start",
    "end",
    "weeks",
    "lift",
    "level",
    "power",
    "minimum_detectable_lift",
    "false_positive_rate",
    "n_simulations",
    "history_start",
    "history_end",
    "expected_kpi",
    "treatment",
    "control",
    "holdout_share",
    "units",
    "method",
    "warnings",
)
METRIC_COLUMNS = (
    "experiment_id",
    "metric",
    "incremental",
    "low",
    "high",
    "standard_error",
    "actual",
    "counterfactual",
    "relative_lift",
    "always_valid_low",
    "always_valid_high",
    "raw_low",
    "raw_high",
    "variance_reduction",
    "interim",
    "start",
    "end",
)
LIST_COLUMNS = (
    "experiment_id",
    "type",
    "channel",
    "campaign_id",
    "kpi",
    "action",
    "start_date",
    "end_date",
    "last_day",
    "weeks",
    "status",
    "treatment_regions",
    "control_regions",
    "holdout_share",
    "spend_change",
    "incremental",
    "low",
    "high",
    "lift_test_id",
    "note",
)
INTERIM = "interim: read before the planned end"

TypeOption = Annotated[str, typer.Option("--type", help="geo, time or holdout.")]
ChannelOption = Annotated[str, typer.Option("--channel", help="The channel whose spend the test changes.")]
CampaignOption = Annotated[str | None, typer.Option("--campaign", help="Only this campaign of the channel.")]
KpiOption = Annotated[
    str | None,
    typer.Option(help="conversions or revenue (tracked), or for a time test a stored KPI column (default: chosen)."),
]
LiftOption = Annotated[float, typer.Option(help="The relative lift to detect: 0.1 for +10 %.")]
WeeksOption = Annotated[int, typer.Option(help="Planned length in weeks (1-26).")]
StartOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD (default: chosen by the design).")
]
ShareOption = Annotated[float, typer.Option("--share", help="Holdout: share of visitors held out (0.01-0.5).")]
ActionOption = Annotated[
    str | None, typer.Option(help="raise or pause the channel in the treated group (geo: raise; time: pause).")
]
SpendChangeOption = Annotated[
    float | None,
    typer.Option(help="Planned change of the channel's spend over the test (for ROI and the media-mix hand-off)."),
]
ExcludeOption = Annotated[
    list[str] | None, typer.Option("--exclude-region", help="Geo: leave this region out (repeatable).")
]
SeedOption = Annotated[int, typer.Option(help="Seed of the random split and the simulations.")]


def _request(
    kind: str,
    channel: str,
    campaign: str | None,
    kpi: str | None,
    lift: float,
    weeks: int,
    start: datetime | None,
    share: float,
    action: str | None,
    spend_change: float | None,
    exclude: list[str] | None,
    seed: int,
    note: str | None = None,
) -> DesignRequest:
    from strategy.experiments.results import DesignRequest

    return DesignRequest(
        type=kind.strip().lower(),
        channel=channel,
        campaign_id=campaign,
        kpi=kpi,
        lift=lift,
        weeks=weeks,
        start=start.date() if start else None,
        holdout_share=share,
        action=action.strip().lower() if action else None,
        spend_change=spend_change,
        exclude_regions=tuple(exclude or ()),
        seed=seed,
        note=note,
    ).checked()


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.1%}" if signed else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _design_row(design: dict[str, Any]) -> dict[str, Any]:
    groups = design.get("groups") or {}
    row = {name: design.get(name) for name in DESIGN_COLUMNS}
    row["treatment"] = "; ".join(groups.get("treatment", []))
    row["control"] = "; ".join(groups.get("control", []))
    row["warnings"] = " | ".join(design.get("warnings") or [])
    return row


def _print_design(design: dict[str, Any]) -> None:
    """The design in words: groups, dates, the chance of detecting the lift and the smallest lift it can detect."""
    campaign = f" / campaign {design['campaign_id']}" if design.get("campaign_id") else ""
    lines = [
        f"{design['type']} test of {design['channel']}{campaign}: {design['action']} it, measured in {design['kpi']}",
        f"dates: {design['start']} to {design['end']} ({design['weeks']} week(s))",
    ]
    groups = design.get("groups") or {}
    for name in ("treatment", "control"):
        if groups.get(name):
            share = (design.get("group_shares") or {}).get(name)
            part = f" ({share:.0%} of the {design['kpi']})" if isinstance(share, (int, float)) else ""
            lines.append(f"{name} regions{part}: {', '.join(groups[name])}")
    if design.get("holdout_share") is not None:
        lines.append(f"holdout: {design['holdout_share']:.0%} of visitors (keyed by cookie, stable for the test)")
    if design.get("units") is not None:
        unit = "regions" if design["type"] == "geo" else "visitors expected" if design["type"] == "holdout" else "units"
        lines.append(f"{unit}: {design['units']:,}")
    if design["action"] == "pause" and design["type"] != "holdout":  # a pause is read as the drop it causes
        lines += [
            f"chance of detecting a {abs(design['lift']):.1%} drop: {_pct(design['power'])}",
            f"smallest drop it can detect (80 % chance): {abs(design['minimum_detectable_lift']):.1%}",
        ]
    else:
        lines += [
            f"chance of detecting a {_pct(design['lift'], True)} lift: {_pct(design['power'])}",
            f"smallest lift it can detect (80 % chance): {_pct(design['minimum_detectable_lift'], True)}",
        ]
    if design.get("false_positive_rate") is not None:
        lines.append(
            f"false alarms on past data with no change made: {_pct(design['false_positive_rate'])} "
            f"(at the {design['level']:.0%} level; {design['n_simulations']:,} simulated test(s))"
        )
    lines.append(
        f"expected {design['kpi']} of the tested group without any change: {_number(design.get('expected_kpi'))} "
        f"(history {design['history_start']} to {design['history_end']})"
    )
    for line in lines:
        out.print(line, markup=False)
    for note in design.get("notes") or []:
        out.print(f"note: {note}", markup=False)
    for warning in design.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


def _emit_design(design: dict[str, Any], fmt: OutputFormat, extra: dict[str, Any] | None = None) -> bool:
    document = {**(extra or {}), "design": design} if extra else design
    return emit(fmt, document, [_design_row(design)], DESIGN_COLUMNS)


@experiment_app.command("design")
def design(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    kind: TypeOption,
    channel: ChannelOption,
    campaign: CampaignOption = None,
    kpi: KpiOption = None,
    lift: LiftOption = 0.1,
    weeks: WeeksOption = 4,
    start: StartOption = None,
    share: ShareOption = 0.1,
    action: ActionOption = None,
    spend_change: SpendChangeOption = None,
    exclude_region: ExcludeOption = None,
    seed: SeedOption = 0,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Design a test on the client's own history: groups, dates, the chance of detecting the lift and the smallest
    lift it can detect (nothing is stored; `xmo experiment start` with the same options starts it)."""
    from strategy.experiments.service import design_experiment

    chosen = chosen_format(fmt, as_json)
    request = _request(
        kind, channel, campaign, kpi, lift, weeks, start, share, action, spend_change, exclude_region, seed
    )
    result: Design = design_experiment(load_settings(), existing_client(client_id), request)
    plan = result.to_dict()
    if not _emit_design(plan, chosen):
        _print_design(plan)


@experiment_app.command("start")
def start(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    kind: TypeOption,
    channel: ChannelOption,
    campaign: CampaignOption = None,
    kpi: KpiOption = None,
    lift: LiftOption = 0.1,
    weeks: WeeksOption = 4,
    start_day: Annotated[
        datetime | None,
        typer.Option("--start", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD (default: chosen by the design)."),
    ] = None,
    share: ShareOption = 0.1,
    action: ActionOption = None,
    spend_change: SpendChangeOption = None,
    exclude_region: ExcludeOption = None,
    seed: SeedOption = 0,
    note: Annotated[str | None, typer.Option(help="A note kept with the experiment (no personal data).")] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Design the test and store it as running (audited); refused, with nothing stored, when it overlaps a test of
    the same channel or a geo test has too few regions or too little chance of detecting the lift."""
    from strategy.experiments.service import start_experiment

    chosen = chosen_format(fmt, as_json)
    request = _request(
        kind, channel, campaign, kpi, lift, weeks, start_day, share, action, spend_change, exclude_region, seed, note
    )
    tenants = open_tenants()
    client = tenants.get_client(client_id)
    experiment = start_experiment(load_settings(), tenants.engine, client, request, actor=CLI_ACTOR)
    if chosen is OutputFormat.JSON:
        emit_json(experiment.to_dict())
        return
    if _emit_design(experiment.design, chosen):
        return
    out.print(
        f"started experiment {experiment.experiment_id} ({experiment.start_date} to {experiment.end_date})",
        markup=False,
    )
    _print_design(experiment.design)
    how = {
        "geo": f"change the spend of {experiment.channel} in the treatment regions only",
        "time": f"{experiment.action} {experiment.channel} for the planned weeks",
        "holdout": (
            f"exclude the holdout visitors from {experiment.channel} (pixel header, /v1/holdout, or "
            f"`xmo experiment audience {client_id} {experiment.experiment_id}`)"
        ),
    }[experiment.type]
    out.print(
        f"next: {how}; read it with `xmo experiment analyze {client_id} {experiment.experiment_id}`", markup=False
    )


def _metric_rows(analysis: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **metric,
            "experiment_id": analysis["experiment_id"],
            "interim": analysis["interim"],
            "start": analysis["start"],
            "end": analysis["end"],
        }
        for metric in analysis["metrics"].values()
    ]


def _range(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"{low:,.2f} – {high:,.2f}"


def _print_analysis(analysis: dict[str, Any]) -> None:
    """The read in words and a table of the metrics' incremental effects with their ranges."""
    level = f"{analysis['level']:.0%}"
    out.print(
        f"{analysis['experiment_id']}: {analysis['type']} test of {analysis['channel']}, read {analysis['start']} to "
        f"{analysis['end']} (planned end {analysis['planned_end']})",
        markup=False,
    )
    if analysis["interim"]:
        out.print(INTERIM, markup=False)
    table = Table(title=f"incremental effect of the test ({level} range)")
    id_column(table, "metric")
    headers = ("incremental", f"{level} range", "actual", "without the change", "lift")
    for header in headers:
        table.add_column(header, justify="right")
    always_valid = any(m.get("always_valid_low") is not None for m in analysis["metrics"].values())
    if always_valid:
        table.add_column("safe to check daily", justify="right")
    for name, m in analysis["metrics"].items():
        cells = [
            escape(name),
            _number(m["incremental"]),
            _range(m["low"], m["high"]),
            _number(m["actual"]),
            _number(m["counterfactual"]),
            _pct(m["relative_lift"], True),
        ]
        if always_valid:
            cells.append(_range(m.get("always_valid_low"), m.get("always_valid_high")))
        table.add_row(*cells)
    print_table(table)
    if analysis.get("roi") is not None:
        out.print(
            f"return per unit of spend change ({analysis['kpi']}): {analysis['roi']:,.3f} "
            f"({level} range {_range(analysis.get('roi_low'), analysis.get('roi_high'))}); spend change "
            f"{_number(analysis.get('spend_change'))}",
            markup=False,
        )
    for m in analysis["metrics"].values():
        if m.get("variance_reduction") is not None:
            out.print(
                f"{m['metric']}: the visitors' history (CUPED) cut the noise by {m['variance_reduction']:.0%}",
                markup=False,
            )
    if analysis.get("placebo_false_positive_rate") is not None:
        out.print(
            f"false alarms on past data with no change made: {analysis['placebo_false_positive_rate']:.0%} "
            f"of {analysis.get('n_placebos') or 0} placebo tests",
            markup=False,
        )
    ratio = analysis.get("sample_ratio")
    if ratio:
        state = "ok" if ratio.get("ok") else "MISMATCH"
        out.print(
            f"sample ratio: {state} (p = {ratio.get('p_value', float('nan')):.3g}; "
            f"{ratio.get('holdout_visitors', '?')} holdout and {ratio.get('treated_visitors', '?')} treated visitors)",
            markup=False,
        )
    for note in analysis.get("notes") or []:
        out.print(f"note: {note}", markup=False)
    for warning in analysis.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


@experiment_app.command("analyze")
def analyze(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    experiment_id: Annotated[str, typer.Argument(help="Experiment id (xmo experiment list).")],
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read a test up to yesterday: incremental conversions and revenue with their ranges, ROI, placebo checks
    (geo, time), CUPED and the sample-ratio check (holdout); interim before its planned end."""
    from strategy.experiments.service import analyze_experiment

    chosen = chosen_format(fmt, as_json)
    result: Analysis = analyze_experiment(load_settings(), existing_client(client_id), experiment_id)
    document = result.to_dict()
    if emit(chosen, document, _metric_rows(document), METRIC_COLUMNS):
        return
    _print_analysis(document)


@experiment_app.command("stop")
def stop(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    experiment_id: Annotated[str, typer.Argument(help="Experiment id (xmo experiment list).")],
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop a running test: read it up to its last day, store the result and hand it to the media-mix model as a
    lift test (xmo lift list), or say why not."""
    from strategy.experiments.service import stop_experiment

    chosen = chosen_format(fmt, as_json)
    tenants = open_tenants()
    client = tenants.get_client(client_id)
    experiment, result = stop_experiment(load_settings(), tenants.engine, client, experiment_id, actor=CLI_ACTOR)
    if chosen is OutputFormat.JSON:
        emit_json(experiment.to_dict())
        return
    document = result.to_dict()
    if emit(chosen, document, _metric_rows(document), METRIC_COLUMNS):
        return
    out.print(f"stopped experiment {experiment.experiment_id} (last day {experiment.last_day})", markup=False)
    _print_analysis(document)
    _print_handoff(experiment)


@experiment_app.command("cancel")
def cancel(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    experiment_id: Annotated[str, typer.Argument(help="Experiment id (xmo experiment list).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the cancelled experiment as JSON.")] = False,
) -> None:
    """Drop a test that has not begun (audited): kept as stopped with no day run, its days free for another."""
    from strategy.experiments.service import cancel_experiment

    tenants = open_tenants()
    client = tenants.get_client(client_id)
    experiment = cancel_experiment(load_settings(), tenants.engine, client, experiment_id, actor=CLI_ACTOR)
    if as_json:
        emit_json(experiment.to_dict())
        return
    out.print(f"cancelled experiment {experiment.experiment_id} before its first day", markup=False)


def _print_handoff(experiment: Experiment) -> None:
    handoff = (experiment.result or {}).get("handoff") or {}
    if experiment.lift_test_id:
        out.print(
            f"lift test {experiment.lift_test_id} stored for the media-mix model "
            f"(xmo lift list {experiment.client_id})",
            markup=False,
        )
    elif handoff.get("reason"):
        err.print(f"[yellow]not handed to the media-mix model:[/yellow] {escape(handoff['reason'])}", soft_wrap=True)


def _list_row(experiment: Experiment) -> dict[str, Any]:
    row = {name: value for name, value in experiment.to_dict().items() if name in LIST_COLUMNS}
    row["last_day"] = experiment.last_day.isoformat()
    metric = ((experiment.result or {}).get("metrics") or {}).get(experiment.kpi) or {}
    row.update(incremental=metric.get("incremental"), low=metric.get("low"), high=metric.get("high"))
    return row


@experiment_app.command("list")
def list_(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """The client's experiments, running and stopped, newest first, with each stopped test's result."""
    from strategy.experiments.service import list_experiments

    chosen = chosen_format(fmt, as_json)
    experiments = list_experiments(load_settings(), existing_client(client_id))
    rows = [_list_row(e) for e in experiments]
    if emit(chosen, {"client_id": client_id, "experiments": [e.to_dict() for e in experiments]}, rows, LIST_COLUMNS):
        return
    if not rows:
        out.print(
            f"no experiments for {client_id}: `xmo experiment design {client_id} --type geo --channel CHANNEL`",
            markup=False,
        )
        return
    table = Table(title=f"experiments of {escape(client_id)}")
    id_column(table, "experiment")
    for header in ("type\nchannel", "kpi", "days", "status", "incremental (range)", "lift test"):
        table.add_column(header, justify="right" if header.startswith("incremental") else "left")
    for e, r in zip(experiments, rows, strict=True):
        result = "–" if r["incremental"] is None else f"{r['incremental']:,.2f}\n{_range(r['low'], r['high'])}"
        table.add_row(
            escape(e.experiment_id),
            escape(f"{e.type} ({e.action})\n{e.channel}" + (f" / {e.campaign_id}" if e.campaign_id else "")),
            escape(e.kpi),
            f"{e.start_date}\n{e.last_day}",
            "cancelled" if e.cancelled else e.status,
            result,
            escape(e.lift_test_id or "–"),
        )
    print_table(table)


@experiment_app.command("show")
def show(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    experiment_id: Annotated[str, typer.Argument(help="Experiment id (xmo experiment list).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored experiment as JSON.")] = False,
) -> None:
    """One experiment: its plan (the design at start), status and, once stopped, its result and lift test."""
    from core.layout import StorageLayout
    from tracking.experiments import get_experiment

    existing_client(client_id)
    experiment = get_experiment(StorageLayout.from_settings(load_settings()), client_id, experiment_id)
    if as_json:
        emit_json(experiment.to_dict())
        return
    when = f" on {experiment.stopped_at:%Y-%m-%d}, last day {experiment.last_day}" if experiment.stopped_at else ""
    when = " (cancelled before its first day)" if experiment.cancelled else when
    out.print(f"experiment {experiment.experiment_id}: {experiment.status}{when}", markup=False)
    if experiment.note:
        out.print(f"note: {experiment.note}", markup=False)
    if experiment.spend_change is not None:
        out.print(f"planned spend change: {experiment.spend_change:,.2f}", markup=False)
    _print_design(experiment.design)
    if experiment.result:
        _print_analysis(experiment.result)
        _print_handoff(experiment)


@experiment_app.command("audience")
def audience(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    experiment_id: Annotated[str, typer.Argument(help="A holdout's experiment id.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the CSV here instead of stdout.", dir_okay=False)
    ] = None,
) -> None:
    """A holdout's visitors (CSV, one column visitor_id): exclude them from the channel (retargeting, email)."""
    from core.layout import StorageLayout
    from strategy.experiments.holdout import holdout_audience
    from strategy.experiments.service import holdout_key
    from strategy.sessions import client_sessions
    from tracking.experiments import get_experiment

    settings = load_settings()
    client = existing_client(client_id)
    experiment = get_experiment(StorageLayout.from_settings(settings), client_id, experiment_id)
    if experiment.type != "holdout":
        raise InvalidInput(
            f"experiment {experiment_id!r} is a {experiment.type} test: only a holdout has an audience to exclude"
        )
    visitors = holdout_audience(experiment, client_sessions(settings, client), holdout_key(settings, client))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["visitor_id"])
    writer.writerows([v] for v in visitors)
    if out_file is None:
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
        return
    atomic_write(out_file, buffer.getvalue().encode("utf-8"))
    err.print(f"wrote {len(visitors):,} holdout visitor(s) to {escape(str(out_file))}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(experiment_app, name="experiment", no_args_is_help=True)
