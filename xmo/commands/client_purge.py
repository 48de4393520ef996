"""``xmo client purge``: destroy everything of a client when its service ends (privacy promise P10)."""

from __future__ import annotations

from typing import Annotated

import typer

from core.audit import CLI_ACTOR
from core.errors import InvalidInput
from privacy.purge import DeletionCertificate, purge_client
from xmo.commands.clients import client_app
from xmo.commands.common import load_settings
from xmo.console import emit_json, out


def _print_certificate(certificate: DeletionCertificate) -> None:
    status = (
        "already purged" if certificate.already_purged else "resumed and finished" if certificate.resumed else "purged"
    )
    out.print(f"client {certificate.client_id}: {status}")
    out.print(f"certificate: {certificate.certificate_id}")
    out.print(f"started:     {certificate.started_at}")
    out.print(f"completed:   {certificate.completed_at}")
    for kind, count in certificate.deleted.items():
        out.print(f"  {kind:<34} {count:>10,}")
    out.print(f"verified:    {certificate.verification}")


def purge(
    client_id: Annotated[str, typer.Argument(help="The client whose data is destroyed.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the deletion certificate as JSON.")] = False,
) -> None:
    """Delete the client's events, sessions, training sets, MLflow runs and models, tuning studies, keys and
    registry entries for good (crypto-shredding its key first), then verify and print a deletion certificate.

    Safe to run again: a purge that stopped midway resumes, a finished one prints its certificate.
    """
    if not yes:
        raise InvalidInput(f"purging {client_id!r} destroys all of its data for good; add --yes to confirm")
    settings = load_settings()
    certificate = purge_client(settings, client_id, actor=CLI_ACTOR)
    if as_json:
        emit_json(certificate.to_dict())
    else:
        _print_certificate(certificate)


def register(app: typer.Typer) -> None:
    """Add ``purge`` to the ``xmo client`` group."""
    client_app.command("purge")(purge)
