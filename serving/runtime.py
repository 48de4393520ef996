"""What a running service holds: registry, vault, collector, models; built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings import Settings
from core.tenants import Tenants
from models.registry import configure_mlflow
from privacy.keyvault import KeyVault
from privacy.purge import purged_client_ids
from serving.holdout_index import HoldoutIndex
from serving.metrics import ServiceMetrics
from serving.model_store import ModelStore
from serving.session_cache import SessionCache
from tracking.collector import Collector, GroupCommitter
from tracking.links import ClientDomains


@dataclass
class ServiceRuntime:
    """Long-lived objects shared by requests."""

    settings: Settings
    tenants: Tenants
    vault: KeyVault
    collector: Collector
    committer: GroupCommitter
    models: ModelStore
    sessions: SessionCache
    metrics: ServiceMetrics
    domains: ClientDomains
    holdouts: HoldoutIndex  # running visitor holdouts, for the pixel's X-Xmo-Holdout header and /v1/holdout
    _forgotten: frozenset[str] = field(default=frozenset(), repr=False)  # purged clients already dropped

    @classmethod
    def build(cls, settings: Settings, metrics: ServiceMetrics) -> ServiceRuntime:
        """Open the stores ``settings`` name (no models are loaded yet); hits are counted in ``metrics``."""
        tenants = Tenants.from_settings(settings)
        vault = KeyVault.from_settings(settings)
        collector = Collector.from_settings(settings, tenants, vault)
        committer = GroupCommitter(
            collector,
            settings.group_commit_max_delay_ms / 1000,
            settings.group_commit_max_batch,
            settings.group_commit_max_in_flight,
        )
        models = ModelStore(configure_mlflow(settings))
        collector.counters.listeners.append(metrics.count_edge)
        return cls(
            settings,
            tenants,
            vault,
            collector,
            committer,
            models,
            SessionCache(settings),
            metrics,
            ClientDomains(tenants),
            HoldoutIndex(settings, vault),
            purged_client_ids(tenants.engine),  # nothing of these is cached yet
        )

    def forget_client(self, client_id: str) -> None:
        """Drop everything this process cached of a purged client: its key, model, sessions, policies, domains."""
        self.vault.destroy(client_id)  # this process's cached copy of the destroyed key
        self.models.forget(client_id)
        self.sessions.forget(client_id)
        self.collector.policies.forget()
        self.domains.forget()
        self.holdouts.forget(client_id)

    def forget_purged_clients(self) -> frozenset[str]:
        """Drop the caches of clients purged since the last look (by any process, e.g. ``xmo client purge``).

        Returns the clients dropped now. A client created again under a purged id and purged once more is
        dropped again.
        """
        purged = purged_client_ids(self.tenants.engine)
        new = purged - self._forgotten
        for client_id in sorted(new):
            self.forget_client(client_id)
        self._forgotten = purged
        return new
