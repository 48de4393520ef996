"""Helpers shared by the sub-commands."""

from __future__ import annotations

from pydantic import ValidationError

from core.errors import InvalidInput
from core.settings import Settings, get_settings
from core.tenants import Client, TenantRegistry


def load_settings() -> Settings:
    """The settings from the environment; a bad variable becomes one clear error."""
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "XMO_" + "_".join(str(p) for p in first["loc"]).upper()
        raise InvalidInput(f"{name}: {first['msg']}") from exc


def registry() -> TenantRegistry:
    """The tenant registry of the configured database."""
    return TenantRegistry.from_settings(load_settings())


def existing_client(client_id: str) -> Client:
    """The client, or a clear ``NotFound``."""
    return registry().get_client(client_id)
