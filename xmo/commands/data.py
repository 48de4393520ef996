"""``xmo compact`` and ``xmo dataset …``: from the spool to the lake to training sets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from core.errors import InvalidInput
from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out
from xmo.output import id_header, print_table

dataset_app = typer.Typer(help="Build and list anonymized training sets.", no_args_is_help=True)

DateOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (inclusive).")]


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def compact(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Move spooled events into the Parquet lake."""
    from tracking.compactor import compact_all

    report = compact_all(load_settings())
    if as_json:
        emit_json(
            {
                "batches": report.batches,
                "events": report.events,
                "partitions": [{"client_id": c, "date": d, "events": n} for (c, d), n in report.partitions.items()],
            }
        )
    else:
        out.print(
            f"compacted {report.events:,} events from {report.batches:,} batches "
            f"into {len(report.partitions):,} partitions"
        )


@dataset_app.command("build")
def build(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    since: DateOption = None,
    until: DateOption = None,
    engine: Annotated[
        str, typer.Option(help="duckdb (embedded, default) or dask (a cluster; a LocalCluster when no scheduler).")
    ] = "duckdb",
    dask_scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786.")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="k-anonymity of region, device, browser and OS.")] = 10,
    attribution_window: Annotated[
        int | None,
        typer.Option(
            help="Label a session converted when its visitor converts within this many days (default: in the session)."
        ),
    ] = None,
    split_at_midnight: Annotated[
        bool | None,
        typer.Option(
            "--split-at-midnight/--no-split-at-midnight",
            help="Start a new session at midnight in the client's time zone (default: XMO_SESSION_SPLIT_AT_MIDNIGHT).",
        ),
    ] = None,
    valid_fraction: Annotated[
        float, typer.Option(help="Share of the newest sessions before test for validation.")
    ] = 0.15,
    test_fraction: Annotated[float, typer.Option(help="Share of the newest sessions for test.")] = 0.15,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest and privacy report as JSON.")] = False,
) -> None:
    """Build an anonymized, k-anonymous training set from the client's sessions."""
    from features.dataset import ENGINES, build_dataset, load_dataset, load_privacy_report

    if engine not in ENGINES[:2]:
        raise InvalidInput(f"unknown engine {engine!r}: use duckdb or dask")
    if dask_scheduler and engine != "dask":
        raise InvalidInput("--dask-scheduler needs --engine dask")
    settings = load_settings()
    client = existing_client(client_id)
    with err.status(f"building a training set for {client.id} with {engine}"):
        manifest = build_dataset(
            settings,
            client.id,
            since=_day(since),
            until=_day(until),
            engine=engine,  # type: ignore[arg-type]  # checked above
            dask_scheduler=dask_scheduler,
            k=k,
            attribution_window_days=attribution_window,
            split_at_midnight=split_at_midnight,
            valid_fraction=valid_fraction,
            test_fraction=test_fraction,
        )
    report = load_privacy_report(load_dataset(settings, client.id, manifest.dataset_id, verify=False))
    if as_json:
        emit_json({"manifest": manifest.to_dict(), "privacy_report": report.to_dict()})
        return
    quality = manifest.input_quality
    out.print(f"dataset_id: {manifest.dataset_id}")
    out.print(
        f"rows: {sum(manifest.row_counts.values()):,} "
        f"({', '.join(f'{name} {n:,}' for name, n in manifest.row_counts.items())})"
    )
    out.print(
        f"events: {quality['events_read']:,} read, {quality['events_used']:,} used; left out: "
        f"{quality['invalid_events']:,} invalid, {quality['future_events']:,} future-dated, "
        f"{quality['duplicate_events']:,} duplicates"
    )
    if manifest.attribution_window_days is not None:
        out.print(
            f"attribution window: {manifest.attribution_window_days} days "
            f"({manifest.sessions_with_open_window:,} sessions too recent for the whole window)"
        )
    out.print(f"privacy: {report.summary()}")


@dataset_app.command("show")
def show(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    dataset_id: Annotated[str | None, typer.Argument(help="Dataset id (default: the newest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a training set's manifest and privacy report (and check its digests)."""
    from features.dataset import load_dataset, load_privacy_report

    settings = load_settings()
    client = existing_client(client_id)
    dataset = load_dataset(settings, client.id, dataset_id)
    report = load_privacy_report(dataset)
    if as_json:
        emit_json({"manifest": dataset.manifest.to_dict(), "privacy_report": report.to_dict()})
        return
    m = dataset.manifest
    table = Table("field", "value", show_header=False)
    table.add_row("dataset_id", m.dataset_id)
    table.add_row("created", m.created_at)
    table.add_row("engine", m.engine)
    table.add_row("sessions", f"{m.first_session_date} .. {m.last_session_date} ({m.timezone})")
    table.add_row("rows", ", ".join(f"{name} {n:,}" for name, n in m.row_counts.items()))
    table.add_row(
        "label rate",
        ", ".join(f"{name} {rate:.2%}" if rate is not None else f"{name} -" for name, rate in m.label_rates.items()),
    )
    table.add_row("goals", ", ".join(g["name"] for g in m.goals) or "every goal event")
    table.add_row("attribution window", f"{m.attribution_window_days} days" if m.attribution_window_days else "session")
    table.add_row("split", f"valid from {m.valid_start}, test from {m.test_start}")
    table.add_row("files", f"{len(m.data_files)} (sha256 verified)")
    table.add_row("features hash", m.feature_definitions_hash[:16])
    out.print(table)
    out.print(f"privacy: {report.summary()}")


@dataset_app.command("list")
def list_command(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a client's training sets, newest first; a stale one (an erasure removed events it may hold) cannot
    train until a new set is built."""
    from features.dataset import list_datasets, stale_datasets

    settings = load_settings()
    client = existing_client(client_id)
    manifests = list_datasets(settings, client.id)
    stale = stale_datasets(settings, client.id)
    if as_json:
        emit_json([{**m.to_dict(), "stale": m.dataset_id in stale} for m in manifests])
        return
    table = Table(id_header("dataset_id"), "created", "rows", "label rate (train)", "status")
    for m in manifests:
        table.add_row(
            m.dataset_id,
            m.created_at[:19],
            f"{sum(m.row_counts.values()):,}",
            f"{m.label_rates.get('train', float('nan')):.2%}",
            "stale (erasure)" if m.dataset_id in stale else "ready",
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.command("compact")(compact)
    app.add_typer(dataset_app, name="dataset")
