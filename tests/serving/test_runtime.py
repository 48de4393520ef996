"""A running service drops what it cached of a client purged by another process (``xmo client purge``)."""

from __future__ import annotations

from core.audit import CLI_ACTOR
from core.settings import Settings
from core.tenants import Tenants
from privacy.purge import purge_client
from serving.metrics import ServiceMetrics
from serving.runtime import ServiceRuntime


def test_a_purge_from_the_cli_empties_the_server_caches(settings: Settings) -> None:
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Acme", ["acme.example.com"], client_id="acme")
    runtime = ServiceRuntime.build(settings, ServiceMetrics())
    try:
        assert runtime.forget_purged_clients() == frozenset()
        assert runtime.domains.of("acme") == ("acme.example.com",)
        purge_client(settings, "acme", actor=CLI_ACTOR)
        assert runtime.domains.of("acme") == ("acme.example.com",), "still cached: the purge ran elsewhere"

        assert runtime.forget_purged_clients() == {"acme"}
        assert runtime.domains.of("acme") is None
        assert runtime.forget_purged_clients() == frozenset(), "dropped once"

        tenants.create_client("Acme again", ["acme.example.com"], client_id="acme")
        assert runtime.forget_purged_clients() == frozenset()
        purge_client(settings, "acme", actor=CLI_ACTOR)
        assert runtime.forget_purged_clients() == {"acme"}, "a second purge of the same id is noticed too"
    finally:
        runtime.collector.spool.close()
