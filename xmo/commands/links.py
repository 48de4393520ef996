"""``xmo link …``: tracked links whose click redirect xmo records."""

from __future__ import annotations

from typing import Annotated

import typer

from xmo.commands.common import existing_client, load_settings
from xmo.console import emit_json, out

link_app = typer.Typer(help="Tracked links (click redirects through /r).", no_args_is_help=True)

Utm = Annotated[str | None, typer.Option(help="UTM field carried (and signed) with the click.")]


@link_app.command("sign")
def sign(
    client_id: Annotated[str, typer.Argument(help="The client the link belongs to.")],
    url: Annotated[str, typer.Argument(help="Destination (http or https).")],
    campaign: Annotated[str | None, typer.Option("--campaign", help="Campaign id recorded with the click.")] = None,
    creative: Annotated[str | None, typer.Option("--creative", help="Creative id recorded with the click.")] = None,
    utm_source: Utm = None,
    utm_medium: Utm = None,
    utm_campaign: Utm = None,
    utm_content: Utm = None,
    utm_term: Utm = None,
    base_url: Annotated[str, typer.Option(help="Where xmo is served.")] = "http://127.0.0.1:8000",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: link and its parts.")] = False,
) -> None:
    """Print a signed tracked link to URL (any host; the signature is what makes it trusted)."""
    from privacy.keyvault import KeyVault
    from tracking.links import LINK_KEY_PURPOSE, sign_link

    settings = load_settings()
    client = existing_client(client_id)
    key = KeyVault.from_settings(settings).derived_key(client.id, LINK_KEY_PURPOSE)
    utm = {
        name: value
        for name, value in (
            ("utm_source", utm_source),
            ("utm_medium", utm_medium),
            ("utm_campaign", utm_campaign),
            ("utm_content", utm_content),
            ("utm_term", utm_term),
        )
        if value
    }
    link = sign_link(key, client.id, url, campaign, creative, base_url=base_url, **utm)
    if as_json:
        emit_json(
            {"link": link, "client_id": client.id, "destination": url, "campaign_id": campaign, "creative_id": creative}
        )
        return
    out.print(link, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``xmo link`` to the app."""
    app.add_typer(link_app, name="link")
