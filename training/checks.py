"""What a training set must offer before any minute is spent fitting: the right client, every feature, the
current feature definitions, and enough sessions of both classes in every split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InvalidInput, NotReady
from features.dataset import Dataset
from features.definitions import FEATURE_NAMES, feature_definitions_hash
from features.splits import SPLITS

MIN_SESSIONS = {"train": 200, "valid": 50, "test": 50}
MIN_CONVERSIONS = {"train": 10, "valid": 5, "test": 5}


@dataclass(frozen=True)
class Splits:
    """The feature frames and labels of the three splits."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray


def check_dataset(dataset: Dataset, client_id: str) -> None:
    """Raise a clear error when ``dataset`` cannot train ``client_id``'s model."""
    manifest = dataset.manifest
    if manifest.client_id != client_id:
        raise InvalidInput(
            f"training set {manifest.dataset_id} belongs to client {manifest.client_id!r}, not {client_id!r}"
        )
    missing = [name for name in FEATURE_NAMES if name not in dataset.frame.columns]
    if missing:
        raise InvalidInput(
            f"training set {manifest.dataset_id} lacks the feature(s) {', '.join(missing)}; "
            f"rebuild it with `xmo dataset build {client_id}`"
        )
    if manifest.feature_definitions_hash != feature_definitions_hash():
        raise NotReady(
            f"training set {manifest.dataset_id} was built with other feature definitions than this code's; "
            f"rebuild it with `xmo dataset build {client_id}` so scoring prepares the same features"
        )
    for split in SPLITS:
        labels = dataset.frame.loc[dataset.frame["split"] == split, "converted"]
        positives, sessions = int(labels.sum()), len(labels)
        if sessions < MIN_SESSIONS[split] or positives < MIN_CONVERSIONS[split] or positives == sessions:
            raise NotReady(
                f"the {split} split of training set {manifest.dataset_id} has {sessions:,} sessions and "
                f"{positives:,} conversions; training needs at least {MIN_SESSIONS[split]:,} sessions with "
                f"{MIN_CONVERSIONS[split]:,} conversions and some without: collect more traffic and rebuild"
            )


def split_frames(dataset: Dataset) -> Splits:
    """Features (in definition order) and 0/1 labels of each split."""
    frames: dict[str, pd.DataFrame] = {}
    labels: dict[str, np.ndarray] = {}
    for split in SPLITS:
        rows = dataset.frame[dataset.frame["split"] == split]
        frames[split] = rows[list(FEATURE_NAMES)].reset_index(drop=True)
        labels[split] = rows["converted"].to_numpy().astype(np.int64)
    return Splits(frames["train"], labels["train"], frames["valid"], labels["valid"], frames["test"], labels["test"])
