"""``xmo mmm …``: the media-mix model as a registered model: fit, promote, show, predict, decompose."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.amounts import amount
from core.errors import InvalidInput
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out
from xmo.output import FormatOption, JsonOption, OutputFormat, chosen_format, emit, id_column, print_table

mmm_app = typer.Typer(help="The media-mix model: fit and register it, promote versions, show what it says.")

ClientArg = Annotated[str, typer.Argument(help="Client id.")]
VersionOption = Annotated[str | None, typer.Option("--version", help="A registered version (default: the champion).")]


def _quiet() -> Any:
    from training.run_logging import quiet_mlflow

    return quiet_mlflow()


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def _num(value: Any, pattern: str | None = None) -> str:
    """``value`` by ``pattern``, or as an amount (whole above 100, three significant digits below); ``–`` if none."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return amount(value) if pattern is None else format(value, pattern)


def _holdout(weeks: int | None, days: int | None) -> tuple[int | None, str | None]:
    if weeks is not None and days is not None:
        raise InvalidInput("give --holdout-weeks or --holdout-days, not both")
    if weeks is not None:
        return weeks, "week"
    if days is not None:
        return days, "day"
    return None, None


@mmm_app.command("fit")
def fit(
    client_id: ClientArg,
    holdout_weeks: Annotated[
        int | None, typer.Option("--holdout-weeks", help="Hold out the last N weeks (weekly KPI; 0: none).")
    ] = None,
    holdout_days: Annotated[
        int | None, typer.Option("--holdout-days", help="Hold out the last N days (daily KPI; 0: none).")
    ] = None,
    kpi: Annotated[
        str | None, typer.Option("--kpi", help="KPI column to explain (default: revenue, else conversions).")
    ] = None,
    select: Annotated[
        bool, typer.Option("--select/--no-select", help="Choose adstock and saturation families by cross-validation.")
    ] = True,
    lift: Annotated[bool, typer.Option("--lift/--no-lift", help="Calibrate with the client's lift tests.")] = True,
    draws: Annotated[int, typer.Option("--draws", help="Bootstrap refits behind the intervals.")] = 100,
    register_anyway: Annotated[
        bool, typer.Option("--register-anyway", help="Register even when the champion or challenger is this fit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fit the media-mix model on the client's KPI and spend, validate it, log it to MLflow and register it.

    The first version becomes champion; later ones challenger, compared with the champion (effect shares, ROI,
    the allocation at today's total). A fit on the same data with the same settings is not registered again.
    """
    from training.mmm import fit_mmm

    periods, unit = _holdout(holdout_weeks, holdout_days)
    settings = load_settings()
    client = existing_client(client_id)
    if unit is not None:
        from features.media_mix_data import media_mix_inputs

        grain = "week" if media_mix_inputs(settings, client.id, kpi=kpi).period_days == 7 else "day"
        if grain != unit:
            cadence = "weekly" if grain == "week" else "daily"
            raise InvalidInput(f"the KPI is {cadence}: use --holdout-{grain}s, not --holdout-{unit}s")
    live = err.is_terminal
    with err.status("fitting the media-mix model") as status:
        result = fit_mmm(
            settings,
            client.id,
            kpi=kpi,
            holdout_periods=periods,
            select_families=select,
            lift=lift,
            n_draws=draws,
            register_anyway=register_anyway,
            progress=status.update if live else _ignore,
        )
    if as_json:
        emit_json(result.to_dict())
        return
    if not result.registered:
        out.print(
            f"identical to the {result.identical_to} ({result.model_name} version {result.version}: same data and "
            "settings): not registered (--register-anyway registers it)"
        )
        return
    report = result.fit_report
    unit_name = report.get("cadence", "period")
    out.print(
        f"{result.model_name} version {result.version} ({', '.join(result.aliases)}), run {result.run_id}: "
        f"{result.kpi} on {report.get('n_periods')} {unit_name}s {report.get('first_day')} to "
        f"{report.get('last_day')}, "
        f"{result.families['adstock']} adstock, {result.families['saturation']} saturation"
        + (f", {result.lift_tests_used} lift test(s)" if result.lift_tests_used else "")
    )
    _print_figures(report)
    _print_families(report)
    _print_calibration(report)
    _print_channels(report)
    if result.comparison is not None:
        _print_comparison(result.comparison)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    if "challenger" in result.aliases:
        err.print(f"[dim]`xmo mmm promote {client.id}` makes it champion if it passes the gate.[/dim]")


def _ignore(_message: str) -> None:
    """Passing status lines are for terminals only."""


def _print_figures(report: dict[str, Any]) -> None:
    table = Table("", "R²", "NRMSE", "MAPE", "coverage")
    for label, block in (("in sample", report.get("in_sample")), ("held out", report.get("holdout"))):
        if block:
            table.add_row(
                label if label != "held out" else f"held out ({block.get('n_periods')} periods)",
                _num(block.get("r2"), ".3f"),
                _num(block.get("nrmse"), ".3f"),
                _pct(block.get("mape")),
                _pct(block.get("coverage")),
            )
    from models.mmm_tables import cv_means

    mean = cv_means(report)
    if mean is not None:
        table.add_row(
            "cross-validation (mean of folds)",
            _num(mean.get("r2"), ".3f"),
            _num(mean.get("nrmse"), ".3f"),
            _pct(mean.get("mape")),
            _pct(mean.get("coverage")),
        )
    print_table(table)


def _print_calibration(report: dict[str, Any]) -> None:
    """Each lift test the fit used: what it measured and what the fitted model gives for its window."""
    tests = report.get("calibration") or []
    if not tests:
        return
    table = Table()
    id_column(table, "lift test")
    for header in ("measured", "± se", "model", "z"):
        table.add_column(header, justify="right")
    for t in tests:
        table.add_row(
            f"{t['channel']} {t['start_date']} – {t['end_date']}",
            _num(t.get("measured")),
            _num(t.get("standard_error")),
            _num(t.get("model")),
            _num(t.get("z"), "+.2f"),
        )
    print_table(table)


def _print_families(report: dict[str, Any]) -> None:
    """The adstock/saturation pairs side by side, as the cross-validation scored them."""
    cv = report.get("cross_validation")
    if not isinstance(cv, dict) or not cv.get("table"):
        return
    rows = cv["table"]
    out.print(f"families by {cv.get('criterion', 'cross-validation')}:")
    table = Table("adstock", "saturation", "CV MAPE", "NRMSE", "R²", "coverage", "")
    for row in rows:
        table.add_row(
            str(row.get("adstock")),
            str(row.get("saturation")),
            _pct(row.get("mape")),
            _num(row.get("nrmse"), ".3f"),
            _num(row.get("r2"), ".3f"),
            _pct(row.get("coverage")),
            "chosen" if row.get("chosen") else "",
        )
    print_table(table)


def _carry_over(channel: dict[str, Any]) -> str:
    params = channel.get("adstock_params")
    if isinstance(params, dict) and params:
        return ", ".join(f"{k} {_num(v, '.2f')}" for k, v in params.items())
    return f"decay {_num(channel.get('decay'), '.2f')}"


def _print_channels(report: dict[str, Any]) -> None:
    channels = (report.get("decomposition") or {}).get("channels", [])
    if not channels:
        return
    table = Table()
    id_column(table, "channel")
    for header in ("spend share", "effect share", "ROI", "carry-over", "half-saturation"):
        table.add_column(header, justify="right")
    for c in channels:
        table.add_row(
            c["channel"],
            _pct(c.get("spend_share")),
            _pct(c.get("effect_share")),
            _num(c.get("roi"), ".2f"),
            _carry_over(c),
            _num(c.get("half_saturation")),
        )
    print_table(table)


def _print_comparison(comparison: dict[str, Any]) -> None:
    if "channels" not in comparison:
        out.print(comparison.get("note", ""))
        return
    unit = "week" if comparison.get("period_days") == 7 else "day"
    out.print(
        f"against the champion (version {comparison['champion_version']}), allocation of today's total "
        f"{_num(comparison['total_per_period'])} per {unit}:"
    )
    table = Table()
    id_column(table, "channel")
    for header in ("effect share", "ROI", f"allocation per {unit}", "move"):
        table.add_column(header + " (champion → new)" if header != "move" else "move", justify="right")
    for c in comparison["channels"]:
        share, roi, allocation = c["effect_share"], c["roi"], c["allocation"]
        table.add_row(
            c["channel"],
            f"{_pct(share[0])} → {_pct(share[1])}",
            f"{_num(roi[0], '.2f')} → {_num(roi[1], '.2f')}",
            f"{_num(allocation[0])} → {_num(allocation[1])}",
            _pct(c["move_share"]),
        )
    print_table(table)
    accuracy = comparison.get("accuracy") or {}
    if accuracy.get("ratio") is not None:
        what = (
            "mean absolute error on shared held-out periods"
            if accuracy["method"] == "shared_holdout"
            else "held-out MAPE"
        )
        out.print(f"new / champion {what}: {accuracy['ratio']:.2f}×")


@mmm_app.command("promote")
def promote(
    client_id: ClientArg,
    version: Annotated[
        str | None, typer.Option("--version", help="Version to promote (default: the challenger).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even when the gate refuses (recorded).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a version champion if it predicts no worse and does not flip the advice without new evidence.

    The rules are in docs/mmm.md. Exit code 0 when promoted, 3 when the gate refused (reasons printed and recorded).
    """
    from training.mmm import promote_mmm

    settings = load_settings()
    client = existing_client(client_id)
    with _quiet(), err.status("comparing the version with the champion"):
        result = promote_mmm(settings, client.id, version=version, force=force)
    if as_json:
        emit_json(result.to_dict())
    else:
        verdict = {"promoted": "promoted to champion", "forced": "promoted to champion (forced)"}.get(
            result.decision, "NOT promoted"
        )
        out.print(f"{result.model_name} version {result.challenger_version}: {verdict}")
        for reason in result.reasons:
            out.print(f"  - {reason}")
    if not result.promoted:
        raise typer.Exit(code=3)


@mmm_app.command("show")
def show(
    client_id: ClientArg,
    version: VersionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The champion's (or a version's) fit figures, families, lift tests, channels and warnings; every version."""
    from strategy.mmm_report import mmm_summary

    settings = load_settings()
    client = existing_client(client_id)
    with _quiet():
        summary = mmm_summary(settings, client.id, version=version)
    if as_json:
        emit_json(summary)
        return
    label = "champion: version" if version is None else "version"
    out.print(
        f"{summary['model_name']} {label} {summary['version']} — {summary['kpi']} on "
        f"{summary['n_periods']} {summary['cadence']}s {summary['first_day']} to {summary['last_day']}, "
        f"{summary['families']['adstock']} adstock, {summary['families']['saturation']} saturation"
    )
    if summary["data_changed"]:
        err.print(f"[yellow]the client's data changed since this fit: `xmo mmm fit {client.id}` refits[/yellow]")
    _print_figures(summary)
    _print_families(summary)
    _print_calibration(summary)
    _print_channels({"decomposition": {"channels": summary["channels"]}})
    versions = Table()
    id_column(versions, "version")
    for header in ("aliases", "created", "kpi", "families", "held-out MAPE", "gate"):
        versions.add_column(header)
    for v in summary["versions"]:
        versions.add_row(
            v["version"],
            ", ".join(v["aliases"]),
            v["created"][:16].replace("T", " "),
            v["kpi"] or "",
            v["families"] or "",
            _pct(v["metrics"].get("holdout_mape")),
            v["promotion"] or "",
        )
    print_table(versions)
    for warning in summary["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)


def _records(frame: Any) -> list[dict[str, Any]]:
    rows = []
    for record in frame.to_dict(orient="records"):
        row = {}
        for key, raw in record.items():
            value = raw
            if key == "date" and hasattr(raw, "date"):
                value = str(raw.date())
            elif isinstance(raw, float) and not math.isfinite(raw):
                value = None
            row[key] = value
        rows.append(row)
    return rows


@mmm_app.command("predict")
def predict(
    client_id: ClientArg,
    since: Annotated[str | None, typer.Option("--since", help="First period (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last period (YYYY-MM-DD).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write CSV to this file instead of printing.")] = None,
    version: VersionOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fitted and held-out predictions per period with their intervals, the actual KPI beside them."""
    from strategy.mmm_report import mmm_predictions

    settings = load_settings()
    client = existing_client(client_id)
    chosen = chosen_format(fmt, as_json)
    with _quiet():
        frame = mmm_predictions(settings, client.id, since, until, version=version)
    rows = _records(frame)
    if out_file is not None:
        try:
            frame.assign(date=frame["date"].dt.date).to_csv(out_file, index=False)
        except OSError as exc:
            raise InvalidInput(f"cannot write {out_file}: {exc.strerror or exc}") from exc
        err.print(f"{len(frame)} periods written to {out_file}")
        return
    if emit(chosen, rows, rows, ["date", "actual", "predicted", "lower", "upper", "split"]):
        return
    if not rows:
        err.print("no period of the model's data lies between --since and --until")
        return
    table = Table("date", "actual", "predicted", "interval", "split")
    for r in rows:
        table.add_row(
            r["date"],
            _num(r["actual"]),
            _num(r["predicted"]),
            f"{_num(r['lower'])} – {_num(r['upper'])}",
            r["split"],
        )
    print_table(table)


@mmm_app.command("decompose")
def decompose(
    client_id: ClientArg,
    since: Annotated[str | None, typer.Option("--since", help="First period (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last period (YYYY-MM-DD).")] = None,
    per_period: Annotated[
        bool, typer.Option("--per-period", help="csv/json: every period's parts instead of the totals.")
    ] = False,
    version: VersionOption = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """The KPI split into baseline, controls and each channel's contribution, with intervals."""
    from strategy.mmm_report import mmm_decomposition

    settings = load_settings()
    client = existing_client(client_id)
    chosen = chosen_format(fmt, as_json)
    with _quiet():
        frame, totals = mmm_decomposition(settings, client.id, since, until, version=version)
    periods = _records(frame)
    parts = [
        {
            "name": p["name"],
            "kind": p["kind"],
            "total": p["total"],
            "share": p["share"],
            "low": (p["interval"] or [None, None])[0],
            "high": (p["interval"] or [None, None])[1],
        }
        for p in totals["parts"]
    ]
    if chosen is OutputFormat.JSON:
        emit_json({"totals": totals, "periods": periods})
        return
    if chosen is OutputFormat.CSV:
        emit(chosen, None, periods if per_period else parts, None)
        return
    out.print(
        f"{totals['kpi']} {totals['first_day']} to {totals['last_day']} ({totals['n_periods']} periods), "
        f"version {totals['version']}: predicted {_num(totals['predicted'])}, "
        f"{round(100 * totals['interval_level'])}% intervals"
    )
    table = Table()
    id_column(table, "part")
    for header in ("kind", "total", "share", "interval"):
        table.add_column(header, justify="right" if header != "kind" else "left")
    for p in parts:
        table.add_row(
            str(p["name"]),
            str(p["kind"]),
            _num(p["total"]),
            _pct(p["share"]),
            "–" if p["low"] is None else f"{_num(p['low'])} – {_num(p['high'])}",
        )
    print_table(table)


@mmm_app.command("curves")
def curves(
    client_id: ClientArg,
    points: Annotated[int, typer.Option("--points", help="Spend points per channel.")] = 40,
    version: VersionOption = None,
) -> None:
    """Each channel's response curve (JSON): spend per period, settled effect, interval, observed periods."""
    from strategy.mmm_report import mmm_curves

    settings = load_settings()
    client = existing_client(client_id)
    with _quiet():
        emit_json(mmm_curves(settings, client.id, points, version=version))


def register(app: typer.Typer) -> None:
    """Add ``xmo mmm`` to the app."""
    app.add_typer(mmm_app, name="mmm", no_args_is_help=True)
