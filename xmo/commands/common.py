"""Helpers shared by the sub-commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from core.errors import InvalidInput
from core.settings import Settings, get_settings
from core.tenants import Client, Tenants

R = TypeVar("R")


def load_settings() -> Settings:
    """The settings from the environment; a bad variable becomes one clear error."""
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "XMO_" + "_".join(str(p) for p in first["loc"]).upper()
        raise InvalidInput(f"{name}: {first['msg']}") from exc


def open_tenants() -> Tenants:
    """The tenants (clients, API keys) of the configured database."""
    return Tenants.from_settings(load_settings())


def existing_client(client_id: str) -> Client:
    """The client, or a clear ``NotFound``."""
    return open_tenants().get_client(client_id)


def confirmed_deletion(delete: Callable[[bool], R], describe: Callable[[R], str], *, dry_run: bool, yes: bool) -> R:
    """Run ``delete(preview=True)`` first; delete for real only with ``--yes``, never with ``--dry-run``.

    Without either, ``InvalidInput`` says what would go (``describe`` of the preview) and how to confirm.
    """
    report = delete(True)
    if not dry_run and not yes:
        raise InvalidInput(
            f"deleting {describe(report)} cannot be undone; add --yes to confirm (or --dry-run to only count)"
        )
    return report if dry_run else delete(False)
