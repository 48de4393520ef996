"""What a running service holds: registry, vault, collector, models; built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from core.tenants import TenantRegistry
from models.registry import configure_mlflow
from privacy.keyvault import KeyVault
from serving.metrics import ServiceMetrics
from serving.model_store import ModelStore
from serving.session_cache import SessionCache
from tracking.collector import Collector, GroupCommitter
from tracking.links import ClientDomains


@dataclass
class ServiceRuntime:
    """Long-lived objects shared by requests."""

    settings: Settings
    registry: TenantRegistry
    vault: KeyVault
    collector: Collector
    committer: GroupCommitter
    models: ModelStore
    sessions: SessionCache
    metrics: ServiceMetrics
    domains: ClientDomains

    @classmethod
    def build(cls, settings: Settings, metrics: ServiceMetrics) -> ServiceRuntime:
        """Open the stores ``settings`` name (no models are loaded yet); hits are counted in ``metrics``."""
        registry = TenantRegistry.from_settings(settings)
        vault = KeyVault.from_settings(settings)
        collector = Collector.from_settings(settings, registry, vault)
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
            registry,
            vault,
            collector,
            committer,
            models,
            SessionCache(settings),
            metrics,
            ClientDomains(registry),
        )
