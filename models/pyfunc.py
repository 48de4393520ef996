"""The MLflow pyfunc flavor: feature preparation + LightGBM in one model that scores raw sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from features.definitions import prepare_features

BOOSTER_ARTIFACT = "booster"
METADATA_ARTIFACT = "metadata"


def write_artifacts(
    folder: Path, booster: lgb.Booster, num_iteration: int, feature_names: list[str], timezone: str, features_hash: str
) -> dict[str, str]:
    """Save what the pyfunc needs (booster as LightGBM text, metadata as JSON; no pickles)."""
    folder.mkdir(parents=True, exist_ok=True)
    booster_path = folder / "booster.txt"
    booster.save_model(str(booster_path), num_iteration=num_iteration)
    metadata_path = folder / "metadata.json"
    metadata_path.write_text(
        json.dumps({"feature_names": feature_names, "timezone": timezone, "features_hash": features_hash}, indent=2)
    )
    return {BOOSTER_ARTIFACT: str(booster_path), METADATA_ARTIFACT: str(metadata_path)}


class ConversionPyfunc(PythonModel):
    """Scores raw session records: ``predict`` returns a ``probability`` column (and contributions if asked)."""

    def load_context(self, context: Any) -> None:
        self.booster = lgb.Booster(model_file=context.artifacts[BOOSTER_ARTIFACT])
        metadata = json.loads(Path(context.artifacts[METADATA_ARTIFACT]).read_text())
        self.feature_names: list[str] = metadata["feature_names"]
        self.timezone: str = metadata["timezone"]
        self.features_hash: str = metadata["features_hash"]

    def features(self, sessions: pd.DataFrame) -> pd.DataFrame:
        """The model's features of raw session records (the same function that built the training set)."""
        return prepare_features(sessions, timezone=self.timezone)[self.feature_names]

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        X = self.features(pd.DataFrame(model_input))
        out = pd.DataFrame({"probability": self.booster.predict(X)}, index=X.index)
        if params and params.get("explain"):
            contrib = self.booster.predict(X, pred_contrib=True)
            out = out.join(
                pd.DataFrame(
                    np.asarray(contrib), index=X.index, columns=[f"contrib_{n}" for n in [*self.feature_names, "bias"]]
                )
            )
        return out
