"""The MLflow pyfunc flavor: feature preparation + LightGBM + calibration in one model that scores raw sessions."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from core.errors import InvalidInput
from features.definitions import CATEGORICAL_FEATURES, ColumnFeatures, prepare_features
from models.calibration import Calibrator

BOOSTER_ARTIFACT = "booster"
METADATA_ARTIFACT = "metadata"
# Column scoring predicts small batches on one thread: a service answers many small requests at once, and
# starting OpenMP's threads costs more than a small prediction (a single row: milliseconds on a busy machine
# instead of 40 µs). From PARALLEL_PREDICT_ROWS rows on, every core this process may use shares the work
# (10,000 rows of a 56-tree model: 19 ms on one thread, 10 ms on two).
COLUMN_PREDICT_THREADS = 1
PARALLEL_PREDICT_ROWS = 2_000


def predict_threads(n_rows: int) -> int:
    """LightGBM threads for predicting ``n_rows`` rows (always explicit: LightGBM keeps the last setting)."""
    if n_rows < PARALLEL_PREDICT_ROWS:
        return COLUMN_PREDICT_THREADS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores)


def write_artifacts(
    folder: Path,
    booster: lgb.Booster,
    num_iteration: int,
    feature_names: list[str],
    timezone: str,
    features_hash: str,
    *,
    calibrator: Calibrator | None = None,
) -> dict[str, str]:
    """Save what the pyfunc needs (booster as LightGBM text, metadata as JSON; no pickles).

    The booster keeps its first ``num_iteration`` trees; ``calibrator`` (default: none) maps its raw
    probabilities to calibrated ones and is stored as numbers under the metadata's ``"calibration"``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    booster_path = folder / "booster.txt"
    booster.save_model(str(booster_path), num_iteration=num_iteration)
    metadata_path = folder / "metadata.json"
    metadata = {
        "feature_names": list(feature_names),
        "timezone": timezone,
        "features_hash": features_hash,
        "num_iteration": int(num_iteration),
        "calibration": (calibrator or Calibrator("none")).to_dict(),
    }
    metadata_path.write_text(json.dumps(metadata, indent=2))
    return {BOOSTER_ARTIFACT: str(booster_path), METADATA_ARTIFACT: str(metadata_path)}


@dataclass
class ConversionScorer:
    """Everything needed to score sessions: the booster, its iterations, features, time zone and calibration.

    Probabilities are the booster's raw probabilities passed through ``calibrator``.
    """

    booster: lgb.Booster
    num_iteration: int
    feature_names: list[str]
    timezone: str
    features_hash: str
    calibrator: Calibrator = field(default_factory=lambda: Calibrator("none"))

    @classmethod
    def from_artifacts(cls, booster_path: str | Path, metadata_path: str | Path) -> ConversionScorer:
        """The scorer of the files ``write_artifacts`` wrote; metadata without "calibration" means none."""
        booster = lgb.Booster(model_file=str(booster_path))
        metadata = json.loads(Path(metadata_path).read_text())
        calibration = metadata.get("calibration") or {"method": "none"}
        return cls(
            booster=booster,
            # the saved booster holds only the trees it should use; older metadata lacks the count
            num_iteration=int(metadata.get("num_iteration") or booster.current_iteration()),
            feature_names=list(metadata["feature_names"]),
            timezone=metadata["timezone"],
            features_hash=metadata["features_hash"],
            calibrator=Calibrator.from_dict(calibration),
        )

    def features(self, records: pd.DataFrame) -> pd.DataFrame:
        """The model's features of raw session records (the same function that built the training set)."""
        return prepare_features(records, timezone=self.timezone)[self.feature_names]

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [name for name in self.feature_names if name not in X.columns]
        if missing:
            raise InvalidInput(f"the feature frame lacks {', '.join(missing)}")
        return X[self.feature_names]

    def raw_probabilities(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's uncalibrated probabilities of a prepared feature frame."""
        return np.asarray(self.booster.predict(self._frame(X), num_iteration=self.num_iteration), dtype=np.float64)

    def predict_features(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probabilities of a prepared feature frame (``prepare_features`` output)."""
        return self.calibrator.transform(self.raw_probabilities(X))

    def predict_sessions(self, records: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probabilities of raw session records."""
        return self.predict_features(self.features(records))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions (LightGBM ``pred_contrib``) plus ``bias``, one row per session.

        They add up to the booster's raw, uncalibrated log-odds: calibration is a monotone map applied
        after them, so they rank what pushed a score up or down but do not sum to the calibrated logit.
        """
        frame = self._frame(X)
        values = self.booster.predict(frame, num_iteration=self.num_iteration, pred_contrib=True)
        return pd.DataFrame(np.asarray(values), index=frame.index, columns=[*self.feature_names, "bias"])

    # scoring columns of plain values (the API's path): the same numbers without a DataFrame ----------------
    @cached_property
    def column_features(self) -> ColumnFeatures:
        """The feature preparation of ``feature_matrix``, coding categoricals as the booster was trained."""
        categorical = [name for name in self.feature_names if name in CATEGORICAL_FEATURES]
        trained = self.booster.pandas_categorical or []
        if len(trained) != len(categorical):
            raise InvalidInput(
                f"the booster knows categories of {len(trained)} features but {len(categorical)} are categorical"
            )
        return ColumnFeatures(self.timezone, dict(zip(categorical, trained, strict=True)))

    def feature_matrix(self, columns: Mapping[str, Sequence[Any]], n_rows: int) -> np.ndarray:
        """The booster's input for raw session columns (see ``ColumnFeatures``): the float64 matrix LightGBM
        builds from ``features(records)``, value for value."""
        return self.column_features.matrix(columns, n_rows, self.feature_names)

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated conversion probabilities of a ``feature_matrix``."""
        raw = self.booster.predict(matrix, num_iteration=self.num_iteration, num_threads=predict_threads(len(matrix)))
        return self.calibrator.transform(np.asarray(raw, dtype=np.float64))

    def contributions_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """``contributions`` of a ``feature_matrix`` as an array: one column per feature, then the bias."""
        values = self.booster.predict(
            matrix, num_iteration=self.num_iteration, pred_contrib=True, num_threads=predict_threads(len(matrix))
        )
        return np.asarray(values, dtype=np.float64)

    def predict_columns(self, columns: Mapping[str, Sequence[Any]], n_rows: int) -> np.ndarray:
        """Calibrated conversion probabilities of raw session columns; equal to ``predict_sessions``."""
        return self.predict_matrix(self.feature_matrix(columns, n_rows))


class ConversionPyfunc(PythonModel):
    """Scores raw session records: ``predict`` returns a calibrated ``probability`` column (and
    ``contrib_*`` columns, the raw log-odds contributions, with ``params={"explain": True}``)."""

    def load_context(self, context: Any) -> None:
        self.scorer = ConversionScorer.from_artifacts(
            context.artifacts[BOOSTER_ARTIFACT], context.artifacts[METADATA_ARTIFACT]
        )

    def features(self, sessions: pd.DataFrame) -> pd.DataFrame:
        """The model's features of raw session records (the same function that built the training set)."""
        return self.scorer.features(sessions)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        X = self.features(pd.DataFrame(model_input))
        out = pd.DataFrame({"probability": self.scorer.predict_features(X)}, index=X.index)
        if params and params.get("explain"):
            contrib = self.scorer.contributions(X)
            out = out.join(contrib.add_prefix("contrib_"))
        return out
