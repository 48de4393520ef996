"""``xmo privacy scan`` and ``xmo audit``: verify that purged clients left nothing, read the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from core import audit
from core.database import get_engine
from core.errors import InvalidInput
from privacy.master_rotation import finish_master_rotation, rotate_master_key
from privacy.scan import ScanResult, scan_client, scan_home
from xmo.commands.common import load_settings
from xmo.console import emit_json, err, out

privacy_app = typer.Typer(help="Verify what the stores hold of clients.", no_args_is_help=True)


def _print_scan(results: list[ScanResult]) -> None:
    if not results:
        out.print("no trace of any purged or unknown client under XMO_HOME or in the databases")
        return
    for result in results:
        verdict = "clean" if result.clean else f"{len(result.traces)} trace(s)"
        out.print(f"{result.client_id}: {verdict}")
        for trace in result.traces:
            out.print(f"  {trace.store}: {trace.location} ({trace.count:,})")
        for mention in result.mentions:
            out.print(f"  mentioned (no user data) in {mention.location} ({mention.count:,}×)")


@privacy_app.command("scan")
def scan(
    client_id: Annotated[
        str | None, typer.Option("--client", help="Scan for this client (default: every purged or unknown one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Walk every store under XMO_HOME and the databases for traces of a client (rows, files, runs, models,
    keys); exits 1 when any data is left."""
    settings = load_settings()
    results = [scan_client(settings, client_id)] if client_id else scan_home(settings)
    if as_json:
        emit_json({"results": [r.to_dict() for r in results]})
    else:
        _print_scan(results)
    if any(not r.clean for r in results):
        raise typer.Exit(1)


def show_audit(
    client_id: Annotated[str | None, typer.Option("--client", help="Only entries about this client.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only actions starting with this, e.g. client.purge or key.rotate.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only entries at or after this ISO date/time (UTC).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many, newest last.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the append-only audit log: who (which key), what, when, counts; never personal data."""
    start = _parse_since(since)
    selected = audit.entries(get_engine(load_settings()), client_id, action_prefix=action, since=start)[-limit:]
    if as_json:
        emit_json({"entries": [e.to_dict() for e in selected]})
        return
    table = Table("id", "at (UTC)", "actor", "action", "client", "details")
    for entry in selected:
        details = ", ".join(f"{k}={v}" for k, v in entry.details.items() if not isinstance(v, dict))
        table.add_row(
            str(entry.id),
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor,
            entry.action,
            entry.client_id or "",
            details,
        )
    out.print(table)
    if not selected:
        err.print("[dim]no entries match[/dim]")


def _parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError as exc:
        raise InvalidInput(f"--since {since!r} is not an ISO date or time such as 2026-11-01") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=audit.UTC)


keys_app = typer.Typer(help="The master key that wraps every client key.", no_args_is_help=True)


@keys_app.command("rotate-master")
def rotate_master(
    finish: Annotated[
        bool, typer.Option("--finish", help="Drop the old wraps once XMO_MASTER_KEY holds the new key.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-wrap every client key under a new master key (client keys, pseudonyms and links stay valid).

    With master.key in XMO_HOME this finishes at once. With XMO_MASTER_KEY, the new key is printed once: deploy it
    to every xmo process, then run `xmo keys rotate-master --finish`. Run it while no client is being created.
    """
    settings = load_settings()
    if finish:
        result = finish_master_rotation(settings, actor=audit.CLI_ACTOR)
    else:
        result = rotate_master_key(settings, actor=audit.CLI_ACTOR)
    if as_json:
        emit_json(result.__dict__)
        return
    out.print(f"client keys re-wrapped: {result.keys_rewrapped}")
    if result.new_master_key is not None:
        out.print(f"new master key: {result.new_master_key}")
        err.print(
            "[dim]Shown once. Set XMO_MASTER_KEY to it for every xmo process, then run "
            "`xmo keys rotate-master --finish`; until then both keys open every client key.[/dim]"
        )
    elif finish:
        out.print("old wraps dropped: only the configured master key opens the client keys now")
    else:
        out.print("master.key replaced; only the new master key opens the client keys now")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(privacy_app, name="privacy")
    app.add_typer(keys_app, name="keys")
    app.command("audit")(show_audit)
