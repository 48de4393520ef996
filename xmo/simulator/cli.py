"""``xmo simulate``: seeded traffic for a client, into the spool (or over HTTP), with spend and ground truth.

``run_simulation`` does the work and returns what happened; ``simulate_command`` is the thin Typer layer
that prints it. Register with ``register(app)`` or ``app.command("simulate")(simulate_command)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.errors import InvalidInput
from core.layout import StorageLayout, check_client_id
from core.settings import Settings
from core.tenants import Client, Tenants
from tracking.collector import Collector
from tracking.spend import upsert_spend
from xmo.commands.common import load_settings
from xmo.console import emit_json, err, out
from xmo.simulator.http import HttpReport, pixel_endpoint, send_via_http
from xmo.simulator.runner import SimulationReport, ingest_traffic
from xmo.simulator.traffic import Traffic, simulate
from xmo.simulator.truth import write_truth
from xmo.simulator.world import World, build_world


@dataclass(frozen=True, eq=False)
class SimulationOutcome:
    """What ``xmo simulate`` did."""

    client_id: str
    world: World
    traffic: Traffic
    generate_s: float
    spool: SimulationReport | None  # hits fed straight into the spool
    http: HttpReport | None  # hits sent to a collector over HTTP
    spend_rows: int
    truth_path: Path | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no identifiers, no keys)."""
        sessions = self.traffic.sessions
        return {
            "client_id": self.client_id,
            "seed": self.world.seed,
            "days": self.world.days,
            "start": self.world.start.isoformat(),
            "domain": self.traffic.domain,
            "sessions": len(sessions),
            "hits": self.traffic.n_hits,
            "conversions": int(sessions["converted"].sum()),
            "revenue": round(float(sessions["value"].sum()), 2),
            "spend": round(float(self.traffic.spend["spend"].sum()), 2),
            "spend_rows": self.spend_rows,
            "generate_s": round(self.generate_s, 3),
            "spool": self.spool.to_dict() if self.spool else None,
            "http": self.http.to_dict() if self.http else None,
            "truth": str(self.truth_path) if self.truth_path else None,
        }


def site_domain(client: Client) -> str:
    """The host simulated pages live on: the client's first domain (``*.x`` becomes ``www.x``)."""
    domain = client.allowed_domains[0]
    return f"www.{domain[2:]}" if domain.startswith("*.") else domain


def _check_period(days: int, visitors_per_day: int, start: date | None) -> None:
    if days < 1:
        raise InvalidInput(f"--days must be at least 1, got {days}")
    if visitors_per_day < 1:
        raise InvalidInput(f"--visitors-per-day must be at least 1, got {visitors_per_day}")
    if start is not None and start + timedelta(days=days) > datetime.now(UTC).date() + timedelta(days=1):
        raise InvalidInput(
            f"a simulation starting {start.isoformat()} for {days} days would end in the future; "
            "choose an earlier --start or fewer --days"
        )


def run_simulation(
    settings: Settings,
    client_id: str,
    *,
    days: int,
    visitors_per_day: int,
    seed: int,
    start: date | None = None,
    via: str | None = None,
    site_key: str | None = None,
    api_key: str | None = None,
    concurrency: int = 64,
    truth_out: Path | None = None,
    tenants: Tenants | None = None,
) -> SimulationOutcome:
    """Simulate a client's traffic, feed it through the edge (directly or via ``{via}/t.gif``), store the spend
    and optionally the truth. Raises ``InvalidInput`` for bad arguments and ``NotFound`` for an unknown client.
    """
    _check_period(days, visitors_per_day, start)
    if via is not None:
        pixel_endpoint(via)
        if not site_key or not api_key:
            raise InvalidInput(
                "--via needs the client's site key and API key (--site-key/--api-key or "
                "XMO_SITE_KEY/XMO_API_KEY): the pixel takes hits older than 24 h only with the API key"
            )
    tenants = tenants or Tenants.from_settings(settings)
    client = tenants.get_client(check_client_id(client_id))
    t0 = time.perf_counter()
    world = build_world(seed, days, visitors_per_day, start)
    traffic = simulate(world, client_id=client.id, domain=site_domain(client))
    generate_s = time.perf_counter() - t0
    spool_report: SimulationReport | None = None
    http_report: HttpReport | None = None
    if via is not None and site_key and api_key:
        http_report = send_via_http(
            traffic.hits,
            via,
            site_key,
            api_key,
            concurrency,
            cookie_name=settings.cookie_name,
            optout_cookie_name=settings.optout_cookie_name,
        )
    else:
        collector = Collector.from_settings(settings, tenants)
        try:
            spool_report = ingest_traffic(traffic, collector, generate_s=generate_s)
        finally:
            collector.spool.close()
    layout = StorageLayout.from_settings(settings).ensure()
    spend_rows = upsert_spend(layout, client.id, traffic.spend)
    truth_path = write_truth(truth_out, world, traffic) if truth_out is not None else None
    return SimulationOutcome(
        client_id=client.id,
        world=world,
        traffic=traffic,
        generate_s=generate_s,
        spool=spool_report,
        http=http_report,
        spend_rows=spend_rows,
        truth_path=truth_path,
    )


def _print_summary(outcome: SimulationOutcome) -> None:
    summary = outcome.to_dict()
    table = Table(
        title=f"simulated {summary['days']} days for {outcome.client_id} (seed {summary['seed']})", show_header=False
    )
    table.add_row("period", f"{summary['start']} + {summary['days']} days on {summary['domain']}")
    table.add_row(
        "sessions",
        f"{summary['sessions']:,} ({summary['conversions']:,} converted, revenue {summary['revenue']:,.2f} EUR)",
    )
    table.add_row("hits", f"{summary['hits']:,}")
    if outcome.spool is not None:
        report = outcome.spool
        drops = ", ".join(f"{n:,} {reason}" for reason, n in report.dropped.items()) or "none"
        table.add_row("into the spool", f"{report.accepted:,} accepted; dropped {drops}")
        table.add_row(
            "time",
            f"{report.wall_s:.1f} s (generate {report.generate_s:.1f}, build {report.build_s:.1f}, "
            f"edge + spool {report.ingest_s:.1f})",
        )
    if outcome.http is not None:
        sent = outcome.http
        statuses = ", ".join(f"{n:,}× {status}" for status, n in sent.statuses.items()) or "none"
        table.add_row(
            "over HTTP",
            f"{sent.sent:,} answered ({statuses}); {sent.failed:,} failed; {sent.requests_per_s:,.0f} requests/s",
        )
    table.add_row("spend", f"{summary['spend']:,.2f} EUR in {outcome.spend_rows:,} daily rows")
    if outcome.truth_path is not None:
        table.add_row("truth", str(outcome.truth_path))
    out.print(table)
    if outcome.spool is not None:
        out.print("next: `xmo compact` moves the spooled events into the lake")


def simulate_command(
    client_id: Annotated[str, typer.Argument(help="Client id (see `xmo client list`).")],
    *,
    days: Annotated[int, typer.Option(help="Days of traffic (ending yesterday unless --start is given).")] = 30,
    visitors_per_day: Annotated[int, typer.Option(help="Sessions per day on average.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the world: the same seed gives the same hits.")] = 7,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD).")] = None,
    via: Annotated[
        str | None,
        typer.Option(
            help="Send hits to this collector's pixel over HTTP (e.g. http://127.0.0.1:8000) "
            "instead of straight into the local spool."
        ),
    ] = None,
    site_key: Annotated[str | None, typer.Option(envvar="XMO_SITE_KEY", help="The client's site key (--via).")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="XMO_API_KEY", help="The client's API key (--via).")] = None,
    concurrency: Annotated[int, typer.Option(help="Parallel HTTP requests (--via).")] = 64,
    truth_out: Annotated[Path | None, typer.Option(help="Write the ground truth into this directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate seeded campaign traffic for a client, with its spend and (optionally) the ground truth."""
    settings = load_settings()
    with err.status(f"simulating {days} days of traffic for {client_id}"):
        outcome = run_simulation(
            settings,
            client_id,
            days=days,
            visitors_per_day=visitors_per_day,
            seed=seed,
            start=start.date() if start else None,
            via=via,
            site_key=site_key,
            api_key=api_key,
            concurrency=concurrency,
            truth_out=truth_out,
        )
    if as_json:
        emit_json(outcome.to_dict())
    else:
        _print_summary(outcome)


def register(app: typer.Typer) -> None:
    """Add ``xmo simulate`` to the app."""
    app.command("simulate")(simulate_command)
