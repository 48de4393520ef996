"""``xmo client …`` and ``xmo admin-key``: tenants and their keys."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from core import audit
from core.apikeys import KeyKind
from privacy.keyvault import KeyVault
from xmo.commands.common import load_settings, open_tenants
from xmo.console import emit_json, err, out
from xmo.output import id_header, print_table

client_app = typer.Typer(help="Create, list and update clients (tenants).", no_args_is_help=True)


@client_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Display name of the client, e.g. 'Acme Shop'.")],
    domain: Annotated[
        list[str],
        typer.Option(
            "--domain", "-d", help="A domain the client tracks (repeatable); not a public suffix such as *.com."
        ),
    ],
    client_id: Annotated[str | None, typer.Option("--id", help="Client id (default: derived from the name).")] = None,
    collect_pii: Annotated[
        bool, typer.Option("--collect-pii", help="Keep keyed pseudonyms of email/member id (with the user's consent).")
    ] = False,
    retention_days: Annotated[int, typer.Option(help="Days raw events are kept.")] = 395,
    honour_dnt: Annotated[
        bool, typer.Option("--honour-dnt", help="Treat DNT: 1 as an opt-out (GPC always is).")
    ] = False,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the client's reports and sessions.")] = "UTC",
    benchmarks_opt_in: Annotated[
        bool,
        typer.Option(
            "--benchmarks-opt-in", help="Pool the client's aggregates into cross-client benchmarks (no ids, P8)."
        ),
    ] = False,
    currency: Annotated[
        str | None, typer.Option(help="ISO 4217 code of the client's amounts (spend, values), e.g. EUR.")
    ] = None,
    base_url: Annotated[
        str, typer.Option(help="Where xmo is served, for the pixel snippet printed after the keys.")
    ] = "http://127.0.0.1:8000",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: client_id, site_key, api_key.")] = False,
) -> None:
    """Register a client and print its id and keys (shown once; only hashes are stored), then the snippets to put
    on its pages."""
    settings = load_settings()
    created = open_tenants().create_client(
        name,
        domain,
        client_id=client_id,
        collect_pii=collect_pii,
        retention_days=retention_days,
        honour_dnt=honour_dnt,
        timezone=timezone,
        benchmarks_opt_in=benchmarks_opt_in,
        currency=currency,
    )
    KeyVault.from_settings(settings).client_key(created.client.id)
    if as_json:
        emit_json({"client_id": created.client.id, "site_key": created.site_key, "api_key": created.api_key})
        return
    out.print(f"client_id: {created.client.id}")
    out.print(f"site_key:  {created.site_key}")
    out.print(f"api_key:   {created.api_key}")
    err.print(
        "[dim]Keys are shown once and stored only as hashes. The site key goes into pixels and links; "
        "keep the API key secret.[/dim]"
    )
    out.print("\npixel (on every page; add &debug=1 while installing to see why a hit is dropped):", markup=False)
    out.print(pixel_snippet(base_url, created.site_key), markup=False, soft_wrap=True)
    out.print("\ntracked link (signed, for destinations outside your domains):", markup=False)
    out.print(
        f"xmo link sign {created.client.id} https://{domain[0].lstrip('*.')}/landing --campaign CAMPAIGN "
        f"--creative CREATIVE --base-url {base_url}",
        markup=False,
        soft_wrap=True,
    )


def pixel_snippet(base_url: str, site_key: str) -> str:
    """The 1x1 pixel tag for a client's pages (the page URL comes from the Referer; no cookie banner text here)."""
    src = f"{base_url.rstrip('/')}/t.gif?k={quote(site_key)}"
    return f'<img src="{src}" width="1" height="1" alt="" referrerpolicy="no-referrer-when-downgrade">'


@client_app.command("list")
def list_clients(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List clients and their privacy settings."""
    clients = open_tenants().list_clients()
    if as_json:
        emit_json([c.public() for c in clients])
        return
    table = Table(
        id_header("client_id"),
        *("name", "domains", "collect_pii", "retention_days", "benchmarks", "timezone", "currency", "created"),
    )
    for c in clients:
        table.add_row(
            c.id,
            c.name,
            ", ".join(c.allowed_domains),
            "yes" if c.collect_pii else "no",
            str(c.retention_days),
            "yes" if c.benchmarks_opt_in else "no",
            c.timezone,
            c.currency or "-",
            c.created_at.strftime("%Y-%m-%d"),
        )
    print_table(table)


@client_app.command("update")
def update_client(
    client_id: Annotated[str, typer.Argument(help="The client's id.")],
    benchmarks_opt_in: Annotated[
        bool | None,
        typer.Option(
            "--benchmarks-opt-in/--no-benchmarks-opt-in",
            help="Pool (or stop pooling) the client's aggregates into cross-client benchmarks.",
            show_default=False,
        ),
    ] = None,
    retention_days: Annotated[int | None, typer.Option(help="Days raw events are kept (1-3650).")] = None,
    currency: Annotated[
        str | None, typer.Option(help='ISO 4217 code of the client\'s amounts, e.g. EUR ("" unsets it).')
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the updated client as JSON.")] = False,
) -> None:
    """Change a client's policy or currency (only the options given); audited."""
    client = open_tenants().update_client(
        client_id,
        benchmarks_opt_in=benchmarks_opt_in,
        retention_days=retention_days,
        currency=currency,
        actor=audit.CLI_ACTOR,
    )
    if as_json:
        emit_json(client.public())
        return
    out.print(
        f"{client.id}: benchmarks_opt_in={'yes' if client.benchmarks_opt_in else 'no'}, "
        f"retention_days={client.retention_days}, currency={client.currency or '-'}",
        markup=False,
    )


def admin_key(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Create the operator's admin key, revoking any previous one (shown once)."""
    key = open_tenants().rotate_key(KeyKind.ADMIN)
    if as_json:
        emit_json({"admin_key": key})
    else:
        out.print(f"admin_key: {key}")
        err.print("[dim]Shown once; any earlier admin key is revoked.[/dim]")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``xmo`` app."""
    app.add_typer(client_app, name="client")
    app.command("admin-key")(admin_key)
