"""Cached answers to the edge's questions about clients: which client a site key belongs to, its policy."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from core.apikeys import KeyKind
from core.errors import Forbidden, NotFound, Unauthorized
from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from tracking.edge import Edge, EdgeConfig, EdgePolicy

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small thread-safe cache whose entries expire after ``ttl_s`` seconds (negative answers too)."""

    def __init__(self, load: Callable[[K], V], ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self._load = load
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = self._load(key)
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = (now + self._ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class ClientPolicies:
    """Site-key resolution and edge policies, read from the tenants and cached briefly."""

    def __init__(self, tenants: Tenants, ttl_s: float = 30.0) -> None:
        self.tenants = tenants
        self._site_keys: TtlCache[str, str | None] = TtlCache(tenants.client_for_site_key, ttl_s)
        self._api_keys: TtlCache[str, str | None] = TtlCache(self._load_api_key_client, ttl_s)
        self._policies: TtlCache[str, EdgePolicy | None] = TtlCache(self._load_policy, ttl_s)

    def _load_policy(self, client_id: str) -> EdgePolicy | None:
        try:
            client = self.tenants.get_client(client_id)
        except NotFound:
            return None
        return EdgePolicy(
            client_id=client.id,
            collect_pii=client.collect_pii,
            honour_dnt=client.honour_dnt,
            retention_days=client.retention_days,
        )

    def _load_api_key_client(self, api_key: str) -> str | None:
        try:
            return self.tenants.authenticate(api_key, KeyKind.API).client_id
        except (Unauthorized, Forbidden):
            return None

    def client_for_api_key(self, api_key: str | None) -> str | None:
        """The client an API key belongs to, or None (unknown, revoked within the TTL, or another kind)."""
        return self._api_keys.get(api_key) if api_key else None

    def client_for_site_key(self, site_key: str | None) -> str | None:
        """The client a site key sends hits for, or None."""
        return self._site_keys.get(site_key) if site_key else None

    def policy(self, client_id: str) -> EdgePolicy | None:
        """The edge policy of a live client, or None."""
        return self._policies.get(client_id)

    def forget(self) -> None:
        """Drop cached answers (after a client changed or was purged)."""
        self._site_keys.clear()
        self._api_keys.clear()
        self._policies.clear()


def build_edge(settings: Settings, policies: ClientPolicies, vault: KeyVault) -> Edge:
    """The edge configured from settings, asking ``policies`` and ``vault`` about clients."""
    config = EdgeConfig(
        ipv4_prefix=settings.ipv4_prefix,
        ipv6_prefix=settings.ipv6_prefix,
        allowed_params=frozenset(settings.allowed_query_params),
    )
    return Edge(config, policies.policy, lambda client_id: vault.derived_key(client_id, "pseudonym"))
