from __future__ import annotations

import pytest

from core import audit
from core.apikeys import KeyKind, hash_key, kind_of
from core.database import get_engine
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from core.schema import api_keys
from core.settings import Settings
from core.tenants import TenantRegistry, slugify


@pytest.fixture
def registry(database_url: str, settings: Settings) -> TenantRegistry:
    return TenantRegistry(get_engine(settings.model_copy(update={"database_url": database_url})))


def test_create_client_issues_keys_and_stores_only_hashes(registry: TenantRegistry) -> None:
    created = registry.create_client("Acme Shop", ["Shop.Example.com", "https://www.example.com/x"])
    assert created.client.id == "acme-shop"
    assert created.client.allowed_domains == ("shop.example.com", "www.example.com")
    assert created.client.collect_pii is False
    assert created.client.retention_days == 395
    assert kind_of(created.site_key) is KeyKind.SITE and kind_of(created.api_key) is KeyKind.API
    # at least 128 random bits after the prefix
    assert len(created.api_key.split("_", 2)[2]) >= 22
    with registry.engine.connect() as connection:
        stored = [tuple(r) for r in connection.execute(api_keys.select())]
    flat = repr(stored)
    assert created.site_key not in flat and created.api_key not in flat
    assert hash_key(created.api_key) in flat


def test_authenticate_by_kind_and_client(registry: TenantRegistry) -> None:
    a = registry.create_client("A", ["a.example.com"])
    b = registry.create_client("B", ["b.example.com"])
    assert registry.authenticate(a.api_key, KeyKind.API).client_id == "a"
    assert registry.authenticate(b.api_key, KeyKind.API).client_id == "b"
    with pytest.raises(Forbidden):
        registry.authenticate(a.site_key, KeyKind.API)
    with pytest.raises(Unauthorized):
        registry.authenticate(a.api_key[:-2] + "xx", KeyKind.API)
    with pytest.raises(Unauthorized):
        registry.authenticate(None, KeyKind.API)
    assert registry.client_for_site_key(b.site_key) == "b"
    assert registry.client_for_site_key(b.api_key) is None


def test_duplicate_and_bad_input_are_clear(registry: TenantRegistry) -> None:
    registry.create_client("Acme", ["acme.example.com"])
    with pytest.raises(Conflict, match="already exists"):
        registry.create_client("Acme", ["acme.example.com"])
    with pytest.raises(InvalidInput, match="domain"):
        registry.create_client("Other", ["not a domain"])
    with pytest.raises(InvalidInput, match="at least one domain"):
        registry.create_client("Other", [])
    with pytest.raises(InvalidInput, match="time zone"):
        registry.create_client("Other", ["o.example.com"], timezone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="client id"):
        registry.create_client("Other", ["o.example.com"], client_id="../etc")
    with pytest.raises(NotFound, match="unknown client"):
        registry.get_client("nobody")
    assert [c.id for c in registry.list_clients()] == ["acme"]


def test_rotation_revokes_old_key_and_is_audited(registry: TenantRegistry) -> None:
    first = registry.rotate_key(KeyKind.ADMIN)
    assert registry.authenticate(first, KeyKind.ADMIN).client_id is None
    second = registry.rotate_key(KeyKind.ADMIN)
    with pytest.raises(Unauthorized):
        registry.authenticate(first, KeyKind.ADMIN)
    assert registry.authenticate(second, KeyKind.ADMIN).kind is KeyKind.ADMIN
    client = registry.create_client("C", ["c.example.com"])
    new_api = registry.rotate_key(KeyKind.API, "c")
    with pytest.raises(Unauthorized):
        registry.authenticate(client.api_key, KeyKind.API)
    assert registry.authenticate(new_api, KeyKind.API).client_id == "c"
    assert registry.client_for_site_key(client.site_key) == "c", "rotating the API key keeps the site key"
    actions = [e.action for e in audit.entries(registry.engine)]
    assert actions == ["key.rotate.admin", "key.rotate.admin", "client.create", "key.rotate.api"]
    assert all(first not in repr(e.details) for e in audit.entries(registry.engine))


def test_created_at_is_timezone_aware(registry: TenantRegistry) -> None:
    created = registry.create_client("Z", ["z.example.com"]).client
    assert created.created_at.tzinfo is not None
    assert registry.get_client("z").created_at.utcoffset().total_seconds() == 0


def test_slugify() -> None:
    assert slugify("Müller & Söhne GmbH") == "muller-sohne-gmbh"
    with pytest.raises(InvalidInput):
        slugify("!!!")
