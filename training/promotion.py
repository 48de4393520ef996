"""The promotion gate: ``champion`` moves to a new version only when it beats the champion on the same sessions.

Both versions score the test split of the challenger's training set (the newest data); the paired bootstrap
of ``training.comparison`` decides. Every decision — promoted, refused or forced — is written to the model
version's tags and to the audit log, with its reasons. The champion before a promotion keeps the alias
``previous-champion``, so a rollback is one ``xmo promote --version V --force`` away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound, NotReady
from core.settings import Settings
from features.dataset import load_dataset
from models.registry import (
    CHALLENGER,
    CHAMPION,
    configure_mlflow,
    conversion_model_name,
    move_champion,
    version_scorer,
)
from training.comparison import MetricComparison, compare_predictions, promotion_verdict

DATASET_TAG = "xmo.dataset_id"


@dataclass(frozen=True)
class PromotionResult:
    """What the gate decided and why."""

    client_id: str
    model_name: str
    challenger_version: str
    champion_version: str | None  # before the decision
    promoted: bool
    forced: bool
    reasons: list[str]
    dataset_id: str | None = None
    test_sessions: int = 0
    comparisons: dict[str, MetricComparison] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "model_name": self.model_name,
            "challenger_version": self.challenger_version,
            "champion_version": self.champion_version,
            "promoted": self.promoted,
            "forced": self.forced,
            "reasons": self.reasons,
            "dataset_id": self.dataset_id,
            "test_sessions": self.test_sessions,
            "comparisons": {name: c.to_dict() for name, c in self.comparisons.items()},
        }


def _version_by_alias(client: MlflowClient, name: str, alias: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _version(client: MlflowClient, name: str, version: str) -> Any:
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:
        raise NotFound(f"{name} has no version {version!r} (see `xmo models`)") from exc


def _record(settings: Settings, client: MlflowClient, result: PromotionResult, actor: str) -> None:
    """Tags on the challenger version and one audit entry (versions, metrics, reasons; no personal data)."""
    decision = "forced" if result.forced else "promoted" if result.promoted else "refused"
    tags = {
        "xmo.promotion.decision": decision,
        "xmo.promotion.at": datetime.now(UTC).isoformat(timespec="seconds"),
        "xmo.promotion.reasons": "\n".join(result.reasons)[:4000],
        "xmo.promotion.champion_before": result.champion_version or "",
    }
    for key, value in tags.items():
        client.set_model_version_tag(result.model_name, result.challenger_version, key, value)
    with get_engine(settings).begin() as connection:
        audit.record(
            connection,
            actor=actor,
            action=f"model.promote.{decision}",
            client_id=result.client_id,
            details={
                "model": result.model_name,
                "challenger": result.challenger_version,
                "champion_before": result.champion_version,
                "dataset_id": result.dataset_id,
                "advantages": {name: c.advantage for name, c in result.comparisons.items()},
            },
        )


def promote(
    settings: Settings,
    client_id: str,
    *,
    version: str | None = None,
    force: bool = False,
    actor: str = "cli",
    n_boot: int = 300,
) -> PromotionResult:
    """Consider ``version`` (default: the ``challenger`` alias) for ``champion`` and record the decision."""
    client = configure_mlflow(settings)
    name = conversion_model_name(client_id)
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        raise NotFound(f"client {client_id!r} has no registered models yet; run `xmo train {client_id}`") from exc
    if version is None:
        current = _version_by_alias(client, name, CHALLENGER)
        if current is None:
            raise NotReady(f"{name} has no challenger; train a new version or pass --version")
        version = str(current.version)
    candidate = _version(client, name, version)
    champion = _version_by_alias(client, name, CHAMPION)
    champion_version = None if champion is None else str(champion.version)
    if champion_version == version:
        raise InvalidInput(f"{name} version {version} is already the champion")

    if champion_version is None:
        result = PromotionResult(client_id, name, version, None, True, force, ["there is no champion yet"])
    else:
        result = _compare(settings, client, client_id, name, candidate, champion_version, force, n_boot)
    if result.promoted:
        move_champion(client, name, version, champion_version)
    _record(settings, client, result, actor)
    return result


def _compare(
    settings: Settings,
    client: MlflowClient,
    client_id: str,
    name: str,
    candidate: Any,
    champion_version: str,
    force: bool,
    n_boot: int,
) -> PromotionResult:
    """Score both versions on the challenger's test split and let the bootstrap decide (or ``force``)."""
    version = str(candidate.version)
    run = client.get_run(candidate.run_id) if candidate.run_id else None
    dataset_id = run.data.tags.get(DATASET_TAG) if run is not None else None
    if not dataset_id:
        raise NotReady(f"{name} version {version} does not say which training set it was trained on")
    dataset = load_dataset(settings, client_id, dataset_id)
    test = dataset.frame[dataset.frame["split"] == "test"]
    labels = test["converted"].to_numpy().astype(np.int64)
    challenger_scorer = version_scorer(name, version)
    champion_scorer = version_scorer(name, champion_version)
    p_challenger = challenger_scorer.predict_features(test[list(challenger_scorer.feature_names)])
    p_champion = champion_scorer.predict_features(test[list(champion_scorer.feature_names)])
    comparisons = compare_predictions(labels, p_champion, p_challenger, n_boot=n_boot)
    better, reasons = promotion_verdict(comparisons)
    if force and not better:
        reasons = [*reasons, "promoted anyway: --force"]
    return PromotionResult(
        client_id,
        name,
        version,
        champion_version,
        better or force,
        force and not better,
        reasons,
        dataset_id=dataset_id,
        test_sessions=len(labels),
        comparisons=comparisons,
    )
