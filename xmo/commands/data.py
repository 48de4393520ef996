"""``xmo compact`` and ``xmo dataset …``: from the spool to the lake to training sets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, err, out

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
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Build an anonymized training set from the client's sessions."""
    from features.dataset import build_dataset

    settings = load_settings()
    client = existing_client(client_id)
    with err.status(f"building a training set for {client.id}"):
        manifest = build_dataset(settings, client.id, since=_day(since), until=_day(until))
    if as_json:
        emit_json(manifest.to_dict())
        return
    out.print(f"dataset_id: {manifest.dataset_id}")
    out.print(
        f"rows: {sum(manifest.row_counts.values()):,} "
        f"({', '.join(f'{k} {v:,}' for k, v in manifest.row_counts.items())})"
    )


@dataset_app.command("list")
def list_command(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a client's training sets, newest first."""
    from features.dataset import list_datasets

    settings = load_settings()
    client = existing_client(client_id)
    manifests = list_datasets(settings, client.id)
    if as_json:
        emit_json([m.to_dict() for m in manifests])
        return
    table = Table("dataset_id", "created", "rows", "label rate (train)")
    for m in manifests:
        table.add_row(
            m.dataset_id,
            m.created_at[:19],
            f"{sum(m.row_counts.values()):,}",
            f"{m.label_rates.get('train', float('nan')):.2%}",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.command("compact")(compact)
    app.add_typer(dataset_app, name="dataset")
