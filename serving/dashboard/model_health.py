"""The health of the champion a client is scored with: its test metrics and calibration table from MLflow."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.model_store import LoadedModel

CALIBRATION_ARTIFACT = "evaluation/calibration_table.json"
HEALTH_METRICS: tuple[str, ...] = (
    "test_roc_auc",
    "test_pr_auc",
    "test_log_loss",
    "test_brier",
    "test_ece",
    "test_lift_at_10",
    "test_conversion_rate",
    "test_sessions",
)


def calibration_table(client: MlflowClient, run_id: str) -> list[dict[str, float]]:
    """Predicted against observed conversion rate per bin of the run's test split (empty when not logged)."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, CALIBRATION_ARTIFACT, folder)
        except (MlflowException, OSError):
            return []
        table = json.loads(Path(path).read_text())
    columns = list(table.get("columns", []))
    return [{str(k): float(v) for k, v in zip(columns, row, strict=True)} for row in table.get("data", [])]


def model_health(client: MlflowClient, client_id: str, loaded: LoadedModel | None) -> dict[str, Any]:
    """The loaded champion (``None`` without one), its run's test metrics, its training set and calibration."""
    if loaded is None:
        return {"client_id": client_id, "champion": None, "metrics": {}, "calibration": []}
    try:
        run = client.get_run(loaded.run_id) if loaded.run_id else None
    except MlflowException:
        run = None
    metrics: dict[str, float] = {}
    trained_at = dataset_id = None
    if run is not None:
        metrics = {k.removeprefix("test_"): float(run.data.metrics[k]) for k in HEALTH_METRICS if k in run.data.metrics}
        trained_at = datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(timespec="seconds")
        dataset_id = run.data.tags.get("xmo.dataset_id")
    return {
        "client_id": client_id,
        "champion": {**loaded.public(), "trained_at": trained_at, "dataset_id": dataset_id},
        "metrics": metrics,
        "calibration": calibration_table(client, loaded.run_id) if run is not None and loaded.run_id else [],
    }
