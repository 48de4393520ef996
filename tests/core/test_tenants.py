from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from core import audit, database
from core.apikeys import KeyKind, hash_key, kind_of
from core.database import get_engine
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from core.schema import api_keys
from core.settings import Settings
from core.tenants import Tenants, _public_suffix_list, is_public_suffix, normalize_domain, slugify


@pytest.fixture
def tenants(database_url: str, settings: Settings) -> Tenants:
    return Tenants(get_engine(settings.model_copy(update={"database_url": database_url})))


def test_create_client_issues_keys_and_stores_only_hashes(tenants: Tenants) -> None:
    created = tenants.create_client("Acme Shop", ["Shop.Example.com", "https://www.example.com/x"])
    assert created.client.id == "acme-shop"
    assert created.client.allowed_domains == ("shop.example.com", "www.example.com")
    assert created.client.collect_pii is False
    assert created.client.retention_days == 395
    assert kind_of(created.site_key) is KeyKind.SITE and kind_of(created.api_key) is KeyKind.API
    # at least 128 random bits after the prefix
    assert len(created.api_key.split("_", 2)[2]) >= 22
    with tenants.engine.connect() as connection:
        stored = [tuple(r) for r in connection.execute(api_keys.select())]
    flat = repr(stored)
    assert created.site_key not in flat and created.api_key not in flat
    assert hash_key(created.api_key) in flat


def test_authenticate_by_kind_and_client(tenants: Tenants) -> None:
    a = tenants.create_client("A", ["a.example.com"])
    b = tenants.create_client("B", ["b.example.com"])
    assert tenants.authenticate(a.api_key, KeyKind.API).client_id == "a"
    assert tenants.authenticate(b.api_key, KeyKind.API).client_id == "b"
    with pytest.raises(Forbidden, match=r"^a site key cannot do this; use an API key$"):
        tenants.authenticate(a.site_key, KeyKind.API)
    with pytest.raises(Forbidden, match=r"^an API key cannot do this; use a site key or an admin key$"):
        tenants.authenticate(a.api_key, KeyKind.SITE, KeyKind.ADMIN)
    with pytest.raises(Unauthorized):
        tenants.authenticate(a.api_key[:-2] + "xx", KeyKind.API)
    with pytest.raises(Unauthorized):
        tenants.authenticate(None, KeyKind.API)
    assert tenants.client_for_site_key(b.site_key) == "b"
    assert tenants.client_for_site_key(b.api_key) is None


PUBLIC_SUFFIXES = ["*", "*.", "*.com", "com", "co.uk", "*.co.uk", "github.io", "*.github.io", "*.s3.amazonaws.com"]
PUBLIC_SUFFIXES += ["localhost", "https://*.com/", "*.COM."]


@pytest.mark.parametrize("domain", PUBLIC_SUFFIXES)
def test_a_public_suffix_or_a_bare_wildcard_is_refused(tenants: Tenants, domain: str) -> None:
    with pytest.raises(InvalidInput, match=r"invalid domain .*(public suffix|bare wildcard)") as refused:
        tenants.create_client("Wide", ["shop.example.com", domain])
    assert "\n" not in str(refused.value)
    assert tenants.list_clients() == []  # nothing stored


@pytest.mark.parametrize(
    ("domain", "stored"),
    [
        ("acme.github.io", "acme.github.io"),  # a site under a private-section suffix is the client's own
        ("*.acme.github.io", "*.acme.github.io"),
        ("shop.example.co.uk", "shop.example.co.uk"),
        ("*.example.co.uk", "*.example.co.uk"),
        ("*.Example.com", "*.example.com"),
        ("shop.example", "shop.example"),
    ],
)
def test_a_clients_own_domains_are_accepted(domain: str, stored: str) -> None:
    assert normalize_domain(domain) == stored


def test_the_public_suffix_list_is_read_from_the_package_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the public suffix list tried to reach the network")

    monkeypatch.setattr("socket.socket.connect", no_network)
    monkeypatch.setattr("socket.create_connection", no_network)
    monkeypatch.setattr("socket.getaddrinfo", no_network)
    _public_suffix_list.cache_clear()
    try:
        assert (
            is_public_suffix("*.co.uk") and is_public_suffix("github.io") and not is_public_suffix("shop.example.com")
        )
    finally:
        _public_suffix_list.cache_clear()


def test_duplicate_and_bad_input_are_clear(tenants: Tenants) -> None:
    tenants.create_client("Acme", ["acme.example.com"])
    with pytest.raises(Conflict, match="already exists"):
        tenants.create_client("Acme", ["acme.example.com"])
    with pytest.raises(InvalidInput, match="domain"):
        tenants.create_client("Other", ["not a domain"])
    with pytest.raises(InvalidInput, match="at least one domain"):
        tenants.create_client("Other", [])
    with pytest.raises(InvalidInput, match="time zone"):
        tenants.create_client("Other", ["o.example.com"], timezone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="client id"):
        tenants.create_client("Other", ["o.example.com"], client_id="../etc")
    with pytest.raises(NotFound, match="unknown client"):
        tenants.get_client("nobody")
    assert [c.id for c in tenants.list_clients()] == ["acme"]


def test_rotation_revokes_old_key_and_is_audited(tenants: Tenants) -> None:
    first = tenants.rotate_key(KeyKind.ADMIN)
    assert tenants.authenticate(first, KeyKind.ADMIN).client_id is None
    second = tenants.rotate_key(KeyKind.ADMIN)
    with pytest.raises(Unauthorized):
        tenants.authenticate(first, KeyKind.ADMIN)
    assert tenants.authenticate(second, KeyKind.ADMIN).kind is KeyKind.ADMIN
    client = tenants.create_client("C", ["c.example.com"])
    new_api = tenants.rotate_key(KeyKind.API, "c")
    with pytest.raises(Unauthorized):
        tenants.authenticate(client.api_key, KeyKind.API)
    assert tenants.authenticate(new_api, KeyKind.API).client_id == "c"
    assert tenants.client_for_site_key(client.site_key) == "c", "rotating the API key keeps the site key"
    actions = [e.action for e in audit.entries(tenants.engine)]
    assert actions == ["key.rotate.admin", "key.rotate.admin", "client.create", "key.rotate.api"]
    assert all(first not in repr(e.details) for e in audit.entries(tenants.engine))


def test_created_at_is_timezone_aware(tenants: Tenants) -> None:
    created = tenants.create_client("Z", ["z.example.com"]).client
    assert created.created_at.tzinfo is not None
    assert tenants.get_client("z").created_at.utcoffset().total_seconds() == 0


def test_slugify() -> None:
    assert slugify("Müller & Söhne GmbH") == "muller-sohne-gmbh"
    with pytest.raises(InvalidInput):
        slugify("!!!")


def test_benchmarks_opt_in_defaults_off_and_updates_are_audited(tenants: Tenants) -> None:
    assert tenants.create_client("Off", ["off.example.com"]).client.benchmarks_opt_in is False
    assert tenants.create_client("On", ["on.example.com"], benchmarks_opt_in=True).client.benchmarks_opt_in is True
    updated = tenants.update_client("off", benchmarks_opt_in=True, retention_days=30, actor="key:xmo_adm_x…")
    assert updated.benchmarks_opt_in is True and updated.retention_days == 30
    assert tenants.get_client("off") == updated
    assert tenants.update_client("off", benchmarks_opt_in=False).benchmarks_opt_in is False
    entry = next(e for e in audit.entries(tenants.engine, "off") if e.action == "client.update")
    assert entry.actor == "key:xmo_adm_x…"
    assert entry.details == {
        "benchmarks_opt_in": {"from": False, "to": True},
        "retention_days": {"from": 395, "to": 30},
    }
    assert tenants.get_client("on").public()["benchmarks_opt_in"] is True


def test_bad_updates_change_nothing(tenants: Tenants) -> None:
    tenants.create_client("Keep", ["keep.example.com"])
    before = tenants.get_client("keep")
    entries = len(audit.entries(tenants.engine))
    with pytest.raises(InvalidInput, match="nothing to change"):
        tenants.update_client("keep")
    with pytest.raises(InvalidInput, match="retention days"):
        tenants.update_client("keep", benchmarks_opt_in=True, retention_days=0)
    with pytest.raises(NotFound, match="unknown client"):
        tenants.update_client("nobody", benchmarks_opt_in=True)
    assert tenants.get_client("keep") == before
    assert len(audit.entries(tenants.engine)) == entries


def _alembic(connection: sa.Connection, verb: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    getattr(command, verb)(config, revision)


def test_the_opt_in_migration_keeps_existing_clients_out_and_reverses(database_url: str, xmo_home: Path) -> None:
    xmo_home.mkdir(parents=True, exist_ok=True)
    engine = database._create_engine(database_url)  # with the app's pragmas: foreign keys on, as in production
    try:
        with engine.begin() as connection:
            _alembic(connection, "upgrade", "0002")
            connection.execute(
                sa.text(
                    "INSERT INTO clients (id, name, allowed_domains, collect_pii, retention_days, honour_dnt, "
                    "timezone, created_at) VALUES ('old', 'Old', '[\"old.example\"]', false, 395, false, 'UTC', "
                    ":now)"
                ),
                {"now": datetime.now(UTC)},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO api_keys (client_id, kind, key_hash, display_prefix, created_at) "
                    "VALUES ('old', 'api', 'hash-of-old', 'xmo_api_old…', :now)"
                ),
                {"now": datetime.now(UTC)},
            )
            _alembic(connection, "upgrade", "head")
            kept = connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one()
            assert kept == 1, "the migration must not rebuild clients (the cascade would delete every key)"
        tenants = Tenants(engine)
        assert tenants.get_client("old").benchmarks_opt_in is False, "existing clients do not join silently"
        tenants.update_client("old", benchmarks_opt_in=True)
        assert tenants.get_client("old").benchmarks_opt_in is True
        with engine.begin() as connection:
            _alembic(connection, "downgrade", "0002")
            columns = {c["name"] for c in sa.inspect(connection).get_columns("clients")}
            assert "benchmarks_opt_in" not in columns
            assert connection.execute(sa.text("SELECT name FROM clients")).scalar_one() == "Old"
            assert connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 1
            _alembic(connection, "upgrade", "head")
        assert tenants.get_client("old").benchmarks_opt_in is False
    finally:
        engine.dispose()


def test_currency_is_an_iso_4217_code_or_unset_and_updates_are_audited(tenants: Tenants) -> None:
    assert tenants.create_client("Plain", ["plain.example.com"]).client.currency is None
    euro = tenants.create_client("Euro", ["euro.example.com"], currency=" eur ").client
    assert euro.currency == "EUR" and euro.public()["currency"] == "EUR"
    assert tenants.update_client("plain", currency="GBP").currency == "GBP"
    assert tenants.get_client("plain").currency == "GBP"
    entry = next(e for e in audit.entries(tenants.engine, "plain") if e.action == "client.update")
    assert entry.details == {"currency": {"from": None, "to": "GBP"}}
    assert tenants.update_client("plain", currency="").currency is None, '"" unsets it'
    for bad in ("EURO", "ABC", "XTS", "€", ""):
        with pytest.raises(InvalidInput, match="unknown currency"):
            tenants.create_client(f"Bad {bad}", [f"bad{len(bad)}.example.com"], currency=bad)
    with pytest.raises(InvalidInput, match="unknown currency 'ZZZ'"):
        tenants.update_client("euro", currency="ZZZ")
    assert tenants.get_client("euro").currency == "EUR"


def test_the_currency_migration_leaves_existing_clients_unset_and_reverses(database_url: str, xmo_home: Path) -> None:
    xmo_home.mkdir(parents=True, exist_ok=True)
    engine = database._create_engine(database_url)
    try:
        with engine.begin() as connection:
            _alembic(connection, "upgrade", "0003")
            connection.execute(
                sa.text(
                    "INSERT INTO clients (id, name, allowed_domains, collect_pii, retention_days, honour_dnt, "
                    "timezone, created_at, benchmarks_opt_in) VALUES ('old', 'Old', '[\"old.example\"]', false, 395, "
                    "false, 'UTC', :now, false)"
                ),
                {"now": datetime.now(UTC)},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO api_keys (client_id, kind, key_hash, display_prefix, created_at) "
                    "VALUES ('old', 'api', 'hash-of-old', 'xmo_api_old…', :now)"
                ),
                {"now": datetime.now(UTC)},
            )
            _alembic(connection, "upgrade", "head")
            assert connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 1
        tenants = Tenants(engine)
        assert tenants.get_client("old").currency is None
        assert tenants.update_client("old", currency="usd").currency == "USD"
        with engine.begin() as connection:
            _alembic(connection, "downgrade", "0003")
            assert "currency" not in {c["name"] for c in sa.inspect(connection).get_columns("clients")}
            assert connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 1
            _alembic(connection, "upgrade", "head")
        assert tenants.get_client("old").currency is None
    finally:
        engine.dispose()
