"""A client's registered model versions with their aliases, training set and key test metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlflow.exceptions import MlflowException

from core.errors import NotFound
from core.settings import Settings
from models.registry import configure_mlflow, conversion_model_name

KEY_METRICS: tuple[str, ...] = ("test_roc_auc", "test_log_loss", "test_ece", "test_lift_at_10")


@dataclass(frozen=True)
class VersionInfo:
    """One registered version of a client's conversion model."""

    version: str
    aliases: tuple[str, ...]
    created_at: str
    run_id: str | None
    dataset_id: str | None
    metrics: dict[str, float]
    promotion: str | None  # the last promotion decision recorded on it

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "aliases": list(self.aliases),
            "created_at": self.created_at,
            "run_id": self.run_id,
            "dataset_id": self.dataset_id,
            "metrics": self.metrics,
            "promotion": self.promotion,
        }


def list_versions(settings: Settings, client_id: str) -> list[VersionInfo]:
    """Every version of the client's model, newest first (``NotFound`` when it has none)."""
    client = configure_mlflow(settings)
    name = conversion_model_name(client_id)
    try:
        registered = client.get_registered_model(name)
    except MlflowException as exc:
        raise NotFound(f"client {client_id!r} has no registered models yet; run `xmo train {client_id}`") from exc
    aliases: dict[str, list[str]] = {}
    for alias, version in (registered.aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    versions = client.search_model_versions(f"name = '{name}'")
    infos = []
    for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
        run = client.get_run(v.run_id) if v.run_id else None
        metrics = {k: float(run.data.metrics[k]) for k in KEY_METRICS if run and k in run.data.metrics}
        infos.append(
            VersionInfo(
                version=str(v.version),
                aliases=tuple(sorted(aliases.get(str(v.version), []))),
                created_at=datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).isoformat(timespec="seconds"),
                run_id=v.run_id,
                dataset_id=run.data.tags.get("xmo.dataset_id") if run else None,
                metrics=metrics,
                promotion=(v.tags or {}).get("xmo.promotion.decision"),
            )
        )
    return infos
