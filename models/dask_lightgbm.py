"""The conversion model trained on a Dask cluster: ``lightgbm.dask`` when the data outgrow one machine.

``fit_dask_booster`` trains the same LightGBM binary model as :class:`models.conversion.ConversionModel`
(pass it ``ConversionModel(...).lgbm_params()``) with ``DaskLGBMClassifier``: every worker holds its share
of the rows and LightGBM's data-parallel tree learner merges their histograms, so the data are never
gathered into one process. ``dask_frame_from_dataset`` reads a training set's ``data/part-*.parquet`` files
as a Dask dataframe, one partition per file.

Categories. LightGBM sees a pandas categorical as its integer codes, so the code of a category must mean
the same on every worker and again at prediction time. Data files may store a categorical as plain
strings or as Parquet dictionaries with a different dictionary per file, so a partition's own categories
cannot be trusted. ``fit_dask_booster`` therefore collects the distinct values of each categorical feature
once (partition by partition, only the sets of distinct values travel), sorts them as strings (the order
``features.definitions.as_category`` gives), and recodes every partition to that one ``CategoricalDtype``
before LightGBM sees it. The lists travel with the result (``DaskFitResult.categories``) and with the booster
(its ``pandas_categorical``); ``align_categories`` recodes a local frame the same way before
``booster.predict``. A category that training never saw becomes missing, which LightGBM routes exactly as
it routes any category outside a split's set, so it cannot crash or shift codes.

Early stopping. ``lightgbm.dask`` (4.x) evaluates a validation set on each worker over that worker's own
rows only and documents callbacks as untested; an ``early_stopping`` callback can then stop workers at
different iterations and break the training network (microsoft/LightGBM#6197). So the cluster trains a
fixed ``n_estimators`` trees, and early stopping is replayed afterwards: the validation set's binary log
loss after every iteration is computed on the workers, partition by partition (leaf indices from
``pred_leaf`` and a table of leaf values give every prefix of the ensemble in one pass), summed, and the
rule of ``lightgbm.early_stopping`` (stop after ``early_stopping_rounds`` rounds without a strictly lower
loss) picks the best iteration. The trees after it are kept, as ``lightgbm.train`` keeps them, and the
booster's ``best_iteration`` is set so ``booster.predict`` uses only the best prefix by default.

Network. Dask talks over the cluster's own addresses (``features.dask_engine.dask_client`` keeps a
``LocalCluster`` on 127.0.0.1). ``lightgbm.dask`` picks one free port per worker itself (neither
``local_listen_port`` nor ``machines`` is set, so several workers on one host never clash) and lists the
workers by the host of their Dask address, so on a ``LocalCluster`` on 127.0.0.1 the workers connect to one
another over loopback. LightGBM's own listener, however, binds that port on every interface (0.0.0.0) for
the duration of ``fit``; no LightGBM parameter changes the bind address, so keep worker hosts behind a
firewall as for any Dask cluster.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from lightgbm.dask import DaskLGBMClassifier

from core.errors import InvalidInput, NotReady
from features.definitions import CATEGORICAL_FEATURES
from features.splits import SPLITS

if TYPE_CHECKING:
    from distributed import Client, Future

DATA_DIR = "data"
SPLIT_COLUMN = "split"
# Parameters the cluster decides: the threads of each worker (lightgbm.dask sets num_threads per worker
# from the scheduler's view of its cores), the number of machines, and the Dask client.
_CLUSTER_PARAMS = frozenset(
    {"n_jobs", "num_threads", "nthread", "nthreads", "num_thread", "client", "num_machines", "num_machine"}
)
# Early stopping parameters would make LightGBM stop on per-worker metrics; the replay below does it instead.
_EARLY_STOPPING_PARAMS = frozenset(
    {"early_stopping_round", "early_stopping_rounds", "early_stopping", "n_iter_no_change"}
)
_LEAF_CELLS_PER_CHUNK = 4_000_000  # rows × trees of leaf indices handled at once when scoring the validation set


@dataclass(frozen=True)
class DaskFitTimings:
    """Wall-clock seconds of each step of ``fit_dask_booster``."""

    categories_s: float
    """Collecting the distinct values of the categorical features."""
    prepare_s: float
    """Recoding the partitions and keeping them in the workers' memory (reads the data)."""
    fit_s: float
    """``DaskLGBMClassifier.fit``: distributing parts, building datasets and boosting."""
    validation_s: float
    """Scoring the validation set after every iteration (0 without one)."""
    total_s: float


@dataclass(frozen=True)
class DaskFitResult:
    """A booster trained on a Dask cluster, and what it takes to predict with it locally."""

    booster: lgb.Booster
    """The trained model (all ``n_estimators`` trees; its ``best_iteration`` is set to ``best_iteration``)."""
    best_iteration: int
    """Trees to predict with: the replayed early stopping's choice, or ``n_estimators`` without a valid set."""
    n_estimators: int
    """Trees trained (``n_estimators`` unless boosting ran out of splits)."""
    feature_names: tuple[str, ...]
    categories: dict[str, list[str]]
    """Per categorical feature, its categories in code order (as training used them)."""
    valid_logloss: tuple[float, ...] | None
    """The validation set's mean binary log loss after each iteration, or None without a valid set."""
    train_rows: int
    workers: int
    """Dask workers that held training rows (the LightGBM machines)."""
    timings: DaskFitTimings

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """P(conversion) for a local frame of features, recoded with ``categories`` first."""
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise InvalidInput(f"the frame lacks the features {missing}")
        features = align_categories(frame.loc[:, list(self.feature_names)], self.categories)
        return np.asarray(self.booster.predict(features, num_iteration=self.best_iteration), dtype=np.float64)


# categories -------------------------------------------------------------------------------------------
def _is_categorical(dtype: Any) -> bool:
    """Text-like columns: pandas categoricals, strings and objects (not numbers or booleans)."""
    return not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


def _texts(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes into the distinct values of ``values`` (-1 for missing), and those distinct values as text."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype="object").astype("str")


def align_categories(frame: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """``frame`` with each column named in ``categories`` recoded to exactly those categories, in that order.

    Values may be strings, objects or categoricals with any categories; they are compared as text. Values
    outside the list (categories unseen in training) become missing. Other columns are left alone; a
    column of ``categories`` that ``frame`` lacks is ignored. Returns a new frame.
    """
    out = frame.copy(deep=False)
    for column, names in categories.items():
        if column not in out.columns:
            continue
        dtype = pd.CategoricalDtype(pd.Index(names, dtype="str"))
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.categories.equals(dtype.categories):
            continue  # already these categories in this order (dtype equality ignores the order)
        codes, texts = _texts(series)
        lookup = np.append(dtype.categories.get_indexer(pd.Index(texts, dtype="str")), -1)  # slot -1: missing
        out[column] = pd.Series(pd.Categorical.from_codes(lookup[codes], dtype=dtype), index=out.index)
    return out


def _distinct_values(part: pd.DataFrame, columns: Sequence[str]) -> dict[str, set[str]]:
    """The distinct non-missing values of ``columns`` in one partition, as text."""
    found: dict[str, set[str]] = {}
    for column in columns:
        _, texts = _texts(part[column])
        found[column] = set(texts)
    return found


def dask_categories(client: Client, frames: Iterable[dd.DataFrame], columns: Sequence[str]) -> dict[str, list[str]]:
    """The categories of ``columns`` over every partition of ``frames``, sorted as strings.

    Computed on the cluster of ``client`` partition by partition; only each partition's set of distinct
    values comes back.
    """
    if not columns:
        return {}
    parts = [dask.delayed(_distinct_values)(part, list(columns)) for frame in frames for part in frame.to_delayed()]
    found: dict[str, set[str]] = {column: set() for column in columns}
    for values in client.gather(client.compute(parts)):
        for column, names in values.items():
            found[column] |= names
    return {column: sorted(names) for column, names in found.items()}


# reading training sets ----------------------------------------------------------------------------------
def _data_files(dataset_path: Path | list[Path]) -> list[Path]:
    """Parquet files of training sets: a dataset folder's ``data/part-*.parquet``, a folder's
    ``part-*.parquet``, or files given one by one."""
    paths = [dataset_path] if isinstance(dataset_path, Path) else list(dataset_path)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            folder = path / DATA_DIR if (path / DATA_DIR).is_dir() else path
            files.extend(sorted(folder.glob("part-*.parquet")))
        elif path.is_file():
            files.append(path)
        else:
            raise NotReady(f"no training set at {path}")
    if not files:
        raise NotReady(f"no data files (part-*.parquet) in {', '.join(str(p) for p in paths)}")
    return files


def _split_rows(
    part: pd.DataFrame, split: str, feature_names: list[str], categorical: list[str], label: str
) -> pd.DataFrame:
    """The rows of one split: categoricals as text, other features as float64, the label as int64."""
    rows = part.loc[part[SPLIT_COLUMN].astype("str") == split]
    out = pd.DataFrame(index=rows.index)
    for column in feature_names:
        if column in categorical:
            codes, texts = _texts(rows[column])
            values = np.concatenate([texts.to_numpy(dtype=object), np.array([None], dtype=object)])[codes]
            out[column] = pd.Series(values, index=rows.index, dtype="str")
        else:
            out[column] = pd.to_numeric(rows[column], errors="coerce").astype("float64")
    out[label] = rows[label].astype("int64")
    return out


def dask_frame_from_dataset(
    dataset_path: Path | list[Path], split: str, feature_names: Sequence[str], label: str = "converted"
) -> dd.DataFrame:
    """The rows of ``split`` ("train", "valid" or "test") of a training set, as a Dask dataframe.

    ``dataset_path`` is a training set's folder (``datasets/<client>/<id>``), its ``data`` folder, a list of
    those, or a list of Parquet files. One partition per file; rows are filtered where they are read.
    Columns: ``feature_names`` in that order, then ``label`` (int64). Categorical features (those of
    ``features.definitions`` and any text column) come back as plain strings whatever the files stored
    (strings, or dictionaries that differ from file to file); ``fit_dask_booster`` gives them one
    consistent set of categories. Numeric features are float64.
    """
    if split not in SPLITS:
        raise InvalidInput(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    files = _data_files(dataset_path)
    columns = list(dict.fromkeys([*feature_names, label, SPLIT_COLUMN]))
    stored = set(pq.read_schema(files[0]).names)
    missing = [c for c in columns if c not in stored]
    if missing:
        raise InvalidInput(f"the training set lacks the columns {missing} ({files[0]})")
    raw = dd.read_parquet([str(f) for f in files], columns=columns, dataset={"partitioning": None})
    features = list(feature_names)
    categorical = [c for c in features if c in CATEGORICAL_FEATURES or _is_categorical(raw.dtypes[c])]
    meta = _split_rows(raw._meta, split, features, categorical, label)
    frame: dd.DataFrame = raw.map_partitions(_split_rows, split, features, categorical, label, meta=meta)
    return frame


# training -----------------------------------------------------------------------------------------------
def _model_input(
    part: pd.DataFrame, feature_names: list[str], y_column: str, categories: dict[str, list[str]]
) -> pd.DataFrame:
    """One partition as LightGBM gets it: features (categoricals on the shared categories, the rest
    float64) and the label as int64."""
    features = align_categories(part.loc[:, feature_names], categories)
    for column in feature_names:
        if column not in categories:
            features[column] = features[column].astype("float64")
    features[y_column] = part[y_column].astype("int64")
    return features


def _prepared(
    frame: dd.DataFrame, feature_names: list[str], y_column: str, categories: dict[str, list[str]]
) -> dd.DataFrame:
    meta = _model_input(frame._meta, feature_names, y_column, categories)
    return frame.map_partitions(_model_input, feature_names, y_column, categories, meta=meta)


def _lightgbm_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` for ``DaskLGBMClassifier``, without what the cluster decides."""
    objective = params.get("objective", "binary")
    if objective != "binary":
        raise InvalidInput(f"the conversion model is a binary classifier; objective {objective!r} is not supported")
    clean = {k: v for k, v in params.items() if k not in _CLUSTER_PARAMS and k not in _EARLY_STOPPING_PARAMS}
    clean["objective"] = "binary"
    clean.setdefault("verbosity", -1)
    n_estimators = int(clean.get("n_estimators", 100))
    if n_estimators < 1:
        raise InvalidInput(f"n_estimators must be at least 1, not {n_estimators}")
    clean["n_estimators"] = n_estimators
    return clean


def _leaf_values(booster: lgb.Booster) -> np.ndarray:
    """Leaf outputs per tree (rows: trees, columns: leaf index; NaN past a tree's last leaf)."""
    trees = booster.dump_model(num_iteration=-1)["tree_info"]  # every tree, whatever best_iteration says
    table = np.full((len(trees), max(int(t["num_leaves"]) for t in trees)), np.nan)
    for number, tree in enumerate(trees):
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "leaf_value" in node:
                table[number, int(node.get("leaf_index", 0))] = float(node["leaf_value"])
            else:
                stack.extend((node["left_child"], node["right_child"]))
    return table


def _partition_losses(
    part: pd.DataFrame, booster: lgb.Booster, leaf_values: np.ndarray, y_column: str, sigmoid: float
) -> tuple[np.ndarray, int]:
    """Sum over a partition's rows of the binary log loss after each iteration, and its row count.

    ``pred_leaf`` gives each row's leaf in every tree; the running sum of their values is the raw score of
    every prefix of the ensemble, so one pass scores all iterations.
    """
    n_trees = leaf_values.shape[0]
    sums = np.zeros(n_trees)
    if len(part) == 0:
        return sums, 0
    features = part.drop(columns=[y_column])
    labels = part[y_column].to_numpy(dtype=np.float64)
    chunk = max(1, _LEAF_CELLS_PER_CHUNK // n_trees)
    tree_index = np.arange(n_trees)
    for start in range(0, len(part), chunk):
        rows = features.iloc[start : start + chunk]
        leaves = np.asarray(booster.predict(rows, pred_leaf=True, num_iteration=n_trees), dtype=np.int64)
        leaves = leaves.reshape(len(rows), n_trees)
        raw = np.cumsum(leaf_values[tree_index, leaves], axis=1) * sigmoid
        if start == 0:  # the leaf table must reproduce LightGBM's own raw scores
            check = booster.predict(rows.iloc[:256], raw_score=True, num_iteration=n_trees)
            check = np.asarray(check, dtype=np.float64) * sigmoid
            if not np.allclose(raw[:256, -1], check, rtol=1e-6, atol=1e-6):
                raise RuntimeError(
                    "leaf values do not add up to the booster's raw scores; cannot replay early stopping"
                )
        y = labels[start : start + chunk, None]
        sums += (np.logaddexp(0.0, raw) - y * raw).sum(axis=0)
    return sums, len(part)


def best_iteration_of(losses: Sequence[float], early_stopping_rounds: int) -> int:
    """The iteration (1-based) ``lightgbm.early_stopping`` keeps for a validation loss curve.

    It stops once ``early_stopping_rounds`` iterations have passed without a strictly lower loss and keeps
    the best iteration so far; 0 rounds means no stopping (the best of the whole curve).
    """
    if not losses:
        raise InvalidInput("no validation losses to choose an iteration from")
    best, best_loss = 0, math.inf
    for iteration, loss in enumerate(losses):
        if loss < best_loss:
            best, best_loss = iteration, loss
        elif early_stopping_rounds > 0 and iteration - best >= early_stopping_rounds:
            break
    return best + 1


def validation_losses(
    client: Client,
    booster: lgb.Booster,
    valid: dd.DataFrame,
    y_column: str,
    feature_names: Sequence[str],
    categories: dict[str, list[str]],
    *,
    sigmoid: float = 1.0,
) -> tuple[float, ...]:
    """Mean binary log loss of ``valid`` after each of the booster's iterations, scored on the workers.

    ``feature_names`` and ``categories`` are those of the fit (``DaskFitResult``); ``sigmoid`` is LightGBM's
    parameter of that name. Every tree counts, whatever the booster's ``best_iteration``.
    """
    prepared = _prepared(valid, list(feature_names), y_column, categories)
    leaf_values = _leaf_values(booster)
    shared = client.scatter([booster, leaf_values], broadcast=True)
    parts = [
        dask.delayed(_partition_losses)(part, shared[0], shared[1], y_column, sigmoid) for part in prepared.to_delayed()
    ]
    results = client.gather(client.compute(parts))
    total = np.sum([sums for sums, _ in results], axis=0)
    rows = sum(count for _, count in results)
    if rows == 0:
        raise InvalidInput("the validation set is empty")
    return tuple(float(v) for v in total / rows)


def _label_counts(part: pd.DataFrame, y_column: str) -> tuple[int, int, int]:
    """Rows, positives and labels other than 0/1 in one partition."""
    labels = part[y_column].to_numpy()
    return len(labels), int((labels == 1).sum()), int(((labels != 0) & (labels != 1)).sum())


def _persisted_train(
    client: Client, prepared: dd.DataFrame, y_column: str
) -> tuple[dd.DataFrame, list[Future], int, int]:
    """The training input held in the workers' memory without empty partitions, the futures that hold it,
    its rows, and the workers that hold it (the LightGBM machines).

    The partitions are those of ``prepared.to_delayed()``, the optimized graph, and nothing else: dask-expr
    may fuse the partitions of ``read_parquet`` once columns are projected (14 small files can become 7
    partitions), so ``prepared.npartitions`` and the indices of ``prepared.partitions[...]`` refer to the
    unoptimized frame and must never be mixed with positions in ``to_delayed()`` (doing so silently dropped
    half of the training rows). Each partition is computed once into a future; the label counts, the choice
    of non-empty partitions and the frame handed to LightGBM all use those same futures, so features and
    labels come from one evaluation and every row is trained on exactly once. (A persisted dask-expr frame is
    avoided: its ``to_delayed`` can point at keys that were never computed, "lost dependencies".) Keep the
    futures referenced until the fit is over.

    Checks the labels (0/1, both present) partition by partition.
    """
    futures: list[Future] = client.compute(prepared.to_delayed())
    counts = client.gather([client.submit(_label_counts, part, y_column, pure=False) for part in futures])
    rows = sum(c[0] for c in counts)
    positives = sum(c[1] for c in counts)
    if sum(c[2] for c in counts):
        raise InvalidInput(f"the label {y_column!r} must be 0 or 1")
    if positives in (0, rows):
        raise InvalidInput(
            f"the conversion model needs 2 classes (sessions with and without conversions); {rows:,} training "
            f"rows hold {positives:,} conversions"
        )
    if any(part_rows and part_rows == part_positives for part_rows, part_positives, _ in counts):
        raise InvalidInput("a partition of the training data holds only conversions; shuffle the training data")
    kept = [part for part, c in zip(futures, counts, strict=True) if c[0]]  # a machine with no rows cannot train
    held = client.who_has(kept)
    workers = len({worker for holders in held.values() for worker in holders})
    frame = dd.from_delayed(kept, meta=prepared._meta, verify_meta=False)
    return frame, kept, rows, max(1, workers)


def fit_dask_booster(
    client: Client,
    train: dd.DataFrame,
    y_column: str,
    feature_names: list[str],
    params: dict[str, Any],
    *,
    valid: dd.DataFrame | None = None,
    early_stopping_rounds: int = 50,
) -> DaskFitResult:
    """Train the binary conversion model on the cluster of ``client`` with ``DaskLGBMClassifier``.

    ``train`` (and ``valid``) hold ``feature_names`` and ``y_column`` (0/1); text or categorical features are
    LightGBM categoricals, recoded to one set of categories collected from ``train`` and ``valid`` (see the
    module docstring), the rest are numbers. ``params`` are LightGBM's, as ``ConversionModel.lgbm_params``
    gives them; ``n_jobs`` is ignored (each worker trains with its own threads), and ``n_estimators`` trees are
    always trained. With ``valid`` and ``early_stopping_rounds`` > 0 the best iteration is chosen by replaying
    LightGBM's early stopping on the validation log loss; otherwise it is ``n_estimators``.
    """
    started = time.perf_counter()
    feature_names = list(feature_names)
    if not feature_names:
        raise InvalidInput("no features to train on")
    for name, frame in (("train", train), ("valid", valid)):
        if frame is None:
            continue
        missing = [c for c in [*feature_names, y_column] if c not in frame.columns]
        if missing:
            raise InvalidInput(f"the {name} frame lacks the columns {missing}")
    lgb_params = _lightgbm_params(params)

    categorical = [c for c in feature_names if _is_categorical(train.dtypes[c])]
    frames = [train] if valid is None else [train, valid]
    categories = dask_categories(client, frames, categorical)
    categories_done = time.perf_counter()

    prepared, held, train_rows, workers = _persisted_train(
        client, _prepared(train, feature_names, y_column, categories), y_column
    )
    prepared_done = time.perf_counter()

    model = DaskLGBMClassifier(client=client, **lgb_params)
    with warnings.catch_warnings():  # lightgbm.dask sets num_threads per worker and always says so
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored", category=UserWarning)
        model.fit(prepared[feature_names], prepared[y_column])
    booster: lgb.Booster = model.booster_
    del prepared
    del held  # the last references to the training rows: they leave the workers' memory
    fit_done = time.perf_counter()

    trained = booster.current_iteration()  # below n_estimators only when no tree could split any more
    losses: tuple[float, ...] | None = None
    best_iteration = trained
    if valid is not None:
        sigmoid = float(lgb_params.get("sigmoid", 1.0))
        losses = validation_losses(client, booster, valid, y_column, feature_names, categories, sigmoid=sigmoid)
        if early_stopping_rounds > 0:
            best_iteration = best_iteration_of(losses, early_stopping_rounds)
    booster.best_iteration = best_iteration
    finished = time.perf_counter()

    return DaskFitResult(
        booster=booster,
        best_iteration=best_iteration,
        n_estimators=trained,
        feature_names=tuple(feature_names),
        categories=categories,
        valid_logloss=losses,
        train_rows=train_rows,
        workers=workers,
        timings=DaskFitTimings(
            categories_s=categories_done - started,
            prepare_s=prepared_done - categories_done,
            fit_s=fit_done - prepared_done,
            validation_s=finished - fit_done,
            total_s=finished - started,
        ),
    )
